//! A script that compiles, run on any message: never panics, stays within the limits
//! (actions, redirects), and a run-time error leaves exactly the implicit keep.
#![no_main]

use carrier_sieve::{Action, Context, Envelope, Memory, compile_with, run};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

/// Remembers keys for the run, so vacation and duplicate take both branches.
#[derive(Default)]
struct Remember(HashMap<String, u64>);

impl Memory for Remember {
    fn seen(&mut self, key: &str, period: u64) -> bool {
        self.0.insert(key.to_string(), period).is_some()
    }
    fn mailbox_exists(&self, name: &str) -> bool {
        name == "INBOX" || name == "Junk"
    }
}

fuzz_target!(|data: &[u8]| {
    // The script, then a NUL, then the message.
    let Some(split) = data.iter().position(|b| *b == 0) else { return };
    let (script, message) = (&data[..split], &data[split + 1..]);
    let limits = carrier_sieve::Limits { max_steps: 10_000, ..Default::default() };
    let Ok(compiled) = compile_with(script, limits.clone()) else { return };
    let mut memory = Remember::default();
    let envelope = Envelope { from: "alice@example.org".into(), to: "bob@example.com".into(), auth: None };
    let mut ctx = Context::new(envelope, &mut memory);
    for _ in 0..2 {
        let outcome = run(&compiled, message, &mut ctx);
        assert!(outcome.actions.len() <= limits.max_actions + 1, "{:?}", outcome.actions);
        let redirects = outcome.actions.iter().filter(|a| matches!(a, Action::Redirect { .. })).count();
        assert!(redirects <= limits.max_redirects as usize);
        if outcome.error.is_some() {
            assert_eq!(outcome.actions, [Action::Keep { flags: vec![] }]);
        }
    }
});
