//! Memory of a server's process tree, from /proc: RSS summed over the processes, and PSS
//! (proportional set size: shared pages divided among the processes that share them), which is
//! the fair sum for multi-process servers such as Postfix and Dovecot.

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kilobytes of one process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub rss_kib: u64,
    pub pss_kib: u64,
    pub processes: usize,
}

/// `root` and all its descendants.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if let Some(ppid) = parent(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        out.extend(children.get(&out[i]).into_iter().flatten().copied());
        i += 1;
    }
    out
}

fn parent(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// RSS and PSS summed over the tree under `root`.
pub fn usage(root: u32) -> Usage {
    let mut u = Usage::default();
    for pid in tree(root) {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else { continue };
        u.processes += 1;
        for line in text.lines() {
            let kib = |prefix: &str| {
                line.strip_prefix(prefix).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            };
            if let Some(k) = kib("Rss:") {
                u.rss_kib += k;
            } else if let Some(k) = kib("Pss:") {
                u.pss_kib += k;
            }
        }
    }
    u
}

/// Samples the trees of named servers in the background and keeps each one's peak.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<HashMap<String, Usage>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Samples `servers` (name, root pid) every `every`.
    pub fn start(servers: Vec<(String, u32)>, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Arc<Mutex<HashMap<String, Usage>>> = Arc::default();
        let (s, p) = (stop.clone(), peaks.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for (name, pid) in &servers {
                    let now = usage(*pid);
                    let mut peaks = p.lock().unwrap();
                    let peak = peaks.entry(name.clone()).or_default();
                    peak.rss_kib = peak.rss_kib.max(now.rss_kib);
                    peak.pss_kib = peak.pss_kib.max(now.pss_kib);
                    peak.processes = peak.processes.max(now.processes);
                }
                std::thread::sleep(every);
            }
        });
        Sampler { stop, peaks, handle: Some(handle) }
    }

    /// Stops sampling; the peak of each server.
    pub fn finish(mut self) -> HashMap<String, Usage> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peaks.lock().unwrap().clone()
    }
}
