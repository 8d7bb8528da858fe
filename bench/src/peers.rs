//! The servers under test, each a private instance on its own loopback address with its own
//! configuration, data and log under the work directory:
//! - carrier on 127.0.0.10 (SMTP, POP3, and IMAP when this build serves it);
//! - Postfix on 127.0.0.20 (SMTP; virtual(8) delivers into Maildirs, fsync on as by default);
//! - Dovecot on 127.0.0.20 (POP3, IMAP) reading the Maildirs Postfix writes;
//! - smtp-sink on 127.0.0.30, the remote host both relay to.
//!
//! All have the domain example.com and the same users and passwords: Dovecot's passwd-file
//! gets carrier's own argon2id hashes, so a login costs both the same.

use crate::client::fail;
use std::fs;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const DOMAIN: &str = "example.com";
pub const PASSWORD: &str = "bench-password-1";
/// Receives the SMTP loads.
pub const SMTP_USER: &str = "bench";
/// Owns the prepared mailbox that POP3 and IMAP read.
pub const READER: &str = "reader";
/// Is watched by the IDLE sessions.
pub const IDLER: &str = "idler";
pub const USERS: [&str; 3] = [SMTP_USER, READER, IDLER];
/// Relayed mail goes to this domain, routed to the sink.
pub const REMOTE_DOMAIN: &str = "remote.bench.test";
/// Owner of the Maildirs Postfix writes and Dovecot reads (nobody).
const MAIL_UID: u32 = 65534;

const CARRIER_IP: &str = "127.0.0.10";
/// The second carrier, which checks the mail of the SMTP load (SPF, DKIM, DMARC, ...).
const CHECKING_IP: &str = "127.0.0.11";
const PEER_IP: &str = "127.0.0.20";
const SINK_IP: &str = "127.0.0.30";
const SMTP_PORT: u16 = 2525;
const POP3_PORT: u16 = 1110;
const IMAP_PORT: u16 = 1143;

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().expect("literal address")
}

/// What the loads need to know about a server.
pub trait Server {
    fn name(&self) -> &'static str;
    /// The root of its process tree, for memory.
    fn pid(&self) -> u32;
    fn smtp(&self) -> Option<SocketAddr>;
    fn pop3(&self) -> Option<SocketAddr>;
    fn imap(&self) -> Option<SocketAddr>;
    /// A local user's Maildir.
    fn maildir(&self, user: &str) -> PathBuf;
    /// True when nothing waits in its queue.
    fn queue_empty(&self) -> bool;
}

fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(fail(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_port(addr: SocketAddr, what: &str, log: &Path) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            let log = fs::read_to_string(log).unwrap_or_default();
            return Err(fail(format!("{what} is not listening on {addr}; its log:\n{log}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn files_under(dir: &Path) -> usize {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 })
        .sum()
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

fn stop(child: &mut Child) {
    // SAFETY: kill only signals the process we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------- carrier

pub struct Carrier {
    child: Child,
    dir: PathBuf,
    imap: Option<SocketAddr>,
    /// argon2id hash of each user, for Dovecot.
    pub hashes: Vec<(String, String)>,
    /// The loopback address it listens on.
    ip: &'static str,
}

impl Carrier {
    /// The carrier of every load: the load generator is in its relay networks.
    pub fn start(binary: &Path, work: &Path) -> io::Result<Carrier> {
        let relay = format!("[relay]\nnetworks = [\"127.0.0.0/8\"]\nsmarthost = \"{SINK_IP}:{SMTP_PORT}\"\n");
        Carrier::start_as(binary, work, "carrier", CARRIER_IP, &relay)
    }

    /// A carrier for which the load generator is another server on the internet: its mail
    /// is checked (client name, sender domain, SPF, DKIM, ARC, DMARC, iprev) with answers from
    /// the DNS server at `dns`, which the checks cache as they would real ones.
    pub fn start_checking(binary: &Path, work: &Path, dns: SocketAddr) -> io::Result<Carrier> {
        let extra = format!("[relay]\nnetworks = []\n\n[dns]\nnameservers = [\"{dns}\"]\n");
        Carrier::start_as(binary, work, "carrier-checking", CHECKING_IP, &extra)
    }

    fn start_as(binary: &Path, work: &Path, name: &str, ip: &'static str, extra: &str) -> io::Result<Carrier> {
        let dir = work.join(name);
        fs::create_dir_all(&dir)?;
        let config = dir.join("carrier.toml");
        fs::write(
            &config,
            format!(
                "hostname = \"carrier.bench.test\"\ndata_dir = \"{data}\"\ndomains = [\"{DOMAIN}\"]\n\n\
                 [listen]\nsmtp = [\"{ip}:{SMTP_PORT}\"]\npop3 = [\"{ip}:{POP3_PORT}\"]\n\
                 imap = [\"{ip}:{IMAP_PORT}\"]\n\n{extra}\n\
                 [submission]\nplaintext_loopback = true\n\n\
                 [smtp]\nmax_connections = 5000\n\n[pop3]\nmax_connections = 5000\n\
                 max_connections_per_user_ip = 2000\n\n[imap]\nmax_connections_per_user_ip = 2000\n",
                data = dir.join("data").display()
            ),
        )?;
        let mut hashes = Vec::new();
        for user in USERS {
            let address = format!("{user}@{DOMAIN}");
            let mut child = Command::new(binary)
                .arg("-c")
                .arg(&config)
                .args(["user", "add", &address, "--password-stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()?;
            use std::io::Write;
            child.stdin.take().expect("piped").write_all(format!("{PASSWORD}\n").as_bytes())?;
            if !child.wait()?.success() {
                return Err(fail(format!("carrier user add {address} failed")));
            }
        }
        for line in fs::read_to_string(dir.join("data/users"))?.lines() {
            if let Some((user, hash)) = line.split_once(':').filter(|_| !line.starts_with('#')) {
                hashes.push((user.to_string(), hash.to_string()));
            }
        }
        let log = dir.join("carrier.log");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("carrier.out"))?)
            .stderr(fs::File::create(&log)?)
            .spawn()?;
        wait_port(addr(ip, SMTP_PORT), "carrier", &log)?;
        wait_port(addr(ip, POP3_PORT), "carrier", &log)?;
        // IMAP only when this build serves it.
        let imap_addr = addr(ip, IMAP_PORT);
        let imap = std::net::TcpStream::connect(imap_addr).is_ok().then_some(imap_addr);
        Ok(Carrier { child, dir, imap, hashes, ip })
    }
}

impl Server for Carrier {
    fn name(&self) -> &'static str {
        "carrier"
    }
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn smtp(&self) -> Option<SocketAddr> {
        Some(addr(self.ip, SMTP_PORT))
    }
    fn pop3(&self) -> Option<SocketAddr> {
        Some(addr(self.ip, POP3_PORT))
    }
    fn imap(&self) -> Option<SocketAddr> {
        self.imap
    }
    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("data/mail").join(DOMAIN).join(user)
    }
    fn queue_empty(&self) -> bool {
        files_under(&self.dir.join("data/spool/queue")) == 0
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

// ---------------------------------------------------------------- Postfix

pub struct Postfix {
    dir: PathBuf,
}

impl Postfix {
    pub fn start(work: &Path) -> io::Result<Postfix> {
        let dir = work.join("postfix");
        let etc = dir.join("etc");
        for d in ["etc", "mail", "queue", "data"] {
            fs::create_dir_all(dir.join(d))?;
        }
        std::os::unix::fs::chown(dir.join("mail"), Some(MAIL_UID), Some(MAIL_UID))?;
        let uid: u32 =
            run(Command::new("id").args(["-u", "postfix"]))?.trim().parse().map_err(|_| fail("no postfix user"))?;
        let gid: u32 =
            run(Command::new("id").args(["-g", "postfix"]))?.trim().parse().map_err(|_| fail("no postfix group"))?;
        std::os::unix::fs::chown(dir.join("data"), Some(uid), Some(gid))?;
        // Postfix refuses queue and data directories under a group/world-writable parent.
        set_mode(&dir, 0o755)?;
        set_mode(work, 0o755)?;
        let vmailbox: String = USERS.iter().map(|u| format!("{u}@{DOMAIN} {u}@{DOMAIN}/\n")).collect();
        fs::write(etc.join("vmailbox"), vmailbox)?;
        fs::write(etc.join("main.cf"), postfix_main_cf(&dir))?;
        fs::write(etc.join("master.cf"), postfix_master_cf())?;
        let pf = Postfix { dir };
        run(Command::new("/usr/sbin/postfix").arg("-c").arg(&etc).arg("start"))?;
        wait_port(addr(PEER_IP, SMTP_PORT), "postfix", &pf.dir.join("maillog"))?;
        Ok(pf)
    }
}

impl Server for Postfix {
    fn name(&self) -> &'static str {
        "Postfix"
    }
    fn pid(&self) -> u32 {
        fs::read_to_string(self.dir.join("queue/pid/master.pid")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }
    fn smtp(&self) -> Option<SocketAddr> {
        Some(addr(PEER_IP, SMTP_PORT))
    }
    fn pop3(&self) -> Option<SocketAddr> {
        None
    }
    fn imap(&self) -> Option<SocketAddr> {
        None
    }
    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("mail").join(format!("{user}@{DOMAIN}"))
    }
    fn queue_empty(&self) -> bool {
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .all(|q| files_under(&self.dir.join("queue").join(q)) == 0)
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/postfix").arg("-c").arg(self.dir.join("etc")).arg("abort").output();
    }
}

fn postfix_main_cf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
myorigin = postfix.bench.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [{SINK_IP}]:{SMTP_PORT}
smtp_dns_support_level = disabled
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
# Room for the 1,000 held connections (one smtpd process each).
default_process_limit = 1200
biff = no
append_dot_mydomain = no
smtputf8_enable = no
"
    )
}

fn postfix_master_cf() -> String {
    format!(
        "{PEER_IP}:{SMTP_PORT} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"
    )
}

// ---------------------------------------------------------------- Dovecot

pub struct Dovecot {
    child: Child,
}

impl Dovecot {
    /// Serves the Maildirs under `mail` (Postfix's virtual_mailbox_base).
    pub fn start(work: &Path, mail: &Path, hashes: &[(String, String)]) -> io::Result<Dovecot> {
        let dir = work.join("dovecot");
        fs::create_dir_all(dir.join("run"))?;
        fs::create_dir_all(dir.join("state"))?;
        set_mode(&dir, 0o755)?;
        let passwd: String = hashes
            .iter()
            .map(|(user, hash)| {
                format!("{user}:{{ARGON2ID}}{hash}:{MAIL_UID}:{MAIL_UID}::{}/{user}::\n", mail.display())
            })
            .collect();
        fs::write(dir.join("passwd"), passwd)?;
        let conf = dir.join("dovecot.conf");
        fs::write(&conf, dovecot_conf(&dir, mail))?;
        let log = dir.join("dovecot.log");
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("dovecot.out"))?)
            .stderr(fs::File::create(dir.join("dovecot.err"))?)
            .spawn()?;
        wait_port(addr(PEER_IP, POP3_PORT), "dovecot", &dir.join("dovecot.err"))?;
        wait_port(addr(PEER_IP, IMAP_PORT), "dovecot", &log)?;
        Ok(Dovecot { child })
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn dovecot_conf(dir: &Path, mail: &Path) -> String {
    let d = dir.display();
    format!(
        "base_dir = {d}/run
state_dir = {d}/state
instance_name = carrier-bench-dovecot
protocols = imap pop3
listen = {PEER_IP}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = {d}/dovecot.log
mail_location = maildir:{mail}/%u
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
# Room for the 1,000 held connections and the IDLE sessions (all from one address).
default_process_limit = 1200
default_client_limit = 5000
mail_max_userip_connections = 2000
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    port = {IMAP_PORT}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {POP3_PORT}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
",
        mail = mail.display()
    )
}

/// Postfix and Dovecot as one peer, as they are deployed.
pub struct Peer {
    pub postfix: Postfix,
    pub dovecot: Dovecot,
}

impl Server for Peer {
    fn name(&self) -> &'static str {
        "Postfix+Dovecot"
    }
    fn pid(&self) -> u32 {
        self.postfix.pid()
    }
    fn smtp(&self) -> Option<SocketAddr> {
        self.postfix.smtp()
    }
    fn pop3(&self) -> Option<SocketAddr> {
        Some(addr(PEER_IP, POP3_PORT))
    }
    fn imap(&self) -> Option<SocketAddr> {
        Some(addr(PEER_IP, IMAP_PORT))
    }
    fn maildir(&self, user: &str) -> PathBuf {
        self.postfix.maildir(user)
    }
    fn queue_empty(&self) -> bool {
        self.postfix.queue_empty()
    }
}

impl Peer {
    pub fn dovecot_pid(&self) -> u32 {
        self.dovecot.child.id()
    }

    /// Gives the prepared Maildirs to the user Postfix delivers as and Dovecot reads as.
    pub fn own_mail(&self) -> io::Result<()> {
        run(Command::new("chown").arg("-R").arg(format!("{MAIL_UID}:{MAIL_UID}")).arg(self.postfix.dir.join("mail")))
            .map(drop)
    }
}

// ---------------------------------------------------------------- smtp-sink

/// Postfix's smtp-sink, counting the messages it was given.
pub struct Sink {
    child: Child,
    received: Arc<AtomicU64>,
}

impl Sink {
    pub fn start() -> io::Result<Sink> {
        let mut child = Command::new("smtp-sink")
            .args(["-c", "-a", "-u", "nobody", &format!("{SINK_IP}:{SMTP_PORT}"), "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut out = child.stdout.take().expect("piped");
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        // -c prints "sess=N quit=N mesg=N" followed by CR after each message.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut pending = Vec::new();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|&b| b == b'\r' || b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line);
                    if let Some(m) = line.split("mesg=").nth(1).and_then(|v| v.trim().parse().ok()) {
                        counter.store(m, Ordering::Relaxed);
                    }
                }
            }
        });
        wait_port(addr(SINK_IP, SMTP_PORT), "smtp-sink", Path::new("/dev/null"))?;
        Ok(Sink { child, received })
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
