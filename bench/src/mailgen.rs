//! Test messages: the 1 KiB SMTP message of the latency load and the Maildir of N messages
//! that POP3 and IMAP read.

use std::fs;
use std::io;
use std::path::Path;

/// A message of about `size` octets of body, with CRLF line ends and SMTP's final dot.
pub fn smtp_message(from: &str, to: &str, n: usize, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: bench message {n}\r\nMessage-ID: <{n}.bench@client.bench.test>\r\n\
         Date: Tue, 25 Nov 2025 12:00:00 +0000\r\n\r\n"
    );
    m.push_str(&body(n, size, "\r\n"));
    m.push_str(".\r\n");
    m.into_bytes()
}

/// Body lines of 72 characters (never starting with a dot), `size` octets or a little more.
fn body(n: usize, size: usize, eol: &str) -> String {
    let mut out = String::with_capacity(size + 80);
    let mut i = 0;
    while out.len() < size {
        let word = if i == 3 { format!("needle{n} ") } else { String::new() };
        let mut line = format!("{word}line {i} of message {n}: ");
        while line.len() < 72 {
            line.push_str("lorem ipsum ");
        }
        line.truncate(72);
        out.push_str(&line);
        out.push_str(eol);
        i += 1;
    }
    out
}

/// Writes `count` messages (LF line ends, as MTAs store them) into `maildir`/cur, seen
/// by no one yet, with names and dates any Maildir reader accepts. Returns the total size.
pub fn fill_maildir(maildir: &Path, count: usize, size: usize) -> io::Result<u64> {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub))?;
    }
    let base = 1_764_000_000u64;
    let mut total = 0;
    for n in 1..=count {
        let text = format!(
            "Return-Path: <sender{m}@client.bench.test>\nReceived: from client.bench.test ([127.0.0.1])\n\tby \
             mx.example.com with ESMTP id B{n:06}; Tue, 25 Nov 2025 12:00:00 +0000\nFrom: Sender {m} \
             <sender{m}@client.bench.test>\nTo: <reader@example.com>\nSubject: bench message {n}\nMessage-ID: \
             <{n}.bench@client.bench.test>\nDate: Tue, 25 Nov 2025 12:00:00 +0000\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=us-ascii\n\n{}",
            body(n, size, "\n"),
            m = n % 17,
        );
        let name = format!("{}.M{n}P1.bench.example.com,S={}:2,", base + n as u64, text.len());
        fs::write(maildir.join("cur").join(name), &text)?;
        total += text.len() as u64;
    }
    Ok(total)
}

/// Moves a Maildir (if any) into `trash`, which is removed only after the run: the server
/// creates a fresh one on its next delivery. Deleting thousands of files just before a load
/// would make the file system's inode allocator skip over them for a while (ext4 without a
/// journal checks every recently freed inode it passes), charging the next run for it.
pub fn retire_maildir(maildir: &Path, trash: &Path) -> io::Result<()> {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    fs::create_dir_all(trash)?;
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match fs::rename(maildir, trash.join(n.to_string())) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Messages in a Maildir (new/ and cur/).
pub fn count(maildir: &Path) -> usize {
    ["new", "cur"].iter().map(|sub| fs::read_dir(maildir.join(sub)).map_or(0, |d| d.count())).sum()
}
