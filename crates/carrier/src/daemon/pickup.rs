//! The daemon's pickup task: takes in the files `sendmail` left in the pickup directory while
//! the daemon was down (the format is carrier-mta's `handoff::pickup`), at start and every
//! few seconds after.

use super::shared::Server;
use carrier_mta::handoff::pickup::{dir, names, read, remove_if_stale, set_aside};
use carrier_mta::handoff::{self, Submission};
use carrier_mta::{Message, Unknown, sysexits};
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// How often the daemon looks for new files.
const SCAN_EVERY: Duration = Duration::from_secs(5);

/// The daemon's side: takes in what is there now, then looks again every few seconds.
pub async fn run(server: Arc<Server>) {
    let mut tick = tokio::time::interval(SCAN_EVERY);
    loop {
        tick.tick().await;
        scan(&server).await;
    }
}

/// Takes in every complete file in the directory.
async fn scan(server: &Server) {
    let dir = dir(&server.cfg.data_dir);
    let names = match names(&server.cfg.data_dir) {
        Ok(names) => names,
        Err(e) => return warn!("pickup: cannot read {}: {e}", dir.display()),
    };
    for name in names {
        let path = dir.join(&name);
        if name.starts_with(".tmp.") {
            remove_if_stale(&path);
        } else if !name.starts_with('.') {
            take(server, &path, &name).await;
        }
    }
}

async fn take(server: &Server, path: &Path, name: &str) {
    let (bytes, uid) = match read(path, handoff::max_submission(server.cfg.smtp.max_message_size)) {
        Ok(read) => read,
        Err(e) => return set_aside(path, name, &format!("cannot be read: {e}")),
    };
    let sub = match Submission::decode(&bytes) {
        Ok(sub) => sub,
        Err(e) => return set_aside(path, name, &format!("is not a submission: {e}")),
    };
    match server.intake.accept(Message::from_submission(sub, uid), Unknown::Fail).await {
        Ok(accepted) => {
            info!("{}: picked up {name} from the pickup directory", accepted.id);
            // A crash before this unlink takes the file in again: a duplicate, never a loss.
            if let Err(e) = fs::remove_file(path) {
                warn!("pickup: cannot remove {}: {e}; it may be delivered twice", path.display());
            }
        }
        Err(r) if r.exit == sysexits::TEMPFAIL => warn!("pickup: {name} stays for the next scan: {}", r.text()),
        Err(r) => set_aside(path, name, r.text()),
    }
}
