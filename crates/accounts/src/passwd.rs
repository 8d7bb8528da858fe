//! The host's account database (getpwuid_r/getpwnam_r): who is calling `sendmail`, and the
//! unprivileged user `serve` switches to.

use std::ffi::{CStr, CString};

/// One entry of /etc/passwd (or NSS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// The full name: the GECOS field up to its first comma.
    pub full_name: String,
    /// Home directory.
    pub home: String,
}

/// The account with this user id.
pub fn by_uid(uid: u32) -> Option<Account> {
    lookup(|pwd, buf, result| unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr(), buf.len(), result) })
}

/// The account with this login name.
pub fn by_name(name: &str) -> Option<Account> {
    let name = CString::new(name).ok()?;
    lookup(|pwd, buf, result| unsafe { libc::getpwnam_r(name.as_ptr(), pwd, buf.as_mut_ptr(), buf.len(), result) })
}

/// The login name of `uid` ("uidN" when it has no entry).
pub fn name_of(uid: u32) -> String {
    by_uid(uid).map_or_else(|| format!("uid{uid}"), |a| a.name)
}

/// The real user running this process and its login name.
pub fn caller() -> (u32, String) {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    (uid, name_of(uid))
}

/// Every group of an account: its primary group and those /etc/group (or NSS) lists it in.
pub fn groups_of(account: &Account) -> Vec<u32> {
    let Ok(name) = CString::new(account.name.as_str()) else { return vec![account.gid] };
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `n` ids; the call writes at most that many and sets `n`.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), account.gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n.max(0) as usize);
            return groups;
        }
        if groups.len() >= 1 << 16 {
            return vec![account.gid];
        }
        // Too small: `n` says how many there are.
        groups.resize((n.max(0) as usize).max(groups.len() * 2), 0);
    }
}

/// Root, or the user this process runs as: trusted to act for anyone, as sendmail trusts
/// root and its own user.
pub fn trusted(uid: u32) -> bool {
    // SAFETY: geteuid cannot fail.
    uid == 0 || uid == unsafe { libc::geteuid() }
}

fn lookup(
    call: impl Fn(&mut libc::passwd, &mut Vec<libc::c_char>, &mut *mut libc::passwd) -> libc::c_int,
) -> Option<Account> {
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    loop {
        // SAFETY: passwd is plain data filled in by the call; `result` points into it or is null.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pwd, &mut buf, &mut result);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        let text = |p: *const libc::c_char| {
            if p.is_null() { String::new() } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() }
        };
        let gecos = text(pwd.pw_gecos);
        return Some(Account {
            name: text(pwd.pw_name),
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            full_name: gecos.split(',').next().unwrap_or_default().to_string(),
            home: text(pwd.pw_dir),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_by_id_and_name() {
        let root = by_uid(0).expect("uid 0 exists");
        assert_eq!(root.name, "root");
        assert_eq!(by_name("root").unwrap().uid, 0);
        assert!(by_name("no-such-user-carrier-test").is_none());
        assert!(by_name("bad\0name").is_none());
    }

    #[test]
    fn groups_include_the_primary_one() {
        let root = by_uid(0).unwrap();
        let groups = groups_of(&root);
        assert!(groups.contains(&root.gid), "{groups:?}");
        // The first call's room is 64 ids; a list that fits is not padded.
        assert!(groups.len() < 64 && !groups.is_empty());
    }
}
