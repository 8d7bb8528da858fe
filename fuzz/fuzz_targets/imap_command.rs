//! The IMAP command grammar on one line of any bytes, and modified UTF-7 round trips.
#![no_main]

use carrier_imap::mutf7;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = carrier_imap::parser::parse(data);
    if let Some(name) = mutf7::decode(data) {
        assert_eq!(mutf7::decode(mutf7::encode(&name).as_bytes()).as_deref(), Some(name.as_str()));
    }
});
