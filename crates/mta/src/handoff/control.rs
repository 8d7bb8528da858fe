//! The control socket `data_dir/control`: how local commands talk to the running daemon
//! (`sendmail` submits; `carrier queue flush`, `mailq`, `carrier status` and `carrier check`
//! ask). One request line, an optional payload, one answer (docs/architecture.md, "The
//! control socket"). This module is the wire format and the client; the daemon's side is in
//! the `carrier` binary.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the socket is.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control")
}

/// One answer on the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `OK <text>`: done (SUBMIT: the queue id).
    Ok(String),
    /// `BODY <length>` and that many octets: done, with a report.
    Body(Vec<u8>),
    /// `ERR <sysexits code> <text>`: refused; 75 (EX_TEMPFAIL) means try again later.
    Err(u8, String),
}

impl Answer {
    /// The answer as it goes over the socket.
    pub fn encode(&self) -> Vec<u8> {
        let one_line = |t: &str| t.replace(['\r', '\n'], " ");
        match self {
            Answer::Ok(text) => format!("OK {}\n", one_line(text)).into_bytes(),
            Answer::Err(code, text) => format!("ERR {code} {}\n", one_line(text)).into_bytes(),
            Answer::Body(body) => {
                let mut out = format!("BODY {}\n", body.len()).into_bytes();
                out.extend_from_slice(body);
                out
            }
        }
    }

    /// Reads one answer.
    pub fn decode(reader: &mut impl BufRead) -> io::Result<Answer> {
        let mut line = String::new();
        reader.by_ref().take(64 * 1024).read_line(&mut line)?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("unexpected answer {line:?}"));
        let line = line.strip_suffix('\n').ok_or_else(bad)?;
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "OK" => Ok(Answer::Ok(rest.to_string())),
            "ERR" => {
                let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
                Ok(Answer::Err(code.parse().map_err(|_| bad())?, text.to_string()))
            }
            "BODY" => {
                let length: u64 = rest.parse().map_err(|_| bad())?;
                // Grown as the octets arrive, not allocated from the announced length.
                let mut body = Vec::new();
                reader.take(length).read_to_end(&mut body)?;
                if body.len() as u64 != length {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the answer ended early"));
                }
                Ok(Answer::Body(body))
            }
            _ => Err(bad()),
        }
    }
}

/// Sends one request and reads its answer. An error means the daemon is not there (or went
/// away mid-request): the caller may fall back, e.g. to the pickup directory.
pub fn request(data_dir: &Path, line: &str, payload: &[u8], wait: Duration) -> io::Result<Answer> {
    let mut stream = UnixStream::connect(socket_path(data_dir))?;
    stream.set_read_timeout(Some(wait))?;
    stream.set_write_timeout(Some(wait))?;
    let mut out = format!("{line}\n").into_bytes();
    out.extend_from_slice(payload);
    stream.write_all(&out)?;
    Answer::decode(&mut BufReader::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip() {
        for a in
            [Answer::Ok("0G7Q".into()), Answer::Err(67, "<x@y>: User unknown".into()), Answer::Body(b"a\nb\n".to_vec())]
        {
            assert_eq!(Answer::decode(&mut &a.encode()[..]).unwrap(), a);
        }
        assert_eq!(Answer::Err(75, "two\nlines".into()).encode(), b"ERR 75 two lines\n");
        assert!(Answer::decode(&mut &b"HELLO\n"[..]).is_err());
        assert!(Answer::decode(&mut &b"OK no newline"[..]).is_err());
        // Found by fuzzing: a huge announced length was allocated before anything arrived.
        assert!(Answer::decode(&mut &b"BODY 8222222222222222222\nabc"[..]).is_err());
        assert!(Answer::decode(&mut &b"BODY 5\nabc"[..]).is_err());
    }
}
