//! A checked script: every command and test with its arguments sorted out, ready to run.

use crate::matching::{Comparator, Relation};

/// A string argument: expanded at run time when the script uses variables (RFC 5229 3).
pub type Str = String;

#[derive(Debug, Clone, PartialEq)]
pub enum MatchType {
    Is,
    Contains,
    Matches,
    /// RFC 5231 4.2 `:value`.
    Value(Relation),
    /// RFC 5231 4.1 `:count`.
    Count(Relation),
}

/// A comparator and a match type (RFC 5228 2.7).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub comparator: Comparator,
    pub kind: MatchType,
}

/// RFC 5228 2.7.4 and RFC 5233 (`:user`, `:detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPart {
    All,
    LocalPart,
    Domain,
    User,
    Detail,
}

/// RFC 5260 6: which occurrence of a header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub n: usize,
    pub last: bool,
}

/// RFC 5173 5: what of the body is compared.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTransform {
    Raw,
    Text,
    Content(Vec<Str>),
}

/// RFC 5260 4.1: the zone dates are shown in.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Local,
    Original,
    /// `+hhmm` or `-hhmm`, as minutes east of UTC.
    Fixed(i32),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    True,
    False,
    Not(Box<Test>),
    AllOf(Vec<Test>),
    AnyOf(Vec<Test>),
    Exists(Vec<Str>),
    Size {
        over: bool,
        limit: u64,
    },
    Header {
        m: Match,
        index: Option<Index>,
        names: Vec<Str>,
        keys: Vec<Str>,
    },
    Address {
        m: Match,
        part: AddressPart,
        index: Option<Index>,
        headers: Vec<Str>,
        keys: Vec<Str>,
    },
    Envelope {
        m: Match,
        part: AddressPart,
        parts: Vec<Str>,
        keys: Vec<Str>,
    },
    String {
        m: Match,
        sources: Vec<Str>,
        keys: Vec<Str>,
    },
    Body {
        m: Match,
        transform: BodyTransform,
        keys: Vec<Str>,
    },
    Date {
        m: Match,
        zone: Zone,
        index: Option<Index>,
        header: Str,
        part: Str,
        keys: Vec<Str>,
    },
    CurrentDate {
        m: Match,
        zone: Zone,
        part: Str,
        keys: Vec<Str>,
    },
    HasFlag {
        m: Match,
        variables: Option<Vec<Str>>,
        keys: Vec<Str>,
    },
    /// RFC 5235 3.2: the spam score, 0-10 or (`:percent`) 0-100.
    Spam {
        m: Match,
        percent: bool,
        keys: Vec<Str>,
    },
    Duplicate(Box<Duplicate>),
    MailboxExists(Vec<Str>),
}

/// RFC 7352: `duplicate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub handle: Option<Str>,
    /// `:header NAME`, `:uniqueid VALUE`, or Message-ID.
    pub header: Option<Str>,
    pub uniqueid: Option<Str>,
    pub seconds: Option<u64>,
    pub last: bool,
}

/// RFC 5232 3: how a flag command changes the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Set,
    Add,
    Remove,
}

/// RFC 5229 4: `set` modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Modifier {
    Length,
    QuoteWildcard,
    LowerFirst,
    UpperFirst,
    Lower,
    Upper,
}

impl Modifier {
    /// RFC 5229 4.1: higher precedence is applied first.
    pub fn precedence(self) -> u8 {
        match self {
            Modifier::Lower | Modifier::Upper => 40,
            Modifier::LowerFirst | Modifier::UpperFirst => 30,
            Modifier::QuoteWildcard => 20,
            Modifier::Length => 10,
        }
    }
}

/// RFC 5230 4: `vacation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vacation {
    /// Seconds between replies to one sender (`:days` or `:seconds`).
    pub period: Option<u64>,
    pub subject: Option<Str>,
    pub from: Option<Str>,
    pub addresses: Vec<Str>,
    pub mime: bool,
    pub handle: Option<Str>,
    pub reason: Str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// if / elsif / else: the first branch whose test holds runs.
    If {
        branches: Vec<(Test, Vec<Cmd>)>,
        otherwise: Option<Vec<Cmd>>,
    },
    Stop,
    Keep {
        flags: Option<Vec<Str>>,
    },
    Discard,
    FileInto {
        mailbox: Str,
        flags: Option<Vec<Str>>,
        copy: bool,
        create: bool,
    },
    Redirect {
        address: Str,
        copy: bool,
    },
    Reject {
        reason: Str,
        extended: bool,
    },
    Vacation(Box<Vacation>),
    Set {
        name: String,
        value: Str,
        modifiers: Vec<Modifier>,
    },
    Flags {
        op: FlagOp,
        variable: Option<Str>,
        flags: Vec<Str>,
    },
    AddHeader {
        name: Str,
        value: Str,
        last: bool,
    },
    DeleteHeader {
        m: Match,
        index: Option<Index>,
        name: Str,
        patterns: Option<Vec<Str>>,
    },
    /// Pigeonhole's testsuite (only in this crate's tests): `test NAME { ... }`.
    TestBlock {
        name: Str,
        body: Vec<Cmd>,
    },
    /// `test_fail MESSAGE`.
    TestFail(Str),
    /// `test_set WHAT VALUE` (the message, or an envelope part).
    TestSet(Str, Str),
}

/// The whole checked script.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub commands: Vec<Cmd>,
    /// The script required "variables": strings are expanded.
    pub variables: bool,
    /// The extensions it required.
    pub required: Vec<String>,
}
