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
