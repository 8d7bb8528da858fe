//! Resolving a recipient: local domain? which users? through which aliases?

use crate::address::{is_routing_trick, normalize, split};
use crate::aliases::AliasFile;
use crate::srs::Srs;
use crate::users::UserDb;
use std::collections::HashSet;

/// A final destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A local account's mailbox (canonical address).
    Mailbox(String),
    /// An address in another domain (relayed).
    Remote(String),
}

/// What an address resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Deliver to these destinations.
    Deliver(Vec<Route>),
    /// A local domain without such a user or alias.
    UnknownUser,
    /// Not one of our domains.
    NotLocal,
    /// The aliases loop (or nest too deep); the text shows the chain.
    Loop(String),
}

/// How many aliases one expansion may pass through (sendmail's MAXRCRSN is 10; we allow more).
const MAX_DEPTH: usize = 20;

/// Users, aliases and local domains together.
#[derive(Debug, Clone)]
pub struct Directory {
    domains: Vec<String>,
    users: UserDb,
    aliases: Option<AliasFile>,
    /// Rewrites the senders of forwarded mail, and takes their bounces back.
    srs: Option<Srs>,
}

/// What one address means before alias targets are followed.
enum Meaning {
    /// An alias: its name (the key that matched) and targets.
    Alias(String, Vec<String>),
    /// A user's canonical address.
    User(String),
    /// Neither.
    Nothing,
}

/// Why an expansion stopped.
#[derive(Debug)]
enum Failure {
    /// The chain of alias names, ending with the one met again.
    Loop(Vec<String>),
    /// The chain of alias names that grew past MAX_DEPTH.
    TooDeep(Vec<String>),
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Loop(chain) => format!("alias loop: {}", chain.join(" -> ")),
            Failure::TooDeep(chain) => format!("aliases nest deeper than {MAX_DEPTH} levels: {}", chain.join(" -> ")),
        }
    }

    /// The same cycle found from any of its names reads the same: only the cycle itself,
    /// starting at its smallest name.
    fn canonical(self) -> String {
        let Failure::Loop(chain) = self else {
            return self.describe();
        };
        let last = chain.last().cloned().unwrap_or_default();
        let start = chain.iter().position(|n| *n == last).unwrap_or(0);
        let mut cycle = chain[start..chain.len() - 1].to_vec();
        let min = cycle.iter().enumerate().min_by_key(|(_, n)| n.as_str()).map_or(0, |(i, _)| i);
        cycle.rotate_left(min);
        cycle.push(cycle[0].clone());
        Failure::Loop(cycle).describe()
    }
}

impl Directory {
    /// Builds a directory; `domains` are the local domains (all share one namespace).
    pub fn new(domains: Vec<String>, users: UserDb, aliases: Option<AliasFile>) -> Directory {
        let domains = domains.iter().map(|d| normalize(d.strip_suffix('.').unwrap_or(d))).collect();
        Directory { domains, users, aliases, srs: None }
    }

    /// Takes bounces to our SRS addresses (in `srs`'s domain, one of ours) back to the
    /// senders they stand for.
    pub fn with_srs(mut self, srs: Srs) -> Directory {
        self.srs = Some(srs);
        self
    }

    /// The sender rewriting of forwarded mail, when on.
    pub fn srs(&self) -> Option<&Srs> {
        self.srs.as_ref()
    }

    /// True for a local domain (case-insensitive, trailing dot ignored).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        let d = domain.strip_suffix('.').unwrap_or(domain);
        self.domains.iter().any(|l| l.eq_ignore_ascii_case(d))
    }

    /// The user database.
    pub fn users(&self) -> &UserDb {
        &self.users
    }

    /// The aliases file, when one is configured.
    pub fn alias_file(&self) -> Option<&AliasFile> {
        self.aliases.as_ref()
    }

    /// Re-reads users and aliases if their files changed; returns problems and warnings to log.
    pub fn refresh(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.users.reload_if_changed() {
            problems.push(format!("cannot re-read the user database: {e}; the previous accounts stay in force"));
        }
        if let Some(aliases) = self.aliases.as_mut() {
            match aliases.reload_if_changed() {
                Ok(true) => problems.extend(aliases.warnings().iter().cloned()),
                Ok(false) => {}
                Err(e) => problems.push(format!("{e}; the previous aliases stay in force")),
            }
        }
        problems
    }

    /// Resolves one address (RFC 5321 mailbox) to its destinations.
    pub fn resolve(&self, address: &str) -> Lookup {
        let Some((local, domain)) = split(address) else {
            // RFC 5321 4.5.1: a bare "Postmaster" (no domain) must be accepted.
            return match self.domains.first() {
                Some(first) if address.eq_ignore_ascii_case("postmaster") => {
                    self.resolve(&format!("postmaster@{first}"))
                }
                _ => Lookup::UnknownUser,
            };
        };
        if !self.is_local_domain(domain) {
            return Lookup::NotLocal;
        }
        if let Some(srs) = self.srs.as_ref().filter(|s| Srs::is_srs(local) && domain.eq_ignore_ascii_case(s.domain())) {
            // A bounce of mail we forwarded: back to its sender. Anything we did not make,
            // or that has expired, is no one here.
            let today = crate::srs::day_of(std::time::SystemTime::now());
            return match srs.reverse(address, today) {
                Ok(original) => Lookup::Deliver(vec![Route::Remote(original)]),
                Err(_) => Lookup::UnknownUser,
            };
        }
        let mut out = Vec::new();
        match self.expand(local, &domain.to_lowercase(), &mut Vec::new(), &mut out) {
            Err(failure) => Lookup::Loop(failure.describe()),
            // RFC 5321 4.5.1: postmaster MUST be accepted. Without an alias or account it
            // goes to the postmaster mailbox of the first domain, ready for when one is made.
            Ok(()) if out.is_empty() && local.eq_ignore_ascii_case("postmaster") => {
                let first = self.domains.first().map_or(domain, String::as_str);
                Lookup::Deliver(vec![Route::Mailbox(format!("postmaster@{first}"))])
            }
            Ok(()) if out.is_empty() => Lookup::UnknownUser,
            Ok(()) => Lookup::Deliver(out),
        }
    }

    /// Aliases an account hides: an alias `name:` in the aliases file and an account
    /// `name@<local domain>` are the same address, and the account wins (the lookup order
    /// in `meaning`), so the alias's targets get nothing. An alias naming itself
    /// (`bob: bob, bob@elsewhere.org`) is the user's own forwarding and hides nothing.
    /// Each is a sentence for a log line or `carrier check`.
    pub fn shadowed_aliases(&self) -> Vec<String> {
        let Some(file) = &self.aliases else { return Vec::new() };
        let aliases = file.aliases();
        let mut out = Vec::new();
        for name in aliases.names().filter(|n| !n.contains('@')) {
            let targets = aliases.get(name).unwrap_or_default();
            if self.names_itself(name, targets) {
                continue;
            }
            for domain in &self.domains {
                let account = format!("{name}@{domain}");
                if self.users.contains(&account) {
                    out.push(format!(
                        "the account {account} hides the alias `{name}`: mail to {account} goes to the account, not \
                         to {}",
                        targets.join(", ")
                    ));
                }
            }
        }
        out
    }

    /// Every alias loop (and over-deep chain) in the table, each once, for start-up
    /// warnings and `carrier check`.
    pub fn alias_loops(&self) -> Vec<String> {
        let Some(file) = &self.aliases else {
            return Vec::new();
        };
        let aliases = file.aliases();
        // Names no alias points at come first, so a deep chain is reported from its head.
        let targeted: HashSet<String> =
            aliases.names().flat_map(|n| aliases.get(n).unwrap_or_default()).map(|t| target_key(t)).collect();
        let mut names: Vec<&str> = aliases.names().collect();
        names.sort_by_key(|n| (targeted.contains(*n), *n));
        let mut found: Vec<String> = Vec::new();
        let mut in_deep_chain: HashSet<String> = HashSet::new();
        for name in names {
            for (local, domain) in self.places(name) {
                if in_deep_chain.contains(name) {
                    continue;
                }
                let Err(failure) = self.expand(local, &domain, &mut Vec::new(), &mut Vec::new()) else {
                    continue;
                };
                if let Failure::TooDeep(chain) = &failure {
                    in_deep_chain.extend(chain.iter().cloned());
                }
                let text = failure.canonical();
                if !found.contains(&text) {
                    found.push(text);
                }
            }
        }
        found
    }

    /// Where an alias name applies: its own domain for a full address, else every local domain.
    fn places<'a>(&self, name: &'a str) -> Vec<(&'a str, String)> {
        match split(name) {
            Some((local, domain)) => vec![(local, domain.to_string())],
            None => self.domains.iter().map(|d| (name, d.clone())).collect(),
        }
    }

    /// Resolves `local@domain` (domain local and lower-case) into `out`.
    fn expand(&self, local: &str, domain: &str, chain: &mut Vec<String>, out: &mut Vec<Route>) -> Result<(), Failure> {
        // No open relay by trick: routing characters in a local part are never interpreted
        // (RFC 5321 3.6.2).
        if is_routing_trick(local) {
            return Ok(());
        }
        let local = local.to_lowercase();
        match self.meaning(&local, domain) {
            Meaning::Alias(name, targets) => self.expand_alias(name, &targets, domain, chain, out),
            Meaning::User(user) => {
                push(out, Route::Mailbox(user));
                Ok(())
            }
            // Subaddressing: `user+tag` is `user` when `user+tag` itself is unknown
            // (recipient delimiter '+', as Postfix's recipient_delimiter; RFC 5233).
            Meaning::Nothing => match local.split_once('+') {
                Some((base, _tag)) => self.expand(base, domain, chain, out),
                None => Ok(()),
            },
        }
    }

    /// Follows an alias's targets; `domain` is the domain of the address that reached it.
    fn expand_alias(
        &self,
        name: String,
        targets: &[String],
        domain: &str,
        chain: &mut Vec<String>,
        out: &mut Vec<Route>,
    ) -> Result<(), Failure> {
        if chain.contains(&name) {
            chain.push(name);
            return Err(Failure::Loop(chain.clone()));
        }
        if chain.len() >= MAX_DEPTH {
            chain.push(name);
            return Err(Failure::TooDeep(chain.clone()));
        }
        chain.push(name);
        for target in targets {
            // sendmail's `\bob`: the user bob itself, not expanded again.
            if let Some(user) = target.strip_prefix('\\') {
                self.deliver_to_user(user, domain, out);
                continue;
            }
            // A bare name is that local part in the same domain.
            let (t_local, t_domain) =
                split(target).map_or((target.as_str(), domain.to_string()), |(l, d)| (l, d.to_lowercase()));
            if !self.is_local_domain(&t_domain) {
                push(out, Route::Remote(target.clone()));
            } else if self.alias_name(&t_local.to_lowercase(), &t_domain).as_ref() == chain.last() {
                // An alias naming itself (`bob: bob, bob@elsewhere.org`) means the user bob.
                self.deliver_to_user(t_local, &t_domain, out);
            } else {
                self.expand(t_local, &t_domain, chain, out)?;
            }
        }
        chain.pop();
        Ok(())
    }

    /// The user a name means, without alias expansion; nothing when there is none.
    fn deliver_to_user(&self, local: &str, domain: &str, out: &mut Vec<Route>) {
        if !is_routing_trick(local)
            && let Some(user) = self.user_for(&local.to_lowercase(), domain)
        {
            push(out, Route::Mailbox(user));
        }
    }

    /// The lookup order: an alias for the full address; the user with that exact address;
    /// an alias for the bare local part; the only user with that local part in any local
    /// domain. A bare alias naming itself is that user's own forwarding rule, so it applies
    /// even though the user exists (sendmail's `bob: bob, bob@elsewhere.org`).
    fn meaning(&self, local: &str, domain: &str) -> Meaning {
        let aliases = self.aliases.as_ref().map(AliasFile::aliases);
        let full = format!("{local}@{domain}");
        if let Some(targets) = aliases.and_then(|a| a.get(&full)) {
            return Meaning::Alias(full, targets.to_vec());
        }
        let bare = aliases.and_then(|a| a.get(local));
        if self.users.contains(&full) && !bare.is_some_and(|t| self.names_itself(local, t)) {
            return Meaning::User(full);
        }
        if let Some(targets) = bare {
            return Meaning::Alias(local.to_string(), targets.to_vec());
        }
        self.user_for(local, domain).map_or(Meaning::Nothing, Meaning::User)
    }

    /// True when the bare alias `name` lists itself among its targets.
    fn names_itself(&self, name: &str, targets: &[String]) -> bool {
        targets.iter().any(|t| match split(t) {
            Some((l, d)) => l.eq_ignore_ascii_case(name) && self.is_local_domain(d),
            None => t.trim_start_matches('\\').eq_ignore_ascii_case(name),
        })
    }

    /// The name of the alias that `local@domain` would meet first, if any.
    fn alias_name(&self, local: &str, domain: &str) -> Option<String> {
        let aliases = self.aliases.as_ref()?.aliases();
        let full = format!("{local}@{domain}");
        if aliases.get(&full).is_some() { Some(full) } else { aliases.get(local).map(|_| local.to_string()) }
    }

    /// The exact account, else the only account with this local part in any local domain
    /// (all local domains share one namespace, like sendmail's local-host-names).
    fn user_for(&self, local: &str, domain: &str) -> Option<String> {
        let full = format!("{local}@{domain}");
        if self.users.contains(&full) {
            return Some(full);
        }
        let mut matches: Vec<String> = self
            .users
            .with_local_part(local)
            .into_iter()
            .filter(|a| split(a).is_some_and(|(_, d)| self.is_local_domain(d)))
            .collect();
        if matches.len() == 1 { matches.pop() } else { None }
    }
}

/// The alias key a target would look up first (for ordering loop reports).
fn target_key(target: &str) -> String {
    normalize(target.trim_start_matches('\\'))
}

/// Adds a route once, keeping the first position.
fn push(out: &mut Vec<Route>, route: Route) {
    if !out.contains(&route) {
        out.push(route);
    }
}
