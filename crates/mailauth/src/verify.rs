//! The checks of a message arriving from another server on port 25: SPF for the HELO name
//! and MAIL FROM (RFC 7208), every DKIM signature (RFC 6376), the ARC chain (RFC 8617),
//! DMARC with alignment (RFC 7489) and iprev (RFC 8601 3), recorded in one
//! `Authentication-Results:` field (RFC 8601) and turned into a verdict by `[authentication]`.

use crate::keys::Key;
use crate::sign::Borrowed;
use carrier_config::{Authentication, Disposition};
use carrier_smtp::headers::{self, Line};
use mail_auth::arc::ArcSealer;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput, DmarcResult,
    IprevOutput, IprevResult, MessageAuthenticator, SpfOutput, SpfResult,
};
use std::net::IpAddr;
use std::time::Duration;
use tracing::warn;

/// How long one check may wait for DNS before it counts as a temporary error; the checks run
/// side by side, so a session waits at most about twice this at the end of DATA.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the SMTP session knows about the message.
pub struct Facts<'a> {
    /// The client's address.
    pub ip: IpAddr,
    /// Its HELO/EHLO name.
    pub helo: &'a str,
    /// MAIL FROM; empty for the null sender.
    pub sender: &'a str,
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Deliver,
    /// Into the recipients' Junk folders.
    Junk(String),
    /// 550 5.7.1 with this text.
    Reject(String),
    /// 451 4.7.5: a check the policy depends on could not be completed (RFC 7372 3.2 names
    /// 4.7.5 for a temporary failure of cryptographic verification).
    Defer(String),
}

/// The results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Authentication-Results: ...` with its CRLF, to put on top of the message.
    pub header: String,
    /// For the log line: `dkim=pass spf=pass dmarc=pass arc=none iprev=pass`.
    pub summary: String,
    pub action: Action,
}

/// Checks messages; cheap to share.
pub struct Verifier {
    auth: MessageAuthenticator,
    /// The authserv-id (RFC 8601 2.5): our host name.
    hostname: String,
    policy: Authentication,
}

impl Verifier {
    /// `resolver` is carrier's own, so `[dns] nameservers` applies.
    pub fn new(
        resolver: mail_auth::hickory_resolver::TokioResolver,
        hostname: &str,
        policy: Authentication,
    ) -> Verifier {
        Verifier { auth: MessageAuthenticator(resolver), hostname: hostname.to_string(), policy }
    }

    /// Runs every check on `message` (CRLF line ends, as received). With `seal`, a message
    /// carrier forwards to another domain, the results are also sealed into an ARC set
    /// (RFC 8617 5.1), so the next hop can trust them though forwarding broke SPF.
    pub async fn verify(&self, facts: &Facts<'_>, message: &[u8], seal: Option<&Key>) -> Verdict {
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            // Not even a header section: nothing can be aligned, nothing is claimed.
            let header = format!("Authentication-Results: {}; none (the message has no header)\r\n", self.hostname);
            return Verdict { header, summary: "none".into(), action: Action::Deliver };
        };
        let helo = facts.helo;
        let host = self.hostname.as_str();
        let spf_params = if facts.sender.is_empty() {
            SpfParameters::verify_ehlo(facts.ip, helo, host)
        } else {
            SpfParameters::verify_mail_from(facts.ip, helo, host, facts.sender)
        };
        let (dkim, arc, spf_helo, spf, iprev) = tokio::join!(
            bounded(self.auth.verify_dkim(&parsed), || vec![DkimOutput::temp_err(timed_out())]),
            bounded(self.auth.verify_arc(&parsed), || ArcOutput::default()
                .with_result(DkimResult::TempError(timed_out()))),
            bounded(self.auth.verify_spf(SpfParameters::verify_ehlo(facts.ip, helo, host)), || spf_temperror(helo)),
            bounded(self.auth.verify_spf(spf_params), || spf_temperror(mail_domain(facts))),
            bounded(self.auth.verify_iprev(facts.ip), || IprevOutput {
                result: IprevResult::TempError(timed_out()),
                ptr: None
            }),
        );
        let mail_domain = mail_domain(facts);
        let dmarc = bounded(self.auth.verify_dmarc(DmarcParameters::new(&parsed, &dkim, mail_domain, &spf)), || {
            DmarcOutput::new(String::new()).with_dkim_result(DmarcResult::TempError(timed_out()))
        })
        .await;
        let from = parsed.from.first().map(String::as_str).unwrap_or_default();
        let results = AuthenticationResults::new(host)
            .with_dkim_results(&dkim, from)
            .with_spf_ehlo_result(&spf_helo, facts.ip, helo)
            .with_spf_mailfrom_result(&spf, facts.ip, facts.sender, helo)
            .with_dmarc_result(&dmarc)
            .with_arc_result(&arc, facts.ip)
            .with_iprev_result(&iprev, facts.ip);
        let summary = format!(
            "dkim={} spf={} dmarc={} arc={} iprev={}",
            dkim_word(&dkim),
            spf_word(spf.result()),
            dmarc_word(&dmarc.result()),
            dkim_result_word(arc.result()),
            iprev_word(&iprev.result),
        );
        let action = self.action(&spf, &dmarc);
        let mut header = String::new();
        if let Some(key) = seal {
            match arc_seal(key, &parsed, &results, &arc) {
                Ok(set) => header.push_str(&set),
                // A broken chain (cv=fail) is not sealed again (RFC 8617 5.1.2).
                Err(e) => warn!("ARC: not sealed: {e}"),
            }
        }
        let mut field = body_mismatch_fails(results.to_header());
        if dkim.is_empty() {
            // RFC 8601 2.7.1: no signature is `dkim=none`, said rather than left out.
            field = field.replacen(
                &format!("Authentication-Results: {host};"),
                &format!("Authentication-Results: {host};\r\n\tdkim=none;"),
                1,
            );
        }
        header.push_str(&field);
        Verdict { header, summary, action }
    }

    /// What `[authentication]` says to do with these results.
    fn action(&self, spf: &SpfOutput, dmarc: &DmarcOutput) -> Action {
        let domain = dmarc.domain();
        let (setting, policy) = match dmarc.policy() {
            Policy::Reject => (self.policy.dmarc_reject, "reject"),
            Policy::Quarantine => (self.policy.dmarc_quarantine, "quarantine"),
            Policy::None | Policy::Unspecified => (Disposition::Deliver, "none"),
        };
        match dmarc.result() {
            // RFC 7489 6.6.2: a temporary DNS error may hide a pass; when the policy would
            // act on a failure, the sender retries rather than have its mail refused or
            // filed away on a guess. Without a policy that acts, the result is only recorded.
            DmarcResult::TempError(_) if setting != Disposition::Deliver => {
                return Action::Defer(format!("{domain}'s DKIM or SPF records could not be checked, try again later"));
            }
            DmarcResult::Fail(_) => {
                let why =
                    format!("DMARC policy of {domain} (p={policy}): the message is not authenticated by {domain}");
                match setting {
                    Disposition::Reject => return Action::Reject(why),
                    Disposition::Quarantine => return Action::Junk(why),
                    Disposition::Deliver => {}
                }
            }
            _ => {}
        }
        if spf.result() == SpfResult::Fail {
            let why = format!("SPF: {} does not allow this host to send its mail", spf.domain());
            match self.policy.spf_fail {
                Disposition::Reject => return Action::Reject(why),
                Disposition::Quarantine => return Action::Junk(why),
                Disposition::Deliver => {}
            }
        }
        Action::Deliver
    }
}

/// The ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results fields of our hop.
fn arc_seal(
    key: &Key,
    parsed: &AuthenticatedMessage<'_>,
    results: &AuthenticationResults<'_>,
    arc: &ArcOutput<'_>,
) -> Result<String, String> {
    let names = crate::sign::signed_names(parsed.raw_message);
    let set = ArcSealer::from_key(Borrowed(&key.secret))
        .domain(&key.domain)
        .selector(&key.selector)
        .headers(names)
        .seal(parsed, results, arc)
        .map_err(|e| e.to_string())?;
    Ok(set.to_header())
}

/// RFC 6376 6.1.3 makes a body that does not match its signature's hash a failed
/// verification (PERMFAIL "body hash did not verify"), which RFC 8601 2.7.1 calls `fail`;
/// mail-auth reports it as `neutral`, the word for signatures that could not be processed.
fn body_mismatch_fails(header: String) -> String {
    header.replace("dkim=neutral (body hash did not verify)", "dkim=fail (body hash did not verify)")
}

fn is_body_mismatch(result: &DkimResult) -> bool {
    matches!(result, DkimResult::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)))
}

/// The SPF result (RFC 7208 2.6) for mail from `domain` sent by `ip`, as `carrier check`
/// asks it of the domain's published policy: "pass", "fail", "softfail", ...
pub async fn spf_result(
    resolver: &mail_auth::hickory_resolver::TokioResolver,
    ip: IpAddr,
    domain: &str,
    hostname: &str,
) -> &'static str {
    let auth = MessageAuthenticator(resolver.clone());
    let sender = format!("postmaster@{domain}");
    let params = SpfParameters::verify_mail_from(ip, hostname, hostname, &sender);
    spf_word(bounded(auth.verify_spf(params), || spf_temperror(domain)).await.result())
}

/// A check that gives up after [`CHECK_TIMEOUT`].
async fn bounded<T>(check: impl Future<Output = T>, on_timeout: impl FnOnce() -> T) -> T {
    tokio::time::timeout(CHECK_TIMEOUT, check).await.unwrap_or_else(|_| on_timeout())
}

fn timed_out() -> mail_auth::Error {
    mail_auth::Error::Io("DNS lookups timed out".into())
}

fn spf_temperror(domain: &str) -> SpfOutput {
    SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError)
}

/// The MAIL FROM domain, or the HELO name for the null sender (RFC 7208 2.4).
fn mail_domain<'a>(facts: &Facts<'a>) -> &'a str {
    facts.sender.rsplit_once('@').map_or(facts.helo, |(_, d)| d)
}

fn dkim_word(dkim: &[DkimOutput]) -> &'static str {
    // The best result among the signatures, as a reader of the log wants it.
    let rank = |r: &DkimResult| match r {
        DkimResult::Pass => 0,
        DkimResult::TempError(_) => 1,
        DkimResult::Fail(_) => 2,
        DkimResult::PermError(_) => 3,
        DkimResult::Neutral(_) => 4,
        DkimResult::None => 5,
    };
    let best = dkim.iter().map(|d| d.result()).min_by_key(|r| rank(r));
    match best {
        Some(r) if is_body_mismatch(r) => "fail",
        Some(r) => dkim_result_word(r),
        None => "none",
    }
}

fn dkim_result_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

fn iprev_word(r: &IprevResult) -> &'static str {
    match r {
        IprevResult::Pass => "pass",
        IprevResult::Fail(_) => "fail",
        IprevResult::TempError(_) => "temperror",
        IprevResult::PermError(_) => "permerror",
        IprevResult::None => "none",
    }
}

/// Removes the `Authentication-Results:` fields that claim to be ours (RFC 8601 5: a border
/// MTA must delete them, or a sender could forge our verdict). None when there are none.
pub fn strip_forged(message: &[u8], hostname: &str) -> Option<Vec<u8>> {
    let mut forged = Vec::new(); // line numbers, from 1
    let mut current: Option<Vec<usize>> = None;
    let mut value = String::new();
    let mut finish = |current: &mut Option<Vec<usize>>, value: &mut String| {
        if let Some(lines) = current.take()
            && authserv_id(value).is_some_and(|id| id.eq_ignore_ascii_case(hostname))
        {
            forged.extend(lines);
        }
        value.clear();
    };
    for (n, line) in headers::lines(message) {
        match line {
            Line::Folded(text) => {
                if let Some(lines) = current.as_mut() {
                    lines.push(n);
                    value.push_str(&text);
                }
            }
            Line::Field(name, text) => {
                finish(&mut current, &mut value);
                if name.trim().eq_ignore_ascii_case("Authentication-Results") {
                    current = Some(vec![n]);
                    value = text;
                }
            }
            Line::Other => break,
        }
    }
    finish(&mut current, &mut value);
    if forged.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(message.len());
    for (i, line) in message.split_inclusive(|&b| b == b'\n').enumerate() {
        if !forged.contains(&(i + 1)) {
            out.extend_from_slice(line);
        }
    }
    Some(out)
}

/// The authserv-id of an Authentication-Results value: its first token, before any comment,
/// version or `;` (RFC 8601 2.2).
fn authserv_id(value: &str) -> Option<&str> {
    let value = value.trim_start();
    let end = value.find(|c: char| c == ';' || c == '(' || c.is_whitespace()).unwrap_or(value.len());
    let id = value[..end].trim_matches('"');
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_results_of_ours_are_removed_and_others_kept() {
        let message = b"Authentication-Results: mx.example.com;\r\n\tdkim=pass header.d=bank.example\r\n\
            Authentication-Results: other.example; spf=fail\r\n\
            authentication-results: \"MX.Example.com\" 1; dmarc=pass\r\n\
            Subject: hi\r\n\r\nAuthentication-Results: mx.example.com; in the body\r\n";
        let out = strip_forged(message, "mx.example.com").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Authentication-Results: other.example; spf=fail\r\nSubject: hi\r\n\r\n\
             Authentication-Results: mx.example.com; in the body\r\n"
        );
        assert_eq!(strip_forged(b"Subject: x\r\n\r\nbody\r\n", "mx.example.com"), None);
    }

    #[test]
    fn the_authserv_id_is_the_first_token() {
        assert_eq!(authserv_id(" mx.example.com; none"), Some("mx.example.com"));
        assert_eq!(authserv_id(" mx.example.com (comment); none"), Some("mx.example.com"));
        assert_eq!(authserv_id(" mx.example.com 1; none"), Some("mx.example.com"));
        assert_eq!(authserv_id(" ;"), None);
    }
}
