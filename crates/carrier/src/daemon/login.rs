//! Logins for every protocol (SMTP AUTH, POP3, IMAP): password checks off the async threads,
//! and the brute-force defences shared by all of them (a delay per failure, a per-address
//! limit across protocols, logs with the client IP).

use super::shared::Server;
use carrier_accounts::system;
use carrier_config::AuthSource;
use carrier_smtp::Reply;
use std::net::IpAddr;
use tracing::{info, warn};

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address failed too often recently (`auth_ip_limit`).
    Throttled,
    /// Wrong login name or password (after the failure delay).
    Credentials,
}

/// Checks a password for any protocol (SMTP AUTH, POP3, IMAP): the per-address throttle, the
/// check itself off the async threads, and the delay after a failure. Ok is the canonical user.
pub async fn verify(server: &Server, ip: IpAddr, login: &str, password: String) -> Result<String, Refusal> {
    let limits = &server.cfg.submission;
    if server.throttle.blocked(ip, limits.auth_ip_limit, limits.auth_ip_window) {
        warn!("auth refused: too many failed logins from unknown[{ip}] (login <{login}>)");
        return Err(Refusal::Throttled);
    }
    // Password hashes take tens of milliseconds of CPU: keep them off the connection threads.
    let user = match server.cfg.auth {
        AuthSource::Carrier => {
            let credentials = server.directory().users().credentials(login);
            let (cache, login) = (server.login_cache.clone(), login.to_string());
            let check = move || credentials.check_cached(&login, &password, &cache);
            tokio::task::spawn_blocking(check).await.ok().flatten()
        }
        AuthSource::System => {
            let cfg = server.cfg.clone();
            let login = login.to_string();
            let name = tokio::task::spawn_blocking(move || {
                system::verify(&cfg.submission.shadow_file, &login, &password, |d| cfg.is_local_domain(d))
            });
            // A system user's mail identity is their name in the first local domain.
            name.await.ok().flatten().map(|n| format!("{n}@{}", server.cfg.domains[0]))
        }
    };
    match user {
        Some(user) => Ok(user),
        None => {
            server.throttle.failed(ip, limits.auth_ip_window);
            tokio::time::sleep(limits.auth_failure_delay).await;
            Err(Refusal::Credentials)
        }
    }
}

/// SMTP AUTH: checks a login; Ok(canonical user) or the reply to send.
pub async fn authenticate(
    server: &Server,
    ip: IpAddr,
    mechanism: &str,
    login: String,
    password: String,
) -> Result<String, Reply> {
    match verify(server, ip, &login, password).await {
        Ok(user) => {
            info!("auth: {mechanism} login <{login}> as {user} from unknown[{ip}]");
            Ok(user)
        }
        Err(Refusal::Throttled) => {
            Err(Reply::new(454, "4.7.0", "Too many failed logins from your address; try again later"))
        }
        Err(Refusal::Credentials) => {
            warn!("auth failed: {mechanism} login <{login}> from unknown[{ip}]");
            // RFC 4954 6: 535 5.7.8 for invalid credentials.
            Err(Reply::new(535, "5.7.8", "Authentication credentials invalid"))
        }
    }
}
