//! A DNS server on a loopback UDP port for the benchmarks: it answers A and TXT queries from
//! a table, everything else NXDOMAIN with an SOA (so resolvers cache the negative answer, as
//! they do for real zones, RFC 2308). Shared by `carrier-bench` and the criterion benches.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::str::FromStr;

/// A record the server knows.
#[derive(Clone)]
pub enum Rec {
    A(Ipv4Addr),
    Txt(String),
}

/// Starts the server; it answers until the process ends.
pub fn serve(records: HashMap<String, Vec<Rec>>) -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback port");
    let addr = socket.local_addr().expect("its address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            let Some(q) = query.queries.first().cloned() else { continue };
            let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            reply.add_query(q.clone());
            let name = q.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
            let owner = Name::from_str(&format!("{name}.")).unwrap_or_else(|_| Name::root());
            match records.get(&name) {
                Some(recs) => {
                    for rec in recs {
                        let rdata = match (rec, q.query_type()) {
                            (Rec::A(ip), RecordType::A) => RData::A(A(*ip)),
                            (Rec::Txt(text), RecordType::TXT) => RData::TXT(TXT::new(
                                text.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect(),
                            )),
                            _ => continue,
                        };
                        reply.add_answer(Record::from_rdata(owner.clone(), 3600, rdata));
                    }
                }
                None => reply.metadata.response_code = ResponseCode::NXDomain,
            }
            if reply.answers.is_empty() {
                // With the zone's SOA, as real servers send it: resolvers cache the negative
                // answer for its minimum TTL (RFC 2308 5).
                let soa = SOA::new(
                    Name::from_str("ns.example.").expect("a name"),
                    Name::from_str("hostmaster.example.").expect("a name"),
                    1,
                    3600,
                    600,
                    86_400,
                    3600,
                );
                reply.add_authority(Record::from_rdata(Name::root(), 3600, RData::SOA(soa)));
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, from);
            }
        }
    });
    addr
}
