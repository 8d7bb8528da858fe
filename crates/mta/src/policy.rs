//! Who may send what to whom: the checks at MAIL and RCPT time (local domains, relay control,
//! quotas, sender ownership) and the expansion of an accepted recipient.

use carrier_accounts::{Directory, Lookup, Route};
use carrier_config::Config;
use carrier_smtp::headers::{self, Line};
use carrier_smtp::{Mailbox, Reply};
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

/// Quotas at RCPT time: refused only when every local mailbox of the recipient is full (one
/// full member does not stop a list). `declared` is MAIL FROM's SIZE (RFC 1870). Each
/// mailbox has its owner's limits. Blocking: it lists the mailboxes' directories.
pub fn check_quota(store: &Maildir, address: &str, mailboxes: &[String], declared: Option<u64>) -> Result<(), Reply> {
    let size = declared.unwrap_or(0);
    let mut refusal = None;
    for mailbox in mailboxes {
        let account = store.account(mailbox);
        let quota = account.quota();
        if let Some(limit) = quota.storage.filter(|&l| size > l) {
            // RFC 3463 5.2.2: mailbox full, permanently for a message this large.
            refusal = Some(Reply::new(
                552,
                "5.2.2",
                format!("<{address}>: Message too large for the recipient's mailbox (limit {limit} octets)"),
            ));
            continue;
        }
        if !quota.is_limited() {
            return Ok(());
        }
        match account.usage() {
            // A mailbox at its limit takes nothing more, even of unknown size.
            Ok(used) if quota.exceeded(used, size.max(1), 1).is_some() => {
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

/// Who a submitted message says wrote it (RFC 5322 3.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// From: and any Sender: name only addresses the user may use.
    Owned,
    /// There is no From: field; the submission adds one naming the user.
    Missing,
}

/// The From: and Sender: fields of a message from an authenticated user must name exactly
/// addresses the user may use, read with a real RFC 5322 parser (quoted strings, comments,
/// groups, encoded words), so no quoting trick can show another user's address to the
/// recipient. What cannot be read that way is refused. After DATA the refusal is 550 (RFC
/// 5321 4.3.2 lists no 553 there).
pub fn check_author(cfg: &Config, dir: &Directory, user: &str, message: &[u8]) -> Result<Author, Reply> {
    let fields = header_fields(message)?;
    let named = |n: &'static str| fields.iter().filter(move |(name, _)| name.eq_ignore_ascii_case(n));
    // RFC 5322 3.6: From: occurs exactly once, Sender: at most once.
    for (field, most) in [("From", 1), ("Sender", 1)] {
        if named(field).count() > most {
            return Err(Reply::new(550, "5.6.0", format!("The message has more than one {field}: field")));
        }
    }
    if named("From").next().is_none() {
        return Ok(Author::Missing);
    }
    for (field, value) in named("From").chain(named("Sender")) {
        let addresses = mailbox_list(value)
            .ok_or_else(|| Reply::new(550, "5.6.0", format!("The {field}: field names no address that can be read")))?;
        if let Some(address) = addresses.iter().find(|a| !owns(cfg, dir, user, a)) {
            return Err(Reply::new(
                550,
                "5.7.1",
                format!("{field}: header address <{address}> is not owned by user {user}"),
            ));
        }
    }
    Ok(Author::Owned)
}

/// The header section's fields as (name, value with its folding). A line that is neither a
/// field nor the continuation of one is refused: readers disagree on where such a header
/// ends, so a From: after it could be shown or not.
fn header_fields(message: &[u8]) -> Result<Vec<(String, String)>, Reply> {
    let not_a_field = |n: usize| {
        let text = format!("Line {n} of the header is not a header field; end the header with an empty line");
        Reply::new(550, "5.6.0", text)
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for (n, line) in headers::lines(message) {
        match line {
            // RFC 5322 2.2 and 3.6.8: field-name is printable ASCII except the colon.
            Line::Field(name, value) if !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b)) => {
                fields.push((name, value))
            }
            // RFC 5322 2.2.3: folding continues the field above.
            Line::Folded(text) => match fields.last_mut() {
                Some((_, value)) => {
                    value.push_str("\r\n");
                    value.push_str(&text);
                }
                None => return Err(not_a_field(n)),
            },
            Line::Field(..) | Line::Other => return Err(not_a_field(n)),
        }
    }
    Ok(fields)
}

/// The addr-specs of a mailbox-list or group (RFC 5322 3.4), or None when any member has no
/// readable `local@domain` address or there is none at all.
fn mailbox_list(value: &str) -> Option<Vec<String>> {
    let field = format!("From:{value}\r\n\r\n");
    let message = mail_parser::MessageParser::new().parse_headers(field.as_bytes())?;
    let members: Vec<&mail_parser::Addr> = match message.from()? {
        mail_parser::Address::List(list) => list.iter().collect(),
        mail_parser::Address::Group(groups) => groups.iter().flat_map(|g| &g.addresses).collect(),
    };
    let addresses: Option<Vec<String>> = members
        .iter()
        .map(|m| {
            let address = m.address.as_deref()?;
            let (local, domain) = address.rsplit_once('@')?;
            (!local.is_empty() && !domain.is_empty() && !address.contains(char::is_whitespace))
                .then(|| address.to_string())
        })
        .collect();
    addresses.filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use carrier_accounts::UserDb;

    /// alice and bob have accounts at example.test; the user is alice.
    fn check(header: &str) -> Result<Author, Reply> {
        let data = tempfile::tempdir().unwrap();
        let cheap = argon2::Params::new(8, 1, 1, None).unwrap();
        let mut users = UserDb::open_with(data.path(), cheap).unwrap();
        users.add("alice@example.test", "pw").unwrap();
        users.add("bob@example.test", "pw").unwrap();
        let dir = Directory::new(vec!["example.test".into()], users, None);
        let mut cfg = Config::development();
        cfg.domains = vec!["example.test".into()];
        let message = format!("{header}\r\nSubject: s\r\n\r\nbody\r\n");
        check_author(&cfg, &dir, "alice@example.test", message.as_bytes())
    }

    fn refused(header: &str) -> (u16, &'static str) {
        let reply = check(header).expect_err(header);
        (reply.code, reply.status.unwrap())
    }

    #[test]
    fn quoting_and_comments_cannot_hide_another_users_address() {
        // Each of these shows bob's address to the recipient (found by independent testing).
        for header in [
            r#"From: "\"" <bob@example.test>"#,
            r#"From: "a\"<alice@example.test>" <bob@example.test>"#,
            r#"From: (a\) <alice@example.test>) bob@example.test"#,
            "From: =?utf-8?q?alice=40example.test?= <bob@example.test>",
            "From: Alice <alice@example.test>, bob@example.test",
            "From: team: alice@example.test, bob@example.test;",
            "From: Alice\r\n <bob@example.test>",
            "From: alice@example.test\r\nSender: bob@example.test",
        ] {
            assert_eq!(refused(header), (550, "5.7.1"), "{header}");
        }
    }

    #[test]
    fn what_names_no_readable_address_is_refused() {
        for header in [
            "From: alice",
            "From: <>",
            "From: undisclosed-recipients:;",
            "From: alice@",
            // obs-local-part with spaces: the parser keeps them, and such an address is refused.
            "From: bob @ example.test",
            "From: Alice <alice@example.test>\r\nFrom: Alice <alice@example.test>",
            "a line that is no field\r\nFrom: bob@example.test",
            " folded before any field\r\nFrom: alice@example.test",
        ] {
            assert_eq!(refused(header), (550, "5.6.0"), "{header}");
        }
    }

    #[test]
    fn the_users_own_addresses_in_any_rfc_5322_form_are_accepted() {
        for header in [
            "From: alice@example.test",
            "From: Alice <alice@example.test>",
            r#"From: "Alice \"A\" Smith" <alice@example.test>"#,
            "From: alice@example.test (Alice)",
            "From: =?utf-8?q?Al=C3=AFce?= <alice@example.test>",
            "From: Alice\r\n <alice@example.test>",
            "From: ALICE@Example.Test",
            "From: me: alice@example.test;",
            "From: Alice <alice@example.test>\r\nSender: alice@example.test",
        ] {
            assert_eq!(check(header), Ok(Author::Owned), "{header}");
        }
    }

    #[test]
    fn a_message_without_from_is_told_apart() {
        assert_eq!(check("To: bob@example.test"), Ok(Author::Missing));
    }
}
