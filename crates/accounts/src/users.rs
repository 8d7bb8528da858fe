//! The user database: `data_dir/users`, one `address:argon2-hash` line per account.

use crate::address::{account_problem, normalize, split};
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
            AccountError::InvalidAddress(a) => {
                let why = account_problem(a).unwrap_or_else(|| "it is not acceptable".into());
                write!(f, "`{a}` is not a valid account address: {why}; use the form name@example.com")
            }
            AccountError::Exists(a) => {
                write!(f, "user {a} already exists; use `carrier user passwd {a}` to change its password")
            }
            AccountError::NotFound(a) => write!(f, "there is no user {a}; `carrier user list` shows the accounts"),
            AccountError::EmptyPassword => {
                write!(f, "the password is empty; choose a non-empty password")
            }
            AccountError::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
                write!(f, "the user database is damaged: {e}")
            }
            AccountError::Io(e) => write!(
                f,
                "cannot update the user database: {e}; check that data_dir exists and that this user may write to it"
            ),
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
#[derive(Clone)]
pub struct UserDb {
    path: PathBuf,
    users: BTreeMap<String, String>,
    /// Storage limits set for single accounts (`carrier user quota`), a third field.
    limits: BTreeMap<String, Limit>,
    stamp: Option<Stamp>,
    params: Params,
}

/// Password hashes stay out of debug output (and so out of logs).
impl fmt::Debug for UserDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserDb").field("path", &self.path).field("users", &self.users.keys()).finish_non_exhaustive()
    }
}

/// What tells a changed file apart cheaply: modification time, length and inode (an
/// atomic rename always brings a new inode, even within one mtime tick and at equal length).
pub(crate) type Stamp = (SystemTime, u64, u64);

/// The stamp of `path`, or None when it does not exist.
pub(crate) fn stamp_of(path: &Path) -> io::Result<Option<Stamp>> {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(path) {
        Ok(m) => Ok(Some((m.modified()?, m.len(), m.ino()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A valid hash of a random password with the default parameters: verifying against it
/// costs what a real check costs, so unknown users cannot be told apart by timing.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2vT8DbbVtFBHvxNkUDQ2Ab3OyZ5jYjUOaP1bM3O9ml0";

const HEADER: &str = "# carrier accounts: address:argon2-hash. Edit with `carrier user`.\n";

impl UserDb {
    /// Opens `data_dir/users`; a missing file is an empty database.
    pub fn open(data_dir: &Path) -> io::Result<UserDb> {
        UserDb::open_with(data_dir, Params::default())
    }

    /// Opens with specific argon2 parameters for new hashes (tests use cheap ones; existing
    /// hashes are always checked with the parameters they carry).
    pub fn open_with(data_dir: &Path, params: Params) -> io::Result<UserDb> {
        let mut db = UserDb {
            path: data_dir.join("users"),
            users: BTreeMap::new(),
            limits: BTreeMap::new(),
            stamp: None,
            params,
        };
        db.reload()?;
        Ok(db)
    }

    /// Reads the file; on an error the table in memory stays as it was.
    fn reload(&mut self) -> io::Result<()> {
        let stamp = stamp_of(&self.path)?;
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))),
        };
        (self.users, self.limits) = parse(&self.path, &text)?;
        self.stamp = stamp;
        Ok(())
    }

    /// Re-reads the file if its modification time, length or inode changed.
    pub fn reload_if_changed(&mut self) -> io::Result<bool> {
        if stamp_of(&self.path)? == self.stamp {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    /// Creates an account.
    pub fn add(&mut self, address: &str, password: &str) -> Result<(), AccountError> {
        let key = checked_address(address)?;
        let hash = self.hash(password)?;
        self.modify(|users, _| {
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
        self.modify(|users, limits| {
            limits.remove(&key);
            users.remove(&key).map(|_| ()).ok_or_else(|| AccountError::NotFound(key.clone()))
        })
    }

    /// Changes a password.
    pub fn set_password(&mut self, address: &str, password: &str) -> Result<(), AccountError> {
        let key = normalize(address);
        let hash = self.hash(password)?;
        self.modify(|users, _| match users.get_mut(&key) {
            Some(h) => {
                *h = hash;
                Ok(())
            }
            None => Err(AccountError::NotFound(key.clone())),
        })
    }

    /// Sets the account's own limits; [`Cap::Default`] returns a resource to the default.
    pub fn set_limit(&mut self, address: &str, limit: Limit) -> Result<(), AccountError> {
        let key = normalize(address);
        self.modify(|users, limits| {
            if !users.contains_key(&key) {
                return Err(AccountError::NotFound(key.clone()));
            }
            if limit == Limit::default() {
                limits.remove(&key);
            } else {
                limits.insert(key.clone(), limit);
            }
            Ok(())
        })
    }

    /// The account's own limits (all [`Cap::Default`] when it has none).
    pub fn limit(&self, address: &str) -> Limit {
        self.limits.get(&normalize(address)).copied().unwrap_or_default()
    }

    /// Whether any account has limits of its own.
    pub fn any_limit(&self) -> bool {
        !self.limits.is_empty()
    }

    /// An argon2id PHC string with a fresh random salt. Hashing is slow on purpose, so it
    /// happens before the lock is taken.
    fn hash(&self, password: &str) -> Result<String, AccountError> {
        if password.is_empty() {
            return Err(AccountError::EmptyPassword);
        }
        Argon2::from(&self.params)
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Io(io::Error::other(format!("hashing the password failed: {e}"))))
    }

    /// Read-modify-write under an exclusive lock, so concurrent `carrier user` commands
    /// cannot lose each other's changes; the new file replaces the old atomically.
    fn modify(
        &mut self,
        change: impl FnOnce(&mut BTreeMap<String, String>, &mut BTreeMap<String, Limit>) -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let in_dir = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("users.lock"))
            .map_err(in_dir)?;
        lock_exclusive(&lock)?;
        self.reload()?;
        change(&mut self.users, &mut self.limits)?;
        let tmp = dir.join("users.tmp");
        let written = self.write_to(&tmp);
        if written.is_err() {
            // A full disk must not leave a half-written file behind.
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(in_dir)?;
        fs::rename(&tmp, &self.path).map_err(in_dir)?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(in_dir)?;
        self.stamp = stamp_of(&self.path)?;
        Ok(())
    }

    /// Writes the table to a new file of mode 0600 and makes it durable.
    fn write_to(&self, tmp: &Path) -> io::Result<()> {
        // A leftover file would keep its old mode: start from a fresh one.
        match fs::remove_file(tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = OpenOptions::new().create_new(true).write(true).mode(0o600).open(tmp)?;
        let mut text = String::from(HEADER);
        for (address, hash) in &self.users {
            match self.limits.get(address) {
                Some(limit) => text.push_str(&format!("{address}:{hash}:{limit}\n")),
                None => text.push_str(&format!("{address}:{hash}\n")),
            }
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()
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

    /// Accounts with this local part (case-insensitive), in any domain, sorted.
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
#[derive(Clone)]
pub struct Credentials {
    account: Option<String>,
    hash: String,
}

/// The hash stays out of debug output.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("account", &self.account).finish_non_exhaustive()
    }
}

impl Credentials {
    /// [`Credentials::check`], answered from `cache` when this login and password passed
    /// against the same stored hash a moment ago; a success is remembered there.
    pub fn check_cached(self, login: &str, password: &str, cache: &crate::LoginCache) -> Option<String> {
        let now = std::time::Instant::now();
        if let Some(account) = self.account.as_ref().and_then(|_| cache.get(login, password, &self.hash, now)) {
            return Some(account);
        }
        let hash = self.hash.clone();
        let account = self.check(password)?;
        cache.put(login, password, &hash, &account, now);
        Some(account)
    }

    /// The canonical address when the password is right. The hash is always computed,
    /// also for unknown users and empty passwords, so timing reveals nothing.
    pub fn check(self, password: &str) -> Option<String> {
        let ok = PasswordHash::new(&self.hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        if ok && !password.is_empty() { self.account } else { None }
    }
}

fn checked_address(address: &str) -> Result<String, AccountError> {
    match account_problem(address) {
        None => Ok(normalize(address)),
        Some(_) => Err(AccountError::InvalidAddress(address.to_string())),
    }
}

/// Parses `address:hash` lines. A malformed line is an error rather than skipped: the next
/// write would otherwise silently drop it.
/// One resource's setting for a single account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cap {
    /// As every account (`[mailbox] quota`, `quota_messages`).
    #[default]
    Default,
    Unlimited,
    At(u64),
}

impl Cap {
    /// The limit, given the default every account has.
    pub fn apply(self, default: Option<u64>) -> Option<u64> {
        match self {
            Cap::Default => default,
            Cap::Unlimited => None,
            Cap::At(n) => Some(n),
        }
    }
}

/// An account's own limits (`carrier user quota`), written as a third field of its line:
/// `storage=1073741824,messages=unlimited`; a resource not named keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limit {
    pub storage: Cap,
    pub messages: Cap,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, cap) in [("storage", self.storage), ("messages", self.messages)] {
            match cap {
                Cap::Default => {}
                Cap::Unlimited => parts.push(format!("{name}=unlimited")),
                Cap::At(n) => parts.push(format!("{name}={n}")),
            }
        }
        f.write_str(&parts.join(","))
    }
}

impl std::str::FromStr for Limit {
    type Err = ();
    fn from_str(s: &str) -> Result<Limit, ()> {
        let mut limit = Limit::default();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = part.split_once('=').ok_or(())?;
            let cap = match value.trim() {
                "unlimited" => Cap::Unlimited,
                n => Cap::At(n.parse().map_err(|_| ())?),
            };
            match name.trim() {
                "storage" => limit.storage = cap,
                "messages" => limit.messages = cap,
                _ => return Err(()),
            }
        }
        Ok(limit)
    }
}

type Tables = (BTreeMap<String, String>, BTreeMap<String, Limit>);

/// Parses `address:hash` lines, or `address:hash:limits` (PHC hashes hold no colon). A
/// malformed line is an error rather than skipped: the next write would otherwise silently
/// drop it.
fn parse(path: &Path, text: &str) -> io::Result<Tables> {
    let mut users = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(3, ':');
        let (address, hash, limit) = (fields.next().unwrap_or_default(), fields.next(), fields.next());
        let limit = limit.map(|l| l.trim().parse::<Limit>());
        match (hash, limit) {
            (Some(hash), None | Some(Ok(_))) if split(address).is_some() && !hash.trim().is_empty() => {
                let key = normalize(address.trim());
                if let Some(Ok(l)) = limit.filter(|l| *l != Ok(Limit::default())) {
                    limits.insert(key.clone(), l);
                }
                users.insert(key, hash.trim().to_string());
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} line {}: expected `address:argon2-hash` or `address:argon2-hash:storage=OCTETS,messages=COUNT`; correct or delete the line, or re-create the account with `carrier user add`",
                        path.display(),
                        n + 1
                    ),
                ));
            }
        }
    }
    Ok((users, limits))
}

fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; released when the file is closed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A random password of 20 characters from an alphabet without look-alikes (0/O, 1/l/I).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Bytes at or above the largest multiple of the alphabet size are dropped, so every
    // character is equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for b in argon2::password_hash::generate_salt() {
            if (b as usize) < limit && out.len() < 20 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
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
    fn own_limits_are_kept_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(dir.path());
        users.add("bob@example.com", "pw").unwrap();
        users.add("amy@example.com", "pw").unwrap();
        assert_eq!(users.limit("bob@example.com"), Limit::default());
        assert!(!users.any_limit());
        let limit = Limit { storage: Cap::At(1_048_576), messages: Cap::Unlimited };
        users.set_limit("Bob@Example.com", limit).unwrap();
        let text = fs::read_to_string(dir.path().join("users")).unwrap();
        assert!(text.contains(":storage=1048576,messages=unlimited\n"), "{text}");
        let reader = db(dir.path());
        assert_eq!(reader.limit("bob@example.com"), limit);
        assert_eq!(reader.limit("amy@example.com"), Limit::default());
        assert_eq!(limit.storage.apply(Some(5)), Some(1_048_576));
        assert_eq!(limit.messages.apply(Some(5)), None);
        assert_eq!(Cap::Default.apply(Some(5)), Some(5));
        // A password change keeps the limit; going back to the defaults drops the field.
        users.set_password("bob@example.com", "pw2").unwrap();
        assert_eq!(db(dir.path()).limit("bob@example.com"), limit);
        users.set_limit("bob@example.com", Limit::default()).unwrap();
        assert!(!fs::read_to_string(dir.path().join("users")).unwrap().contains("storage="));
        users.set_limit("bob@example.com", limit).unwrap();
        users.delete("bob@example.com").unwrap();
        assert!(!users.any_limit());
        let e = users.set_limit("nobody@example.com", limit).unwrap_err();
        assert!(matches!(e, AccountError::NotFound(_)), "{e}");
    }

    #[test]
    fn a_bad_limit_field_is_an_error_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
        for bad in ["storage=lots", "size=10", "storage"] {
            fs::write(dir.path().join("users"), format!("bob@example.com:{hash}:{bad}\n")).unwrap();
            let e = UserDb::open_with(dir.path(), cheap()).err().unwrap().to_string();
            assert!(e.contains("line 1") && e.contains("storage=OCTETS,messages=COUNT"), "{bad}: {e}");
        }
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
        assert!(matches!(users.set_password("bob@example.com", ""), Err(AccountError::EmptyPassword)));
        assert!(!users.contains("carol@example.com"));
        for bad in [
            "a%b@example.com",
            "a!b@example.com",
            "\"a@b\"@example.com",
            "bob",
            "@example.com",
            "bob@",
            "bob@ex ample.com",
            "bob@example..com",
            ".bob@example.com",
            "a/b@example.com",
            "@route:bob@example.com",
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
        assert!(!reader.reload_if_changed().unwrap());
    }

    #[test]
    fn reload_sees_a_password_change_of_equal_length() {
        let dir = tempfile::tempdir().unwrap();
        db(dir.path()).add("bob@example.com", "old").unwrap();
        let mut reader = db(dir.path());
        // Same length and, on a coarse clock, the same mtime: the new inode still shows it.
        db(dir.path()).set_password("bob@example.com", "new").unwrap();
        assert!(reader.reload_if_changed().unwrap());
        assert!(reader.verify("bob", "new").is_some());
        assert!(reader.verify("bob", "old").is_none());
    }

    #[test]
    fn generated_passwords_are_long_and_different() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
        const ALPHABET: &str = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        assert!(a.chars().all(|c| ALPHABET.contains(c)), "{a}");
    }

    #[test]
    fn dummy_hash_is_a_valid_hash_with_default_cost() {
        let params = Params::try_from(&PasswordHash::new(DUMMY_HASH).unwrap()).unwrap();
        let default = Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
    }

    #[test]
    fn unknown_and_ambiguous_logins_check_against_the_dummy_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(dir.path());
        users.add("amy@example.com", "pw").unwrap();
        users.add("amy@example.net", "pw").unwrap();
        for login in ["nobody", "nobody@example.com", "amy"] {
            let c = users.credentials(login);
            assert_eq!((c.account.as_deref(), c.hash.as_str()), (None, DUMMY_HASH), "{login}");
        }
        assert_ne!(users.credentials("amy@example.com").hash, DUMMY_HASH);
    }

    #[test]
    fn stored_hashes_are_argon2id_phc_strings() {
        let dir = tempfile::tempdir().unwrap();
        db(dir.path()).add("bob@example.com", "pw").unwrap();
        let text = fs::read_to_string(dir.path().join("users")).unwrap();
        let line = text.lines().find(|l| !l.starts_with('#')).unwrap();
        let (address, hash) = line.split_once(':').unwrap();
        assert_eq!(address, "bob@example.com");
        assert_eq!(PasswordHash::new(hash).unwrap().algorithm.as_str(), "argon2id");
        assert!(!text.contains("pw\n"));
    }

    #[test]
    fn production_params_are_the_argon2_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(UserDb::open(dir.path()).unwrap().params, Params::default());
    }

    #[test]
    fn missing_directory_is_an_empty_database_until_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(&dir.path().join("absent"));
        assert!(users.list().is_empty());
        let e = users.add("bob@example.com", "pw").unwrap_err();
        assert!(matches!(e, AccountError::Io(_)));
        assert!(e.to_string().contains("absent") && e.to_string().contains("writ"), "{e}");
    }

    #[test]
    fn a_damaged_line_is_an_error_naming_the_line_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let text = "# comment\n\nbob@example.com:$argon2id$x\ngarbage without separator\n";
        fs::write(&path, text).unwrap();
        let e = UserDb::open_with(dir.path(), cheap()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("line 4"), "{e}");
        for bad in ["bob:hash\n", "bob@example.com:\n", ":hash\n"] {
            fs::write(&path, bad).unwrap();
            assert!(UserDb::open_with(dir.path(), cheap()).is_err(), "{bad}");
        }
        // A database that went bad after opening refuses writes instead of dropping the line.
        fs::write(&path, "").unwrap();
        let mut users = db(dir.path());
        fs::write(&path, text).unwrap();
        let e = users.add("carol@example.com", "pw").unwrap_err();
        assert!(e.to_string().contains("damaged") && e.to_string().contains("line 4"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert!(users.reload_if_changed().is_err());
    }

    #[test]
    fn comments_blank_lines_and_case_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let hash = db(dir.path()).hash("pw").unwrap();
        fs::write(dir.path().join("users"), format!("# accounts\n\n  Bob@Example.COM:{hash}\n")).unwrap();
        let users = db(dir.path());
        assert_eq!(users.list(), ["bob@example.com"]);
        assert_eq!(users.verify("bob@EXAMPLE.com", "pw").as_deref(), Some("bob@example.com"));
    }

    #[test]
    fn a_leftover_temporary_file_does_not_leak_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("users.tmp");
        fs::write(&tmp, "old").unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
        db(dir.path()).add("bob@example.com", "pw").unwrap();
        assert_eq!(fs::metadata(dir.path().join("users")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!tmp.exists());
    }

    #[test]
    fn debug_output_hides_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let mut users = db(dir.path());
        users.add("bob@example.com", "pw").unwrap();
        let shown = format!("{users:?} {:?}", users.credentials("bob"));
        assert!(shown.contains("bob@example.com") && !shown.contains("argon2"), "{shown}");
    }

    #[test]
    fn invalid_address_messages_say_why() {
        let e = AccountError::InvalidAddress("a%b@example.com".into()).to_string();
        assert!(e.contains("a%b@example.com") && e.contains("routing") && e.contains("name@example.com"), "{e}");
        let e = AccountError::InvalidAddress("bob".into()).to_string();
        assert!(e.contains("no @domain"), "{e}");
        assert!(AccountError::NotFound("x@y".into()).to_string().contains("carrier user list"));
        assert!(AccountError::EmptyPassword.to_string().contains("non-empty"));
    }
}
