//! The Sieve compiler on any bytes: never panics, and every error names a place inside the
//! script (line 1 or later, within the script's line count).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u32;
    if let Err(errors) = carrier_sieve::compile(data) {
        assert!(!errors.0.is_empty(), "an error without a message");
        for e in &errors.0 {
            assert!(e.pos.line >= 1 && e.pos.line <= lines, "{e} outside {lines} lines");
        }
    }
});
