//! Delivery status notifications to the sender (RFC 3464, RFC 3462/6522 multipart/report):
//! a failure ("bounce") or a delay warning, with a human part, the machine-readable
//! delivery-status part, and the original message's header.
//!
//! Written by hand rather than with a MIME builder: the layout is fixed by the RFCs, every
//! part is 7-bit text we generate, and the exact field order is what DSN parsers expect.

use carrier_smtp::trace::rfc5322_date;
use carrier_spool::{Envelope, QueueId};
use std::time::SystemTime;

/// What the notification reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Delivery failed for good (`Action: failed`).
    Failed,
    /// Delivery is delayed and still being tried (`Action: delayed`).
    Delayed,
}

/// One recipient's entry in the report.
#[derive(Debug, Clone)]
pub struct Item {
    /// The final recipient address.
    pub recipient: String,
    /// The address as given in RCPT TO, when it differs.
    pub original: Option<String>,
    /// RFC 3463 status, e.g. "5.1.1".
    pub status: String,
    /// What happened, in words.
    pub text: String,
    /// The remote server that answered, e.g. "mx.example.org".
    pub remote_mta: Option<String>,
    /// The remote server's reply, for Diagnostic-Code.
    pub diagnostic: Option<String>,
}

/// Everything needed to write one notification.
pub struct Report<'a> {
    pub kind: Kind,
    pub hostname: &'a str,
    pub id: &'a QueueId,
    pub envelope: &'a Envelope,
    pub items: &'a [Item],
    /// The original message (its header section is attached).
    pub message: &'a [u8],
    pub now: SystemTime,
}

/// The notification as a message with CRLF line ends, ready for the queue.
pub fn compose(r: &Report) -> Vec<u8> {
    let boundary = format!("{}.{}/{}", r.id, unix(r.now), r.hostname);
    let (subject, intro) = match r.kind {
        Kind::Failed => (
            "Undelivered Mail Returned to Sender",
            "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients. It's attached below.",
        ),
        Kind::Delayed => (
            "Delayed Mail (still being retried)",
            "Your message could not be delivered yet to one or more recipients.\r\nThe mail system will keep trying; you do not need to send it again.",
        ),
    };
    let mut out = String::new();
    out.push_str(&format!("From: MAILER-DAEMON@{} (Mail Delivery System)\r\n", r.hostname));
    out.push_str(&format!("To: <{}>\r\n", r.envelope.sender));
    out.push_str(&format!("Subject: {subject}\r\n"));
    out.push_str(&format!("Date: {}\r\n", rfc5322_date(r.now)));
    out.push_str(&format!("Message-ID: <{}.{}@{}>\r\n", r.id, unix(r.now), r.hostname));
    // RFC 3834 5: an automatic reply; vacation responders must not answer it.
    out.push_str("Auto-Submitted: auto-replied\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n"
    ));
    out.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
    out.push_str("This is a MIME-encapsulated message.\r\n\r\n");

    out.push_str(&format!("--{boundary}\r\nContent-Description: Notification\r\n"));
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    out.push_str(&format!("This is the mail system at host {}.\r\n\r\n{intro}\r\n\r\n", r.hostname));
    out.push_str("For further assistance, please send mail to postmaster.\r\n\r\n");
    out.push_str("                   The mail system\r\n\r\n");
    for item in r.items {
        out.push_str(&format!("<{}>: {}\r\n", item.recipient, item.text));
    }
    out.push_str("\r\n");

    out.push_str(&format!("--{boundary}\r\nContent-Description: Delivery report\r\n"));
    out.push_str("Content-Type: message/delivery-status\r\n\r\n");
    out.push_str(&per_message(r));
    for item in r.items {
        out.push_str("\r\n");
        out.push_str(&per_recipient(r.kind, item));
    }
    out.push_str("\r\n");

    let attached = if r.kind == Kind::Failed { "Undelivered Message Headers" } else { "Delayed Message Headers" };
    out.push_str(&format!("--{boundary}\r\nContent-Description: {attached}\r\n"));
    out.push_str("Content-Type: text/rfc822-headers\r\n\r\n");
    let mut bytes = out.into_bytes();
    for line in header_section(r.message).split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        bytes.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// RFC 3464 2.2: the per-message fields.
fn per_message(r: &Report) -> String {
    let mut s = format!("Reporting-MTA: dns; {}\r\nX-Carrier-Queue-ID: {}\r\n", r.hostname, r.id);
    if !r.envelope.sender.is_empty() {
        s.push_str(&format!("X-Carrier-Sender: rfc822; {}\r\n", r.envelope.sender));
    }
    s.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(r.envelope.received)));
    s
}

/// RFC 3464 2.3: the per-recipient fields.
fn per_recipient(kind: Kind, item: &Item) -> String {
    let mut s = format!("Final-Recipient: rfc822; {}\r\n", item.recipient);
    if let Some(orig) = &item.original {
        s.push_str(&format!("Original-Recipient: rfc822; {orig}\r\n"));
    }
    let action = if kind == Kind::Failed { "failed" } else { "delayed" };
    s.push_str(&format!("Action: {action}\r\nStatus: {}\r\n", item.status));
    if let Some(mta) = &item.remote_mta {
        s.push_str(&format!("Remote-MTA: dns; {mta}\r\n"));
    }
    let diagnostic = item.diagnostic.as_deref().unwrap_or(&item.text);
    let kind = if item.diagnostic.is_some() { "smtp" } else { "x-carrier" };
    s.push_str(&format!("Diagnostic-Code: {kind}; {}\r\n", single_line(diagnostic)));
    s
}

/// The message's header section, up to (not including) the empty line.
fn header_section(message: &[u8]) -> &[u8] {
    for (i, w) in message.windows(4).enumerate() {
        if w == b"\r\n\r\n" {
            return &message[..i + 2];
        }
    }
    message.windows(2).position(|w| w == b"\n\n").map_or(message, |i| &message[..i + 1])
}

/// DSN fields are one line each; CR and LF in remote text must not start a new field.
fn single_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn envelope() -> Envelope {
        Envelope {
            sender: "alice@example.com".into(),
            recipients: vec![],
            received: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            client_ip: None,
            client_name: "unknown".into(),
            helo: "client".into(),
            proto: "ESMTP".into(),
            smtputf8: false,
            body_8bit: false,
            warned: false,
            junk: false,
            spam: None,
        }
    }

    fn item() -> Item {
        Item {
            recipient: "bob@remote.example".into(),
            original: Some("robert@remote.example".into()),
            status: "5.1.1".into(),
            text: "host mx.remote.example[127.0.0.2] said: 550 5.1.1 No such user (in reply to RCPT TO command)".into(),
            remote_mta: Some("mx.remote.example".into()),
            diagnostic: Some("550 5.1.1 No such user\r\nInjected: field".into()),
        }
    }

    #[test]
    fn a_failure_report_has_the_three_parts() {
        let id: QueueId = "0G7Q3V8M2K4A01".parse().unwrap();
        let env = envelope();
        let items = [item()];
        let message = b"From: alice@example.com\r\nSubject: hello\r\n\r\nsecret body\r\n";
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let report = Report {
            kind: Kind::Failed,
            hostname: "mx.example.com",
            id: &id,
            envelope: &env,
            items: &items,
            message,
            now,
        };
        let text = String::from_utf8(compose(&report)).unwrap();
        assert!(
            text.starts_with(
                "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\nTo: <alice@example.com>\r\n"
            )
        );
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(text.contains("\r\nAuto-Submitted: auto-replied\r\n"));
        for field in [
            "Reporting-MTA: dns; mx.example.com\r\n",
            "Final-Recipient: rfc822; bob@remote.example\r\n",
            "Original-Recipient: rfc822; robert@remote.example\r\n",
            "Action: failed\r\nStatus: 5.1.1\r\n",
            "Remote-MTA: dns; mx.remote.example\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 No such user  Injected: field\r\n",
            "Content-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.com\r\nSubject: hello\r\n\r\n--",
        ] {
            assert!(text.contains(field), "missing {field:?} in\n{text}");
        }
        assert!(!text.contains("secret body"), "only the header is returned");
        assert!(text.ends_with("--\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF line ends only");
    }

    #[test]
    fn a_delay_warning_says_delayed() {
        let id: QueueId = "0G7Q3V8M2K4A01".parse().unwrap();
        let env = envelope();
        let mut it = item();
        it.status = "4.4.1".into();
        it.diagnostic = None;
        it.text = "connect to mx[127.0.0.2]:25: Connection refused".into();
        let items = [it];
        let report = Report {
            kind: Kind::Delayed,
            hostname: "mx.example.com",
            id: &id,
            envelope: &env,
            items: &items,
            message: b"Subject: x\n\nbody\n",
            now: SystemTime::now(),
        };
        let text = String::from_utf8(compose(&report)).unwrap();
        assert!(text.contains("Subject: Delayed Mail (still being retried)\r\n"));
        assert!(text.contains("Action: delayed\r\nStatus: 4.4.1\r\n"));
        assert!(text.contains("Diagnostic-Code: x-carrier; connect to mx[127.0.0.2]:25: Connection refused\r\n"));
        assert!(text.contains("text/rfc822-headers\r\n\r\nSubject: x\r\n\r\n--"), "{text}");
    }
}
