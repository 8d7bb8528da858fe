//! The hand-off from local commands, which any local user feeds to the daemon: a
//! submission (control socket SUBMIT, pickup file) is decoded without panicking, and what
//! decodes encodes back to the same submission; a control-socket answer decodes without
//! panicking.
#![no_main]

use carrier_mta::handoff::Submission;
use carrier_mta::handoff::control::Answer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sub) = Submission::decode(data) {
        assert_eq!(Submission::decode(&sub.encode()).as_ref(), Ok(&sub));
    }
    let _ = Answer::decode(&mut &data[..]);
});
