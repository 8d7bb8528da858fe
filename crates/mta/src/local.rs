//! The local delivery agent: one queued message into one user's Maildir, as the user's
//! mail rules ([`crate::rules`]) say: INBOX, folders, flags, or a refusal.
//!
//! Delivery is idempotent: each (message, recipient) pair has a stable Maildir name, so a
//! crash between writing the mailbox and recording the status cannot duplicate a message
//! (the store recognises its own earlier write).

use crate::outcome::{Failure, Outcome};
use crate::rules::{Copy, Plan};
use carrier_accounts::{Directory, Lookup, Route};
use carrier_smtp::trace::{self, Trace};
use carrier_spool::{Envelope, QueueId};
use carrier_store::{Delivery, Exceeded, Flag, MailboxStore, Maildir, Resource, SpecialUse};
use tracing::warn;

/// One message's local delivery: what every recipient's copies share.
pub struct Local<'a> {
    pub store: &'a Maildir,
    pub hostname: &'a str,
    pub id: &'a QueueId,
    pub env: &'a Envelope,
    /// After a restart: an earlier attempt may have stored copies already.
    pub recovering: bool,
}

impl Local<'_> {
    /// Our Received: field for recipient `index` (RFC 5321 4.4), CRLF.
    pub fn received(&self, index: usize) -> String {
        let env = self.env;
        let id_text = self.id.to_string();
        trace::received(&Trace {
            helo: &env.helo,
            client_name: &env.client_name,
            client_ip: env.client_ip,
            hostname: self.hostname,
            proto: &env.proto,
            id: &id_text,
            recipient: Some(&env.recipients[index].orig),
            time: env.received,
        })
    }

    /// Carries out `plan` for recipient `index`: stores its copies, or reports the refusal.
    /// `body` is the message with LF line ends (the script's edit replaces it).
    pub fn deliver(&self, index: usize, body: &[u8], plan: &Plan) -> Outcome {
        let address = &self.env.recipients[index].address;
        if let Some(reason) = &plan.reject {
            // RFC 5429 2.1: the sender learns of the refusal, with the user's reason, in a DSN.
            let text = format!("<{address}>: refused by the recipient's mail rules: {reason}");
            return Outcome::Failed(Failure::permanent("5.7.1", text));
        }
        if plan.copies.is_empty() {
            return Outcome::Sent("discarded by the recipient's Sieve script".into());
        }
        let edited = plan.edited.as_deref().map(carrier_syntax::lines::to_lf);
        let body = edited.as_deref().unwrap_or(body);
        let trace = format!("{}{}", trace::return_path(&self.env.sender), self.received(index)).replace("\r\n", "\n");
        let mut places = Vec::new();
        for copy in &plan.copies {
            match self.store_copy(index, &trace, body, copy) {
                Ok(place) => places.push(place),
                Err(failure) => return Outcome::Deferred(failure),
            }
        }
        places.dedup();
        match places.as_slice() {
            [place] if place == "already in mailbox" => Outcome::Sent(place.clone()),
            [place] if place == "INBOX" => Outcome::Sent("delivered to maildir".into()),
            _ => Outcome::Sent(format!("delivered to maildir folder {}", places.join(", "))),
        }
    }

    /// Stores one copy; returns the folder's name (or that it was there already).
    fn store_copy(&self, index: usize, trace: &str, body: &[u8], copy: &Copy) -> Result<String, Failure> {
        let address = &self.env.recipients[index].address;
        let account = self.store.account(address);
        let path = || self.store.path_for(address).display().to_string();
        let folder = match &copy.folder {
            Some(name) => match account.delivery_folder(name, copy.create) {
                Ok(folder) => folder,
                // RFC 5228 4.1: a fileinto that cannot be done falls back to the implicit keep.
                Err(e) => {
                    warn!("{}: sieve: <{address}>: fileinto {name:?}: {e}; kept in INBOX", self.id);
                    None
                }
            },
            // A DMARC, SPF or filter verdict sends what would go to INBOX to Junk instead;
            // the folder is made (and subscribed) as at login.
            None if self.env.junk => {
                account.prepare().map_err(|e| {
                    Failure::temporary("4.3.0", format!("cannot make the Junk folder in {}: {e}", path()))
                })?;
                Some(SpecialUse::Junk.name().to_string())
            }
            None => None,
        };
        let flags: Vec<Flag> = copy.flags.iter().filter_map(|f| Flag::parse(f).ok()).collect();
        let unique = format!("{}.{index}", self.id);
        let parts: [&[u8]; 2] = [trace.as_bytes(), body];
        let delivery = Delivery {
            user: address,
            id: &unique,
            time: self.env.received,
            parts: &parts,
            recovering: self.recovering,
            folder: folder.as_deref(),
            flags: &flags,
        };
        match self.store.deliver(&delivery) {
            Ok(done) if done.duplicate => Ok("already in mailbox".into()),
            Ok(_) => Ok(folder.unwrap_or_else(|| "INBOX".into())),
            Err(e) => Err(Failure::temporary("4.3.0", format!("cannot write to mailbox {}: {e}", path()))),
        }
    }
}

/// The share of its quota at which a mailbox's owner is told (as Dovecot's quota_warning):
/// 90 %, rounded up, so a limit of one message warns at that message.
fn warn_at(limit: u64) -> u64 {
    limit - limit / 10
}

/// When the delivery of one message of `size` octets just took `address`'s mailbox past
/// 90 % of its storage or message limit: that resource, its usage and its limit, for the
/// warning. Blocking: it adds up the mailbox's files.
pub fn quota_crossed(store: &Maildir, address: &str, size: u64) -> Option<Exceeded> {
    let account = store.account(address);
    let quota = account.quota();
    if !quota.is_limited() {
        return None;
    }
    let used = account.usage().ok()?;
    let resources =
        [(Resource::Storage, quota.storage, used.octets, size), (Resource::Messages, quota.messages, used.messages, 1)];
    resources.into_iter().find_map(|(resource, limit, used, added)| {
        let limit = limit?;
        let threshold = warn_at(limit);
        (used >= threshold && used.saturating_sub(added) < threshold).then_some(Exceeded { resource, used, limit })
    })
}

/// The warning a user gets when their mailbox passes 90 % of its quota.
pub fn quota_warning(hostname: &str, address: &str, crossed: Exceeded, now: std::time::SystemTime) -> Vec<u8> {
    let Exceeded { resource, used, limit } = crossed;
    let percent = used * 100 / limit.max(1);
    let holds = match resource {
        Resource::Storage => format!("{} of the {}", human_size(used), human_size(limit)),
        Resource::Messages => format!("{used} of the {limit} messages"),
    };
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\nTo: <{address}>\r\n\
         Subject: Your mailbox is {percent}% full\r\nDate: {date}\r\nAuto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         Your mailbox {address} holds {holds} it may hold ({percent}%).\r\n\r\n\
         When it is full, new mail for you is refused (\"Mailbox full\") and its senders are told.\r\n\
         Delete or move the messages you no longer need, and empty the Trash folder.\r\n",
        date = trace::rfc5322_date(now),
    )
    .into_bytes()
}

/// A size as people read it: "950 octets", "2.0 MiB".
fn human_size(n: u64) -> String {
    match n {
        0..1024 => format!("{n} octets"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.1} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// True when `address` (a queued local recipient) is a mailbox: an account, or one the
/// directory delivers to (postmaster). An account deleted while mail for it waited in the
/// queue, or a local submission to a name nobody has, is not.
pub fn mailbox_exists(dir: &Directory, address: &str) -> bool {
    dir.users().contains(address)
        || matches!(dir.resolve(address), Lookup::Deliver(routes) if routes.contains(&Route::Mailbox(address.to_string())))
}

/// The outcome for a recipient without a mailbox: bounced, as Postfix's local(8) does.
pub fn unknown(address: &str) -> Outcome {
    Outcome::Failed(Failure::permanent("5.1.1", format!("<{address}>: User unknown in local recipient table")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use carrier_store::Quota;
    use std::time::SystemTime;

    #[test]
    fn the_warning_comes_once_when_a_delivery_passes_90_percent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Maildir::new(dir.path().to_path_buf(), "mx.example.com")
            .with_quota(Quota { storage: Some(1000), messages: Some(20) });
        let put = |id: &str, size: usize| {
            let body = vec![b'x'; size];
            let parts: [&[u8]; 1] = [&body];
            let d = Delivery {
                user: "bob@example.com",
                id,
                time: SystemTime::now(),
                parts: &parts,
                recovering: false,
                folder: None,
                flags: &[],
            };
            store.deliver(&d).unwrap();
            size as u64
        };
        let size = put("a", 500);
        assert_eq!(quota_crossed(&store, "bob@example.com", size), None);
        let size = put("b", 450);
        let crossed = Exceeded { resource: Resource::Storage, used: 950, limit: 1000 };
        assert_eq!(quota_crossed(&store, "bob@example.com", size), Some(crossed));
        let size = put("c", 10);
        assert_eq!(quota_crossed(&store, "bob@example.com", size), None, "already past: no second warning");
        let text =
            String::from_utf8(quota_warning("mx.example.com", "bob@example.com", crossed, SystemTime::now())).unwrap();
        assert!(
            text.contains("Subject: Your mailbox is 95% full\r\n") && text.contains("Auto-Submitted: auto-generated"),
            "{text}"
        );
        assert!(text.contains("holds 950 octets of the 1000 octets it may hold (95%)"), "{text}");
        assert_eq!(human_size(5 * 1_048_576 + 104_858), "5.1 MiB");
        // The message count has its own 90 %: the 18th of 20 messages.
        let counted = store.clone().with_quota(Quota { storage: None, messages: Some(20) });
        let mut crossed = None;
        for n in 4..=18 {
            crossed = quota_crossed(&counted, "bob@example.com", put(&n.to_string(), 1));
            assert_eq!(crossed.is_some(), n == 18, "message {n}");
        }
        let crossed = crossed.unwrap();
        assert_eq!((crossed.resource, crossed.used, crossed.limit), (Resource::Messages, 18, 20));
        let text =
            String::from_utf8(quota_warning("mx.example.com", "bob@example.com", crossed, SystemTime::now())).unwrap();
        assert!(text.contains("holds 18 of the 20 messages it may hold (90%)"), "{text}");
    }
}
