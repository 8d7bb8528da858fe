//! The loads. Each runs against one server and returns what it measured; they check every
//! reply, so a refusing server fails the run instead of looking fast.

use crate::Options;
use crate::client::{Conn, fail};
use crate::mailgen;
use crate::mem;
use crate::peers::{DOMAIN, IDLER, PASSWORD, READER, REMOTE_DOMAIN, SMTP_USER, Server, Sink};
use std::io;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const SENDER: &str = "sender@client.bench.test";
/// Longest any one load may take before it is declared stuck.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs smtp-source against `addr`: `sessions` parallel sessions, `messages` in all.
fn smtp_source(o: &Options, addr: SocketAddr, to: &str) -> io::Result<()> {
    let out = Command::new("smtp-source")
        .args(["-s", &o.sessions.to_string(), "-m", &o.messages.to_string(), "-l", &o.size.to_string()])
        .args(["-M", "client.bench.test", "-f", SENDER, "-t", to, &addr.to_string()])
        .output()?;
    if !out.status.success() {
        return Err(fail(format!("smtp-source failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    Ok(())
}

/// Polls `done` every 20 ms until it holds; the time it took.
fn wait_for(what: &str, start: Instant, mut done: impl FnMut() -> bool) -> io::Result<Duration> {
    while !done() {
        if start.elapsed() > LIMIT {
            return Err(fail(format!("{what}: still not done after {LIMIT:?}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(start.elapsed())
}

/// Waits until the server has nothing left in its queue, so loads do not overlap.
pub fn settle(s: &dyn Server) -> io::Result<()> {
    wait_for("queue drain", Instant::now(), || s.queue_empty())?;
    Ok(())
}

/// SMTP to local Maildir: (seconds until smtp-source had every 250, seconds until every
/// message was in the mailbox).
pub fn smtp_maildir(o: &Options, s: &dyn Server) -> io::Result<(f64, f64)> {
    let maildir = s.maildir(SMTP_USER);
    mailgen::retire_maildir(&maildir, &o.workdir.join("trash"))?;
    let addr = s.smtp().ok_or_else(|| fail("no SMTP"))?;
    let start = Instant::now();
    smtp_source(o, addr, &format!("{SMTP_USER}@{DOMAIN}"))?;
    let accepted = start.elapsed();
    let stored = wait_for("delivery to the Maildir", start, || mailgen::count(&maildir) >= o.messages)?;
    settle(s)?;
    Ok((accepted.as_secs_f64(), stored.as_secs_f64()))
}

/// Relay to the sink: seconds until the sink had every message.
pub fn relay(o: &Options, s: &dyn Server, sink: &Sink) -> io::Result<f64> {
    let before = sink.received();
    let addr = s.smtp().ok_or_else(|| fail("no SMTP"))?;
    let start = Instant::now();
    smtp_source(o, addr, &format!("someone@{REMOTE_DOMAIN}"))?;
    let done = wait_for("relay to the sink", start, || sink.received() >= before + o.messages as u64)?;
    settle(s)?;
    Ok(done.as_secs_f64())
}

/// Latency of accepting mail at a fixed rate: (p50, p99, max) in milliseconds, from the
/// moment each message was due to its final 250. Messages are due at regular intervals
/// whatever happened to earlier ones (an open loop), so a stalled server is charged for the
/// wait of every message queued behind the stall.
pub fn latency(o: &Options, s: &dyn Server) -> io::Result<(f64, f64, f64)> {
    let maildir = s.maildir(SMTP_USER);
    mailgen::retire_maildir(&maildir, &o.workdir.join("trash"))?;
    let addr = s.smtp().ok_or_else(|| fail("no SMTP"))?;
    let total = o.rate * o.latency_secs as usize;
    let rt = runtime()?;
    let mut lat = rt.block_on(async {
        // Enough connections that a free one is always there at this rate unless the server stalls.
        let pool = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..32 {
            pool.lock().await.push(Conn::smtp_open(addr).await?);
        }
        let to = format!("{SMTP_USER}@{DOMAIN}");
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / o.rate as f64);
            tokio::time::sleep_until(due).await;
            let (pool, to, size) = (pool.clone(), to.clone(), o.size);
            tasks.spawn(async move {
                let message = mailgen::smtp_message(SENDER, &to, i, size);
                let mut conn = loop {
                    if let Some(c) = pool.lock().await.pop() {
                        break c;
                    }
                    tokio::time::sleep(Duration::from_micros(200)).await;
                };
                conn.smtp_send(SENDER, &to, &message).await?;
                let took = due.elapsed();
                pool.lock().await.push(conn);
                Ok::<_, io::Error>(took.as_secs_f64() * 1000.0)
            });
        }
        let mut lat = Vec::with_capacity(total);
        while let Some(r) = tasks.join_next().await {
            lat.push(r.map_err(|e| fail(e.to_string()))??);
        }
        Ok::<_, io::Error>(lat)
    })?;
    wait_for("delivery after the latency load", Instant::now(), || mailgen::count(&maildir) >= total)?;
    settle(s)?;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Ok((pct(0.50), pct(0.99), lat[lat.len() - 1]))
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// POP3: login, STAT, RETR of every message one by one (as fetchmail does), QUIT; seconds.
pub fn pop3(addr: SocketAddr, messages: usize) -> io::Result<f64> {
    runtime()?.block_on(async {
        let start = Instant::now();
        let mut c = Conn::connect(addr).await?;
        c.pop_ok("greeting").await?;
        c.send(format!("USER {READER}@{DOMAIN}\r\n").as_bytes()).await?;
        c.pop_ok("USER").await?;
        c.send(format!("PASS {PASSWORD}\r\n").as_bytes()).await?;
        c.pop_ok("PASS").await?;
        c.send(b"STAT\r\n").await?;
        let stat = String::from_utf8_lossy(c.line().await?).to_string();
        let n: usize =
            stat.split(' ').nth(1).and_then(|v| v.parse().ok()).ok_or_else(|| fail(format!("STAT: {stat}")))?;
        if n != messages {
            return Err(fail(format!("the mailbox has {n} messages, not {messages}")));
        }
        for i in 1..=n {
            c.send(format!("RETR {i}\r\n").as_bytes()).await?;
            c.pop_ok("RETR").await?;
            c.pop_body().await?;
        }
        c.send(b"QUIT\r\n").await?;
        c.pop_ok("QUIT").await?;
        Ok(start.elapsed().as_secs_f64())
    })
}

/// The IMAP phases measured, in order.
pub const IMAP_PHASES: [&str; 5] =
    ["login + SELECT", "FETCH 1:* headers", "FETCH 1:* full bodies", "SEARCH header (SUBJECT)", "SEARCH body (BODY)"];

/// IMAP: seconds for each of [`IMAP_PHASES`].
pub fn imap(addr: SocketAddr, messages: usize) -> io::Result<Vec<f64>> {
    runtime()?.block_on(async {
        let mut times = Vec::new();
        let mut t = Instant::now();
        let mut lap = |times: &mut Vec<f64>| {
            times.push(t.elapsed().as_secs_f64());
            t = Instant::now();
        };
        let mut c = Conn::connect(addr).await?;
        c.line().await?;
        c.imap("a1", &format!("LOGIN {READER}@{DOMAIN} {PASSWORD}")).await?;
        c.imap("a2", "SELECT INBOX").await?;
        lap(&mut times);
        let (n, _) = c.imap("a3", "FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER])").await?;
        if n != messages as u64 {
            return Err(fail(format!("FETCH returned {n} messages, not {messages}")));
        }
        lap(&mut times);
        let (_, octets) = c.imap("a4", "FETCH 1:* (BODY.PEEK[])").await?;
        if octets == 0 {
            return Err(fail("FETCH BODY[] returned no literals"));
        }
        lap(&mut times);
        let needle = messages / 2 + 1;
        c.imap("a5", &format!("SEARCH SUBJECT \"bench message {needle}\"")).await?;
        lap(&mut times);
        c.imap("a6", &format!("SEARCH BODY \"needle{needle}\"")).await?;
        lap(&mut times);
        c.imap("a7", "LOGOUT").await?;
        Ok(times)
    })
}

/// `idlers` sessions SELECT the idler's INBOX and IDLE; one message is then sent over SMTP.
/// Milliseconds from the start of that SMTP transaction until every session saw EXISTS.
pub fn idle(o: &Options, s: &dyn Server) -> io::Result<f64> {
    let imap = s.imap().ok_or_else(|| fail("no IMAP"))?;
    let smtp = s.smtp().ok_or_else(|| fail("no SMTP"))?;
    runtime()?.block_on(async {
        let mut sessions = Vec::new();
        for _ in 0..o.idlers {
            let mut c = Conn::connect(imap).await?;
            c.line().await?;
            c.imap("a1", &format!("LOGIN {IDLER}@{DOMAIN} {PASSWORD}")).await?;
            c.imap("a2", "SELECT INBOX").await?;
            c.send(b"a3 IDLE\r\n").await?;
            let cont = c.line().await?;
            if !cont.starts_with(b"+") {
                return Err(fail(format!("IDLE: {}", String::from_utf8_lossy(cont))));
            }
            sessions.push(c);
        }
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for mut c in sessions {
            tasks.spawn(async move {
                loop {
                    let line = c.line().await?;
                    if line.ends_with(b" EXISTS\r\n") {
                        break;
                    }
                }
                let took = start.elapsed();
                c.send(b"DONE\r\n").await?;
                c.imap_until("a3").await?;
                c.imap("a4", "LOGOUT").await?;
                Ok::<_, io::Error>(took)
            });
        }
        let to = format!("{IDLER}@{DOMAIN}");
        let mut smtp = Conn::smtp_open(smtp).await?;
        smtp.smtp_send(SENDER, &to, &mailgen::smtp_message(SENDER, &to, 0, o.size)).await?;
        let mut last = Duration::ZERO;
        while let Some(r) = tokio::time::timeout(LIMIT, tasks.join_next()).await.map_err(|_| fail("IDLE: no EXISTS"))? {
            last = last.max(r.map_err(|e| fail(e.to_string()))??);
        }
        Ok(last.as_secs_f64() * 1000.0)
    })
}

/// Memory of the tree under `pid` with no client, then with `n` connections open to `addr`
/// (each greeted, none logged in).
pub fn held_connections(n: usize, addr: SocketAddr, pid: u32) -> io::Result<(mem::Usage, mem::Usage)> {
    std::thread::sleep(Duration::from_millis(500));
    let idle = mem::usage(pid);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let held = rt.block_on(async {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let mut c = Conn::connect(addr).await?;
            tokio::time::timeout(Duration::from_secs(60), c.line()).await.map_err(|_| fail("no greeting"))??;
            conns.push(c);
        }
        // Let the server settle (process start-up, allocator) before measuring.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let held = mem::usage(pid);
        drop(conns);
        Ok::<_, io::Error>(held)
    })?;
    Ok((idle, held))
}

/// Prepares the mailbox POP3 and IMAP read (the same files on both sides).
pub fn prepare_reader(s: &dyn Server, messages: usize, size: usize) -> io::Result<()> {
    mailgen::fill_maildir(&s.maildir(READER), messages, size)?;
    Ok(())
}
