//! The SMTP client's reply reader and EHLO parser on whatever a remote server sends.
#![no_main]

use carrier_smtp::client::{Capabilities, ResponseReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = ResponseReader::default();
    for piece in data.chunks(7) {
        reader.feed(piece);
        while let Ok(Some(reply)) = reader.next_response() {
            assert!((200..600).contains(&reply.code));
            let _ = Capabilities::from_ehlo(&reply);
            let status = reply.status();
            assert!(status.starts_with(&(reply.code / 100).to_string()));
            let _ = reply.one_line();
        }
    }
});
