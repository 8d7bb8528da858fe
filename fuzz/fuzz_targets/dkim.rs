//! DKIM signing and the header canonicalisation around it, on any message: signing does not
//! panic, the body hash a verifier computes for what carrier signed is the one carrier wrote,
//! and removing forged Authentication-Results only ever removes lines.
#![no_main]

use carrier_mailauth::verify::strip_forged;
use carrier_mailauth::{Keyring, Signer, keys};
use libfuzzer_sys::fuzz_target;
use mail_auth::AuthenticatedMessage;
use std::sync::LazyLock;

/// Keys made once, in a directory that lives as long as the fuzzer.
static SIGNER: LazyLock<(tempfile::TempDir, Signer)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = carrier_config::Config::development();
    cfg.data_dir = dir.path().to_path_buf();
    cfg.domains = vec!["example.com".into()];
    keys::ensure(&cfg, std::time::SystemTime::now()).unwrap();
    let signer = Signer::new(Keyring::load(&cfg).unwrap());
    (dir, signer)
});

fuzz_target!(|data: &[u8]| {
    if let Some(kept) = strip_forged(data, "mx.example.com") {
        assert!(kept.len() < data.len(), "strip_forged removed nothing but said it did");
    }
    // A From: of ours first, so there is something to sign whatever follows.
    let message = [&b"From: a@example.com\r\n"[..], data].concat();
    let Ok(Some((fields, _))) = SIGNER.1.sign(&message) else { return };
    let signed = [fields.as_bytes(), &message].concat();
    let Some(parsed) = AuthenticatedMessage::parse(&signed) else { return };
    for sig in parsed.dkim_headers.iter().map(|h| &h.header).filter(|s| s.d == "example.com") {
        let computed = parsed.body_hashes.iter().find(|(c, _, l, _)| *c == sig.cb && *l == sig.l).map(|b| &b.3);
        assert_eq!(computed, Some(&sig.bh), "the body hash carrier signed is not the one a verifier computes");
    }
});
