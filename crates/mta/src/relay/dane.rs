//! DANE for outbound SMTP (RFC 7672): an MX host whose TLSA records are DNSSEC-secure must
//! present a certificate that matches them, or it gets no mail.
//!
//! DNSSEC is validated by the resolver carrier asks (`[dns] nameservers`, else
//! /etc/resolv.conf), as Postfix and mox do: carrier sets the DO and AD bits in its queries
//! and believes the AD bit of the answer (RFC 6840 5.7, 5.8). That resolver should be a
//! validating one on this host (unbound on 127.0.0.1); with one that does not validate,
//! nothing is "secure" and DANE never applies.

use crate::outcome::Failure;
use carrier_config::Config;
use carrier_tls::dane::Tlsa;
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// How long one query waits for its answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// What DANE asks of one MX host (RFC 7672 2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostTls {
    /// No secure TLSA records: the domain's other policy (MTA-STS, else opportunistic TLS).
    None,
    /// TLS whose certificate matches one of these usable records.
    Verify(Vec<Tlsa>),
    /// Secure TLSA records, none usable: TLS is still required, unauthenticated (RFC 7672
    /// 2.2, 3.1.3).
    Encrypt,
}

/// An answer and whether the resolver vouched for it (AD).
struct Answer {
    secure: bool,
    records: Vec<RData>,
}

/// Secure lookups for DANE.
pub struct Dane {
    servers: Vec<SocketAddr>,
}

impl Dane {
    /// Asks the configured name servers, else the system's.
    pub fn new(cfg: &Config) -> Dane {
        let servers = if cfg.dns.nameservers.is_empty() {
            match hickory_resolver::system_conf::read_system_conf() {
                Ok((conf, _)) => conf.name_servers().iter().map(|ns| SocketAddr::new(ns.ip, 53)).collect(),
                Err(_) => Vec::new(),
            }
        } else {
            cfg.dns.nameservers.clone()
        };
        Dane { servers }
    }

    /// RFC 7672 2.2.1: DANE applies to a domain's MX hosts only when its MX records are
    /// secure, or, without MX records, when the domain's own address records are.
    pub async fn domain_is_secure(&self, domain: &str) -> Result<bool, Failure> {
        let mx = self.query(domain, RecordType::MX).await?;
        if !mx.records.is_empty() || !mx.secure {
            return Ok(mx.secure);
        }
        Ok(self.query(domain, RecordType::A).await?.secure)
    }

    /// RFC 7672 2.2.2: what the TLSA records of `host` (port 25) require. Insecure address
    /// records mean no DANE; a TLSA lookup that fails means this host may not be used.
    pub async fn host(&self, host: &str, port: u16) -> Result<HostTls, Failure> {
        if !self.query(host, RecordType::A).await?.secure {
            return Ok(HostTls::None);
        }
        let answer = self.query(&format!("_{port}._tcp.{host}"), RecordType::TLSA).await?;
        if !answer.secure {
            return Ok(HostTls::None);
        }
        let records: Vec<Tlsa> = answer.records.iter().filter_map(crate::dns::tlsa_of).collect();
        Ok(match records {
            r if r.is_empty() => HostTls::None,
            r if !r.iter().any(Tlsa::is_usable) => HostTls::Encrypt,
            r => HostTls::Verify(r),
        })
    }

    /// One query with DO and AD set, to each server in turn; NXDOMAIN and no data are empty
    /// answers (their AD bit says whether the denial is secure).
    async fn query(&self, name: &str, kind: RecordType) -> Result<Answer, Failure> {
        let trouble = |why: String| {
            Failure::temporary("4.7.5", format!("DANE: cannot look up {kind} records of {name} securely: {why}"))
        };
        let fqdn = Name::from_str(&format!("{}.", name.trim_end_matches('.'))).map_err(|e| trouble(e.to_string()))?;
        let mut last = "no name server to ask".to_string();
        for server in &self.servers {
            match ask(*server, &fqdn, kind).await {
                Ok(reply) => match reply.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        let records =
                            reply.answers.into_iter().filter(|r| r.record_type() == kind).map(|r| r.data).collect();
                        return Ok(Answer { secure: reply.metadata.authentic_data, records });
                    }
                    code => last = format!("{server} answered {code}"),
                },
                Err(e) => last = format!("{server}: {e}"),
            }
        }
        Err(trouble(last))
    }
}

/// Sends one query over UDP, again over TCP if the answer was truncated.
async fn ask(server: SocketAddr, name: &Name, kind: RecordType) -> Result<Message, String> {
    let id = RandomState::new().hash_one((name.to_ascii(), server)) as u16;
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    // RFC 6840 5.7: AD in a query asks for the AD bit in the answer; DO asks for DNSSEC.
    query.metadata.authentic_data = true;
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true).set_max_payload(1232);
    query.set_edns(edns);
    query.add_query(Query::query(name.clone(), kind));
    let packet = query.to_vec().map_err(|e| e.to_string())?;
    let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }.expect("address");
    let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&packet).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let reply = loop {
        let n = match timeout(QUERY_TIMEOUT, socket.recv(&mut buf)).await {
            Ok(r) => r.map_err(|e| e.to_string())?,
            Err(_) => return Err("no answer (timeout)".into()),
        };
        // A stray or forged packet with another id or question is ignored.
        match Message::from_vec(&buf[..n]) {
            Ok(m) if answers(&m, id, name, kind) => break m,
            _ => continue,
        }
    };
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    ask_tcp(server, &packet, id, name, kind).await
}

fn answers(m: &Message, id: u16, name: &Name, kind: RecordType) -> bool {
    m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.first().is_some_and(|q| q.name() == name && q.query_type() == kind)
}

/// RFC 7766: the same query over TCP, with a two-octet length before each message.
async fn ask_tcp(server: SocketAddr, packet: &[u8], id: u16, name: &Name, kind: RecordType) -> Result<Message, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(packet);
        stream.write_all(&framed).await?;
        let len = stream.read_u16().await? as usize;
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = match timeout(QUERY_TIMEOUT, exchange).await {
        Ok(r) => r.map_err(|e| e.to_string())?,
        Err(_) => return Err("no answer over TCP (timeout)".into()),
    };
    match Message::from_vec(&buf) {
        Ok(m) if answers(&m, id, name, kind) => Ok(m),
        Ok(_) => Err("an answer to another question over TCP".into()),
        Err(e) => Err(format!("a malformed answer over TCP: {e}")),
    }
}
