//! SMTP replies: a three-digit code, an enhanced status code and text.

use std::fmt;

/// One SMTP reply, possibly multi-line (RFC 5321 4.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The basic reply code (RFC 5321 4.2).
    pub code: u16,
    /// Enhanced status code such as "5.1.1" (RFC 3463), sent before the text (RFC 2034).
    pub status: Option<&'static str>,
    /// One entry per line; never empty.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply carrying an enhanced status code.
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply { code, status: Some(status), lines: vec![text.into()] }
    }

    /// A reply without an enhanced status code: RFC 2034 section 3 exempts the
    /// greeting and the EHLO/HELO answers; 354 is an intermediate reply.
    pub fn bare(code: u16, text: impl Into<String>) -> Reply {
        Reply { code, status: None, lines: vec![text.into()] }
    }

    /// The first line's text, for logs.
    pub fn text(&self) -> &str {
        &self.lines[0]
    }

    /// Appends the wire form: `code-text` for all but the last line, `code text` last.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some(status) = self.status {
                out.extend_from_slice(status.as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "{} {} {}", self.code, s, self.lines.join(" / ")),
            None => write!(f, "{} {}", self.code, self.lines.join(" / ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced_code() {
        let mut out = Vec::new();
        Reply::new(550, "5.1.1", "User unknown").write_to(&mut out);
        assert_eq!(out, b"550 5.1.1 User unknown\r\n");
    }

    #[test]
    fn multi_line_uses_dash_continuations() {
        let mut out = Vec::new();
        let r = Reply { code: 250, status: None, lines: vec!["a".into(), "b".into(), "c".into()] };
        r.write_to(&mut out);
        assert_eq!(out, b"250-a\r\n250-b\r\n250 c\r\n");
    }
}
