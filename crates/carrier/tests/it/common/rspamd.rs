//! A private rspamd (Debian's) with its milter proxy on a Unix socket. It runs in a network
//! namespace of its own with only loopback (`unshare -n`), so none of its lookups (map
//! downloads, fuzzy servers, DNS lists) can leave the machine, and the socket, a file, is
//! still reachable by carrier. Stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Rspamd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Rspamd {
    /// With `quarantine`, mail rspamd would reject is quarantined instead (its
    /// `quarantine_on_reject`).
    pub fn start(quarantine: bool) -> Rspamd {
        for tool in ["rspamd", "unshare", "ip"] {
            super::require(tool);
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["local/override.d", "local/local.d", "db", "run", "log"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let write = |name: &str, text: String| std::fs::write(d.join("local").join(name), text).unwrap();
        write("override.d/worker-normal.inc", format!("bind_socket = \"{}/normal.sock mode=0600\";\n", d.display()));
        write(
            "override.d/worker-controller.inc",
            format!("bind_socket = \"{}/controller.sock mode=0600\";\n", d.display()),
        );
        write(
            "override.d/worker-proxy.inc",
            format!(
                "bind_socket = \"{}/proxy.sock mode=0600\";\nmilter = yes;\ntimeout = 120s;\n\
                 upstream \"local\" {{\n  default = yes;\n  self_scan = yes;\n}}\ncount = 1;\n\
                 quarantine_on_reject = {quarantine};\n",
                d.display()
            ),
        );
        write("override.d/logging.inc", "type = \"console\";\nlevel = \"error\";\n".into());
        // No name server inside the namespace: DNS lists answer nothing, at once.
        write(
            "local.d/options.inc",
            "dns {\n  nameserver = [\"127.0.0.1:53\"];\n  timeout = 1s;\n  retransmits = 1;\n}\n".into(),
        );
        write("local.d/fuzzy_check.conf", "enabled = false;\n".into());
        // Its verdict in headers of every message, also from a loopback client.
        write(
            "local.d/milter_headers.conf",
            "use = [\"x-spamd-result\", \"x-rspamd-server\"];\nskip_local = false;\nskip_authenticated = false;\n"
                .into(),
        );
        let vars = ["LOCAL_CONFDIR=local", "DBDIR=db", "RUNDIR=run", "LOGDIR=log"]
            .map(|v| {
                let (name, sub) = v.split_once('=').unwrap();
                format!("--var={name}={}", d.join(sub).display())
            })
            .join(" ");
        let script =
            format!("ip link set lo up && exec rspamd -f -u root -g root -c /etc/rspamd/rspamd.conf {vars} --insecure");
        let child = Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("rspamd.log")).unwrap())
            .spawn()
            .unwrap();
        let rspamd = Rspamd { dir, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::os::unix::net::UnixStream::connect(rspamd.socket()).is_err() {
            assert!(Instant::now() < deadline, "rspamd did not start:\n{}", rspamd.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        rspamd
    }

    /// The milter proxy's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("proxy.sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rspamd.log")).unwrap_or_default()
    }

    /// Stops it (SIGTERM, then SIGKILL), as a crash or an upgrade would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        self.stop();
    }
}
