//! Who may send what to whom: the checks at MAIL and RCPT time (local domains, relay control,
//! quotas, sender ownership) and the expansion of an accepted recipient.

use carrier_accounts::{Directory, Lookup, Route};
use carrier_config::Config;
use carrier_smtp::{Mailbox, Reply, headers};
use carrier_store::Maildir;
use std::net::IpAddr;

/// What a recipient resolved to at RCPT time. `authenticated` clients may relay.
pub fn check_recipient(
    cfg: &Config,
    dir: &Directory,
    client: IpAddr,
    authenticated: bool,
    to: &Mailbox,
) -> Result<(), Reply> {
    let address = rcpt_address(cfg, to);
    match dir.resolve(&address) {
        Lookup::Deliver(_) => Ok(()),
        Lookup::UnknownUser => Err(Reply::new(550, "5.1.1", format!("<{address}>: User unknown"))),
        // RFC 3463 X.4.6: routing loop detected.
        Lookup::Loop(chain) => Err(Reply::new(550, "5.4.6", format!("<{address}>: {chain}"))),
        Lookup::NotLocal if authenticated || cfg.relay_allowed(client) => Ok(()),
        // No open relay, ever: only relay networks and authenticated users (RFC 5321 3.6.2).
        Lookup::NotLocal => Err(Reply::new(550, "5.7.1", format!("<{address}>: Relaying denied"))),
    }
}

/// The address to look up: `<postmaster>` alone means postmaster at our host name (RFC 5321 4.1.1.3).
pub fn rcpt_address(cfg: &Config, to: &Mailbox) -> String {
    if to.domain.is_empty() { format!("{}@{}", to.local, cfg.hostname) } else { to.address() }
}

/// The local mailboxes an accepted recipient delivers to (none for a remote address).
pub fn local_mailboxes(cfg: &Config, dir: &Directory, to: &Mailbox) -> Vec<String> {
    match dir.resolve(&rcpt_address(cfg, to)) {
        Lookup::Deliver(routes) => {
            routes.into_iter().filter_map(|r| if let Route::Mailbox(m) = r { Some(m) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

/// Issue 5 quotas at RCPT time: refused only when every local mailbox of the recipient is
/// full (one full member does not stop a list). `declared` is MAIL FROM's SIZE (RFC 1870).
/// Blocking: it lists the mailboxes' directories.
pub fn check_quota(store: &Maildir, address: &str, mailboxes: &[String], declared: Option<u64>) -> Result<(), Reply> {
    let Some(limit) = store.quota() else { return Ok(()) };
    let size = declared.unwrap_or(0);
    if size > limit {
        // RFC 3463 5.2.2: mailbox full, permanently for a message this large.
        return Err(Reply::new(
            552,
            "5.2.2",
            format!("<{address}>: Message too large for the recipient's mailbox (limit {limit} octets)"),
        ));
    }
    let mut refusal = None;
    for mailbox in mailboxes {
        match store.account(mailbox).usage() {
            Ok(used) if used.saturating_add(size) > limit || used >= limit => {
                // RFC 3463 4.2.2: mailbox full; the sender retries, the user may make room.
                refusal = Some(Reply::new(452, "4.2.2", format!("<{address}>: Mailbox full, try again later")));
            }
            // An unreadable mailbox is delivery's problem (it defers); the quota does not refuse.
            _ => return Ok(()),
        }
    }
    refusal.map_or(Ok(()), Err)
}

/// One final destination of an accepted recipient.
pub struct Target {
    /// Mailbox (local) or address (remote).
    pub address: String,
    /// True for a local mailbox.
    pub local: bool,
}

/// Expands an accepted recipient into its final destinations for the spool. The alias table
/// may have changed since RCPT; an address that no longer resolves yields nothing.
pub fn expand(cfg: &Config, dir: &Directory, rcpt: &str) -> Vec<Target> {
    let address = if rcpt.contains('@') { rcpt.to_string() } else { format!("{rcpt}@{}", cfg.hostname) };
    match dir.resolve(&address) {
        Lookup::Deliver(routes) => routes
            .into_iter()
            .map(|r| match r {
                Route::Mailbox(m) => Target { address: m, local: true },
                Route::Remote(a) => Target { address: a, local: false },
            })
            .collect(),
        Lookup::NotLocal => vec![Target { address, local: false }],
        Lookup::UnknownUser | Lookup::Loop(_) => Vec::new(),
    }
}

/// True when `user` may use `address` as a sender: it is the user's own address, or one
/// that is delivered to the user (an alias or subaddress), or the user may send as anyone.
pub fn owns(cfg: &Config, dir: &Directory, user: &str, address: &str) -> bool {
    let address = carrier_accounts::address::normalize(address);
    address == user
        || cfg.submission.any_sender.iter().any(|u| u.eq_ignore_ascii_case(user))
        || matches!(dir.resolve(&address), Lookup::Deliver(routes) if routes.contains(&Route::Mailbox(user.to_string())))
}

/// MAIL FROM on an authenticated session (the null sender is allowed for notifications).
pub fn check_sender(cfg: &Config, dir: &Directory, user: &str, from: &str) -> Result<(), Reply> {
    if from.is_empty() || owns(cfg, dir, user, from) {
        return Ok(());
    }
    Err(Reply::new(553, "5.7.1", format!("Sender address <{from}> is not owned by user {user}")))
}

/// The From: header of a submitted message must name the user's addresses too. After DATA the
/// refusal is 550 (RFC 5321 4.3.2 lists no 553 there).
pub fn check_from_header(cfg: &Config, dir: &Directory, user: &str, fields: &[(String, String)]) -> Result<(), Reply> {
    let from = fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case("From")).flat_map(|(_, v)| headers::addresses(v));
    for address in from {
        if !owns(cfg, dir, user, &address) {
            return Err(Reply::new(
                550,
                "5.7.1",
                format!("From: header address <{address}> is not owned by user {user}"),
            ));
        }
    }
    Ok(())
}
