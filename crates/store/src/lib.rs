//! carrier-store
