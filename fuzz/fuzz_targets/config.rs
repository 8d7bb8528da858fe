//! The configuration file parser: any text is either a Config or an error naming a line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = carrier_config::Config::parse(text, std::path::Path::new("/etc/carrier/carrier.toml")) {
        if let Some(line) = e.line {
            assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line} of {text:?}");
        }
    }
});
