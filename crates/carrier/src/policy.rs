//! Who may send what to whom: the checks at RCPT time (DESIGN §1.4, §4).

use carrier_accounts::{Directory, Lookup, Route};
use carrier_config::Config;
use carrier_smtp::{Mailbox, Reply};
use std::net::IpAddr;

/// What a recipient resolved to at RCPT time.
pub fn check_recipient(cfg: &Config, dir: &Directory, client: IpAddr, to: &Mailbox) -> Result<(), Reply> {
    let address = rcpt_address(cfg, to);
    match dir.resolve(&address) {
        Lookup::Deliver(_) => Ok(()),
        Lookup::UnknownUser => Err(Reply::new(550, "5.1.1", format!("<{address}>: User unknown"))),
        // RFC 3463 X.4.6: routing loop detected.
        Lookup::Loop(chain) => Err(Reply::new(550, "5.4.6", format!("<{address}>: {chain}"))),
        Lookup::NotLocal if cfg.relay_allowed(client) => Ok(()),
        // No open relay, ever (DESIGN §4).
        Lookup::NotLocal => Err(Reply::new(550, "5.7.1", format!("<{address}>: Relaying denied"))),
    }
}

/// The address to look up: `<postmaster>` alone means postmaster at our host name (RFC 5321 4.1.1.3).
pub fn rcpt_address(cfg: &Config, to: &Mailbox) -> String {
    if to.domain.is_empty() { format!("{}@{}", to.local, cfg.hostname) } else { to.address() }
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
