//! carrier-spool
