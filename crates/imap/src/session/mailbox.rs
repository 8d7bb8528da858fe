//! Mailbox commands of the Authenticated state: CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
//! LIST (RFC 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS), LSUB,
//! STATUS and APPEND.

use super::engine::Session;
use super::view::client_flags;
use crate::backend::{DELIMITER, MailboxInfo, MailboxStatus, Mailboxes, QuotaResource, QuotaUse, StoreError};
use crate::datetime::DateTime;
use crate::parser::{ListArgs, StatusItem};
use crate::response::{self, Status};
use std::collections::BTreeMap;

/// RFC 6154 2 attributes.
const SPECIAL_USE: [&str; 7] = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"];

/// Whether a name is usable: not empty, no empty level, no control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.split(DELIMITER).any(str::is_empty) && !name.chars().any(char::is_control)
}

/// `*` matches anything, `%` anything but the delimiter (RFC 3501 6.3.8).
pub(super) fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // matches[j]: whether p[..i] matches n[..j], row by row (linear memory, no backtracking).
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            next[j] = match pc {
                '*' => row[j] || (j > 0 && next[j - 1]),
                '%' => row[j] || (j > 0 && next[j - 1] && n[j - 1] != DELIMITER),
                c => j > 0 && row[j - 1] && n[j - 1] == c,
            };
        }
        row = next;
    }
    row[n.len()]
}

/// The reference and pattern as one pattern; `INBOX` is case-insensitive (RFC 3501 5.1).
fn canonical_pattern(reference: &str, pattern: &str) -> String {
    let full = format!("{reference}{pattern}");
    match full.get(..5) {
        Some(head) if head.eq_ignore_ascii_case("INBOX") && matches!(full[5..].chars().next(), None | Some('/')) => {
            format!("INBOX{}", &full[5..])
        }
        _ => full,
    }
}

/// Whether `name` has a subscribed descendant that no pattern matches: only then do LSUB
/// (RFC 3501 6.3.9, `\Noselect`) and RECURSIVEMATCH (RFC 5258 3.5, CHILDINFO) mention the
/// parent for it; a descendant that matches is listed itself.
fn unlisted_subscribed_child(map: &BTreeMap<String, Entry>, name: &str, patterns: &[String]) -> bool {
    let prefix = format!("{name}{DELIMITER}");
    map.range(prefix.clone()..)
        .take_while(|(n, _)| n.starts_with(&prefix))
        .any(|(n, e)| e.subscribed && !patterns.iter().any(|p| pattern_matches(p, n)))
}

struct Entry {
    exists: bool,
    special_use: Vec<String>,
    subscribed: bool,
    children: bool,
    subscribed_child: bool,
}

impl<M: Mailboxes> Session<M> {
    fn backend_call<T>(
        &mut self,
        tag: &str,
        trycreate: bool,
        f: impl FnOnce(&mut M) -> Result<T, StoreError>,
    ) -> Option<T> {
        let backend = self.backend.as_mut()?;
        match f(backend) {
            Ok(v) => Some(v),
            Err(e) => {
                self.store_error(tag, &e, trycreate);
                None
            }
        }
    }

    pub(super) fn create(&mut self, tag: &str, name: &str, special_use: &[String]) -> bool {
        // RFC 3501 6.3.3: a trailing delimiter declares intent to create children.
        let name = name.strip_suffix(DELIMITER).unwrap_or(name);
        if name == "INBOX" {
            self.no(tag, Some("ALREADYEXISTS"), "INBOX always exists");
            return false;
        }
        if !valid_name(name) {
            self.no(tag, Some("CANNOT"), "Invalid mailbox name: empty level or control character");
            return false;
        }
        if let Some(bad) = special_use.iter().find(|u| !SPECIAL_USE.iter().any(|s| s.eq_ignore_ascii_case(u))) {
            // RFC 6154 3: USEATTR for attributes we cannot give.
            self.no(tag, Some("USEATTR"), &format!("Unknown special-use attribute {bad}"));
            return false;
        }
        self.backend_call(tag, false, |b| b.create(name, special_use)).is_some()
    }

    pub(super) fn delete(&mut self, tag: &str, name: &str) -> bool {
        if name == "INBOX" {
            self.no(tag, Some("CANNOT"), "INBOX cannot be deleted");
            return false;
        }
        if self.selected.as_ref().is_some_and(|s| s.name == name) {
            self.selected = None;
        }
        self.backend_call(tag, false, |b| b.delete(name)).is_some()
    }

    pub(super) fn rename(&mut self, tag: &str, from: &str, to: &str) -> bool {
        if to == "INBOX" {
            self.no(tag, Some("ALREADYEXISTS"), "INBOX always exists");
            return false;
        }
        if !valid_name(to) {
            self.no(tag, Some("CANNOT"), "Invalid mailbox name: empty level or control character");
            return false;
        }
        self.backend_call(tag, false, |b| b.rename(from, to)).is_some()
    }

    pub(super) fn subscribe(&mut self, tag: &str, name: &str, on: bool) -> bool {
        self.backend_call(tag, false, |b| b.subscribe(name, on)).is_some()
    }

    /// Every name the listing may show: existing mailboxes, their missing parents, and
    /// subscriptions, with what LIST needs to know of each.
    fn entries(&mut self, tag: &str) -> Option<BTreeMap<String, Entry>> {
        let (list, subs) = self.backend_call(tag, false, |b| Ok((b.list()?, b.subscriptions()?)))?;
        let mut map: BTreeMap<String, Entry> = BTreeMap::new();
        let blank = || Entry {
            exists: false,
            special_use: vec![],
            subscribed: false,
            children: false,
            subscribed_child: false,
        };
        for MailboxInfo { name, special_use } in list {
            let e = map.entry(name).or_insert_with(blank);
            e.exists = true;
            e.special_use = special_use;
        }
        for name in subs {
            map.entry(name).or_insert_with(blank).subscribed = true;
        }
        let names: Vec<(String, bool, bool)> = map.iter().map(|(n, e)| (n.clone(), e.exists, e.subscribed)).collect();
        for (name, exists, subscribed) in names {
            let mut parent = name.as_str();
            while let Some((p, _)) = parent.rsplit_once(DELIMITER) {
                let e = map.entry(p.to_string()).or_insert_with(blank);
                e.children |= exists;
                e.subscribed_child |= subscribed;
                parent = p;
            }
        }
        Some(map)
    }

    pub(super) fn list(&mut self, tag: &str, args: &ListArgs) -> bool {
        // RFC 3501 6.3.8: an empty pattern asks for the delimiter.
        if !args.extended && args.patterns.iter().all(String::is_empty) {
            self.out.extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
            return true;
        }
        let Some(map) = self.entries(tag) else { return false };
        let patterns: Vec<String> = args.patterns.iter().map(|p| canonical_pattern(&args.reference, p)).collect();
        let mut status_for = Vec::new();
        for (name, e) in &map {
            if !patterns.iter().any(|p| pattern_matches(p, name)) {
                continue;
            }
            let mut childinfo = false;
            if args.select_subscribed {
                // RFC 5258 3.5: RECURSIVEMATCH also lists parents of subscribed children.
                childinfo = args.recursive_match
                    && !e.subscribed
                    && e.subscribed_child
                    && unlisted_subscribed_child(&map, name, &patterns);
                if !e.subscribed && !childinfo {
                    continue;
                }
            } else if args.select_special_use && e.special_use.is_empty() {
                continue;
            } else if !e.exists && !e.children {
                // A subscription to a mailbox that is gone: LSUB territory, not LIST.
                continue;
            }
            let mut attrs: Vec<&str> = Vec::new();
            if !e.exists {
                attrs.push(if args.extended { "\\NonExistent" } else { "\\Noselect" });
            }
            attrs.push(if e.children { "\\HasChildren" } else { "\\HasNoChildren" });
            if e.subscribed && (args.return_subscribed || args.select_subscribed) {
                attrs.push("\\Subscribed");
            }
            attrs.extend(e.special_use.iter().map(String::as_str));
            self.out.extend_from_slice(b"* LIST ");
            response::atom_list(&mut self.out, attrs);
            self.out.extend_from_slice(b" \"/\" ");
            response::mailbox(&mut self.out, name);
            if childinfo {
                self.out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            self.out.extend_from_slice(b"\r\n");
            if e.exists {
                status_for.push(name.clone());
            }
        }
        // RFC 5819: one STATUS per selectable mailbox listed; failures are left out.
        if let Some(items) = &args.return_status {
            for name in status_for {
                if let Some(Ok(st)) = self.backend.as_mut().map(|b| b.status(&name)) {
                    self.status_line(&name, items, &st);
                }
            }
        }
        true
    }

    pub(super) fn lsub(&mut self, tag: &str, reference: &str, pattern: &str) -> bool {
        let Some(map) = self.entries(tag) else { return false };
        let pattern = canonical_pattern(reference, pattern);
        let patterns = [pattern];
        for (name, e) in &map {
            if !pattern_matches(&patterns[0], name) {
                continue;
            }
            let parent_only = !e.subscribed && e.subscribed_child && unlisted_subscribed_child(&map, name, &patterns);
            if e.subscribed || parent_only {
                let attrs: &[&str] = if e.exists && !parent_only { &[] } else { &["\\Noselect"] };
                self.out.extend_from_slice(b"* LSUB ");
                response::atom_list(&mut self.out, attrs.iter().copied());
                self.out.extend_from_slice(b" \"/\" ");
                response::mailbox(&mut self.out, name);
                self.out.extend_from_slice(b"\r\n");
            }
        }
        true
    }

    /// RFC 9208 4.3: the quota roots of a mailbox: one, "", for all the user's mailboxes,
    /// when there is a limit.
    pub(super) fn quota_root(&mut self, tag: &str, name: &str) -> bool {
        // The mailbox must exist (its STATUS says so, or the store's error does).
        if self.backend_call(tag, false, |b| b.status(name)).is_none() {
            return false;
        }
        let Some(quota) = self.backend_call(tag, false, |b| b.quota()) else { return false };
        self.out.extend_from_slice(b"* QUOTAROOT ");
        response::mailbox(&mut self.out, name);
        if quota.is_empty() {
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.out.extend_from_slice(b" \"\"\r\n");
            self.quota_line(&quota);
        }
        true
    }

    /// RFC 9208 4.2: the usage and limit of a quota root.
    pub(super) fn quota(&mut self, tag: &str, root: &str) -> bool {
        let Some(quota) = self.backend_call(tag, false, |b| b.quota()) else { return false };
        if quota.is_empty() || !root.is_empty() {
            self.no(tag, Some("NONEXISTENT"), "No such quota root");
            return false;
        }
        self.quota_line(&quota);
        true
    }

    /// RFC 9208 4.2.1: `* QUOTA root (resource usage limit ...)`.
    fn quota_line(&mut self, quota: &[QuotaUse]) {
        let resources: Vec<String> = quota
            .iter()
            .map(|q| match q.resource {
                // RFC 9208 5.1: STORAGE counts units of 1024 octets; usage is rounded up.
                QuotaResource::Storage => format!("STORAGE {} {}", q.used.div_ceil(1024), q.limit / 1024),
                QuotaResource::Message => format!("MESSAGE {} {}", q.used, q.limit),
            })
            .collect();
        let line = format!("* QUOTA \"\" ({})\r\n", resources.join(" "));
        self.out.extend_from_slice(line.as_bytes());
    }

    pub(super) fn status_cmd(&mut self, tag: &str, name: &str, items: &[StatusItem]) -> bool {
        self.enable_condstore(items.contains(&StatusItem::HighestModSeq));
        let Some(st) = self.backend_call(tag, false, |b| b.status(name)) else { return false };
        self.status_line(name, items, &st);
        true
    }

    fn status_line(&mut self, name: &str, items: &[StatusItem], st: &MailboxStatus) {
        let out = &mut self.out;
        out.extend_from_slice(b"* STATUS ");
        response::mailbox(out, name);
        let values: Vec<String> = items
            .iter()
            .map(|item| match item {
                StatusItem::Messages => format!("MESSAGES {}", st.messages),
                StatusItem::Recent => format!("RECENT {}", st.recent),
                StatusItem::UidNext => format!("UIDNEXT {}", st.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", st.uidvalidity),
                StatusItem::Unseen => format!("UNSEEN {}", st.unseen),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", st.highest_modseq),
                StatusItem::Size => format!("SIZE {}", st.size),
                StatusItem::Deleted => format!("DELETED {}", st.deleted),
            })
            .collect();
        out.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
    }

    pub(super) fn append(
        &mut self,
        tag: &str,
        name: &str,
        flags: &[String],
        date: Option<DateTime>,
        message: &[u8],
    ) -> bool {
        let flags = match client_flags(flags) {
            Ok(f) => f,
            Err(why) => {
                self.bad(Some(tag), &why);
                return false;
            }
        };
        let Some((uidvalidity, uid)) = self.backend_call(tag, true, |b| b.append(name, message, &flags, date)) else {
            return false;
        };
        self.sync(true);
        // RFC 4315 3: APPENDUID.
        self.status(tag, Status::Ok, Some(&format!("APPENDUID {uidvalidity} {uid}")), "APPEND completed");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("*", "a/b/c"));
        assert!(pattern_matches("%", "abc") && !pattern_matches("%", "a/b"));
        assert!(pattern_matches("a/%", "a/b") && !pattern_matches("a/%", "a/b/c"));
        assert!(pattern_matches("a*c", "a/b/c") && !pattern_matches("a%c", "a/b/c"));
        assert!(pattern_matches("", "") && !pattern_matches("", "a"));
        assert!(pattern_matches(&canonical_pattern("", "inbox"), "INBOX"));
        assert!(pattern_matches(&canonical_pattern("InBox/", "%"), "INBOX/x"));
        assert!(!pattern_matches(&canonical_pattern("", "inboxes"), "INBOXES"));
        let long = "*".repeat(200) + "x";
        assert!(!pattern_matches(&long, &"a".repeat(300)));
    }
}
