//! Quotas: how much an account may store, as octets and as a number of messages (the
//! STORAGE and MESSAGE resources of RFC 9208 5.1 and 5.2).

use std::fmt;
use std::sync::Arc;

/// The limits of one account; None is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// Octets in all the account's mailboxes.
    pub storage: Option<u64>,
    /// Messages in all the account's mailboxes.
    pub messages: Option<u64>,
}

impl Quota {
    /// Whether either resource is limited.
    pub fn is_limited(&self) -> bool {
        self.storage.is_some() || self.messages.is_some()
    }

    /// The first limit that adding `octets` in `messages` messages to `used` would pass.
    pub fn exceeded(&self, used: Usage, octets: u64, messages: u64) -> Option<Exceeded> {
        if let Some(limit) = self.storage.filter(|&l| used.octets.saturating_add(octets) > l) {
            return Some(Exceeded { resource: Resource::Storage, used: used.octets, limit });
        }
        let limit = self.messages.filter(|&l| used.messages.saturating_add(messages) > l)?;
        Some(Exceeded { resource: Resource::Messages, used: used.messages, limit })
    }
}

/// What an account stores now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub octets: u64,
    pub messages: u64,
}

/// The two resources a quota limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Storage,
    Messages,
}

impl Resource {
    /// The unit, for messages to people.
    pub fn unit(&self) -> &'static str {
        match self {
            Resource::Storage => "octets",
            Resource::Messages => "messages",
        }
    }
}

/// A limit that an addition would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub resource: Resource,
    pub used: u64,
    pub limit: u64,
}

/// Where the limits of single accounts come from (the user database): what an account may
/// store instead of the store's default.
pub trait QuotaSource: Send + Sync {
    /// The account's limits, starting from the default every account has.
    fn quota_of(&self, account: &str, default: Quota) -> Quota;
    /// Whether any account has limits of its own (when none has and there is no default,
    /// nothing needs counting).
    fn any(&self) -> bool;
}

/// A shared [`QuotaSource`], printable so the store stays `Debug`.
#[derive(Clone)]
pub(crate) struct Source(pub(crate) Arc<dyn QuotaSource>);

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QuotaSource")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_resource_can_be_exceeded() {
        let q = Quota { storage: Some(100), messages: Some(2) };
        let used = Usage { octets: 60, messages: 1 };
        assert_eq!(q.exceeded(used, 40, 1), None, "exactly at both limits is allowed");
        let e = q.exceeded(used, 41, 1).unwrap();
        assert_eq!((e.resource, e.used, e.limit), (Resource::Storage, 60, 100));
        let e = q.exceeded(used, 1, 2).unwrap();
        assert_eq!((e.resource, e.used, e.limit), (Resource::Messages, 1, 2));
        assert_eq!(Quota::default().exceeded(used, u64::MAX, u64::MAX), None);
    }
}
