//! The spool's enqueue path: one message at a time (every enqueue pays a whole commit: file
//! write, fdatasync, rename, directory fsync) and 20 concurrent enqueuers sharing commits.
//! Run it on the disk the spool lives on: the numbers are mostly the disk's fsync latency.
//! `cargo bench --manifest-path bench/Cargo.toml --bench spool`.

use carrier_spool::{Envelope, Recipient, Spool, Status};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, SystemTime};

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
        junk: false,
    }
}

fn enqueue(c: &mut Criterion) {
    // Next to the target directory: on disk, not on a tmpfs /tmp.
    let base = std::env::current_dir().expect("current directory");
    let dir = tempfile::tempdir_in(&base).expect("temporary directory");
    let spool = Spool::open(dir.path()).expect("spool");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut g = c.benchmark_group("spool");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    g.bench_function("enqueue 1 KiB, alone", |b| {
        b.iter(|| {
            let id = spool.enqueue_blocking(envelope(), vec![b'x'; 1024]).expect("enqueue");
            spool.remove(&id).expect("remove");
        })
    });
    const TASKS: u64 = 20;
    g.throughput(Throughput::Elements(TASKS));
    g.bench_function("enqueue 1 KiB, 20 at once", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let spool = spool.clone();
                        tokio::spawn(async move { spool.enqueue(envelope(), vec![b'x'; 1024]).await })
                    })
                    .collect();
                for t in tasks {
                    let id = t.await.expect("task").expect("enqueue");
                    spool.remove(&id).expect("remove");
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, enqueue);
criterion_main!(benches);
