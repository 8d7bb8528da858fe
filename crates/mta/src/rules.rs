//! Users' mail rules at delivery: the local agent runs the recipient's active Sieve script
//! (RFC 5228) on the message and turns its actions into a [`Plan`]: the copies to store
//! (INBOX or folders, with flags), the addresses to send it on to, the automatic replies to
//! send, or the refusal to report to the sender. Without a script, or when the script fails
//! at run time, the plan is the implicit keep (RFC 5228 2.10.6): the message goes to INBOX.

use carrier_sieve::{Action, Context, Envelope as SieveEnvelope, Memory};
use carrier_spool::Envelope;
use carrier_store::{Maildir, Remembered};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// One copy to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// The folder's IMAP name; None for INBOX.
    pub folder: Option<String>,
    /// IMAP flags, as the script set them (RFC 5232).
    pub flags: Vec<String>,
    /// Make the folder first when it does not exist (RFC 5490 3.2 `:create`).
    pub create: bool,
}

impl Copy {
    fn inbox(flags: Vec<String>) -> Copy {
        Copy { folder: None, flags, create: false }
    }
}

/// What delivery does for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Copies to store; none (and no reject) means the script discarded the message.
    pub copies: Vec<Copy>,
    /// Addresses to send the message on to (RFC 5228 4.2).
    pub redirects: Vec<String>,
    /// Automatic replies: the address and the whole message (RFC 5230).
    pub replies: Vec<(String, Vec<u8>)>,
    /// The refusal to report to the sender (RFC 5429), instead of storing.
    pub reject: Option<String>,
    /// The message as the script edited it (RFC 5293), with CRLF line ends.
    pub edited: Option<Vec<u8>>,
    /// Whether a script ran (for the log and the outcome's words).
    pub scripted: bool,
}

impl Plan {
    /// The implicit keep: INBOX, as if there were no script.
    pub fn keep() -> Plan {
        Plan { copies: vec![Copy::inbox(Vec::new())], ..Plan::default() }
    }
}

/// The interpreter's limits from `[sieve]`, the same for ManageSieve's checks and delivery.
pub fn limits(cfg: &carrier_config::Sieve) -> carrier_sieve::Limits {
    carrier_sieve::Limits {
        max_script_size: usize::try_from(cfg.max_script_size).unwrap_or(usize::MAX),
        max_redirects: cfg.max_redirects,
        ..carrier_sieve::Limits::default()
    }
}

/// What the delivery of one message needs to run a script.
pub struct Run<'a> {
    pub store: &'a Maildir,
    pub hostname: &'a str,
    pub limits: &'a carrier_sieve::Limits,
    /// The queue id, for the log and the replies' Message-IDs.
    pub id: &'a str,
}

/// Runs the active script of recipient `index` against `message` (as queued, CRLF).
/// Blocking: it reads the script and the user's memory.
pub fn plan(run: &Run, env: &Envelope, index: usize, message: &[u8]) -> Plan {
    let rcpt = &env.recipients[index];
    let account = run.store.account(&rcpt.address);
    let scripts = account.scripts();
    let (name, text) = match scripts.active() {
        Ok(Some(active)) => active,
        Ok(None) => return Plan::keep(),
        Err(e) => {
            warn!("{}: sieve: cannot read the active script of <{}>: {e}; kept in INBOX", run.id, rcpt.address);
            return Plan::keep();
        }
    };
    let compiled = match carrier_sieve::compile_with(&text, run.limits.clone()) {
        Ok(c) => c,
        Err(e) => {
            let e = e.to_string().replace('\n', "; ");
            warn!("{}: sieve: script {name:?} of <{}> does not compile ({e}); kept in INBOX", run.id, rcpt.address);
            return Plan::keep();
        }
    };
    let mut memory = match scripts.remembered() {
        Ok(r) => UserMemory { remembered: Some(r), account: &account, now: unix_now() },
        Err(e) => {
            warn!("{}: sieve: cannot read what the scripts of <{}> remember: {e}", run.id, rcpt.address);
            UserMemory { remembered: None, account: &account, now: unix_now() }
        }
    };
    let envelope = SieveEnvelope { from: env.sender.clone(), to: rcpt.address.clone(), auth: None };
    let mut ctx = Context::new(envelope, &mut memory);
    ctx.spam = env.spam;
    // Mail to one of the user's aliases names the user too (vacation's :addresses).
    if rcpt.orig != rcpt.address {
        ctx.addresses.push(rcpt.orig.clone());
    }
    let outcome = carrier_sieve::run(&compiled, message, &mut ctx);
    if let Some(e) = &outcome.error {
        warn!("{}: sieve: script {name:?} of <{}> failed: {e}; kept in INBOX", run.id, rcpt.address);
    }
    memory.save();
    let mut plan = Plan { edited: outcome.message, scripted: true, ..Plan::default() };
    for action in outcome.actions {
        match action {
            Action::Keep { flags } => plan.copies.push(Copy::inbox(flags)),
            Action::FileInto { mailbox, flags, create } => {
                plan.copies.push(Copy { folder: Some(mailbox), flags, create })
            }
            Action::Redirect { address } => plan.redirects.push(address),
            Action::Reject { reason, .. } => plan.reject = Some(reason),
            Action::Vacation(reply) => {
                let message_id = format!("<{}.{index}.vacation@{}>", run.id, run.hostname);
                let date = carrier_smtp::trace::rfc5322_date(SystemTime::now());
                let text = reply.to_message(&format!("<{}>", rcpt.address), &date, &message_id);
                plan.replies.push((reply.to, text));
            }
        }
    }
    let summary = describe(&plan);
    info!("{}: sieve: <{}>: script {name:?}: {summary}", run.id, rcpt.address);
    plan
}

/// The plan in a few words, for the log.
fn describe(plan: &Plan) -> String {
    let mut words: Vec<String> = plan
        .copies
        .iter()
        .map(|c| match &c.folder {
            Some(f) => format!("fileinto {f:?}"),
            None => "keep".into(),
        })
        .collect();
    words.extend(plan.redirects.iter().map(|a| format!("redirect <{a}>")));
    words.extend(plan.replies.iter().map(|(to, _)| format!("vacation reply to <{to}>")));
    if let Some(reason) = &plan.reject {
        words.push(format!("reject ({reason})"));
    }
    if words.is_empty() {
        words.push("discard".into());
    }
    words.join(", ")
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The user's memory for the interpreter, and which of their folders exist.
struct UserMemory<'a> {
    /// None when it could not be read: every reply goes, nothing is a duplicate.
    remembered: Option<Remembered>,
    account: &'a carrier_store::Account,
    now: u64,
}

impl UserMemory<'_> {
    fn save(&mut self) {
        if let Some(r) = self.remembered.take()
            && let Err(e) = r.save(self.now)
        {
            warn!("sieve: cannot save what the scripts of <{}> remember: {e}", self.account.user());
        }
    }
}

impl Memory for UserMemory<'_> {
    fn seen(&mut self, key: &str, period: u64) -> bool {
        self.remembered.as_mut().is_some_and(|r| r.seen(key, period, self.now))
    }

    fn mailbox_exists(&self, name: &str) -> bool {
        self.account.status(name).is_ok()
    }
}
