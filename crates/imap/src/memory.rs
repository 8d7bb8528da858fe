//! An in-memory [`Mailboxes`] for tests and fuzzing. Clones share the same account, so
//! two sessions can watch each other's changes.

use crate::backend::*;
use crate::datetime::DateTime;
use crate::flags::{self, Flags};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone)]
struct Message {
    meta: MessageMeta,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Mailbox {
    uidvalidity: u32,
    uidnext: u32,
    highest_modseq: u64,
    messages: Vec<Message>,
    /// (uid, modseq of the expunge).
    expunged: Vec<(u32, u64)>,
    keywords: Vec<String>,
    special_use: Vec<String>,
    /// UIDs from here on have not been seen by a read-write session yet (\Recent).
    recent_from: u32,
}

#[derive(Debug)]
struct Account {
    mailboxes: BTreeMap<String, Mailbox>,
    subscriptions: BTreeSet<String>,
    next_uidvalidity: u32,
    now: DateTime,
    /// Whole messages read (header-only reads are not counted), for tests.
    whole_reads: usize,
}

/// One user's mailboxes in memory.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    account: Arc<Mutex<Account>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An account with an empty INBOX.
    pub fn new() -> MemoryStore {
        let mut account = Account {
            mailboxes: BTreeMap::new(),
            subscriptions: BTreeSet::new(),
            next_uidvalidity: 1000,
            now: DateTime { unix: 1_700_000_000, offset: 0 },
            whole_reads: 0,
        };
        account.add_mailbox("INBOX", &[]);
        MemoryStore { account: Arc::new(Mutex::new(account)) }
    }

    /// How many times a whole message was read (FETCH or SEARCH content).
    pub fn whole_reads(&self) -> usize {
        self.lock().whole_reads
    }

    fn message(&self, name: &str, uid: u32) -> StoreResult<Vec<u8>> {
        let mut account = self.lock();
        let mb = account.mailbox(name)?;
        mb.messages.iter().find(|m| m.meta.uid == uid).map(|m| m.bytes.clone()).ok_or(StoreError::Expunged)
    }

    fn lock(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers a message as the MTA would (for tests).
    pub fn deliver(&self, mailbox: &str, message: &[u8]) -> u32 {
        self.append(mailbox, message, &Flags::new(), None).map(|(_, uid)| uid).unwrap_or(0)
    }

    fn append(&self, name: &str, message: &[u8], flags: &Flags, date: Option<DateTime>) -> StoreResult<(u32, u32)> {
        let mut account = self.lock();
        let now = account.now;
        let mb = account.mailbox(name)?;
        let uid = mb.uidnext;
        mb.uidnext += 1;
        let modseq = mb.bump();
        for f in flags.iter().filter(|f| !f.starts_with('\\')) {
            if !mb.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                mb.keywords.push(f.to_string());
            }
        }
        let meta = MessageMeta {
            uid,
            flags: flags.clone(),
            modseq,
            size: carrier_syntax::lines::crlf_len(message) as u64,
            internal_date: date.unwrap_or(now),
            recent: false,
        };
        mb.messages.push(Message { meta, bytes: message.to_vec() });
        Ok((mb.uidvalidity, uid))
    }
}

impl Account {
    fn add_mailbox(&mut self, name: &str, special_use: &[String]) {
        let uidvalidity = self.next_uidvalidity;
        self.next_uidvalidity += 1;
        self.mailboxes.insert(
            name.to_string(),
            Mailbox {
                uidvalidity,
                uidnext: 1,
                highest_modseq: 1,
                messages: Vec::new(),
                expunged: Vec::new(),
                keywords: Vec::new(),
                special_use: special_use.to_vec(),
                recent_from: 1,
            },
        );
    }

    fn mailbox(&mut self, name: &str) -> StoreResult<&mut Mailbox> {
        self.mailboxes.get_mut(name).ok_or(StoreError::NoSuchMailbox)
    }
}

impl Mailbox {
    fn bump(&mut self) -> u64 {
        self.highest_modseq += 1;
        self.highest_modseq
    }

    /// Marks messages from `recent_from` as \Recent for this caller (RFC 3501 2.3.2).
    fn claim_recent(&mut self, read_only: bool) -> u32 {
        let from = self.recent_from;
        if !read_only {
            self.recent_from = self.uidnext;
        }
        from
    }

    fn remove(&mut self, uids: &[u32]) {
        let modseq = self.bump();
        self.messages.retain(|m| !uids.contains(&m.meta.uid));
        self.expunged.extend(uids.iter().map(|&u| (u, modseq)));
    }
}

/// \Recent from `from` on; for EXAMINE `from` was not moved, so it sees \Recent without
/// taking it (RFC 3501 6.3.2).
fn with_recent(meta: &MessageMeta, from: u32) -> MessageMeta {
    MessageMeta { recent: meta.uid >= from, ..meta.clone() }
}

fn ranges(uids: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &u in uids {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == u => *hi = u,
            _ => out.push((u, u)),
        }
    }
    out
}

impl Mailboxes for MemoryStore {
    fn list(&mut self) -> StoreResult<Vec<MailboxInfo>> {
        let account = self.lock();
        Ok(account
            .mailboxes
            .iter()
            .map(|(name, mb)| MailboxInfo { name: name.clone(), special_use: mb.special_use.clone() })
            .collect())
    }

    fn subscriptions(&mut self) -> StoreResult<Vec<String>> {
        Ok(self.lock().subscriptions.iter().cloned().collect())
    }

    fn subscribe(&mut self, name: &str, subscribe: bool) -> StoreResult<()> {
        let mut account = self.lock();
        if subscribe {
            if !account.mailboxes.contains_key(name) {
                return Err(StoreError::NoSuchMailbox);
            }
            account.subscriptions.insert(name.to_string());
        } else {
            account.subscriptions.remove(name);
        }
        Ok(())
    }

    fn create(&mut self, name: &str, special_use: &[String]) -> StoreResult<()> {
        let mut account = self.lock();
        if account.mailboxes.contains_key(name) {
            return Err(StoreError::AlreadyExists);
        }
        let mut parent = String::new();
        for (i, level) in name.split(DELIMITER).enumerate() {
            if i > 0 {
                parent.push(DELIMITER);
            }
            parent.push_str(level);
            if parent != name && !account.mailboxes.contains_key(&parent) {
                account.add_mailbox(&parent, &[]);
            }
        }
        account.add_mailbox(name, special_use);
        Ok(())
    }

    fn delete(&mut self, name: &str) -> StoreResult<()> {
        if name == "INBOX" {
            return Err(StoreError::Cannot("INBOX cannot be deleted".into()));
        }
        let mut account = self.lock();
        account.mailboxes.remove(name).map(|_| ()).ok_or(StoreError::NoSuchMailbox)
    }

    fn rename(&mut self, from: &str, to: &str) -> StoreResult<()> {
        let mut account = self.lock();
        if !account.mailboxes.contains_key(from) {
            return Err(StoreError::NoSuchMailbox);
        }
        if account.mailboxes.contains_key(to) {
            return Err(StoreError::AlreadyExists);
        }
        if from == "INBOX" {
            // RFC 3501 6.3.5: the messages move; INBOX stays, empty.
            account.add_mailbox(to, &[]);
            let inbox = account.mailbox("INBOX")?;
            let messages = inbox.messages.clone();
            let uids: Vec<u32> = messages.iter().map(|m| m.meta.uid).collect();
            inbox.remove(&uids);
            let target = account.mailbox(to)?;
            for mut m in messages {
                m.meta.uid = target.uidnext;
                target.uidnext += 1;
                target.messages.push(m);
            }
            return Ok(());
        }
        let prefix = format!("{from}{DELIMITER}");
        let names: Vec<String> =
            account.mailboxes.keys().filter(|n| *n == from || n.starts_with(&prefix)).cloned().collect();
        for old in names {
            let new = format!("{to}{}", &old[from.len()..]);
            if let Some(mb) = account.mailboxes.remove(&old) {
                account.mailboxes.insert(new, mb);
            }
        }
        Ok(())
    }

    fn status(&mut self, name: &str) -> StoreResult<MailboxStatus> {
        let mut account = self.lock();
        let mb = account.mailbox(name)?;
        let count = |f: &str| mb.messages.iter().filter(|m| m.meta.flags.contains(f)).count() as u32;
        Ok(MailboxStatus {
            messages: mb.messages.len() as u32,
            recent: mb.messages.iter().filter(|m| m.meta.uid >= mb.recent_from).count() as u32,
            uidnext: mb.uidnext,
            uidvalidity: mb.uidvalidity,
            unseen: mb.messages.len() as u32 - count(flags::SEEN),
            highest_modseq: mb.highest_modseq,
            size: mb.messages.iter().map(|m| m.meta.size).sum(),
            deleted: count(flags::DELETED),
        })
    }

    fn select(&mut self, name: &str, read_only: bool) -> StoreResult<Snapshot> {
        let mut account = self.lock();
        let mb = account.mailbox(name)?;
        let from = mb.claim_recent(read_only);
        Ok(Snapshot {
            uidvalidity: mb.uidvalidity,
            uidnext: mb.uidnext,
            highest_modseq: mb.highest_modseq,
            messages: mb.messages.iter().map(|m| with_recent(&m.meta, from)).collect(),
            keywords: mb.keywords.clone(),
        })
    }

    fn changes(&mut self, name: &str, since: u64, read_only: bool) -> StoreResult<Changes> {
        let mut account = self.lock();
        let mb = account.mailbox(name)?;
        let from = mb.claim_recent(read_only);
        let mut gone: Vec<u32> = mb.expunged.iter().filter(|&&(_, m)| m > since).map(|&(u, _)| u).collect();
        gone.sort_unstable();
        Ok(Changes {
            uidnext: mb.uidnext,
            highest_modseq: mb.highest_modseq,
            updated: mb.messages.iter().filter(|m| m.meta.modseq > since).map(|m| with_recent(&m.meta, from)).collect(),
            expunged: ranges(&gone),
        })
    }

    fn fetch(&mut self, name: &str, uid: u32) -> StoreResult<Vec<u8>> {
        let msg = self.message(name, uid)?;
        self.lock().whole_reads += 1;
        Ok(msg)
    }

    fn fetch_header(&mut self, name: &str, uid: u32) -> StoreResult<Vec<u8>> {
        let mut msg = self.message(name, uid)?;
        msg.truncate(crate::structure::header_len(&msg));
        Ok(msg)
    }

    fn store(
        &mut self,
        name: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> StoreResult<Stored> {
        let mut account = self.lock();
        let mb = account.mailbox(name)?;
        let mut out = Stored::default();
        for f in flags.iter().filter(|f| !f.starts_with('\\')) {
            if !mb.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                mb.keywords.push(f.to_string());
            }
        }
        for i in 0..mb.messages.len() {
            let meta = &mb.messages[i].meta;
            if !uids.contains(&meta.uid) {
                continue;
            }
            if unchanged_since.is_some_and(|u| meta.modseq > u) {
                out.modified.push(meta.uid);
                continue;
            }
            let mut new = meta.flags.clone();
            match op {
                FlagOp::Add => flags.iter().for_each(|f| _ = new.insert(f)),
                FlagOp::Remove => flags.iter().for_each(|f| _ = new.remove(f)),
                FlagOp::Replace => new = flags.clone(),
            }
            // RFC 7162 3.1.3: a STORE with UNCHANGEDSINCE bumps modseq even without a change.
            if !new.same(&meta.flags) || unchanged_since.is_some() {
                let modseq = mb.bump();
                let meta = &mut mb.messages[i].meta;
                meta.flags = new;
                meta.modseq = modseq;
                out.updated.push(MessageMeta { recent: false, ..meta.clone() });
            }
        }
        Ok(out)
    }

    fn expunge(&mut self, name: &str, uids: Option<&[u32]>) -> StoreResult<Vec<u32>> {
        let mut account = self.lock();
        let mb = account.mailbox(name)?;
        let gone: Vec<u32> = mb
            .messages
            .iter()
            .filter(|m| m.meta.flags.contains(flags::DELETED) && uids.is_none_or(|u| u.contains(&m.meta.uid)))
            .map(|m| m.meta.uid)
            .collect();
        if !gone.is_empty() {
            mb.remove(&gone);
        }
        Ok(gone)
    }

    fn append(&mut self, name: &str, message: &[u8], flags: &Flags, date: Option<DateTime>) -> StoreResult<(u32, u32)> {
        MemoryStore::append(self, name, message, flags, date)
    }

    fn copy(&mut self, from: &str, uids: &[u32], to: &str) -> StoreResult<Copied> {
        let mut account = self.lock();
        let source: Vec<Message> =
            account.mailbox(from)?.messages.iter().filter(|m| uids.contains(&m.meta.uid)).cloned().collect();
        let target = account.mailbox(to)?;
        let mut out = Copied { uidvalidity: target.uidvalidity, uids: Vec::new() };
        for mut m in source {
            let new_uid = target.uidnext;
            target.uidnext += 1;
            out.uids.push((m.meta.uid, new_uid));
            m.meta.uid = new_uid;
            m.meta.modseq = target.bump();
            target.messages.push(m);
        }
        Ok(out)
    }

    fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> StoreResult<Copied> {
        let copied = self.copy(from, uids, to)?;
        let moved: Vec<u32> = copied.uids.iter().map(|&(s, _)| s).collect();
        if !moved.is_empty() {
            self.lock().mailbox(from)?.remove(&moved);
        }
        Ok(copied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_goes_to_the_first_session() {
        let mut a = MemoryStore::new();
        let mut b = a.clone();
        a.deliver("INBOX", b"Subject: 1\n\nx\n");
        // EXAMINE shows \Recent without taking it (RFC 3501 6.3.2).
        assert!(b.select("INBOX", true).unwrap().messages[0].recent);
        assert!(a.select("INBOX", false).unwrap().messages[0].recent);
        assert!(!b.select("INBOX", false).unwrap().messages[0].recent);
        assert!(!b.select("INBOX", true).unwrap().messages[0].recent);
        a.deliver("INBOX", b"Subject: 2\n\nx\n");
        let ch = b.changes("INBOX", 2, false).unwrap();
        assert_eq!(ch.updated.len(), 1);
        assert!(ch.updated[0].recent);
        assert_eq!(a.status("INBOX").unwrap().recent, 0);
    }

    #[test]
    fn expunges_are_reported_after_their_modseq() {
        let mut s = MemoryStore::new();
        for _ in 0..4 {
            s.deliver("INBOX", b"\r\n");
        }
        let seen = s.status("INBOX").unwrap().highest_modseq;
        let del: Flags = ["\\Deleted"].into_iter().collect();
        s.store("INBOX", &[2, 3], FlagOp::Add, &del, None).unwrap();
        assert_eq!(s.expunge("INBOX", Some(&[3])).unwrap(), [3]);
        let ch = s.changes("INBOX", seen, true).unwrap();
        assert_eq!(ch.expunged, [(3, 3)]);
        assert_eq!(ch.updated.iter().map(|m| m.uid).collect::<Vec<_>>(), [2]);
        assert_eq!(s.expunge("INBOX", None).unwrap(), [2]);
        assert!(s.changes("INBOX", 1000, true).unwrap().expunged.is_empty());
    }

    #[test]
    fn mailbox_tree() {
        let mut s = MemoryStore::new();
        s.create("a/b/c", &[]).unwrap();
        assert_eq!(s.create("a/b", &[]), Err(StoreError::AlreadyExists));
        s.rename("a", "z").unwrap();
        let names: Vec<String> = s.list().unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["INBOX", "z", "z/b", "z/b/c"]);
        assert!(matches!(s.delete("INBOX"), Err(StoreError::Cannot(_))));
        assert_eq!(s.select("nope", false), Err(StoreError::NoSuchMailbox));
    }
}
