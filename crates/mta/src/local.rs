//! The local delivery agent: one queued message into one user's Maildir.
//!
//! Delivery is idempotent: each (message, recipient) pair has a stable Maildir name, so a
//! crash between writing the mailbox and recording the status cannot duplicate a message
//! (the store recognises its own earlier write).

use crate::outcome::{Failure, Outcome};
use carrier_accounts::{Directory, Lookup, Route};
use carrier_smtp::trace::{self, Trace};
use carrier_spool::{Envelope, QueueId};
use carrier_store::{Delivery, MailboxStore, Maildir, SpecialUse};

/// Writes the message for recipient `index`. `body` has LF line ends already.
pub fn deliver(
    store: &Maildir,
    hostname: &str,
    id: &QueueId,
    env: &Envelope,
    index: usize,
    body: &[u8],
    recovering: bool,
) -> Outcome {
    let rcpt = &env.recipients[index];
    let id_text = id.to_string();
    let return_path = trace::return_path(&env.sender).replace("\r\n", "\n");
    let received = trace::received(&Trace {
        helo: &env.helo,
        client_name: &env.client_name,
        client_ip: env.client_ip,
        hostname,
        proto: &env.proto,
        id: &id_text,
        recipient: Some(&rcpt.orig),
        time: env.received,
    })
    .replace("\r\n", "\n");
    let unique = format!("{id}.{index}");
    let parts: [&[u8]; 3] = [return_path.as_bytes(), received.as_bytes(), body];
    // A DMARC or SPF verdict sends it to Junk; the folder is made (and subscribed) as at login.
    let folder = env.junk.then_some(SpecialUse::Junk.name());
    if folder.is_some()
        && let Err(e) = store.account(&rcpt.address).prepare()
    {
        let path = store.path_for(&rcpt.address);
        return Outcome::Deferred(Failure::temporary(
            "4.3.0",
            format!("cannot make the Junk folder in {}: {e}", path.display()),
        ));
    }
    let delivery = Delivery { user: &rcpt.address, id: &unique, time: env.received, parts: &parts, recovering, folder };
    match store.deliver(&delivery) {
        Ok(done) if done.duplicate => Outcome::Sent("already in mailbox".into()),
        Ok(_) if folder.is_some() => Outcome::Sent("delivered to maildir folder Junk".into()),
        Ok(_) => Outcome::Sent("delivered to maildir".into()),
        Err(e) => Outcome::Deferred(Failure::temporary(
            "4.3.0",
            format!("cannot write to mailbox {}: {e}", store.path_for(&rcpt.address).display()),
        )),
    }
}

/// The share of its quota at which a mailbox's owner is told (as Dovecot's quota_warning).
const WARN_AT: f64 = 0.9;

/// When the delivery of `size` octets just took `address`'s mailbox past 90 % of its quota:
/// (usage, limit) for the warning. Blocking: it adds up the mailbox's files.
pub fn quota_crossed(store: &Maildir, address: &str, size: u64) -> Option<(u64, u64)> {
    let limit = store.quota()?;
    let used = store.account(address).usage().ok()?;
    let threshold = (limit as f64 * WARN_AT) as u64;
    (used >= threshold && used.saturating_sub(size) < threshold).then_some((used, limit))
}

/// The warning a user gets when their mailbox passes 90 % of its quota.
pub fn quota_warning(hostname: &str, address: &str, used: u64, limit: u64, now: std::time::SystemTime) -> Vec<u8> {
    let percent = used * 100 / limit.max(1);
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\nTo: <{address}>\r\n\
         Subject: Your mailbox is {percent}% full\r\nDate: {date}\r\nAuto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         Your mailbox {address} holds {used_kib} KiB of the {limit_kib} KiB it may hold ({percent}%).\r\n\r\n\
         When it is full, new mail for you is refused (\"Mailbox full\") and its senders are told.\r\n\
         Delete or move the messages you no longer need, and empty the Trash folder.\r\n",
        date = trace::rfc5322_date(now),
        used_kib = used.div_ceil(1024),
        limit_kib = limit / 1024,
    )
    .into_bytes()
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
    use std::time::SystemTime;

    #[test]
    fn the_warning_comes_once_when_a_delivery_passes_90_percent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Maildir::new(dir.path().to_path_buf(), "mx.example.com").with_quota(Some(1000));
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
            };
            store.deliver(&d).unwrap();
            size as u64
        };
        let size = put("a", 500);
        assert_eq!(quota_crossed(&store, "bob@example.com", size), None);
        let size = put("b", 450);
        assert_eq!(quota_crossed(&store, "bob@example.com", size), Some((950, 1000)));
        let size = put("c", 10);
        assert_eq!(quota_crossed(&store, "bob@example.com", size), None, "already past: no second warning");
        let text = String::from_utf8(quota_warning("mx.example.com", "bob@example.com", 950, 1000, SystemTime::now()))
            .unwrap();
        assert!(
            text.contains("Subject: Your mailbox is 95% full\r\n") && text.contains("Auto-Submitted: auto-generated"),
            "{text}"
        );
    }
}
