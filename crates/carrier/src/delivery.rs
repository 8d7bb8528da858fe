//! Local delivery: takes queued messages from the spool into users' Maildirs.
//!
//! Delivery is idempotent: each (message, recipient) pair has a stable Maildir name,
//! so a crash between writing the mailbox and recording the status cannot duplicate
//! a message (the store recognises its own earlier write).

use carrier_smtp::trace::{self, Trace};
use carrier_spool::{Envelope, QueueId, Spool, Status};
use carrier_store::{Delivery, MailboxStore, Maildir};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, mpsc};
use tracing::{info, warn};

/// Concurrent deliveries: enough to overlap fsyncs, few enough not to thrash 2 cores.
const PARALLEL: usize = 8;

/// A handle to hand queued messages to the delivery agent.
#[derive(Clone)]
pub struct Agent {
    jobs: mpsc::UnboundedSender<(QueueId, bool)>,
}

impl Agent {
    /// Queues a message for delivery; `recovering` after a restart.
    pub fn submit(&self, id: QueueId, recovering: bool) {
        let _ = self.jobs.send((id, recovering));
    }
}

/// What the delivery agent needs.
pub struct Context {
    /// The queue.
    pub spool: Spool,
    /// The mailbox store.
    pub store: Maildir,
    /// Our host name for Received:.
    pub hostname: String,
    /// Retry schedule for deferred local deliveries.
    pub retry: Vec<Duration>,
    /// Successful deliveries, for `carrier status`.
    pub delivered: Arc<crate::stats::Recent>,
}

/// Starts the agent; returns the handle used to submit work.
pub fn start(ctx: Context) -> Agent {
    let (tx, mut rx) = mpsc::unbounded_channel::<(QueueId, bool)>();
    let agent = Agent { jobs: tx };
    let ctx = Arc::new(ctx);
    let slots = Arc::new(Semaphore::new(PARALLEL));
    let retry_agent = agent.clone();
    tokio::spawn(async move {
        while let Some((id, recovering)) = rx.recv().await {
            let permit = slots.clone().acquire_owned().await.expect("semaphore open");
            let ctx = ctx.clone();
            let agent = retry_agent.clone();
            tokio::spawn(async move {
                let job_ctx = ctx.clone();
                let job_id = id.clone();
                let outcome = tokio::task::spawn_blocking(move || deliver(&job_ctx, &job_id, recovering)).await;
                drop(permit);
                match outcome {
                    Ok(Some(wait)) => {
                        tokio::time::sleep(wait).await;
                        agent.submit(id, true);
                    }
                    Ok(None) => {}
                    Err(e) => warn!("{id}: delivery task failed: {e}"),
                }
            });
        }
    });
    agent
}

/// Delivers every pending local recipient of one message. Returns when to try again,
/// if some recipient was deferred.
fn deliver(ctx: &Context, id: &QueueId, recovering: bool) -> Option<Duration> {
    let (envelope, message) = match ctx.spool.load(id) {
        Ok(loaded) => loaded,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None, // deleted meanwhile
        Err(e) => {
            warn!("{id}: cannot read queue file: {e}");
            return Some(ctx.retry[0]);
        }
    };
    let body = to_unix_newlines(&message);
    let mut changes = Vec::new();
    for (index, rcpt) in envelope.recipients.iter().enumerate() {
        if rcpt.status.is_final() || !rcpt.local {
            continue;
        }
        let tries = match &rcpt.status {
            Status::Deferred { tries, .. } => *tries,
            _ => 0,
        };
        changes.push((index, deliver_one(ctx, id, &envelope, index, &body, recovering, tries)));
    }
    let final_now = |i: usize| changes.iter().any(|(c, s)| *c == i && s.is_final());
    let all_final = (0..envelope.recipients.len()).all(|i| envelope.recipients[i].status.is_final() || final_now(i));
    if all_final {
        // Nothing is left to do, so the statuses need no record: the queue file goes. A crash
        // before the removal redelivers, and the store recognises what it already has.
        match ctx.spool.remove(id) {
            Ok(()) => info!("{id}: removed"),
            Err(e) => warn!("{id}: cannot remove from queue: {e}"),
        }
        return None;
    }
    record(ctx, id, changes)
}

/// Writes the new statuses; returns when to try again if a recipient was deferred.
fn record(ctx: &Context, id: &QueueId, changes: Vec<(usize, Status)>) -> Option<Duration> {
    let mut retry_in: Option<Duration> = None;
    for (index, status) in changes {
        if let Status::Deferred { next_try, .. } = &status {
            let wait = next_try.duration_since(SystemTime::now()).unwrap_or_default();
            retry_in = Some(retry_in.map_or(wait, |w| w.min(wait)));
        }
        if let Err(e) = ctx.spool.update(id, index, status) {
            // The mailbox has the message; a retry will find it there and not duplicate it.
            warn!("{id}: cannot record delivery status: {e}");
            retry_in = Some(ctx.retry[0]);
        }
    }
    retry_in
}

fn deliver_one(
    ctx: &Context,
    id: &QueueId,
    env: &Envelope,
    index: usize,
    body: &[u8],
    recovering: bool,
    tries: u32,
) -> Status {
    let rcpt = &env.recipients[index];
    let id_text = id.to_string();
    let return_path = trace::return_path(&env.sender).replace("\r\n", "\n");
    let received = trace::received(&Trace {
        helo: &env.helo,
        client_name: &env.client_name,
        client_ip: env.client_ip,
        hostname: &ctx.hostname,
        proto: &env.proto,
        id: &id_text,
        recipient: Some(&rcpt.orig),
        time: env.received,
    })
    .replace("\r\n", "\n");
    let unique = format!("{id}.{index}");
    let parts: [&[u8]; 3] = [return_path.as_bytes(), received.as_bytes(), body];
    let delivery = Delivery { user: &rcpt.address, id: &unique, time: env.received, parts: &parts, recovering };
    let delay = env.received.elapsed().unwrap_or_default().as_secs_f64();
    let orig = if rcpt.orig.eq_ignore_ascii_case(&rcpt.address) {
        String::new()
    } else {
        format!(", orig_to=<{}>", rcpt.orig)
    };
    match ctx.store.deliver(&delivery) {
        Ok(done) => {
            ctx.delivered.record();
            let note = if done.duplicate { "already in mailbox" } else { "delivered to maildir" };
            info!(
                "{id}: to=<{}>{orig}, relay=local, delay={delay:.2}, tries={}, dsn=2.0.0, stat=Sent ({note})",
                rcpt.address,
                tries + 1
            );
            Status::Delivered { detail: note.into() }
        }
        Err(e) => {
            let wait = ctx.retry[(tries as usize).min(ctx.retry.len() - 1)];
            let error = format!("cannot write to mailbox {}: {e}", ctx.store.path_for(&rcpt.address).display());
            info!(
                "{id}: to=<{}>{orig}, relay=local, delay={delay:.2}, tries={}, dsn=4.3.0, stat=Deferred: {error}",
                rcpt.address,
                tries + 1
            );
            Status::Deferred { next_try: SystemTime::now() + wait, tries: tries + 1, error }
        }
    }
}

/// Maildir files use Unix line ends, as mutt, Postfix local(8) and Dovecot expect.
fn to_unix_newlines(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut i = 0;
    while i < message.len() {
        if message[i] == b'\r' && message.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(message[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_becomes_lf_and_bare_cr_stays() {
        assert_eq!(to_unix_newlines(b"a\r\nb\r\n\r\nc\rd"), b"a\nb\n\nc\rd");
    }
}
