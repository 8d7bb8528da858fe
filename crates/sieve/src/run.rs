//! Running a [`Program`] against one message (RFC 5228 2.10): tests, variables, flags, header
//! edits, and the actions that come out, with the implicit keep.

use crate::action::{Action, Outcome, Reply};
use crate::context::{Context, Limits};
use crate::date::{self, Moment};
use crate::message::{Message, addresses_in};
use crate::program::*;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Why a run stopped early (RFC 5228 2.10.6: then only the implicit keep is done).
pub(crate) struct RunError(pub String);

/// Where execution goes after a command.
enum Flow {
    Next,
    Stop,
}

pub(crate) struct Run<'a, 'c> {
    program: &'a Program,
    ctx: &'a mut Context<'c>,
    limits: &'a Limits,
    pub(crate) message: Message,
    variables: HashMap<String, String>,
    /// `${0}` to `${9}` from the last `:matches` that held (RFC 5229 3.2).
    matched: Vec<String>,
    /// The internal flags variable (RFC 5232 3).
    flags: Vec<String>,
    pub(crate) actions: Vec<Action>,
    implicit_keep: bool,
    steps: u64,
    redirects: u32,
    /// Testsuite: the failures of `test` blocks, as "name: message".
    pub(crate) failures: Vec<String>,
    pub(crate) tests_run: usize,
}

impl<'a, 'c> Run<'a, 'c> {
    pub(crate) fn new(program: &'a Program, message: Message, ctx: &'a mut Context<'c>, limits: &'a Limits) -> Self {
        Run {
            program,
            ctx,
            limits,
            message,
            variables: HashMap::new(),
            matched: Vec::new(),
            flags: Vec::new(),
            actions: Vec::new(),
            implicit_keep: true,
            steps: 0,
            redirects: 0,
            failures: Vec::new(),
            tests_run: 0,
        }
    }

    /// Runs the whole script; the outcome carries the actions to take.
    pub(crate) fn outcome(mut self) -> Outcome {
        let result = self.block(&self.program.commands.clone());
        let edited = self.message.edited().then(|| self.message.to_bytes());
        match result {
            Ok(_) => {
                if self.implicit_keep {
                    self.actions.push(Action::Keep { flags: self.flags.clone() });
                }
                Outcome { actions: self.actions, message: edited, error: None }
            }
            Err(RunError(e)) => {
                Outcome { actions: vec![Action::Keep { flags: Vec::new() }], message: None, error: Some(e) }
            }
        }
    }

    fn block(&mut self, commands: &[Cmd]) -> Result<Flow, RunError> {
        for cmd in commands {
            if let Flow::Stop = self.command(cmd)? {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Next)
    }

    fn step(&mut self) -> Result<(), RunError> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(RunError(format!("the script ran more than {} steps", self.limits.max_steps)));
        }
        Ok(())
    }

    fn command(&mut self, cmd: &Cmd) -> Result<Flow, RunError> {
        self.step()?;
        match cmd {
            Cmd::If { branches, otherwise } => {
                for (test, body) in branches {
                    if self.test(test)? {
                        return self.block(body);
                    }
                }
                if let Some(body) = otherwise {
                    return self.block(body);
                }
            }
            Cmd::Stop => return Ok(Flow::Stop),
            Cmd::Keep { flags } => {
                let flags = self.flag_list(flags.as_ref());
                self.act(Action::Keep { flags })?;
                self.implicit_keep = false;
            }
            Cmd::Discard => self.implicit_keep = false,
            Cmd::FileInto { mailbox, flags, copy, create } => {
                let mailbox = self.expand(mailbox);
                let flags = self.flag_list(flags.as_ref());
                self.act(Action::FileInto { mailbox, flags, create: *create })?;
                self.implicit_keep &= *copy;
            }
            Cmd::Redirect { address, copy } => {
                let address = self.expand(address);
                if !crate::compile::looks_like_address(&address) {
                    return Err(RunError(format!("redirect to \"{address}\", which is not an address")));
                }
                self.redirects += 1;
                if self.redirects > self.limits.max_redirects {
                    return Err(RunError(format!("more than {} redirects", self.limits.max_redirects)));
                }
                self.act(Action::Redirect { address })?;
                self.implicit_keep &= *copy;
            }
            Cmd::Reject { reason, extended } => {
                let reason = self.expand(reason);
                self.act(Action::Reject { reason, extended: *extended })?;
                self.implicit_keep = false;
            }
            Cmd::Vacation(v) => self.vacation(v)?,
            Cmd::Set { name, value, modifiers } => {
                let mut value = self.expand(value);
                for m in modifiers {
                    value = modify(*m, &value);
                }
                self.set_variable(name, value);
            }
            Cmd::Flags { op, variable, flags } => {
                let given: Vec<String> = flags.iter().map(|f| self.expand(f)).collect();
                let given = split_flags(&given);
                let mut current = match variable {
                    Some(v) => split_flags(&[self.variable(&self.expand(v))]),
                    None => self.flags.clone(),
                };
                match op {
                    FlagOp::Set => current = given,
                    FlagOp::Add => current.extend(given),
                    FlagOp::Remove => current.retain(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f))),
                }
                let current = dedup_flags(current);
                match variable {
                    Some(v) => {
                        let name = self.expand(v).to_ascii_lowercase();
                        self.set_variable(&name, current.join(" "));
                    }
                    None => self.flags = current,
                }
            }
            Cmd::AddHeader { name, value, last } => {
                let (name, value) = (self.expand(name), self.expand(value));
                if !crate::compile::valid_field_name(&name) {
                    return Err(RunError(format!("addheader: \"{name}\" is not a header field name")));
                }
                if !protected(&name) {
                    self.message.add(&name, &value, *last);
                }
            }
            Cmd::DeleteHeader { m, index, name, patterns } => {
                let name = self.expand(name);
                if protected(&name) {
                    return Ok(Flow::Next);
                }
                let patterns: Option<Vec<String>> =
                    patterns.as_ref().map(|p| p.iter().map(|k| self.expand(k)).collect());
                let m = m.clone();
                let index = *index;
                self.message.delete(&name, |n, count, value| {
                    let chosen = index.is_none_or(|i| position(i, count) == Some(n));
                    chosen
                        && match &patterns {
                            None => true,
                            Some(keys) => keys.iter().any(|k| compare_one(&m, value, k).is_some()),
                        }
                });
            }
            Cmd::TestBlock { name, body } => {
                let saved = (self.actions.clone(), self.implicit_keep, self.message.clone());
                self.tests_run += 1;
                if let Err(RunError(e)) = self.block(body) {
                    if !e.starts_with('\u{0}') {
                        self.failures.push(format!("{name}: {e}"));
                    }
                }
                (self.actions, self.implicit_keep, self.message) = saved;
            }
            Cmd::TestFail(msg) => {
                let msg = self.expand(msg);
                self.failures.push(msg);
                return Err(RunError("\u{0}failed".into()));
            }
            Cmd::TestSet(what, value) => {
                let value = self.expand(value);
                match what.to_ascii_lowercase().as_str() {
                    "message" => self.message = Message::parse(value.as_bytes()),
                    "envelope.from" => self.ctx.envelope.from = value,
                    "envelope.to" => self.ctx.envelope.to = value,
                    "envelope.auth" => self.ctx.envelope.auth = Some(value),
                    other => return Err(RunError(format!("test_set: unknown item {other}"))),
                }
            }
        }
        Ok(Flow::Next)
    }

    /// Adds an action; RFC 5429 2.1: `reject` excludes keeping and sending on.
    fn act(&mut self, action: Action) -> Result<(), RunError> {
        if self.actions.len() >= self.limits.max_actions {
            return Err(RunError(format!("more than {} actions", self.limits.max_actions)));
        }
        let rejecting = |a: &Action| matches!(a, Action::Reject { .. });
        let delivering = |a: &Action| {
            matches!(a, Action::Keep { .. } | Action::FileInto { .. } | Action::Redirect { .. } | Action::Vacation(_))
        };
        if (rejecting(&action) && self.actions.iter().any(delivering))
            || (delivering(&action) && self.actions.iter().any(rejecting))
        {
            return Err(RunError(
                "reject cannot be combined with keep, fileinto, redirect or vacation (RFC 5429 2.1)".into(),
            ));
        }
        if !self.actions.contains(&action) {
            self.actions.push(action);
        }
        Ok(())
    }

    fn flag_list(&self, given: Option<&Vec<Str>>) -> Vec<String> {
        match given {
            Some(list) => dedup_flags(split_flags(&list.iter().map(|f| self.expand(f)).collect::<Vec<_>>())),
            None => self.flags.clone(),
        }
    }

    fn set_variable(&mut self, name: &str, value: String) {
        let value = truncate(value, self.limits.max_variable_size);
        self.variables.insert(name.to_ascii_lowercase(), value);
    }

    fn variable(&self, name: &str) -> String {
        self.variables.get(&name.to_ascii_lowercase()).cloned().unwrap_or_default()
    }

    /// RFC 5228 2.4.2.4 encoded characters, then RFC 5229 3 variables.
    pub(crate) fn expand(&self, s: &str) -> String {
        let s = if self.program.required.iter().any(|r| r == "encoded-character") { encoded(s) } else { s.to_string() };
        if !self.program.variables || !s.contains("${") {
            return s;
        }
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}').map(|end| (&after[..end], end)) {
                Some((name, end)) if valid_reference(name) => {
                    out.push_str(&self.reference(name));
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push_str("${");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        truncate(out, self.limits.max_variable_size)
    }

    fn reference(&self, name: &str) -> String {
        if name.bytes().all(|b| b.is_ascii_digit()) {
            let n: usize = name.parse().unwrap_or(usize::MAX);
            return self.matched.get(n).cloned().unwrap_or_default();
        }
        self.variable(name)
    }

    fn test(&mut self, t: &Test) -> Result<bool, RunError> {
        self.step()?;
        let result = match t {
            Test::True => true,
            Test::False => false,
            Test::Not(inner) => !self.test(inner)?,
            Test::AllOf(tests) => {
                for x in tests {
                    if !self.test(x)? {
                        return Ok(false);
                    }
                }
                true
            }
            Test::AnyOf(tests) => {
                for x in tests {
                    if self.test(x)? {
                        return Ok(true);
                    }
                }
                false
            }
            Test::Exists(names) => names.iter().all(|n| !self.message.values(&self.expand(n)).is_empty()),
            Test::Size { over, limit } => {
                let size = self.message.size();
                if *over { size > *limit } else { size < *limit }
            }
            Test::Header { m, index, names, keys } => {
                let mut values = Vec::new();
                for n in names {
                    values.extend(select(self.message.values(&self.expand(n)), *index));
                }
                self.compare(m, &values, keys)
            }
            Test::Address { m, part, index, headers, keys } => {
                let mut values = Vec::new();
                for h in headers {
                    let fields = self.message.addresses(&self.expand(h));
                    for field in select(fields, *index) {
                        values.extend(field.iter().filter_map(|a| address_part(a, *part)));
                    }
                }
                self.compare(m, &values, keys)
            }
            Test::Envelope { m, part, parts, keys } => {
                let mut values = Vec::new();
                for p in parts {
                    let address = match self.expand(p).to_ascii_lowercase().as_str() {
                        "from" => Some(self.ctx.envelope.from.clone()),
                        "to" => Some(self.ctx.envelope.to.clone()),
                        "auth" => self.ctx.envelope.auth.clone(),
                        _ => None,
                    };
                    // RFC 5228 5.4: the null reverse-path compares as "" for every part; a
                    // path that is not valid SMTP matches nothing.
                    match address.as_deref().map(smtp_path) {
                        Some(Some(None)) => values.push(String::new()),
                        Some(Some(Some(a))) => values.extend(address_part(&a, *part)),
                        _ => {}
                    }
                }
                self.compare(m, &values, keys)
            }
            Test::String { m, sources, keys } => {
                let mut values: Vec<String> = sources.iter().map(|s| self.expand(s)).collect();
                if matches!(m.kind, MatchType::Count(_)) {
                    values.retain(|v| !v.is_empty()); // RFC 5229 5
                }
                self.compare(m, &values, keys)
            }
            Test::Body { m, transform, keys } => {
                let values = match transform {
                    BodyTransform::Raw if self.message.body_raw().is_empty() => vec![],
                    BodyTransform::Raw => vec![self.message.body_raw()],
                    BodyTransform::Text => self.message.body_text(),
                    BodyTransform::Content(types) => {
                        let types: Vec<String> = types.iter().map(|t| self.expand(t)).collect();
                        self.message.body_content(&types)
                    }
                };
                // RFC 5173 5: the body test leaves the match variables as they were.
                let matched = std::mem::take(&mut self.matched);
                let result = self.compare(m, &values, keys);
                self.matched = matched;
                result
            }
            Test::Date { m, zone, index, header, part, keys } => {
                let raw = select(self.message.values(&self.expand(header)), *index);
                let part = self.expand(part);
                let mut values = Vec::new();
                for v in raw {
                    // RFC 5260 4: the Received field's date follows its last `;`.
                    let text = if header.eq_ignore_ascii_case("received") {
                        v.rsplit(';').next().unwrap_or(&v).to_string()
                    } else {
                        v
                    };
                    if let Some(mut moment) = date::parse(&text) {
                        moment.zone = self.zone_of(zone, moment.zone);
                        values.extend(date::part(moment, &part));
                    }
                }
                self.compare(m, &values, keys)
            }
            Test::CurrentDate { m, zone, part, keys } => {
                let unix = self.ctx.now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                let moment = Moment { unix, zone: self.zone_of(zone, self.ctx.zone) };
                let values: Vec<String> = date::part(moment, &self.expand(part)).into_iter().collect();
                self.compare(m, &values, keys)
            }
            Test::HasFlag { m, variables, keys } => {
                let values = match variables {
                    Some(vars) => dedup_flags(split_flags(
                        &vars.iter().map(|v| self.variable(&self.expand(v))).collect::<Vec<_>>(),
                    )),
                    None => self.flags.clone(),
                };
                // RFC 5232 4: a key holding several flags is those flags ("b A").
                let keys: Vec<String> = keys.iter().map(|k| self.expand(k)).collect();
                let keys = if matches!(m.kind, MatchType::Count(_)) { keys } else { split_flags(&keys) };
                self.compare_expanded(m, &values, &keys)
            }
            Test::Spam { m, percent, keys } => {
                let value = spam_value(self.ctx.spam, *percent);
                self.compare(m, &[value], keys)
            }
            Test::Duplicate(d) => self.duplicate(d),
            Test::MailboxExists(names) => names.iter().all(|n| {
                let name = self.expand(n);
                self.ctx.memory.mailbox_exists(&name)
            }),
        };
        Ok(result)
    }

    fn zone_of(&self, zone: &Zone, original: i32) -> i32 {
        match zone {
            Zone::Local => self.ctx.zone,
            Zone::Original => original,
            Zone::Fixed(z) => *z,
        }
    }

    /// RFC 7352 3: true when the same id went through within the period; recorded now.
    fn duplicate(&mut self, d: &Duplicate) -> bool {
        let id = match (&d.uniqueid, &d.header) {
            (Some(u), _) => self.expand(u),
            (None, Some(h)) => self.message.values(&self.expand(h)).into_iter().next().unwrap_or_default(),
            (None, None) => self.message.values("message-id").into_iter().next().unwrap_or_default(),
        };
        if id.is_empty() {
            return false;
        }
        let handle = d.handle.as_ref().map(|h| self.expand(h)).unwrap_or_default();
        let period = d.seconds.unwrap_or(7 * 86_400);
        self.ctx.memory.seen(&format!("duplicate\u{0}{handle}\u{0}{id}"), period)
    }

    /// Compares values with keys under a match type; `:matches` sets the match variables.
    fn compare(&mut self, m: &Match, values: &[String], keys: &[Str]) -> bool {
        let keys: Vec<String> = keys.iter().map(|k| self.expand(k)).collect();
        self.compare_expanded(m, values, &keys)
    }

    fn compare_expanded(&mut self, m: &Match, values: &[String], keys: &[String]) -> bool {
        if let MatchType::Count(rel) = m.kind {
            let count = values.len().to_string();
            return keys.iter().any(|k| rel.holds(m.comparator.compare(&count, k)));
        }
        for v in values {
            for k in keys {
                if let Some(groups) = compare_one(m, v, k) {
                    if m.kind == MatchType::Matches && self.program.variables {
                        let mut all = vec![v.clone()];
                        // RFC 5229 3.2 asks for ${1} to ${9}; more are kept, as Pigeonhole does.
                        all.extend(groups.into_iter().take(99));
                        self.matched = all;
                    }
                    return true;
                }
            }
        }
        false
    }

    fn vacation(&mut self, v: &Vacation) -> Result<(), RunError> {
        let sender = self.ctx.envelope.from.clone();
        let mut own: Vec<String> = vec![self.ctx.envelope.to.clone()];
        own.extend(v.addresses.iter().map(|a| self.expand(a)));
        own.extend(self.ctx.addresses.iter().cloned());
        if !should_reply(&self.message, &sender, &own) {
            return Ok(());
        }
        let reason = self.expand(&v.reason);
        let subject = v.subject.as_ref().map(|s| self.expand(s));
        let from = v.from.as_ref().map(|f| self.expand(f));
        // RFC 5230 4.2: without :handle, replies differ by their arguments.
        let handle = v.handle.as_ref().map(|h| self.expand(h)).unwrap_or_else(|| {
            format!("{}\u{0}{}\u{0}{}", reason, subject.clone().unwrap_or_default(), from.clone().unwrap_or_default())
        });
        let period = v.period.unwrap_or(7 * 86_400);
        let key = format!("vacation\u{0}{handle}\u{0}{}", sender.to_ascii_lowercase());
        if self.ctx.memory.seen(&key, period) {
            return Ok(());
        }
        let original_subject = self.message.values("subject").into_iter().next().unwrap_or_default();
        let message_id = self.message.raw_values("message-id").into_iter().next();
        let references = self.message.raw_values("references").into_iter().next();
        let reply = Reply {
            to: sender,
            from,
            subject: subject.unwrap_or_else(|| format!("Auto: {original_subject}")),
            body: reason,
            mime: v.mime,
            in_reply_to: message_id.clone(),
            references: match (references, message_id) {
                (Some(r), Some(id)) => Some(format!("{r} {id}")),
                (None, id) => id,
                (r, None) => r,
            },
        };
        self.act(Action::Vacation(reply))
    }
}

/// One value against one key: Some(wildcard groups) when it matches.
fn compare_one(m: &Match, value: &str, key: &str) -> Option<Vec<String>> {
    let c = m.comparator;
    match m.kind {
        MatchType::Is => (c.compare(value, key) == Ordering::Equal).then(Vec::new),
        MatchType::Contains => c.contains(value, key).then(Vec::new),
        MatchType::Matches => c.matches(value, key),
        MatchType::Value(rel) => rel.holds(c.compare(value, key)).then(Vec::new),
        MatchType::Count(_) => None,
    }
}

/// RFC 5260 6: the occurrence `:index` picks (counted from the end with `:last`).
fn select<T>(values: Vec<T>, index: Option<Index>) -> Vec<T> {
    let Some(i) = index else { return values };
    match position(i, values.len()) {
        Some(n) => values.into_iter().nth(n - 1).into_iter().collect(),
        None => Vec::new(),
    }
}

fn position(i: Index, count: usize) -> Option<usize> {
    if i.n > count {
        return None;
    }
    Some(if i.last { count + 1 - i.n } else { i.n })
}

/// RFC 5235 3.2.1/3.2.2: "0" when the message was not tested; else 1 (clearly not spam)
/// to 10 (surely spam), or with `:percent` 0 to 100.
fn spam_value(spam: Option<u8>, percent: bool) -> String {
    match (spam, percent) {
        (None, _) => "0".into(),
        (Some(p), true) => p.min(100).to_string(),
        (Some(p), false) => (1 + (u32::from(p.min(100)) * 9 + 50) / 100).to_string(),
    }
}

/// An envelope path as SMTP gives it (RFC 5321 4.1.2), with or without its angle brackets:
/// Some(None) for the null path, Some(address) without any source route (RFC 5321 C), None
/// when it is not a valid path. A bare local part is allowed (`<MAILER-DAEMON>`), and local
/// parts may have dots anywhere, as some mailers send them.
fn smtp_path(raw: &str) -> Option<Option<String>> {
    let inner = match raw.strip_prefix('<') {
        Some(rest) => rest.strip_suffix('>')?,
        None => raw,
    };
    if inner.contains(['<', '>']) {
        return None;
    }
    if inner.is_empty() {
        return Some(None);
    }
    let mailbox = match inner.strip_prefix('@') {
        Some(_) => {
            let (route, mailbox) = inner.split_once(':')?;
            route.split(',').all(|hop| hop.strip_prefix('@').is_some_and(path_domain)).then_some(mailbox)?
        }
        None => inner,
    };
    let (local, domain) = match mailbox.split_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (mailbox, None),
    };
    let atext = |c: char| c.is_alphanumeric() || !c.is_ascii() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let local_ok = !local.is_empty() && (quoted || local.chars().all(atext));
    (local_ok && domain.is_none_or(path_domain)).then(|| Some(mailbox.to_string()))
}

/// A domain in a path: dot-separated labels of letters, digits, `-` and `_` (Pigeonhole
/// accepts the underscores and edge hyphens real hosts use), or an address literal.
fn path_domain(domain: &str) -> bool {
    if domain.starts_with('[') && domain.ends_with(']') {
        return domain.len() > 2;
    }
    let label = |l: &str| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    domain.split('.').all(label)
}

/// RFC 5228 2.7.4 and RFC 5233 4 (`+` separates user and detail).
fn address_part(address: &str, part: AddressPart) -> Option<String> {
    let (local, domain) = match address.rsplit_once('@') {
        Some((l, d)) => (l, d),
        None => (address, ""),
    };
    match part {
        AddressPart::All => Some(address.to_string()),
        AddressPart::LocalPart => Some(local.to_string()),
        AddressPart::Domain => Some(domain.to_string()),
        AddressPart::User => Some(local.split_once('+').map_or(local, |(u, _)| u).to_string()),
        AddressPart::Detail => local.split_once('+').map(|(_, d)| d.to_string()),
    }
}

/// RFC 5229 4.1: one modifier.
fn modify(m: Modifier, value: &str) -> String {
    match m {
        Modifier::Lower => value.to_lowercase(),
        Modifier::Upper => value.to_uppercase(),
        Modifier::LowerFirst | Modifier::UpperFirst => {
            let mut chars = value.chars();
            match chars.next() {
                Some(first) => {
                    let first: String = if m == Modifier::LowerFirst {
                        first.to_lowercase().collect()
                    } else {
                        first.to_uppercase().collect()
                    };
                    first + chars.as_str()
                }
                None => String::new(),
            }
        }
        Modifier::QuoteWildcard => {
            value.chars().flat_map(|c| if matches!(c, '*' | '?' | '\\') { vec!['\\', c] } else { vec![c] }).collect()
        }
        Modifier::Length => value.chars().count().to_string(),
    }
}

/// RFC 5232 3: flags are separated by spaces; duplicates (by case) go.
fn split_flags(lists: &[String]) -> Vec<String> {
    lists.iter().flat_map(|l| l.split(' ').filter(|f| !f.is_empty()).map(str::to_string)).collect()
}

fn dedup_flags(flags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in flags {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&f)) {
            out.push(f);
        }
    }
    out
}

/// RFC 5293 6: Received fields stay; Auto-Submitted too (it keeps mail loops away).
fn protected(name: &str) -> bool {
    name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("auto-submitted")
}

/// `identifier` (dots allowed) or a match variable number (RFC 5229 3).
fn valid_reference(name: &str) -> bool {
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
        || name.split('.').all(|p| {
            p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// RFC 5228 2.4.2.4: `${hex: 41 42}` and `${unicode: 263a}`; anything malformed stays.
fn encoded(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let decoded = after.find('}').and_then(|end| {
            let inner = &after[..end];
            let (kind, body) = inner.split_once(':')?;
            if body.trim().is_empty() {
                return None;
            }
            let words = body.split_whitespace();
            let text = match kind.trim().to_ascii_lowercase().as_str() {
                "hex" => {
                    let bytes: Option<Vec<u8>> = words.map(|w| u8::from_str_radix(w, 16).ok()).collect();
                    String::from_utf8(bytes?).ok()?
                }
                "unicode" => words
                    .map(|w| u32::from_str_radix(w, 16).ok().and_then(char::from_u32))
                    .collect::<Option<String>>()?,
                _ => return None,
            };
            Some((text, end))
        });
        match decoded {
            Some((text, end)) => {
                out.push_str(&text);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// RFC 5230 4.5, 4.6 and RFC 3834 2: no reply to bounces, lists, bulk or automatic mail, or
/// to mail that does not name the user.
fn should_reply(message: &Message, sender: &str, own: &[String]) -> bool {
    let local = sender.rsplit_once('@').map_or(sender, |(l, _)| l).to_ascii_lowercase();
    if sender.is_empty()
        || local == "mailer-daemon"
        || local == "listserv"
        || local == "majordomo"
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.starts_with("bounce")
    {
        return false;
    }
    let automatic = message.values("auto-submitted").iter().any(|v| !v.trim().eq_ignore_ascii_case("no"));
    let list = ["list-id", "list-post", "list-unsubscribe", "list-help", "list-owner"]
        .iter()
        .any(|h| !message.values(h).is_empty());
    let bulk = message
        .values("precedence")
        .iter()
        .any(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "bulk" | "list" | "junk"));
    if automatic || list || bulk {
        return false;
    }
    let mut recipients = Vec::new();
    for field in ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"] {
        for v in message.raw_values(field) {
            recipients.extend(addresses_in(&v));
        }
    }
    own.iter().filter(|o| !o.is_empty()).any(|o| recipients.iter().any(|r| r.eq_ignore_ascii_case(o)))
}

/// Runs a testsuite script (Pigeonhole's `.svtest` files): how many `test` blocks ran and
/// what failed.
#[cfg(test)]
pub(crate) fn testsuite(program: &Program, limits: &Limits, ctx: &mut Context<'_>) -> (usize, Vec<String>) {
    let mut run = Run::new(program, Message::parse(b"\r\n"), ctx, limits);
    if let Err(RunError(e)) = run.block(&program.commands) {
        if !e.starts_with('\u{0}') {
            run.failures.push(format!("outside a test: {e}"));
        }
    }
    (run.tests_run, run.failures)
}
