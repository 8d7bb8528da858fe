//! The host's own accounts as mail accounts (`auth = "system"`): passwords are checked
//! against the shadow file with the system's crypt(3), which knows every hash Debian
//! writes (yescrypt `$y$`, SHA-512 `$6$`, SHA-256 `$5$`, MD5 `$1$`, ...).

use std::ffi::{CStr, CString, c_char};
use std::path::Path;
use std::sync::Mutex;

#[link(name = "crypt")]
unsafe extern "C" {
    fn crypt(key: *const c_char, setting: *const c_char) -> *mut c_char;
}

/// crypt(3) returns a pointer to a static buffer: one caller at a time.
static CRYPT: Mutex<()> = Mutex::new(());

/// A SHA-512 hash of a random password: unknown users cost as much as known ones.
const DUMMY: &str =
    "$6$c2FsdHNhbHQ$H1ocFJtx8LKsq9ALlYyUJq7pPmHDYnMV9dPoQw2o6m4rDKXCGjC6J0b1JpSYsVY1yBwGbdnzz.xF8Cq0cd3Dv1";

/// Hashes `password` with the algorithm and salt in `setting` (a full hash works as setting).
pub fn crypt_hash(password: &str, setting: &str) -> Option<String> {
    let key = CString::new(password).ok()?;
    let setting = CString::new(setting).ok()?;
    let _guard = CRYPT.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: both arguments are NUL-terminated; the result is copied before the lock is released.
    let out = unsafe { crypt(key.as_ptr(), setting.as_ptr()) };
    if out.is_null() {
        return None;
    }
    // SAFETY: crypt returned a non-null, NUL-terminated string.
    let hash = unsafe { CStr::from_ptr(out) }.to_str().ok()?.to_string();
    // libxcrypt signals failure with a string starting with '*'.
    (!hash.starts_with('*')).then_some(hash)
}

/// The system user name when `password` is right for `login` ("aaa", or "aaa@domain" when
/// `is_local` accepts the domain). Locked accounts ("!", "*") never log in.
pub fn verify(shadow: &Path, login: &str, password: &str, is_local: impl Fn(&str) -> bool) -> Option<String> {
    let name = match login.rsplit_once('@') {
        Some((name, domain)) if is_local(domain) => name,
        Some(_) => return None,
        None => login,
    };
    let text = std::fs::read_to_string(shadow).ok()?;
    let hash = text.lines().find_map(|l| {
        let mut fields = l.split(':');
        (fields.next() == Some(name)).then(|| fields.next().unwrap_or("").to_string())
    });
    let usable = hash.as_deref().filter(|h| h.starts_with('$') && !password.is_empty());
    let computed = crypt_hash(password, usable.unwrap_or(DUMMY));
    let matches = match (usable, computed) {
        (Some(h), Some(c)) => constant_time_eq(h.as_bytes(), c.as_bytes()),
        _ => false,
    };
    matches.then(|| name.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shadow(lines: &[String]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), lines.join("\n") + "\n").unwrap();
        f
    }

    #[test]
    fn sha512_and_sha256_hashes_verify() {
        let six = crypt_hash("secret", "$6$abcdefgh$").unwrap();
        let five = crypt_hash("other", "$5$abcdefgh$").unwrap();
        assert!(six.starts_with("$6$abcdefgh$"));
        let f = shadow(&[
            format!("aaa:{six}:19000:0:99999:7:::"),
            format!("bbb:{five}:19000::::::"),
            "ccc:!:19000::::::".into(),
        ]);
        let local = |d: &str| d == "example.com";
        assert_eq!(verify(f.path(), "aaa", "secret", local).as_deref(), Some("aaa"));
        assert_eq!(verify(f.path(), "aaa@example.com", "secret", local).as_deref(), Some("aaa"));
        assert_eq!(verify(f.path(), "bbb", "other", local).as_deref(), Some("bbb"));
        assert!(verify(f.path(), "aaa", "wrong", local).is_none());
        assert!(verify(f.path(), "aaa@elsewhere.example", "secret", local).is_none());
        assert!(verify(f.path(), "aaa", "", local).is_none());
        // Locked and unknown accounts never log in.
        assert!(verify(f.path(), "ccc", "", local).is_none());
        assert!(verify(f.path(), "ccc", "!", local).is_none());
        assert!(verify(f.path(), "nobody", "secret", local).is_none());
    }

    #[test]
    fn yescrypt_is_supported_by_the_system_crypt() {
        // Debian's default since bullseye; the setting is a fixed example salt.
        let hash = crypt_hash("pw", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$").unwrap();
        assert!(hash.starts_with("$y$"));
        assert_eq!(crypt_hash("pw", &hash).unwrap(), hash);
        assert_ne!(crypt_hash("px", &hash).unwrap(), hash);
    }

    #[test]
    fn dummy_hash_is_usable() {
        assert!(crypt_hash("x", DUMMY).is_some());
    }
}
