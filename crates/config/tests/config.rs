//! The configuration file: the example of the interface contract (every documented key),
//! defaults, and every kind of mistake.

use carrier_config::{Config, ConfigError, locate};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

const CONTRACT_EXAMPLE: &str = r#"
hostname = "mail.example.com"      # FQDN used in banner, HELO, Received, Message-ID
data_dir = "/var/lib/carrier"      # spool, mailboxes, user db, generated keys/certs
domains = ["example.com"]          # local domains (local-host-names)
aliases = "/etc/carrier/aliases"   # /etc/aliases syntax: "name: target, target"

[listen]                           # each a list of "ip:port"; an absent key = not listening
smtp = ["0.0.0.0:25"]
submission = ["0.0.0.0:587"]
smtps = ["0.0.0.0:465"]
pop3 = ["0.0.0.0:110"]
pop3s = ["0.0.0.0:995"]
imap = ["0.0.0.0:143"]
imaps = ["0.0.0.0:993"]

[tls]                              # absent: a self-signed certificate is made in data_dir
cert = "/etc/carrier/cert.pem"
key = "/etc/carrier/key.pem"

[relay]
networks = ["192.0.2.0/24"]        # clients allowed to relay without AUTH (access map RELAY)
smarthost = "smtp.provider.net:587"  # optional; with user/password for AUTH

[dns]
nameservers = ["127.0.0.1:53"]     # optional; default: the system resolver

[delivery]
remote_port = 25                   # TCP port used to reach MX hosts (tests use a high port)
retry = ["1m", "5m", "15m", "1h", "4h"]
max_queue_time = "5d"              # then bounce
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/carrier/carrier.toml"))
}

fn error(text: &str) -> ConfigError {
    parse(text).expect_err("should be refused")
}

#[test]
fn design_example_parses() {
    let c = parse(CONTRACT_EXAMPLE).unwrap();
    assert_eq!(c.hostname, "mail.example.com");
    assert_eq!(c.domains, ["example.com"]);
    assert_eq!(c.listen.smtp, ["0.0.0.0:25".parse().unwrap()]);
    assert_eq!(c.listen.imaps, ["0.0.0.0:993".parse().unwrap()]);
    assert_eq!(c.tls.unwrap().key, Path::new("/etc/carrier/key.pem"));
    let smarthost = c.relay.smarthost.unwrap();
    assert_eq!((smarthost.host.as_str(), smarthost.port), ("smtp.provider.net", 587));
    assert_eq!(c.dns.nameservers, ["127.0.0.1:53".parse().unwrap()]);
    assert_eq!(c.delivery.retry[4], Duration::from_secs(4 * 3600));
    assert_eq!(c.delivery.max_queue_time, Duration::from_secs(5 * 86400));
    assert_eq!(c.source.as_deref(), Some(Path::new("/etc/carrier/carrier.toml")));
}

#[test]
fn defaults() {
    let c = parse("hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!(c.domains, ["mx.example.com"]);
    assert_eq!(c.data_dir, Path::new("/var/lib/carrier"));
    assert!(c.listen.smtp.is_empty() && c.tls.is_none() && c.aliases.is_none());
    assert!(c.relay_allowed("127.0.0.1".parse().unwrap()));
    assert!(c.relay_allowed("::1".parse().unwrap()));
    assert!(!c.relay_allowed("192.0.2.1".parse().unwrap()));
    assert_eq!(c.smtp.max_message_size, 25 * 1024 * 1024);
    assert_eq!(c.smtp.max_recipients, 100);
    assert_eq!(c.smtp.max_message_memory, 512 << 20);
    assert_eq!(c.smtp.timeout, Duration::from_secs(300));
    assert_eq!(c.delivery.remote_port, 25);
}

#[test]
fn smtp_section_values() {
    let c = parse(
        "hostname = \"mx.example.com\"\n[smtp]\nmax_message_size = \"10M\"\nmax_recipients = 500\nmax_errors = 3\n\
         max_connections = 20\ntimeout = 30\ndata_timeout = \"2m\"\ngreet_pause = \"500ms\"\n\
         max_message_memory = \"64M\"\n",
    )
    .unwrap();
    assert_eq!(c.smtp.max_message_size, 10 << 20);
    assert_eq!((c.smtp.max_recipients, c.smtp.max_errors, c.smtp.max_connections), (500, 3, 20));
    assert_eq!(c.smtp.timeout, Duration::from_secs(30));
    assert_eq!(c.smtp.data_timeout, Duration::from_secs(120));
    assert_eq!(c.smtp.greet_pause, Duration::from_millis(500));
    assert_eq!(c.smtp.max_message_memory, 64 << 20);
}

#[test]
fn unknown_key_names_key_line_and_file() {
    let e = error("hostname = \"mx.example.com\"\n\n[smtp]\nmax_recipents = 5\n");
    assert_eq!(e.line, Some(4));
    assert_eq!(e.key.as_deref(), Some("smtp.max_recipents"));
    let text = e.to_string();
    assert!(text.starts_with("/etc/carrier/carrier.toml:4: `smtp.max_recipents`: unknown field"), "{text}");
    let e = error("hostname = \"mx.example.com\"\ncolour = \"blue\"\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("colour")));
    let e = error("hostname = \"mx.example.com\"\n[sections]\n");
    assert_eq!(e.line, Some(2));
}

/// Issue 15.12: a value of the wrong type was explained in serde's words ("invalid type:
/// string \"lots\", expected usize"); it gets the words and an example the others have.
#[test]
fn a_value_of_the_wrong_type_is_explained_with_an_example() {
    for (text, key, words) in [
        (
            "[pop3]\nmax_connections = \"lots\"\n",
            "pop3.max_connections",
            "expected a whole number such as 100, found the string \"lots\"",
        ),
        (
            "domains = \"example.com\"\n",
            "domains",
            "expected a list in brackets such as [\"example.com\"], found the string",
        ),
        ("[submission]\nplaintext_loopback = \"yes\"\n", "submission.plaintext_loopback", "expected true or false"),
        ("pop3 = 5\n", "pop3", "expected a table"),
    ] {
        let e = error(&format!("hostname = \"mx.example.com\"\n{text}"));
        assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        let message = e.to_string();
        assert!(message.contains(words), "{message}");
        assert!(!message.contains("invalid type") && !message.contains("usize"), "{message}");
    }
}

#[test]
fn wrong_types_name_the_key() {
    let e = error("hostname = \"mx.example.com\"\n[smtp]\nmax_errors = \"ten\"\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("smtp.max_errors")));
    let e = error("hostname = \"mx.example.com\"\ndomains = \"example.com\"\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("domains")));
}

#[test]
fn bad_values_say_what_is_expected() {
    let cases = [
        ("[smtp]\ntimeout = \"5 minutes\"\n", "smtp.timeout", "duration"),
        ("[smtp]\nmax_message_size = \"lots\"\n", "smtp.max_message_size", "size"),
        ("[smtp]\nmax_recipients = 0\n", "smtp.max_recipients", "greater than zero"),
        ("[smtp]\nmax_message_memory = \"10M\"\n", "smtp.max_message_memory", "raise it or lower `max_message_size`"),
        ("[smtp]\nmax_message_memory = \"much\"\n", "smtp.max_message_memory", "size"),
        // The default cap (512M) must hold the largest message too, APPENDs included.
        ("[smtp]\nmax_message_size = \"600M\"\n", "smtp.max_message_memory", "raise it or lower `max_message_size`"),
        ("[imap]\nmax_message_size = \"1G\"\n", "smtp.max_message_memory", "in [smtp] or [imap]"),
        ("[relay]\nnetworks = [\"192.0.2.0/33\"]\n", "relay.networks", "network"),
        ("[listen]\nsmtp = [\"0.0.0.0\"]\n", "listen.smtp", "ip:port"),
        ("[listen]\nsmtp = [\"127.0.0.1:25\"]\nsubmission = [\"127.0.0.1:25\"]\n", "listen.submission", "also listed"),
        ("[tls]\ncert = \"/c.pem\"\n", "tls", "both `cert` and `key`"),
        ("[relay]\nuser = \"u\"\npassword = \"p\"\n", "relay.user", "smarthost"),
        ("[relay]\nsmarthost = \"smtp.example.net:587\"\nuser = \"u\"\n", "relay.user", "both"),
        ("[delivery]\nretry = []\n", "delivery.retry", "at least one"),
        ("[delivery]\ndelay_warning = \"soon\"\n", "delivery.delay_warning", "duration"),
        ("[relay]\nsmarthost_ca = \"ca.pem\"\n", "relay.smarthost_ca", "smarthost"),
        ("[dns]\nnameservers = [\"ns.example\"]\n", "dns.nameservers", "ip:port"),
        ("domains = [\"exa mple.com\"]\n", "domains", "not a valid domain"),
    ];
    for (body, key, words) in cases {
        let e = error(&format!("hostname = \"mx.example.com\"\n{body}"));
        assert_eq!(e.key.as_deref(), Some(key), "{body}: {e}");
        assert!(e.line.is_some(), "{body}: {e}");
        assert!(e.message.contains(words), "{body}: {e}");
    }
}

#[test]
fn relay_and_delivery_options() {
    let c = parse(
        "hostname = \"mx.example.com\"\n[relay]\nsmarthost = \"smtp.example.net:465\"\nuser = \"u\"\npassword = \"p\"\n\
         smarthost_ca = \"ca.pem\"\n[delivery]\ndelay_warning = \"4h\"\n",
    )
    .unwrap();
    let smarthost = c.relay.smarthost.unwrap();
    assert_eq!(smarthost.ca_file.as_deref(), Some(Path::new("/etc/carrier/ca.pem")));
    assert_eq!(smarthost.user.as_deref(), Some("u"));
    assert_eq!(c.delivery.delay_warning, Some(Duration::from_secs(4 * 3600)));
    let off = parse("hostname = \"mx.example.com\"\n[delivery]\ndelay_warning = \"0s\"\n").unwrap();
    assert_eq!(off.delivery.delay_warning, None);
    assert_eq!(parse("hostname = \"mx.example.com\"\n").unwrap().delivery.delay_warning, None);
}

#[test]
fn unqualified_hostname_is_explained() {
    let e = error("hostname = \"mx\"\n");
    assert!(
        e.to_string()
            .contains("hostname `mx` is not fully qualified; set `hostname = \"mx.example.com\"` in carrier.toml"),
        "{e}"
    );
    assert_eq!(e.line, Some(1));
}

#[test]
fn relative_paths_resolve_against_the_config_file() {
    let c = Config::parse(
        "hostname = \"mx.example.com\"\ndata_dir = \"data\"\naliases = \"aliases\"\n",
        Path::new("/srv/mail/carrier.toml"),
    )
    .unwrap();
    assert_eq!(c.data_dir, Path::new("/srv/mail/data"));
    assert_eq!(c.aliases.as_deref(), Some(Path::new("/srv/mail/aliases")));
}

#[test]
fn local_domains_and_relay_networks() {
    let c = parse("hostname = \"mx.example.com\"\ndomains = [\"Example.COM\", \"example.com\"]\n[relay]\nnetworks = [\"192.0.2.0/24\", \"2001:db8::/32\"]\n")
        .unwrap();
    assert_eq!(c.domains, ["example.com"]);
    assert!(c.is_local_domain("EXAMPLE.com."));
    assert!(c.is_local_domain("mx.example.com"));
    assert!(!c.is_local_domain("example.org"));
    assert!(c.relay_allowed("192.0.2.200".parse().unwrap()));
    assert!(c.relay_allowed("::ffff:192.0.2.200".parse::<IpAddr>().unwrap()));
    assert!(c.relay_allowed("2001:db8::5".parse().unwrap()));
    assert!(!c.relay_allowed("127.0.0.1".parse().unwrap()), "explicit networks replace the loopback default");
}

#[test]
fn development_defaults() {
    let c = Config::development();
    assert_eq!(c.hostname, "localhost");
    assert_eq!(c.domains, ["localhost"]);
    assert!(c.data_dir.is_absolute() && c.data_dir.ends_with("carrier-data"));
    assert_eq!(c.listen.smtp, ["127.0.0.1:2525".parse().unwrap()]);
    assert!(c.source.is_none());
}

#[test]
fn locate_explicit_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let e = locate(Some(&missing)).unwrap_err();
    assert_eq!(e.path.as_deref(), Some(missing.as_path()));
    assert!(e.message.contains("does not exist"));
    let present = dir.path().join("carrier.toml");
    std::fs::write(&present, "hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!(locate(Some(&present)).unwrap().hostname, "mx.example.com");
}

#[test]
fn port_zero_may_repeat_and_submission_section_parses() {
    let c = parse(
        "hostname = \"mx.example.com\"\n[listen]\nsmtp = [\"127.0.0.1:0\"]\nsubmission = [\"127.0.0.1:0\"]\n\
         [submission]\nmax_auth_failures = 5\nauth_failure_delay = \"2s\"\nauth_ip_limit = 20\nauth_ip_window = \"1h\"\n\
         plaintext_loopback = true\nany_sender = [\"App@Example.com\"]\n",
    )
    .unwrap();
    assert_eq!(c.listen.submission.len(), 1);
    assert_eq!((c.submission.max_auth_failures, c.submission.auth_ip_limit), (5, 20));
    assert_eq!(c.submission.auth_failure_delay, Duration::from_secs(2));
    assert_eq!(c.submission.auth_ip_window, Duration::from_secs(3600));
    assert!(c.submission.plaintext_loopback);
    assert_eq!(c.submission.any_sender, ["app@example.com"]);
    let e = error("hostname = \"mx.example.com\"\n[submission]\nmax_auth_failures = 0\n");
    assert_eq!(e.key.as_deref(), Some("submission.max_auth_failures"));
    let d = parse("hostname = \"mx.example.com\"\n").unwrap().submission;
    assert_eq!((d.max_auth_failures, d.auth_ip_limit, d.plaintext_loopback), (3, 10, false));
}

#[test]
fn auth_source() {
    use carrier_config::AuthSource;
    assert_eq!(parse("hostname = \"mx.example.com\"\n").unwrap().auth, AuthSource::Carrier);
    let c = parse("hostname = \"mx.example.com\"\nauth = \"system\"\n[submission]\nshadow_file = \"/tmp/shadow\"\n")
        .unwrap();
    assert_eq!(c.auth, AuthSource::System);
    assert_eq!(c.submission.shadow_file, Path::new("/tmp/shadow"));
    let e = error("hostname = \"mx.example.com\"\nauth = \"ldap\"\n");
    assert_eq!((e.key.as_deref(), e.line), (Some("auth"), Some(2)));
    assert!(e.message.contains("\"system\""), "{e}");
}

#[test]
fn pop3_and_mailbox_sections() {
    let c = parse("hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!(c.pop3.timeout, Duration::from_secs(600));
    assert_eq!((c.pop3.max_connections, c.pop3.max_errors, c.pop3.max_connections_per_user_ip), (1000, 10, 10));
    assert_eq!(c.mailbox.quota, None);
    let c = parse(
        "hostname = \"mx.example.com\"\n[pop3]\ntimeout = \"30s\"\nmax_connections = 5\nmax_errors = 3\n\
         max_connections_per_user_ip = 0\n\
         [mailbox]\nquota = \"1G\"\n",
    )
    .unwrap();
    assert_eq!(c.pop3.timeout, Duration::from_secs(30));
    assert_eq!((c.pop3.max_connections, c.pop3.max_errors, c.pop3.max_connections_per_user_ip), (5, 3, 0));
    assert_eq!(c.mailbox.quota, Some(1 << 30));
    assert_eq!(parse("hostname = \"mx.example.com\"\n[mailbox]\nquota = \"unlimited\"\n").unwrap().mailbox.quota, None);
    assert_eq!(parse("hostname = \"mx.example.com\"\n[mailbox]\nquota = 5000\n").unwrap().mailbox.quota, Some(5000));
    let messages = parse("hostname = \"mx.example.com\"\n[mailbox]\nquota_messages = 10000\n").unwrap();
    assert_eq!(messages.mailbox.quota_messages, Some(10000));
    for (text, key, words) in [
        ("[pop3]\ntimeout = \"0s\"\n", "pop3.timeout", "greater than zero"),
        ("[pop3]\nmax_errors = 0\n", "pop3.max_errors", "greater than zero"),
        ("[pop3]\nidle = \"1m\"\n", "pop3.idle", "unknown field"),
        ("[mailbox]\nquota = \"lots\"\n", "mailbox.quota", "expected a size"),
        ("[mailbox]\nquota = 0\n", "mailbox.quota", "expected a size"),
    ] {
        let e = error(&format!("hostname = \"mx.example.com\"\n{text}"));
        assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        assert!(e.message.contains(words), "{text}: {e}");
        assert_eq!(e.line, Some(3), "{text}: {e}");
    }
}

#[test]
fn imap_section() {
    let c = parse("hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!((c.imap.timeout, c.imap.login_timeout), (Duration::from_secs(1800), Duration::from_secs(180)));
    assert_eq!((c.imap.max_connections, c.imap.max_errors, c.imap.max_message_size), (1000, 10, 50 << 20));
    assert_eq!(c.imap.max_connections_per_user_ip, 10);
    let c = parse(
        "hostname = \"mx.example.com\"\n[imap]\ntimeout = \"2s\"\nlogin_timeout = \"1s\"\nmax_connections = 5\n\
         max_errors = 3\nmax_message_size = \"1M\"\nmax_connections_per_user_ip = 3\n",
    )
    .unwrap();
    assert_eq!((c.imap.timeout, c.imap.login_timeout), (Duration::from_secs(2), Duration::from_secs(1)));
    assert_eq!((c.imap.max_connections, c.imap.max_errors, c.imap.max_message_size), (5, 3, 1 << 20));
    assert_eq!(c.imap.max_connections_per_user_ip, 3);
    for (text, key, words) in [
        ("[imap]\ntimeout = \"0s\"\n", "imap.timeout", "30 minutes"),
        ("[imap]\nlogin_timeout = 0\n", "imap.login_timeout", "greater than zero"),
        ("[imap]\nmax_connections = 0\n", "imap.max_connections", "greater than zero"),
        ("[imap]\nmax_message_size = \"huge\"\n", "imap.max_message_size", "expected a size"),
        ("[imap]\nidle_timeout = \"1m\"\n", "imap.idle_timeout", "unknown field"),
    ] {
        let e = error(&format!("hostname = \"mx.example.com\"\n{text}"));
        assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        assert!(e.message.contains(words), "{text}: {e}");
        assert_eq!(e.line, Some(3), "{text}: {e}");
    }
}

#[test]
fn user_names_the_account_to_switch_to() {
    let cfg = parse("hostname = \"mx.example.com\"\nuser = \"carrier\"\n").unwrap();
    assert_eq!(cfg.user.as_deref(), Some("carrier"));
    assert_eq!(parse("hostname = \"mx.example.com\"\n").unwrap().user, None);
    let e = parse("hostname = \"mx.example.com\"\nuser = \"car rier\"\n").unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("user")));
    assert!(e.message.contains("not a user name"), "{e}");
}

#[test]
fn dkim_and_authentication_sections() {
    let cfg = parse("hostname = \"mx.example.com\"\n").unwrap();
    assert!(cfg.dkim.sign && cfg.dkim.keys.is_empty());
    assert!(cfg.authentication.verify);
    assert_eq!(cfg.authentication.dmarc_reject, carrier_config::Disposition::Reject);
    assert_eq!(cfg.authentication.dmarc_quarantine, carrier_config::Disposition::Quarantine);
    assert_eq!(cfg.authentication.spf_fail, carrier_config::Disposition::Deliver);
    let cfg = parse(
        "hostname = \"mx.example.com\"\n[dkim]\nsign = false\n[[dkim.keys]]\ndomain = \"Example.COM\"\n\
         selector = \"mail\"\nprivate_key = \"keys/mail.private\"\n\
         [authentication]\nverify = false\ndmarc_reject = \"quarantine\"\nspf_fail = \"reject\"\n",
    )
    .unwrap();
    assert!(!cfg.dkim.sign && !cfg.authentication.verify);
    assert_eq!(cfg.dkim.keys[0].domain, "example.com");
    assert_eq!(cfg.dkim.keys[0].private_key, Path::new("/etc/carrier/keys/mail.private"));
    assert_eq!(cfg.authentication.dmarc_reject, carrier_config::Disposition::Quarantine);
    assert_eq!(cfg.authentication.spf_fail, carrier_config::Disposition::Reject);
    let e = error("hostname = \"mx.example.com\"\n[authentication]\ndmarc_reject = \"bounce\"\n");
    assert_eq!(e.key.as_deref(), Some("authentication.dmarc_reject"));
    assert!(e.message.contains("\"reject\" (refuse with 550)") && e.message.contains("\"bounce\""), "{e}");
    let e = error(
        "hostname = \"mx.example.com\"\n[[dkim.keys]]\ndomain = \"x.example\"\nselector = \"a b\"\nprivate_key = \"k\"\n",
    );
    assert!(e.message.contains("selector \"a b\" is not a DNS name"), "{e}");
}

#[test]
fn antispam_section() {
    let cfg = parse("hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!(cfg.antispam.spam_rules, carrier_config::SpamRule::defaults());
    assert!(cfg.antispam.greylisting.is_none() && cfg.antispam.dnsbl.is_empty());
    let cfg = parse(
        "hostname = \"mx.example.com\"\n[antispam]\ndnsbl = [\"zen.example.org\", \"list.dnswl.example*-5\"]\n\
         dnsbl_threshold = 2\ngreylisting = true\nspam_headers = [\"X-Spam-Score >= 6.5\", \"X-Verdict: junk\"]\n",
    )
    .unwrap();
    assert_eq!(cfg.antispam.dnsbl[1], carrier_config::DnsList { zone: "list.dnswl.example".into(), weight: -5 });
    assert_eq!(cfg.antispam.greylisting, Some(Duration::from_secs(300)));
    assert!(cfg.antispam.spam_rules[0].matches("x-spam-score", " 7"));
    assert!(cfg.antispam.spam_rules[1].matches("X-Verdict", "JUNK mail"));
    let e = error("hostname = \"mx.example.com\"\n[antispam]\nspam_headers = [\"X-Spam\"]\n");
    assert!(e.message.contains("not a rule such as"), "{e}");
    let e = error("hostname = \"mx.example.com\"\n[antispam]\ndnsbl = [\"zen*x\"]\n");
    assert!(e.message.contains("weight \"x\""), "{e}");
    let e = error("hostname = \"mx.example.com\"\n[[milter]]\nsocket = \"tcp:1\"\n");
    assert!(e.message.contains("is not a milter socket"), "{e}");
    let cfg = parse("hostname = \"mx.example.com\"\n[[milter]]\nsocket = \"inet:8891@127.0.0.1\"\n").unwrap();
    assert_eq!(cfg.milters[0].socket, carrier_config::MilterSocket::Inet("127.0.0.1".into(), 8891));
    assert_eq!(cfg.milters[0].default_action, carrier_config::MilterDefault::Tempfail);
}
