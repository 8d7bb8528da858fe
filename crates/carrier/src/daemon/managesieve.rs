//! The ManageSieve listener (4190, RFC 5804): users upload, list, activate and delete the
//! Sieve scripts the delivery agent runs, with the same logins as IMAP. Each connection
//! drives one sans-IO [`Session`]; scripts live in the account's directory
//! ([`carrier_store::Scripts`]) and are compiled before they are stored.
//!
//! It shares IMAP's connection limits: both serve mail clients of the same users.

use super::conn::{self, Conn, Read};
use super::login::{self, Refusal};
use super::shared::Server;
use carrier_managesieve::{Config, Event, LoginFailure, Request, Response, Session};
use carrier_store::{ScriptError, Scripts};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout};
use tracing::{info, warn};

/// Accepts connections on one listener until the process ends.
pub async fn listen(server: Arc<Server>, listener: TcpListener) {
    let admission = conn::Admission {
        log: "managesieve-login",
        slots: server.imap_connections.clone(),
        max: server.cfg.imap.max_connections,
        busy: b"BYE (TRYLATER) \"Too many connections, try again later.\"\r\n",
        prelogin: server.prelogin_imap.clone(),
        per_ip: (server.cfg.imap.max_connections_per_ip, "imap.max_connections_per_ip"),
        crowded: b"BYE (TRYLATER) \"Too many connections from your address, try again later.\"\r\n",
        implicit_tls: None,
    };
    conn::serve_each(server, listener, admission, |server, conn, peer, local, prelogin| async move {
        let mut client = Client::new(server, peer, local, &conn, prelogin);
        let end = client.run(conn).await;
        match &client.user {
            Some(user) => info!("managesieve({user}): Disconnected: {end}"),
            None => info!("managesieve-login: Disconnected ({end}): {}", client.addresses()),
        }
    })
    .await
}

struct Client {
    server: Arc<Server>,
    peer: SocketAddr,
    local: SocketAddr,
    session: Session,
    user: Option<String>,
    tls: bool,
    prelogin: conn::Prelogin,
    login_deadline: Instant,
}

impl Client {
    fn new(server: Arc<Server>, peer: SocketAddr, local: SocketAddr, conn: &Conn, prelogin: conn::Prelogin) -> Client {
        let cfg = &server.cfg;
        let session = Session::new(Config {
            extensions: carrier_sieve::EXTENSIONS.join(" "),
            tls: conn.is_tls(),
            starttls: true,
            plaintext: cfg.submission.plaintext_loopback && peer.ip().is_loopback(),
            max_script_size: cfg.sieve.max_script_size,
            max_redirects: cfg.sieve.max_redirects,
            max_errors: cfg.imap.max_errors,
            max_auth_failures: cfg.submission.max_auth_failures,
        });
        let login_deadline = Instant::now() + cfg.imap.login_timeout;
        Client { server, peer, local, session, user: None, tls: conn.is_tls(), prelogin, login_deadline }
    }

    fn deadline(&self) -> Instant {
        let idle = Instant::now() + self.server.cfg.imap.timeout;
        if self.user.is_some() { idle } else { idle.min(self.login_deadline) }
    }

    async fn run(&mut self, mut conn: Conn) -> String {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match self.session.next_event() {
                Event::NeedInput => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    match conn.read_by(&mut buf, self.deadline()).await {
                        Read::Bytes(n) => self.session.feed(&buf[..n]),
                        Read::Idle => {
                            self.session.timeout();
                            let _ = self.flush(&mut conn).await;
                            return "Disconnected for inactivity".into();
                        }
                        Read::Ended(why) => return why,
                    }
                }
                Event::StartTls => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    conn = match conn.upgrade(&self.server.tls.acceptor(), self.deadline()).await {
                        Ok(tls) => tls,
                        Err(end) => return end,
                    };
                    self.tls = true;
                    self.session.tls_established();
                }
                Event::Auth { mechanism, login, password } => {
                    let result = self.login(mechanism, login, password).await;
                    self.session.login(result);
                }
                Event::Request(request) => {
                    let response = self.request(request).await;
                    self.session.answer(response);
                }
                Event::Close => {
                    let _ = self.flush(&mut conn).await;
                    let _ = timeout(Duration::from_secs(5), tokio::io::AsyncWriteExt::shutdown(&mut conn)).await;
                    return "Logged out".into();
                }
            }
        }
    }

    async fn login(&mut self, mechanism: &str, login: String, password: String) -> Result<(), LoginFailure> {
        match login::verify(&self.server, self.peer.ip(), &login, password).await {
            Ok(user) => {
                info!("managesieve-login: Login: user=<{user}>, method={mechanism}, {}", self.addresses());
                self.user = Some(user);
                self.prelogin = None;
                Ok(())
            }
            Err(Refusal::Throttled) => Err(LoginFailure::Throttled),
            Err(Refusal::Credentials) => {
                warn!("managesieve-login: auth failed: user=<{login}>, method={mechanism}, {}", self.addresses());
                Err(LoginFailure::Credentials)
            }
        }
    }

    /// Carries out one script operation on a blocking thread.
    async fn request(&self, request: Request) -> Response {
        let Some(user) = self.user.clone() else {
            return Response::No(None, "Authenticate first".into());
        };
        let scripts = self.server.store.account(&user).scripts();
        let (limits, log_user) = (self.server.cfg.sieve.clone(), user.clone());
        let result = tokio::task::spawn_blocking(move || operate(&scripts, &limits, request, &log_user)).await;
        result.unwrap_or_else(|e| Response::No(Some("TRYLATER"), format!("Internal error: {e}")))
    }

    async fn flush(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        let out = self.session.take_output();
        conn.send(&out, self.server.cfg.imap.timeout).await
    }

    fn addresses(&self) -> String {
        let tls = if self.tls { ", TLS" } else { "" };
        format!("rip={}, lip={}{tls}", self.peer.ip(), self.local.ip())
    }
}

/// RFC 5804 2.3 to 2.12 against the user's scripts.
fn operate(scripts: &Scripts, limits: &carrier_config::Sieve, request: Request, user: &str) -> Response {
    let outcome = match request {
        Request::HaveSpace { name, .. } => room_for(scripts, limits, &name).map(|()| Response::Done(None)),
        Request::Check { script } => return compiled(&script, limits),
        Request::Put { name, script } => {
            let verdict = compiled(&script, limits);
            if let Response::No(..) = verdict {
                return verdict;
            }
            room_for(scripts, limits, &name).and_then(|()| scripts.put(&name, &script).map_err(ScriptError::Io)).map(
                |()| {
                    info!("managesieve({user}): stored script {name:?} ({} octets)", script.len());
                    verdict
                },
            )
        }
        Request::List => scripts.list().map(Response::Scripts).map_err(ScriptError::Io),
        Request::Get { name } => scripts.get(&name).map(Response::Script),
        Request::SetActive { name } => {
            let target = (!name.is_empty()).then_some(name.as_str());
            // A script stored before an upgrade of the compiler must still compile.
            if let Some(text) = target.and_then(|n| scripts.get(n).ok())
                && let Response::No(code, why) = compiled(&text, limits)
            {
                return Response::No(code, why);
            }
            scripts.set_active(target).map(|()| {
                match target {
                    Some(name) => info!("managesieve({user}): active script is now {name:?}"),
                    None => info!("managesieve({user}): no script is active now"),
                }
                Response::Done(None)
            })
        }
        Request::Delete { name } => scripts.delete(&name).map(|()| Response::Done(None)),
        Request::Rename { old, new } => scripts.rename(&old, &new).map(|()| Response::Done(None)),
    };
    outcome.unwrap_or_else(|e| refusal(e, user))
}

/// RFC 5804 2.3: QUOTA/MAXSCRIPTS when a new name would pass the number allowed.
fn room_for(scripts: &Scripts, limits: &carrier_config::Sieve, name: &str) -> Result<(), ScriptError> {
    let list = scripts.list()?;
    if !list.iter().any(|(n, _)| n == name) && list.len() >= limits.max_scripts {
        return Err(ScriptError::Io(std::io::Error::new(std::io::ErrorKind::QuotaExceeded, "max scripts")));
    }
    Ok(())
}

/// The compiler's verdict: OK, OK with warnings, or NO with the errors and their positions.
fn compiled(script: &[u8], limits: &carrier_config::Sieve) -> Response {
    match carrier_sieve::compile_with(script, carrier_mta::rules::limits(limits)) {
        Ok(compiled) if compiled.warnings.is_empty() => Response::Done(None),
        Ok(compiled) => Response::Done(Some(compiled.warnings.join("\n"))),
        Err(errors) => Response::No(None, errors.to_string()),
    }
}

fn refusal(e: ScriptError, user: &str) -> Response {
    match e {
        ScriptError::NotFound => Response::No(Some("NONEXISTENT"), "There is no script by that name.".into()),
        ScriptError::Exists => Response::No(Some("ALREADYEXISTS"), "A script by that name exists already.".into()),
        ScriptError::Active => Response::No(Some("ACTIVE"), "The active script cannot be deleted.".into()),
        ScriptError::Io(e) if e.kind() == std::io::ErrorKind::QuotaExceeded => {
            Response::No(Some("QUOTA/MAXSCRIPTS"), "You have as many scripts as allowed; delete one first.".into())
        }
        ScriptError::Io(e) => {
            warn!("managesieve({user}): storage error: {e}");
            Response::No(Some("TRYLATER"), "The scripts cannot be stored now; try again later.".into())
        }
    }
}
