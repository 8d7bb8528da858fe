//! A queue file damaged in any way is an error, never a panic or a misread.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = carrier_spool::parse_queue_file(data);
});
