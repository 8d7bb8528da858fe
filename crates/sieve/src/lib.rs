//! Sieve (RFC 5228), users' mail rules, sans-IO: [`compile`] a script once, then [`run`] it
//! against each message with the envelope and a [`Memory`] for what lasts between messages
//! (vacation replies, duplicates). The caller carries out the [`Action`]s: store, send on,
//! refuse, reply. Extensions: see [`EXTENSIONS`].
//!
//! ```
//! use carrier_sieve::{Action, Context, Envelope, NoMemory, compile, run};
//! let script = compile(b"require \"fileinto\";\nif header :contains \"Subject\" \"[rust]\" { fileinto \"Lists.rust\"; }").unwrap();
//! let message = b"Subject: [rust] 1.99 released\r\n\r\nHello\r\n";
//! let mut memory = NoMemory;
//! let mut ctx = Context::new(Envelope { from: "news@example.org".into(), to: "bob@example.com".into(), auth: None }, &mut memory);
//! let outcome = run(&script, message, &mut ctx);
//! assert_eq!(outcome.actions, [Action::FileInto { mailbox: "Lists.rust".into(), flags: vec![], create: false }]);
//! ```

mod action;
mod compile;
mod context;
mod date;
mod matching;
mod message;
mod mime;
mod parser;
mod program;
mod run;

pub use action::{Action, Outcome, Reply};
pub use compile::EXTENSIONS;
pub use context::{Context, Envelope, Limits, Memory, NoMemory};
pub use parser::{Error, Pos};
use std::fmt;

/// A script ready to run, and what the compiler would like its author to know.
#[derive(Debug, Clone)]
pub struct Compiled {
    program: program::Program,
    pub warnings: Vec<String>,
    limits: Limits,
}

/// Why a script does not compile: every problem, with its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Errors {}

/// Compiles with the default [`Limits`].
pub fn compile(script: &[u8]) -> Result<Compiled, Errors> {
    compile_with(script, Limits::default())
}

/// Compiles a script (RFC 5228 8 grammar, RFC 5228 3.2 `require`).
pub fn compile_with(script: &[u8], limits: Limits) -> Result<Compiled, Errors> {
    build(script, limits, false)
}

fn build(script: &[u8], limits: Limits, testsuite: bool) -> Result<Compiled, Errors> {
    if script.len() > limits.max_script_size {
        let message = format!("the script is {} octets; at most {} are allowed", script.len(), limits.max_script_size);
        return Err(Errors(vec![Error::new(Pos { line: 1, column: 1 }, message)]));
    }
    let commands = parser::parse(script, limits.max_nesting).map_err(|e| Errors(vec![e]))?;
    let mut compiler = compile::Compiler::new();
    compiler.testsuite = testsuite;
    let (program, warnings) = compiler.program(&commands).map_err(|e| Errors(vec![e]))?;
    Ok(Compiled { program, warnings, limits })
}

/// Runs a compiled script against a message.
pub fn run(script: &Compiled, message: &[u8], ctx: &mut Context<'_>) -> Outcome {
    let msg = message::Message::parse(message);
    run::Run::new(&script.program, msg, ctx, &script.limits).outcome()
}

#[cfg(test)]
mod tests;
