//! `carrier check` on good and broken set-ups, with a fake DNS server on loopback and the
//! outbound probe pointed at loopback (no traffic leaves the machine).

use crate::common::dns::FakeDns;
use crate::common::{Options, Server, run_cli};
use std::io::Write;
use std::net::TcpListener;

/// A loopback "SMTP server" that greets once per connection.
fn fake_smtp() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(b"220 probe.example ESMTP\r\n");
        }
    });
    port
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn with_dns(dns: &FakeDns) -> Options {
    Options { sections: dns.config(), ..Options::default() }
}

#[test]
fn a_good_setup_passes() {
    let dns = FakeDns::start();
    // A documentation address (RFC 5737): only named in the table, never contacted.
    dns.a("mx.example.com", "192.0.2.10");
    dns.ptr("192.0.2.10", "mx.example.com");
    dns.mx("example.com", 10, "mx.example.com");
    dns.a("example.net", "192.0.2.10"); // no MX: the A record is the fallback (RFC 5321 5.1)
    let server = Server::start_with(with_dns(&dns));
    publish_authentication(&dns, &server);
    let probe = format!("127.0.0.1:{}", fake_smtp());
    let (code, out, err) = server.cli(&["check", "--outbound-probe", &probe], "");
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "ok:          hostname mx.example.com is fully qualified",
        "ok:          hostname mx.example.com resolves to 192.0.2.10",
        "ok:          reverse DNS of 192.0.2.10 is mx.example.com",
        "ok:          example.com: MX mx.example.com points here",
        "ok:          example.net: no MX record, but its A/AAAA record points here",
        "ok:          TLS: certificate valid for mx.example.com for 36", // ten years, a day early
        "ok:          the daemon is running",
        "ok:          outgoing SMTP to 127.0.0.1:",
        "ok:          example.com: DKIM key 2",
        "ok:          example.com: SPF lets this server (192.0.2.10) send",
        "ok:          example.net: SPF lets this server (192.0.2.10) send",
        "ok:          example.com: DMARC record \"v=DMARC1; p=none\"",
        "ok:          DANE: no TLSA records at _25._tcp.mx.example.com (optional)",
        "ok:          example.com: no MTA-STS policy (optional)",
        "no problems found",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("PROBLEM"), "{out}");
}

/// What a careful administrator publishes: the DKIM keys from `dns-records`, SPF and DMARC.
fn publish_authentication(dns: &FakeDns, server: &Server) {
    crate::dkim::publish_dkim(dns, server);
    dns.txt("example.com", "v=spf1 mx -all");
    dns.txt("example.net", "v=spf1 a -all");
    dns.txt("_dmarc.example.com", "v=DMARC1; p=none");
    dns.txt("_dmarc.example.net", "v=DMARC1; p=reject");
}

#[test]
fn published_authentication_records_must_match_what_carrier_signs_and_sends_from() {
    let dns = FakeDns::start();
    dns.a("mx.example.com", "192.0.2.10");
    dns.ptr("192.0.2.10", "mx.example.com");
    dns.mx("example.com", 10, "mx.example.com");
    dns.mx("example.net", 10, "mx.example.com");
    let server = Server::start_with(with_dns(&dns));
    let records = crate::dkim::dkim_records(&server);
    let mut lines = records.lines().filter(|l| l.contains("._domainkey.example.com. "));
    let (stale, _) = lines.next().unwrap().split_once(". ").unwrap();
    dns.txt(stale, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    // SPF that names another server, and two SPF records for example.net.
    dns.txt("example.com", "v=spf1 ip4:198.51.100.1 -all");
    dns.txt("example.net", "v=spf1 mx -all");
    dns.txt("example.net", "v=spf1 a -all");
    let (code, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    for line in [
        &*format!("PROBLEM:     {stale} publishes another key than the one carrier signs with"),
        "._domainkey.example.com is not published, so receivers cannot check the signatures",
        "PROBLEM:     example.com: SPF says fail for this server's address 192.0.2.10 (\"v=spf1 ip4:198.51.100.1 -all\")",
        "fix:       add `ip4:192.0.2.10` or `mx` to it before its `all`",
        "PROBLEM:     example.net has 2 SPF records; receivers treat that as an error (RFC 7208 4.5)",
        "PROBLEM:     example.com publishes no DMARC policy (RFC 7489)",
        "fix:       publish `_dmarc.example.com. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.com\"`",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn a_tlsa_record_that_matches_no_certificate_is_a_problem_with_the_record_to_publish() {
    let dns = FakeDns::start();
    dns.a("mx.example.com", "192.0.2.10");
    let server = Server::start_with(with_dns(&dns));
    dns.tlsa("_25._tcp.mx.example.com", 3, 1, 1, &[0x5a; 32]);
    let (code, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "PROBLEM:     DANE: none of the 1 TLSA records at _25._tcp.mx.example.com matches the certificate"
        ),
        "{out}"
    );
    let (_, records, _) = server.cli(&["dns-records"], "");
    let published = records.lines().find(|l| l.starts_with("_25._tcp.mx.example.com.")).unwrap();
    let data = published.split("TLSA  ").nth(1).unwrap();
    assert!(out.contains(&format!("fix:       publish `_25._tcp.mx.example.com. IN TLSA {data}`")), "{out}");
    // The record dns-records prints is the one that matches.
    let hex = data.rsplit(' ').next().unwrap();
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    dns.tlsa("_25._tcp.mx.example.com", 3, 1, 1, &bytes);
    let (_, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert!(
        out.contains("ok:          DANE: a TLSA record at _25._tcp.mx.example.com matches the certificate"),
        "{out}"
    );
}

#[test]
fn an_mta_sts_policy_must_name_this_server_and_be_fetchable() {
    let dns = FakeDns::start();
    dns.a("mx.example.com", "192.0.2.10");
    let (https_port, mut listeners) = crate::common::sink::common_port(&["127.0.0.6"]);
    let policy = crate::common::https::Https::start(
        listeners.remove(0),
        "mta-sts.example.com",
        "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n",
    );
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &policy.cert_pem).unwrap();
    dns.a("mta-sts.example.com", "127.0.0.6");
    dns.txt("_mta-sts.example.com", "v=STSv1; id=1;");
    dns.txt("_mta-sts.example.net", "v=STSv1; id=1;"); // and no policy server at all
    let server = Server::start_with(Options {
        sections: format!(
            "{}[delivery]\nmta_sts_port = {https_port}\nca_file = {:?}\n",
            dns.config(),
            ca.path().display().to_string()
        ),
        ..Options::default()
    });
    let (code, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    for line in [
        "PROBLEM:     example.com: its MTA-STS policy (mode Enforce) names mx mx.example.org, not mx.example.com; senders that enforce it will not deliver here",
        "fix:       add `mx: mx.example.com` to the policy at https://mta-sts.example.com/.well-known/mta-sts.txt, then change the id in `_mta-sts.example.com`",
        "PROBLEM:     example.net: `_mta-sts.example.net` is published but its policy cannot be fetched: mta-sts.example.net does not exist in DNS",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    policy.set_body("version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n");
    let (_, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert!(out.contains("ok:          example.com: MTA-STS policy (mode Enforce) names this server"), "{out}");
}

#[test]
fn missing_dns_records_and_blocked_port_25_are_problems_with_fixes() {
    let dns = FakeDns::start();
    dns.a("mx.example.com", "192.0.2.10");
    dns.mx("example.com", 10, "mail.elsewhere.example");
    let server = Server::configure(with_dns(&dns));
    let probe = format!("127.0.0.1:{}", closed_port());
    let (code, out, _) = server.cli(&["check", "--outbound-probe", &probe], "");
    assert_eq!(code, 1, "{out}");
    for line in [
        "PROBLEM:     192.0.2.10 has no reverse DNS (PTR) record",
        "fix:       ask whoever runs the address 192.0.2.10",
        "PROBLEM:     example.com: MX points at mail.elsewhere.example, which is not this server (mx.example.com)",
        "fix:       publish `example.com. IN MX 10 mx.example.com.`",
        "PROBLEM:     example.net has no MX record and no address record pointing here",
        "PROBLEM:     outgoing SMTP to 127.0.0.1:",
        "smarthost",
        "PROBLEM:     example.com has no SPF record",
        "fix:       publish `example.com. IN TXT \"v=spf1 mx -all\"`",
        "PROBLEM:     example.net publishes no DMARC policy",
        // Two SPF and two DMARC problems; the daemon never ran, so no DKIM key exists yet.
        "8 problems found",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn without_network_it_says_what_it_could_not_check() {
    // A name server address where nothing answers: like a host without network.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Server::configure(Options {
        sections: format!("[dns]\nnameservers = [\"127.0.0.1:{port}\"]\n"),
        ..Options::default()
    });
    let (code, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not checked: DNS (forward, reverse, MX): no answer"), "{out}");
    assert!(out.contains("not checked: outgoing SMTP (--no-outbound)"), "{out}");
    assert!(out.contains("no problems found"), "{out}");
}

#[test]
fn broken_configs_name_the_problem_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("carrier.toml");
    let data = dir.path().join("data");
    let write = |text: &str| std::fs::write(&cfg, format!("data_dir = \"{}\"\n{text}", data.display())).unwrap();

    write("hostname = \"mx\"\n");
    let (code, out, _) = run_cli(&cfg, &["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("hostname `mx` is not fully qualified; set `hostname = \"mx.example.com\"`"), "{out}");
    assert!(out.contains("fix:"), "{out}");

    write("hostname = \"mx.example.com\"\n\n[smtp]\nmax_recipents = 5\n");
    let (code, out, _) = run_cli(&cfg, &["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("carrier.toml:5: `smtp.max_recipents`: unknown field"), "{out}");

    write(
        "hostname = \"mx.example.com\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n[tls]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n",
    );
    let (code, out, _) = run_cli(&cfg, &["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM:     TLS: [tls] cert ") && out.contains("missing.pem does not exist"), "{out}");
    assert!(out.contains("certbot certonly --standalone -d mx.example.com"), "{out}");
}

#[test]
fn a_wrong_name_an_expiring_certificate_and_open_permissions_are_problems() {
    let server = Server::configure(Options {
        sections: "[dns]\nnameservers = [\"127.0.0.1:9\"]\n".into(),
        ..Options::default()
    });
    let tls = server.dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["other.example.org".to_string()]).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + (now + std::time::Duration::from_secs(5 * 86_400 + 3600));
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(tls.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(tls.join("key.pem"), key.serialize_pem()).unwrap();
    let config = std::fs::read_to_string(&server.config).unwrap();
    let extra = format!("[tls]\ncert = \"{0}/cert.pem\"\nkey = \"{0}/key.pem\"\n", tls.display());
    std::fs::write(&server.config, config + &extra).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(server.data_dir().join("users"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, _) = server.cli(&["check", "--no-outbound"], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is for other.example.org, not mx.example.com"), "{out}");
    assert!(out.contains("cert.pem expires in 5 days") && out.contains("renew"), "{out}");
    assert!(out.contains("users has mode 644") && out.contains("chmod 600"), "{out}");
}

/// Issue 15.7: the probe looked its target up with the system resolver, ignoring
/// `[dns] nameservers`, and blamed a DNS failure on a blocked port 25.
#[test]
fn the_outbound_probe_uses_carriers_resolver_and_names_the_real_cause() {
    let dns = FakeDns::start();
    let port = fake_smtp();
    dns.a("smtp.probe.example", "127.0.0.1");
    dns.servfail("broken.probe.example");
    let server = Server::configure(with_dns(&dns));
    let check = |target: &str| server.cli(&["check", "--outbound-probe", target], "").1;
    // Only the fake DNS knows this name.
    let out = check(&format!("smtp.probe.example:{port}"));
    let works = format!("ok:          outgoing SMTP to smtp.probe.example:{port} (127.0.0.1) works (220 probe.example");
    assert!(out.contains(&works), "{out}");
    let out = check("nowhere.probe.example:25");
    let dns_cause = "PROBLEM:     outgoing SMTP to nowhere.probe.example:25: the name servers say \
                     nowhere.probe.example does not exist, so port 25 was not tried";
    assert!(out.contains(dns_cause), "{out}");
    assert!(
        out.contains(&format!("fix:       check the name servers carrier asks ([dns] nameservers = {})", dns.addr))
    );
    assert!(!out.contains("block"), "a DNS failure is not a blocked port: {out}");
    let out = check("broken.probe.example:25");
    assert!(out.contains("not checked: outgoing SMTP to broken.probe.example:25: cannot look up"), "{out}");
    // A reset is told apart from the silence of a provider's block.
    let out = check(&format!("127.0.0.1:{}", closed_port()));
    assert!(out.contains("127.0.0.1 refused the connection on port") && !out.contains("is blocked"), "{out}");
}

/// Issue 15.7: check approved a data_dir the daemon could not use: below a file, or not
/// writable by the account the daemon runs as.
#[test]
fn data_dir_must_be_a_directory_the_daemons_account_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("carrier.toml");
    let write = |data: &std::path::Path, user: &str| {
        let text = format!(
            "hostname = \"mx.example.com\"\ndata_dir = \"{}\"\ndomains = [\"example.com\"]\nuser = \"{user}\"\n\
             [dns]\nnameservers = [\"127.0.0.1:9\"]\n",
            data.display()
        );
        std::fs::write(&cfg, text).unwrap();
    };
    let check = || run_cli(&cfg, &["check", "--no-outbound"], "");
    let (_, login) = carrier_accounts::passwd::caller();
    let user = if crate::common::is_root() { "nobody" } else { login.as_str() };

    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory\n").unwrap();
    write(&file.join("data"), user);
    let (code, out, _) = check();
    assert_eq!(code, 1, "{out}");
    let what = format!("PROBLEM:     data_dir {}/data: {} is a file, not a directory", file.display(), file.display());
    assert!(out.contains(&what), "{out}");

    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("users"), "").unwrap();
    write(&data, user);
    if crate::common::is_root() {
        // nobody cannot even reach it inside a private directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let (code, out, _) = check();
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(&format!("nobody may not enter {}", dir.path().display())), "{out}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    } else {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    let (code, out, _) = check();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("PROBLEM:     {user}, who runs the daemon, may not write {}", data.display())),
        "{out}"
    );
    assert!(out.contains(&format!("fix:       chown -R {user}: {}", data.display())), "{out}");
    if crate::common::is_root() {
        let status = std::process::Command::new("chown").args(["-R", "nobody:"]).arg(&data).status().unwrap();
        assert!(status.success());
    } else {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (_, out, _) = check();
    assert!(out.contains(&format!("ok:          data_dir {} is writable by {user}", data.display())), "{out}");
}
