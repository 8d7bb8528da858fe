//! `carrier dkim list|rotate|retire`: the DKIM keys of the local domains.

use crate::privileges;
use carrier_config::Config;
use carrier_mailauth::{Keyring, keys};
use carrier_mta::handoff::control::{self, Answer};
use clap::Subcommand;
use std::time::{Duration, SystemTime};

/// What to do with DKIM keys.
#[derive(Subcommand)]
pub enum Action {
    /// List every key: domain, selector, algorithm, signing or only published.
    List,
    /// Make a new pair of keys (Ed25519 and RSA) for DOMAIN and sign with them from now on;
    /// the old keys stay published until `retire`.
    Rotate { domain: String },
    /// Stop publishing a key that no longer signs (after `rotate`, once mail signed with it
    /// has been delivered).
    Retire { domain: String, selector: String },
}

pub fn run(cfg: &Config, action: Action) -> Result<(), String> {
    match action {
        Action::List => {
            let keyring = Keyring::load(cfg)?;
            if keyring.keys().is_empty() {
                println!(
                    "No DKIM keys yet: `carrier serve` makes them at its first start, or run `carrier dkim rotate DOMAIN`."
                );
            }
            for key in keyring.keys() {
                let state = if key.signing { "signing" } else { "published, not signing" };
                println!(
                    "{:<30} {:<14} {:<8} {state}  {}",
                    key.domain,
                    key.selector,
                    key.kind.tag(),
                    key.path.display()
                );
            }
            Ok(())
        }
        Action::Rotate { domain } => {
            let domain = domain.to_ascii_lowercase();
            let (selectors, created) = keys::rotate(cfg, &domain, SystemTime::now())?;
            for path in &created {
                privileges::own(cfg, path)?;
            }
            println!("New DKIM keys for {domain}: {}.", selectors.join(" and "));
            println!("Publish their records (`carrier dns-records` prints them); {}", reload(cfg));
            println!(
                "Keep the old records published until mail signed with them has been delivered, then `carrier dkim retire {domain} SELECTOR`."
            );
            Ok(())
        }
        Action::Retire { domain, selector } => {
            let moved = keys::retire(cfg, &domain.to_ascii_lowercase(), &selector)?;
            println!(
                "Retired {selector} of {domain} (the key is kept in {}); remove its TXT record from DNS.",
                moved.display()
            );
            Ok(())
        }
    }
}

/// Tells the running daemon to read the keys again.
fn reload(cfg: &Config) -> String {
    match control::request(&cfg.data_dir, "DKIM-RELOAD", b"", Duration::from_secs(10)) {
        Ok(Answer::Ok(text)) => format!("the running daemon {text}."),
        Ok(Answer::Err(_, text)) => format!("the daemon did not take them: {text}"),
        _ => "carrier signs with them when it next starts.".to_string(),
    }
}
