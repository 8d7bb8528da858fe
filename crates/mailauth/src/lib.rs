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
