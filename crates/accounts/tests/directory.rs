//! Recipient resolution: users, aliases, subaddresses, loops and routing tricks.

use carrier_accounts::{AliasFile, Directory, Lookup, Route, UserDb};

struct Fixture {
    _dir: tempfile::TempDir,
    directory: Directory,
}

fn fixture(users: &[&str], aliases: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut db = UserDb::open_with(dir.path(), argon2::Params::new(8, 1, 1, None).unwrap()).unwrap();
    for u in users {
        db.add(u, "pw").unwrap();
    }
    let path = dir.path().join("aliases");
    std::fs::write(&path, aliases).unwrap();
    let file = AliasFile::open(&path).unwrap();
    let directory = Directory::new(vec!["example.com".into(), "Example.NET".into()], db, Some(file));
    Fixture { _dir: dir, directory }
}

fn mailbox(a: &str) -> Route {
    Route::Mailbox(a.into())
}

fn resolve(f: &Fixture, a: &str) -> Lookup {
    f.directory.resolve(a)
}

#[test]
fn users_domains_and_case() {
    let f = fixture(&["bob@example.com"], "");
    assert_eq!(resolve(&f, "BOB@Example.Com"), Lookup::Deliver(vec![mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "bob@example.net."), Lookup::Deliver(vec![mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "nobody@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "bob@elsewhere.example"), Lookup::NotLocal);
    assert!(f.directory.is_local_domain("EXAMPLE.net."));
}

#[test]
fn ambiguous_local_part_needs_the_exact_address() {
    let f = fixture(&["amy@example.com", "amy@example.net"], "");
    assert_eq!(resolve(&f, "amy@example.net"), Lookup::Deliver(vec![mailbox("amy@example.net")]));
    assert_eq!(resolve(&f, "amy@example.com"), Lookup::Deliver(vec![mailbox("amy@example.com")]));
}

#[test]
fn routing_tricks_are_unknown_users() {
    let f = fixture(&["bob@example.com"], "");
    for trick in [
        "bob%elsewhere.example@example.com",
        "elsewhere.example!bob@example.com",
        "\"bob@elsewhere.example\"@example.com",
        "@example.com",
    ] {
        assert_eq!(resolve(&f, trick), Lookup::UnknownUser, "{trick}");
    }
}

#[test]
fn subaddresses_reach_the_user() {
    let f = fixture(&["bob@example.com"], "");
    assert_eq!(resolve(&f, "bob+lists@example.com"), Lookup::Deliver(vec![mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "nobody+x@example.com"), Lookup::UnknownUser);
}

#[test]
fn aliases_chain_to_users_and_remote_addresses() {
    let f = fixture(
        &["bob@example.com", "alice@example.com"],
        "postmaster: root\nroot: bob\nstaff: bob, alice, friend@elsewhere.example, bob\ninfo@example.net: alice\n",
    );
    assert_eq!(resolve(&f, "PostMaster@example.com"), Lookup::Deliver(vec![mailbox("bob@example.com")]));
    assert_eq!(
        resolve(&f, "staff@example.net"),
        Lookup::Deliver(vec![
            mailbox("bob@example.com"),
            mailbox("alice@example.com"),
            Route::Remote("friend@elsewhere.example".into())
        ])
    );
    // A full-address alias applies to that domain only.
    assert_eq!(resolve(&f, "info@example.net"), Lookup::Deliver(vec![mailbox("alice@example.com")]));
    assert_eq!(resolve(&f, "info@example.com"), Lookup::UnknownUser);
}

#[test]
fn alias_naming_itself_delivers_to_the_user_too() {
    let f = fixture(&["bob@example.com"], "bob: bob, bob@elsewhere.example\n");
    assert_eq!(
        resolve(&f, "bob@example.com"),
        Lookup::Deliver(vec![mailbox("bob@example.com"), Route::Remote("bob@elsewhere.example".into())])
    );
}

#[test]
fn aliases_come_before_users() {
    let f = fixture(&["sales@example.com", "alice@example.com"], "sales: alice\n");
    assert_eq!(resolve(&f, "sales@example.com"), Lookup::Deliver(vec![mailbox("alice@example.com")]));
}

#[test]
fn loops_are_detected_and_named() {
    let f = fixture(&["bob@example.com"], "a: b\nb: c\nc: a\nfine: bob\n");
    let Lookup::Loop(cycle) = resolve(&f, "a@example.com") else { panic!("no loop found") };
    assert_eq!(cycle, "alias loop: a -> b -> c -> a");
    assert_eq!(resolve(&f, "fine@example.com"), Lookup::Deliver(vec![mailbox("bob@example.com")]));
    let loops = f.directory.alias_loops();
    assert_eq!(loops.len(), 3, "{loops:?}");
    assert!(loops.iter().all(|l| l.starts_with("alias loop:")));
}

#[test]
fn deep_chains_are_cut() {
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&format!("a{i}: a{}\n", i + 1));
    }
    text.push_str("a30: bob\n");
    let f = fixture(&["bob@example.com"], &text);
    let Lookup::Loop(msg) = resolve(&f, "a0@example.com") else { panic!() };
    assert!(msg.contains("deeper than 20"), "{msg}");
}

#[test]
fn alias_to_unknown_users_only_is_unknown() {
    let f = fixture(&["bob@example.com"], "ghost: nobody, nobody2\nmixed: nobody, bob\n");
    assert_eq!(resolve(&f, "ghost@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "mixed@example.com"), Lookup::Deliver(vec![mailbox("bob@example.com")]));
}

#[test]
fn refresh_picks_up_new_users_and_aliases() {
    let mut f = fixture(&["bob@example.com"], "x: bob\n");
    let dir = f._dir.path().to_path_buf();
    std::thread::sleep(std::time::Duration::from_millis(20));
    UserDb::open_with(&dir, argon2::Params::new(8, 1, 1, None).unwrap())
        .unwrap()
        .add("carol@example.com", "pw")
        .unwrap();
    std::fs::write(dir.join("aliases"), "x: carol\nmore: bob\n").unwrap();
    assert!(f.directory.refresh().is_empty());
    assert_eq!(resolve(&f, "x@example.com"), Lookup::Deliver(vec![mailbox("carol@example.com")]));
    std::fs::write(dir.join("aliases"), "this line is broken and long enough\n").unwrap();
    let problems = f.directory.refresh();
    assert!(problems[0].contains("line 1") && problems[0].contains("previous aliases stay"), "{problems:?}");
    assert_eq!(resolve(&f, "x@example.com"), Lookup::Deliver(vec![mailbox("carol@example.com")]));
}

#[test]
fn postmaster_is_always_deliverable() {
    let f = fixture(&["bob@example.com"], "");
    assert_eq!(resolve(&f, "POSTMASTER@example.net"), Lookup::Deliver(vec![mailbox("postmaster@example.com")]));
    let f = fixture(&["bob@example.com"], "postmaster: bob\n");
    assert_eq!(resolve(&f, "postmaster@example.net"), Lookup::Deliver(vec![mailbox("bob@example.com")]));
}
