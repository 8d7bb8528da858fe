//! Running as root only as long as needed. The unit `carrier init` writes starts the daemon
//! as `user` with CAP_NET_BIND_SERVICE alone (docs/operations.md), and nothing here runs then.
//! `serve` started as root binds its ports (25, 465, 587 need root), creates its control
//! socket and reads its certificate, then becomes the configured `user` for good. data_dir is
//! made that user's, so the queue, mailboxes and accounts stay writable.
//!
//! `auth = "system"` reads the shadow file after the switch. Rather than keep a capability
//! (CAP_DAC_READ_SEARCH would let the daemon read every file on the host) or a descriptor
//! opened as root (stale once `passwd` replaces the file), the daemon keeps one supplementary
//! group: the shadow file's own group (`shadow` on Debian, mode 0640), which grants exactly
//! that file and follows password changes.

use carrier_accounts::passwd;
use carrier_config::{AuthSource, Config};
use std::os::unix::fs::{MetadataExt, lchown};
use std::path::Path;
use tracing::{info, warn};

/// Who the daemon becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group.
    pub gid: u32,
    /// Supplementary groups kept (the shadow file's group for `auth = "system"`).
    pub groups: Vec<u32>,
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The account to switch to: None when not running as root (then nothing changes) or when
/// no `user` is configured (then a warning says the daemon keeps running as root).
pub fn target(cfg: &Config) -> Result<Option<Target>, String> {
    let Some(name) = &cfg.user else {
        if is_root() {
            warn!(
                "running as root: set `user = \"carrier\"` in carrier.toml so the daemon gives up root after binding its ports"
            );
        }
        return Ok(None);
    };
    let account = passwd::by_name(name).ok_or_else(|| {
        format!(
            "`user`: the account {name:?} does not exist; create it (adduser --system --group {name}) or change `user`"
        )
    })?;
    if !is_root() {
        // SAFETY: getuid cannot fail.
        if unsafe { libc::getuid() } != account.uid {
            warn!("not started as root, so cannot switch to user {name}; running as the invoking user");
        }
        return Ok(None);
    }
    if account.uid == 0 {
        return Err(format!("`user`: {name:?} is root; name an unprivileged account such as \"carrier\""));
    }
    let mut groups = Vec::new();
    if cfg.auth == AuthSource::System {
        let shadow = &cfg.submission.shadow_file;
        let meta = std::fs::metadata(shadow)
            .map_err(|e| format!("auth = \"system\": cannot read {}: {e}", shadow.display()))?;
        if meta.mode() & 0o040 == 0 {
            warn!(
                "auth = \"system\": {} is not readable by its group; after switching to {name} logins will fail \
                 (chmod g+r {})",
                shadow.display(),
                shadow.display()
            );
        }
        groups.push(meta.gid());
    }
    Ok(Some(Target { name: name.clone(), uid: account.uid, gid: account.gid, groups }))
}

/// Gives data_dir to the target user. Directories the user already owns were made by the
/// daemon and are not walked (mailboxes can be large); pickup files keep their submitters.
pub fn own_data_dir(data_dir: &Path, t: &Target) -> Result<(), String> {
    give(data_dir, t).map_err(|e| format!("cannot give {} to user {}: {e}", data_dir.display(), t.name))
}

fn give(path: &Path, t: &Target) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let already = meta.uid() == t.uid;
    if !already {
        lchown(path, Some(t.uid), Some(t.gid))?;
    }
    let walk = meta.is_dir() && !already && path.file_name().is_none_or(|n| n != "pickup");
    if walk {
        for entry in std::fs::read_dir(path)? {
            give(&entry?.path(), t)?;
        }
    }
    Ok(())
}

/// Gives one file made by a command run as root (e.g. the users file after `carrier user
/// add`) to the configured user, so the daemon can still read it.
pub fn own(cfg: &Config, path: &Path) -> Result<(), String> {
    let Some(name) = cfg.user.as_ref().filter(|_| is_root()) else { return Ok(()) };
    let Some(account) = passwd::by_name(name) else { return Ok(()) };
    lchown(path, Some(account.uid), Some(account.gid))
        .map_err(|e| format!("cannot give {} to user {name}: {e}", path.display()))
}

/// Switches for good: groups first, then the user id (after which neither can change back).
pub fn drop_to(t: &Target) -> Result<(), String> {
    let groups: Vec<libc::gid_t> = std::iter::once(t.gid).chain(t.groups.iter().copied()).collect();
    // SAFETY: plain system calls with valid arguments. glibc applies set*id to every thread.
    unsafe {
        if libc::setgroups(groups.len(), groups.as_ptr()) != 0 || libc::setgid(t.gid) != 0 || libc::setuid(t.uid) != 0 {
            return Err(format!("cannot switch to user {}: {}", t.name, std::io::Error::last_os_error()));
        }
        if libc::setuid(0) == 0 {
            return Err(format!("switched to user {} but could regain root; refusing to run", t.name));
        }
    }
    let extra = match t.groups.as_slice() {
        [] => String::new(),
        groups => format!(", extra groups {}", groups.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")),
    };
    info!("running as user {} (uid {}, gid {}{extra})", t.name, t.uid, t.gid);
    Ok(())
}
