//! carrier-smtp
