//! The daemon's STATUS report over the control socket: listeners, the queue by state,
//! deliveries in the last hour, the DKIM keys that sign, the content filters, the
//! certificate's expiry. It is `key value...` lines
//! (docs/architecture.md), so other tools can read it too; `carrier status` renders it.

use super::shared::Server;
use carrier_spool::Status;
use carrier_tls::certinfo::CertInfo;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

pub async fn report(server: &Server) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "version {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "hostname {}", server.cfg.hostname);
    let _ = writeln!(out, "pid {}", std::process::id());
    let _ = writeln!(out, "started {}", unix(server.started));
    for (service, addr) in &server.listeners {
        let _ = writeln!(out, "listener {service} {addr}");
    }
    let spool = server.spool().clone();
    match tokio::task::spawn_blocking(move || spool.list()).await {
        Ok(Ok(queued)) => {
            let statuses = queued.iter().flat_map(|q| q.envelope.recipients.iter().map(|r| &r.status));
            let (mut pending, mut deferred) = (0, 0);
            for status in statuses {
                match status {
                    Status::Pending => pending += 1,
                    Status::Deferred { .. } => deferred += 1,
                    _ => {}
                }
            }
            let _ =
                writeln!(out, "queue messages {}\nqueue pending {pending}\nqueue deferred {deferred}", queued.len());
        }
        Ok(Err(e)) => {
            let _ = writeln!(out, "queue-error {e}");
        }
        Err(e) => {
            let _ = writeln!(out, "queue-error {e}");
        }
    }
    let _ = writeln!(out, "delivered_last_hour {}", server.delivered.last_hour());
    if server.cfg.dkim.sign {
        for key in server.intake.signer().keyring().keys().iter().filter(|k| k.signing) {
            let _ = writeln!(out, "dkim {} {} {}", key.domain, key.selector, key.kind.tag());
        }
    }
    for milter in &server.cfg.milters {
        let _ = writeln!(out, "milter {}", carrier_mta::milter::describe(&milter.socket));
    }
    let cert = match &server.cfg.tls {
        Some(t) => t.cert.clone(),
        None => server.cfg.data_dir.join("tls/cert.pem"),
    };
    match std::fs::read(&cert).ok().and_then(|pem| CertInfo::from_pem(&pem)) {
        Some(info) => {
            let _ = writeln!(out, "certificate {} {}", unix(info.not_after), cert.display());
        }
        None => {
            let _ = writeln!(out, "certificate-error cannot read {}", cert.display());
        }
    }
    out
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
