//! One user's mailboxes: list, create, delete, rename, subscriptions, STATUS, APPEND and
//! opening a mailbox. Folder operations take the account lock (`carrier-account.lock` in the
//! account's Maildir); mailbox contents are guarded by each mailbox's own lock.
//!
//! All methods block (file I/O, fsync, flock): call them from `spawn_blocking`.

use crate::error::StoreError;
use crate::files::Staged;
use crate::flags::Flags;
use crate::fsutil::{self, Lock};
use crate::mailbox::{Access, Mailbox};
use crate::maildir::{Maildir, create_maildir, sync_new_dirs};
use crate::names::{self, DELIMITER, mutf7};
use crate::notify::Watch;
use crate::quota::{Quota, Usage};
use crate::sync::{Destinations, Locked, Place};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const ACCOUNT_LOCK: &str = "carrier-account.lock";
/// One mailbox name per line in modified UTF-7 with `/` as delimiter: the format Dovecot reads
/// from a `subscriptions` file without a version header.
const SUBSCRIPTIONS: &str = "subscriptions";

/// A folder every account gets, with its RFC 6154 SPECIAL-USE attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialUse {
    /// `\Sent`
    Sent,
    /// `\Drafts`
    Drafts,
    /// `\Trash`
    Trash,
    /// `\Junk`
    Junk,
    /// `\Archive`
    Archive,
}

impl SpecialUse {
    /// All of them, in the order they are created.
    pub const ALL: [SpecialUse; 5] =
        [SpecialUse::Drafts, SpecialUse::Sent, SpecialUse::Trash, SpecialUse::Junk, SpecialUse::Archive];

    /// The mailbox name (the names Thunderbird, Apple Mail and Outlook look for).
    pub fn name(self) -> &'static str {
        match self {
            SpecialUse::Sent => "Sent",
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Trash => "Trash",
            SpecialUse::Junk => "Junk",
            SpecialUse::Archive => "Archive",
        }
    }

    /// The LIST attribute.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Archive => "\\Archive",
        }
    }

    /// The special use of a mailbox name, if it has one.
    pub fn of(name: &str) -> Option<SpecialUse> {
        SpecialUse::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A LIST entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Canonical name ("INBOX", "Lists/rust").
    pub name: String,
    /// False for a name that only exists because it has children (`\Noselect`).
    pub selectable: bool,
    /// `\HasChildren` (else `\HasNoChildren`).
    pub has_children: bool,
    /// RFC 6154 attribute.
    pub special_use: Option<SpecialUse>,
    /// `\Subscribed`.
    pub subscribed: bool,
}

/// STATUS items (RFC 3501 6.3.10, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// MESSAGES
    pub messages: u32,
    /// RECENT
    pub recent: u32,
    /// UIDNEXT
    pub uidnext: u32,
    /// UIDVALIDITY
    pub uidvalidity: u32,
    /// UNSEEN
    pub unseen: u32,
    /// SIZE: the sum of RFC822.SIZE.
    pub size: u64,
    /// HIGHESTMODSEQ
    pub highestmodseq: u64,
    /// DELETED (RFC 9051): messages flagged \Deleted.
    pub deleted: u32,
}

/// RFC 4315 APPENDUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The new message's UID.
    pub uid: u32,
}

impl Maildir {
    /// A user's mailboxes (nothing is touched on disk until they are used).
    pub fn account(&self, user: &str) -> Account {
        Account::new(self.clone(), user)
    }
}

/// A user's mailboxes.
#[derive(Debug, Clone)]
pub struct Account {
    store: Maildir,
    user: String,
    root: PathBuf,
}

impl Account {
    pub(crate) fn new(store: Maildir, user: &str) -> Account {
        let root = store.path_for(user);
        Account { store, user: user.to_string(), root }
    }

    /// The user ("bob@example.com").
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The account's Maildir (INBOX).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Called at login: makes INBOX and the special-use folders that are missing (Dovecot's
    /// `auto = subscribe`), so every client finds Sent, Drafts, Trash, Junk and Archive.
    pub fn prepare(&self) -> Result<(), StoreError> {
        self.ensure_inbox()?;
        if SpecialUse::ALL.iter().all(|s| self.folder_dir(s.name()).join("cur").is_dir()) {
            return Ok(());
        }
        let _lock = self.lock()?;
        let mut subscribed = self.read_subscriptions()?;
        for special in SpecialUse::ALL {
            if !self.folder_dir(special.name()).join("cur").is_dir() {
                self.create_folder(special.name())?;
                subscribed.insert(special.name().to_string());
            }
        }
        subscribed.insert("INBOX".into());
        self.write_subscriptions(&subscribed)?;
        Ok(())
    }

    fn ensure_inbox(&self) -> Result<(), StoreError> {
        // All three: a delivery creating the Maildir at this moment may have made cur/ and new/
        // but not tmp/ yet, and an APPEND writes into tmp/.
        if ["cur", "new", "tmp"].iter().any(|d| !self.root.join(d).is_dir()) {
            create_maildir(&self.root)?;
            sync_new_dirs(self.store.root(), &self.root)?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<Lock, StoreError> {
        self.ensure_inbox()?;
        Ok(Lock::exclusive(&self.root.join(ACCOUNT_LOCK))?)
    }

    fn folder_dir(&self, canonical: &str) -> PathBuf {
        match names::dir_name(canonical) {
            Some(dir) => self.root.join(dir),
            None => self.root.clone(),
        }
    }

    fn exists(&self, canonical: &str) -> bool {
        self.folder_dir(canonical).join("cur").is_dir()
    }

    /// Opens a mailbox (SELECT / EXAMINE / POP3 login).
    pub fn open(&self, name: &str, access: Access) -> Result<Mailbox, StoreError> {
        let place = self.place_of(name)?;
        Mailbox::open(Box::new(self.clone()), names::normalize(name)?, place, access)
    }

    /// Notified whenever a session or delivery in this process changes the mailbox.
    pub fn watch(&self, name: &str) -> Result<Watch, StoreError> {
        let place = self.place_of(name)?;
        Ok(place.registry.watch(&place.dir))
    }

    /// STATUS of a mailbox, without selecting it.
    pub fn status(&self, name: &str) -> Result<Status, StoreError> {
        let place = self.place_of(name)?;
        let mut locked = Locked::acquire(&place)?;
        locked.sync(false)?;
        let index = &locked.index;
        let status = Status {
            messages: index.entries.len() as u32,
            recent: index.entries.iter().filter(|e| e.uid >= index.first_recent).count() as u32,
            uidnext: index.uidnext,
            uidvalidity: index.uidvalidity,
            unseen: index.entries.iter().filter(|e| !crate::flags::info_of(&e.file).contains('S')).count() as u32,
            deleted: index.entries.iter().filter(|e| crate::flags::info_of(&e.file).contains('T')).count() as u32,
            size: index.entries.iter().map(|e| e.vsize).sum(),
            highestmodseq: index.highestmodseq,
        };
        locked.finish()?;
        Ok(status)
    }

    /// APPEND (RFC 3501 6.3.11): stores a message durably with flags and internal date.
    /// CRLF line ends are stored as LF, as every message in the Maildir.
    pub fn append(
        &self,
        name: &str,
        message: &[u8],
        flags: &Flags,
        date: Option<SystemTime>,
    ) -> Result<Appended, StoreError> {
        let place = self.place_of(name)?;
        let data = carrier_syntax::lines::to_lf(message);
        self.check_quota(data.len() as u64, 1)?;
        let mut staged = Staged::new(&place.dir);
        staged.write(&place.host, &data, date.unwrap_or_else(SystemTime::now))?;
        let (uidvalidity, uids) = staged.commit(&place, std::slice::from_ref(flags))?;
        Ok(Appended { uidvalidity, uid: uids[0] })
    }

    /// All mailboxes, INBOX first, with names implied by children as `\Noselect`.
    pub fn list(&self) -> Result<Vec<MailboxInfo>, StoreError> {
        self.ensure_inbox()?;
        let subscribed = self.read_subscriptions()?;
        let mut all: BTreeMap<String, bool> = BTreeMap::new();
        for name in self.folders()? {
            let mut parent = names::parent(&name);
            while let Some(p) = parent {
                all.entry(p.to_string()).or_insert(false);
                parent = names::parent(p);
            }
            all.insert(name, true);
        }
        all.insert("INBOX".into(), true);
        let has_children =
            |name: &str| all.keys().any(|k| k.strip_prefix(name).is_some_and(|r| r.starts_with(DELIMITER)));
        let mut out: Vec<MailboxInfo> = all
            .iter()
            .map(|(name, selectable)| MailboxInfo {
                name: name.clone(),
                selectable: *selectable,
                has_children: has_children(name),
                special_use: SpecialUse::of(name),
                subscribed: subscribed.contains(name),
            })
            .collect();
        out.sort_by_key(|m| m.name != "INBOX");
        Ok(out)
    }

    /// Existing folders' names (not INBOX), from the `.Name` directories.
    fn folders(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for dir in fsutil::names_in(&self.root)? {
            if let Some(name) = names::from_dir_name(&dir)
                && self.root.join(&dir).join("cur").is_dir()
            {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// CREATE (RFC 3501 6.3.3), with any missing parents; a trailing `/` is ignored.
    pub fn create(&self, name: &str) -> Result<(), StoreError> {
        let canonical = names::normalize(name.strip_suffix(DELIMITER).unwrap_or(name))?;
        let _lock = self.lock()?;
        if canonical == "INBOX" || self.exists(&canonical) {
            return Err(StoreError::AlreadyExists(canonical));
        }
        self.create_with_parents(&canonical)
    }

    fn create_with_parents(&self, canonical: &str) -> Result<(), StoreError> {
        let mut prefix = String::new();
        for part in canonical.split(DELIMITER) {
            if !prefix.is_empty() {
                prefix.push(DELIMITER);
            }
            prefix.push_str(part);
            if prefix != "INBOX" && !self.exists(&prefix) {
                self.create_folder(&prefix)?;
            }
        }
        Ok(())
    }

    /// A Maildir++ folder: `.Name/{cur,new,tmp}` and the `maildirfolder` marker Courier and
    /// Dovecot write. Its index (and UIDVALIDITY) is made by the first sync.
    fn create_folder(&self, canonical: &str) -> Result<(), StoreError> {
        let dir = self.folder_dir(canonical);
        create_maildir(&dir)?;
        fs::OpenOptions::new().write(true).create(true).truncate(false).open(dir.join("maildirfolder"))?;
        fsutil::sync_dir(&dir)?;
        fsutil::sync_dir(&self.root)?;
        Ok(())
    }

    /// Where a delivery into mailbox `name` goes: None for INBOX, else the folder's canonical
    /// name. A missing folder is made and subscribed when `create` is set (Sieve's
    /// `fileinto :create`, RFC 5490 3.2), else it is `NoSuchMailbox`.
    pub fn delivery_folder(&self, name: &str, create: bool) -> Result<Option<String>, StoreError> {
        let canonical = names::normalize(name)?;
        if canonical == "INBOX" {
            return Ok(None);
        }
        if !self.exists(&canonical) {
            if !create {
                return Err(StoreError::NoSuchMailbox(canonical));
            }
            match self.create(&canonical) {
                Ok(()) | Err(StoreError::AlreadyExists(_)) => self.subscribe(&canonical)?,
                Err(e) => return Err(e),
            }
        }
        Ok(Some(canonical))
    }

    /// DELETE (RFC 3501 6.3.4): the mailbox and its messages go; children stay, and the name
    /// then lists as `\Noselect`. INBOX cannot be deleted.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        let canonical = names::normalize(name)?;
        if canonical == "INBOX" {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted (RFC 3501 6.3.4)".into()));
        }
        let _lock = self.lock()?;
        if !self.exists(&canonical) {
            let parent_only = self.folders()?.iter().any(|f| f.starts_with(&format!("{canonical}/")));
            return Err(if parent_only {
                StoreError::NotAllowed(format!(
                    "{canonical:?} only holds other mailboxes and cannot be deleted itself; delete its children first"
                ))
            } else {
                StoreError::NoSuchMailbox(canonical)
            });
        }
        let dir = self.folder_dir(&canonical);
        // Renamed away first, so the mailbox disappears at once even if removal is cut short.
        let doomed = self.root.join("carrier-deleting");
        if doomed.exists() {
            fs::remove_dir_all(&doomed)?; // left by a removal a crash cut short
        }
        {
            let _busy = Lock::exclusive(&dir.join(crate::index::LOCK_FILE))?;
            fs::rename(&dir, &doomed)?;
        }
        fsutil::sync_dir(&self.root)?;
        self.store.registry.changed(&dir);
        fs::remove_dir_all(&doomed)?;
        Ok(())
    }

    /// RENAME (RFC 3501 6.3.5). Children move along. Renaming INBOX moves its messages into a
    /// new mailbox and leaves INBOX empty, with its children in place.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let from = names::normalize(from)?;
        let to = names::normalize(to.strip_suffix(DELIMITER).unwrap_or(to))?;
        let _lock = self.lock()?;
        if to == "INBOX" || self.exists(&to) {
            return Err(StoreError::AlreadyExists(to));
        }
        if to.starts_with(&format!("{from}/")) {
            return Err(StoreError::NotAllowed(format!("cannot rename {from:?} into itself ({to:?})")));
        }
        if from == "INBOX" {
            return self.rename_inbox(&to);
        }
        let moving: Vec<String> = self
            .folders()?
            .into_iter()
            .filter(|f| *f == from || f.strip_prefix(&from).is_some_and(|r| r.starts_with(DELIMITER)))
            .collect();
        if moving.is_empty() {
            return Err(StoreError::NoSuchMailbox(from));
        }
        let target = |f: &str| format!("{to}{}", &f[from.len()..]);
        if let Some(clash) = moving.iter().map(|f| target(f)).find(|t| self.folder_dir(t).exists()) {
            return Err(StoreError::AlreadyExists(clash));
        }
        for f in &moving {
            names::normalize(&target(f))?; // the new names must be valid too (length)
        }
        if let Some(parent) = names::parent(&to) {
            self.create_with_parents(parent)?;
        }
        for f in &moving {
            fs::rename(self.folder_dir(f), self.folder_dir(&target(f)))?;
            self.store.registry.changed(&self.folder_dir(f));
        }
        fsutil::sync_dir(&self.root)?;
        let mut subscribed = self.read_subscriptions()?;
        let renamed: BTreeSet<String> = subscribed.iter().filter(|s| moving.contains(s)).cloned().collect();
        for s in renamed {
            subscribed.remove(&s);
            subscribed.insert(target(&s));
        }
        self.write_subscriptions(&subscribed)
    }

    fn rename_inbox(&self, to: &str) -> Result<(), StoreError> {
        self.create_with_parents(to)?;
        let mut inbox = self.open("INBOX", Access::ReadWrite)?;
        let uids: Vec<u32> = inbox.snapshot().messages.iter().map(|m| m.uid).collect();
        if !uids.is_empty() {
            inbox.move_to(&uids, to)?;
        }
        Ok(())
    }

    /// SUBSCRIBE (RFC 3501 6.3.6). Names that do not exist (yet) may be subscribed too.
    pub fn subscribe(&self, name: &str) -> Result<(), StoreError> {
        let canonical = names::normalize(name)?;
        let _lock = self.lock()?;
        let mut set = self.read_subscriptions()?;
        if set.insert(canonical) { self.write_subscriptions(&set) } else { Ok(()) }
    }

    /// UNSUBSCRIBE (RFC 3501 6.3.7).
    pub fn unsubscribe(&self, name: &str) -> Result<(), StoreError> {
        let canonical = names::normalize(name)?;
        let _lock = self.lock()?;
        let mut set = self.read_subscriptions()?;
        if set.remove(&canonical) { self.write_subscriptions(&set) } else { Ok(()) }
    }

    /// The subscribed names, existing or not (LSUB, LIST (SUBSCRIBED)).
    pub fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.read_subscriptions()?.into_iter().collect())
    }

    fn read_subscriptions(&self) -> Result<BTreeSet<String>, StoreError> {
        let text = match fs::read_to_string(self.root.join(SUBSCRIPTIONS)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(text.lines().filter_map(|l| names::normalize(&mutf7::decode(l.as_bytes())?).ok()).collect())
    }

    fn write_subscriptions(&self, set: &BTreeSet<String>) -> Result<(), StoreError> {
        let text: String = set.iter().map(|n| format!("{}\n", mutf7::encode(n))).collect();
        Ok(fsutil::write_atomic(&self.root.join(SUBSCRIPTIONS), text.as_bytes())?)
    }

    /// The account's Sieve scripts.
    pub fn scripts(&self) -> crate::scripts::Scripts {
        crate::scripts::Scripts::new(&self.root)
    }

    /// The account's limits: its own, else `[mailbox] quota` and `quota_messages`.
    pub fn quota(&self) -> Quota {
        self.store.quota_of(&self.user)
    }

    /// Octets and messages stored in all the account's mailboxes (sizes from the `S=` in
    /// file names, or the files' sizes).
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let mut dirs = vec![self.root.clone()];
        dirs.extend(self.folders()?.iter().map(|f| self.folder_dir(f)));
        let mut usage = Usage::default();
        for dir in dirs {
            for sub in ["new", "cur"] {
                for file in fsutil::names_in(&dir.join(sub))? {
                    usage.octets += size_of(&dir.join(sub).join(&file), &file);
                    usage.messages += 1;
                }
            }
        }
        Ok(usage)
    }
}

impl Destinations for Account {
    fn place_of(&self, name: &str) -> Result<Place, StoreError> {
        let canonical = names::normalize(name)?;
        if canonical == "INBOX" {
            self.ensure_inbox()?;
        } else if !self.exists(&canonical) {
            return Err(StoreError::NoSuchMailbox(canonical));
        }
        Ok(Place {
            dir: self.folder_dir(&canonical),
            root: self.root.clone(),
            registry: self.store.registry.clone(),
            host: self.store.host.clone(),
        })
    }

    fn check_quota(&self, octets: u64, messages: u64) -> Result<(), StoreError> {
        let quota = self.quota();
        if !quota.is_limited() {
            return Ok(());
        }
        match quota.exceeded(self.usage()?, octets, messages) {
            Some(e) => Err(StoreError::OverQuota(e)),
            None => Ok(()),
        }
    }
}

fn size_of(path: &Path, file: &str) -> u64 {
    let named = crate::flags::base_of(file).split(',').find_map(|f| f.strip_prefix("S=")?.parse().ok());
    named.unwrap_or_else(|| fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}
