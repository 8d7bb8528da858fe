//! What DKIM signing costs per message: carrier signs every message of its users with two
//! keys (Ed25519 and RSA-2048), relaxed/relaxed. The budget is 0.2 ms per message.
//! `cargo bench --manifest-path bench/Cargo.toml --bench mailauth`.

use carrier_mailauth::{Keyring, Signer, keys};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, SystemTime};

fn message(body_kib: usize) -> Vec<u8> {
    let mut m = b"From: Bob <bob@example.com>\r\nTo: carol@example.org\r\nSubject: a report\r\n\
        Date: Sat, 5 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\n"
        .to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, and then some more words.\r\n";
    while m.len() < body_kib * 1024 {
        m.extend_from_slice(line);
    }
    m
}

fn sign(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cfg = carrier_config::Config::development();
    cfg.data_dir = dir.path().to_path_buf();
    cfg.domains = vec!["example.com".into()];
    keys::ensure(&cfg, SystemTime::now()).expect("keys");
    let both = Keyring::load(&cfg).expect("keyring");
    // Each key alone too, through [[dkim.keys]], to show which one costs what.
    let alone = |kind: keys::Kind| {
        let key = both.keys().iter().find(|k| k.kind == kind).expect("a key of each kind");
        let mut one = cfg.clone();
        one.dkim.keys = vec![carrier_config::DkimKey {
            domain: "example.com".into(),
            selector: key.selector.clone(),
            private_key: key.path.clone(),
        }];
        Signer::new(Keyring::load(&one).expect("keyring"))
    };
    let signers = [
        ("Ed25519 + RSA-2048", Signer::new(Keyring::load(&cfg).expect("keyring"))),
        ("Ed25519", alone(keys::Kind::Ed25519)),
        ("RSA-2048", alone(keys::Kind::Rsa)),
    ];
    let mut g = c.benchmark_group("dkim");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    for kib in [1, 100] {
        let m = message(kib);
        for (name, signer) in &signers {
            g.bench_function(format!("sign {kib} KiB ({name})"), |b| {
                b.iter(|| signer.sign(&m).expect("signs").expect("a key for example.com"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, sign);
criterion_main!(benches);
