//! The store itself: Maildirs under one root, delivery into them, and what every account
//! shares (the host name in file names, the quota, change notification).

use crate::groupsync;
use crate::notify::Registry;
use crate::quota::{Quota, QuotaSource, Source};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// One message for one mailbox.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// Canonical address of the mailbox owner, e.g. "bob@example.com".
    pub user: &'a str,
    /// Stable id of this (message, recipient) pair: [0-9A-Za-z._-].
    pub id: &'a str,
    /// When the message was received (stable across retries).
    pub time: SystemTime,
    /// Concatenated, the file content.
    pub parts: &'a [&'a [u8]],
    /// An earlier attempt may have happened (after a restart): also look in cur/.
    pub recovering: bool,
    /// A folder other than INBOX (its IMAP name, such as "Junk"); it must exist.
    pub folder: Option<&'a str>,
    /// Flags the message arrives with (Sieve's imap4flags, RFC 5232): it then goes to cur/
    /// with them, as Dovecot stores a flagged delivery.
    pub flags: &'a [crate::Flag],
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The file in new/ (or where the earlier delivery is now).
    pub path: PathBuf,
    /// True when an earlier attempt had already delivered it.
    pub duplicate: bool,
}

/// A place that stores users' messages.
pub trait MailboxStore: Send + Sync {
    /// Stores one message durably; delivering the same id twice stores it once.
    fn deliver(&self, d: &Delivery) -> io::Result<Delivered>;
}

/// Maildirs under `root/<domain>/<local>/`. Clones share one change [`Registry`], so a
/// delivery through any clone wakes the sessions watching that mailbox, and one set of
/// directory fsyncs, so concurrent deliveries into one mailbox share them.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    pub(crate) host: String,
    pub(crate) registry: Arc<Registry>,
    dir_syncs: Arc<groupsync::DirSyncs>,
    quota: Quota,
    own_quotas: Option<Source>,
}

impl Maildir {
    /// `root` is normally `data_dir/mail`; `hostname` goes into file names.
    pub fn new(root: PathBuf, hostname: &str) -> Maildir {
        // Maildir spec: '/' and ':' in the host part are written as \057 and \072.
        let host = hostname.replace('/', "\\057").replace(':', "\\072");
        Maildir {
            root,
            host,
            registry: Arc::default(),
            dir_syncs: Arc::default(),
            quota: Quota::default(),
            own_quotas: None,
        }
    }

    /// Sets the limits every account has unless it has its own.
    pub fn with_quota(mut self, quota: Quota) -> Maildir {
        self.quota = quota;
        self
    }

    /// Where accounts' own limits come from.
    pub fn with_quota_source(mut self, source: Arc<dyn QuotaSource>) -> Maildir {
        self.own_quotas = Some(Source(source));
        self
    }

    /// The limits of one account ("bob@example.com").
    pub fn quota_of(&self, account: &str) -> Quota {
        match &self.own_quotas {
            Some(source) => source.0.quota_of(account, self.quota),
            None => self.quota,
        }
    }

    /// Whether any account may have a limit (if not, nothing needs counting).
    pub fn has_quotas(&self) -> bool {
        self.quota.is_limited() || self.own_quotas.as_ref().is_some_and(|s| s.0.any())
    }

    /// The directory holding all accounts.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The change notifications shared by this store's clones.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The Maildir of a user (a directory with cur/, new/ and tmp/).
    pub fn path_for(&self, user: &str) -> PathBuf {
        let (local, domain) = user.rsplit_once('@').unwrap_or((user, ""));
        self.root.join(safe_component(domain)).join(safe_component(local))
    }

    fn file_name(&self, d: &Delivery) -> String {
        let secs = d.time.duration_since(UNIX_EPOCH).map(|t| t.as_secs()).unwrap_or(0);
        let size: usize = d.parts.iter().map(|p| p.len()).sum();
        // S= is the file size, as Maildir++ and Dovecot use it.
        format!("{secs}.{}.{},S={size}", safe_id(d.id), self.host)
    }
}

impl MailboxStore for Maildir {
    fn deliver(&self, d: &Delivery) -> io::Result<Delivered> {
        let dir = match d.folder.and_then(crate::names::dir_name) {
            Some(folder) => self.path_for(d.user).join(folder),
            None => self.path_for(d.user),
        };
        let name = self.file_name(d);
        let new = dir.join("new").join(&name);
        if new.exists() {
            return Ok(Delivered { path: new, duplicate: true });
        }
        // A flagged delivery goes straight to cur/, so an earlier one is looked for there.
        if (d.recovering || !d.flags.is_empty())
            && let Some(path) = find_in_cur(&dir, &name)?
        {
            return Ok(Delivered { path, duplicate: true });
        }
        let fresh = !dir.join("new").is_dir();
        create_maildir(&dir)?;
        if fresh {
            sync_new_dirs(&self.root, &dir)?;
        }
        let tmp = dir.join("tmp").join(&name);
        // A stale tmp file from a crashed attempt is simply overwritten.
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        for part in d.parts {
            file.write_all(part)?;
        }
        file.sync_data()?;
        drop(file);
        if !d.flags.is_empty() {
            let path = self.flagged(d, &dir, tmp, name).map_err(io::Error::other)?;
            return Ok(Delivered { path, duplicate: false });
        }
        fs::rename(&tmp, &new)?;
        self.dir_syncs.sync(&dir.join("new"))?;
        self.registry.changed(&dir);
        Ok(Delivered { path: new, duplicate: false })
    }
}

impl Maildir {
    /// Moves a delivered file from tmp/ into cur/ with its flags, under the mailbox lock
    /// (new keywords take letters in the mailbox's `dovecot-keywords`).
    fn flagged(&self, d: &Delivery, dir: &Path, tmp: PathBuf, name: String) -> Result<PathBuf, crate::StoreError> {
        let place = crate::sync::Place {
            dir: dir.to_path_buf(),
            root: self.path_for(d.user),
            registry: self.registry.clone(),
            host: self.host.clone(),
        };
        let mut locked = crate::sync::Locked::acquire(&place)?;
        let flags: crate::Flags = d.flags.iter().cloned().collect();
        let info = crate::flags::to_info(&flags, "", &mut locked.keywords)?;
        locked.keywords.save()?;
        locked.insert(&[(tmp, name.clone(), info.clone())])?;
        locked.touched();
        locked.finish()?;
        Ok(dir.join("cur").join(format!("{name}:2,{info}")))
    }
}

/// A message the user has seen lives in cur/ as `name:2,FLAGS` (Dovecot may also have added
/// `,W=<size>` before the colon).
fn find_in_cur(dir: &Path, name: &str) -> io::Result<Option<PathBuf>> {
    let entries = match fs::read_dir(dir.join("cur")) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file == name || file.strip_prefix(name).is_some_and(|rest| rest.starts_with([':', ','])) {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

/// Makes a Maildir's cur/, new/ and tmp/ (private to the owner).
pub(crate) fn create_maildir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    for sub in ["cur", "new", "tmp"] {
        builder.create(dir.join(sub))?;
    }
    Ok(())
}

/// fsyncs a new Maildir and the directories above it up to the mail root's parent, so the
/// first message's path survives a crash too: fsyncing `new/` alone does not make `new/`
/// itself (or a new domain directory) durable.
pub(crate) fn sync_new_dirs(root: &Path, maildir: &Path) -> io::Result<()> {
    let mut dir = Some(maildir);
    while let Some(d) = dir {
        fs::File::open(d)?.sync_all()?;
        if d == root {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::File::open(parent)?.sync_all()?;
            }
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Maps a local part or domain to one safe path component: lower-case, bytes outside
/// [a-z0-9._+=-] as %XX, a leading dot as %2E — so no `..`, `/` or hidden names.
fn safe_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.to_lowercase().bytes().enumerate() {
        let plain = b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+=-".contains(&b) || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() { "%".to_string() } else { out }
}

/// Keeps ids to [0-9A-Za-z._-] so they can never change the directory.
fn safe_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '.' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn store(dir: &Path) -> Maildir {
        Maildir::new(dir.join("mail"), "mx.example.com")
    }

    fn delivery<'a>(user: &'a str, id: &'a str, parts: &'a [&'a [u8]], recovering: bool) -> Delivery<'a> {
        Delivery {
            user,
            id,
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            parts,
            recovering,
            folder: None,
            flags: &[],
        }
    }

    #[test]
    fn writes_exact_bytes_privately_with_a_maildir_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        let parts: [&[u8]; 2] = [b"Return-Path: <a@b>\n", b"Subject: x\n\nhi\n"];
        let d = m.deliver(&delivery("Bob@Example.com", "Q1.0", &parts, false)).unwrap();
        assert!(!d.duplicate);
        assert_eq!(fs::read(&d.path).unwrap(), b"Return-Path: <a@b>\nSubject: x\n\nhi\n");
        assert_eq!(d.path.parent().unwrap(), dir.path().join("mail/example.com/bob/new"));
        let name = d.path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "1700000000.Q1.0.mx.example.com,S=34");
        assert_eq!(fs::metadata(&d.path).unwrap().permissions().mode() & 0o777, 0o600);
        for sub in ["cur", "new", "tmp"] {
            assert!(dir.path().join("mail/example.com/bob").join(sub).is_dir());
        }
    }

    #[test]
    fn same_id_is_delivered_once() {
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        let parts: [&[u8]; 1] = [b"m\n"];
        m.deliver(&delivery("bob@example.com", "Q1.0", &parts, false)).unwrap();
        assert!(m.deliver(&delivery("bob@example.com", "Q1.0", &parts, false)).unwrap().duplicate);
        assert!(!m.deliver(&delivery("bob@example.com", "Q1.1", &parts, false)).unwrap().duplicate);
        assert_eq!(fs::read_dir(dir.path().join("mail/example.com/bob/new")).unwrap().count(), 2);
    }

    #[test]
    fn flagged_deliveries_go_to_cur_with_their_flags_once() {
        use crate::Flag;
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        let parts: [&[u8]; 1] = [b"m\n"];
        let flags = [Flag::Flagged, Flag::Keyword("$Label1".into()), Flag::Seen];
        let d = Delivery { flags: &flags, ..delivery("bob@example.com", "Q3.0", &parts, false) };
        let first = m.deliver(&d).unwrap();
        let name = first.path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.ends_with(":2,FSa"), "{name}");
        assert_eq!(first.path.parent().unwrap(), dir.path().join("mail/example.com/bob/cur"));
        let keywords = fs::read_to_string(dir.path().join("mail/example.com/bob/dovecot-keywords")).unwrap();
        assert_eq!(keywords, "0 $Label1\n");
        let again = m.deliver(&d).unwrap();
        assert!(again.duplicate && again.path == first.path);
        assert_eq!(fs::read_dir(dir.path().join("mail/example.com/bob/new")).unwrap().count(), 0);
    }

    #[test]
    fn recovering_finds_a_message_already_moved_to_cur() {
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        let parts: [&[u8]; 1] = [b"m\n"];
        let first = m.deliver(&delivery("bob@example.com", "Q2.0", &parts, false)).unwrap();
        let seen = dir
            .path()
            .join("mail/example.com/bob/cur")
            .join(format!("{}:2,S", first.path.file_name().unwrap().to_str().unwrap()));
        fs::rename(&first.path, &seen).unwrap();
        let again = m.deliver(&delivery("bob@example.com", "Q2.0", &parts, true)).unwrap();
        assert!(again.duplicate);
        assert_eq!(again.path, seen);
        assert_eq!(fs::read_dir(dir.path().join("mail/example.com/bob/new")).unwrap().count(), 0);
    }

    #[test]
    fn recovering_recognises_dovecot_names_and_ignores_look_alikes() {
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        let parts: [&[u8]; 1] = [b"m\n"];
        let first = m.deliver(&delivery("bob@example.com", "Q4.0", &parts, false)).unwrap();
        let name = first.path.file_name().unwrap().to_str().unwrap().to_string();
        let cur = dir.path().join("mail/example.com/bob/cur");
        fs::rename(&first.path, cur.join(format!("{name},W=3:2,RS"))).unwrap();
        assert!(m.deliver(&delivery("bob@example.com", "Q4.0", &parts, true)).unwrap().duplicate);
        // Without `recovering`, cur/ is not searched (the normal, fast path).
        assert!(!m.deliver(&delivery("bob@example.com", "Q4.0", &parts, false)).unwrap().duplicate);
        // Same prefix, other size: another message, not a duplicate.
        let longer: [&[u8]; 1] = [b"m\n0123456789"];
        let other = m.deliver(&delivery("bob@example.com", "Q4.1", &longer, false)).unwrap();
        fs::rename(&other.path, cur.join(format!("{}9:2,", name.replace("Q4.0", "Q4.2")))).unwrap();
        assert!(!m.deliver(&delivery("bob@example.com", "Q4.2", &parts, true)).unwrap().duplicate);
    }

    #[test]
    fn a_maildir_missing_its_subdirectories_is_completed() {
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        // An administrator's tidying removed tmp/ from an existing mailbox.
        m.deliver(&delivery("bob@example.com", "Q5.1", &[b"first\n"], false)).unwrap();
        fs::remove_dir(m.path_for("bob@example.com").join("tmp")).unwrap();
        let parts: [&[u8]; 1] = [b"m\n"];
        let d = m.deliver(&delivery("bob@example.com", "Q5.0", &parts, false)).unwrap();
        assert_eq!(fs::read(d.path).unwrap(), b"m\n");
        assert!(m.path_for("bob@example.com").join("tmp").is_dir());
    }

    #[test]
    fn delivery_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        // A file where the domain directory should be: the mailbox cannot be created.
        fs::create_dir_all(dir.path().join("mail")).unwrap();
        fs::write(dir.path().join("mail/example.com"), b"in the way").unwrap();
        let parts: [&[u8]; 1] = [b"m\n"];
        assert!(m.deliver(&delivery("bob@example.com", "Q6.0", &parts, false)).is_err());
    }

    #[test]
    fn stale_tmp_file_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let m = store(dir.path());
        let parts: [&[u8]; 1] = [b"complete\n"];
        let name = m.file_name(&delivery("bob@example.com", "Q3.0", &parts, false));
        create_maildir(&m.path_for("bob@example.com")).unwrap();
        fs::write(m.path_for("bob@example.com").join("tmp").join(&name), b"half").unwrap();
        let d = m.deliver(&delivery("bob@example.com", "Q3.0", &parts, true)).unwrap();
        assert_eq!(fs::read(d.path).unwrap(), b"complete\n");
    }

    #[test]
    fn user_names_cannot_escape_the_mail_root() {
        let m = Maildir::new(PathBuf::from("/data/mail"), "mx");
        for (user, expected) in [
            ("../x@example.com", "/data/mail/example.com/%2E.%2Fx"),
            ("a/b@example.com", "/data/mail/example.com/a%2Fb"),
            (".hidden@example.com", "/data/mail/example.com/%2Ehidden"),
            ("bob@../../etc", "/data/mail/%2E.%2F..%2Fetc/bob"),
            ("/etc/passwd@x", "/data/mail/x/%2Fetc%2Fpasswd"),
            ("@", "/data/mail/%/%"),
        ] {
            assert_eq!(m.path_for(user), PathBuf::from(expected), "{user}");
        }
        assert_eq!(safe_id("../../x"), "......x");
    }

    #[test]
    fn host_name_is_escaped_as_the_spec_says() {
        let m = Maildir::new(PathBuf::from("/m"), "a/b:c");
        assert_eq!(m.host, "a\\057b\\072c");
    }

    #[test]
    fn concurrent_deliveries_to_one_mailbox() {
        let dir = tempfile::tempdir().unwrap();
        let m = std::sync::Arc::new(store(dir.path()));
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        let id = format!("Q{t}.{i}");
                        let parts: [&[u8]; 1] = [b"m\n"];
                        m.deliver(&delivery("bob@example.com", &id, &parts, false)).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(fs::read_dir(dir.path().join("mail/example.com/bob/new")).unwrap().count(), 160);
    }
}
