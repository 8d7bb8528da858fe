//! Handing a message to the daemon: over the control socket when it runs, else into the
//! pickup directory. Either way it is durable when this returns Ok.

use carrier_config::Config;
use carrier_mta::handoff::{Submission, control, pickup};
use carrier_mta::sysexits::{self, Failure};
use std::time::Duration;

/// How long to wait for the daemon to store a message.
const DAEMON_WAIT: Duration = Duration::from_secs(300);

/// Where a message went.
pub enum Handed {
    /// The daemon queued it under this id; `warning` names recipients it will bounce.
    Queued { id: String, warning: Option<String> },
    /// The daemon was not reachable (why); the message waits in the pickup directory as `name`.
    Pickup { name: String, why: String },
}

impl Handed {
    /// The id or file name, for `250 Ok: queued as ...`.
    pub fn id(&self) -> &str {
        match self {
            Handed::Queued { id, .. } => id,
            Handed::Pickup { name, .. } => name,
        }
    }
}

impl std::fmt::Display for Handed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handed::Queued { id, .. } => write!(f, "queued as {id}"),
            Handed::Pickup { name, why } => write!(f, "{why}; the message waits in the pickup directory as {name}"),
        }
    }
}

/// Gives the submission to the daemon, or to the pickup directory when the daemon is down.
pub fn hand_over(cfg: &Config, sub: &Submission) -> Result<Handed, Failure> {
    let payload = sub.encode();
    let request = format!("SUBMIT {}", payload.len());
    let why = match control::request(&cfg.data_dir, &request, &payload, DAEMON_WAIT) {
        Ok(control::Answer::Ok(text)) => {
            // `<id>` or `<id> <what the daemon will bounce>`.
            let (id, warning) = match text.split_once(' ') {
                Some((id, warning)) => (id.to_string(), Some(warning.to_string())),
                None => (text, None),
            };
            return Ok(Handed::Queued { id, warning });
        }
        Ok(control::Answer::Err(code, text)) if code != sysexits::TEMPFAIL => return Err(Failure::new(code, text)),
        Ok(control::Answer::Err(_, text)) => format!("the daemon cannot take it now ({text})"),
        Ok(other) => format!("the daemon gave an unexpected answer ({other:?})"),
        Err(e) => format!("the daemon is not running ({e})"),
    };
    match pickup::write(&cfg.data_dir, sub) {
        Ok(name) => Ok(Handed::Pickup { name, why }),
        Err(e) => Err(Failure::new(e.code, format!("{why}, and {}", e.text))),
    }
}
