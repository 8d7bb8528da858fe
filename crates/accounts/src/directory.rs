//! Resolving a recipient: local domain? which users? through which aliases?

use crate::address::{is_routing_trick, normalize, split};
use crate::aliases::AliasFile;
use crate::users::UserDb;

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
    /// The aliases loop; the text shows the cycle.
    Loop(String),
}

/// sendmail's recursion limit for aliases is similar.
const MAX_DEPTH: usize = 20;

/// Users, aliases and local domains together.
#[derive(Debug)]
pub struct Directory {
    domains: Vec<String>,
    users: UserDb,
    aliases: Option<AliasFile>,
}

impl Directory {
    /// Builds a directory; `domains` are the local domains (all share one namespace).
    pub fn new(domains: Vec<String>, users: UserDb, aliases: Option<AliasFile>) -> Directory {
        let domains = domains.iter().map(|d| normalize(d.strip_suffix('.').unwrap_or(d))).collect();
        Directory { domains, users, aliases }
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

    /// Re-reads users and aliases if their files changed; returns problems to log.
    pub fn refresh(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.users.reload_if_changed() {
            problems.push(format!("cannot re-read the user database: {e}"));
        }
        if let Some(aliases) = self.aliases.as_mut() {
            match aliases.reload_if_changed() {
                Ok(warnings) => problems.extend(warnings),
                Err(e) => problems.push(format!("{e}; the previous aliases stay in force")),
            }
        }
        problems
    }

    /// Resolves one address (RFC 5321 mailbox) to its destinations.
    pub fn resolve(&self, address: &str) -> Lookup {
        let Some((local, domain)) = split(address) else {
            return Lookup::UnknownUser;
        };
        if !self.is_local_domain(domain) {
            return Lookup::NotLocal;
        }
        let mut out = Vec::new();
        match self.expand(local, &domain.to_lowercase(), &mut Vec::new(), &mut out, false) {
            Err(cycle) => Lookup::Loop(cycle),
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

    /// Every alias loop in the table, for start-up warnings and `carrier check`.
    pub fn alias_loops(&self) -> Vec<String> {
        let Some(file) = &self.aliases else {
            return Vec::new();
        };
        let domain = self.domains.first().cloned().unwrap_or_default();
        let mut loops: Vec<String> = Vec::new();
        let mut names: Vec<&str> = file.aliases().names().collect();
        names.sort();
        for name in names {
            let (local, dom) = split(name).unwrap_or((name, &domain));
            if let Err(cycle) = self.expand(local, dom, &mut Vec::new(), &mut Vec::new(), false)
                && !loops.contains(&cycle)
            {
                loops.push(cycle);
            }
        }
        loops
    }

    fn expand(
        &self,
        local: &str,
        domain: &str,
        chain: &mut Vec<String>,
        out: &mut Vec<Route>,
        skip_alias: bool,
    ) -> Result<(), String> {
        // DESIGN §4: routing tricks in a local part are never interpreted.
        if is_routing_trick(local) {
            return Ok(());
        }
        let local = local.to_lowercase();
        if chain.len() > MAX_DEPTH {
            return Err(format!("aliases nest deeper than {MAX_DEPTH} levels: {}", chain.join(" -> ")));
        }
        if !skip_alias && let Some((name, targets)) = self.alias_for(&local, domain) {
            if chain.contains(&name) {
                return Err(format!("alias loop: {} -> {name}", chain.join(" -> ")));
            }
            chain.push(name.clone());
            for target in targets {
                let (t_local, t_domain) =
                    split(&target).map_or((target.as_str(), domain.to_string()), |(l, d)| (l, d.to_lowercase()));
                if !self.is_local_domain(&t_domain) {
                    push(out, Route::Remote(target.clone()));
                    continue;
                }
                // `bob: bob, bob@elsewhere` means "and also deliver to the user bob".
                let itself = t_local.eq_ignore_ascii_case(&name) || normalize(&target) == name;
                self.expand(t_local, &t_domain, chain, out, itself)?;
            }
            chain.pop();
            return Ok(());
        }
        if let Some(user) = self.user_for(&local, domain) {
            push(out, Route::Mailbox(user));
        } else if let Some((base, _tag)) = local.split_once('+') {
            // Subaddressing (recipient delimiter '+', as Postfix's recipient_delimiter).
            self.expand(base, domain, chain, out, skip_alias)?;
        }
        Ok(())
    }

    /// An alias for the full address, else for the local part. Aliases come before users,
    /// as in sendmail and Postfix's local(8), so `bob: bob, bob@elsewhere` keeps a copy and forwards.
    fn alias_for(&self, local: &str, domain: &str) -> Option<(String, Vec<String>)> {
        let aliases = self.aliases.as_ref()?.aliases();
        let full = format!("{local}@{domain}");
        if let Some(t) = aliases.get(&full) {
            return Some((full, t.to_vec()));
        }
        aliases.get(local).map(|t| (local.to_string(), t.to_vec()))
    }

    /// The exact account, else the only account with this local part in any local domain.
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

fn push(out: &mut Vec<Route>, route: Route) {
    if !out.contains(&route) {
        out.push(route);
    }
}
