//! The queue runner: takes each queued message's due recipients to the local agent (Maildir)
//! and the remote agent (SMTP), records what happened, bounces what failed, warns of
//! delays, and wakes deferred messages when their retry time comes.
//!
//! One scheduler task owns the timetable and makes sure a message is never worked on twice
//! at once (a flush and a retry timer may ask for the same message together).

use crate::bounce::{self, Kind};
use crate::directory::SharedDirectory;
use crate::intake::{Intake, Message, Origin, Unknown};
use crate::jobs::{Inbox, Job as Request};
use crate::outcome::{Failure, Outcome};
use crate::recent::Recent;
use crate::relay::{self, Relay};
use crate::rules::{self, Plan};
use crate::{local, mailq};
use carrier_config::Config;
use carrier_smtp::trace::{self, Trace};
use carrier_spool::{Envelope, QueueId, Recipient, Spool, Status};
use carrier_store::Maildir;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Concurrent local deliveries: enough to overlap fsyncs, few enough not to thrash 2 cores.
const LOCAL_SLOTS: usize = 8;
/// Messages being relayed at once.
const REMOTE_SLOTS: usize = 64;
/// Connections to one destination at once (Postfix's default_destination_concurrency_limit
/// is 20; small hosts are better served by fewer).
const PER_DESTINATION: usize = 10;

/// How a message should be run.
#[derive(Debug, Clone, Copy, Default)]
struct Job {
    /// After a restart: an earlier attempt may have delivered already (local idempotency).
    recovering: bool,
    /// Retry deferred recipients now, whatever their schedule says (`queue flush`).
    force: bool,
}

impl Job {
    fn merge(self, other: Job) -> Job {
        Job { recovering: self.recovering || other.recovering, force: self.force || other.force }
    }
}

/// What the scheduler tells itself: a flush's messages to run, and passes ending.
enum Msg {
    Run(QueueId, Job),
    /// A pass ended; when to look at the message again.
    Done(QueueId, Option<SystemTime>),
}

/// What the runner needs.
pub struct Context {
    pub cfg: Config,
    /// The queue, and the way bounces go into it.
    pub intake: Intake,
    pub store: Maildir,
    pub relay: Arc<Relay>,
    /// Users and aliases: which local mailboxes still exist.
    pub directory: Arc<SharedDirectory>,
    /// Successful deliveries, for `carrier status`.
    pub delivered: Arc<Recent>,
}

struct Runner {
    ctx: Context,
    spool: Spool,
    /// The scheduler's own inbox, beside the intake's [`Inbox`].
    tx: mpsc::UnboundedSender<Msg>,
    local_slots: Semaphore,
    remote_slots: Arc<Semaphore>,
    destinations: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Starts the runner on the work that arrives in `inbox` (see [`crate::jobs::channel`]).
pub fn start(ctx: Context, inbox: Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runner = Arc::new(Runner {
        spool: ctx.intake.spool().clone(),
        ctx,
        tx,
        local_slots: Semaphore::new(LOCAL_SLOTS),
        remote_slots: Arc::new(Semaphore::new(REMOTE_SLOTS)),
        destinations: Mutex::default(),
    });
    tokio::spawn(schedule(runner, inbox, rx));
}

/// The timetable: which messages run now, which wait until when.
#[derive(Default)]
struct Timetable {
    /// Messages being worked on; Some(job) if asked to run again when done.
    running: HashMap<QueueId, Option<Job>>,
    wakeups: BTreeSet<(SystemTime, QueueId)>,
    wake_of: HashMap<QueueId, SystemTime>,
}

/// `inbox` brings the intake's new messages and flushes (it closes only when every intake is
/// gone, at shutdown); `rx` the scheduler's own messages.
async fn schedule(runner: Arc<Runner>, mut inbox: Inbox, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut t = Timetable::default();
    loop {
        let next = t.wakeups.first().map(|(at, _)| *at);
        let wait =
            next.map_or(Duration::from_secs(3600), |at| at.duration_since(SystemTime::now()).unwrap_or_default());
        tokio::select! {
            request = inbox.0.recv() => match request {
                None => return,
                Some(Request::Run { id, recovering }) => t.run(&runner, id, Job { recovering, force: false }),
                Some(Request::Flush) => flush(&runner),
            },
            msg = rx.recv() => match msg {
                None => return,
                Some(Msg::Run(id, job)) => t.run(&runner, id, job),
                Some(Msg::Done(id, wake)) => match t.running.remove(&id).flatten() {
                    Some(job) => t.run(&runner, id, job),
                    None => {
                        if let Some(at) = wake {
                            t.wake_at(id, at);
                        }
                    }
                },
            },
            _ = tokio::time::sleep(wait) => {
                let now = SystemTime::now();
                while let Some((at, id)) = t.wakeups.first().cloned() {
                    if at > now {
                        break;
                    }
                    t.run(&runner, id, Job::default());
                }
            }
        }
    }
}

impl Timetable {
    fn run(&mut self, runner: &Arc<Runner>, id: QueueId, job: Job) {
        if let Some(at) = self.wake_of.remove(&id) {
            self.wakeups.remove(&(at, id.clone()));
        }
        if let Some(again) = self.running.get_mut(&id) {
            *again = Some(again.map_or(job, |j| j.merge(job)));
            return;
        }
        self.running.insert(id.clone(), None);
        let runner = runner.clone();
        tokio::spawn(async move {
            let wake = runner.pass(&id, job).await;
            let _ = runner.tx.send(Msg::Done(id, wake));
        });
    }

    fn wake_at(&mut self, id: QueueId, at: SystemTime) {
        if let Some(old) = self.wake_of.insert(id.clone(), at) {
            self.wakeups.remove(&(old, id.clone()));
        }
        self.wakeups.insert((at, id));
    }
}

/// Every queued message, now.
fn flush(runner: &Arc<Runner>) {
    runner.ctx.relay.resume_all();
    let runner = runner.clone();
    tokio::spawn(async move {
        let spool = runner.spool.clone();
        match tokio::task::spawn_blocking(move || spool.list()).await {
            Ok(Ok(queued)) => {
                info!("flush: {} queued message(s)", queued.len());
                for q in queued {
                    let _ = runner.tx.send(Msg::Run(q.id, Job { recovering: false, force: true }));
                }
            }
            Ok(Err(e)) => warn!("flush: cannot list the queue: {e}"),
            Err(e) => warn!("flush failed: {e}"),
        }
    });
}

/// One transaction's worth of work for the remote agent.
struct GroupJob {
    destination: String,
    indexes: Vec<usize>,
    recipients: Vec<String>,
    sender: String,
    eight_bit: bool,
    smtputf8: bool,
}

impl GroupJob {
    /// One transaction carrying `bytes` (our Received: field, then the message).
    async fn run(self, relay: &Relay, bytes: &[u8]) -> Vec<Attempted> {
        let msg = relay::Message {
            sender: &self.sender,
            recipients: self.recipients.clone(),
            bytes,
            eight_bit: self.eight_bit,
            smtputf8: self.smtputf8,
        };
        let attempt = relay.deliver(&self.destination, &msg).await;
        let name = attempt.relay.map_or("none".to_string(), |p| p.describe());
        self.indexes
            .into_iter()
            .zip(attempt.outcomes)
            .map(|(index, outcome)| Attempted { index, outcome, relay: name.clone(), recorded: false })
            .collect()
    }
}

/// Where a redirected copy comes from: mail another server sent us is checked again and
/// sealed (ARC) on its way on; mail of our users and local commands is ours.
fn redirect_origin(env: &Envelope) -> Origin {
    let authenticated = env.proto.ends_with('A'); // RFC 3848: ESMTPA, ESMTPSA
    match env.client_ip {
        Some(ip) if !authenticated => Origin::Redirect { ip, helo: env.helo.clone(), from: env.sender.clone() },
        _ => Origin::Notification,
    }
}

/// What a delivery sends on once the copies are stored (see [`Runner::send_onward`]).
#[derive(Default)]
struct Onward {
    /// Addresses and the message for each, our trace fields on top (RFC 5321 4.4).
    redirects: Vec<(String, Vec<u8>)>,
    /// Vacation replies: the sender and the reply.
    replies: Vec<(String, Vec<u8>)>,
}

impl Onward {
    fn of(local: &local::Local, index: usize, message: &[u8], plan: Plan) -> Onward {
        let redirects = if plan.redirects.is_empty() {
            Vec::new()
        } else {
            // The Received: field counts this hop, so a redirect loop ends at the hop limit.
            let received = local.received(index);
            let body = plan.edited.as_deref().unwrap_or(message);
            let content = [received.as_bytes(), body].concat();
            plan.redirects.into_iter().map(|to| (to, content.clone())).collect()
        };
        Onward { redirects, replies: plan.replies }
    }
}

/// One recipient's outcome in this pass and who produced it.
struct Attempted {
    index: usize,
    outcome: Outcome,
    relay: String,
    /// Already written to the queue file (a remote success, recorded as soon as its group ended).
    recorded: bool,
}

impl Runner {
    /// Delivers every due recipient of one message; returns when to look at it again.
    async fn pass(&self, id: &QueueId, job: Job) -> Option<SystemTime> {
        let env = match self
            .blocking({
                let (spool, id) = (self.spool.clone(), id.clone());
                move || spool.envelope(&id)
            })
            .await
        {
            Ok(env) => env,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None, // delivered or deleted meanwhile
            Err(e) => {
                warn!("{id}: cannot read queue file: {e}");
                return Some(SystemTime::now() + self.ctx.cfg.delivery.retry[0]);
            }
        };
        let now = SystemTime::now();
        let due = |r: &Recipient| match &r.status {
            Status::Pending => true,
            Status::Deferred { next_try, .. } => job.force || *next_try <= now,
            _ => false,
        };
        let pick = |local: bool| -> Vec<usize> {
            (0..env.recipients.len()).filter(|&i| env.recipients[i].local == local && due(&env.recipients[i])).collect()
        };
        let (local, remote) = (pick(true), pick(false));
        let mut results = Vec::new();
        if !local.is_empty() {
            results.extend(self.deliver_local(id, &env, local, job.recovering).await);
        }
        if !remote.is_empty() {
            results.extend(self.deliver_remote(id, &env, remote).await);
        }
        self.settle(id, env, results).await
    }

    async fn deliver_local(
        &self,
        id: &QueueId,
        env: &Envelope,
        indexes: Vec<usize>,
        recovering: bool,
    ) -> Vec<Attempted> {
        let _slot = self.local_slots.acquire().await;
        let message = match self.load(id).await {
            Ok(m) => m,
            Err(f) => return all(indexes, f, "local"),
        };
        let known: Vec<bool> = {
            let dir = self.ctx.directory.lock();
            indexes.iter().map(|&i| local::mailbox_exists(&dir, &env.recipients[i].address)).collect()
        };
        let size = message.len() as u64;
        let (store, hostname, queued, envelope) =
            (self.ctx.store.clone(), self.ctx.cfg.hostname.clone(), id.clone(), env.clone());
        let limits = rules::limits(&self.ctx.cfg.sieve);
        let work = move || {
            let env = envelope;
            // Maildir files use Unix line ends, as mutt, Postfix local(8) and Dovecot expect.
            let body = carrier_syntax::lines::to_lf(&message);
            let local = local::Local { store: &store, hostname: &hostname, id: &queued, env: &env, recovering };
            let id_text = queued.to_string();
            let run = rules::Run { store: &store, hostname: &hostname, limits: &limits, id: &id_text };
            let deliver = |i: usize, known: bool| {
                if !known {
                    return (local::unknown(&env.recipients[i].address), Onward::default());
                }
                let plan = rules::plan(&run, &env, i, &message);
                let outcome = local.deliver(i, &body, &plan);
                let onward = match outcome {
                    Outcome::Sent(_) => Onward::of(&local, i, &message, plan),
                    _ => Onward::default(),
                };
                (outcome, onward)
            };
            let results = indexes.into_iter().zip(known);
            results
                .map(|(i, k)| {
                    let (outcome, onward) = deliver(i, k);
                    (Attempted { index: i, outcome, relay: "local".into(), recorded: false }, onward)
                })
                .collect::<Vec<_>>()
        };
        let done = tokio::task::spawn_blocking(work).await.unwrap_or_default();
        let mut attempted = Vec::with_capacity(done.len());
        for (mut a, onward) in done {
            self.send_onward(id, env, &mut a, onward).await;
            attempted.push(a);
        }
        self.warn_of_quota(env, &attempted, size).await;
        attempted
    }

    /// Queues what a user's mail rules send on: redirected copies and vacation replies. A
    /// redirect that cannot be queued now defers the recipient, so the message is not lost
    /// (its stored copies are recognised on the next attempt).
    async fn send_onward(&self, id: &QueueId, env: &Envelope, a: &mut Attempted, onward: Onward) {
        let rcpt = &env.recipients[a.index].address;
        for (to, content) in onward.redirects {
            let msg = Message {
                sender: self.redirect_sender(id, env, &to),
                recipients: vec![to.clone()],
                content,
                origin: redirect_origin(env),
                body_8bit: env.body_8bit,
                smtputf8: env.smtputf8,
            };
            match self.ctx.intake.accept(msg, Unknown::Fail).await {
                Ok(q) => info!("{id}: sieve: <{rcpt}> redirected to <{to}>: queued as {}", q.id),
                // A loop (too many hops) or a refused address: the redirect is dropped.
                Err(r) if r.reply.code >= 500 => warn!("{id}: sieve: redirect of <{rcpt}> to <{to}>: {}", r.text()),
                Err(r) => {
                    warn!("{id}: sieve: redirect of <{rcpt}> to <{to}> not queued: {}", r.text());
                    let text = format!("cannot queue the redirect to <{to}>: {}", r.text());
                    a.outcome = Outcome::Deferred(Failure::temporary("4.3.0", text));
                    return;
                }
            }
        }
        for (to, content) in onward.replies {
            // RFC 5230 5.1 / RFC 3834 3.3: replies go out with the null sender.
            let msg = Message {
                sender: String::new(),
                recipients: vec![to.clone()],
                body_8bit: !content.is_ascii(),
                smtputf8: !to.is_ascii(),
                content,
                origin: Origin::Notification,
            };
            match self.ctx.intake.accept(msg, Unknown::Skip).await {
                Ok(q) => info!("{id}: sieve: vacation reply from <{rcpt}> to <{to}>: queued as {}", q.id),
                Err(r) => warn!("{id}: sieve: vacation reply from <{rcpt}> to <{to}> not queued: {}", r.text()),
            }
        }
    }

    /// The sender a redirected copy leaves with: the original sender, rewritten with SRS when
    /// it goes to another domain (RFC 5228 4.2 keeps the envelope sender; SRS keeps SPF
    /// passing at the next hop and brings bounces back to the original sender).
    fn redirect_sender(&self, id: &QueueId, env: &Envelope, to: &str) -> String {
        let dir = self.ctx.directory.lock();
        let domain_of = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
        let (from, to) = (domain_of(&env.sender), domain_of(to));
        match dir.srs() {
            Some(srs) if !from.is_empty() && !dir.is_local_domain(&from) && !dir.is_local_domain(&to) => {
                let rewritten = srs.forward(&env.sender, carrier_accounts::srs::day_of(SystemTime::now()));
                info!("{id}: redirected with sender <{rewritten}> (SRS for <{}>)", env.sender);
                rewritten
            }
            _ => env.sender.clone(),
        }
    }

    /// Tells each recipient whose mailbox this delivery took past 90 % of its quota.
    async fn warn_of_quota(&self, env: &Envelope, attempted: &[Attempted], size: u64) {
        if !self.ctx.store.has_quotas() {
            return;
        }
        for a in attempted.iter().filter(|a| matches!(a.outcome, Outcome::Sent(_))) {
            let (store, address) = (self.ctx.store.clone(), env.recipients[a.index].address.clone());
            let check = move || local::quota_crossed(&store, &address, size);
            let Ok(Some(crossed)) = tokio::task::spawn_blocking(check).await else { continue };
            let address = &env.recipients[a.index].address;
            let text = local::quota_warning(&self.ctx.cfg.hostname, address, crossed, SystemTime::now());
            let warning = Message {
                sender: String::new(),
                recipients: vec![address.clone()],
                content: text,
                origin: Origin::Notification,
                body_8bit: false,
                smtputf8: false,
            };
            match self.ctx.intake.accept(warning, Unknown::Skip).await {
                Ok(q) => {
                    let (used, limit, unit) = (crossed.used, crossed.limit, crossed.resource.unit());
                    info!("{}: quota warning to <{address}>: {used} of {limit} {unit}", q.id)
                }
                Err(r) => warn!("quota warning to <{address}> not queued: {}", r.text()),
            }
        }
    }

    /// Groups the recipients by destination; each group is one transaction, all in parallel.
    /// A group waits for a connection slot of its destination before it takes one of the
    /// relay's slots and loads the message: messages piling up for one slow or dead
    /// destination hold neither, so they cannot stall mail to every other destination.
    async fn deliver_remote(&self, id: &QueueId, env: &Envelope, indexes: Vec<usize>) -> Vec<Attempted> {
        let forwarding = self.forwarding_sender(id, env);
        // Forwarded copies leave with another sender, so they travel apart from the rest.
        let mut groups: BTreeMap<(String, bool), Vec<usize>> = BTreeMap::new();
        for i in indexes {
            let forwarded = forwarding.is_some() && self.forwarded(&env.recipients[i]);
            groups.entry((self.ctx.relay.destination(&env.recipients[i].address), forwarded)).or_default().push(i);
        }
        let mut tasks = JoinSet::new();
        for ((destination, forwarded), indexes) in groups {
            let limit = self.destination_limit(&destination);
            let slots = self.remote_slots.clone();
            let (spool, queued) = (self.spool.clone(), id.clone());
            let received = self.received(id, env, &indexes);
            let job = GroupJob {
                recipients: indexes.iter().map(|&i| env.recipients[i].address.clone()).collect(),
                indexes,
                sender: match (&forwarding, forwarded) {
                    (Some(rewritten), true) => rewritten.clone(),
                    _ => env.sender.clone(),
                },
                eight_bit: env.body_8bit,
                smtputf8: env.smtputf8,
                destination,
            };
            let relay = self.ctx.relay.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let _slot = slots.acquire_owned().await;
                match load(spool, queued).await {
                    Ok(message) => job.run(&relay, &[received.into_bytes(), message].concat()).await,
                    Err(f) => all(job.indexes, f, "none"),
                }
            });
        }
        let mut out = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(results) => out.extend(self.record_sent(id, results).await),
                Err(e) => warn!("{id}: relay task failed: {e}"),
            }
        }
        out
    }

    /// The sender forwarded copies of this message leave with (SRS): the original sender
    /// rewritten into our domain, so SPF passes at the next hop and bounces come back to us.
    /// None when SRS is off, for bounces (no sender), and for our own domains' senders,
    /// whom SPF already lets us send for.
    fn forwarding_sender(&self, id: &QueueId, env: &Envelope) -> Option<String> {
        let dir = self.ctx.directory.lock();
        let srs = dir.srs()?;
        let (_, domain) = env.sender.rsplit_once('@')?;
        if dir.is_local_domain(domain) || !env.recipients.iter().any(|r| !r.local && r.orig != r.address) {
            return None;
        }
        let rewritten = srs.forward(&env.sender, carrier_accounts::srs::day_of(SystemTime::now()));
        info!("{id}: forwarded with sender <{rewritten}> (SRS for <{}>)", env.sender);
        Some(rewritten)
    }

    /// A remote recipient an alias of ours led to (not one a client named itself).
    fn forwarded(&self, r: &carrier_spool::Recipient) -> bool {
        let orig_domain = r.orig.rsplit_once('@').map_or("", |(_, d)| d);
        !r.local && r.orig != r.address && self.ctx.directory.lock().is_local_domain(orig_domain)
    }

    /// Records a group's remote successes at once, not when the slowest group of the message
    /// ends: a crash in between would send them again (RFC 5321 6.1 allows it; we keep that
    /// window as short as one write).
    async fn record_sent(&self, id: &QueueId, mut results: Vec<Attempted>) -> Vec<Attempted> {
        let sent: Vec<(usize, Status)> = results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Sent(detail) => Some((r.index, Status::Delivered { detail: detail.clone() })),
                _ => None,
            })
            .collect();
        if sent.is_empty() {
            return results;
        }
        let (spool, queued) = (self.spool.clone(), id.clone());
        match self.blocking(move || spool.update_all(&queued, &sent)).await {
            Ok(()) => {
                results.iter_mut().filter(|r| matches!(r.outcome, Outcome::Sent(_))).for_each(|r| r.recorded = true)
            }
            // settle() tries again with the rest of the statuses.
            Err(e) => warn!("{id}: cannot record delivery status: {e}"),
        }
        results
    }

    /// Our Received: field, to go before the message (RFC 5321 4.4: every hop adds one).
    fn received(&self, id: &QueueId, env: &Envelope, indexes: &[usize]) -> String {
        let id_text = id.to_string();
        let single = match indexes {
            [only] => Some(env.recipients[*only].orig.as_str()),
            _ => None,
        };
        trace::received(&Trace {
            helo: &env.helo,
            client_name: &env.client_name,
            client_ip: env.client_ip,
            hostname: &self.ctx.cfg.hostname,
            proto: &env.proto,
            id: &id_text,
            recipient: single,
            time: env.received,
        })
    }

    fn destination_limit(&self, destination: &str) -> Arc<Semaphore> {
        let mut map = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 1000 {
            map.retain(|_, s| s.available_permits() < PER_DESTINATION);
        }
        map.entry(destination.to_string()).or_insert_with(|| Arc::new(Semaphore::new(PER_DESTINATION))).clone()
    }

    /// The message bytes, or why they could not be read.
    async fn load(&self, id: &QueueId) -> Result<Vec<u8>, Failure> {
        load(self.spool.clone(), id.clone()).await
    }

    /// Turns outcomes into statuses, bounces failures, records, removes a finished message,
    /// warns of delays. Returns when a deferred recipient is next due.
    async fn settle(&self, id: &QueueId, mut env: Envelope, results: Vec<Attempted>) -> Option<SystemTime> {
        let now = SystemTime::now();
        let mut changes: Vec<(usize, Status)> = Vec::new();
        let mut recorded: Vec<usize> = Vec::new();
        let mut failed: Vec<bounce::Item> = Vec::new();
        for r in results {
            if matches!(r.outcome, Outcome::Sent(_)) {
                self.ctx.delivered.record();
            }
            let status = self.status_for(&env, r.index, &r.outcome, now);
            log_outcome(id, &env, r.index, &r.outcome, &status, &r.relay);
            if let Status::Failed { error } = &status {
                failed.push(item(&env.recipients[r.index], &r.outcome, error, &r.relay));
            }
            if r.recorded {
                recorded.push(r.index);
            }
            changes.push((r.index, status));
        }
        if changes.is_empty() && !self.wants_warning(&env, now) {
            if env.recipients.iter().all(|r| r.status.is_final()) {
                // Every recipient was settled, but a crash came before the removal.
                self.record(id, &env, changes, true).await;
                return None;
            }
            return next_due(&env);
        }
        if !failed.is_empty()
            && let Err(e) = self.notify(id, &env, Kind::Failed, &failed).await
        {
            // Keep them queued rather than lose the bounce: the next pass bounces them again.
            warn!("{id}: cannot queue the non-delivery notification: {e}; retrying later");
            let retry = now + self.ctx.cfg.delivery.retry[0];
            for (_, status) in changes.iter_mut().filter(|(_, s)| matches!(s, Status::Failed { .. })) {
                let error = format!("bounce not queued yet: {e}");
                *status = Status::Deferred { next_try: retry, tries: 0, error };
            }
        }
        for (i, status) in &changes {
            env.recipients[*i].status = status.clone();
        }
        let all_final = env.recipients.iter().all(|r| r.status.is_final());
        changes.retain(|(i, _)| !recorded.contains(i));
        self.record(id, &env, changes, all_final).await;
        if all_final {
            return None;
        }
        if self.wants_warning(&env, now) {
            self.warn_delay(id, &env).await;
        }
        next_due(&env)
    }

    /// The status an outcome leads to: deferrals become failures once the message is too old.
    fn status_for(&self, env: &Envelope, index: usize, outcome: &Outcome, now: SystemTime) -> Status {
        let d = &self.ctx.cfg.delivery;
        let tries = tries_of(&env.recipients[index].status) + 1;
        match outcome {
            Outcome::Sent(detail) => Status::Delivered { detail: detail.clone() },
            Outcome::Failed(f) => Status::Failed { error: f.text.clone() },
            Outcome::Deferred(f) => {
                let age = now.duration_since(env.received).unwrap_or_default();
                if age >= d.max_queue_time {
                    Status::Failed {
                        error: format!(
                            "message expired after {} in the queue (max_queue_time); last error: {}",
                            mailq::span(age),
                            f.text
                        ),
                    }
                } else {
                    let wait = d.retry[(tries as usize - 1).min(d.retry.len() - 1)];
                    Status::Deferred { next_try: now + wait, tries, error: f.text.clone() }
                }
            }
        }
    }

    /// Writes the statuses. A finished message is removed instead, after recording what
    /// remote servers accepted: a crash before the removal must not send it twice.
    async fn record(&self, id: &QueueId, env: &Envelope, changes: Vec<(usize, Status)>, all_final: bool) {
        let (spool, queued) = (self.spool.clone(), id.clone());
        let remote: Vec<bool> = env.recipients.iter().map(|r| !r.local).collect();
        let needed =
            |(i, status): &(usize, Status)| !all_final || (remote[*i] && matches!(status, Status::Delivered { .. }));
        let changes: Vec<(usize, Status)> = changes.into_iter().filter(needed).collect();
        let result = self
            .blocking(move || {
                spool.update_all(&queued, &changes)?;
                if all_final {
                    spool.remove(&queued)?;
                }
                Ok(())
            })
            .await;
        match result {
            Ok(()) if all_final => info!("{id}: removed"),
            Ok(()) => {}
            // The mailbox has the message; a retry finds it there and does not duplicate it.
            Err(e) => warn!("{id}: cannot record delivery status: {e}"),
        }
    }

    fn wants_warning(&self, env: &Envelope, now: SystemTime) -> bool {
        let Some(after) = self.ctx.cfg.delivery.delay_warning else { return false };
        !env.warned
            && !env.sender.is_empty()
            && now.duration_since(env.received).unwrap_or_default() >= after
            && env.recipients.iter().any(|r| matches!(r.status, Status::Deferred { .. }))
    }

    /// Tells the sender once that some recipients are still waiting.
    async fn warn_delay(&self, id: &QueueId, env: &Envelope) {
        let items: Vec<bounce::Item> = env
            .recipients
            .iter()
            .filter_map(|r| match &r.status {
                Status::Deferred { error, .. } => Some(bounce::Item {
                    recipient: r.address.clone(),
                    original: original(r),
                    status: "4.4.7".into(),
                    text: error.clone(),
                    remote_mta: None,
                    diagnostic: None,
                }),
                _ => None,
            })
            .collect();
        if let Err(e) = self.notify(id, env, Kind::Delayed, &items).await {
            warn!("{id}: cannot queue the delay notification: {e}");
            return;
        }
        let (spool, queued) = (self.spool.clone(), id.clone());
        if let Err(e) = self.blocking(move || spool.mark_warned(&queued)).await {
            warn!("{id}: cannot record that the sender was warned: {e}");
        }
    }

    /// Queues a delivery status notification to the sender; never for the null sender
    /// (RFC 5321 6.1: a bounce must not cause another bounce).
    async fn notify(&self, id: &QueueId, env: &Envelope, kind: Kind, items: &[bounce::Item]) -> io::Result<()> {
        let what = if kind == Kind::Failed { "non-delivery" } else { "delay" };
        if env.sender.is_empty() {
            info!("{id}: sender is <>: no {what} notification (a bounce is never bounced)");
            return Ok(());
        }
        let message = self.load(id).await.map_err(|f| io::Error::other(f.text))?;
        let now = SystemTime::now();
        let text = bounce::compose(&bounce::Report {
            kind,
            hostname: &self.ctx.cfg.hostname,
            id,
            envelope: env,
            items,
            message: &message,
            now,
        });
        let notification = Message {
            sender: String::new(),
            recipients: vec![env.sender.clone()],
            content: text,
            origin: Origin::Notification,
            body_8bit: false,
            smtputf8: false,
        };
        match self.ctx.intake.accept(notification, Unknown::Skip).await {
            Ok(dsn) => info!("{id}: sender {what} notification: {}", dsn.id),
            Err(r) if r.nobody => info!("{id}: sender <{}> no longer exists: no {what} notification", env.sender),
            Err(r) => return Err(io::Error::other(r.text().to_string())),
        }
        Ok(())
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
        tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
    }
}

/// The message bytes of a queued message, or why they could not be read.
async fn load(spool: Spool, id: QueueId) -> Result<Vec<u8>, Failure> {
    let read = tokio::task::spawn_blocking(move || spool.load(&id)).await;
    let read = read.unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
    read.map(|(_, message)| message)
        .map_err(|e| Failure::temporary("4.3.0", format!("cannot read the queue file: {e}")))
}

/// The same outcome for each of these recipients.
fn all(indexes: Vec<usize>, f: Failure, relay: &str) -> Vec<Attempted> {
    indexes
        .into_iter()
        .map(|index| Attempted { index, outcome: f.clone().into_outcome(), relay: relay.into(), recorded: false })
        .collect()
}

fn tries_of(status: &Status) -> u32 {
    match status {
        Status::Deferred { tries, .. } => *tries,
        _ => 0,
    }
}

/// When the earliest deferred recipient is due.
fn next_due(env: &Envelope) -> Option<SystemTime> {
    env.recipients
        .iter()
        .filter_map(|r| match &r.status {
            Status::Deferred { next_try, .. } => Some(*next_try),
            // Not tried in this pass (its task failed): look again in a minute.
            Status::Pending => Some(SystemTime::now() + Duration::from_secs(60)),
            _ => None,
        })
        .min()
}

fn original(r: &Recipient) -> Option<String> {
    (!r.orig.eq_ignore_ascii_case(&r.address)).then(|| r.orig.clone())
}

/// The bounce entry for a recipient that failed.
fn item(r: &Recipient, outcome: &Outcome, error: &str, relay: &str) -> bounce::Item {
    let (status, diagnostic) = match outcome {
        Outcome::Failed(f) => (f.dsn.clone(), f.remote.clone()),
        // Expired while deferred (RFC 3463 X.4.7: delivery time expired).
        _ => ("4.4.7".to_string(), None),
    };
    let remote_mta = diagnostic.as_ref().and_then(|_| relay.split('[').next()).map(str::to_string);
    bounce::Item {
        recipient: r.address.clone(),
        original: original(r),
        status,
        text: error.into(),
        remote_mta,
        diagnostic,
    }
}

/// `QID: to=<..>, relay=.., delay=.., tries=.., dsn=.., stat=..`, as sendmail and Postfix log.
fn log_outcome(id: &QueueId, env: &Envelope, index: usize, outcome: &Outcome, status: &Status, relay: &str) {
    let r = &env.recipients[index];
    let orig = original(r).map(|o| format!(", orig_to=<{o}>")).unwrap_or_default();
    let delay = env.received.elapsed().unwrap_or_default().as_secs_f64();
    let tries = match status {
        Status::Deferred { tries, .. } => *tries,
        _ => tries_of(&r.status) + 1,
    };
    let (dsn, stat) = match (outcome, status) {
        (Outcome::Sent(detail), _) => ("2.0.0".to_string(), format!("Sent ({detail})")),
        (Outcome::Deferred(f), Status::Deferred { .. }) => (f.dsn.clone(), format!("Deferred: {}", f.text)),
        (Outcome::Deferred(_), Status::Failed { error }) => ("4.4.7".to_string(), format!("Bounced: {error}")),
        (Outcome::Failed(f), _) => (f.dsn.clone(), format!("Bounced: {}", f.text)),
        (_, other) => ("4.0.0".to_string(), format!("{other:?}")),
    };
    info!("{id}: to=<{}>{orig}, relay={relay}, delay={delay:.2}, tries={tries}, dsn={dsn}, stat={stat}", r.address);
}
