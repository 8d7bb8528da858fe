//! Minimal SMTP, POP3 and IMAP clients: just what the loads send, checking every reply so a
//! failing server shows up as an error rather than as a fast number.

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub fn fail(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

/// A line-oriented connection.
pub struct Conn {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    line: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (rd, wr) = tcp.into_split();
        Ok(Conn { rd: BufReader::with_capacity(256 * 1024, rd), wr, line: Vec::new() })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.wr.write_all(bytes).await
    }

    /// The next line, CRLF included; an error at end of stream.
    pub async fn line(&mut self) -> io::Result<&[u8]> {
        self.line.clear();
        if self.rd.read_until(b'\n', &mut self.line).await? == 0 {
            return Err(fail("connection closed by the server"));
        }
        Ok(&self.line)
    }

    /// Reads exactly `n` octets (an IMAP literal) and discards them.
    async fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = tokio::io::copy(&mut (&mut self.rd).take(n), &mut tokio::io::sink()).await?;
        if copied < n { Err(fail("connection closed inside a literal")) } else { Ok(()) }
    }

    // --- SMTP ---

    /// One SMTP reply (all its lines); its code.
    pub async fn smtp_reply(&mut self) -> io::Result<u16> {
        loop {
            let line = self.line().await?;
            if line.len() < 4 {
                return Err(fail(format!("bad SMTP reply {:?}", String::from_utf8_lossy(line))));
            }
            if line[3] != b'-' {
                return std::str::from_utf8(&line[..3])
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| fail("bad SMTP reply code"));
            }
        }
    }

    pub async fn smtp_expect(&mut self, want: u16, what: &str) -> io::Result<()> {
        match self.smtp_reply().await? {
            code if code == want => Ok(()),
            code => Err(fail(format!("{what}: expected {want}, got {code}"))),
        }
    }

    /// Greeting and EHLO.
    pub async fn smtp_open(addr: SocketAddr) -> io::Result<Conn> {
        let mut c = Conn::connect(addr).await?;
        c.smtp_expect(220, "greeting").await?;
        c.send(b"EHLO client.bench.test\r\n").await?;
        c.smtp_expect(250, "EHLO").await?;
        Ok(c)
    }

    /// One pipelined transaction (RFC 2920): MAIL, RCPT, DATA, then the message.
    pub async fn smtp_send(&mut self, from: &str, to: &str, message: &[u8]) -> io::Result<()> {
        self.send(format!("MAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes()).await?;
        self.smtp_expect(250, "MAIL").await?;
        self.smtp_expect(250, "RCPT").await?;
        self.smtp_expect(354, "DATA").await?;
        self.send(message).await?;
        self.smtp_expect(250, "end of DATA").await
    }

    // --- POP3 ---

    pub async fn pop_ok(&mut self, what: &str) -> io::Result<()> {
        let line = self.line().await?;
        if line.starts_with(b"+OK") {
            Ok(())
        } else {
            Err(fail(format!("{what}: {}", String::from_utf8_lossy(line).trim_end())))
        }
    }

    /// The rest of a multi-line response, up to the lone dot; its size in octets.
    pub async fn pop_body(&mut self) -> io::Result<u64> {
        let mut n = 0;
        loop {
            let line = self.line().await?;
            if line == b".\r\n" {
                return Ok(n);
            }
            n += line.len() as u64;
        }
    }

    // --- IMAP ---

    /// Sends a tagged command and reads up to its tagged reply, skipping literals; the number
    /// of untagged responses and of literal octets read.
    pub async fn imap(&mut self, tag: &str, command: &str) -> io::Result<(u64, u64)> {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        self.imap_until(tag).await
    }

    pub async fn imap_until(&mut self, tag: &str) -> io::Result<(u64, u64)> {
        let (mut untagged, mut octets) = (0u64, 0u64);
        loop {
            let line = self.line().await?;
            if line.starts_with(b"* ") {
                untagged += 1;
            } else if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
                let rest = &line[tag.len() + 1..];
                if rest.starts_with(b"OK") {
                    return Ok((untagged, octets));
                }
                return Err(fail(format!("{tag}: {}", String::from_utf8_lossy(rest).trim_end())));
            }
            // A line ending in {N} is followed by N octets, then the line goes on.
            let mut line = self.line.clone();
            while let Some(n) = literal(&line) {
                self.skip(n).await?;
                octets += n;
                line = self.line().await?.to_vec();
            }
        }
    }
}

/// `{123}` at the end of a line: the size of the literal that follows.
fn literal(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.trim_end_matches('+').parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn literal_sizes() {
        assert_eq!(super::literal(b"* 1 FETCH (BODY[] {1234}\r\n"), Some(1234));
        assert_eq!(super::literal(b"* 1 FETCH (FLAGS ())\r\n"), None);
    }
}
