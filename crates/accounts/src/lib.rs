//! Who an address is: the user database (argon2 hashes), the aliases file, and the
//! directory that resolves a recipient to mailboxes.

pub mod address;
pub mod aliases;
pub mod directory;
pub mod login_cache;
pub mod passwd;
pub mod srs;
pub mod system;
pub mod users;

pub use aliases::{AliasError, AliasFile, Aliases};
pub use directory::{Directory, Lookup, Route};
pub use login_cache::LoginCache;
pub use srs::{Srs, SrsError};
pub use users::{AccountError, Cap, Credentials, Limit, UserDb, generate_password};
