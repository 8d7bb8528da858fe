//! `user`: started as root, `serve` binds, then runs as that user; data_dir becomes theirs,
//! and mail still flows through SMTP, sendmail, pickup and `carrier user add`.

use crate::common::{Options, Server, is_root};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap() // effective uid
}

#[test]
fn serve_drops_root_for_the_configured_user() {
    let mut server = Server::configure(Options { top: "user = \"nobody\"".into(), ..Options::default() });
    if !is_root() {
        // Not root: nothing to drop; the daemon says so and runs as the invoking user.
        server.spawn();
        server.wait_log("cannot switch to user nobody", 1);
        return;
    }
    // nobody must be able to walk to data_dir inside the test's private temporary directory.
    std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    server.spawn();
    server.wait_log("running as user nobody", 1);
    let nobody = uid_of(server.pid());
    assert_ne!(nobody, 0, "still root:\n{}", server.log());
    let data = server.data_dir();
    for path in ["", "users", "spool", "spool/queue", "pickup", "tls/key.pem", "control"] {
        assert_eq!(std::fs::symlink_metadata(data.join(path)).unwrap().uid(), nobody, "{path} not given away");
    }
    // SMTP delivery writes Maildirs as nobody.
    server.send_mail("a@remote.example", &["bob@example.com"], "Subject: one\r\n\r\nx\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1, "{}", server.log());
    assert_eq!(std::fs::metadata(server.maildir("example.com", "bob")).unwrap().uid(), nobody);
    // An account added by root while it runs is readable by the daemon.
    server.add_user("carol@example.com", "carol-pw");
    assert_eq!(std::fs::metadata(data.join("users")).unwrap().uid(), nobody);
    server.send_mail("a@remote.example", &["carol@example.com"], "Subject: two\r\n\r\nx\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "carol", 1).len(), 1, "{}", server.log());
    // sendmail as root through the socket, then through pickup while the daemon is down.
    let sendmail = server.personality("sendmail");
    let (code, _, err) = server.run(&sendmail, &["alice@example.com"], b"Subject: three\n\nx\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1, "{}", server.log());
    server.kill9();
    let (code, _, err) = server.run(&sendmail, &["alice@example.com"], b"Subject: four\n\nx\n");
    assert_eq!(code, 0, "{err}");
    server.spawn();
    assert_eq!(server.wait_messages("example.com", "alice", 2).len(), 2, "{}", server.log());
    assert!(server.pickup_files().is_empty());
}

#[test]
fn an_unknown_user_stops_serve_with_the_fix() {
    let server = Server::configure(Options { top: "user = \"no-such-carrier-user\"".into(), ..Options::default() });
    let (code, _, err) = server.cli(&["serve"], "");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the account \"no-such-carrier-user\" does not exist") && err.contains("adduser --system"),
        "{err}"
    );
}
