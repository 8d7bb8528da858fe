//! The mailbox store as an IMAP session sees it: [`carrier_imap::Mailboxes`] over one
//! logged-in user's Maildir++ [`Account`].
//!
//! The selected mailbox stays open between commands: the open [`Mailbox`] holds this
//! session's \Recent claims (RFC 3501 2.3.2). Every method blocks (files, fsync, flock), so
//! the listener runs the session on a blocking thread.

use carrier_imap::backend::{
    self as imap, Changes, Copied, MailboxInfo, MailboxStatus, Mailboxes, MessageMeta, QuotaResource, QuotaUse,
    Snapshot, StoreResult, Stored,
};
use carrier_imap::datetime::DateTime;
use carrier_imap::flags::Flags as ImapFlags;
use carrier_store::{Access, Account, Flag, FlagOp, Flags, Mailbox, Message, SpecialUse, StoreError, names};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::warn;

/// One user's mailboxes for one IMAP connection.
pub struct ImapStore {
    account: Account,
    /// The mailbox the last SELECT or EXAMINE opened.
    open: Option<Mailbox>,
    /// The selected mailbox's UIDVALIDITY as the session was told.
    uidvalidity: Option<u32>,
    /// Set when that UIDVALIDITY changed (its index was rebuilt): the session's UIDs are
    /// meaningless now, and the listener ends it.
    invalidated: Arc<AtomicBool>,
}

impl ImapStore {
    /// The mailboxes of a logged-in user (`Account::prepare` has run).
    pub fn new(account: Account) -> ImapStore {
        ImapStore { account, open: None, uidvalidity: None, invalidated: Arc::default() }
    }

    /// Becomes true when the selected mailbox's UIDVALIDITY changes under the session.
    pub fn invalidated(&self) -> Arc<AtomicBool> {
        self.invalidated.clone()
    }

    /// The open mailbox if it is `name` (and, when given, opened that way); else opens it.
    fn mailbox(&mut self, name: &str, access: Option<Access>) -> Result<&mut Mailbox, StoreError> {
        let canonical = names::normalize(name)?;
        let reusable = |m: &Mailbox| m.name() == canonical && access.is_none_or(|a| a == m.access());
        let mailbox = match self.open.take().filter(reusable) {
            Some(m) => m,
            None => self.account.open(&canonical, access.unwrap_or(Access::ReadOnly))?,
        };
        Ok(self.open.insert(mailbox))
    }

    /// Forgets the open mailbox when `name` (or a parent of it) is deleted or renamed.
    fn close_if_under(&mut self, name: &str) {
        let Ok(canonical) = names::normalize(name) else { return };
        let under = |m: &Mailbox| {
            m.name() == canonical || m.name().strip_prefix(&canonical).is_some_and(|r| r.starts_with('/'))
        };
        if self.open.as_ref().is_some_and(under) {
            self.open = None;
        }
    }

    /// A store error as the session reports it (RFC 5530 codes); storage failures are logged.
    fn error(&self, e: StoreError) -> imap::StoreError {
        let text = sentence(&e.to_string());
        match e {
            StoreError::NoSuchMailbox(_) => imap::StoreError::NoSuchMailbox,
            StoreError::AlreadyExists(_) => imap::StoreError::AlreadyExists,
            StoreError::InvalidName { .. }
            | StoreError::NotAllowed(_)
            | StoreError::InvalidFlag { .. }
            | StoreError::ReadOnly => imap::StoreError::Cannot(text),
            StoreError::TooManyKeywords => imap::StoreError::Limit(text),
            StoreError::Expunged(_) => imap::StoreError::Expunged,
            StoreError::OverQuota(_) => imap::StoreError::OverQuota(text),
            StoreError::Io(io) if carrier_mta::sysexits::disk_full(&io) => {
                warn!("imap({}): {io}", self.account.user());
                imap::StoreError::OverQuota("The server's disk is full; try again later".into())
            }
            StoreError::Io(io) => {
                warn!("imap({}): storage error: {io}", self.account.user());
                imap::StoreError::Io("the mailbox cannot be read or written now (details in the server log)".into())
            }
        }
    }

    fn call<T>(&mut self, f: impl FnOnce(&mut ImapStore) -> Result<T, StoreError>) -> StoreResult<T> {
        f(self).map_err(|e| self.error(e))
    }
}

/// The first letter in capitals: store errors are written to follow a colon.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn to_imap_flags(flags: &Flags) -> ImapFlags {
    flags.iter().map(Flag::name).collect()
}

fn to_store_flags(flags: &ImapFlags) -> Result<Flags, StoreError> {
    flags.iter().map(Flag::parse).collect()
}

fn to_imap_date(t: SystemTime) -> DateTime {
    let unix = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    DateTime { unix, offset: 0 }
}

fn to_system_time(d: DateTime) -> SystemTime {
    match u64::try_from(d.unix) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => UNIX_EPOCH - Duration::from_secs(d.unix.unsigned_abs()),
    }
}

fn meta(m: &Message) -> MessageMeta {
    MessageMeta {
        uid: m.uid,
        flags: to_imap_flags(&m.flags),
        modseq: m.modseq.max(1),
        size: m.rfc822_size,
        internal_date: to_imap_date(m.internal_date),
        recent: m.recent,
    }
}

/// The UID ranges below `uidnext` that hold no message: the index keeps no record of
/// expunges, and the session ignores UIDs it does not know (the trait allows this). For
/// QRESYNC this makes VANISHED (EARLIER) name every such UID, as RFC 7162 3.2.5.1 and 3.2.6
/// allow; the client's known UIDs and sequence match data narrow it.
fn gaps(uids: impl Iterator<Item = u32>, uidnext: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 1;
    for uid in uids.chain([uidnext]) {
        if uid > next {
            out.push((next, uid - 1));
        }
        next = next.max(uid.saturating_add(1));
    }
    out
}

/// RFC 6154 5.4: a special use can only be given where the store keeps it, by name.
fn check_special_use(name: &str, asked: &[String]) -> Result<(), imap::StoreError> {
    let own = SpecialUse::of(name).map(SpecialUse::attribute);
    if asked.iter().all(|a| own.is_some_and(|o| o.eq_ignore_ascii_case(a))) {
        return Ok(());
    }
    let names: Vec<String> = SpecialUse::ALL.iter().map(|s| format!("{} {}", s.name(), s.attribute())).collect();
    Err(imap::StoreError::UseAttr(format!(
        "Special uses belong to the folders of these names only: {}; create one of them instead",
        names.join(", ")
    )))
}

impl Mailboxes for ImapStore {
    fn list(&mut self) -> StoreResult<Vec<MailboxInfo>> {
        let all = self.call(|s| s.account.list())?;
        Ok(all
            .into_iter()
            .filter(|m| m.selectable)
            .map(|m| MailboxInfo {
                name: m.name,
                special_use: m.special_use.map(|s| s.attribute().to_string()).into_iter().collect(),
            })
            .collect())
    }

    fn subscriptions(&mut self) -> StoreResult<Vec<String>> {
        self.call(|s| s.account.subscriptions())
    }

    fn subscribe(&mut self, name: &str, subscribe: bool) -> StoreResult<()> {
        self.call(|s| if subscribe { s.account.subscribe(name) } else { s.account.unsubscribe(name) })
    }

    fn create(&mut self, name: &str, special_use: &[String]) -> StoreResult<()> {
        check_special_use(name, special_use)?;
        self.call(|s| s.account.create(name))
    }

    fn delete(&mut self, name: &str) -> StoreResult<()> {
        self.close_if_under(name);
        self.call(|s| s.account.delete(name))
    }

    fn rename(&mut self, from: &str, to: &str) -> StoreResult<()> {
        self.close_if_under(from);
        self.call(|s| s.account.rename(from, to))
    }

    fn quota(&mut self) -> StoreResult<Vec<QuotaUse>> {
        let quota = self.account.quota();
        if !quota.is_limited() {
            return Ok(Vec::new());
        }
        let used = self.call(|s| s.account.usage())?;
        let resources = [
            (QuotaResource::Storage, quota.storage, used.octets),
            (QuotaResource::Message, quota.messages, used.messages),
        ];
        Ok(resources
            .into_iter()
            .filter_map(|(resource, limit, used)| Some(QuotaUse { resource, used, limit: limit? }))
            .collect())
    }

    fn status(&mut self, name: &str) -> StoreResult<MailboxStatus> {
        let st = self.call(|s| s.account.status(name))?;
        Ok(MailboxStatus {
            messages: st.messages,
            recent: st.recent,
            uidnext: st.uidnext,
            uidvalidity: st.uidvalidity,
            unseen: st.unseen,
            highest_modseq: st.highestmodseq,
            size: st.size,
            deleted: st.deleted,
        })
    }

    fn select(&mut self, name: &str, read_only: bool) -> StoreResult<Snapshot> {
        let access = if read_only { Access::ReadOnly } else { Access::ReadWrite };
        self.uidvalidity = None;
        // RFC 3501 6.3.1: SELECT closes the selected mailbox first, and with it this session's
        // \Recent claims: a re-SELECT does not show the same messages as \Recent again.
        self.open = None;
        let snapshot = self.call(|s| {
            let snap = s.mailbox(name, Some(access))?.sync()?;
            Ok(Snapshot {
                uidvalidity: snap.uidvalidity,
                uidnext: snap.uidnext,
                highest_modseq: snap.highestmodseq.max(1),
                messages: snap.messages.iter().map(meta).collect(),
                keywords: snap.keywords.clone(),
            })
        })?;
        self.uidvalidity = Some(snapshot.uidvalidity);
        Ok(snapshot)
    }

    fn changes(&mut self, name: &str, since: u64, read_only: bool) -> StoreResult<Changes> {
        let access = if read_only { Access::ReadOnly } else { Access::ReadWrite };
        let told = self.uidvalidity;
        let changes = self.call(|s| {
            let snap = s.mailbox(name, Some(access))?.sync()?;
            if told.is_some_and(|v| v != snap.uidvalidity) {
                return Ok(None);
            }
            Ok(Some(Changes {
                uidnext: snap.uidnext,
                highest_modseq: snap.highestmodseq.max(1),
                updated: snap.messages.iter().filter(|m| m.modseq > since).map(meta).collect(),
                // Every expunge raises HIGHESTMODSEQ (RFC 7162 3.2), so none happened after
                // `since` unless it is below; a resyncing client is not told of old gaps.
                expunged: if snap.highestmodseq > since {
                    gaps(snap.messages.iter().map(|m| m.uid), snap.uidnext)
                } else {
                    Vec::new()
                },
            }))
        })?;
        changes.ok_or_else(|| {
            warn!("imap({}): the UIDVALIDITY of {name} changed (its index was rebuilt)", self.account.user());
            self.invalidated.store(true, Ordering::Relaxed);
            imap::StoreError::Io("the mailbox's UIDVALIDITY changed".into())
        })
    }

    fn fetch(&mut self, name: &str, uid: u32) -> StoreResult<Vec<u8>> {
        self.call(|s| s.mailbox(name, None)?.read(uid))
    }

    fn fetch_header(&mut self, name: &str, uid: u32) -> StoreResult<Vec<u8>> {
        self.call(|s| s.mailbox(name, None)?.read_header(uid))
    }

    fn store(
        &mut self,
        name: &str,
        uids: &[u32],
        op: imap::FlagOp,
        flags: &ImapFlags,
        unchanged_since: Option<u64>,
    ) -> StoreResult<Stored> {
        let op = match op {
            imap::FlagOp::Add => FlagOp::Add,
            imap::FlagOp::Remove => FlagOp::Remove,
            imap::FlagOp::Replace => FlagOp::Replace,
        };
        self.call(|s| {
            let flags = to_store_flags(flags)?;
            let mailbox = s.mailbox(name, None)?;
            let stored = mailbox.store(uids, op, &flags, unchanged_since)?;
            let snap = mailbox.snapshot();
            let updated = stored
                .messages
                .iter()
                .filter_map(|(uid, flags, modseq)| {
                    let m = snap.get(*uid)?;
                    Some(MessageMeta { flags: to_imap_flags(flags), modseq: *modseq, ..meta(m) })
                })
                .collect();
            Ok(Stored { updated, modified: stored.modified })
        })
    }

    fn expunge(&mut self, name: &str, uids: Option<&[u32]>) -> StoreResult<Vec<u32>> {
        self.call(|s| s.mailbox(name, None)?.expunge_deleted(uids))
    }

    fn append(
        &mut self,
        name: &str,
        message: &[u8],
        flags: &ImapFlags,
        date: Option<DateTime>,
    ) -> StoreResult<(u32, u32)> {
        self.call(|s| {
            let flags = to_store_flags(flags)?;
            let appended = s.account.append(name, message, &flags, date.map(to_system_time))?;
            Ok((appended.uidvalidity, appended.uid))
        })
    }

    fn copy(&mut self, from: &str, uids: &[u32], to: &str) -> StoreResult<Copied> {
        self.call(|s| {
            let copied = s.mailbox(from, None)?.copy_to(uids, to)?;
            Ok(Copied { uidvalidity: copied.uidvalidity, uids: copied.uids })
        })
    }

    fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> StoreResult<Copied> {
        self.call(|s| {
            let moved = s.mailbox(from, None)?.move_to(uids, to)?;
            Ok(Copied { uidvalidity: moved.uidvalidity, uids: moved.uids })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carrier_store::{Delivery, MailboxStore, Maildir};

    fn store() -> (tempfile::TempDir, Maildir, ImapStore) {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::new(dir.path().join("mail"), "mx.example.com");
        let account = maildir.account("bob@example.com");
        account.prepare().unwrap();
        (dir, maildir.clone(), ImapStore::new(account))
    }

    fn deliver(m: &Maildir, id: &str, text: &str) {
        let parts: [&[u8]; 1] = [text.as_bytes()];
        let d = Delivery {
            user: "bob@example.com",
            id,
            time: SystemTime::now(),
            parts: &parts,
            recovering: false,
            folder: None,
            flags: &[],
        };
        m.deliver(&d).unwrap();
    }

    fn flags(list: &[&str]) -> ImapFlags {
        list.iter().collect()
    }

    #[test]
    fn gaps_cover_every_absent_uid() {
        assert_eq!(gaps([].into_iter(), 1), []);
        assert_eq!(gaps([1, 2, 3].into_iter(), 4), []);
        assert_eq!(gaps([2, 5].into_iter(), 9), [(1, 1), (3, 4), (6, 8)]);
        assert_eq!(gaps([].into_iter(), 5), [(1, 4)]);
    }

    #[test]
    fn select_changes_and_recent() {
        let (_dir, maildir, mut s) = store();
        deliver(&maildir, "Q1", "Subject: one\n\nbody\n");
        let snap = s.select("inbox", false).unwrap();
        assert_eq!(snap.messages.len(), 1);
        let m = &snap.messages[0];
        assert!(m.recent && m.flags.is_empty());
        assert_eq!(m.size, "Subject: one\r\n\r\nbody\r\n".len() as u64);
        deliver(&maildir, "Q2", "Subject: two\n\nbody\n");
        let ch = s.changes("INBOX", snap.highest_modseq, false).unwrap();
        assert_eq!(ch.updated.iter().map(|m| (m.uid, m.recent)).collect::<Vec<_>>(), [(2, true)]);
        // A second session sees the messages, but \Recent went to the first.
        let mut other = ImapStore::new(maildir.account("bob@example.com"));
        let snap2 = other.select("INBOX", false).unwrap();
        assert!(snap2.messages.iter().all(|m| !m.recent));
        other.store("INBOX", &[1], imap::FlagOp::Add, &flags(&["\\Deleted"]), None).unwrap();
        assert_eq!(other.expunge("INBOX", None).unwrap(), [1]);
        let ch = s.changes("INBOX", ch.highest_modseq, false).unwrap();
        assert_eq!(ch.expunged, [(1, 1)]);
        // Nothing after the HIGHESTMODSEQ of the expunge: no gap is reported (for QRESYNC).
        assert_eq!(s.changes("INBOX", ch.highest_modseq, false).unwrap().expunged, []);
        assert_eq!(s.fetch("INBOX", 1), Err(imap::StoreError::Expunged));
        assert_eq!(s.fetch("INBOX", 2).unwrap(), b"Subject: two\n\nbody\n");
    }

    #[test]
    fn store_append_copy_move_and_status() {
        let (_dir, _maildir, mut s) = store();
        let date = DateTime { unix: 1_700_000_000, offset: 0 };
        let (validity, uid) =
            s.append("Drafts", b"Subject: d\r\n\r\nx\r\n", &flags(&["\\Draft", "$Work"]), Some(date)).unwrap();
        assert_eq!(uid, 1);
        let snap = s.select("Drafts", false).unwrap();
        assert_eq!(snap.uidvalidity, validity);
        assert_eq!(snap.keywords, ["$Work"]);
        assert_eq!(snap.messages[0].internal_date, date);
        assert!(snap.messages[0].flags.same(&flags(&["\\Draft", "$Work"])));
        let stored = s.store("Drafts", &[1], imap::FlagOp::Add, &flags(&["\\Seen"]), Some(0)).unwrap();
        assert_eq!((stored.updated.len(), stored.modified.as_slice()), (0, &[1][..]), "UNCHANGEDSINCE 0 fails");
        let stored = s.store("Drafts", &[1], imap::FlagOp::Add, &flags(&["\\Seen"]), None).unwrap();
        assert!(stored.updated[0].flags.contains("\\Seen") && stored.updated[0].modseq > snap.highest_modseq);
        let copied = s.copy("Drafts", &[1], "Archive").unwrap();
        assert_eq!(copied.uids, [(1, 1)]);
        let moved = s.move_messages("Drafts", &[1], "Trash").unwrap();
        assert_eq!(moved.uids, [(1, 1)]);
        let st = s.status("Drafts").unwrap();
        assert_eq!((st.messages, st.uidnext), (0, 2));
        let st = s.status("Archive").unwrap();
        assert_eq!((st.messages, st.unseen, st.deleted), (1, 0, 0));
    }

    #[test]
    fn errors_map_to_imap_codes() {
        let (_dir, _maildir, mut s) = store();
        assert_eq!(s.select("Nope", false), Err(imap::StoreError::NoSuchMailbox));
        assert_eq!(s.create("Sent", &[]), Err(imap::StoreError::AlreadyExists));
        assert!(matches!(s.delete("INBOX"), Err(imap::StoreError::Cannot(t)) if t.starts_with("INBOX cannot")));
        assert!(
            matches!(s.create("a/../b", &[]), Err(imap::StoreError::Cannot(t)) if t.starts_with("Invalid mailbox"))
        );
        assert!(matches!(s.create("Mine", &["\\Sent".into()]), Err(imap::StoreError::UseAttr(_))));
        s.delete("Trash").unwrap();
        s.create("Trash", &["\\Trash".into()]).unwrap();
        assert_eq!(s.copy("INBOX", &[], "Nope"), Err(imap::StoreError::NoSuchMailbox));
        s.select("INBOX", true).unwrap();
        assert!(matches!(s.expunge("INBOX", None), Err(imap::StoreError::Cannot(t)) if t.contains("read-only")));
        let bad = flags(&["x".repeat(200).as_str()]);
        s.select("INBOX", false).unwrap();
        assert!(matches!(s.append("INBOX", b"x\r\n", &bad, None), Err(imap::StoreError::Cannot(_))));
    }

    #[test]
    fn a_rebuilt_index_invalidates_the_selected_mailbox() {
        let (_dir, maildir, mut s) = store();
        deliver(&maildir, "Q1", "Subject: one\n\nbody\n");
        let snap = s.select("INBOX", false).unwrap();
        let flag = s.invalidated();
        s.changes("INBOX", snap.highest_modseq, false).unwrap();
        assert!(!flag.load(Ordering::Relaxed));
        std::fs::remove_file(maildir.account("bob@example.com").root().join("carrier-index")).unwrap();
        assert!(matches!(s.changes("INBOX", snap.highest_modseq, false), Err(imap::StoreError::Io(_))));
        assert!(flag.load(Ordering::Relaxed));
    }

    #[test]
    fn keywords_are_limited_per_mailbox() {
        let (_dir, _maildir, mut s) = store();
        for i in 0..26 {
            s.append("INBOX", b"x\r\n", &flags(&[format!("k{i}").as_str()]), None).unwrap();
        }
        let err = s.append("INBOX", b"x\r\n", &flags(&["one-too-many"]), None).unwrap_err();
        assert!(matches!(err, imap::StoreError::Limit(t) if t.contains("26 keywords")));
    }
}
