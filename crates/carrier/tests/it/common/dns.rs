//! A fake DNS server on a loopback UDP port, answering MX, A, AAAA, CNAME, PTR, TXT and TLSA
//! queries from a table the test fills. Names it does not know are NXDOMAIN. Names marked
//! secure are answered with the AD bit, as a validating resolver does for signed zones when
//! the query asks for it (RFC 6840 5.7).

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TLSA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
enum Rec {
    Mx(u16, String),
    Addr(IpAddr),
    Cname(String),
    Ptr(String),
    Txt(String),
    Tlsa(u8, u8, u8, Vec<u8>),
}

struct Zone {
    /// Time to live of every answer, in seconds (resolvers cache them that long).
    ttl: u32,
    records: HashMap<String, Vec<Rec>>,
    servfail: Vec<String>,
    /// Names whose queries get no answer at all (a dead name server: the resolver times out).
    silent: Vec<String>,
    /// Names in DNSSEC-signed zones: their answers, and denials, carry the AD bit.
    secure: Vec<String>,
}

/// The server; it stops when dropped.
pub struct FakeDns {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl FakeDns {
    pub fn start() -> FakeDns {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let addr = socket.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(Zone {
            ttl: 60,
            records: HashMap::new(),
            servfail: Vec::new(),
            silent: Vec::new(),
            secure: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (z, s) = (zone.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
                if let Some(reply) = answer(&z.lock().unwrap(), &buf[..n]) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        FakeDns { addr, zone, stop }
    }

    fn add(&self, name: &str, rec: Rec) {
        self.zone.lock().unwrap().records.entry(key(name)).or_default().push(rec);
    }

    pub fn mx(&self, domain: &str, preference: u16, host: &str) {
        self.add(domain, Rec::Mx(preference, host.into()));
    }

    /// RFC 7505: `domain MX 0 .`
    pub fn null_mx(&self, domain: &str) {
        self.add(domain, Rec::Mx(0, ".".into()));
    }

    pub fn a(&self, host: &str, ip: &str) {
        self.add(host, Rec::Addr(ip.parse().unwrap()));
    }

    pub fn cname(&self, name: &str, target: &str) {
        self.add(name, Rec::Cname(target.into()));
    }

    /// The PTR record of an address, under in-addr.arpa or ip6.arpa.
    pub fn ptr(&self, ip: &str, name: &str) {
        let owner = Name::from(ip.parse::<IpAddr>().unwrap()).to_ascii();
        self.add(&owner, Rec::Ptr(name.into()));
    }

    /// A TXT record (SPF, DKIM key, DMARC policy), split into strings of 255 octets.
    pub fn txt(&self, name: &str, text: &str) {
        self.add(name, Rec::Txt(text.into()));
    }

    /// A TLSA record (RFC 6698), e.g. at `_25._tcp.mx.example.net`.
    pub fn tlsa(&self, name: &str, usage: u8, selector: u8, matching: u8, data: &[u8]) {
        self.add(name, Rec::Tlsa(usage, selector, matching, data.to_vec()));
    }

    /// Answers about `name` are DNSSEC-validated (AD), as from a signed zone.
    pub fn secure(&self, name: &str) {
        self.zone.lock().unwrap().secure.push(key(name));
    }

    /// Answers from now on live `seconds` in resolvers' caches (60 by default).
    pub fn ttl(&self, seconds: u32) {
        self.zone.lock().unwrap().ttl = seconds;
    }

    /// Replaces the TXT records of `name` with this one.
    pub fn set_txt(&self, name: &str, text: &str) {
        let mut zone = self.zone.lock().unwrap();
        let records = zone.records.entry(key(name)).or_default();
        records.retain(|r| !matches!(r, Rec::Txt(_)));
        records.push(Rec::Txt(text.into()));
    }

    /// Queries for `name` are never answered.
    pub fn silent(&self, name: &str) {
        self.zone.lock().unwrap().silent.push(key(name));
    }

    /// Every query for `name` gets SERVFAIL (a broken name server).
    pub fn servfail(&self, name: &str) {
        self.zone.lock().unwrap().servfail.push(key(name));
    }

    /// The `[dns]` section pointing carrier at this server.
    pub fn config(&self) -> String {
        format!("[dns]\nnameservers = [\"{}\"]\n", self.addr)
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(zone: &Zone, packet: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(packet).ok()?;
    let q = query.queries.first()?.clone();
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(q.clone());
    let mut name = key(&q.name().to_ascii());
    // RFC 6840 5.7: AD only for a query that asks for it (AD or DO set).
    let asks = query.metadata.authentic_data || query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    reply.metadata.authentic_data = asks && zone.secure.contains(&name);
    if zone.silent.contains(&name) {
        return None;
    }
    if zone.servfail.contains(&name) {
        reply.metadata.response_code = ResponseCode::ServFail;
        return reply.to_vec().ok();
    }
    if !zone.records.contains_key(&name) {
        reply.metadata.response_code = ResponseCode::NXDomain;
        return reply.to_vec().ok();
    }
    // Follow CNAMEs, answering with the chain and the target's records.
    for _ in 0..8 {
        let recs = zone.records.get(&name).cloned().unwrap_or_default();
        let owner = Name::from_str(&format!("{name}.")).ok()?;
        if let Some(Rec::Cname(target)) = recs.iter().find(|r| matches!(r, Rec::Cname(_)))
            && q.query_type() != RecordType::CNAME
        {
            let rdata = RData::CNAME(CNAME(Name::from_str(&format!("{}.", key(target))).ok()?));
            reply.add_answer(Record::from_rdata(owner, zone.ttl, rdata));
            name = key(target);
            continue;
        }
        for rec in recs {
            if let Some(rdata) = rdata_for(&rec, q.query_type()) {
                reply.add_answer(Record::from_rdata(owner.clone(), zone.ttl, rdata));
            }
        }
        break;
    }
    reply.to_vec().ok()
}

fn rdata_for(rec: &Rec, wanted: RecordType) -> Option<RData> {
    let name = |n: &str| Name::from_str(&if n == "." { ".".to_string() } else { format!("{}.", key(n)) }).ok();
    match (rec, wanted) {
        (Rec::Mx(pref, host), RecordType::MX) => Some(RData::MX(MX::new(*pref, name(host)?))),
        (Rec::Addr(IpAddr::V4(ip)), RecordType::A) => Some(RData::A(A(*ip))),
        (Rec::Addr(IpAddr::V6(ip)), RecordType::AAAA) => Some(RData::AAAA(AAAA(*ip))),
        (Rec::Ptr(target), RecordType::PTR) => Some(RData::PTR(PTR(name(target)?))),
        (Rec::Tlsa(usage, selector, matching, data), RecordType::TLSA) => Some(RData::TLSA(TLSA::new(
            CertUsage::from(*usage),
            Selector::from(*selector),
            Matching::from(*matching),
            data.clone(),
        ))),
        (Rec::Txt(text), RecordType::TXT) => {
            let strings = text.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            Some(RData::TXT(TXT::new(strings)))
        }
        _ => None,
    }
}
