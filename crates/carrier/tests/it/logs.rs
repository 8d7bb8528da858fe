//! Issue 15.10: `[log]` targets (syslog's mail facility, the journal's native protocol, a
//! clear fallback to stderr), JSON lines for log shippers, and refused commands counted in
//! the session's closing line. The datagram targets are pointed at a socket the test binds.

use crate::common::{Client, Options, Server, carrier_bin};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon whose `[log]` sends datagrams to a socket of the test's.
struct Logged {
    server: Server,
    socket: UnixDatagram,
    child: Child,
    /// Every datagram received so far, as text.
    lines: Vec<String>,
}

impl Logged {
    fn start(target: &str) -> Logged {
        let server = Server::configure(Options::default());
        let path = server.dir.path().join("log.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let config = std::fs::read_to_string(&server.config).unwrap();
        let log = format!("\n[log]\ntarget = \"{target}\"\nsocket = \"{}\"\n", path.display());
        std::fs::write(&server.config, config + &log).unwrap();
        let stderr = std::fs::File::create(server.log_path()).unwrap();
        let child = Command::new(carrier_bin())
            .args(["-c", server.config.to_str().unwrap(), "serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Logged { server, socket, child, lines: Vec::new() }
    }

    /// Reads datagrams until one contains `needle`; returns it.
    fn wait(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(line) = self.lines.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no datagram with {needle:?}: {:#?}\n{}", self.lines, self.server.log());
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }

    /// The SMTP listener's port, from the log.
    fn smtp_port(&mut self) -> u16 {
        let line = self.wait("listening for SMTP on 127.0.0.1:");
        let (_, rest) = line.split_once("listening for SMTP on 127.0.0.1:").unwrap();
        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
    }

    fn send(&mut self) -> String {
        let mut c = Client::connect(self.smtp_port());
        c.cmd("EHLO client.example").expect(250);
        c.cmd("MAIL FROM:<carol@remote.example>").expect(250);
        c.cmd("RCPT TO:<bob@example.com>").expect(250);
        c.cmd("DATA").expect(354);
        let reply = c.data("Subject: logged\r\n\r\nhi\r\n").expect(250);
        c.cmd("QUIT").expect(221);
        reply.text.trim_end().rsplit(' ').next().unwrap().to_string()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn syslog_gets_rfc_3164_lines_in_the_mail_facility() {
    let mut logged = Logged::start("syslog");
    let id = logged.send();
    let from = logged.wait(&format!("{id}: from=<carol@remote.example>"));
    let pid = logged.child.id();
    // <mail (2) × 8 + info (6)>Mmm dd hh:mm:ss carrier[pid]: message
    assert!(from.starts_with("<22>"), "{from}");
    let stamp = &from[4..19];
    assert!(stamp.as_bytes()[3] == b' ' && stamp.as_bytes()[9] == b':' && stamp.as_bytes()[12] == b':', "{from}");
    assert_eq!(&from[19..], format!(" carrier[{pid}]: {}", &from[from.find(&id).unwrap()..]));
    logged.wait(&format!("{id}: to=<bob@example.com>, relay=local"));
    // Nothing about the message went to stderr.
    assert!(!logged.server.log().contains(&id), "{}", logged.server.log());
}

#[test]
fn journald_gets_native_fields_with_the_queue_id() {
    let mut logged = Logged::start("journald");
    let id = logged.send();
    let from = logged.wait(&format!("MESSAGE={id}: from=<carol@remote.example>"));
    let pid = logged.child.id();
    let fields = format!(
        "\nPRIORITY=6\nSYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=carrier\nSYSLOG_PID={pid}\nCARRIER_QUEUE_ID={id}\n"
    );
    assert!(from.ends_with(&fields), "{from:?}");
    assert!(from.lines().count() == 6, "{from:?}");
}

/// `--log-format json`: one JSON object per line (checked with Python's json module), the
/// queue id as its own field; and a session's refused commands in its closing line.
#[test]
fn json_lines_for_log_shippers_and_refused_commands_counted() {
    let server = Server::configure(Options::default());
    let stderr = std::fs::File::create(server.log_path()).unwrap();
    let mut child = Killed(
        Command::new(carrier_bin())
            .args(["-c", server.config.to_str().unwrap(), "--log-format", "json", "serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let needle = "listening for SMTP on 127.0.0.1:";
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains(needle) {
        assert!(Instant::now() < deadline && child.0.try_wait().unwrap().is_none(), "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    let port: u16 = log.split(needle).nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    let mut c = Client::connect(port);
    c.cmd("EHLO client.example").expect(250);
    c.cmd("BOGUS").expect(500);
    c.cmd("MAIL FROM:carol").expect(501);
    c.cmd("MAIL FROM:<carol@remote.example>").expect(250);
    c.cmd("RCPT TO:<nobody@example.com>").expect(550);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    let id = c.data("Subject: json\r\n\r\nhi\r\n").expect(250).text.trim_end().rsplit(' ').next().unwrap().to_string();
    c.cmd("QUIT").expect(221);
    server.wait_log("errors=3 (", 1);
    server.wait_log(&format!("{id}: to=<bob@example.com>"), 1);
    drop(child);
    let script = "import json, sys\n\
                  for line in sys.stdin:\n    o = json.loads(line)\n    assert set(o) <= {'time', 'level', 'qid', 'message'}, o\n    \
                  print(o['level'], o.get('qid', '-'), o['message'])\n";
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    python.stdin.take().unwrap().write_all(server.log().as_bytes()).unwrap();
    let out = python.wait_with_output().unwrap();
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "not JSON lines: {}\n{}", String::from_utf8_lossy(&out.stderr), server.log());
    assert!(parsed.contains(&format!("info {id} {id}: from=<carol@remote.example>, size=")), "{parsed}");
    // The closing line counts every refused command (the two malformed ones and the refused
    // recipient, as Postfix's error count does); `rejected` the refusals by policy.
    assert!(parsed.contains("messages=1 rejected=1 errors=3 (closed)"), "{parsed}");
}

/// A daemon killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_unreachable_log_socket_is_said_and_stderr_is_used() {
    let server = Server::start_with(Options {
        sections: "[log]\ntarget = \"journald\"\nsocket = \"/nonexistent/journal/socket\"\n".into(),
        ..Options::default()
    });
    let log = server.log();
    assert!(
        log.contains("carrier: [log] target = \"journald\": cannot reach /nonexistent/journal/socket (")
            && log.contains("logging to stderr instead"),
        "{log}"
    );
    server.send_mail("carol@remote.example", &["bob@example.com"], "Subject: x\r\n\r\nx\r\n").expect(250);
    server.wait_log("to=<bob@example.com>, relay=local", 1);
}
