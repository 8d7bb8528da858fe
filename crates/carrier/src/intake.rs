//! The daemon's side of local submission: a [`Submission`] from the control socket or the
//! pickup directory is checked, its recipients expanded, and it is queued and handed to
//! delivery exactly as an SMTP message is.

use crate::handoff::Submission;
use crate::server::Server;
use crate::{passwd, policy, sendmail, sysexits};
use carrier_smtp::address::parse_path;
use carrier_spool::{Envelope, QueueId, Recipient, Status};
use std::time::SystemTime;
use tracing::{info, warn};

/// Why a submission was not queued: a sysexits code and the words for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// sysexits.h code; [`sysexits::TEMPFAIL`] means "try again".
    pub code: u8,
    /// What is wrong and how to fix it.
    pub text: String,
}

impl Refusal {
    fn new(code: u8, text: impl Into<String>) -> Refusal {
        Refusal { code, text: text.into() }
    }
}

/// What to do with a recipient that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// Refuse the whole submission: the caller is still there to read the error.
    Refuse,
    /// Record the recipient as failed: the caller is gone (a pickup file).
    Fail,
}

/// Checks and queues a submission from the local user `uid`; returns its queue id.
pub async fn accept(server: &Server, mut sub: Submission, uid: u32, unknown: Unknown) -> Result<QueueId, Refusal> {
    check(server, &sub)?;
    let recipients = expand(server, &sub, unknown)?;
    warn_forged_sender(server, &mut sub, uid);
    let nrcpts = recipients.len();
    let envelope = Envelope {
        sender: sub.sender.clone(),
        recipients,
        received: SystemTime::now(),
        client_ip: None,
        client_name: format!("uid {uid}"),
        helo: sub.helo.clone().unwrap_or_else(|| "localhost".into()),
        proto: sub.proto.clone(),
        smtputf8: sub.sender.chars().chain(sub.recipients.iter().flat_map(|r| r.chars())).any(|c| !c.is_ascii()),
        body_8bit: sub.eight_bit,
        warned: false,
    };
    let size = sub.message.len();
    match server.spool.enqueue(envelope, sub.message).await {
        Ok(id) => {
            info!("{id}: from=<{}>, size={size}, nrcpts={nrcpts}, proto={}, uid={uid}", sub.sender, sub.proto);
            server.delivery.submit(id.clone(), false);
            Ok(id)
        }
        Err(e) => {
            warn!("NOQUEUE: cannot store local submission from <{}> (uid {uid}): {e}", sub.sender);
            Err(Refusal::new(sysexits::TEMPFAIL, format!("the server cannot store the message now: {e}")))
        }
    }
}

/// The sender, the recipients' syntax, the size and the lines.
fn check(server: &Server, sub: &Submission) -> Result<(), Refusal> {
    if !sub.sender.is_empty() {
        parse_path(&format!("<{}>", sub.sender), false)
            .map_err(|_| Refusal::new(sysexits::DATAERR, format!("sender <{}> is not a valid address", sub.sender)))?;
    }
    if sub.recipients.is_empty() {
        return Err(Refusal::new(sysexits::USAGE, "no recipients"));
    }
    for r in &sub.recipients {
        parse_path(&format!("<{r}>"), true)
            .map_err(|_| Refusal::new(sysexits::NOUSER, format!("<{r}> is not a valid address")))?;
    }
    let max = server.cfg.smtp.max_message_size;
    if sub.message.len() as u64 > max {
        let text = format!("the message is larger than smtp.max_message_size ({max} octets)");
        return Err(Refusal::new(sysexits::DATAERR, text));
    }
    sendmail::message::check_crlf(&sub.message).map_err(|p| Refusal::new(p.code, p.text))
}

/// Resolves recipients through aliases; local users may send anywhere (the sendmail model).
fn expand(server: &Server, sub: &Submission, unknown: Unknown) -> Result<Vec<Recipient>, Refusal> {
    let dir = server.directory();
    let mut out: Vec<Recipient> = Vec::new();
    for rcpt in &sub.recipients {
        let targets = policy::expand(&server.cfg, &dir, rcpt);
        if targets.is_empty() {
            let error = format!("<{rcpt}>: User unknown");
            if unknown == Unknown::Refuse {
                return Err(Refusal::new(sysexits::NOUSER, format!("{error}; nothing was sent")));
            }
            // Queued as it is: the queue runner finds no such mailbox and bounces it to the
            // sender (a status given here would not be stored with the envelope).
            info!("<{rcpt}>: {error}; it will be bounced to the sender");
            let orig = rcpt.clone();
            out.push(Recipient { address: rcpt.clone(), orig, local: true, status: Status::Pending });
            continue;
        }
        for target in targets {
            if !out.iter().any(|r| r.address == target.address) {
                let status = Status::Pending;
                out.push(Recipient { address: target.address, orig: rcpt.clone(), local: target.local, status });
            }
        }
    }
    Ok(out)
}

/// sendmail's X-Authentication-Warning: an ordinary user who set another envelope sender
/// with `-f` is named in the message, so the recipient can tell.
fn warn_forged_sender(server: &Server, sub: &mut Submission, uid: u32) {
    // SAFETY: geteuid cannot fail.
    let trusted = uid == 0 || uid == unsafe { libc::geteuid() };
    let name = passwd::by_uid(uid).map_or_else(|| format!("uid{uid}"), |a| a.name);
    let own = format!("{name}@{}", server.cfg.hostname);
    if trusted || sub.sender.eq_ignore_ascii_case(&own) {
        return;
    }
    let how = if sub.proto == "local" { "-f" } else { "-bs" };
    let header = format!(
        "X-Authentication-Warning: {}: {name} set sender to <{}> using {how}\r\n",
        server.cfg.hostname, sub.sender
    );
    sub.message.splice(0..0, header.into_bytes());
}
