//! From the grammar to a [`Program`]: known commands and tests, their arguments, the
//! extensions they need (RFC 5228 3.2: a script using an extension it did not require is
//! invalid), and strings checked for what they will mean at run time.

use crate::matching::{Comparator, Relation};
use crate::parser::{Arg, Command, Error, Pos, Test as RawTest};
use crate::program::*;
use std::collections::HashMap;

/// The extensions this implementation offers (the `SIEVE` capability of ManageSieve).
pub const EXTENSIONS: &[&str] = &[
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "encoded-character",
    "imap4flags",
    "variables",
    "body",
    "relational",
    "comparator-i;ascii-numeric",
    "subaddress",
    "copy",
    "date",
    "index",
    "vacation",
    "vacation-seconds",
    "editheader",
    "duplicate",
    "mailbox",
    "spamtest",
    "spamtestplus",
];

/// What a tagged argument takes.
#[derive(Clone, Copy, PartialEq)]
enum Takes {
    Nothing,
    Number,
    Str,
    Strings,
}

/// The arguments of one command or test, sorted out.
struct Args<'a> {
    what: &'a str,
    pos: Pos,
    tags: HashMap<String, (Pos, Option<&'a Arg>)>,
    positional: Vec<&'a Arg>,
}

pub(crate) struct Compiler {
    required: Vec<String>,
    pub(crate) warnings: Vec<String>,
    /// Testsuite commands (`test`, `test_fail`, `test_set`) for the Pigeonhole tests.
    pub(crate) testsuite: bool,
}

impl Compiler {
    pub(crate) fn new() -> Compiler {
        Compiler { required: Vec::new(), warnings: Vec::new(), testsuite: false }
    }

    pub(crate) fn program(mut self, commands: &[Command]) -> Result<(Program, Vec<String>), Error> {
        let commands = self.block(commands, true)?;
        let variables = self.has("variables");
        let program = Program { commands, variables, required: self.required };
        Ok((program, self.warnings))
    }

    fn has(&self, ext: &str) -> bool {
        self.required.iter().any(|r| r == ext)
    }

    fn need(&self, ext: &str, pos: Pos, what: &str) -> Result<(), Error> {
        if self.has(ext) {
            Ok(())
        } else {
            Err(Error::new(pos, format!("{what} needs the \"{ext}\" extension: add `require \"{ext}\";` at the top")))
        }
    }

    fn block(&mut self, commands: &[Command], top: bool) -> Result<Vec<Cmd>, Error> {
        let mut out = Vec::new();
        let mut requires_allowed = top;
        let mut i = 0;
        while i < commands.len() {
            let c = &commands[i];
            if c.name == "require" {
                if !requires_allowed {
                    return Err(Error::new(c.pos, "`require` must come before every other command (RFC 5228 3.2)"));
                }
                self.require(c)?;
                i += 1;
                continue;
            }
            requires_allowed = false;
            if c.name == "if" {
                let (cmd, used) = self.if_chain(&commands[i..])?;
                out.push(cmd);
                i += used;
                continue;
            }
            if matches!(c.name.as_str(), "elsif" | "else") {
                return Err(Error::new(c.pos, format!("`{}` must follow an `if` or `elsif` block", c.name)));
            }
            if let Some(cmd) = self.command(c)? {
                out.push(cmd);
            }
            i += 1;
        }
        Ok(out)
    }

    fn require(&mut self, c: &Command) -> Result<(), Error> {
        let args = self.args(c.pos, "require", &c.args, &[])?;
        args.no_block_or_tests(c)?;
        for ext in args.strings(0, "the extensions to use")? {
            let ext = ext.to_ascii_lowercase();
            let known = EXTENSIONS.contains(&ext.as_str()) || (self.testsuite && ext == "vnd.dovecot.testsuite");
            if !known {
                return Err(Error::new(c.pos, format!("the extension \"{ext}\" is not supported here")));
            }
            if !self.required.contains(&ext) {
                self.required.push(ext);
            }
        }
        // RFC 5230 4.1 / RFC 6131: vacation-seconds implies vacation.
        if self.has("vacation-seconds") && !self.has("vacation") {
            self.required.push("vacation".into());
        }
        if self.has("ereject") && !self.has("reject") {
            // Nothing implied; both are separate (RFC 5429 2.1, 2.2).
        }
        Ok(())
    }

    /// `if`, then any `elsif`s and an `else`.
    fn if_chain(&mut self, commands: &[Command]) -> Result<(Cmd, usize), Error> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut used = 0;
        for (n, c) in commands.iter().enumerate() {
            let is_branch = (n == 0 && c.name == "if") || (n > 0 && c.name == "elsif");
            if is_branch {
                let test = self.single_test(c)?;
                branches.push((test, self.body(c)?));
                used += 1;
            } else if n > 0 && c.name == "else" {
                if !c.args.is_empty() || !c.tests.is_empty() {
                    return Err(Error::new(c.pos, "`else` takes no arguments and no test"));
                }
                otherwise = Some(self.body(c)?);
                used += 1;
                break;
            } else {
                break;
            }
        }
        Ok((Cmd::If { branches, otherwise }, used))
    }

    fn single_test(&mut self, c: &Command) -> Result<Test, Error> {
        if !c.args.is_empty() {
            return Err(Error::new(c.pos, format!("`{}` takes a test, not arguments", c.name)));
        }
        match c.tests.as_slice() {
            [t] => self.test(t),
            _ => Err(Error::new(c.pos, format!("`{}` takes exactly one test", c.name))),
        }
    }

    fn body(&mut self, c: &Command) -> Result<Vec<Cmd>, Error> {
        match &c.block {
            Some(block) => self.block(block, false),
            None => Err(Error::new(c.pos, format!("`{}` needs a block in `{{ }}`", c.name))),
        }
    }

    fn args<'a>(&self, pos: Pos, what: &'a str, args: &'a [Arg], spec: &[(&str, Takes)]) -> Result<Args<'a>, Error> {
        let mut out = Args { what, pos, tags: HashMap::new(), positional: Vec::new() };
        let mut i = 0;
        while i < args.len() {
            if let Arg::Tag(tag, tpos) = &args[i] {
                if !out.positional.is_empty() {
                    return Err(Error::new(
                        *tpos,
                        format!("`:{tag}` must come before the other arguments of `{what}`"),
                    ));
                }
                let Some((_, takes)) = spec.iter().find(|(name, _)| *name == tag) else {
                    return Err(Error::new(*tpos, format!("`{what}` has no argument `:{tag}`")));
                };
                if out.tags.contains_key(tag.as_str()) {
                    return Err(Error::new(*tpos, format!("`:{tag}` is given twice")));
                }
                let value = match takes {
                    Takes::Nothing => None,
                    expected => {
                        let v = args.get(i + 1);
                        let ok = matches!(
                            (expected, v),
                            (Takes::Number, Some(Arg::Number(..)))
                                | (Takes::Str, Some(Arg::Strings { list: false, .. }))
                                | (Takes::Strings, Some(Arg::Strings { .. }))
                        );
                        if !ok {
                            let kind = match expected {
                                Takes::Number => "a number",
                                Takes::Str => "a string",
                                _ => "a string list",
                            };
                            return Err(Error::new(*tpos, format!("`:{tag}` must be followed by {kind}")));
                        }
                        i += 1;
                        v
                    }
                };
                out.tags.insert(tag.clone(), (*tpos, value));
            } else {
                out.positional.push(&args[i]);
            }
            i += 1;
        }
        Ok(out)
    }

    /// A comparator and match type from the tags (RFC 5228 2.7).
    fn match_of(&self, a: &Args<'_>) -> Result<Match, Error> {
        let mut kind = None;
        for tag in ["is", "contains", "matches", "value", "count"] {
            let Some((pos, value)) = a.tags.get(tag) else { continue };
            if kind.is_some() {
                return Err(Error::new(*pos, format!("`{}` takes only one match type", a.what)));
            }
            kind = Some(match tag {
                "is" => MatchType::Is,
                "contains" => MatchType::Contains,
                "matches" => MatchType::Matches,
                rel => {
                    self.need("relational", *pos, &format!("`:{rel}`"))?;
                    let name = single(*value).unwrap_or_default();
                    let r = Relation::by_name(&name).ok_or_else(|| {
                        Error::new(
                            *pos,
                            format!("`:{rel}` takes one of \"gt\" \"ge\" \"lt\" \"le\" \"eq\" \"ne\", not \"{name}\""),
                        )
                    })?;
                    if rel == "value" { MatchType::Value(r) } else { MatchType::Count(r) }
                }
            });
        }
        let comparator = match a.tags.get("comparator") {
            Some((pos, value)) => {
                let name = single(*value).unwrap_or_default();
                let c = Comparator::by_name(&name)
                    .ok_or_else(|| Error::new(*pos, format!("unknown comparator \"{name}\"")))?;
                if c == Comparator::AsciiNumeric {
                    self.need("comparator-i;ascii-numeric", *pos, "the comparator \"i;ascii-numeric\"")?;
                }
                c
            }
            None => Comparator::AsciiCasemap,
        };
        let kind = kind.unwrap_or(MatchType::Is);
        if matches!(kind, MatchType::Contains | MatchType::Matches) && !comparator.substrings() {
            return Err(Error::new(
                a.pos,
                "the comparator \"i;ascii-numeric\" cannot do :contains or :matches (RFC 4790 9.1.1)",
            ));
        }
        Ok(Match { comparator, kind })
    }

    fn address_part(&self, a: &Args<'_>) -> Result<AddressPart, Error> {
        let mut part = None;
        for (tag, p) in [
            ("all", AddressPart::All),
            ("localpart", AddressPart::LocalPart),
            ("domain", AddressPart::Domain),
            ("user", AddressPart::User),
            ("detail", AddressPart::Detail),
        ] {
            if let Some((pos, _)) = a.tags.get(tag) {
                if part.is_some() {
                    return Err(Error::new(*pos, format!("`{}` takes only one address part", a.what)));
                }
                if matches!(p, AddressPart::User | AddressPart::Detail) {
                    self.need("subaddress", *pos, &format!("`:{tag}`"))?;
                }
                part = Some(p);
            }
        }
        Ok(part.unwrap_or(AddressPart::All))
    }

    fn index(&self, a: &Args<'_>) -> Result<Option<Index>, Error> {
        let last = a.tags.get("last");
        match a.tags.get("index") {
            Some((pos, value)) => {
                self.need("index", *pos, "`:index`")?;
                let Some(Arg::Number(n, _)) = value else { unreachable_tag(*pos)? };
                if *n == 0 {
                    return Err(Error::new(*pos, "`:index` counts from 1"));
                }
                Ok(Some(Index { n: *n as usize, last: last.is_some() }))
            }
            None if last.is_some() => Err(Error::new(last.map(|l| l.0).unwrap_or_default(), "`:last` needs `:index`")),
            None => Ok(None),
        }
    }

    fn zone(&self, a: &Args<'_>) -> Result<Zone, Error> {
        match (a.tags.get("zone"), a.tags.get("originalzone")) {
            (Some((pos, _)), Some(_)) => Err(Error::new(*pos, "`:zone` and `:originalzone` exclude each other")),
            (Some((pos, value)), None) => {
                let z = single(*value).unwrap_or_default();
                parse_zone(&z)
                    .map(Zone::Fixed)
                    .ok_or_else(|| Error::new(*pos, format!("\"{z}\" is not a zone like \"+0100\"")))
            }
            (None, Some(_)) => Ok(Zone::Original),
            (None, None) => Ok(Zone::Local),
        }
    }

    fn flags_tag(&self, a: &Args<'_>) -> Result<Option<Vec<Str>>, Error> {
        match a.tags.get("flags") {
            Some((pos, value)) => {
                self.need("imap4flags", *pos, "`:flags`")?;
                Ok(value.map(strings))
            }
            None => Ok(None),
        }
    }

    fn command(&mut self, c: &Command) -> Result<Option<Cmd>, Error> {
        const MATCH: [(&str, Takes); 6] = [
            ("comparator", Takes::Str),
            ("is", Takes::Nothing),
            ("contains", Takes::Nothing),
            ("matches", Takes::Nothing),
            ("value", Takes::Str),
            ("count", Takes::Str),
        ];
        let name = c.name.as_str();
        let simple = |cmd: Cmd| -> Result<Option<Cmd>, Error> {
            if !c.args.is_empty() || !c.tests.is_empty() || c.block.is_some() {
                return Err(Error::new(c.pos, format!("`{name}` takes no arguments")));
            }
            Ok(Some(cmd))
        };
        let cmd = match name {
            "stop" => return simple(Cmd::Stop),
            "discard" => return simple(Cmd::Discard),
            "keep" => {
                let a = self.args(c.pos, "keep", &c.args, &[("flags", Takes::Strings)])?;
                a.no_block_or_tests(c)?;
                a.count(0)?;
                Cmd::Keep { flags: self.flags_tag(&a)? }
            }
            "fileinto" => {
                self.need("fileinto", c.pos, "`fileinto`")?;
                let spec = [("copy", Takes::Nothing), ("create", Takes::Nothing), ("flags", Takes::Strings)];
                let a = self.args(c.pos, name, &c.args, &spec)?;
                a.no_block_or_tests(c)?;
                a.count(1)?;
                if let Some((pos, _)) = a.tags.get("copy") {
                    self.need("copy", *pos, "`:copy`")?;
                }
                if let Some((pos, _)) = a.tags.get("create") {
                    self.need("mailbox", *pos, "`:create`")?;
                }
                Cmd::FileInto {
                    mailbox: a.string(0, "the mailbox")?,
                    flags: self.flags_tag(&a)?,
                    copy: a.tags.contains_key("copy"),
                    create: a.tags.contains_key("create"),
                }
            }
            "redirect" => {
                let a = self.args(c.pos, name, &c.args, &[("copy", Takes::Nothing)])?;
                a.no_block_or_tests(c)?;
                a.count(1)?;
                if let Some((pos, _)) = a.tags.get("copy") {
                    self.need("copy", *pos, "`:copy`")?;
                }
                let address = a.string(0, "the address")?;
                if !address.contains("${") && !looks_like_address(&address) {
                    return Err(Error::new(c.pos, format!("\"{address}\" is not an address to redirect to")));
                }
                Cmd::Redirect { address, copy: a.tags.contains_key("copy") }
            }
            "reject" | "ereject" => {
                self.need(name, c.pos, &format!("`{name}`"))?;
                let a = self.args(c.pos, name, &c.args, &[])?;
                a.no_block_or_tests(c)?;
                a.count(1)?;
                Cmd::Reject { reason: a.string(0, "the reason")?, extended: name == "ereject" }
            }
            "vacation" => self.vacation(c)?,
            "set" => {
                self.need("variables", c.pos, "`set`")?;
                let spec = [
                    ("lower", Takes::Nothing),
                    ("upper", Takes::Nothing),
                    ("lowerfirst", Takes::Nothing),
                    ("upperfirst", Takes::Nothing),
                    ("quotewildcard", Takes::Nothing),
                    ("length", Takes::Nothing),
                ];
                let a = self.args(c.pos, name, &c.args, &spec)?;
                a.no_block_or_tests(c)?;
                a.count(2)?;
                let var = a.string(0, "the variable's name")?;
                if !valid_variable_name(&var) {
                    return Err(Error::new(
                        a.positional[0].pos(),
                        format!("\"{var}\" is not a variable name (RFC 5229 3)"),
                    ));
                }
                let mut modifiers: Vec<Modifier> = [
                    ("lower", Modifier::Lower),
                    ("upper", Modifier::Upper),
                    ("lowerfirst", Modifier::LowerFirst),
                    ("upperfirst", Modifier::UpperFirst),
                    ("quotewildcard", Modifier::QuoteWildcard),
                    ("length", Modifier::Length),
                ]
                .into_iter()
                .filter(|(t, _)| a.tags.contains_key(*t))
                .map(|(_, m)| m)
                .collect();
                modifiers.sort_by_key(|m| std::cmp::Reverse(m.precedence()));
                if modifiers.windows(2).any(|w| w[0].precedence() == w[1].precedence()) {
                    return Err(Error::new(c.pos, "two `set` modifiers of the same precedence (RFC 5229 4.1)"));
                }
                Cmd::Set { name: var.to_ascii_lowercase(), value: a.string(1, "the value")?, modifiers }
            }
            "setflag" | "addflag" | "removeflag" => {
                self.need("imap4flags", c.pos, &format!("`{name}`"))?;
                let a = self.args(c.pos, name, &c.args, &[])?;
                a.no_block_or_tests(c)?;
                let (variable, flags) = match a.positional.len() {
                    1 => (None, strings(a.positional[0])),
                    2 => {
                        self.need("variables", c.pos, "a flag variable")?;
                        (Some(a.string(0, "the variable")?), strings(a.positional[1]))
                    }
                    _ => return Err(Error::new(c.pos, format!("`{name}` takes [variable] and a flag list"))),
                };
                let op = match name {
                    "setflag" => FlagOp::Set,
                    "addflag" => FlagOp::Add,
                    _ => FlagOp::Remove,
                };
                Cmd::Flags { op, variable, flags }
            }
            "addheader" => {
                self.need("editheader", c.pos, "`addheader`")?;
                let a = self.args(c.pos, name, &c.args, &[("last", Takes::Nothing)])?;
                a.no_block_or_tests(c)?;
                a.count(2)?;
                let field = a.string(0, "the field name")?;
                if !field.contains("${") && !valid_field_name(&field) {
                    return Err(Error::new(c.pos, format!("\"{field}\" is not a header field name")));
                }
                Cmd::AddHeader { name: field, value: a.string(1, "the value")?, last: a.tags.contains_key("last") }
            }
            "deleteheader" => {
                self.need("editheader", c.pos, "`deleteheader`")?;
                let mut spec = MATCH.to_vec();
                spec.extend([("index", Takes::Number), ("last", Takes::Nothing)]);
                let a = self.args(c.pos, name, &c.args, &spec)?;
                a.no_block_or_tests(c)?;
                let patterns = match a.positional.len() {
                    1 => None,
                    2 => Some(strings(a.positional[1])),
                    _ => {
                        return Err(Error::new(c.pos, "`deleteheader` takes a field name and optional value patterns"));
                    }
                };
                Cmd::DeleteHeader {
                    m: self.match_of(&a)?,
                    index: self.index(&a)?,
                    name: a.string(0, "the field name")?,
                    patterns,
                }
            }
            "test" | "test_fail" | "test_set" if self.testsuite => return self.testsuite_command(c),
            other => return Err(Error::new(c.pos, format!("unknown command `{other}`"))),
        };
        Ok(Some(cmd))
    }

    fn vacation(&mut self, c: &Command) -> Result<Cmd, Error> {
        self.need("vacation", c.pos, "`vacation`")?;
        let spec = [
            ("days", Takes::Number),
            ("seconds", Takes::Number),
            ("subject", Takes::Str),
            ("from", Takes::Str),
            ("addresses", Takes::Strings),
            ("mime", Takes::Nothing),
            ("handle", Takes::Str),
        ];
        let a = self.args(c.pos, "vacation", &c.args, &spec)?;
        a.no_block_or_tests(c)?;
        a.count(1)?;
        let number = |tag: &str| match a.tags.get(tag) {
            Some((_, Some(Arg::Number(n, _)))) => Some(*n),
            _ => None,
        };
        let period = match (number("days"), number("seconds")) {
            (Some(_), Some(_)) => return Err(Error::new(c.pos, "`:days` and `:seconds` exclude each other")),
            // RFC 5230 4.1: at least one day; 0 is taken as 1.
            (Some(d), None) => Some(d.max(1) * 86_400),
            (None, Some(s)) => {
                self.need("vacation-seconds", a.tags["seconds"].0, "`:seconds`")?;
                Some(s)
            }
            (None, None) => None,
        };
        let text = |tag: &str| a.tags.get(tag).and_then(|(_, v)| single(*v));
        Ok(Cmd::Vacation(Box::new(Vacation {
            period,
            subject: text("subject"),
            from: text("from"),
            addresses: a.tags.get("addresses").and_then(|(_, v)| v.map(strings)).unwrap_or_default(),
            mime: a.tags.contains_key("mime"),
            handle: text("handle"),
            reason: a.string(0, "the reason")?,
        })))
    }

    fn test(&mut self, t: &RawTest) -> Result<Test, Error> {
        const MATCH: [(&str, Takes); 6] = [
            ("comparator", Takes::Str),
            ("is", Takes::Nothing),
            ("contains", Takes::Nothing),
            ("matches", Takes::Nothing),
            ("value", Takes::Str),
            ("count", Takes::Str),
        ];
        const PARTS: [(&str, Takes); 5] = [
            ("all", Takes::Nothing),
            ("localpart", Takes::Nothing),
            ("domain", Takes::Nothing),
            ("user", Takes::Nothing),
            ("detail", Takes::Nothing),
        ];
        let name = t.name.as_str();
        let no_tests = || -> Result<(), Error> {
            if t.tests.is_empty() { Ok(()) } else { Err(Error::new(t.pos, format!("`{name}` does not take tests"))) }
        };
        let spec = |extra: &[(&'static str, Takes)]| -> Vec<(&'static str, Takes)> {
            let mut s = MATCH.to_vec();
            s.extend_from_slice(extra);
            s
        };
        let test = match name {
            "true" | "false" => {
                if !t.args.is_empty() {
                    return Err(Error::new(t.pos, format!("`{name}` takes no arguments")));
                }
                no_tests()?;
                if name == "true" { Test::True } else { Test::False }
            }
            "not" => match (t.args.is_empty(), t.tests.as_slice()) {
                (true, [inner]) => Test::Not(Box::new(self.test(inner)?)),
                _ => return Err(Error::new(t.pos, "`not` takes exactly one test")),
            },
            "allof" | "anyof" => {
                if !t.args.is_empty() || t.tests.is_empty() {
                    return Err(Error::new(t.pos, format!("`{name}` takes a list of tests in `( )`")));
                }
                let tests = t.tests.iter().map(|x| self.test(x)).collect::<Result<Vec<_>, _>>()?;
                if name == "allof" { Test::AllOf(tests) } else { Test::AnyOf(tests) }
            }
            "exists" => {
                let a = self.args(t.pos, name, &t.args, &[])?;
                no_tests()?;
                a.count(1)?;
                Test::Exists(strings(a.positional[0]))
            }
            "size" => {
                let a = self.args(t.pos, name, &t.args, &[("over", Takes::Nothing), ("under", Takes::Nothing)])?;
                no_tests()?;
                a.count(1)?;
                let over = a.tags.contains_key("over");
                if over == a.tags.contains_key("under") {
                    return Err(Error::new(t.pos, "`size` takes exactly one of `:over` and `:under`"));
                }
                let Arg::Number(limit, _) = a.positional[0] else {
                    return Err(Error::new(a.positional[0].pos(), "`size` compares with a number"));
                };
                Test::Size { over, limit: *limit }
            }
            "header" => {
                let a = self.args(
                    t.pos,
                    name,
                    &t.args,
                    &spec(&[("index", Takes::Number), ("last", Takes::Nothing), ("mime", Takes::Nothing)]),
                )?;
                no_tests()?;
                a.count(2)?;
                if let Some((pos, _)) = a.tags.get("mime") {
                    return Err(Error::new(*pos, "`header :mime` (RFC 5703) is not supported"));
                }
                Test::Header {
                    m: self.match_of(&a)?,
                    index: self.index(&a)?,
                    names: strings(a.positional[0]),
                    keys: strings(a.positional[1]),
                }
            }
            "address" => {
                let mut s = spec(&PARTS);
                s.extend([("index", Takes::Number), ("last", Takes::Nothing)]);
                let a = self.args(t.pos, name, &t.args, &s)?;
                no_tests()?;
                a.count(2)?;
                Test::Address {
                    m: self.match_of(&a)?,
                    part: self.address_part(&a)?,
                    index: self.index(&a)?,
                    headers: strings(a.positional[0]),
                    keys: strings(a.positional[1]),
                }
            }
            "envelope" => {
                self.need("envelope", t.pos, "`envelope`")?;
                let a = self.args(t.pos, name, &t.args, &spec(&PARTS))?;
                no_tests()?;
                a.count(2)?;
                Test::Envelope {
                    m: self.match_of(&a)?,
                    part: self.address_part(&a)?,
                    parts: strings(a.positional[0]),
                    keys: strings(a.positional[1]),
                }
            }
            "string" => {
                self.need("variables", t.pos, "`string`")?;
                let a = self.args(t.pos, name, &t.args, &MATCH)?;
                no_tests()?;
                a.count(2)?;
                Test::String {
                    m: self.match_of(&a)?,
                    sources: strings(a.positional[0]),
                    keys: strings(a.positional[1]),
                }
            }
            "body" => {
                self.need("body", t.pos, "`body`")?;
                let a = self.args(
                    t.pos,
                    name,
                    &t.args,
                    &spec(&[("raw", Takes::Nothing), ("text", Takes::Nothing), ("content", Takes::Strings)]),
                )?;
                no_tests()?;
                a.count(1)?;
                let transform = match (a.tags.get("raw"), a.tags.get("text"), a.tags.get("content")) {
                    (Some(_), None, None) => BodyTransform::Raw,
                    (None, Some(_), None) | (None, None, None) => BodyTransform::Text,
                    (None, None, Some((_, v))) => BodyTransform::Content(v.map(strings).unwrap_or_default()),
                    _ => return Err(Error::new(t.pos, "`body` takes one of `:raw`, `:text` and `:content`")),
                };
                Test::Body { m: self.match_of(&a)?, transform, keys: strings(a.positional[0]) }
            }
            "date" | "currentdate" => {
                self.need("date", t.pos, &format!("`{name}`"))?;
                let mut s = spec(&[("zone", Takes::Str)]);
                if name == "date" {
                    s.extend([("originalzone", Takes::Nothing), ("index", Takes::Number), ("last", Takes::Nothing)]);
                }
                let a = self.args(t.pos, name, &t.args, &s)?;
                no_tests()?;
                let m = self.match_of(&a)?;
                let zone = self.zone(&a)?;
                if name == "date" {
                    a.count(3)?;
                    Test::Date {
                        m,
                        zone,
                        index: self.index(&a)?,
                        header: a.string(0, "the header")?,
                        part: a.string(1, "the date part")?,
                        keys: strings(a.positional[2]),
                    }
                } else {
                    a.count(2)?;
                    Test::CurrentDate { m, zone, part: a.string(0, "the date part")?, keys: strings(a.positional[1]) }
                }
            }
            "spamtest" => {
                // RFC 5235 3.2: spamtestplus implies spamtest and adds :percent.
                if !self.has("spamtestplus") {
                    self.need("spamtest", t.pos, "`spamtest`")?;
                }
                let percent_allowed = self.has("spamtestplus");
                let a = self.args(t.pos, name, &t.args, &spec(&[("percent", Takes::Nothing)]))?;
                no_tests()?;
                a.count(1)?;
                let percent = a.tags.contains_key("percent");
                if percent && !percent_allowed {
                    return Err(Error::new(t.pos, "`:percent` needs the \"spamtestplus\" extension"));
                }
                Test::Spam { m: self.match_of(&a)?, percent, keys: strings(a.positional[0]) }
            }
            "hasflag" => {
                self.need("imap4flags", t.pos, "`hasflag`")?;
                let a = self.args(t.pos, name, &t.args, &MATCH)?;
                no_tests()?;
                let (variables, keys) = match a.positional.len() {
                    1 => (None, strings(a.positional[0])),
                    2 => (Some(strings(a.positional[0])), strings(a.positional[1])),
                    _ => return Err(Error::new(t.pos, "`hasflag` takes [variables] and a flag list")),
                };
                Test::HasFlag { m: self.match_of(&a)?, variables, keys }
            }
            "duplicate" => {
                self.need("duplicate", t.pos, "`duplicate`")?;
                let spec = [
                    ("handle", Takes::Str),
                    ("header", Takes::Str),
                    ("uniqueid", Takes::Str),
                    ("seconds", Takes::Number),
                    ("last", Takes::Nothing),
                ];
                let a = self.args(t.pos, name, &t.args, &spec)?;
                no_tests()?;
                a.count(0)?;
                if a.tags.contains_key("header") && a.tags.contains_key("uniqueid") {
                    return Err(Error::new(t.pos, "`:header` and `:uniqueid` exclude each other (RFC 7352 3.1)"));
                }
                let text = |tag: &str| a.tags.get(tag).and_then(|(_, v)| single(*v));
                let seconds = match a.tags.get("seconds") {
                    Some((_, Some(Arg::Number(n, _)))) => Some(*n),
                    _ => None,
                };
                Test::Duplicate(Box::new(Duplicate {
                    handle: text("handle"),
                    header: text("header"),
                    uniqueid: text("uniqueid"),
                    seconds,
                    last: a.tags.contains_key("last"),
                }))
            }
            "mailboxexists" => {
                self.need("mailbox", t.pos, "`mailboxexists`")?;
                let a = self.args(t.pos, name, &t.args, &[])?;
                no_tests()?;
                a.count(1)?;
                Test::MailboxExists(strings(a.positional[0]))
            }
            other => return Err(Error::new(t.pos, format!("unknown test `{other}`"))),
        };
        Ok(test)
    }

    /// Pigeonhole's `vnd.dovecot.testsuite` commands the tests of this crate run.
    fn testsuite_command(&mut self, c: &Command) -> Result<Option<Cmd>, Error> {
        self.need("vnd.dovecot.testsuite", c.pos, &format!("`{}`", c.name))?;
        let a = self.args(c.pos, &c.name, &c.args, &[])?;
        let cmd = match c.name.as_str() {
            "test" => {
                a.count(1)?;
                Cmd::TestBlock { name: a.string(0, "the test's name")?, body: self.body(c)? }
            }
            "test_fail" => {
                a.count(1)?;
                Cmd::TestFail(a.string(0, "the message")?)
            }
            _ => {
                a.count(2)?;
                Cmd::TestSet(a.string(0, "what")?, a.string(1, "the value")?)
            }
        };
        Ok(Some(cmd))
    }
}

fn unreachable_tag<T>(pos: Pos) -> Result<T, Error> {
    Err(Error::new(pos, "a tag is missing its value"))
}

impl Args<'_> {
    fn count(&self, n: usize) -> Result<(), Error> {
        if self.positional.len() == n {
            Ok(())
        } else {
            Err(Error::new(
                self.pos,
                format!(
                    "`{}` takes {n} argument{} besides its tags, not {}",
                    self.what,
                    if n == 1 { "" } else { "s" },
                    self.positional.len()
                ),
            ))
        }
    }

    fn no_block_or_tests(&self, c: &Command) -> Result<(), Error> {
        if c.block.is_some() || !c.tests.is_empty() {
            return Err(Error::new(c.pos, format!("`{}` takes no test and no block", self.what)));
        }
        Ok(())
    }

    /// The positional argument `i` as one string.
    fn string(&self, i: usize, what: &str) -> Result<String, Error> {
        match self.positional.get(i) {
            Some(Arg::Strings { values, list: false, .. }) => Ok(values[0].clone()),
            Some(other) => Err(Error::new(other.pos(), format!("`{}` wants a single string as {what}", self.what))),
            None => Err(Error::new(self.pos, format!("`{}` is missing {what}", self.what))),
        }
    }

    fn strings(&self, i: usize, what: &str) -> Result<Vec<String>, Error> {
        match self.positional.get(i) {
            Some(Arg::Strings { values, .. }) => Ok(values.clone()),
            Some(other) => Err(Error::new(other.pos(), format!("`{}` wants a string list as {what}", self.what))),
            None => Err(Error::new(self.pos, format!("`{}` is missing {what}", self.what))),
        }
    }
}

fn strings(arg: &Arg) -> Vec<String> {
    match arg {
        Arg::Strings { values, .. } => values.clone(),
        Arg::Number(n, _) => vec![n.to_string()],
        Arg::Tag(t, _) => vec![format!(":{t}")],
    }
}

fn single(arg: Option<&Arg>) -> Option<String> {
    match arg {
        Some(Arg::Strings { values, .. }) => values.first().cloned(),
        _ => None,
    }
}

/// RFC 5229 3: `identifier` or `identifier.identifier...`.
fn valid_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// RFC 5322 3.6.8: printable ASCII but `:`.
pub(crate) fn valid_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

pub(crate) fn looks_like_address(s: &str) -> bool {
    s.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !s.contains(char::is_whitespace))
}

/// `+hhmm` / `-hhmm` as minutes east of UTC.
pub(crate) fn parse_zone(z: &str) -> Option<i32> {
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m))
}
