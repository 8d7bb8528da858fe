//! What the checks of an incoming message cost (SPF for HELO and MAIL FROM, every DKIM
//! signature, ARC, iprev, DMARC) once DNS answers are cached, as they are for the domains
//! that send a server most of its mail. A DNS server on loopback answers for the sender's
//! domain; the first checks fill the resolver's cache, the measured ones use it.
//! `cargo bench --manifest-path bench/Cargo.toml --bench checks`.

use carrier_mailauth::verify::Facts;
use carrier_mailauth::{Keyring, Signer, Verifier, keys};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::HashMap;

#[path = "../src/dns.rs"]
mod dns;
use std::time::{Duration, SystemTime};

fn checks(c: &mut Criterion) {
    // A sender domain with carrier's own keys, SPF and DMARC: its signed message passes all.
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cfg = carrier_config::Config::development();
    cfg.data_dir = dir.path().to_path_buf();
    cfg.domains = vec!["sender.example".into()];
    keys::ensure(&cfg, SystemTime::now()).expect("keys");
    let keyring = Keyring::load(&cfg).expect("keyring");
    let mut records: HashMap<String, String> = keyring.keys().iter().map(|k| (k.record_name(), k.record())).collect();
    records.insert("sender.example".into(), "v=spf1 ip4:192.0.2.0/24 -all".into());
    records.insert("_dmarc.sender.example".into(), "v=DMARC1; p=reject".into());
    cfg.dns.nameservers = vec![dns_server(records)];
    let message = {
        let body = "The quick brown fox jumps over the lazy dog.\r\n".repeat(20);
        let m = format!(
            "From: news@sender.example\r\nTo: bob@example.com\r\nSubject: checked\r\nDate: Sat, 5 Dec 2026 10:00:00 +0000\r\n\
             Message-ID: <1@sender.example>\r\n\r\n{body}"
        );
        let (fields, _) = Signer::new(keyring).sign(m.as_bytes()).expect("signs").expect("signed");
        format!("{fields}{m}").into_bytes()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let verifier = rt.block_on(async {
        Verifier::new(carrier_mta::dns::resolver(&cfg).expect("resolver"), "mx.example.com", cfg.authentication.clone())
    });
    let facts =
        Facts { ip: "192.0.2.7".parse().expect("address"), helo: "mail.sender.example", sender: "news@sender.example" };
    let verdict = rt.block_on(verifier.verify(&facts, &message, None));
    assert!(verdict.summary.starts_with("dkim=pass spf=pass dmarc=pass"), "{}", verdict.summary);
    let mut g = c.benchmark_group("checks");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    g.bench_function("1 KiB message, two signatures, cached DNS", |b| {
        b.iter(|| rt.block_on(verifier.verify(&facts, &message, None)))
    });
    g.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
