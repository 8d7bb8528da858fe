//! A private Postfix instance (Debian's package) on a loopback address: its own config,
//! queue and Maildir base under a temporary directory, so it neither needs nor touches the
//! system's Postfix. Needs root (Postfix's master drops to the `postfix` user itself).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `virtual` uid that owns delivered mail (nobody).
const MAIL_UID: u32 = 65534;

pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub ip: String,
    pub port: u16,
}

/// What the instance is for.
pub struct Setup<'a> {
    /// Listen here.
    pub ip: &'a str,
    pub port: u16,
    /// Mail for this domain is delivered into Maildirs (`user@domain` for each user).
    pub domain: &'a str,
    pub users: &'a [&'a str],
    /// Everything else goes to this `[ip]:port`.
    pub relayhost: &'a str,
    /// A milter every message passes through (`inet:127.0.0.1:port`), such as OpenDKIM.
    pub milter: Option<&'a str>,
}

impl Postfix {
    pub fn start(s: &Setup) -> Postfix {
        super::require("postfix");
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        let mail = dir.path().join("mail");
        for d in [&etc, &mail, &dir.path().join("queue"), &dir.path().join("data")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::chown(&mail, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        // The master's lock file lives in data_directory, which Postfix wants its own.
        let (uid, gid) = postfix_ids();
        std::os::unix::fs::chown(dir.path().join("data"), Some(uid), Some(gid)).unwrap();
        // Postfix refuses queue and data directories under a group/world-writable parent.
        set_mode(dir.path(), 0o755);
        let vmailbox: String = s.users.iter().map(|u| format!("{u}@{} {u}@{}/\n", s.domain, s.domain)).collect();
        std::fs::write(etc.join("vmailbox"), vmailbox).unwrap();
        std::fs::write(etc.join("main.cf"), main_cf(s, dir.path())).unwrap();
        std::fs::write(etc.join("master.cf"), master_cf(s.ip, s.port)).unwrap();
        let pf = Postfix { dir, ip: s.ip.to_string(), port: s.port };
        let out = pf.postfix(&["start"]);
        assert!(out.status.success(), "postfix did not start:\n{}", pf.log());
        pf.wait_listening();
        pf
    }

    fn postfix(&self, args: &[&str]) -> std::process::Output {
        Command::new("/usr/sbin/postfix").arg("-c").arg(self.dir.path().join("etc")).args(args).output().unwrap()
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect((self.ip.as_str(), self.port)).is_err() {
            assert!(Instant::now() < deadline, "postfix is not listening:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Postfix's own log (maillog_file).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Messages in `user`'s Maildir new/.
    pub fn messages(&self, domain: &str, user: &str) -> Vec<String> {
        super::read_maildir(&self.maildir(domain, user))
    }

    fn maildir(&self, domain: &str, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(format!("{user}@{domain}"))
    }

    /// Waits for `n` messages in `user`'s Maildir.
    pub fn wait_messages(&self, domain: &str, user: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.messages(domain, user);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.postfix(&["abort"]);
    }
}

/// The `postfix` user and group that Debian's package creates.
fn postfix_ids() -> (u32, u32) {
    let out = Command::new("id").args(["-u", "postfix"]).output().unwrap();
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().expect("the postfix user exists");
    let out = Command::new("id").args(["-g", "postfix"]).output().unwrap();
    (uid, String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn main_cf(s: &Setup, dir: &Path) -> String {
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
myhostname = postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
# The listener's address is in master.cf; Postfix only takes interface addresses here.
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = {relayhost}
smtp_dns_support_level = disabled
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
biff = no
append_dot_mydomain = no
smtputf8_enable = no
",
        relayhost = s.relayhost,
        domain = s.domain,
    ) + &s.milter.map(milters).unwrap_or_default()
}

/// Messages from SMTP clients and local submission both pass the milter; when it cannot be
/// reached the message is deferred, so a test never sees unsigned mail by accident.
fn milters(socket: &str) -> String {
    format!("smtpd_milters = {socket}\nnon_smtpd_milters = {socket}\nmilter_default_action = tempfail\n")
}

fn master_cf(ip: &str, port: u16) -> String {
    format!(
        "{ip}:{port} inet n - n - - smtpd
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
