//! `sendmail -bs`: an SMTP session on stdin/stdout, run by the same sans-IO core as the
//! listeners. Each message is handed over as `sendmail` hands one over (control socket, else
//! the pickup directory); recipients are judged by the daemon when the message arrives.

use super::hand_over::hand_over;
use carrier_config::Config;
use carrier_mta::handoff::Submission;
use carrier_mta::sysexits::{self, Failure};
use carrier_smtp::{BodyType, Event, Reply, Session, SessionConfig, Transaction};
use std::io::{Read, Write};

/// Runs the session until QUIT or the end of stdin.
pub fn run(cfg: &Config) -> Result<(), Failure> {
    let mut session = Session::new(SessionConfig {
        hostname: cfg.hostname.clone(),
        max_message_size: cfg.smtp.max_message_size,
        max_recipients: cfg.smtp.max_recipients,
        max_errors: cfg.smtp.max_errors,
        starttls: false,
        tls: false,
        auth: false,
        auth_required: false,
        auth_plaintext: false,
        max_auth_failures: cfg.submission.max_auth_failures,
    });
    let (mut stdin, mut stdout) = (std::io::stdin().lock(), std::io::stdout().lock());
    let mut buf = vec![0u8; 64 * 1024];
    let io_error = |e: std::io::Error| Failure::new(sysexits::IOERR, format!("SMTP on stdin/stdout: {e}"));
    loop {
        match session.next_event() {
            Event::NeedInput => {
                stdout.write_all(&session.take_output()).and_then(|()| stdout.flush()).map_err(io_error)?;
                match stdin.read(&mut buf).map_err(io_error)? {
                    0 => return Ok(()),
                    n => session.feed(&buf[..n]),
                }
            }
            Event::Mail { .. } | Event::Rcpt { .. } => session.answer(Ok(())),
            Event::Message(tx) => {
                let result = submit(cfg, tx);
                session.queued(result);
            }
            // Neither is offered on stdin: the caller is a local process.
            Event::StartTls | Event::Auth { .. } => session.shutdown(Reply::new(421, "4.3.0", "not available")),
            Event::Close => {
                return stdout.write_all(&session.take_output()).and_then(|()| stdout.flush()).map_err(io_error);
            }
        }
    }
}

fn submit(cfg: &Config, tx: Transaction) -> Result<String, Reply> {
    let sub = Submission {
        sender: tx.from,
        recipients: tx.recipients,
        eight_bit: tx.params.body == BodyType::EightBitMime || tx.message.iter().any(|b| *b >= 0x80),
        message: tx.message,
        helo: Some(tx.helo).filter(|h| !h.is_empty() && !h.contains(char::is_whitespace)),
        proto: if tx.proto.starts_with("ESMTP") { "ESMTP" } else { "SMTP" }.into(),
    };
    match hand_over(cfg, &sub) {
        Ok(handed) => Ok(handed.id().to_string()),
        Err(f) => Err(match f.code {
            sysexits::NOUSER => Reply::new(550, "5.1.1", f.text),
            sysexits::DATAERR | sysexits::USAGE => Reply::new(554, "5.6.0", f.text),
            _ => Reply::new(451, "4.3.0", f.text),
        }),
    }
}
