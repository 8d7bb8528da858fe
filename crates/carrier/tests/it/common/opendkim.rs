//! A private OpenDKIM (Debian's `opendkim`) signing as a milter on a loopback port, with a
//! key made by `opendkim-genkey`; stopped when dropped. Its files live under /run, because
//! OpenDKIM refuses configuration and keys below a world-writable directory such as /tmp.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OpenDkim {
    _dir: tempfile::TempDir,
    child: Child,
    /// The milter's port on 127.0.0.1.
    pub port: u16,
    /// The key's TXT record (`v=DKIM1; k=rsa; p=...`) to publish at `<selector>._domainkey.<domain>`.
    pub record: String,
}

impl OpenDkim {
    /// Signs mail from `domain` with selector `selector`.
    pub fn start(domain: &str, selector: &str) -> OpenDkim {
        super::require("opendkim");
        super::require("opendkim-genkey");
        let dir = tempfile::Builder::new().prefix("carrier-opendkim-").tempdir_in("/run").unwrap();
        let made = Command::new("opendkim-genkey")
            .args(["-b", "2048", "-d", domain, "-s", selector, "-D"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let text = std::fs::read_to_string(dir.path().join(format!("{selector}.txt"))).unwrap();
        let record: String = text.split('"').skip(1).step_by(2).collect();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = dir.path().join("opendkim.conf");
        let key = dir.path().join(format!("{selector}.private"));
        std::fs::write(
            &conf,
            format!(
                "Domain {domain}\nSelector {selector}\nKeyFile {}\nSocket inet:{port}@127.0.0.1\nMode s\n\
                 Canonicalization relaxed/relaxed\nSyslog no\nInternalHosts 127.0.0.0/8\n",
                key.display()
            ),
        )
        .unwrap();
        let child = Command::new("opendkim")
            .arg("-x")
            .arg(&conf)
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "opendkim is not listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        OpenDkim { _dir: dir, child, port, record }
    }
}

impl Drop for OpenDkim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
