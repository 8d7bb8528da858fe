//! Parsers for the value formats the file uses: durations, sizes, addresses, names.

use crate::model::LogFormat;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// "500ms", "30s", "5m", "1h", "5d"; a bare integer is seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().map_err(|_| expected_duration(text))?;
    let ms = match unit.trim() {
        "ms" => n,
        "" | "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(expected_duration(text)),
    };
    Ok(Duration::from_millis(ms))
}

fn expected_duration(text: &str) -> String {
    format!("expected a duration such as \"30s\", \"5m\", \"1h\" or \"5d\", found {text:?}")
}

/// Octets: a bare integer, or with K/M/G (binary) and an optional B: "25M", "512KB".
pub fn size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let body = upper.strip_suffix('B').unwrap_or(&upper);
    let (number, factor) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 1u64 << 10),
        Some('M') => (&body[..body.len() - 1], 1 << 20),
        Some('G') => (&body[..body.len() - 1], 1 << 30),
        _ => (body, 1),
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("expected a size such as 10485760, \"512K\", \"25M\" or \"1G\", found {text:?}"))
}

/// "ip:port" or "[v6]:port".
pub fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| format!("expected \"ip:port\" such as \"0.0.0.0:25\" or \"[::1]:25\", found {text:?}"))
}

/// A name server: "ip:port", or a bare ip meaning port 53.
pub fn nameserver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    socket_addr(text)
}

/// "192.0.2.0/24", "2001:db8::/32" or a bare address.
pub fn network(text: &str) -> Result<ipnet::IpNet, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ipnet::IpNet::from(ip));
    }
    text.parse().map_err(|_| format!("expected a network such as \"192.0.2.0/24\" or an address, found {text:?}"))
}

/// RFC 1035 2.3.1 / RFC 1123 2.1: labels of letters, digits and hyphens, 1-63 long,
/// not starting or ending with a hyphen; at most 253 in all. Returns it lower-cased.
pub fn dns_name(text: &str) -> Result<String, String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    match carrier_syntax::domain::check_dns(&name) {
        Ok(()) => Ok(name),
        Err(_) => Err(format!("{text:?} is not a valid domain name")),
    }
}

/// A host name for the server: a valid DNS name that is fully qualified (or "localhost").
pub fn hostname(text: &str) -> Result<String, String> {
    let name = dns_name(text)?;
    if name != "localhost" && !name.contains('.') {
        return Err(format!(
            "hostname `{name}` is not fully qualified; set `hostname = \"{name}.example.com\"` in carrier.toml \
             (the name this server's MX record points at)"
        ));
    }
    Ok(name)
}

/// "host:port" or "host" (port 25).
pub fn host_port(text: &str) -> Result<(String, u16), String> {
    let bad = || format!("expected \"host:port\" such as \"smtp.provider.net:587\", found {text:?}");
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), addr.port()));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (text, 25),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<IpAddr>().is_ok() {
        return Ok((host.to_string(), port));
    }
    dns_name(host).map(|h| (h, port)).map_err(|_| bad())
}

/// `[log] format` and `--log-format`.
pub fn log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => {
            Err(format!("expected \"text\" (one line per event) or \"json\" (one object per line), found {other:?}"))
        }
    }
}

/// A local login name as useradd(8) accepts it (and never an option: no leading `-`).
pub fn login_name(u: &str) -> Result<String, String> {
    let ok = !u.is_empty()
        && u.len() <= 32
        && !u.starts_with('-')
        && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(u.to_string()) } else { Err(format!("{u:?} is not a user name such as \"carrier\"")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(duration("5d").unwrap(), Duration::from_secs(432_000));
        assert_eq!(duration("42").unwrap(), Duration::from_secs(42));
        for bad in ["", "m", "5 minutes", "-1s", "1.5h", "5w"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size("1000").unwrap(), 1000);
        assert_eq!(size("512K").unwrap(), 524_288);
        assert_eq!(size("25M").unwrap(), 26_214_400);
        assert_eq!(size("25mb").unwrap(), 26_214_400);
        assert_eq!(size("1G").unwrap(), 1 << 30);
        for bad in ["", "M", "ten", "1T", "-5", "99999999999999999999G"] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_and_networks() {
        assert_eq!(socket_addr("[::1]:25").unwrap().port(), 25);
        assert!(socket_addr("0.0.0.0").is_err());
        assert!(socket_addr("localhost:25").is_err());
        assert_eq!(nameserver("127.0.0.1").unwrap().port(), 53);
        assert_eq!(nameserver("127.0.0.1:5353").unwrap().port(), 5353);
        assert!(network("192.0.2.0/24").unwrap().contains(&"192.0.2.9".parse::<IpAddr>().unwrap()));
        assert!(network("192.0.2.7").unwrap().contains(&"192.0.2.7".parse::<IpAddr>().unwrap()));
        assert!(network("192.0.2.0/33").is_err());
        assert!(network("example.com").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(dns_name("Mail.Example.COM.").unwrap(), "mail.example.com");
        for bad in ["", "-a.example", "a-.example", "a..example", "a_b.example", &"x".repeat(64)] {
            assert!(dns_name(bad).is_err(), "{bad}");
        }
        assert!(hostname("mx").unwrap_err().contains("hostname `mx` is not fully qualified"));
        assert_eq!(hostname("localhost").unwrap(), "localhost");
    }

    #[test]
    fn login_names() {
        assert_eq!(login_name("carrier").unwrap(), "carrier");
        for bad in ["", "-o", "a b", "a:b", &"x".repeat(33)] {
            assert!(login_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn smarthosts() {
        assert_eq!(host_port("smtp.provider.net:587").unwrap(), ("smtp.provider.net".into(), 587));
        assert_eq!(host_port("smtp.provider.net").unwrap(), ("smtp.provider.net".into(), 25));
        assert_eq!(host_port("127.0.0.2:2525").unwrap(), ("127.0.0.2".into(), 2525));
        assert!(host_port("smtp.provider.net:http").is_err());
    }
}
