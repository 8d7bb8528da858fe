//! A tiny DNS server on a loopback UDP port answering A/AAAA/MX/PTR/TXT from a table, so
//! DNS checks run without the network (DESIGN §5).

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, PTR};
use hickory_proto::rr::{Name, RData, Record};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A running fake server; stops when dropped.
pub struct FakeDns {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A record in the table: (owner name, data).
pub type Entry = (String, RData);

pub fn a(name: &str, ip: &str) -> Entry {
    let data = match ip.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    (name.to_string(), data)
}

pub fn mx(name: &str, preference: u16, exchange: &str) -> Entry {
    (name.to_string(), RData::MX(MX::new(preference, Name::from_ascii(exchange).unwrap())))
}

/// PTR for an address, under in-addr.arpa / ip6.arpa.
pub fn ptr(ip: &str, target: &str) -> Entry {
    let owner = Name::from(ip.parse::<IpAddr>().unwrap()).to_ascii();
    (owner, RData::PTR(PTR(Name::from_ascii(target).unwrap())))
}

impl FakeDns {
    pub fn start(table: Vec<Entry>) -> FakeDns {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let table: Vec<(String, RData)> = table.into_iter().map(|(n, d)| (canonical(&n), d)).collect();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else { continue };
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let reply = answer(&table, &query);
                let _ = socket.send_to(&reply.to_vec().unwrap(), peer);
            }
        });
        FakeDns { addr, stop }
    }
}

fn canonical(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    if n.ends_with('.') { n } else { format!("{n}.") }
}

fn answer(table: &[(String, RData)], query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    let mut known = false;
    for q in &query.queries {
        reply.add_query(q.clone());
        let name = canonical(&q.name().to_ascii());
        for (owner, data) in table.iter().filter(|(owner, _)| *owner == name) {
            known = true;
            if data.record_type() == q.query_type() {
                reply.add_answer(Record::from_rdata(Name::from_ascii(owner).unwrap(), 60, data.clone()));
            }
        }
    }
    if !known {
        reply.metadata.response_code = ResponseCode::NXDomain;
    }
    reply
}
