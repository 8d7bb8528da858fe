//! carrier-accounts
