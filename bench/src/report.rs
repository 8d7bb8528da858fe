//! Medians, ratios and the Markdown table.

use std::fmt::Write;

/// Which way is better for a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Better {
    Higher,
    Lower,
}

/// What a row must show for the goals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// carrier ÷ peer at least this (higher is better), or at most this (lower is better).
    Ratio(f64),
    /// carrier's median below this value.
    Below(f64),
}

/// One measured quantity on both sides.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub better: Better,
    pub carrier: Vec<f64>,
    pub peer: Vec<f64>,
    /// The server compared with ("Postfix", "Dovecot").
    pub peer_name: &'static str,
    pub target: Option<Target>,
    /// Why carrier has no number, if it has none.
    pub carrier_missing: Option<&'static str>,
}

impl Row {
    pub fn new(name: &str, unit: &'static str, better: Better, peer_name: &'static str) -> Row {
        Row {
            name: name.into(),
            unit,
            better,
            carrier: Vec::new(),
            peer: Vec::new(),
            peer_name,
            target: None,
            carrier_missing: None,
        }
    }

    pub fn target(mut self, t: Target) -> Row {
        self.target = Some(t);
        self
    }

    fn ratio(&self) -> Option<f64> {
        Some(median(&self.carrier)? / median(&self.peer)?)
    }

    /// Whether the target is met (None: no target or no numbers).
    pub fn met(&self) -> Option<bool> {
        match self.target? {
            Target::Ratio(r) => {
                let ratio = self.ratio()?;
                Some(if self.better == Better::Higher { ratio >= r } else { ratio <= r })
            }
            Target::Below(v) => Some(median(&self.carrier)? < v),
        }
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn target_text(row: &Row) -> String {
    match (row.target, row.met()) {
        (None, _) => String::new(),
        (Some(t), met) => {
            let t = match t {
                Target::Ratio(r) if row.better == Better::Higher => format!("ratio ≥ {r}"),
                Target::Ratio(r) => format!("ratio ≤ {r}"),
                Target::Below(v) => format!("< {} {}", num(v), row.unit),
            };
            let mark = match met {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "n/a",
            };
            format!("{t}: {mark}")
        }
    }
}

/// The results table (Markdown), then every sample.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| load | unit | better | carrier | peer | peer median | carrier/peer | target |\n");
    out.push_str("|---|---|---|---:|---|---:|---:|---|\n");
    for r in rows {
        let carrier = match (median(&r.carrier), r.carrier_missing) {
            (Some(m), _) => num(m),
            (None, Some(why)) => why.to_string(),
            (None, None) => "—".into(),
        };
        let peer = median(&r.peer).map_or("—".into(), num);
        let ratio = r.ratio().map_or("—".into(), |x| format!("{x:.2}"));
        let better = if r.better == Better::Higher { "higher" } else { "lower" };
        let _ = writeln!(
            out,
            "| {} | {} | {better} | {carrier} | {} | {peer} | {ratio} | {} |",
            r.name,
            r.unit,
            r.peer_name,
            target_text(r)
        );
    }
    out.push_str("\nEvery sample, in the order measured:\n\n");
    for r in rows {
        let list = |v: &[f64]| v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "- {} ({}): carrier [{}]; {} [{}]",
            r.name,
            r.unit,
            list(&r.carrier),
            r.peer_name,
            list(&r.peer)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_targets() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let mut r = Row::new("x", "msg/s", Better::Higher, "Postfix").target(Target::Ratio(2.0));
        r.carrier = vec![200.0];
        r.peer = vec![100.0];
        assert_eq!(r.met(), Some(true));
        r.peer = vec![101.0];
        assert_eq!(r.met(), Some(false));
    }
}
