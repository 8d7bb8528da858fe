//! The durable queue. `enqueue` returns only when the message and its envelope are on
//! stable storage (a 250 after DATA means fsynced: nothing acknowledged is ever lost).
//!
//! Layout under the spool directory:
//! - `queue/QID`: the envelope as short text lines, a blank line, the message as received,
//!   then per-recipient status changes appended one line each and fdatasynced. One file per
//!   message keeps file-system metadata work (create, rename, unlink) to one of each.
//! - `tmp/`: files being written; renamed into `queue/` only once complete and synced, so a
//!   crash leaves either the whole file or nothing (anything in `tmp/` at open is garbage);
//! - `free/`: emptied files of removed messages, reused for new ones. Creating and unlinking a
//!   file per message makes the file system allocate and free an inode each time, which
//!   profiling showed to dominate the server's CPU; renaming a spare file costs far less.
//! - `lock`: every process with the spool open (the server, `sendmail`, `mailq`) holds a shared
//!   `flock` on it. Only a process that gets it exclusively is alone, so only then are `tmp/`
//!   and `free/` swept: a CLI tool starting must not take files the running server is writing.
//!
//! A status record is appended under an exclusive `flock` of the message file, after cutting
//! off a record torn by a crash or a full disk: otherwise the next record would be glued to
//! the fragment and the file would no longer parse (a full disk must never corrupt the queue).
//!
//! **Group commit**: callers hand their message to one committer thread, which takes every
//! request waiting, writes the files, fsyncs them in parallel (so the file system can merge
//! journal commits), renames them, fsyncs `queue/` once for the whole batch and answers all.

mod envelope;
mod id;
mod status;

pub use envelope::{Envelope, Recipient, Status};
pub use id::QueueId;
pub use status::Record;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// One message in the queue, as `list` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Its queue id.
    pub id: QueueId,
    /// Envelope with current recipient statuses.
    pub envelope: Envelope,
    /// Message size in octets.
    pub size: u64,
}

/// Group-commit counters, to observe batching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Batches committed (one directory fsync each).
    pub batches: u64,
    /// Messages committed.
    pub messages: u64,
}

type Reply = Box<dyn FnOnce(io::Result<QueueId>) + Send>;

struct Job {
    id: QueueId,
    envelope: Envelope,
    message: Vec<u8>,
    reply: Reply,
}

/// The spool's directories and its pool of spare files.
struct Dirs {
    queue: PathBuf,
    tmp: PathBuf,
    free: PathBuf,
    spares: Mutex<Vec<PathBuf>>,
}

struct Inner {
    dirs: Arc<Dirs>,
    jobs: mpsc::Sender<Job>,
    batches: AtomicU64,
    messages: AtomicU64,
    /// `spool/lock`, held shared until the last handle is dropped (closing it unlocks).
    _lock: File,
}

/// The queue. Cheap to clone; all clones share one committer thread.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

/// Most files fsynced in parallel by one batch.
const SYNC_THREADS: usize = 8;
/// Most messages in one batch.
const MAX_BATCH: usize = 512;
/// Most spare files kept for reuse.
const MAX_SPARES: usize = 1024;

impl Spool {
    /// Opens (creating) the spool at `dir` and removes what a crash left half-done.
    pub fn open(dir: &Path) -> io::Result<Spool> {
        for d in ["", "queue", "tmp", "free"] {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir.join(d))?;
        }
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join("lock"))?;
        let alone = try_flock(&lock, libc::LOCK_EX | libc::LOCK_NB)?;
        let dirs =
            Dirs { queue: dir.join("queue"), tmp: dir.join("tmp"), free: dir.join("free"), spares: Mutex::default() };
        if alone {
            dirs.clean()?;
        }
        flock(&lock, libc::LOCK_SH)?;
        let dirs = Arc::new(dirs);
        let (tx, rx) = mpsc::channel::<Job>();
        let inner = Arc::new(Inner {
            dirs: dirs.clone(),
            jobs: tx,
            batches: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            _lock: lock,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new().name("spool-commit".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let n = batch.len() as u64;
                commit(&dirs, batch);
                if let Some(inner) = weak.upgrade() {
                    inner.batches.fetch_add(1, Ordering::Relaxed);
                    inner.messages.fetch_add(n, Ordering::Relaxed);
                }
            }
        })?;
        Ok(Spool { inner })
    }

    /// Stores a message; returns its id once it is durable.
    pub async fn enqueue(&self, envelope: Envelope, message: Vec<u8>) -> io::Result<QueueId> {
        self.enqueue_as(QueueId::generate(), envelope, message).await
    }

    /// [`Spool::enqueue`] under an id chosen before (the intake names the message to
    /// content filters before it is queued, as Postfix's `i` macro).
    pub async fn enqueue_as(&self, id: QueueId, envelope: Envelope, message: Vec<u8>) -> io::Result<QueueId> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(id, envelope, message, Box::new(move |r| drop(tx.send(r))))?;
        rx.await.map_err(|_| io::Error::other("the spool committer stopped"))?
    }

    /// Same as [`Spool::enqueue`] for code outside an async runtime (CLI tools).
    pub fn enqueue_blocking(&self, envelope: Envelope, message: Vec<u8>) -> io::Result<QueueId> {
        let (tx, rx) = mpsc::channel();
        self.submit(QueueId::generate(), envelope, message, Box::new(move |r| drop(tx.send(r))))?;
        rx.recv().map_err(|_| io::Error::other("the spool committer stopped"))?
    }

    fn submit(&self, id: QueueId, envelope: Envelope, message: Vec<u8>, reply: Reply) -> io::Result<()> {
        self.inner
            .jobs
            .send(Job { id, envelope, message, reply })
            .map_err(|_| io::Error::other("the spool committer stopped"))
    }

    /// Records a recipient's new status durably.
    pub fn update(&self, id: &QueueId, rcpt: usize, status: Status) -> io::Result<()> {
        self.append_record(id, &status::line(rcpt, &status))
    }

    /// Records several recipients' new statuses with one write and one sync. A crash may
    /// keep a prefix of them (a torn last line is cut), never a misread.
    pub fn update_all(&self, id: &QueueId, changes: &[(usize, Status)]) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let lines: String = changes.iter().map(|(rcpt, status)| status::line(*rcpt, status)).collect();
        self.append_record(id, &lines)
    }

    /// Records durably that the sender was warned of a delay, so it happens once.
    pub fn mark_warned(&self, id: &QueueId) -> io::Result<()> {
        self.append_record(id, &format!("{}\n", status::WARNED))
    }

    fn append_record(&self, id: &QueueId, line: &str) -> io::Result<()> {
        let mut file = OpenOptions::new().read(true).append(true).open(self.message_path(id))?;
        // Cutting a torn record and appending must not interleave with another updater;
        // the lock goes when the file is closed.
        flock(&file, libc::LOCK_EX)?;
        cut_torn_record(&mut file)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }

    /// The envelope (with current statuses) and the message.
    pub fn load(&self, id: &QueueId) -> io::Result<(Envelope, Vec<u8>)> {
        parse_queue_file(&fs::read(self.message_path(id))?)
    }

    /// The envelope with current statuses, without the message.
    pub fn envelope(&self, id: &QueueId) -> io::Result<Envelope> {
        Ok(self.read_head(id)?.0)
    }

    /// The status log of a message, oldest record first (`carrier queue show`).
    pub fn history(&self, id: &QueueId) -> io::Result<Vec<Record>> {
        let mut file = File::open(self.message_path(id))?;
        let head = envelope::decode(&envelope::read_head(&mut file)?)?;
        file.seek(SeekFrom::Start(head.records_at()?))?;
        let mut records = Vec::new();
        file.read_to_end(&mut records)?;
        status::parse(&records)
    }

    fn read_head(&self, id: &QueueId) -> io::Result<(Envelope, u64)> {
        let mut file = File::open(self.message_path(id))?;
        let mut head = envelope::decode(&envelope::read_head(&mut file)?)?;
        // The status records follow the message: skip over it and read them.
        file.seek(SeekFrom::Start(head.records_at()?))?;
        let mut records = Vec::new();
        file.read_to_end(&mut records)?;
        status::apply(&records, &mut head.envelope)?;
        Ok((head.envelope, head.size as u64))
    }

    /// Every message in the queue, oldest first. Safe while another process writes.
    pub fn list(&self) -> io::Result<Vec<Queued>> {
        let mut ids: Vec<QueueId> =
            fs::read_dir(&self.inner.dirs.queue)?.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.read_head(&id) {
                Ok((envelope, size)) => out.push(Queued { id, envelope, size }),
                // Removed (and its file emptied for reuse) while we read it: it is simply gone.
                Err(_) if !self.message_path(&id).exists() => {}
                Err(e) => return Err(io::Error::new(e.kind(), self.explain(&id, e))),
            }
        }
        Ok(out)
    }

    /// Removes a message (delivered, bounced or deleted by the administrator).
    pub fn remove(&self, id: &QueueId) -> io::Result<()> {
        let spare = self.inner.dirs.free.join(id.to_string());
        fs::rename(self.message_path(id), &spare)?;
        self.inner.dirs.keep_spare(spare);
        Ok(())
    }

    /// Group-commit counters since open.
    pub fn commit_stats(&self) -> CommitStats {
        CommitStats {
            batches: self.inner.batches.load(Ordering::Relaxed),
            messages: self.inner.messages.load(Ordering::Relaxed),
        }
    }

    fn message_path(&self, id: &QueueId) -> PathBuf {
        self.inner.dirs.queue.join(id.to_string())
    }

    /// Names the file that could not be read and what the administrator can do about it.
    fn explain(&self, id: &QueueId, e: io::Error) -> String {
        let path = self.message_path(id);
        if e.kind() == io::ErrorKind::InvalidData {
            format!(
                "{}: {e}; move it out of {} to let the rest of the queue run",
                path.display(),
                self.inner.dirs.queue.display()
            )
        } else {
            format!("{}: {e}", path.display())
        }
    }
}

/// Reads a whole queue file: the envelope with its statuses, and the message. A damaged
/// file is an `InvalidData` error, never a misread.
pub fn parse_queue_file(bytes: &[u8]) -> io::Result<(Envelope, Vec<u8>)> {
    let mut head = envelope::decode(bytes)?;
    let end = head.body_at.checked_add(head.size).ok_or_else(|| envelope::corrupt("bad size"))?;
    let body = bytes.get(head.body_at..end).ok_or_else(|| envelope::corrupt("message cut short"))?;
    status::apply(&bytes[end..], &mut head.envelope)?;
    Ok((head.envelope, body.to_vec()))
}

/// `flock(2)`, retried when a signal interrupts it.
fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Non-blocking `flock`: false when another process holds a conflicting lock.
fn try_flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    match flock(file, op) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// A last status record without its '\n' was torn by a crash or a failed write and never
/// acknowledged; readers ignore it, but a record appended after it would be glued to it.
/// So it is cut off first. The caller holds the file's lock.
fn cut_torn_record(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let head = envelope::decode(&envelope::read_head(&mut *file)?)?;
    let records_at = head.records_at()?;
    if len <= records_at {
        return Ok(());
    }
    file.seek(SeekFrom::Start(records_at))?;
    let mut records = Vec::new();
    file.read_to_end(&mut records)?;
    if records.last() == Some(&b'\n') {
        return Ok(());
    }
    let keep = records.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    file.set_len(records_at + keep as u64)
}

impl Dirs {
    /// Files in `tmp/` after a crash were never acknowledged: they become spares, as do
    /// the spares of an earlier run. Only called when no other process has the spool open.
    fn clean(&self) -> io::Result<()> {
        for entry in fs::read_dir(&self.tmp)? {
            let path = entry?.path();
            let spare = self.free.join(path.file_name().unwrap_or_default());
            fs::rename(&path, &spare)?;
        }
        for entry in fs::read_dir(&self.free)? {
            self.keep_spare(entry?.path());
        }
        Ok(())
    }

    /// Empties a removed message's file and keeps it for reuse (or unlinks it when the
    /// pool is full). Emptying it now means deleted mail does not linger on disk.
    fn keep_spare(&self, spare: PathBuf) {
        let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
        let emptied = OpenOptions::new().write(true).open(&spare).and_then(|f| f.set_len(0));
        if spares.len() < MAX_SPARES && emptied.is_ok() {
            spares.push(spare);
        } else {
            let _ = fs::remove_file(&spare);
        }
    }

    /// Opens `tmp/<id>` for writing: a reused spare file if there is one, else a new one.
    fn open_tmp(&self, id: &QueueId) -> io::Result<File> {
        let path = self.tmp.join(id.to_string());
        let spare = self.spares.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(spare) = spare
            && fs::rename(&spare, &path).is_ok()
        {
            return OpenOptions::new().write(true).truncate(true).open(&path);
        }
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)
    }
}

/// Writes, syncs and publishes one batch, then answers every caller.
fn commit(dirs: &Dirs, batch: Vec<Job>) {
    let written: Vec<(Job, io::Result<(QueueId, File)>)> = batch
        .into_iter()
        .map(|job| {
            let r = write_tmp(dirs, &job);
            (job, r)
        })
        .collect();
    // fsync in parallel: concurrent fsyncs let the file system merge journal commits.
    let files: Vec<&File> = written.iter().filter_map(|(_, r)| r.as_ref().ok().map(|(_, f)| f)).collect();
    let mut sync_errors = sync_all(&files).into_iter();
    let mut results = Vec::with_capacity(written.len());
    for (job, r) in written {
        let r = r.and_then(|(id, file)| {
            drop(file);
            let published = match sync_errors.next().flatten() {
                Some(e) => Err(e),
                None => publish(dirs, &id),
            };
            // Not durable, so not acknowledged: the half-done file goes now, not at restart.
            if published.is_err() {
                let _ = fs::remove_file(dirs.tmp.join(id.to_string()));
            }
            published.map(|_| id)
        });
        results.push((job.reply, r));
    }
    // One directory fsync makes every rename of the batch durable.
    let dir_sync = File::open(&dirs.queue).and_then(|d| d.sync_all());
    for (reply, r) in results {
        reply(match (&dir_sync, r) {
            (Err(e), Ok(id)) => {
                let _ = fs::remove_file(dirs.queue.join(id.to_string()));
                Err(io::Error::new(e.kind(), e.to_string()))
            }
            (_, r) => r,
        });
    }
}

fn write_tmp(dirs: &Dirs, job: &Job) -> io::Result<(QueueId, File)> {
    let id = job.id.clone();
    let path = dirs.tmp.join(id.to_string());
    let result = (|| {
        let mut file = dirs.open_tmp(&id)?;
        file.write_all(&envelope::encode(&job.envelope, job.message.len()))?;
        file.write_all(&job.message)?;
        Ok(file)
    })();
    match result {
        Ok(file) => Ok((id, file)),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Moves a complete, synced file into the queue.
fn publish(dirs: &Dirs, id: &QueueId) -> io::Result<()> {
    fs::rename(dirs.tmp.join(id.to_string()), dirs.queue.join(id.to_string()))
}

/// fdatasync every file, spread over a few threads; one result per file.
fn sync_all(files: &[&File]) -> Vec<Option<io::Error>> {
    if files.len() <= 1 {
        return files.iter().map(|f| f.sync_data().err()).collect();
    }
    let per_thread = files.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| (chunk.len(), s.spawn(move || chunk.iter().map(|f| f.sync_data().err()).collect::<Vec<_>>())))
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                // A dead sync thread means those files are not known to be durable.
                h.join().unwrap_or_else(|_| (0..n).map(|_| Some(io::Error::other("fsync thread failed"))).collect())
            })
            .collect()
    })
}
