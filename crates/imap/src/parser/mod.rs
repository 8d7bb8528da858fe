//! The command parser: a framer that cuts the byte stream into commands (literals
//! included) and the RFC 3501 9 grammar over one complete command.

pub mod command;
pub mod fetch;
pub mod framer;
pub mod lexer;
pub mod qresync;
pub mod search;
pub mod sequence;

pub use command::{Command, Kind, ListArgs, Malformed, SelectParams, StatusItem, StoreMode, parse};
pub use fetch::{FetchAttr, FetchModifiers, Section, SectionText};
pub use framer::{Frame, Framer, Limits, Refusal};
pub use lexer::ParseError;
pub use qresync::{Qresync, SeqMatch};
pub use search::{SearchKey, SearchProgram, SearchReturn};
pub use sequence::{SeqNum, SequenceSet};
