//! The one way into the queue. A message from an SMTP client, from a local command (the
//! control socket or the pickup directory) or from carrier itself (a bounce) goes through the
//! same steps: checks → recipients expanded through the aliases → envelope → durable spool →
//! the queue runner → one log line `QID: from=<..>, size=.., nrcpts=.., proto=..`.
//!
//! What differs between the sources is named by [`Origin`]; every rule that depends on it is
//! here, in one place, rather than in each listener: mail from other servers is checked (SPF,
//! DKIM, ARC, DMARC, iprev) and gets an `Authentication-Results:` field; mail from our users,
//! local commands, relay networks and carrier itself is DKIM-signed.

use crate::directory::SharedDirectory;
use crate::jobs::Jobs;
use crate::sysexits;
use crate::{handoff, milter, policy};
use carrier_accounts::passwd;
use carrier_config::Config;
use carrier_mailauth::verify::{self, Action, Facts};
use carrier_mailauth::{Signer, Verifier};
use carrier_smtp::address::parse_path;
use carrier_smtp::{Reply, headers, trace};
use carrier_spool::{Envelope, QueueId, Recipient, Spool, Status};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::{info, warn};

/// More `Received:` fields than this means a mail loop (sendmail's MaxHopCount is 25,
/// Postfix's hopcount_limit 50).
const MAX_HOPS: usize = 30;

/// Where a message comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An SMTP client; `name` is its forward-confirmed reverse name or "unknown", `user` is
    /// set when it authenticated (submission).
    Smtp { ip: IpAddr, name: String, helo: String, proto: String, user: Option<String> },
    /// A local command (`sendmail`) run by `uid`; `helo` and `proto` come from `sendmail -bs`.
    Local { uid: u32, helo: Option<String>, proto: String },
    /// A delivery status notification carrier writes itself.
    Notification,
    /// A copy a user's Sieve script sends on (`redirect`) of a message that came from
    /// another server at `ip` (HELO `helo`, MAIL FROM `from`): checked again as then, so the
    /// copy carries our results sealed into an ARC set (RFC 8617).
    Redirect { ip: IpAddr, helo: String, from: String },
}

/// What to do with a recipient that resolves to no mailbox and no remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// Leave it out: it was accepted at RCPT, and the alias table changed since (SMTP).
    Skip,
    /// Refuse the whole message: the caller is still there to read the error.
    Refuse,
    /// Queue it to be bounced to the sender: the caller is gone (a pickup file).
    Fail,
    /// Queue the message for the others and bounce this one to the sender, as sendmail and
    /// Postfix do; refuse only when no recipient is known (`sendmail` at a terminal or in cron:
    /// one departed user must not cost everyone else their copy).
    Bounce,
}

/// A message in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: QueueId,
    /// Recipients no mailbox or address answers to; they will be bounced to the sender.
    pub unknown: Vec<String>,
}

/// A message offered to the queue.
#[derive(Debug, Clone)]
pub struct Message {
    /// The envelope sender; empty for the null sender.
    pub sender: String,
    /// The recipients as the sender gave them (RCPT TO, `sendmail` arguments, `-t`).
    pub recipients: Vec<String>,
    /// The message, CRLF line ends.
    pub content: Vec<u8>,
    pub origin: Origin,
    /// The content has 8-bit octets (8BITMIME, RFC 6152).
    pub body_8bit: bool,
    /// The envelope has UTF-8 addresses (SMTPUTF8, RFC 6531).
    pub smtputf8: bool,
}

impl Message {
    /// What a local command handed over (see [`handoff`]), from the local user `uid`.
    pub fn from_submission(sub: handoff::Submission, uid: u32) -> Message {
        let addresses = std::iter::once(&sub.sender).chain(&sub.recipients);
        let smtputf8 = addresses.flat_map(|a| a.chars()).any(|c| !c.is_ascii());
        Message {
            sender: sub.sender,
            recipients: sub.recipients,
            content: sub.message,
            origin: Origin::Local { uid, helo: sub.helo, proto: sub.proto },
            body_8bit: sub.eight_bit,
            smtputf8,
        }
    }
}

/// Why a message was not queued, for both kinds of caller: an SMTP reply, and the words
/// and sysexits code for a local command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reply: Reply,
    /// sysexits.h code; [`sysexits::TEMPFAIL`] means "try again".
    pub exit: u8,
    /// No recipient was left to queue the message for.
    pub nobody: bool,
}

impl Refusal {
    fn new(code: u16, status: &'static str, exit: u8, text: impl Into<String>) -> Refusal {
        Refusal { reply: Reply::new(code, status, text), exit, nobody: false }
    }

    /// What is wrong, in words.
    pub fn text(&self) -> &str {
        self.reply.text()
    }
}

/// The queue's front door; cheap to clone.
#[derive(Clone)]
pub struct Intake(Arc<Inner>);

struct Inner {
    cfg: Config,
    spool: Spool,
    directory: Arc<SharedDirectory>,
    jobs: Jobs,
    auth: MailAuth,
}

/// DKIM signing of our mail and the checks of mail from elsewhere.
pub struct MailAuth {
    /// Signs with the keys of `[dkim]`; shared so a reload reaches it.
    pub signer: Arc<Signer>,
    /// None when `[authentication] verify = false`.
    pub verifier: Option<Verifier>,
}

/// What the filters decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filtered {
    /// Delivered as usual; the filters' spam verdict in percent when any looked at it (for
    /// Sieve's spamtest, RFC 5235).
    Deliver(Option<u8>),
    /// Quarantined by a filter: delivered into the Junk folders.
    Junk,
    /// Dropped by this filter, while the client is told it was accepted.
    Discard(String),
}

/// What the checks of an incoming message decided, once it is queued.
struct Checked {
    /// For the log line after the queue id.
    summary: String,
    junk: bool,
}

impl Intake {
    pub fn new(cfg: Config, spool: Spool, directory: Arc<SharedDirectory>, jobs: Jobs, auth: MailAuth) -> Intake {
        Intake(Arc::new(Inner { cfg, spool, directory, jobs, auth }))
    }

    /// The DKIM signer, to reload its keys.
    pub fn signer(&self) -> &Signer {
        &self.0.auth.signer
    }

    /// The queue this intake fills.
    pub fn spool(&self) -> &Spool {
        &self.0.spool
    }

    /// The queue runner this intake hands messages to.
    pub fn jobs(&self) -> &Jobs {
        &self.0.jobs
    }

    /// Checks, expands and queues a message; returns its queue id once it is durable.
    pub async fn accept(&self, mut msg: Message, unknown: Unknown) -> Result<Accepted, Refusal> {
        self.check(&mut msg)?;
        // Named now, so content filters can name it too (the `i` macro).
        let id = QueueId::generate();
        let filtered = self.filter(&mut msg, &id).await?;
        if let Filtered::Discard(filter) = &filtered {
            info!("{id}: discarded by milter {filter}: from=<{}>, {}", msg.sender, log_origin(&msg.origin));
            return Ok(Accepted { id, unknown: Vec::new() });
        }
        let (recipients, unknown) = self.expand(&msg, unknown)?;
        let forwarded = recipients.iter().any(|r| !r.local);
        let checked = self.authenticate(&mut msg, forwarded).await?;
        self.sign(&mut msg);
        if recipients.is_empty() {
            // Every recipient vanished from the alias table between RCPT and DATA.
            let text = "Recipients no longer valid, try again later";
            return Err(Refusal { nobody: true, ..Refusal::new(451, "4.3.0", sysexits::TEMPFAIL, text) });
        }
        let mut envelope = self.envelope(&msg, recipients);
        envelope.junk = checked.as_ref().is_some_and(|c| c.junk) || filtered == Filtered::Junk;
        envelope.spam = match filtered {
            Filtered::Deliver(percent) => percent,
            Filtered::Junk | Filtered::Discard(_) => Some(100),
        };
        let (size, nrcpts) = (msg.content.len(), envelope.recipients.len());
        match self.0.spool.enqueue_as(id, envelope, msg.content).await {
            Ok(id) => {
                info!("{id}: from=<{}>, size={size}, nrcpts={nrcpts}, {}", msg.sender, log_origin(&msg.origin));
                if let Some(checked) = checked {
                    info!("{id}: {}", checked.summary);
                }
                self.0.jobs.submit(id.clone(), false);
                Ok(Accepted { id, unknown })
            }
            Err(e) => {
                warn!("NOQUEUE: cannot store message from <{}> ({}): {e}", msg.sender, log_origin(&msg.origin));
                let mut refusal = storage_error(&e);
                if let Origin::Local { .. } = msg.origin {
                    // A local user may see why; a remote client is told no more than the code.
                    refusal.reply.lines = vec![format!("the server cannot store the message now: {e}")];
                }
                Err(refusal)
            }
        }
    }

    /// The rules a message must meet before it is queued; some repair it instead.
    fn check(&self, msg: &mut Message) -> Result<(), Refusal> {
        // RFC 5321 6.3: a message that has made this many hops is going round in a loop.
        let hops = headers::received_count(&msg.content);
        if hops > MAX_HOPS {
            let text = format!("Too many hops ({hops} Received: fields): mail loop?");
            return Err(self.refused(msg, Refusal::new(554, "5.4.6", sysexits::DATAERR, text)));
        }
        match msg.origin.clone() {
            Origin::Smtp { user: Some(user), .. } => self.submitted(&user, msg),
            Origin::Local { uid, .. } => {
                self.check_local(msg)?;
                self.warn_forged_sender(msg, uid);
                Ok(())
            }
            Origin::Smtp { user: None, .. } | Origin::Notification | Origin::Redirect { .. } => Ok(()),
        }
    }

    /// The `[[milter]]` filters of the message's listener, in order (see [`milter`]).
    async fn filter(&self, msg: &mut Message, id: &QueueId) -> Result<Filtered, Refusal> {
        // carrier's own notifications pass no filter (as Postfix's internal_mail_filter_classes).
        let (listener, ip, name, helo, user) = match &msg.origin {
            Origin::Smtp { user: Some(u), ip, name, helo, .. } => {
                ("submission", Some(*ip), name.clone(), helo.clone(), Some(u.clone()))
            }
            Origin::Smtp { user: None, ip, name, helo, .. } => ("smtp", Some(*ip), name.clone(), helo.clone(), None),
            Origin::Local { helo, .. } => {
                ("sendmail", None, "localhost".to_string(), helo.clone().unwrap_or_else(|| "localhost".into()), None)
            }
            // Redirected copies were filtered when they arrived.
            Origin::Notification | Origin::Redirect { .. } => return Ok(Filtered::Deliver(None)),
        };
        let mut outcome = Filtered::Deliver(None);
        let mut filtered = false;
        for filter in self.0.cfg.milters.iter().filter(|m| m.listeners.iter().any(|l| l == listener)) {
            // Boxed for the same reason as the checks: the conversation's state is large.
            let client =
                milter::Client { ip, name: &name, helo: &helo, user: user.as_deref(), queue_id: id.to_string() };
            let mut view = milter::Message {
                client,
                sender: &mut msg.sender,
                recipients: &mut msg.recipients,
                content: &mut msg.content,
                max_size: usize::try_from(self.0.cfg.smtp.max_message_size).unwrap_or(usize::MAX),
            };
            let verdict = Box::pin(milter::run(filter, &self.0.cfg.hostname, &mut view)).await;
            // Only a filter that was asked makes the message's spam headers believable.
            filtered |= verdict != milter::Verdict::Skipped;
            match verdict {
                milter::Verdict::Continue | milter::Verdict::Skipped => {}
                milter::Verdict::Accept => break,
                milter::Verdict::Quarantine(_) => outcome = Filtered::Junk,
                milter::Verdict::Discard => return Ok(Filtered::Discard(milter::describe(&filter.socket))),
                milter::Verdict::Refuse(code, status, text) => {
                    let exit = if code < 500 { sysexits::TEMPFAIL } else { sysexits::NOPERM };
                    // The filter's own enhanced status code, written as the reply's first word.
                    let reply = Reply::bare(code, format!("{status} {text}"));
                    info!("milter-reject: {reply} by {}", milter::describe(&filter.socket));
                    return Err(self.refused(msg, Refusal { reply, exit, nobody: false }));
                }
            }
        }
        // A filter's spam verdict in a header (rspamd's and SpamAssassin's `X-Spam: Yes`).
        if filtered && milter::marked_as_spam(&msg.content, &self.0.cfg.antispam.spam_rules) {
            info!("message from <{}> marked as spam by a filter: to Junk", msg.sender);
            outcome = Filtered::Junk;
        }
        if filtered && outcome == Filtered::Deliver(None) {
            outcome = Filtered::Deliver(Some(milter::spam_percent(&msg.content, &self.0.cfg.antispam.spam_rules)));
        }
        Ok(outcome)
    }

    /// The client when the message comes from another server: over SMTP, not authenticated,
    /// not from a relay network. Only such mail is checked; the rest is ours and is signed.
    fn foreign<'a>(&self, origin: &'a Origin) -> Option<(IpAddr, &'a str)> {
        match origin {
            Origin::Smtp { ip, helo, user: None, .. } | Origin::Redirect { ip, helo, .. }
                if !self.0.cfg.relay_allowed(*ip) =>
            {
                Some((*ip, helo))
            }
            _ => None,
        }
    }

    /// Mail from another server: removes `Authentication-Results:` fields forged in our name,
    /// runs the checks and puts their results on top, sealed into an ARC set when an alias
    /// forwards it to another domain; refuses or defers what the domain's policy and
    /// `[authentication]` say to (RFC 7489 6.6.2, RFC 8601, RFC 8617).
    async fn authenticate(&self, msg: &mut Message, forwarded: bool) -> Result<Option<Checked>, Refusal> {
        let Some((ip, helo)) = self.foreign(&msg.origin) else { return Ok(None) };
        if let Some(cleaned) = verify::strip_forged(&msg.content, &self.0.cfg.hostname) {
            msg.content = cleaned;
        }
        let Some(verifier) = &self.0.auth.verifier else { return Ok(None) };
        // A redirected copy leaves with a rewritten sender; SPF was the original one's.
        let sender = match &msg.origin {
            Origin::Redirect { from, .. } => from.as_str(),
            _ => msg.sender.as_str(),
        };
        let facts = Facts { ip, helo, sender };
        let sealer = forwarded.then(|| self.0.auth.signer.arc_key(&self.0.cfg.domains)).flatten();
        let seal = sealer.as_ref().map(|(keys, index)| &keys.keys()[*index]);
        // Boxed: the checks' state is large, and an unboxed future would make every idle SMTP
        // connection's task that large too.
        let verdict = Box::pin(verifier.verify(&facts, &msg.content, seal)).await;
        let refusal = match &verdict.action {
            Action::Reject(why) => Some(Refusal::new(550, "5.7.1", sysexits::NOPERM, why.clone())),
            Action::Defer(why) => Some(Refusal::new(451, "4.7.5", sysexits::TEMPFAIL, why.clone())),
            Action::Deliver | Action::Junk(_) => None,
        };
        if let Some(refusal) = refusal {
            info!("NOQUEUE: {}: {}", verdict.summary, client(&msg.origin));
            return Err(self.refused(msg, refusal));
        }
        let junk = matches!(verdict.action, Action::Junk(_));
        let mut summary = verdict.summary;
        if let Action::Junk(why) = &verdict.action {
            summary.push_str(&format!(", to Junk: {why}"));
        }
        msg.content.splice(0..0, verdict.header.into_bytes());
        Ok(Some(Checked { summary, junk }))
    }

    /// DKIM-signs mail of ours whose From: domain has a signing key (RFC 6376 5). A message
    /// that cannot be signed still goes: unsigned mail is delivered by most receivers, and
    /// the failure is logged for the administrator.
    fn sign(&self, msg: &mut Message) {
        if self.foreign(&msg.origin).is_some() || !self.0.cfg.dkim.sign {
            return;
        }
        match self.0.auth.signer.sign(&msg.content) {
            Ok(Some((fields, _))) => {
                msg.content.splice(0..0, fields.into_bytes());
            }
            Ok(None) => {}
            Err(e) => warn!("message from <{}> not signed: {e}", msg.sender),
        }
    }

    /// Logs a refusal as Postfix does and passes it on.
    fn refused(&self, msg: &Message, refusal: Refusal) -> Refusal {
        info!("NOQUEUE: reject: DATA from {}: {}; from=<{}>", client(&msg.origin), refusal.reply, msg.sender);
        refusal
    }

    /// A message from an authenticated user: its From: and Sender: must be the user's; it
    /// gets the Message-ID and Date a client forgot (RFC 6409 8.2, 8.3), and a From: naming
    /// the user when it has none (as Gmail does; RFC 5322 3.6 requires one).
    fn submitted(&self, user: &str, msg: &mut Message) -> Result<(), Refusal> {
        let author = policy::check_author(&self.0.cfg, &self.0.directory.lock(), user, &msg.content);
        let author = match author {
            Ok(author) => author,
            Err(reply) => return Err(self.refused(msg, Refusal { reply, exit: sysexits::NOPERM, nobody: false })),
        };
        let fields = headers::fields(&msg.content);
        let mut added = String::new();
        if author == policy::Author::Missing {
            added.push_str(&format!("From: <{user}>\r\n"));
        }
        if !headers::has(&fields, "Message-ID") {
            added.push_str(&format!("Message-ID: <{}@{}>\r\n", QueueId::generate(), self.0.cfg.hostname));
        }
        if !headers::has(&fields, "Date") {
            added.push_str(&format!("Date: {}\r\n", trace::rfc5322_date(SystemTime::now())));
        }
        msg.content.splice(0..0, added.into_bytes());
        Ok(())
    }

    /// What a local command handed over: the sender, the recipients' syntax, the size and
    /// the lines (an SMTP session checked these as they arrived).
    fn check_local(&self, msg: &Message) -> Result<(), Refusal> {
        let bad = |exit, text: String| Refusal::new(550, "5.5.2", exit, text);
        if !msg.sender.is_empty() && parse_path(&format!("<{}>", msg.sender), false).is_err() {
            return Err(bad(sysexits::DATAERR, format!("sender <{}> is not a valid address", msg.sender)));
        }
        if msg.recipients.is_empty() {
            return Err(bad(sysexits::USAGE, "no recipients".into()));
        }
        for r in &msg.recipients {
            if parse_path(&format!("<{r}>"), true).is_err() {
                return Err(bad(sysexits::NOUSER, format!("<{r}> is not a valid address")));
            }
        }
        let max = self.0.cfg.smtp.max_message_size;
        if msg.content.len() as u64 > max {
            let text = format!("the message is larger than smtp.max_message_size ({max} octets)");
            return Err(Refusal::new(552, "5.3.4", sysexits::DATAERR, text));
        }
        handoff::message::check_crlf(&msg.content).map_err(|f| bad(f.code, f.text))
    }

    /// sendmail's X-Authentication-Warning: an ordinary user who set another envelope sender
    /// with `-f` is named in the message, so the recipient can tell.
    fn warn_forged_sender(&self, msg: &mut Message, uid: u32) {
        let name = passwd::name_of(uid);
        let hostname = &self.0.cfg.hostname;
        if passwd::trusted(uid) || msg.sender.eq_ignore_ascii_case(&format!("{name}@{hostname}")) {
            return;
        }
        let how = if matches!(&msg.origin, Origin::Local { proto, .. } if proto == "local") { "-f" } else { "-bs" };
        let header =
            format!("X-Authentication-Warning: {hostname}: {name} set sender to <{}> using {how}\r\n", msg.sender);
        msg.content.splice(0..0, header.into_bytes());
    }

    /// Resolves the recipients through the aliases into mailboxes and remote addresses,
    /// each once; also returns the recipients nothing answers to that are queued to bounce.
    fn expand(&self, msg: &Message, unknown: Unknown) -> Result<(Vec<Recipient>, Vec<String>), Refusal> {
        let dir = self.0.directory.lock();
        let resolved: Vec<(&String, Vec<policy::Target>)> =
            msg.recipients.iter().map(|r| (r, policy::expand(&self.0.cfg, &dir, r))).collect();
        let nobody_known = resolved.iter().all(|(_, targets)| targets.is_empty());
        let refuse = unknown == Unknown::Refuse || (unknown == Unknown::Bounce && nobody_known);
        let mut out: Vec<Recipient> = Vec::new();
        let mut bounced = Vec::new();
        for (rcpt, mut targets) in resolved {
            if targets.is_empty() {
                match unknown {
                    Unknown::Skip => continue,
                    _ if refuse => {
                        let text = format!("<{rcpt}>: User unknown; nothing was sent");
                        return Err(Refusal::new(550, "5.1.1", sysexits::NOUSER, text));
                    }
                    _ => {
                        // Queued as it is: the queue runner finds no such mailbox and bounces
                        // it to the sender (a status given here would not be stored).
                        info!("<{rcpt}>: User unknown; it will be bounced to the sender");
                        targets.push(policy::Target { address: rcpt.clone(), local: true });
                        bounced.push(rcpt.clone());
                    }
                }
            }
            for target in targets {
                if !out.iter().any(|r| r.address == target.address) {
                    let (address, local, orig) = (target.address, target.local, rcpt.clone());
                    out.push(Recipient { address, orig, local, status: Status::Pending });
                }
            }
        }
        Ok((out, bounced))
    }

    fn envelope(&self, msg: &Message, recipients: Vec<Recipient>) -> Envelope {
        let (client_ip, client_name, helo, proto) = match &msg.origin {
            Origin::Smtp { ip, name, helo, proto, .. } => (Some(*ip), name.clone(), helo.clone(), proto.clone()),
            Origin::Local { uid, helo, proto } => {
                (None, format!("uid {uid}"), helo.clone().unwrap_or_else(|| "localhost".into()), proto.clone())
            }
            Origin::Notification | Origin::Redirect { .. } => {
                (None, "localhost".into(), self.0.cfg.hostname.clone(), "local".into())
            }
        };
        Envelope {
            sender: msg.sender.clone(),
            recipients,
            received: SystemTime::now(),
            client_ip,
            client_name,
            helo,
            proto,
            smtputf8: msg.smtputf8,
            body_8bit: msg.body_8bit,
            warned: false,
            junk: false,
            spam: None,
        }
    }
}

/// The client as Postfix names it in logs.
fn client(origin: &Origin) -> String {
    match origin {
        Origin::Smtp { ip, name, .. } => format!("{name}[{ip}]"),
        Origin::Local { uid, .. } => format!("uid {uid}"),
        Origin::Notification | Origin::Redirect { .. } => "localhost".into(),
    }
}

/// The end of the `QID: from=<..>` line: how the message came in.
fn log_origin(origin: &Origin) -> String {
    match origin {
        Origin::Smtp { ip, name, helo, proto, user } => {
            let sasl = user.as_ref().map(|u| format!(", sasl_username={u}")).unwrap_or_default();
            format!("proto={proto}, helo=<{helo}>, relay={name}[{ip}]{sasl}")
        }
        Origin::Local { uid, proto, .. } => format!("proto={proto}, uid={uid}"),
        Origin::Notification => "proto=local".into(),
        Origin::Redirect { ip, .. } => format!("proto=local, redirect of mail from [{ip}]"),
    }
}

/// A full disk gives 452 4.3.1, never a 5xx and never corruption (RFC 3463 4.3.1: mail
/// system full).
fn storage_error(e: &io::Error) -> Refusal {
    let reply = match sysexits::disk_full(e) {
        true => Reply::new(452, "4.3.1", "Insufficient system storage"),
        false => Reply::new(451, "4.3.0", "Local error in processing, try again later"),
    };
    Refusal { reply, exit: sysexits::TEMPFAIL, nobody: false }
}
