//! carrier-config
