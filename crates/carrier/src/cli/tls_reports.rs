//! `carrier tls-reports`: the daily TLS reports (RFC 8460) sent now, by the daemon.

use carrier_config::Config;
use carrier_mta::handoff::control::{self, Answer};
use std::time::Duration;

/// `carrier tls-reports`: asks the daemon to queue the TLS reports now.
pub fn run(cfg: &Config) -> Result<(), String> {
    match control::request(&cfg.data_dir, "TLSRPT", b"", Duration::from_secs(60)) {
        Ok(Answer::Ok(text)) => {
            println!("{text}");
            Ok(())
        }
        Ok(Answer::Err(_, text)) => Err(text),
        Ok(Answer::Body(_)) => Err("unexpected answer from the daemon".into()),
        Err(e) => Err(format!("the carrier daemon is not running ({e}); it sends the reports of each day itself")),
    }
}
