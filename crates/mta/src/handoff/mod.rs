//! How a local command (`sendmail`) hands a message to the daemon: over the [`control`]
//! socket when the daemon runs, else through the [`pickup`] directory; [`message`] reads what
//! the caller wrote on stdin. One text form serves the control socket's SUBMIT and the files
//! in the pickup directory, so both are read by one parser (docs/architecture.md, "Local
//! submission"):
//!
//! ```text
//! carrier-submission 1
//! sender <alice@mx.example.com>
//! rcpt <bob@example.com>
//! body 8bit                      (optional: the message has 8-bit octets)
//! helo client.example            (optional, -bs only: the EHLO name)
//! proto ESMTP                    (optional, -bs only; default "local")
//!
//! the message, CRLF line ends
//! ```

pub mod control;
pub mod message;
pub mod pickup;

/// The largest submission taken in: the message limit (`smtp.max_message_size`) and room
/// for the envelope lines; anything beyond is refused unread.
pub fn max_submission(max_message_size: u64) -> u64 {
    max_message_size + 1024 * 1024
}

/// The first line of every submission.
const MAGIC: &str = "carrier-submission 1";
/// Protocols a submission may claim for its Received: line.
const PROTOCOLS: [&str; 3] = ["local", "SMTP", "ESMTP"];

/// What a local command hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Envelope sender; empty for the null sender.
    pub sender: String,
    /// Envelope recipients, fully qualified.
    pub recipients: Vec<String>,
    /// The message, CRLF line ends.
    pub message: Vec<u8>,
    /// The message has 8-bit octets (8BITMIME).
    pub eight_bit: bool,
    /// The EHLO name, for `-bs`.
    pub helo: Option<String>,
    /// "local", or "SMTP"/"ESMTP" for `-bs`.
    pub proto: String,
}

impl Submission {
    /// The text form.
    pub fn encode(&self) -> Vec<u8> {
        let mut head = format!("{MAGIC}\nsender <{}>\n", self.sender);
        for r in &self.recipients {
            head.push_str(&format!("rcpt <{r}>\n"));
        }
        if self.eight_bit {
            head.push_str("body 8bit\n");
        }
        if let Some(helo) = &self.helo {
            head.push_str(&format!("helo {helo}\n"));
        }
        head.push_str(&format!("proto {}\n\n", self.proto));
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.message);
        out
    }

    /// Parses the text form. The input comes from an unprivileged user: every field is
    /// checked here, and addresses again by the daemon's intake.
    pub fn decode(bytes: &[u8]) -> Result<Submission, String> {
        let split = bytes.windows(2).position(|w| w == b"\n\n").ok_or("no empty line after the envelope")?;
        let head = std::str::from_utf8(&bytes[..split]).map_err(|_| "the envelope is not UTF-8")?;
        let mut lines = head.split('\n');
        if lines.next() != Some(MAGIC) {
            return Err(format!("does not start with {MAGIC:?}"));
        }
        let mut sub = Submission {
            sender: String::new(),
            recipients: Vec::new(),
            message: bytes[split + 2..].to_vec(),
            eight_bit: false,
            helo: None,
            proto: "local".into(),
        };
        let mut sender = None;
        for line in lines {
            let (key, value) = line.split_once(' ').ok_or_else(|| format!("bad envelope line {line:?}"))?;
            if value.chars().any(char::is_control) {
                return Err(format!("control character in envelope line {line:?}"));
            }
            match key {
                "sender" => sender = Some(angle(value)?),
                "rcpt" => sub.recipients.push(angle(value)?),
                "body" if value == "8bit" => sub.eight_bit = true,
                "helo" if !value.is_empty() && !value.contains(' ') => sub.helo = Some(value.to_string()),
                "proto" if PROTOCOLS.contains(&value) => sub.proto = value.to_string(),
                _ => return Err(format!("bad envelope line {line:?}")),
            }
        }
        sub.sender = sender.ok_or("no sender line")?;
        Ok(sub)
    }
}

fn angle(value: &str) -> Result<String, String> {
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .map(str::to_string)
        .ok_or_else(|| format!("address {value:?} is not in <>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Submission {
        Submission {
            sender: "al@mx.example.com".into(),
            recipients: vec!["bob@example.com".into(), "\"odd name\"@example.org".into()],
            message: b"Subject: s\r\n\r\n\n\nbody\r\n".to_vec(),
            eight_bit: true,
            helo: Some("client.example".into()),
            proto: "ESMTP".into(),
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        assert_eq!(Submission::decode(&s.encode()).unwrap(), s);
        let plain = Submission { sender: String::new(), eight_bit: false, helo: None, proto: "local".into(), ..s };
        let text = plain.encode();
        assert!(text.starts_with(b"carrier-submission 1\nsender <>\nrcpt <bob@example.com>\n"));
        assert_eq!(Submission::decode(&text).unwrap(), plain);
    }

    #[test]
    fn refuses_what_a_caller_should_not_send() {
        for bad in [
            &b"carrier-submission 2\nsender <>\n\nx"[..],
            b"carrier-submission 1\nrcpt <a@b.example>\n\nx",
            b"carrier-submission 1\nsender a@b.example\n\nx",
            b"carrier-submission 1\nsender <>\nproto HTTP\n\nx",
            b"carrier-submission 1\nsender <>\nhelo a b\n\nx",
            b"carrier-submission 1\nsender <>\nrcpt <a\x07@b>\n\nx",
            b"carrier-submission 1\nsender <>\nextra thing\n\nx",
            b"carrier-submission 1\nsender <>",
        ] {
            assert!(Submission::decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
