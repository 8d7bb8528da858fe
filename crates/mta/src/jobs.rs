//! The queue runner's inbox: the intake hands it each new message, the control socket asks
//! it to flush. A handle of its own, so the intake (which the runner uses for bounces) and
//! the runner do not import each other.

use carrier_spool::QueueId;
use tokio::sync::mpsc;

/// Work for the queue runner.
#[derive(Debug)]
pub(crate) enum Job {
    /// Deliver this message's due recipients; `recovering` after a restart (an earlier
    /// attempt may have delivered already).
    Run { id: QueueId, recovering: bool },
    /// Retry every queued message now.
    Flush,
}

/// A handle to give the queue runner work.
#[derive(Clone)]
pub struct Jobs(mpsc::UnboundedSender<Job>);

/// The runner's end of [`Jobs`].
pub struct Inbox(pub(crate) mpsc::UnboundedReceiver<Job>);

/// A handle and the inbox it fills; the inbox goes to [`crate::runner::start`].
pub fn channel() -> (Jobs, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Jobs(tx), Inbox(rx))
}

impl Jobs {
    /// Queues a message for delivery; `recovering` after a restart.
    pub fn submit(&self, id: QueueId, recovering: bool) {
        let _ = self.0.send(Job::Run { id, recovering });
    }

    /// Tries every queued message now (sendmail -q, `carrier queue flush`).
    pub fn flush(&self) {
        let _ = self.0.send(Job::Flush);
    }
}
