//! Mail authentication for carrier: DKIM keys and the signing of outgoing mail ([`keys`],
//! [`sign`]), and the checks of incoming mail — SPF, DKIM, ARC, DMARC and iprev — that end in
//! one `Authentication-Results:` field and a verdict ([`verify`]). The cryptography and the
//! record grammars are the `mail-auth` crate's; this crate decides what to sign, where keys
//! live, and what a result means for a message.

pub mod keys;
pub mod sign;
pub mod verify;

pub use keys::Keyring;
pub use sign::Signer;
pub use verify::{Action, Facts, Verdict, Verifier};

/// The `mailto:` addresses of a domain's TLS reporting record among its `_smtp._tls` TXT
/// records (RFC 8460 3: `v=TLSRPTv1; rua=mailto:...`); `https:` addresses are not used.
pub fn tls_report_addresses(records: &[String]) -> Vec<String> {
    use mail_auth::common::parse::TxtRecordParser;
    use mail_auth::mta_sts::{ReportUri, TlsRpt};
    let parsed: Vec<TlsRpt> = records
        .iter()
        .filter(|r| r.starts_with("v=TLSRPTv1"))
        .filter_map(|r| TlsRpt::parse(r.as_bytes()).ok())
        .collect();
    // RFC 8460 3: more than one record means none.
    let [record] = &parsed[..] else { return Vec::new() };
    record
        .rua
        .iter()
        .filter_map(|uri| match uri {
            ReportUri::Mail(address) => Some(address.clone()),
            ReportUri::Http(_) => None,
        })
        .collect()
}
