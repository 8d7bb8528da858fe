//! The message a `sendmail` caller writes on stdin. Whatever it is, preparing it does not
//! panic, and a prepared message is one the daemon's intake accepts (CRLF lines that pass
//! the same checks as SMTP DATA).
#![no_main]

use carrier_mta::handoff::message::{Defaults, Options, check_crlf, prepare};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let opts = Options { ignore_dots: flags & 1 != 0, extract: flags & 2 != 0, max_size: 1 << 20 };
    let defaults = Defaults {
        from: "Al Example <al@mx.example.com>".into(),
        date: "Sat, 5 Dec 2026 05:00:00 +0000".into(),
        message_id: "<0G7Q3V8M2K4A01@mx.example.com>".into(),
    };
    if let Ok(prepared) = prepare(input, &opts, &defaults) {
        if let Err(f) = check_crlf(&prepared.message) {
            panic!("prepared message refused by the intake: {}", f.text);
        }
    }
});
