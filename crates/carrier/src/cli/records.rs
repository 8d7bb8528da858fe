//! `carrier dns-records`: the DNS records to publish for each local domain, in zone-file
//! syntax (RFC 1035 5), with a comment saying what each is for. Pure: configuration and keys
//! in, text out.

use carrier_config::Config;
use carrier_mailauth::Keyring;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Prints the records, with the DKIM keys found in data_dir and the TLSA record of the
/// listeners' certificate.
pub fn print(cfg: &Config) -> Result<(), String> {
    let keys = Keyring::load(cfg).map_err(|e| format!("cannot read the DKIM keys: {e}"))?;
    let cert_file = cfg.tls.as_ref().map_or_else(|| cfg.data_dir.join("tls/cert.pem"), |t| t.cert.clone());
    let cert = std::fs::read(cert_file).ok().and_then(|pem| carrier_tls::certinfo::first_certificate(&pem));
    print!("{}", render(cfg, &keys, cert.as_deref()));
    Ok(())
}

/// The whole text for every local domain; `cert` is the listeners' certificate (DER).
pub fn render(cfg: &Config, keys: &Keyring, cert: Option<&[u8]>) -> String {
    let host = &cfg.hostname;
    let mut out = String::new();
    let _ = writeln!(out, "; DNS records for carrier on {host} (carrier dns-records).");
    let _ = writeln!(out, "; Publish each block in the zone it names; `carrier check` verifies the result.\n");
    host_block(cfg, &mut out);
    dane_block(cfg, cert, &mut out);
    for domain in &cfg.domains {
        domain_block(cfg, keys, domain, &mut out);
    }
    out
}

fn record(out: &mut String, name: &str, kind: &str, data: &str) {
    let _ = writeln!(out, "{:<40} 3600 IN {kind:<5} {data}", format!("{name}."));
}

fn comment(out: &mut String, text: &str) {
    let _ = writeln!(out, "; {text}");
}

/// The server's own name: its addresses and an SPF record for its HELO identity.
fn host_block(cfg: &Config, out: &mut String) {
    let host = &cfg.hostname;
    comment(out, &format!("--- the server itself: {host}"));
    let public: Vec<IpAddr> =
        cfg.listen.smtp.iter().map(SocketAddr::ip).filter(|ip| !ip.is_unspecified() && !ip.is_loopback()).collect();
    if public.is_empty() {
        comment(out, "its addresses (fill in the public ones; carrier listens on all of them):");
        let _ = writeln!(out, "; {:<38} 3600 IN A     <this server's public IPv4 address>", format!("{host}."));
        let _ = writeln!(out, "; {:<38} 3600 IN AAAA  <its public IPv6 address, if any>", format!("{host}."));
    } else {
        comment(out, "its addresses:");
        for ip in public {
            record(out, host, if ip.is_ipv4() { "A" } else { "AAAA" }, &ip.to_string());
        }
    }
    comment(out, "and the reverse (PTR) record of each address must be this name: ask your hosting provider");
    comment(out, "SPF for the name the server greets with (RFC 7208 2.3):");
    record(out, host, "TXT", "\"v=spf1 a -all\"");
    out.push('\n');
}

/// RFC 7672 3.1.1, RFC 7671 5.1: a `3 1 1` TLSA record for the certificate's key, for
/// senders that check DANE. Only useful (and only safe) in a DNSSEC-signed zone.
fn dane_block(cfg: &Config, cert: Option<&[u8]>, out: &mut String) {
    let host = &cfg.hostname;
    comment(out, "DANE (RFC 7672), only if this zone is DNSSEC-signed; before the certificate's key changes,");
    comment(out, "publish the new key's record beside this one (a renewal with the same key keeps it):");
    match cert.and_then(carrier_tls::dane::Tlsa::end_entity) {
        Some(tlsa) => record(out, &format!("_25._tcp.{host}"), "TLSA", &tlsa.to_string()),
        None => comment(out, "(no certificate yet: run `carrier dns-records` again after the first start)"),
    }
    out.push('\n');
}

fn domain_block(cfg: &Config, keys: &Keyring, domain: &str, out: &mut String) {
    let host = &cfg.hostname;
    comment(out, &format!("--- {domain}"));
    comment(out, "mail for the domain comes to this server:");
    record(out, domain, "MX", &format!("10 {host}."));
    comment(out, "SPF (RFC 7208): only the domain's MX hosts send its mail");
    record(out, domain, "TXT", "\"v=spf1 mx -all\"");
    comment(out, "DMARC (RFC 7489): start by collecting reports, then raise p= to quarantine or reject");
    record(out, &format!("_dmarc.{domain}"), "TXT", &format!("\"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\""));
    dkim_records(cfg, keys, domain, out);
    comment(out, "TLS reporting (RFC 8460): receivers report TLS problems with your server here");
    record(out, &format!("_smtp._tls.{domain}"), "TXT", &format!("\"v=TLSRPTv1; rua=mailto:postmaster@{domain}\""));
    comment(out, &format!("MTA-STS (RFC 8461), once https://mta-sts.{domain}/.well-known/mta-sts.txt serves a policy"));
    comment(
        out,
        &format!(
            "(\"version: STSv1\", \"mode: enforce\", \"mx: {host}\", \"max_age: 604800\"); until then leave it out:"
        ),
    );
    let _ = writeln!(out, "; {:<38} 3600 IN TXT   \"v=STSv1; id=1\"", format!("_mta-sts.{domain}."));
    comment(
        out,
        "mail clients find their servers by these (RFC 6186; _submissions RFC 8314); \". \" means not offered",
    );
    for (service, listen, default) in services(cfg) {
        let data = match listen {
            Some(port) => format!("0 1 {} {host}.", if port == 0 { default } else { port }),
            None => "0 0 0 .".to_string(),
        };
        record(out, &format!("{service}._tcp.{domain}"), "SRV", &data);
    }
    out.push('\n');
}

/// The DKIM key records (RFC 6376 3.6.2.2): every key carrier has for the domain, the ones
/// that sign and the ones kept until they are retired.
fn dkim_records(cfg: &Config, keys: &Keyring, domain: &str, out: &mut String) {
    let mut any = false;
    for key in keys.of(domain) {
        let role = if key.signing { "signs" } else { "no longer signs; remove after `carrier dkim retire`" };
        comment(out, &format!("DKIM key {} ({}, {role}):", key.selector, key.kind.tag()));
        record(out, &key.record_name(), "TXT", &txt_strings(&key.record()));
        any = true;
    }
    if !any && cfg.dkim.sign {
        comment(
            out,
            "DKIM: no key yet; `carrier serve` makes one at its first start (or `carrier dkim rotate DOMAIN`)",
        );
    }
}

/// A TXT value as quoted strings of at most 255 octets each (RFC 1035 3.3.14); an RSA-2048
/// key record needs two.
fn txt_strings(text: &str) -> String {
    let chunks: Vec<String> =
        text.as_bytes().chunks(255).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
    chunks.join(" ")
}

/// (SRV service label, configured port if the service listens, standard port).
fn services(cfg: &Config) -> [(&'static str, Option<u16>, u16); 7] {
    let port = |addrs: &[SocketAddr]| addrs.first().map(SocketAddr::port);
    let l = &cfg.listen;
    [
        ("_submission", port(&l.submission), 587),
        ("_submissions", port(&l.smtps), 465),
        ("_imap", port(&l.imap), 143),
        ("_imaps", port(&l.imaps), 993),
        ("_pop3", port(&l.pop3), 110),
        ("_pop3s", port(&l.pop3s), 995),
        // RFC 5804 1.8: clients find the ManageSieve server this way.
        ("_sieve", port(&l.managesieve), 4190),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_plain(cfg: &Config) -> String {
        render(cfg, &Keyring::default(), None)
    }

    #[test]
    fn the_certificate_gets_a_dane_ee_record_of_its_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example.com".into()]).unwrap().self_signed(&key).unwrap();
        let cfg = config("");
        let text = render(&cfg, &Keyring::default(), Some(cert.der()));
        let expected = carrier_tls::dane::Tlsa::end_entity(cert.der()).unwrap().to_string();
        assert!(expected.starts_with("3 1 1 ") && expected.len() == 6 + 64, "{expected}");
        let line = format!("_25._tcp.mx.example.com.                 3600 IN TLSA  {expected}");
        assert!(text.contains(&line), "{text}");
        assert!(render_plain(&cfg).contains("no certificate yet"));
    }

    fn config(extra: &str) -> Config {
        let text = format!("hostname = \"mx.example.com\"\ndomains = [\"example.com\", \"example.org\"]\n{extra}");
        Config::parse(&text, std::path::Path::new("/etc/carrier/carrier.toml")).unwrap()
    }

    #[test]
    fn every_domain_gets_mx_spf_dmarc_tlsrpt_and_srv() {
        let text = render_plain(&config(
            "[listen]\nsmtp = [\"0.0.0.0:25\"]\nsubmission = [\"0.0.0.0:587\"]\nimaps = [\"[::]:993\"]\n",
        ));
        for domain in ["example.com", "example.org"] {
            for line in [
                format!("{domain}.{} 3600 IN MX    10 mx.example.com.", " ".repeat(40 - domain.len() - 1)),
                "IN TXT   \"v=spf1 mx -all\"".to_string(),
                format!("_dmarc.{domain}."),
                format!("\"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\""),
                format!("\"v=TLSRPTv1; rua=mailto:postmaster@{domain}\""),
                format!("; _mta-sts.{domain}."),
            ] {
                assert!(text.contains(&line), "missing {line:?}:\n{text}");
            }
            let srv = |s: &str| format!("{s}._tcp.{domain}.");
            let line_of = |s: &str| text.lines().find(|l| l.starts_with(&srv(s))).unwrap_or_default().to_string();
            assert!(line_of("_submission").ends_with("IN SRV   0 1 587 mx.example.com."), "{text}");
            assert!(line_of("_imaps").ends_with("IN SRV   0 1 993 mx.example.com."), "{text}");
            // Not configured: RFC 6186 3.4's "." target says the service is not offered.
            assert!(line_of("_pop3s").ends_with("IN SRV   0 0 0 ."), "{text}");
            assert!(line_of("_submissions").ends_with("IN SRV   0 0 0 ."), "{text}");
        }
        assert!(text.contains("; mx.example.com.") && text.contains("<this server's public IPv4 address>"), "{text}");
        assert!(text.contains("mx.example.com.                          3600 IN TXT   \"v=spf1 a -all\""), "{text}");
    }

    #[test]
    fn a_specific_listen_address_is_the_a_record() {
        let text = render_plain(&config("[listen]\nsmtp = [\"203.0.113.5:25\", \"[2001:db8::5]:25\"]\n"));
        assert!(text.contains("mx.example.com.                          3600 IN A     203.0.113.5"), "{text}");
        assert!(text.contains("mx.example.com.                          3600 IN AAAA  2001:db8::5"), "{text}");
    }
}
