//! What the listeners, the control socket and the pickup task share: one value made at
//! start-up, read by every connection.

use super::limits::{self, Throttle};
use carrier_accounts::Directory;
use carrier_config::Config;
use carrier_mta::rate::Hourly;
use carrier_mta::recent::Recent;
use carrier_mta::{Intake, SharedDirectory};
use carrier_spool::Spool;
use carrier_store::Maildir;
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::SystemTime;
use tokio::sync::Semaphore;

/// What the listeners, the control socket and the pickup task share.
pub struct Server {
    /// The configuration in force.
    pub cfg: Config,
    /// The way into the queue, and to the queue runner.
    pub intake: Intake,
    /// Users and aliases, refreshed when their files change.
    pub directory: Arc<SharedDirectory>,
    /// TLS for STARTTLS and the implicit-TLS ports.
    pub tls: carrier_tls::Reloadable,
    /// Limits concurrent SMTP connections.
    pub connections: Arc<Semaphore>,
    /// KiB of message content SMTP sessions and IMAP APPENDs may hold (`smtp.max_message_memory`).
    pub message_memory: Arc<Semaphore>,
    /// Limits concurrent POP3 connections.
    pub pop3_connections: Arc<Semaphore>,
    /// Limits concurrent IMAP connections.
    pub imap_connections: Arc<Semaphore>,
    /// The mailbox store; the delivery agent shares it, so its deliveries wake sessions.
    pub store: Maildir,
    /// Failed logins per client address.
    pub throttle: Throttle,
    /// Connections per client address on the SMTP listeners.
    pub clients: limits::Limiter,
    /// POP3 and IMAP connections not logged in yet, per client address.
    pub prelogin_pop3: limits::Limiter,
    pub prelogin_imap: limits::Limiter,
    /// Control-socket connections per local uid.
    pub control_clients: limits::Limiter<u32>,
    /// Logged-in POP3 and IMAP sessions per user and client address.
    pub user_ips: limits::Limiter<limits::UserIp>,
    /// What each listener serves and its bound address, for `carrier status`.
    pub listeners: Vec<(&'static str, SocketAddr)>,
    /// Successful deliveries in the last hour.
    pub delivered: Arc<Recent>,
    /// When the daemon started.
    pub started: SystemTime,
    /// carrier's resolver (`[dns] nameservers`), with its cache, for the clients' names and
    /// the senders' domains.
    pub resolver: carrier_mta::dns::Resolver,
    /// The hourly allowances of `[antispam]`.
    pub rates: Rates,
    /// Logins verified a moment ago (`[submission] login_cache`).
    pub login_cache: Arc<carrier_accounts::LoginCache>,
    /// `[antispam] greylisting`, when on.
    pub greylist: Option<carrier_mta::greylist::Greylist>,
}

/// Messages and recipients per hour, per client address (port 25) and per user.
pub struct Rates {
    pub messages_per_ip: Hourly,
    pub recipients_per_ip: Hourly,
    pub messages_per_user: Hourly,
    pub recipients_per_user: Hourly,
}

impl Rates {
    pub fn new(cfg: &carrier_config::Antispam) -> Rates {
        Rates {
            messages_per_ip: Hourly::new(cfg.messages_per_hour_per_ip),
            recipients_per_ip: Hourly::new(cfg.recipients_per_hour_per_ip),
            messages_per_user: Hourly::new(cfg.messages_per_hour_per_user),
            recipients_per_user: Hourly::new(cfg.recipients_per_hour_per_user),
        }
    }
}

impl Server {
    /// The directory, re-read first if the users or aliases file changed (problems are logged).
    pub fn directory(&self) -> MutexGuard<'_, Directory> {
        self.directory.lock()
    }

    /// The durable queue.
    pub fn spool(&self) -> &Spool {
        self.intake.spool()
    }
}
