//! The configuration as carrier uses it: validated values with their defaults, and the
//! questions other crates ask of it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The system-wide configuration file, used when neither `-c` nor `CARRIER_CONFIG` is given.
pub const SYSTEM_CONFIG: &str = "/etc/carrier/carrier.toml";

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Our fully qualified host name: banner, HELO, Received, Message-ID.
    pub hostname: String,
    /// Where the queue, mailboxes, user database and generated keys live (absolute).
    pub data_dir: PathBuf,
    /// Local domains, lower-case (sendmail's local-host-names).
    pub domains: Vec<String>,
    /// The aliases file in /etc/aliases syntax.
    pub aliases: Option<PathBuf>,
    /// The unprivileged account `serve` switches to after binding its ports, when started as root.
    pub user: Option<String>,
    /// Where passwords for SMTP AUTH are checked.
    pub auth: AuthSource,
    /// Local users besides root and `user` who may list, flush and ask the status of the
    /// queue through the daemon (Postfix's `authorized_mailq_users`); "*" is everyone.
    pub authorized_mailq_users: Vec<String>,
    /// Where and how the daemon logs (`[log]`).
    pub log: Log,
    /// Listening addresses per service.
    pub listen: Listen,
    /// Certificate and key; None means a generated self-signed certificate.
    pub tls: Option<Tls>,
    /// Who may relay, and through where.
    pub relay: Relay,
    /// Resolver settings.
    pub dns: Dns,
    /// Outbound delivery and retries.
    pub delivery: Delivery,
    /// SMTP server limits and timeouts.
    pub smtp: Smtp,
    /// Logins (SMTP AUTH, POP3, IMAP): limits and the loopback exception.
    pub submission: Submission,
    /// The POP3 server.
    pub pop3: Pop3,
    /// The IMAP server.
    pub imap: Imap,
    /// The mailbox store.
    pub mailbox: Mailbox,
    /// Users' Sieve scripts and ManageSieve.
    pub sieve: Sieve,
    /// DKIM signing of outgoing mail.
    pub dkim: Dkim,
    /// Checks of incoming mail on port 25: SPF, DKIM, ARC, DMARC, iprev.
    pub authentication: Authentication,
    /// Content filters (`[[milter]]`), in the order they run.
    pub milters: Vec<Milter>,
    /// DNS block and allow lists, and rate limits.
    pub antispam: Antispam,
    /// The file this came from; None for built-in development defaults.
    pub source: Option<PathBuf>,
}

/// Which accounts log in (`auth = "carrier"` or `"system"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthSource {
    /// carrier's own user database (`carrier user add`).
    #[default]
    Carrier,
    /// The host's login accounts: passwords from the shadow file.
    System,
}

/// `[log]`: where the daemon's log lines go, and in what form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Log {
    /// stderr (the journal, under systemd), syslog or the journal's own protocol.
    pub target: LogTarget,
    /// Plain lines, or one JSON object per line for log shippers.
    pub format: LogFormat,
    /// The Unix datagram socket of the syslog or journald target; None is the standard one.
    pub socket: Option<PathBuf>,
}

/// `[log] target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogTarget {
    #[default]
    Stderr,
    /// The mail facility over /dev/log (RFC 3164 lines), so /var/log/mail.log keeps working.
    Syslog,
    /// The journal's native protocol on /run/systemd/journal/socket.
    Journald,
}

/// `[log] format` (or `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[listen]`: each a list of socket addresses; empty means not listening.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listen {
    /// MTA-to-MTA SMTP (port 25).
    pub smtp: Vec<SocketAddr>,
    /// Submission with STARTTLS (587).
    pub submission: Vec<SocketAddr>,
    /// Submission over implicit TLS (465).
    pub smtps: Vec<SocketAddr>,
    /// POP3 (110).
    pub pop3: Vec<SocketAddr>,
    /// POP3 over TLS (995).
    pub pop3s: Vec<SocketAddr>,
    /// IMAP (143).
    pub imap: Vec<SocketAddr>,
    /// IMAP over TLS (993).
    pub imaps: Vec<SocketAddr>,
    /// ManageSieve (4190, RFC 5804).
    pub managesieve: Vec<SocketAddr>,
}

impl Listen {
    /// Every service with its addresses, by its key name in `[listen]`.
    pub fn services(&self) -> [(&'static str, &[SocketAddr]); 8] {
        [
            ("smtp", &self.smtp),
            ("submission", &self.submission),
            ("smtps", &self.smtps),
            ("pop3", &self.pop3),
            ("pop3s", &self.pop3s),
            ("imap", &self.imap),
            ("imaps", &self.imaps),
            ("managesieve", &self.managesieve),
        ]
    }
}

/// `[tls]`: PEM certificate chain and private key.
#[derive(Debug, Clone, PartialEq)]
pub struct Tls {
    /// Certificate chain file.
    pub cert: PathBuf,
    /// Private key file.
    pub key: PathBuf,
}

/// `[relay]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    /// Clients allowed to relay without authentication (sendmail's access map RELAY).
    pub networks: Vec<ipnet::IpNet>,
    /// Send all outbound mail through this host.
    pub smarthost: Option<Smarthost>,
}

/// A smarthost and its credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Smarthost {
    /// Host name or address.
    pub host: String,
    /// Port: 465 means implicit TLS, others STARTTLS.
    pub port: u16,
    /// AUTH user name.
    pub user: Option<String>,
    /// AUTH password.
    pub password: Option<String>,
    /// PEM file of the certificate authorities trusted for the smarthost's certificate;
    /// None means the system's bundle.
    pub ca_file: Option<PathBuf>,
}

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dns {
    /// Name servers to ask instead of the system resolver.
    pub nameservers: Vec<SocketAddr>,
}

/// `[dkim]`: signing of the mail our users send (RFC 6376).
#[derive(Debug, Clone, PartialEq)]
pub struct Dkim {
    /// Sign mail whose From: domain has a key; keys are made for every local domain.
    pub sign: bool,
    /// Keys kept elsewhere (OpenDKIM's key files), used instead of generated ones.
    pub keys: Vec<DkimKey>,
}

impl Default for Dkim {
    fn default() -> Dkim {
        Dkim { sign: true, keys: Vec::new() }
    }
}

/// One `[[dkim.keys]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct DkimKey {
    /// The signing domain (d=), lower-case.
    pub domain: String,
    /// The selector (s=): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// PEM private key file (PKCS#1 or PKCS#8; RSA of 2048 bits or more, or Ed25519).
    pub private_key: PathBuf,
}

/// What to do with a message that fails a check whose owner asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Refuse it at the end of DATA with 550 5.7.1 (the sender gets a bounce from its server).
    Reject,
    /// Deliver it into the recipient's Junk folder.
    Quarantine,
    /// Deliver it as usual; the result is only recorded in Authentication-Results.
    Deliver,
}

/// `[authentication]`: checks of mail arriving on port 25 (not from relay networks).
#[derive(Debug, Clone, PartialEq)]
pub struct Authentication {
    /// Run SPF, DKIM, ARC, DMARC and iprev and add Authentication-Results.
    pub verify: bool,
    /// A DMARC failure of a domain publishing `p=reject` (RFC 7489 6.3).
    pub dmarc_reject: Disposition,
    /// A DMARC failure of a domain publishing `p=quarantine`.
    pub dmarc_quarantine: Disposition,
    /// An SPF `fail` (the domain's `-all` says the client may not send its mail, RFC 7208 8.4).
    pub spf_fail: Disposition,
}

impl Default for Authentication {
    fn default() -> Authentication {
        Authentication {
            verify: true,
            dmarc_reject: Disposition::Reject,
            dmarc_quarantine: Disposition::Quarantine,
            spf_fail: Disposition::Deliver,
        }
    }
}

/// One `[[milter]]`: a content filter speaking sendmail's milter protocol (OpenDKIM,
/// rspamd's proxy, ClamAV's clamav-milter, SpamAssassin's spamass-milter).
#[derive(Debug, Clone, PartialEq)]
pub struct Milter {
    /// Where it listens.
    pub socket: MilterSocket,
    /// Which mail it sees: "smtp" (port 25), "submission" (587, 465) and "sendmail" (local).
    pub listeners: Vec<String>,
    /// How long one answer may take.
    pub timeout: Duration,
    /// What happens to a message when the filter cannot be reached or breaks the protocol.
    pub default_action: MilterDefault,
}

/// `inet:host:port` (or sendmail's `inet:port@host`) or `unix:/path`.
#[derive(Debug, Clone, PartialEq)]
pub enum MilterSocket {
    Inet(String, u16),
    Unix(PathBuf),
}

/// Postfix's `milter_default_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilterDefault {
    /// 451 4.7.1: the client tries again later (the default, as Postfix's).
    Tempfail,
    /// Go on as if the filter were not configured.
    Accept,
    /// 550 5.7.1.
    Reject,
}

/// `[antispam]`: the cheap defences carrier carries itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Antispam {
    /// DNS lists asked about each client on port 25, with their weights (negative for allow
    /// lists), as Postfix's postscreen_dnsbl_sites.
    pub dnsbl: Vec<DnsList>,
    /// The summed weight at which a client is refused.
    pub dnsbl_threshold: i32,
    /// Greylist first-time (network, sender, recipient) triplets on port 25 for this long;
    /// None is off.
    pub greylisting: Option<Duration>,
    /// Header rules that make a filtered message spam, for the Junk folder.
    pub spam_rules: Vec<SpamRule>,
    /// Messages one client address may send on port 25 per hour (0: no limit).
    pub messages_per_hour_per_ip: u32,
    /// Recipients one client address may name on port 25 per hour (0: no limit).
    pub recipients_per_hour_per_ip: u32,
    /// Messages one authenticated user may send per hour (0: no limit).
    pub messages_per_hour_per_user: u32,
    /// Recipients one authenticated user may name per hour (0: no limit): the cap a stolen
    /// password meets.
    pub recipients_per_hour_per_user: u32,
}

impl Default for Antispam {
    fn default() -> Antispam {
        Antispam {
            dnsbl: Vec::new(),
            dnsbl_threshold: 1,
            greylisting: None,
            spam_rules: SpamRule::defaults(),
            messages_per_hour_per_ip: 0,
            recipients_per_hour_per_ip: 0,
            messages_per_hour_per_user: 0,
            recipients_per_hour_per_user: 0,
        }
    }
}

/// A header a filter adds that marks spam: `X-Spam: yes` (the value starts so, without
/// regard to case) or `X-Spam-Score >= 5` (the value's first number).
#[derive(Debug, Clone, PartialEq)]
pub enum SpamRule {
    Starts { field: String, prefix: String },
    AtLeast { field: String, score: f64 },
}

impl SpamRule {
    /// The defaults: rspamd's `X-Spam: Yes` and SpamAssassin's `X-Spam-Flag: YES`.
    pub fn defaults() -> Vec<SpamRule> {
        ["X-Spam", "X-Spam-Flag"].map(|f| SpamRule::Starts { field: f.into(), prefix: "yes".into() }).to_vec()
    }

    /// True when the field `name: value` meets the rule.
    pub fn matches(&self, name: &str, value: &str) -> bool {
        let value = value.trim();
        match self {
            SpamRule::Starts { field, prefix } => {
                name.eq_ignore_ascii_case(field)
                    && value.get(..prefix.len()).is_some_and(|v| v.eq_ignore_ascii_case(prefix))
            }
            SpamRule::AtLeast { field, score } => {
                name.eq_ignore_ascii_case(field) && SpamRule::number(value).is_some_and(|n| n >= *score)
            }
        }
    }

    /// The first number in a field's value (`7.3`, `-1.5 (low)`).
    pub fn number(value: &str) -> Option<f64> {
        let number: String = value
            .trim()
            .chars()
            .skip_while(|c| !c.is_ascii_digit() && *c != '-')
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        number.parse().ok()
    }
}

/// One DNS list: `zen.spamhaus.org`, `bl.example*2`, `list.dnswl.org*-5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsList {
    pub zone: String,
    pub weight: i32,
}

/// `[delivery]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// TCP port used to reach MX hosts.
    pub remote_port: u16,
    /// Waits between attempts; the last one repeats.
    pub retry: Vec<Duration>,
    /// After this long in the queue a message bounces.
    pub max_queue_time: Duration,
    /// Tell the sender once when a message has waited this long; None is off (as Postfix's
    /// default `delay_warning_time = 0h`).
    pub delay_warning: Option<Duration>,
    /// Honour the MTA-STS policies of receiving domains (RFC 8461).
    pub mta_sts: bool,
    /// Honour DNSSEC-secure TLSA records of MX hosts (DANE, RFC 7672).
    pub dane: bool,
    /// Rewrite the envelope sender of forwarded mail (SRS) and take its bounces back.
    pub srs: bool,
    /// Record TLS outcomes and send daily reports to domains that ask (RFC 8460).
    pub tls_reports: bool,
    /// The HTTPS port MTA-STS policies are fetched from (443; tests use another).
    pub mta_sts_port: u16,
    /// Certificate authorities trusted where TLS must be verified (MTA-STS policy servers and
    /// the MX hosts of an enforced policy); None means the system's bundle.
    pub ca_file: Option<PathBuf>,
}

/// `[smtp]`: limits and timeouts of the SMTP server.
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    /// Largest message accepted, in octets (advertised with SIZE).
    pub max_message_size: u64,
    /// Recipients per transaction.
    pub max_recipients: usize,
    /// Error replies before the session is closed.
    pub max_errors: u32,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Concurrent connections from one address (0: no limit); relay networks are exempt.
    pub max_connections_per_ip: usize,
    /// New connections per minute from one address (0: no limit); relay networks are exempt.
    pub connection_rate_limit: usize,
    /// Octets of messages being received that all SMTP sessions together may hold in memory;
    /// past it a message is refused with 452 4.3.1 and its client retries later.
    pub max_message_memory: u64,
    /// Idle time allowed between commands (RFC 5321 4.5.3.2.7).
    pub timeout: Duration,
    /// Idle time allowed while receiving message data.
    pub data_timeout: Duration,
    /// Wait before the greeting; clients that talk first are refused. Zero is off.
    pub greet_pause: Duration,
    /// Refuse MAIL FROM on port 25 whose domain has no MX and no address (sendmail's check,
    /// Postfix's reject_unknown_sender_domain): bounces to it could never be delivered.
    pub check_sender_domain: bool,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            remote_port: 25,
            retry: [60, 300, 900, 3600, 14_400].into_iter().map(Duration::from_secs).collect(),
            max_queue_time: Duration::from_secs(5 * 86_400),
            delay_warning: None,
            mta_sts: true,
            dane: true,
            srs: true,
            tls_reports: true,
            mta_sts_port: 443,
            ca_file: None,
        }
    }
}

/// `[submission]`: AUTH and its brute-force defences.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Failed AUTH attempts in one session before it is closed with 421 4.7.0.
    pub max_auth_failures: u32,
    /// Wait before answering a failed attempt (slows password guessing).
    pub auth_failure_delay: Duration,
    /// Failures from one address within `auth_ip_window` before AUTH from it is refused.
    pub auth_ip_limit: u32,
    /// The window for `auth_ip_limit`.
    pub auth_ip_window: Duration,
    /// Allow AUTH without TLS from loopback addresses (local scripts); never from elsewhere.
    pub plaintext_loopback: bool,
    /// Users who may send with any sender address (e.g. a web application's account).
    pub any_sender: Vec<String>,
    /// The shadow file read when `auth = "system"`.
    pub shadow_file: PathBuf,
    /// How long a verified login is remembered (Dovecot's auth_cache_ttl); zero is off.
    pub login_cache: Duration,
}

impl Default for Submission {
    fn default() -> Submission {
        Submission {
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_secs(1),
            auth_ip_limit: 10,
            auth_ip_window: Duration::from_secs(600),
            plaintext_loopback: false,
            any_sender: Vec::new(),
            shadow_file: PathBuf::from("/etc/shadow"),
            login_cache: Duration::from_secs(300),
        }
    }
}

/// `[pop3]`: the POP3 server.
#[derive(Debug, Clone, PartialEq)]
pub struct Pop3 {
    /// Idle time allowed between commands (RFC 1939 3: at least 10 minutes).
    pub timeout: Duration,
    /// Time allowed to log in after connecting, however busy the client is meanwhile.
    pub login_timeout: Duration,
    /// Concurrent POP3 connections.
    pub max_connections: usize,
    /// Connections from one address that have not logged in yet (0: no limit); relay
    /// networks are exempt.
    pub max_connections_per_ip: usize,
    /// Logged-in sessions of one user from one address; 0 is no limit.
    pub max_connections_per_user_ip: usize,
    /// Error replies in one session before it is closed.
    pub max_errors: u32,
}

impl Default for Pop3 {
    fn default() -> Pop3 {
        Pop3 {
            timeout: Duration::from_secs(600),
            login_timeout: Duration::from_secs(180),
            max_connections: 1000,
            max_connections_per_ip: 50,
            max_connections_per_user_ip: 10,
            max_errors: 10,
        }
    }
}

/// `[imap]`: the IMAP server.
#[derive(Debug, Clone, PartialEq)]
pub struct Imap {
    /// Idle time allowed after login, IDLE included (RFC 3501 5.4: at least 30 minutes).
    pub timeout: Duration,
    /// Time allowed to log in after connecting, however busy the client is meanwhile
    /// (Dovecot's imap-login also allows 3 minutes).
    pub login_timeout: Duration,
    /// Concurrent IMAP connections.
    pub max_connections: usize,
    /// Connections from one address that have not logged in yet (0: no limit); relay
    /// networks are exempt.
    pub max_connections_per_ip: usize,
    /// Logged-in sessions of one user from one address (Dovecot's
    /// `mail_max_userip_connections`, also 10); 0 is no limit.
    pub max_connections_per_user_ip: usize,
    /// Invalid commands in a row before the session is closed.
    pub max_errors: u32,
    /// Largest message APPEND accepts, in octets (advertised as APPENDLIMIT, RFC 7889).
    pub max_message_size: u64,
}

impl Default for Imap {
    fn default() -> Imap {
        Imap {
            timeout: Duration::from_secs(30 * 60),
            login_timeout: Duration::from_secs(180),
            max_connections: 1000,
            max_connections_per_ip: 50,
            max_connections_per_user_ip: 10,
            max_errors: 10,
            max_message_size: 50 * 1024 * 1024,
        }
    }
}

/// `[sieve]`: users' mail rules (RFC 5228) and their editing over ManageSieve (RFC 5804).
#[derive(Debug, Clone, PartialEq)]
pub struct Sieve {
    /// The largest script, in octets (Dovecot's sieve_max_script_size).
    pub max_script_size: u64,
    /// Scripts one user may keep.
    pub max_scripts: usize,
    /// Redirects one script may make per message (Dovecot's sieve_max_redirects).
    pub max_redirects: u32,
}

impl Default for Sieve {
    fn default() -> Sieve {
        Sieve { max_script_size: 1 << 20, max_scripts: 100, max_redirects: 4 }
    }
}

/// `[mailbox]`: the mailbox store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mailbox {
    /// Storage limit per account in octets; None is unlimited.
    pub quota: Option<u64>,
    /// Message limit per account; None is unlimited.
    pub quota_messages: Option<u64>,
}

impl Default for Smtp {
    fn default() -> Smtp {
        Smtp {
            max_message_size: 25 * 1024 * 1024,
            // RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted.
            max_recipients: 100,
            // Postfix smtpd_hard_error_limit.
            max_errors: 20,
            max_connections: 1000,
            // Postfix's smtpd_client_connection_count_limit.
            max_connections_per_ip: 50,
            // Off, as Postfix's smtpd_client_connection_rate_limit.
            connection_rate_limit: 0,
            max_message_memory: 512 * 1024 * 1024,
            timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            greet_pause: Duration::ZERO,
            check_sender_domain: true,
        }
    }
}

impl Default for Relay {
    /// Loopback may relay, as Postfix's `mynetworks_style = host`.
    fn default() -> Relay {
        Relay { networks: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()], smarthost: None }
    }
}

impl Config {
    /// Built-in defaults for trying carrier without a configuration file.
    pub fn development() -> Config {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Config {
            hostname: "localhost".into(),
            data_dir: cwd.join("carrier-data"),
            domains: vec!["localhost".into()],
            aliases: None,
            user: None,
            auth: AuthSource::Carrier,
            authorized_mailq_users: Vec::new(),
            log: Log::default(),
            listen: Listen { smtp: vec!["127.0.0.1:2525".parse().unwrap()], ..Listen::default() },
            tls: None,
            relay: Relay::default(),
            dns: Dns::default(),
            delivery: Delivery::default(),
            smtp: Smtp::default(),
            submission: Submission::default(),
            pop3: Pop3::default(),
            imap: Imap::default(),
            mailbox: Mailbox::default(),
            sieve: Sieve::default(),
            dkim: Dkim::default(),
            authentication: Authentication::default(),
            milters: Vec::new(),
            antispam: Antispam::default(),
            source: None,
        }
    }

    /// True for the local domains and our own host name (case-insensitive, one trailing dot ignored).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        let d = domain.strip_suffix('.').unwrap_or(domain);
        d.eq_ignore_ascii_case(&self.hostname) || self.domains.iter().any(|l| l.eq_ignore_ascii_case(d))
    }

    /// True when `ip` is in `relay.networks` (IPv4-mapped IPv6 counts as IPv4).
    pub fn relay_allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.relay.networks.iter().any(|n| n.contains(&ip))
    }
}
