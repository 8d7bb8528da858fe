//! The user database: `data_dir/users`, one `address:argon2-hash` line per account.

use crate::address::{normalize, split, valid_domain, valid_local_part};
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Argon2, Params};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What went wrong with an account operation.
#[derive(Debug)]
pub enum AccountError {
    /// The address is not acceptable.
    InvalidAddress(String),
    /// The account exists already.
    Exists(String),
    /// No such account.
    NotFound(String),
    /// Empty passwords are not allowed.
    EmptyPassword,
    /// The database could not be read or written.
    Io(io::Error),
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::InvalidAddress(a) => write!(
                f,
                "`{a}` is not a valid account address; use the form name@example.com with letters, digits and . _ + - in the name"
            ),
            AccountError::Exists(a) => {
                write!(f, "user {a} already exists; use `carrier user passwd {a}` to change its password")
            }
            AccountError::NotFound(a) => write!(f, "there is no user {a}; `carrier user list` shows the accounts"),
            AccountError::EmptyPassword => {
                write!(f, "the password is empty; choose a non-empty password")
            }
            AccountError::Io(e) => write!(f, "cannot update the user database: {e}"),
        }
    }
}

impl std::error::Error for AccountError {}

impl From<io::Error> for AccountError {
    fn from(e: io::Error) -> AccountError {
        AccountError::Io(e)
    }
}

/// The accounts, as last read from disk.
#[derive(Debug)]
pub struct UserDb {
    path: PathBuf,
    users: BTreeMap<String, String>,
    stamp: Option<(SystemTime, u64)>,
    params: Params,
}

/// A valid hash of a random password: verifying against it costs what a real check
/// costs, so unknown users cannot be told apart by timing.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2vT8DbbVtFBHvxNkUDQ2Ab3OyZ5jYjUOaP1bM3O9ml0";

impl UserDb {
    /// Opens `data_dir/users`; a missing file is an empty database.
    pub fn open(data_dir: &Path) -> io::Result<UserDb> {
        UserDb::open_with(data_dir, Params::default())
    }

    /// Opens with specific argon2 parameters (tests use cheap ones).
    pub fn open_with(data_dir: &Path, params: Params) -> io::Result<UserDb> {
        let mut db = UserDb { path: data_dir.join("users"), users: BTreeMap::new(), stamp: None, params };
        db.reload()?;
        Ok(db)
    }

    fn stamp(&self) -> io::Result<Option<(SystemTime, u64)>> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(Some((m.modified()?, m.len()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn reload(&mut self) -> io::Result<()> {
        let stamp = self.stamp()?;
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        self.users = parse(&text);
        self.stamp = stamp;
        Ok(())
    }

    /// Re-reads the file if its modification time or length changed.
    pub fn reload_if_changed(&mut self) -> io::Result<bool> {
        if self.stamp()? == self.stamp {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    /// Creates an account.
    pub fn add(&mut self, address: &str, password: &str) -> Result<(), AccountError> {
        let key = checked_address(address)?;
        let hash = self.hash(password)?;
        self.modify(|users| {
            if users.contains_key(&key) {
                return Err(AccountError::Exists(key.clone()));
            }
            users.insert(key.clone(), hash);
            Ok(())
        })
    }

    /// Deletes an account.
    pub fn delete(&mut self, address: &str) -> Result<(), AccountError> {
        let key = normalize(address);
        self.modify(|users| users.remove(&key).map(|_| ()).ok_or_else(|| AccountError::NotFound(key.clone())))
    }

    /// Changes a password.
    pub fn set_password(&mut self, address: &str, password: &str) -> Result<(), AccountError> {
        let key = normalize(address);
        let hash = self.hash(password)?;
        self.modify(|users| match users.get_mut(&key) {
            Some(h) => {
                *h = hash;
                Ok(())
            }
            None => Err(AccountError::NotFound(key.clone())),
        })
    }

    fn hash(&self, password: &str) -> Result<String, AccountError> {
        if password.is_empty() {
            return Err(AccountError::EmptyPassword);
        }
        Argon2::from(&self.params)
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Io(io::Error::other(e.to_string())))
    }

    /// Read-modify-write under an exclusive lock, so concurrent `carrier user` commands
    /// cannot lose each other's changes; the new file replaces the old atomically.
    fn modify(
        &mut self,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join("users.lock"))?;
        lock_exclusive(&lock)?;
        self.reload()?;
        change(&mut self.users)?;
        let tmp = dir.join("users.tmp");
        let mut file = OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(b"# carrier accounts: address:argon2-hash. Edit with `carrier user`.\n")?;
        for (address, hash) in &self.users {
            writeln!(file, "{address}:{hash}")?;
        }
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        File::open(&dir)?.sync_all()?;
        self.stamp = self.stamp()?;
        Ok(())
    }

    /// All accounts, sorted.
    pub fn list(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    /// True if the account exists (case-insensitive).
    pub fn contains(&self, address: &str) -> bool {
        self.users.contains_key(&normalize(address))
    }

    /// The account a login name means: the full address, or a local part that exactly one account has.
    pub fn find_login(&self, login: &str) -> Option<String> {
        let key = normalize(login);
        if self.users.contains_key(&key) {
            return Some(key);
        }
        if key.contains('@') {
            return None;
        }
        match self.with_local_part(&key).as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }

    /// Accounts with this local part, in any domain.
    pub fn with_local_part(&self, local: &str) -> Vec<String> {
        let local = local.to_lowercase();
        self.users.keys().filter(|a| split(a).is_some_and(|(l, _)| l == local)).cloned().collect()
    }

    /// The canonical address when the password is right.
    pub fn verify(&self, login: &str, password: &str) -> Option<String> {
        self.credentials(login).check(password)
    }

    /// What is needed to check a login's password, so the slow hash can be checked
    /// without holding a lock on the database.
    pub fn credentials(&self, login: &str) -> Credentials {
        let account = self.find_login(login);
        let hash = account.as_ref().and_then(|a| self.users.get(a)).cloned().unwrap_or_else(|| DUMMY_HASH.into());
        Credentials { account, hash }
    }
}

/// An account (if the login exists) and the hash to check against (a dummy otherwise,
/// so that unknown users take as long as known ones).
#[derive(Debug, Clone)]
pub struct Credentials {
    account: Option<String>,
    hash: String,
}

impl Credentials {
    /// The canonical address when the password is right.
    pub fn check(self, password: &str) -> Option<String> {
        let ok = PasswordHash::new(&self.hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        if ok && !password.is_empty() { self.account } else { None }
    }
}

fn checked_address(address: &str) -> Result<String, AccountError> {
    let key = normalize(address);
    match split(&key) {
        Some((local, domain)) if valid_local_part(local) && valid_domain(domain) => Ok(key),
        _ => Err(AccountError::InvalidAddress(address.to_string())),
    }
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(a, h)| (normalize(a), h.to_string()))
        .collect()
}

fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; released when the file is closed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A random password of 20 characters from an alphabet without look-alikes (0/O, 1/l/I).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = Vec::new();
    while bytes.len() < 20 {
        bytes.extend(argon2::password_hash::generate_salt());
    }
    bytes[..20].iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(8, 1, 1, None).unwrap()
    }

    fn db(dir: &Path) -> UserDb {
        UserDb::open_with(dir, cheap()).unwrap()
    }

    #[test]
    fn add_list_passwd_delete_round_trip() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(dir.path());
        users.add("Bob@Example.com", "pw1").unwrap();
        users.add("alice@example.com", "pw2").unwrap();
        assert_eq!(users.list(), ["alice@example.com", "bob@example.com"]);
        assert_eq!(fs::metadata(dir.path().join("users")).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(users.verify("BOB@example.com", "pw1").as_deref(), Some("bob@example.com"));
        users.set_password("bob@example.com", "pw3").unwrap();
        assert!(users.verify("bob@example.com", "pw1").is_none());
        assert!(users.verify("bob@example.com", "pw3").is_some());
        users.delete("BOB@example.com").unwrap();
        assert!(!users.contains("bob@example.com"));
        assert_eq!(db(dir.path()).list(), ["alice@example.com"]);
    }

    #[test]
    fn errors_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(dir.path());
        users.add("bob@example.com", "pw").unwrap();
        let e = users.add("BOB@example.com", "pw").unwrap_err();
        assert!(e.to_string().contains("carrier user passwd"), "{e}");
        assert!(matches!(users.delete("nobody@example.com"), Err(AccountError::NotFound(_))));
        assert!(matches!(users.set_password("nobody@example.com", "x"), Err(AccountError::NotFound(_))));
        assert!(matches!(users.add("carol@example.com", ""), Err(AccountError::EmptyPassword)));
        for bad in [
            "a%b@example.com",
            "a!b@example.com",
            "\"a@b\"@example.com",
            "bob",
            "@example.com",
            "bob@",
            "bob@ex ample.com",
        ] {
            assert!(matches!(users.add(bad, "pw"), Err(AccountError::InvalidAddress(_))), "{bad}");
        }
    }

    #[test]
    fn login_by_local_part_only_when_unambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(dir.path());
        users.add("bob@example.com", "pw").unwrap();
        users.add("amy@example.com", "pw").unwrap();
        users.add("amy@example.net", "pw").unwrap();
        assert_eq!(users.find_login("Bob").as_deref(), Some("bob@example.com"));
        assert_eq!(users.find_login("amy"), None);
        assert_eq!(users.find_login("amy@example.net").as_deref(), Some("amy@example.net"));
        assert_eq!(users.verify("bob", "pw").as_deref(), Some("bob@example.com"));
        assert!(users.verify("bob", "wrong").is_none());
        assert!(users.verify("nobody", "pw").is_none());
        assert!(users.verify("bob", "").is_none());
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut users = UserDb::open_with(&path, cheap()).unwrap();
                    for i in 0..5 {
                        users.add(&format!("u{t}x{i}@example.com"), "pw").unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(db(dir.path()).list().len(), 30);
    }

    #[test]
    fn reload_sees_other_writers() {
        let dir = tempfile::tempdir().unwrap();
        let mut reader = db(dir.path());
        assert!(!reader.reload_if_changed().unwrap());
        db(dir.path()).add("new@example.com", "pw").unwrap();
        assert!(reader.reload_if_changed().unwrap());
        assert!(reader.contains("NEW@example.com"));
    }

    #[test]
    fn generated_passwords_are_long_and_different() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
        assert!(!a.contains(['0', 'O', 'l', '1', 'I']));
    }

    #[test]
    fn dummy_hash_is_a_valid_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
