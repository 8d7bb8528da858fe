//! The SMTP client: one connection to a remote server, driven over TCP or TLS with the
//! sans-IO pieces of `carrier_smtp::client`. Timeouts are RFC 5321 4.5.3.2's.

use super::tls_report::Result as TlsResult;
use crate::outcome::{Failure, Outcome};
use carrier_smtp::client::{self, Capabilities, Response, ResponseReader};
use rustls_pki_types::ServerName;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Not in RFC 5321; Postfix's smtp_connect_timeout.
const CONNECT: Duration = Duration::from_secs(30);
/// RFC 5321 4.5.3.2.1, .2, .3, .4: greeting, MAIL, RCPT, and (our choice) EHLO/STARTTLS/AUTH.
const COMMAND: Duration = Duration::from_secs(300);
/// RFC 5321 4.5.3.2.3: DATA initiation.
const DATA_INIT: Duration = Duration::from_secs(120);
/// RFC 5321 4.5.3.2.5: each block of data sent.
const DATA_BLOCK: Duration = Duration::from_secs(180);
/// RFC 5321 4.5.3.2.6: the reply to the final dot.
const DATA_END: Duration = Duration::from_secs(600);

/// A byte stream: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where a connection goes: the host's name (for logs, SNI and loop checks) and address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The MX or smarthost name.
    pub name: String,
    /// The address connected to.
    pub ip: IpAddr,
    /// The TCP port.
    pub port: u16,
}

impl Peer {
    /// `mx.example.org[192.0.2.1]:25`, as Postfix logs a relay.
    pub fn describe(&self) -> String {
        format!("{}[{}]:{}", self.name, self.ip, self.port)
    }

    fn name_ip(&self) -> String {
        format!("{}[{}]", self.name, self.ip)
    }
}

/// How a connection uses TLS.
#[derive(Clone)]
pub enum TlsPolicy {
    /// MX delivery: STARTTLS when offered, certificate not verified (RFC 7435); plain text
    /// if the server offers none or `plain` (a handshake failed before).
    Opportunistic { config: Arc<rustls::ClientConfig>, plain: bool },
    /// A smarthost on a STARTTLS port: verified TLS when offered, and required before AUTH.
    StartTls(Arc<rustls::ClientConfig>),
    /// A smarthost on port 465: TLS from the first byte (RFC 8314), verified.
    Implicit(Arc<rustls::ClientConfig>),
    /// An MX host that must be reached over TLS, checked by the configuration: under an
    /// enforced MTA-STS policy (RFC 8461 4.2) valid for the MX name, under DANE (RFC 7672)
    /// matching its TLSA records; otherwise the host is not used.
    Required(Arc<rustls::ClientConfig>, Mandate),
}

/// Who requires TLS of an MX host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mandate {
    /// The domain's enforced MTA-STS policy: a certificate valid for the MX name.
    MtaSts,
    /// The host's DNSSEC-secure TLSA records: a certificate matching them.
    Dane,
    /// Secure TLSA records of which none is usable: TLS, unauthenticated (RFC 7672 3.1.3).
    DaneEncrypt,
}

impl Mandate {
    /// For errors: "its domain's MTA-STS policy requires" TLS.
    pub fn who(self) -> &'static str {
        match self {
            Mandate::MtaSts => "its domain's MTA-STS policy requires",
            Mandate::Dane | Mandate::DaneEncrypt => "its DNSSEC-signed TLSA records (DANE) require",
        }
    }

    /// Whether the certificate is checked (for the log's "Verified" or "Untrusted").
    pub fn verifies(self) -> bool {
        self != Mandate::DaneEncrypt
    }
}

/// Credentials for AUTH (smarthosts).
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// Why a connection could not be used.
pub enum OpenError {
    /// The delivery attempt to this host failed; try the next one.
    Failed(Failure),
    /// The TLS handshake failed on an opportunistic connection: try again in plain text.
    TlsFailed(Failure, TlsResult),
    /// Verified TLS was required and could not be had: try the next host.
    Insecure(Failure, TlsResult),
}

/// An open SMTP session, ready for a transaction.
pub struct Connection {
    io: Box<dyn Io>,
    reader: ResponseReader,
    /// What the server announced after the last EHLO.
    pub caps: Capabilities,
    /// Who we talk to.
    pub peer: Peer,
    /// The TLS protocol and cipher, when encrypted.
    pub tls: Option<String>,
    /// The connection failed mid-conversation and must not be reused.
    pub broken: bool,
}

/// What the session must do beyond connecting.
pub struct Setup<'a> {
    /// Our name for EHLO.
    pub helo: &'a str,
    pub tls: &'a TlsPolicy,
    pub auth: Option<&'a Credentials>,
}

/// The message of one transaction.
pub struct Mail<'a> {
    pub sender: &'a str,
    pub recipients: &'a [String],
    pub message: &'a [u8],
    pub eight_bit: bool,
    pub smtputf8: bool,
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, starts TLS and authenticates as `setup` asks.
    /// A server greeting with our own name is a mail loop (RFC 5321 5.2; Postfix and
    /// sendmail check the same).
    pub async fn open(peer: Peer, setup: &Setup<'_>) -> Result<Connection, OpenError> {
        let addr = SocketAddr::new(peer.ip, peer.port);
        let tcp = match timeout(CONNECT, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(OpenError::Failed(connect_failure(&peer, &e.to_string()))),
            Err(_) => return Err(OpenError::Failed(connect_failure(&peer, "Connection timed out"))),
        };
        let _ = tcp.set_nodelay(true);
        let mut conn = Connection {
            io: Box::new(tcp),
            reader: ResponseReader::default(),
            caps: Capabilities::default(),
            peer,
            tls: None,
            broken: false,
        };
        if let TlsPolicy::Implicit(config) = setup.tls {
            conn.handshake(config.clone(), setup.tls).await.map_err(|(f, _)| OpenError::Failed(f))?;
        }
        let greeting = conn.read(COMMAND, "initial greeting").await.map_err(OpenError::Failed)?;
        if greeting.code != 220 {
            return Err(OpenError::Failed(conn.refused(&greeting, "initial greeting")));
        }
        conn.check_loop(setup.helo, greeting.lines.first().and_then(|l| l.split_whitespace().next()))
            .map_err(OpenError::Failed)?;
        conn.ehlo(setup.helo).await.map_err(OpenError::Failed)?;
        conn.start_tls(setup).await?;
        if let Some(creds) = setup.auth {
            conn.authenticate(creds).await.map_err(OpenError::Failed)?;
        }
        Ok(conn)
    }

    /// EHLO, or HELO when the server does not know EHLO (RFC 5321 3.2).
    async fn ehlo(&mut self, helo: &str) -> Result<(), Failure> {
        let reply = self.command(&format!("EHLO {helo}\r\n"), COMMAND, "EHLO").await?;
        let reply = if reply.code == 250 {
            reply
        } else if reply.code >= 500 {
            let helo_reply = self.command(&format!("HELO {helo}\r\n"), COMMAND, "HELO").await?;
            if helo_reply.code != 250 {
                return Err(self.refused(&helo_reply, "HELO"));
            }
            helo_reply
        } else {
            return Err(self.refused(&reply, "EHLO"));
        };
        self.caps = Capabilities::from_ehlo(&reply);
        self.check_loop(helo, Some(&self.caps.name.clone()))
    }

    fn check_loop(&self, helo: &str, name: Option<&str>) -> Result<(), Failure> {
        if name.is_some_and(|n| n.trim_end_matches('.').eq_ignore_ascii_case(helo)) {
            return Err(Failure::permanent(
                "5.4.6",
                format!(
                    "mail loops back to me (MX problem?): {} greeted me with my own hostname {helo}",
                    self.peer.name_ip()
                ),
            ));
        }
        Ok(())
    }

    /// RFC 3207: STARTTLS, the handshake, and EHLO again (the server forgets what it said).
    async fn start_tls(&mut self, setup: &Setup<'_>) -> Result<(), OpenError> {
        let (config, verified) = match setup.tls {
            TlsPolicy::Opportunistic { config, plain: false } => (config.clone(), false),
            TlsPolicy::StartTls(config) | TlsPolicy::Required(config, _) => (config.clone(), true),
            TlsPolicy::Opportunistic { plain: true, .. } | TlsPolicy::Implicit(_) => return Ok(()),
        };
        let mandate = match setup.tls {
            TlsPolicy::Required(_, mandate) => Some(*mandate),
            _ => None,
        };
        let required = mandate.is_some();
        if let Some(mandate) = mandate.filter(|_| !self.caps.starttls) {
            let text = format!("{} offers no STARTTLS, but {} TLS", self.peer.describe(), mandate.who());
            return Err(OpenError::Insecure(Failure::temporary("4.7.5", text), TlsResult::StartTlsNotSupported));
        }
        if !self.caps.starttls {
            if verified && setup.auth.is_some() {
                return Err(OpenError::Failed(Failure::temporary(
                    "4.7.4",
                    format!(
                        "{} offers no STARTTLS, and the smarthost password is never sent in clear text; enable \
                         TLS on the smarthost or use its port 465",
                        self.peer.describe()
                    ),
                )));
            }
            return Ok(());
        }
        let reply = self.command("STARTTLS\r\n", COMMAND, "STARTTLS").await.map_err(OpenError::Failed)?;
        if reply.code != 220 {
            // An MX that offers STARTTLS and then refuses it gets the mail in plain text.
            return match (verified, required) {
                (_, true) => {
                    Err(OpenError::Insecure(self.refused(&reply, "STARTTLS"), TlsResult::StartTlsNotSupported))
                }
                (true, false) => Err(OpenError::Failed(self.refused(&reply, "STARTTLS"))),
                (false, false) => Ok(()),
            };
        }
        match self.handshake(config, setup.tls).await {
            Ok(()) => {}
            Err((f, r)) if required => return Err(OpenError::Insecure(f, r)),
            Err((f, _)) if verified => return Err(OpenError::Failed(f)),
            Err((f, r)) => return Err(OpenError::TlsFailed(f, r)),
        }
        self.ehlo(setup.helo).await.map_err(OpenError::Failed)
    }

    /// The TLS handshake; a failure also says what kind it was, for TLS reports.
    async fn handshake(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        policy: &TlsPolicy,
    ) -> Result<(), (Failure, TlsResult)> {
        let name = match self.peer.name.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => {
                ServerName::try_from(self.peer.name.clone()).unwrap_or(ServerName::IpAddress(self.peer.ip.into()))
            }
        };
        let io = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        let connector = tokio_rustls::TlsConnector::from(config);
        match timeout(COMMAND, connector.connect(name, io)).await {
            Ok(Ok(tls)) => {
                let (_, state) = tls.get_ref();
                let version = state.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
                let suite = state.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
                self.tls = Some(format!("{version} {suite}"));
                self.io = Box::new(tls);
                Ok(())
            }
            Ok(Err(e)) => Err((
                Failure::temporary(
                    "4.7.5",
                    format!("TLS handshake with {} failed: {}", self.peer.name_ip(), tls_error_text(&e, policy)),
                ),
                TlsResult::of_tls_error(&e),
            )),
            Err(_) => Err((
                Failure::temporary("4.4.2", format!("TLS handshake with {} timed out", self.peer.name_ip())),
                TlsResult::ValidationFailure,
            )),
        }
    }

    /// RFC 4954: PLAIN when offered, else LOGIN; never before TLS.
    async fn authenticate(&mut self, creds: &Credentials) -> Result<(), Failure> {
        if self.tls.is_none() {
            return Err(Failure::temporary(
                "4.7.4",
                format!("not sending the smarthost password to {} without TLS", self.peer.describe()),
            ));
        }
        let reply = if self.caps.auth.iter().any(|m| m == "PLAIN") {
            self.command(&client::auth_plain(&creds.user, &creds.password), COMMAND, "AUTH").await?
        } else if self.caps.auth.iter().any(|m| m == "LOGIN") {
            let mut reply = self.command("AUTH LOGIN\r\n", COMMAND, "AUTH").await?;
            for value in [&creds.user, &creds.password] {
                if reply.code != 334 {
                    break;
                }
                reply = self.command(&client::auth_login_line(value), COMMAND, "AUTH").await?;
            }
            reply
        } else {
            return Err(Failure::temporary(
                "4.7.0",
                format!(
                    "{} offers no AUTH mechanism carrier knows (PLAIN, LOGIN): it announced {:?}",
                    self.peer.describe(),
                    self.caps.auth
                ),
            ));
        };
        if reply.code == 235 {
            return Ok(());
        }
        // Deferred even on 5xx, as Postfix's smtp_sasl_auth_soft_bounce: the administrator
        // fixes the password and the queue goes out, instead of every message bouncing.
        let mut failure = self.refused(&reply, "AUTH");
        failure.permanent = false;
        failure.text.push_str("; check `user` and `password` under [relay] in carrier.toml");
        Err(failure)
    }

    /// One mail transaction (RFC 5321 3.3), pipelined when the server allows (RFC 2920).
    /// The outcome per recipient, in the order of `mail.recipients`.
    pub async fn send(&mut self, mail: &Mail<'_>) -> Result<Vec<Outcome>, Failure> {
        let needs_utf8 = mail.smtputf8
            && (client::needs_smtputf8(mail.sender) || mail.recipients.iter().any(|r| client::needs_smtputf8(r)));
        if needs_utf8 && !self.caps.smtputf8 {
            // RFC 6531 3.4: without SMTPUTF8 the message cannot be delivered.
            return Err(Failure::permanent(
                "5.6.7",
                format!("SMTPUTF8 is required, but was not offered by host {}", self.peer.name_ip()),
            ));
        }
        if self.caps.too_big(mail.message.len()) {
            return Err(Failure::permanent(
                "5.3.4",
                format!(
                    "message size {} exceeds size limit {} of server {}",
                    mail.message.len(),
                    self.caps.size.unwrap_or(0),
                    self.peer.name_ip()
                ),
            ));
        }
        let mail_cmd = client::mail_from(mail.sender, mail.message.len(), &self.caps, mail.eight_bit, needs_utf8);
        let rcpt_cmds: Vec<String> = mail.recipients.iter().map(|r| client::rcpt_to(r)).collect();
        let (mail_reply, rcpt_replies, data_reply) = if self.caps.pipelining {
            self.pipelined(&mail_cmd, &rcpt_cmds).await?
        } else {
            self.lockstep(&mail_cmd, &rcpt_cmds).await?
        };
        if !mail_reply.is_positive() {
            return Err(self.refused(&mail_reply, "MAIL FROM"));
        }
        let mut outcomes: Vec<Outcome> = rcpt_replies.iter().map(|r| self.rcpt_outcome(r)).collect::<Vec<_>>();
        let accepted: Vec<usize> = (0..outcomes.len()).filter(|&i| rcpt_replies[i].is_positive()).collect();
        let Some(data_reply) = data_reply else { return Ok(outcomes) };
        if data_reply.code != 354 {
            let failure = self.refused(&data_reply, "DATA");
            for &i in &accepted {
                outcomes[i] = failure.clone().into_outcome();
            }
            return Ok(outcomes);
        }
        // RFC 2920 3.1: DATA accepted although no recipient was: send an empty message.
        let body = if accepted.is_empty() { b".\r\n".to_vec() } else { client::dot_stuff(mail.message) };
        // From here on the server may have the message: a failure defers these recipients
        // instead of trying the next host at once, which could deliver it twice.
        let end = match self.write_data(&body).await {
            Ok(()) => self.read(DATA_END, "end of DATA").await,
            Err(f) => Err(f),
        };
        if accepted.is_empty() {
            return Ok(outcomes);
        }
        let result = match end {
            Ok(end) if end.is_positive() => Outcome::Sent(end.one_line()),
            Ok(end) => self.refused(&end, "end of DATA command").into_outcome(),
            Err(f) => Outcome::Deferred(f),
        };
        for &i in &accepted {
            outcomes[i] = result.clone();
        }
        Ok(outcomes)
    }

    /// MAIL, every RCPT and DATA in one write; then the replies in order.
    async fn pipelined(
        &mut self,
        mail_cmd: &str,
        rcpt_cmds: &[String],
    ) -> Result<(Response, Vec<Response>, Option<Response>), Failure> {
        let mut batch = mail_cmd.to_string();
        rcpt_cmds.iter().for_each(|c| batch.push_str(c));
        batch.push_str("DATA\r\n");
        self.write(batch.as_bytes(), COMMAND, "MAIL FROM").await?;
        let mail_reply = self.read(COMMAND, "MAIL FROM").await?;
        let mut rcpt_replies = Vec::with_capacity(rcpt_cmds.len());
        for _ in rcpt_cmds {
            rcpt_replies.push(self.read(COMMAND, "RCPT TO").await?);
        }
        let data_reply = self.read(DATA_INIT, "DATA").await?;
        Ok((mail_reply, rcpt_replies, Some(data_reply)))
    }

    /// One command at a time, stopping early when MAIL or every RCPT fails.
    async fn lockstep(
        &mut self,
        mail_cmd: &str,
        rcpt_cmds: &[String],
    ) -> Result<(Response, Vec<Response>, Option<Response>), Failure> {
        let mail_reply = self.command(mail_cmd, COMMAND, "MAIL FROM").await?;
        if !mail_reply.is_positive() {
            return Ok((mail_reply, Vec::new(), None));
        }
        let mut rcpt_replies = Vec::with_capacity(rcpt_cmds.len());
        for cmd in rcpt_cmds {
            rcpt_replies.push(self.command(cmd, COMMAND, "RCPT TO").await?);
        }
        if !rcpt_replies.iter().any(Response::is_positive) {
            return Ok((mail_reply, rcpt_replies, None));
        }
        let data_reply = self.command("DATA\r\n", DATA_INIT, "DATA").await?;
        Ok((mail_reply, rcpt_replies, Some(data_reply)))
    }

    fn rcpt_outcome(&self, reply: &Response) -> Outcome {
        if reply.is_positive() {
            // Replaced by the DATA outcome; a placeholder until then.
            return Outcome::Sent(reply.one_line());
        }
        self.refused(reply, "RCPT TO command").into_outcome()
    }

    /// RSET before reusing a kept connection (RFC 5321 4.1.1.5); false when it is dead.
    pub async fn reset(&mut self) -> bool {
        matches!(self.command("RSET\r\n", Duration::from_secs(20), "RSET").await, Ok(r) if r.code == 250)
    }

    /// QUIT politely; errors do not matter any more.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT\r\n", Duration::from_secs(10), "QUIT").await;
        let _ = timeout(Duration::from_secs(5), self.io.shutdown()).await;
    }

    async fn command(&mut self, line: &str, limit: Duration, stage: &str) -> Result<Response, Failure> {
        self.write(line.as_bytes(), limit, stage).await?;
        self.read(limit, stage).await
    }

    async fn write(&mut self, bytes: &[u8], limit: Duration, stage: &str) -> Result<(), Failure> {
        match timeout(limit, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.lost(stage, &e)),
            Err(_) => Err(self.timed_out(stage)),
        }
    }

    /// Writes the message in blocks, each with the RFC's data-block timeout.
    async fn write_data(&mut self, body: &[u8]) -> Result<(), Failure> {
        for block in body.chunks(64 * 1024) {
            match timeout(DATA_BLOCK, self.io.write_all(block)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.lost("message content", &e)),
                Err(_) => return Err(self.timed_out("message content")),
            }
        }
        match timeout(DATA_BLOCK, self.io.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.lost("message content", &e)),
            Err(_) => Err(self.timed_out("message content")),
        }
    }

    async fn read(&mut self, limit: Duration, stage: &str) -> Result<Response, Failure> {
        let mut buf = [0u8; 4096];
        loop {
            match self.reader.next_response() {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(Failure::temporary(
                        "4.5.0",
                        format!("{} sent a malformed reply to {stage}: {e}", self.peer.name_ip()),
                    ));
                }
            }
            match timeout(limit, self.io.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(self.lost(stage, &io::Error::from(io::ErrorKind::UnexpectedEof))),
                Ok(Ok(n)) => self.reader.feed(&buf[..n]),
                Ok(Err(e)) => return Err(self.lost(stage, &e)),
                Err(_) => return Err(self.timed_out(stage)),
            }
        }
    }

    /// `host X said: 550 ... (in reply to RCPT TO command)`, permanent for 5xx.
    fn refused(&self, reply: &Response, stage: &str) -> Failure {
        let stage = if stage.ends_with("command") || stage == "initial greeting" {
            stage.to_string()
        } else {
            format!("{stage} command")
        };
        let text = format!("host {} said: {} (in reply to {stage})", self.peer.name_ip(), reply.one_line());
        Failure { permanent: reply.code >= 500, dsn: reply.status(), text, remote: Some(reply.one_line()) }
    }

    fn lost(&mut self, stage: &str, e: &io::Error) -> Failure {
        self.broken = true;
        let why = if e.kind() == io::ErrorKind::UnexpectedEof { String::new() } else { format!(" ({e})") };
        Failure::temporary("4.4.2", format!("lost connection with {} while sending {stage}{why}", self.peer.name_ip()))
    }

    fn timed_out(&mut self, stage: &str) -> Failure {
        self.broken = true;
        Failure::temporary(
            "4.4.2",
            format!("conversation with {} timed out while sending {stage}", self.peer.name_ip()),
        )
    }
}

fn connect_failure(peer: &Peer, why: &str) -> Failure {
    Failure::temporary("4.4.1", format!("connect to {}: {why}", peer.describe()))
}

/// rustls errors in words: a certificate problem says what to change.
fn tls_error_text(e: &io::Error, policy: &TlsPolicy) -> String {
    let text = e.to_string();
    let setting = match policy {
        // The DANE verifier's own error names the TLSA records; no setting changes them.
        TlsPolicy::Required(_, Mandate::Dane) => return text,
        TlsPolicy::Required(..) => "`ca_file` under [delivery]",
        _ => "`smarthost_ca` under [relay]",
    };
    if text.contains("certificate") || text.contains("Certificate") {
        format!("{text} (the certificate is not trusted for this name; set {setting} if it is a private CA)")
    } else {
        text
    }
}
