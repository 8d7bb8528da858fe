//! Trace header fields added by an SMTP server (RFC 5321 4.4) and RFC 5322 dates.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a Received: field records about one hop.
#[derive(Debug, Clone)]
pub struct Trace<'a> {
    /// The name the client gave in HELO/EHLO.
    pub helo: &'a str,
    /// The client's reverse DNS name, or "unknown".
    pub client_name: &'a str,
    /// The client's address, if it came over the network.
    pub client_ip: Option<IpAddr>,
    /// Our host name.
    pub hostname: &'a str,
    /// "SMTP", "ESMTP", "ESMTPS", ... (RFC 3848).
    pub proto: &'a str,
    /// The queue id.
    pub id: &'a str,
    /// The single recipient, when there is exactly one (RFC 5321 4.4 "for" clause).
    pub recipient: Option<&'a str>,
    /// When the message was received.
    pub time: SystemTime,
}

/// The Received: field with CRLF line ends, folded as Postfix does (RFC 5321 4.4).
pub fn received(t: &Trace) -> String {
    let from = match t.client_ip {
        Some(ip) => format!("{} ({} [{}])", t.helo, t.client_name, ip),
        // A local submission: who submitted it, as Postfix's "from userid N".
        None if !t.client_name.is_empty() => format!("{} ({})", t.helo, t.client_name),
        None => t.helo.to_string(),
    };
    let mut field = format!("Received: from {from}\r\n\tby {} (carrier) with {} id {}", t.hostname, t.proto, t.id);
    if let Some(rcpt) = t.recipient {
        field.push_str(&format!("\r\n\tfor <{rcpt}>"));
    }
    field.push_str(&format!("; {}\r\n", rfc5322_date(t.time)));
    field
}

/// `Return-Path: <sender>` added at final delivery (RFC 5321 4.4).
pub fn return_path(sender: &str) -> String {
    format!("Return-Path: <{sender}>\r\n")
}

/// An RFC 5322 3.3 date-time in UTC, e.g. "Tue, 24 Nov 2026 15:13:01 +0000".
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = carrier_syntax::date::civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(at(0)), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(at(951_782_400)), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322_date(at(1_795_532_581)), "Tue, 24 Nov 2026 15:03:01 +0000");
    }

    #[test]
    fn received_field() {
        let t = Trace {
            helo: "client.example",
            client_name: "unknown",
            client_ip: Some("192.0.2.7".parse().unwrap()),
            hostname: "mx.example.com",
            proto: "ESMTP",
            id: "ABC123",
            recipient: Some("bob@example.com"),
            time: at(0),
        };
        assert_eq!(
            received(&t),
            "Received: from client.example (unknown [192.0.2.7])\r\n\tby mx.example.com (carrier) with ESMTP id ABC123\r\n\tfor <bob@example.com>; Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    #[test]
    fn local_submission_names_the_user() {
        let t = Trace {
            helo: "localhost",
            client_name: "uid 1000",
            client_ip: None,
            hostname: "mx.example.com",
            proto: "local",
            id: "ABC123",
            recipient: None,
            time: at(0),
        };
        assert!(
            received(&t).starts_with(
                "Received: from localhost (uid 1000)\r\n\tby mx.example.com (carrier) with local id ABC123;"
            )
        );
    }

    #[test]
    fn return_path_field() {
        assert_eq!(return_path(""), "Return-Path: <>\r\n");
    }
}
