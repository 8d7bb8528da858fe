//! Recipient resolution: users, aliases, subaddresses, loops and routing tricks.

use carrier_accounts::{AliasFile, Directory, Lookup, Route, UserDb};

struct Fixture {
    dir: tempfile::TempDir,
    directory: Directory,
}

fn cheap() -> argon2::Params {
    argon2::Params::new(8, 1, 1, None).unwrap()
}

fn fixture(users: &[&str], aliases: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut db = UserDb::open_with(dir.path(), cheap()).unwrap();
    for u in users {
        db.add(u, "pw").unwrap();
    }
    let path = dir.path().join("aliases");
    std::fs::write(&path, aliases).unwrap();
    let file = AliasFile::open(&path).unwrap();
    let directory = Directory::new(vec!["example.com".into(), "Example.NET.".into()], db, Some(file));
    Fixture { dir, directory }
}

fn mailbox(a: &str) -> Route {
    Route::Mailbox(a.into())
}

fn remote(a: &str) -> Route {
    Route::Remote(a.into())
}

fn deliver(routes: &[Route]) -> Lookup {
    Lookup::Deliver(routes.to_vec())
}

fn resolve(f: &Fixture, a: &str) -> Lookup {
    f.directory.resolve(a)
}

#[test]
fn users_domains_and_case() {
    let f = fixture(&["bob@example.com"], "");
    assert_eq!(resolve(&f, "BOB@Example.Com"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "bob@example.com."), deliver(&[mailbox("bob@example.com")]));
    // All local domains share one namespace.
    assert_eq!(resolve(&f, "bob@example.net"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "nobody@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "bob@elsewhere.example"), Lookup::NotLocal);
    assert_eq!(resolve(&f, "bob@[192.0.2.1]"), Lookup::NotLocal);
    assert_eq!(resolve(&f, "bob"), Lookup::UnknownUser);
    assert!(f.directory.is_local_domain("EXAMPLE.net."));
    assert!(f.directory.is_local_domain("example.com"));
    assert!(!f.directory.is_local_domain("example.org"));
    assert!(f.directory.users().contains("bob@example.com"));
    assert!(f.directory.alias_file().is_some());
}

#[test]
fn ambiguous_local_part_needs_the_exact_address() {
    let f = fixture(&["amy@example.com", "amy@example.net"], "");
    assert_eq!(resolve(&f, "amy@example.net"), deliver(&[mailbox("amy@example.net")]));
    assert_eq!(resolve(&f, "AMY@example.com"), deliver(&[mailbox("amy@example.com")]));
}

#[test]
fn users_of_a_domain_no_longer_local_are_not_matched_by_local_part() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = UserDb::open_with(dir.path(), cheap()).unwrap();
    db.add("old@retired.example", "pw").unwrap();
    let directory = Directory::new(vec!["example.com".into()], db, None);
    assert_eq!(directory.resolve("old@example.com"), Lookup::UnknownUser);
    assert_eq!(directory.resolve("old@retired.example"), Lookup::NotLocal);
    assert!(directory.alias_loops().is_empty());
}

#[test]
fn routing_tricks_are_unknown_users() {
    let f = fixture(&["bob@example.com", "elsewhere.example@example.com"], "");
    for trick in [
        "bob%elsewhere.example@example.com",
        "elsewhere.example!bob@example.com",
        "\"bob@elsewhere.example\"@example.com",
        "bob@elsewhere.example@example.com",
        "@example.com:bob@example.com",
        "\"bob\"@example.com",
        "\"postmaster\"@example.com",
        "bob/../x@example.com",
        "@example.com",
    ] {
        assert_eq!(resolve(&f, trick), Lookup::UnknownUser, "{trick}");
    }
}

#[test]
fn routing_tricks_in_alias_targets_are_not_followed() {
    let f = fixture(&["bob@example.com"], "x: bob%elsewhere.example@example.com, a!b, bob\n");
    assert_eq!(resolve(&f, "x@example.com"), deliver(&[mailbox("bob@example.com")]));
}

#[test]
fn subaddresses_reach_the_user_unless_the_full_name_is_known() {
    let f = fixture(&["bob@example.com", "bob+special@example.com"], "sales: alice\nalice: bob\nann+x: bob\n");
    assert_eq!(resolve(&f, "bob+lists@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "Bob+Lists+more@example.net"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "bob+special@example.com"), deliver(&[mailbox("bob+special@example.com")]));
    assert_eq!(resolve(&f, "sales+q3@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "ann+x@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "ann+y@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "nobody+x@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "+x@example.com"), Lookup::UnknownUser);
}

#[test]
fn aliases_chain_to_users_and_remote_addresses_without_duplicates() {
    let f = fixture(
        &["bob@example.com", "alice@example.com"],
        "postmaster: root\nroot: bob\nstaff: bob, alice, Friend@Elsewhere.example, root, \"alice\"\n\
         info@example.net: alice\nboth: staff, bob@example.net\n",
    );
    assert_eq!(resolve(&f, "PostMaster@example.com"), deliver(&[mailbox("bob@example.com")]));
    let staff = [mailbox("bob@example.com"), mailbox("alice@example.com"), remote("Friend@Elsewhere.example")];
    assert_eq!(resolve(&f, "staff@example.net"), deliver(&staff));
    assert_eq!(resolve(&f, "both@example.com"), deliver(&staff));
    // A full-address alias applies to that domain only.
    assert_eq!(resolve(&f, "info@example.net"), deliver(&[mailbox("alice@example.com")]));
    assert_eq!(resolve(&f, "info@example.com"), Lookup::UnknownUser);
}

#[test]
fn lookup_order_full_alias_then_user_then_bare_alias_then_local_part() {
    let f = fixture(
        &["info@example.com", "sales@example.com", "alice@example.com", "carol@example.net"],
        "info@example.com: alice\nsales: alice\ncarol: alice\n",
    );
    // 1. An alias for the full address beats the user of that address.
    assert_eq!(resolve(&f, "info@example.com"), deliver(&[mailbox("alice@example.com")]));
    // 2. The user with the exact address beats an alias for the bare local part.
    assert_eq!(resolve(&f, "sales@example.com"), deliver(&[mailbox("sales@example.com")]));
    assert_eq!(resolve(&f, "carol@example.net"), deliver(&[mailbox("carol@example.net")]));
    // 3. The bare alias beats a user with that local part in another local domain.
    assert_eq!(resolve(&f, "sales@example.net"), deliver(&[mailbox("alice@example.com")]));
    assert_eq!(resolve(&f, "carol@example.com"), deliver(&[mailbox("alice@example.com")]));
    // 4. Otherwise the only user with that local part.
    assert_eq!(resolve(&f, "info@example.net"), deliver(&[mailbox("info@example.com")]));
}

#[test]
fn alias_naming_itself_delivers_to_the_user_too() {
    let f = fixture(
        &["bob@example.com", "amy@example.com", "eve@example.com"],
        "bob: bob, bob@elsewhere.example\namy@example.com: amy, amy@elsewhere.example\neve: \\eve, bob\n",
    );
    let bob = deliver(&[mailbox("bob@example.com"), remote("bob@elsewhere.example")]);
    assert_eq!(resolve(&f, "bob@example.com"), bob);
    assert_eq!(resolve(&f, "bob@example.net"), bob);
    assert_eq!(resolve(&f, "amy@example.com"), deliver(&[mailbox("amy@example.com"), remote("amy@elsewhere.example")]));
    // `\eve` is the user itself; `bob` goes through bob's alias like any other target.
    let mut eve = vec![mailbox("eve@example.com")];
    eve.extend([mailbox("bob@example.com"), remote("bob@elsewhere.example")]);
    assert_eq!(resolve(&f, "eve@example.com"), deliver(&eve));
}

#[test]
fn self_reference_without_a_user_delivers_what_else_resolves() {
    let f = fixture(&["bob@example.com"], "ghost: ghost, bob\n");
    assert_eq!(resolve(&f, "ghost@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert!(f.directory.alias_loops().is_empty());
}

#[test]
fn loops_are_detected_and_named_once() {
    let f = fixture(&["bob@example.com"], "a: b\nb: c\nc: a\nfine: bob\nentry: a\nx: y@example.net\ny: x\n");
    assert_eq!(resolve(&f, "a@example.com"), Lookup::Loop("alias loop: a -> b -> c -> a".into()));
    assert_eq!(resolve(&f, "entry@example.com"), Lookup::Loop("alias loop: entry -> a -> b -> c -> a".into()));
    assert_eq!(resolve(&f, "fine@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(f.directory.alias_loops(), ["alias loop: a -> b -> c -> a", "alias loop: x -> y -> x"]);
}

#[test]
fn a_user_breaks_what_would_otherwise_be_a_loop() {
    // b@example.com is a user, so `a: b` ends there in example.com; in example.net it loops.
    let f = fixture(&["b@example.com", "b@example.net"], "a: b\nb: a\n");
    assert_eq!(resolve(&f, "a@example.com"), deliver(&[mailbox("b@example.com")]));
    assert_eq!(resolve(&f, "a@example.net"), deliver(&[mailbox("b@example.net")]));
    let f = fixture(&["b@example.com"], "a: b\nb: a\n");
    assert_eq!(resolve(&f, "a@example.com"), deliver(&[mailbox("b@example.com")]));
    assert_eq!(resolve(&f, "a@example.net"), Lookup::Loop("alias loop: a -> b -> a".into()));
    assert_eq!(f.directory.alias_loops(), ["alias loop: a -> b -> a"]);
}

fn chain(len: usize) -> String {
    let mut text: String = (0..len - 1).map(|i| format!("a{i}: a{}\n", i + 1)).collect();
    text.push_str(&format!("a{}: bob\n", len - 1));
    text
}

#[test]
fn twenty_levels_resolve_and_deeper_chains_are_cut() {
    let f = fixture(&["bob@example.com"], &chain(20));
    assert_eq!(resolve(&f, "a0@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert!(f.directory.alias_loops().is_empty());
    let f = fixture(&["bob@example.com"], &chain(21));
    let Lookup::Loop(msg) = resolve(&f, "a0@example.com") else { panic!("not cut") };
    assert!(msg.starts_with("aliases nest deeper than 20 levels: a0 -> a1"), "{msg}");
    assert_eq!(resolve(&f, "a1@example.com"), deliver(&[mailbox("bob@example.com")]));
    let loops = f.directory.alias_loops();
    assert_eq!(loops.len(), 1, "{loops:?}");
    assert!(loops[0].starts_with("aliases nest deeper than 20 levels: a0 ->"), "{loops:?}");
}

#[test]
fn alias_to_unknown_users_only_is_unknown() {
    let f = fixture(&["bob@example.com"], "ghost: nobody, nobody2\nmixed: nobody, bob\nempty:\npiped: |/bin/cmd\n");
    assert_eq!(resolve(&f, "ghost@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "empty@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "piped@example.com"), Lookup::UnknownUser);
    assert_eq!(resolve(&f, "mixed@example.com"), deliver(&[mailbox("bob@example.com")]));
}

#[test]
fn refresh_picks_up_new_users_and_aliases_and_keeps_them_on_errors() {
    let mut f = fixture(&["bob@example.com"], "x: bob\n");
    let dir = f.dir.path().to_path_buf();
    assert!(f.directory.refresh().is_empty());
    UserDb::open_with(&dir, cheap()).unwrap().add("carol@example.com", "pw").unwrap();
    std::fs::write(dir.join("aliases"), "x: carol\nmore: bob, |cmd\n").unwrap();
    let problems = f.directory.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("line 2") && problems[0].contains("|cmd"), "{problems:?}");
    assert_eq!(resolve(&f, "x@example.com"), deliver(&[mailbox("carol@example.com")]));
    assert!(f.directory.refresh().is_empty());

    std::fs::write(dir.join("aliases"), "this line is broken and long enough\n").unwrap();
    std::fs::write(dir.join("users"), "damaged\n").unwrap();
    let problems = f.directory.refresh();
    assert!(problems.iter().any(|p| p.contains("line 1") && p.contains("previous aliases stay")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("user database") && p.contains("previous accounts")), "{problems:?}");
    assert_eq!(resolve(&f, "x@example.com"), deliver(&[mailbox("carol@example.com")]));
}

#[test]
fn postmaster_is_always_deliverable() {
    let f = fixture(&["bob@example.com"], "");
    assert_eq!(resolve(&f, "POSTMASTER@example.net"), deliver(&[mailbox("postmaster@example.com")]));
    assert_eq!(resolve(&f, "Postmaster"), deliver(&[mailbox("postmaster@example.com")]));
    assert_eq!(resolve(&f, "postmaster@elsewhere.example"), Lookup::NotLocal);
    let f = fixture(&["bob@example.com"], "PostMaster: bob\n");
    assert_eq!(resolve(&f, "postmaster@example.net"), deliver(&[mailbox("bob@example.com")]));
    assert_eq!(resolve(&f, "POSTMASTER"), deliver(&[mailbox("bob@example.com")]));
    let f = fixture(&["postmaster@example.net"], "");
    assert_eq!(resolve(&f, "PostMaster@example.com"), deliver(&[mailbox("postmaster@example.net")]));
}

#[test]
fn a_directory_without_aliases_resolves_users() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = UserDb::open_with(dir.path(), cheap()).unwrap();
    db.add("bob@example.com", "pw").unwrap();
    let mut directory = Directory::new(vec!["example.com".into()], db, None);
    assert_eq!(directory.resolve("bob+x@example.com"), deliver(&[mailbox("bob@example.com")]));
    assert!(directory.refresh().is_empty());
    assert!(directory.alias_file().is_none());
}

/// Issue 15.5: an account hides the alias of its name (the account wins, as documented in
/// docs/config.md); the directory says which, so `user add`, `check` and start-up can warn.
#[test]
fn an_account_hiding_an_alias_is_named() {
    let f = fixture(
        &["webmaster@example.com", "bob@example.com", "alice@example.com"],
        "webmaster: alice, bob\nbob: bob, bob@elsewhere.org\nsales: alice\n",
    );
    // The account wins: this is the rule the warning is about.
    assert_eq!(resolve(&f, "webmaster@example.com"), deliver(&[mailbox("webmaster@example.com")]));
    let shadowed = f.directory.shadowed_aliases();
    assert_eq!(shadowed.len(), 1, "{shadowed:?}");
    assert!(shadowed[0].starts_with("the account webmaster@example.com hides the alias `webmaster`"), "{shadowed:?}");
    assert!(shadowed[0].contains("not to alice, bob"), "{shadowed:?}");
    // bob's alias names bob (his own forwarding) and sales has no account: nothing hidden.
    let f = fixture(&["bob@example.com"], "bob: bob, bob@elsewhere.org\nsales: bob\n");
    assert!(f.directory.shadowed_aliases().is_empty());
}
