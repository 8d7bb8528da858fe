//! A scriptable SMTP server standing in for a remote MX: it records every message and can
//! be told to refuse the connection, a sender, a recipient or the data, with any reply.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// Replies the sink gives; None means the usual 2xx/354.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub greeting: Option<String>,
    pub mail: Option<String>,
    /// By recipient address (lower-case).
    pub rcpt: HashMap<String, String>,
    pub data_end: Option<String>,
    /// EHLO name; default "sink.test".
    pub name: Option<String>,
    /// SIZE to announce.
    pub size: Option<u64>,
    /// How long to wait before answering DATA with 354 (a slow remote, mid-transaction).
    pub hold_data: Option<Duration>,
}

#[derive(Default)]
struct State {
    script: Script,
    delivered: Vec<Delivered>,
    connections: usize,
}

/// The sink; it stops accepting when dropped.
pub struct Sink {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    /// Listens on `addr` (such as "127.0.0.2:0").
    pub fn start(addr: &str) -> Sink {
        Sink::on(TcpListener::bind(addr).unwrap())
    }

    pub fn on(listener: TcpListener) -> Sink {
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        st.lock().unwrap().connections += 1;
                        std::thread::spawn(move || serve(stream, st));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Sink { state, stop }
    }

    pub fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.state.lock().unwrap().script);
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.state.lock().unwrap().delivered.clone()
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Waits until `n` messages arrived.
    pub fn wait(&self, n: usize) -> Vec<Delivered> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.delivered();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let script = state.lock().unwrap().script.clone();
    let name = script.name.clone().unwrap_or_else(|| "sink.test".into());
    let greeting = script.greeting.clone().unwrap_or_else(|| format!("220 {name} ESMTP sink"));
    let _ = write!(out, "{greeting}\r\n");
    if !greeting.starts_with("220") {
        return;
    }
    let (mut from, mut to) = (None::<String>, Vec::<String>::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_string();
        // Read per command, so a test can change the script while a connection stays open.
        let script = state.lock().unwrap().script.clone();
        let upper = cmd.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            let size = script.size.map(|s| format!("250-SIZE {s}\r\n")).unwrap_or_default();
            format!("250-{name}\r\n250-PIPELINING\r\n{size}250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
        } else if upper.starts_with("HELO") {
            format!("250 {name}")
        } else if upper.starts_with("MAIL FROM:") {
            match &script.mail {
                Some(r) => r.clone(),
                None => {
                    from = Some(path(&cmd[10..]));
                    to.clear();
                    "250 2.1.0 Ok".into()
                }
            }
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = path(&cmd[8..]);
            match script.rcpt.get(&rcpt.to_ascii_lowercase()) {
                Some(r) => r.clone(),
                None if from.is_some() => {
                    to.push(rcpt);
                    "250 2.1.5 Ok".into()
                }
                None => "503 5.5.1 Error: need MAIL command".into(),
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                "554 5.5.1 Error: no valid recipients".into()
            } else {
                if let Some(hold) = script.hold_data {
                    std::thread::sleep(hold);
                }
                let _ = write!(out, "354 End data with <CR><LF>.<CR><LF>\r\n");
                // A connection lost before the final dot delivers nothing (RFC 5321 4.1.1.4).
                let Some(data) = read_data(&mut reader) else { return };
                let reply = script.data_end.clone().unwrap_or_else(|| "250 2.0.0 Ok: queued as SINK1".into());
                if reply.starts_with('2') {
                    let d = Delivered { from: from.clone().unwrap_or_default(), to: to.clone(), data };
                    state.lock().unwrap().delivered.push(d);
                }
                from = None;
                to.clear();
                reply
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            "250 2.0.0 Ok".into()
        } else if upper == "NOOP" {
            "250 2.0.0 Ok".into()
        } else if upper == "QUIT" {
            let _ = write!(out, "221 2.0.0 Bye\r\n");
            return;
        } else {
            "502 5.5.2 Error: command not recognized".into()
        };
        let _ = write!(out, "{reply}\r\n");
    }
}

fn path(arg: &str) -> String {
    let arg = arg.trim();
    let end = arg.find('>').unwrap_or(arg.len());
    arg.get(1..end).unwrap_or("").to_string()
}

/// The message up to the final dot, dot-unstuffed, CRLF kept; None if the connection ended first.
fn read_data(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == ".\r\n" {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

/// Binds `port` on each of `ips` (a free port common to all of them, since carrier uses one
/// `remote_port` for every MX).
pub fn common_port(ips: &[&str]) -> (u16, Vec<TcpListener>) {
    for _ in 0..50 {
        let first = TcpListener::bind((ips[0], 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        let mut all = vec![first];
        for ip in &ips[1..] {
            match TcpListener::bind((*ip, port)) {
                Ok(l) => all.push(l),
                Err(_) => break,
            }
        }
        if all.len() == ips.len() {
            return (port, all);
        }
    }
    panic!("no common free port on {ips:?}");
}
