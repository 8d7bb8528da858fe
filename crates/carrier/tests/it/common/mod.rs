//! Test harness: runs the real `carrier` binary on loopback ports with a temporary data_dir.

pub mod dns;
pub mod https;
pub mod imap;
pub mod line;
pub mod opendkim;
pub mod pop3;
pub mod postfix;
pub mod rspamd;
pub mod sink;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn carrier_bin() -> &'static str {
    env!("CARGO_BIN_EXE_carrier")
}

/// A copy of the binary in `dir`, where any user may run it: the build directory can sit
/// below one only root may enter.
pub fn binary_copy(dir: &Path) -> PathBuf {
    let carrier = dir.join("carrier");
    if !carrier.exists() {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(carrier_bin(), &carrier).unwrap();
    }
    carrier
}

/// True when the tests run as root (some need it to act as another user).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A running carrier with its own config and data_dir.
pub struct Server {
    pub dir: tempfile::TempDir,
    /// Port 25's stand-in.
    pub port: u16,
    /// The address the SMTP listener is bound to.
    pub smtp_ip: std::net::IpAddr,
    /// The submission (STARTTLS + AUTH) port.
    pub submission_port: u16,
    /// The implicit-TLS submission port.
    pub smtps_port: u16,
    /// POP3 with STLS.
    pub pop3_port: u16,
    /// POP3 over implicit TLS.
    pub pop3s_port: u16,
    /// IMAP with STARTTLS.
    pub imap_port: u16,
    /// IMAP over implicit TLS.
    pub imaps_port: u16,
    pub managesieve_port: u16,
    pub config: PathBuf,
    child: Option<Child>,
    /// The DNS server answering for a test that brought none.
    _dns: Option<dns::FakeDns>,
}

/// Options for [`Server::start_with`]: extra TOML appended to the base config.
pub struct Options {
    /// Extra top-level keys (before any section).
    pub top: String,
    /// Extra sections.
    pub sections: String,
    /// Relay networks; default none, so relay tests are explicit.
    pub relay_networks: Vec<String>,
    /// Users to create: (address, password).
    pub users: Vec<(String, String)>,
    /// Extra lines in the `[relay]` section (smarthost, user, ...).
    pub relay: String,
    /// The listening addresses.
    pub smtp: String,
    pub submission: String,
    pub smtps: String,
    /// The host name.
    pub hostname: String,
    /// Local domains.
    pub domains: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            top: String::new(),
            sections: String::new(),
            relay_networks: vec![],
            users: vec![
                ("bob@example.com".into(), "bob-secret".into()),
                ("alice@example.com".into(), "alice-pw".into()),
            ],
            relay: String::new(),
            smtp: "127.0.0.1:0".into(),
            submission: "127.0.0.1:0".into(),
            smtps: "127.0.0.1:0".into(),
            hostname: "mx.example.com".into(),
            domains: vec!["example.com".into(), "example.net".into()],
        }
    }
}

/// No test asks the machine's resolver: a config without `[dns]` gets an empty DNS server of
/// its own (every name NXDOMAIN, at once), and without an `[smtp] check_sender_domain` the
/// check is off, since most tests send from made-up domains. The rest is left as written.
fn hermetic(text: &str) -> (String, Option<dns::FakeDns>) {
    let mut table: toml::Table = text.parse().unwrap_or_else(|e| panic!("test config is not TOML: {e}\n{text}"));
    let mut fake = None;
    if !table.contains_key("dns") {
        let server = dns::FakeDns::start();
        let nameservers = toml::Value::Array(vec![server.addr.to_string().into()]);
        table
            .insert("dns".into(), toml::Value::Table([("nameservers".to_string(), nameservers)].into_iter().collect()));
        fake = Some(server);
    }
    let smtp = table.entry("smtp").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(smtp) = smtp.as_table_mut() {
        smtp.entry("check_sender_domain").or_insert(false.into());
    }
    (toml::to_string(&table).unwrap(), fake)
}

impl Server {
    /// Starts with the default options: domain example.com, users bob and alice, no relay networks.
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Server {
        let mut server = Server::configure(opts);
        server.spawn();
        server
    }

    /// Writes the config and creates the users, but does not start the daemon.
    pub fn configure(opts: Options) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("carrier.toml");
        let networks: Vec<String> = opts.relay_networks.iter().map(|n| format!("{n:?}")).collect();
        let toml = format!(
            "hostname = \"{host}\"\ndata_dir = \"{data}\"\ndomains = {domains:?}\n{top}\n\
             [listen]\nsmtp = [\"{smtp}\"]\nsubmission = [\"{submission}\"]\nsmtps = [\"{smtps}\"]\n\
             pop3 = [\"127.0.0.1:0\"]\npop3s = [\"127.0.0.1:0\"]\n\
             imap = [\"127.0.0.1:0\"]\nimaps = [\"127.0.0.1:0\"]\nmanagesieve = [\"127.0.0.1:0\"]\n\n[relay]\nnetworks = [{nets}]\n{relay}\n\n{sections}\n",
            host = opts.hostname,
            domains = opts.domains,
            smtp = opts.smtp,
            submission = opts.submission,
            smtps = opts.smtps,
            relay = opts.relay,
            data = dir.path().join("data").display(),
            top = opts.top,
            nets = networks.join(", "),
            sections = opts.sections,
        );
        let (toml, dns) = hermetic(&toml);
        std::fs::write(&config, toml).unwrap();
        let server = Server {
            dir,
            port: 0,
            smtp_ip: [127, 0, 0, 1].into(),
            submission_port: 0,
            smtps_port: 0,
            pop3_port: 0,
            pop3s_port: 0,
            imap_port: 0,
            imaps_port: 0,
            managesieve_port: 0,
            config,
            child: None,
            _dns: dns,
        };
        for (user, password) in &opts.users {
            server.add_user(user, password);
        }
        server
    }

    /// A symlink named `name` (sendmail, mailq, newaliases) to the binary, in the test's dir.
    pub fn personality(&self, name: &str) -> PathBuf {
        let link = self.dir.path().join("bin").join(name);
        if !link.exists() {
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(carrier_bin(), &link).unwrap();
        }
        link
    }

    /// Runs `program args...` with CARRIER_CONFIG pointing at this server's config.
    pub fn run(&self, program: &Path, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut child = Command::new(program)
            .args(args)
            .env("CARRIER_CONFIG", &self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A program that refuses its arguments may exit before reading: a broken pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(stdin);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Files waiting in the pickup directory.
    pub fn pickup_files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.data_dir().join("pickup")) else { return vec![] };
        let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    /// Runs `carrier -c CONFIG args...` and returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        run_cli(&self.config, args, stdin)
    }

    pub fn add_user(&self, address: &str, password: &str) {
        let (code, _, err) = self.cli(&["user", "add", address, "--password-stdin"], &format!("{password}\n"));
        assert_eq!(code, 0, "user add failed: {err}");
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("carrier.log")
    }

    /// Everything the server logged so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the daemon and waits until it logs the port it listens on (port 0 in the
    /// config lets the kernel choose, so parallel tests never collide).
    pub fn spawn(&mut self) {
        let seen = self.log().len();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = Command::new(carrier_bin())
            .args(["-c", self.config.to_str().unwrap(), "serve"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("carrier exited at start ({status}):\n{}", self.log());
            }
            let log = self.log();
            let addr = |service: &str| -> Option<std::net::SocketAddr> {
                let needle = format!("listening for {service} on ");
                log[seen..].lines().find_map(|l| l.split(&needle).nth(1)).and_then(|a| a.trim().parse().ok())
            };
            let addrs = ["SMTP", "submission", "smtps", "pop3", "pop3s", "imap", "imaps"].map(addr);
            if let [Some(smtp), Some(submission), Some(smtps), Some(pop3), Some(pop3s), Some(imap), Some(imaps)] = addrs
            {
                (self.port, self.submission_port, self.smtps_port) = (smtp.port(), submission.port(), smtps.port());
                (self.pop3_port, self.pop3s_port) = (pop3.port(), pop3s.port());
                (self.imap_port, self.imaps_port) = (imap.port(), imaps.port());
                self.managesieve_port = addr("managesieve").map_or(0, |a| a.port());
                self.smtp_ip = smtp.ip();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("carrier did not start listening:\n{}", self.log());
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL and start again on the same data.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn connect(&self) -> Client {
        Client::connect_to((self.smtp_ip, self.port).into())
    }

    /// The Maildir of a user.
    pub fn maildir(&self, domain: &str, local: &str) -> PathBuf {
        self.data_dir().join("mail").join(domain).join(local)
    }

    /// The server's certificate (generated self-signed), for clients that verify it.
    pub fn cert_path(&self) -> PathBuf {
        self.data_dir().join("tls/cert.pem")
    }

    /// Messages in a user's Maildir new/ (contents), sorted by file name.
    pub fn messages(&self, domain: &str, local: &str) -> Vec<String> {
        read_maildir(&self.maildir(domain, local))
    }

    /// Waits until `domain/local` holds `n` messages (delivery is asynchronous).
    pub fn wait_messages(&self, domain: &str, local: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let msgs = self.messages(domain, local);
            if msgs.len() >= n || Instant::now() > deadline {
                return msgs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log contains `needle` at least `count` times.
    pub fn wait_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log().matches(needle).count() < count {
            assert!(Instant::now() < deadline, "log never said {needle:?} {count} times:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Queue ids of the messages the log shows arriving from `sender`, oldest first.
    pub fn queued_ids(&self, sender: &str) -> Vec<String> {
        let needle = format!(": from=<{sender}>");
        let log = self.log();
        log.lines().filter_map(|l| Some(l.split_once(&needle)?.0.rsplit(' ').next()?.to_string())).collect()
    }

    /// Waits until `carrier queue list` says the queue is empty: every message delivered,
    /// bounced or expired, and its file gone (the queue is consistent, nothing left behind).
    pub fn wait_queue_empty(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (code, list, err) = self.cli(&["queue", "list"], "");
            assert_eq!(code, 0, "queue list failed: {err}");
            if list == "Mail queue is empty\n" {
                return;
            }
            assert!(Instant::now() < deadline, "the queue never emptied:\n{list}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one message over a fresh connection; returns the final reply.
    pub fn send_mail(&self, from: &str, to: &[&str], body: &str) -> Reply {
        let mut c = self.connect();
        c.cmd("EHLO client.example").expect(250);
        c.cmd(&format!("MAIL FROM:<{from}>")).expect(250);
        for rcpt in to {
            c.cmd(&format!("RCPT TO:<{rcpt}>")).expect(250);
        }
        c.cmd("DATA").expect(354);
        let reply = c.data(body);
        c.cmd("QUIT");
        reply
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Fails with the install hint when a client program the test needs is missing.
pub fn require(tool: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success();
    assert!(found, "{tool} is not installed; run ./test.sh (it installs it) or: apt-get install {tool}");
}

/// Runs the CLI against a config file.
pub fn run_cli(config: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(carrier_bin())
        .arg("-c")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads all files in a Maildir's new/ directory, sorted by name.
pub fn read_maildir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("new")) else {
        return vec![];
    };
    let mut names: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    names.sort();
    names.iter().map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()).collect()
}

/// One SMTP reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    /// Asserts the code and returns self.
    #[track_caller]
    pub fn expect(self, code: u16) -> Reply {
        assert_eq!(self.code, code, "unexpected reply: {}", self.text);
        self
    }

    /// Asserts the code and enhanced status code, e.g. (550, "5.1.1").
    #[track_caller]
    pub fn expect_status(self, code: u16, status: &str) -> Reply {
        assert_eq!(self.code, code, "unexpected reply: {}", self.text);
        let first = self.text.lines().last().unwrap_or("");
        assert_eq!(first.get(4..4 + status.len()), Some(status), "unexpected reply: {}", self.text);
        self
    }
}

/// A minimal blocking SMTP client that can also send raw bytes.
pub struct Client {
    pub reader: BufReader<TcpStream>,
    pub greeting: Reply,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Client::connect_to(([127, 0, 0, 1], port).into())
    }

    pub fn connect_to(addr: std::net::SocketAddr) -> Client {
        Client::try_connect(addr).expect("no greeting")
    }

    /// A session, or None when the server is not there (or closes before its greeting).
    pub fn try_connect(addr: std::net::SocketAddr) -> Option<Client> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut reader = BufReader::new(stream);
        let greeting = read_reply(&mut reader)?;
        Some(Client { reader, greeting })
    }

    /// Sends one command and reads the reply; None when the connection is gone.
    pub fn try_cmd(&mut self, line: &str) -> Option<Reply> {
        self.reader.get_mut().write_all(format!("{line}\r\n").as_bytes()).ok()?;
        self.try_reply()
    }

    /// Sends a message body and reads the reply; None when the connection is gone.
    pub fn try_data(&mut self, body: &str) -> Option<Reply> {
        self.reader.get_mut().write_all(&data_wire(body)).ok()?;
        self.try_reply()
    }

    /// Sends raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Sends one command line (CRLF added) and reads the reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Reads one reply; panics if the connection closed.
    pub fn reply(&mut self) -> Reply {
        read_reply(&mut self.reader).expect("connection closed while waiting for a reply")
    }

    /// Reads one reply, or None when the server closed the connection.
    pub fn try_reply(&mut self) -> Option<Reply> {
        read_reply(&mut self.reader)
    }

    /// Sends a message body (with dot-stuffing and the final dot) and reads the reply.
    pub fn data(&mut self, body: &str) -> Reply {
        self.raw(&data_wire(body));
        self.reply()
    }

    /// True when the server has closed the connection (EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }
}

/// A message body as sent after DATA: CRLF lines, leading dots doubled, the final dot.
fn data_wire(body: &str) -> Vec<u8> {
    let mut wire = String::new();
    for line in body.split_inclusive('\n') {
        let line = line.trim_end_matches('\n').trim_end_matches('\r');
        if line.starts_with('.') {
            wire.push('.');
        }
        wire.push_str(line);
        wire.push_str("\r\n");
    }
    wire.push_str(".\r\n");
    wire.into_bytes()
}

fn read_reply(reader: &mut BufReader<TcpStream>) -> Option<Reply> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        text.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] == b' ' {
            let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            return Some(Reply { code, text });
        }
    }
}
