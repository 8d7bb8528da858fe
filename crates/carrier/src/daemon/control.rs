//! The daemon's side of the control socket `data_dir/control` (the protocol and the client
//! are carrier-mta's `handoff::control`): local commands submit mail and ask for the queue,
//! a flush and the status.
//!
//! The socket is open to every local user (mode 0666) because any user may send mail; the
//! daemon learns who is calling from the kernel (SO_PEERCRED), never from the request.

use super::shared::Server;
use super::{limits, status};
use carrier_accounts::passwd;
use carrier_mta::handoff::Submission;
use carrier_mta::handoff::control::{Answer, socket_path};
use carrier_mta::handoff::{self, pickup};
use carrier_mta::{Message, Unknown, mailq, sysexits};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::time::timeout;
use tracing::{info, warn};

/// The longest request line.
const MAX_LINE: u64 = 512;
/// Connections one ordinary user may hold open at once (root and the daemon's user are not
/// counted): a local user must not be able to hold the daemon's memory or tasks.
const MAX_PER_UID: usize = 16;

/// Binds the socket, replacing one left by a daemon that died; refuses when another daemon
/// still answers on it (two daemons on one data_dir would share a queue).
pub fn bind(data_dir: &Path) -> Result<UnixListener, String> {
    let path = socket_path(data_dir);
    if StdStream::connect(&path).is_ok() {
        return Err(format!(
            "another carrier daemon is already running with data_dir {} (its control socket {} answers); \
             stop it first, or give this one another data_dir",
            data_dir.display(),
            path.display()
        ));
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove the stale control socket {}: {e}", path.display())),
    }
    let listener =
        UnixListener::bind(&path).map_err(|e| format!("cannot create the control socket {}: {e}", path.display()))?;
    // Every local user may submit mail, as with sendmail; who they are comes from SO_PEERCRED.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("cannot open up the control socket {}: {e}", path.display()))?;
    Ok(listener)
}

/// Answers requests until the process ends.
pub async fn serve(server: Arc<Server>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(server.clone(), stream));
            }
            Err(e) => {
                warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(server: Arc<Server>, mut stream: UnixStream) {
    let uid = match stream.peer_cred() {
        Ok(cred) => cred.uid(),
        Err(e) => return warn!("control socket: cannot tell who is calling: {e}"),
    };
    let limit = server.cfg.smtp.timeout;
    let privileged = passwd::trusted(uid);
    let _slot = match privileged {
        true => None,
        false => match server.control_clients.admit(uid, MAX_PER_UID, 0) {
            Ok(slot) => Some(slot),
            Err(_) => {
                warn!("control socket: uid {uid} already has {MAX_PER_UID} connections; refused");
                let busy = Answer::Err(sysexits::TEMPFAIL, format!("uid {uid} has {MAX_PER_UID} connections open"));
                let _ = timeout(limit, stream.write_all(&busy.encode())).await;
                return;
            }
        },
    };
    let (read, mut write) = stream.into_split();
    let mut reader = AsyncBufReader::new(read);
    loop {
        let mut line = String::new();
        let got = timeout(limit, (&mut reader).take(MAX_LINE).read_line(&mut line)).await;
        let Ok(Ok(n)) = got else { return };
        if n == 0 {
            return;
        }
        let answer = match line.strip_suffix('\n') {
            Some(request) => answer(&server, request, Caller { uid, privileged }, &mut reader).await,
            None => Answer::Err(sysexits::USAGE, "request line too long or unterminated".into()),
        };
        if timeout(limit, write.write_all(&answer.encode())).await.is_err() {
            return;
        }
        if matches!(answer, Answer::Err(sysexits::USAGE, _)) {
            return; // a confused client: stop reading its bytes as commands
        }
    }
}

/// Who is calling, from SO_PEERCRED.
#[derive(Clone, Copy)]
struct Caller {
    uid: u32,
    /// root, or the daemon's own user.
    privileged: bool,
}

impl Caller {
    /// May see the queue of everyone (Postfix's `authorized_mailq_users`, here also for a
    /// flush and the status): root, the daemon's user, and `authorized_mailq_users`.
    fn may_see_the_queue(self, server: &Server) -> bool {
        let users = &server.cfg.authorized_mailq_users;
        self.privileged
            || users.iter().any(|u| u == "*")
            || passwd::by_uid(self.uid).is_some_and(|a| users.contains(&a.name))
    }
}

async fn answer(server: &Server, request: &str, caller: Caller, reader: &mut (impl AsyncReadExt + Unpin)) -> Answer {
    let (command, arg) = request.split_once(' ').unwrap_or((request, ""));
    let uid = caller.uid;
    if matches!(command, "FLUSH" | "LIST" | "STATUS") && !caller.may_see_the_queue(server) {
        info!("control socket: {command} refused to uid {uid} (not in authorized_mailq_users)");
        let text = "only root, carrier's user and the users in authorized_mailq_users may see or flush the queue; \
                    ask the administrator";
        return Answer::Err(sysexits::NOPERM, text.into());
    }
    match command {
        "SUBMIT" => submit(server, arg, uid, reader).await,
        "FLUSH" => {
            info!("flush requested by uid {uid}");
            server.intake.jobs().flush();
            Answer::Ok("the queue is being retried now".into())
        }
        // For callers who may not read the spool themselves (mailq as an ordinary user).
        "LIST" => {
            let max = handoff::max_submission(server.cfg.smtp.max_message_size);
            let waiting = pickup::waiting(&server.cfg.data_dir, max).unwrap_or_default();
            match mailq::listing(server.spool(), &waiting) {
                Ok(text) => Answer::Body(text.into_bytes()),
                Err(e) => Answer::Err(sysexits::IOERR, format!("cannot list the queue: {e}")),
            }
        }
        "STATUS" => Answer::Body(status::report(server).await.into_bytes()),
        // `carrier queue delete`: removed here so that the daemon's log has the line.
        "DELETE" if caller.privileged => delete(server, arg, uid).await,
        "DELETE" => {
            info!("control socket: DELETE refused to uid {uid}");
            Answer::Err(sysexits::NOPERM, "only root and carrier's user may delete queued mail".into())
        }
        // `carrier tls-reports --today`: the reports of finished days, and today's so far.
        "TLSRPT" if caller.privileged => {
            match carrier_mta::relay::tls_report::send(&server.intake, &server.cfg, &server.resolver, true).await {
                Ok(n) => Answer::Ok(format!("{n} TLS report(s) queued")),
                Err(e) => Answer::Err(sysexits::IOERR, format!("cannot send the TLS reports: {e}")),
            }
        }
        "DKIM-RELOAD" if caller.privileged => match server.intake.signer().reload(&server.cfg) {
            Ok(n) => {
                info!("DKIM keys reloaded on request of uid {uid}: {n} signing");
                Answer::Ok(format!("signs with them from now on ({n} signing keys)"))
            }
            Err(e) => Answer::Err(sysexits::CONFIG, e),
        },
        _ => Answer::Err(sysexits::USAGE, format!("unknown request {command:?}")),
    }
}

/// `DELETE <queue id>` or `DELETE ALL`: each message removed is logged with its queue id.
async fn delete(server: &Server, arg: &str, uid: u32) -> Answer {
    let Some(what) = mailq::Delete::parse(arg) else {
        return Answer::Err(sysexits::USAGE, format!("DELETE needs a queue id or ALL, not {arg:?}"));
    };
    let spool = server.spool().clone();
    let done = tokio::task::spawn_blocking(move || mailq::delete(&spool, &what)).await;
    match done {
        Ok(Ok(removed)) => {
            for id in &removed {
                info!("{}", mailq::deleted_line(id, uid));
            }
            Answer::Ok(removed.len().to_string())
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Answer::Err(sysexits::NOUSER, mailq::not_queued(arg)),
        Ok(Err(e)) => Answer::Err(sysexits::IOERR, format!("{arg}: {e}")),
        Err(e) => Answer::Err(sysexits::IOERR, format!("{arg}: {e}")),
    }
}

/// `SUBMIT <length>` followed by that many octets of [`Submission`] text.
async fn submit(server: &Server, arg: &str, uid: u32, reader: &mut (impl AsyncReadExt + Unpin)) -> Answer {
    let Ok(length) = arg.parse::<u64>() else {
        return Answer::Err(sysexits::USAGE, "SUBMIT needs the payload length".into());
    };
    if length > handoff::max_submission(server.cfg.smtp.max_message_size) {
        let max = server.cfg.smtp.max_message_size;
        return Answer::Err(
            sysexits::USAGE,
            format!("the message is larger than smtp.max_message_size ({max} octets)"),
        );
    }
    // The payload counts against smtp.max_message_memory like a message arriving by SMTP;
    // without room it is read and dropped, and the caller leaves it in the pickup directory.
    let mut memory = limits::MemoryShare::default();
    if !memory.cover(&server.message_memory, length as usize) {
        warn!(
            "control socket: messages being received hold smtp.max_message_memory; refusing a \
             submission of {length} octets from uid {uid} for now"
        );
        let (mut payload, mut sink) = (reader.take(length), tokio::io::sink());
        let drained = timeout(server.cfg.smtp.data_timeout, tokio::io::copy(&mut payload, &mut sink)).await;
        if !matches!(drained, Ok(Ok(n)) if n == length) {
            return Answer::Err(sysexits::USAGE, "the payload did not arrive in time".into());
        }
        return Answer::Err(sysexits::TEMPFAIL, "the server is short of memory for messages now".into());
    }
    let mut payload = vec![0u8; length as usize];
    if timeout(server.cfg.smtp.data_timeout, reader.read_exact(&mut payload)).await.is_err() {
        return Answer::Err(sysexits::USAGE, "the payload did not arrive in time".into());
    }
    let sub = match Submission::decode(&payload) {
        Ok(sub) => sub,
        Err(e) => return Answer::Err(sysexits::USAGE, format!("bad submission: {e}")),
    };
    // sendmail's rule: the known recipients get the message, unknown ones are bounced to the
    // sender and named to the caller; refused only when nobody is known.
    match server.intake.accept(Message::from_submission(sub, uid), Unknown::Bounce).await {
        Ok(accepted) if accepted.unknown.is_empty() => Answer::Ok(accepted.id.to_string()),
        Ok(accepted) => {
            let unknown: Vec<String> = accepted.unknown.iter().map(|r| format!("<{r}>")).collect();
            let warning =
                format!("{}: User unknown; returned to the sender, the others get the message", unknown.join(", "));
            Answer::Ok(format!("{} {warning}", accepted.id))
        }
        Err(refusal) => {
            info!("NOQUEUE: local submission from uid {uid} refused: {}", refusal.text());
            Answer::Err(refusal.exit, refusal.text().to_string())
        }
    }
}
