//! Measures enqueue throughput: 2,000 messages of 1 KiB from 20 concurrent tasks.
//! `cargo run --release -p carrier-spool --example enqueue_bench -- [DIR]` (DIR on the disk
//! the spool will use; a tmpfs measures no fsync at all).

use carrier_spool::{Envelope, Recipient, Spool, Status};
use std::time::{Instant, SystemTime};

const TASKS: usize = 20;
const PER_TASK: usize = 100;

fn envelope() -> Envelope {
    Envelope {
        sender: "sender@example.net".into(),
        recipients: vec![Recipient {
            address: "bob@example.com".into(),
            orig: "bob@example.com".into(),
            local: true,
            status: Status::Pending,
        }],
        received: SystemTime::now(),
        client_ip: Some("192.0.2.1".parse().expect("literal address")),
        client_name: "unknown".into(),
        helo: "client.example.net".into(),
        proto: "ESMTP".into(),
        smtputf8: false,
        body_8bit: false,
        warned: false,
    }
}

fn main() -> std::io::Result<()> {
    let base = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let dir = std::path::Path::new(&base).join(format!("enqueue-bench-{}", std::process::id()));
    let spool = Spool::open(&dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let spool = spool.clone();
                tokio::spawn(async move {
                    for _ in 0..PER_TASK {
                        spool.enqueue(envelope(), vec![b'x'; 1024]).await?;
                    }
                    Ok::<_, std::io::Error>(())
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task panicked")?;
        }
        Ok::<_, std::io::Error>(())
    })?;
    let elapsed = start.elapsed();
    let n = TASKS * PER_TASK;
    let stats = spool.commit_stats();
    println!(
        "{n} messages in {:.3}s: {:.0} msgs/s; {} batches (directory fsyncs), {:.1} messages per batch",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        stats.batches,
        stats.messages as f64 / stats.batches as f64
    );
    drop(spool);
    std::fs::remove_dir_all(&dir)
}
