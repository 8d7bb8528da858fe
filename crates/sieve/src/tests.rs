//! The RFC examples, bad scripts with their positions, limits, and Pigeonhole's test scripts
//! (tests/pigeonhole, see its README).

use super::*;
use std::collections::HashMap;
use std::path::Path;

/// A memory that remembers, with a clock the test moves.
#[derive(Default)]
struct Clocked {
    now: u64,
    seen: HashMap<String, u64>,
    mailboxes: Vec<String>,
}

impl Memory for Clocked {
    fn seen(&mut self, key: &str, period: u64) -> bool {
        let hit = self.seen.get(key).is_some_and(|&at| self.now < at + period);
        if !hit {
            self.seen.insert(key.to_string(), self.now);
        }
        hit
    }
    fn mailbox_exists(&self, name: &str) -> bool {
        self.mailboxes.iter().any(|m| m == name)
    }
}

fn envelope(from: &str, to: &str) -> Envelope {
    Envelope { from: from.into(), to: to.into(), auth: None }
}

fn actions(script: &str, message: &str, from: &str, memory: &mut Clocked) -> Outcome {
    let compiled = compile(script.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{script}"));
    let mut ctx = Context::new(envelope(from, "bob@example.com"), memory);
    run(&compiled, message.as_bytes(), &mut ctx)
}

const MESSAGE: &str = "From: Coyote <coyote@desert.example.org>\r\nTo: bob@example.com\r\n\
    Subject: I have a present for you\r\nX-Caffeine: C8H10N4O2\r\nMessage-ID: <1@desert.example.org>\r\n\r\n\
    Look, I'm sorry about the whole anvil thing.\r\n";

fn keep() -> Action {
    Action::Keep { flags: vec![] }
}

fn fileinto(m: &str) -> Action {
    Action::FileInto { mailbox: m.into(), flags: vec![], create: false }
}

#[test]
fn rfc_5228_section_9_example() {
    // RFC 5228 9, abridged to the commands it shows.
    let script = r#"
        require ["fileinto", "reject"];
        if header :is "Sender" "owner-ietf-mta-filters@imc.org" {
            fileinto "filter";
        } elsif address :DOMAIN :is ["From", "To"] "example.com" {
            keep;
        } elsif anyof (not address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
                       header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) {
            fileinto "spam";
        } else {
            fileinto "personal";
        }"#;
    let mut m = Clocked::default();
    let from_list = "Sender: owner-ietf-mta-filters@imc.org\r\nTo: me@example.com\r\n\r\nx\r\n";
    assert_eq!(actions(script, from_list, "a@b.example", &mut m).actions, [fileinto("filter")]);
    let ours = "From: boss@example.com\r\nTo: me@example.com\r\n\r\nx\r\n";
    assert_eq!(actions(script, ours, "a@b.example", &mut m).actions, [keep()]);
    let spam =
        "From: x@y.example\r\nTo: friend@other.example\r\nCc: me@example.com\r\nSubject: MAKE MONEY FAST\r\n\r\nx\r\n";
    assert_eq!(actions(script, spam, "a@b.example", &mut m).actions, [fileinto("spam")]);
    let not_to_me = "From: x@y.example\r\nTo: friend@other.example\r\nSubject: hi\r\n\r\nx\r\n";
    assert_eq!(actions(script, not_to_me, "a@b.example", &mut m).actions, [fileinto("spam")]);
    let personal = "From: x@y.example\r\nTo: friend@other.example\r\nCc: me@example.com\r\nSubject: hi\r\n\r\nx\r\n";
    assert_eq!(actions(script, personal, "a@b.example", &mut m).actions, [fileinto("personal")]);
}

#[test]
fn implicit_keep_copy_discard_stop_and_redirect() {
    let mut m = Clocked::default();
    let run = |s: &str, m: &mut Clocked| actions(s, MESSAGE, "coyote@desert.example.org", m).actions;
    assert_eq!(run("", &mut m), [keep()], "RFC 5228 2.10.2: no actions, implicit keep");
    assert_eq!(run("discard;", &mut m), []);
    assert_eq!(run("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";", &mut m), [fileinto("A"), keep()]);
    assert_eq!(
        run("require \"fileinto\"; fileinto \"A\"; fileinto \"A\";", &mut m),
        [fileinto("A")],
        "the same action once"
    );
    assert_eq!(
        run("redirect \"a@x.example\"; stop; keep;", &mut m),
        [Action::Redirect { address: "a@x.example".into() }]
    );
    assert_eq!(
        run("require \"copy\"; redirect :copy \"a@x.example\";", &mut m),
        [Action::Redirect { address: "a@x.example".into() }, keep()]
    );
    let many = (0..5).map(|i| format!("redirect \"r{i}@x.example\";")).collect::<String>();
    let out = actions(&many, MESSAGE, "c@d.example", &mut m);
    assert_eq!(out.actions, [keep()], "a run-time error leaves only the implicit keep");
    assert!(out.error.unwrap().contains("more than 4 redirects"));
    let out =
        actions("require [\"reject\", \"fileinto\"]; fileinto \"A\"; reject \"no\";", MESSAGE, "c@d.example", &mut m);
    assert!(out.error.unwrap().contains("RFC 5429"));
}

#[test]
fn rfc_5229_variables_and_match_values() {
    let script = r#"
        require ["variables", "fileinto"];
        if header :matches "List-ID" "*<*@*" {
            fileinto "INBOX.lists.${2}"; stop;
        }
        set :lower :upperfirst "name" "BOB";
        if string :is "${name}" "Bob" { fileinto "named ${name}"; }"#;
    let mut m = Clocked::default();
    let list = "List-ID: Sieve <sieve@ietf.org>\r\nSubject: x\r\n\r\nbody\r\n";
    assert_eq!(actions(script, list, "a@b.example", &mut m).actions, [fileinto("INBOX.lists.sieve")]);
    assert_eq!(actions(script, MESSAGE, "a@b.example", &mut m).actions, [fileinto("named Bob")]);
}

#[test]
fn rfc_5232_flags_rfc_5233_subaddress_and_rfc_5231_relational() {
    let script = r#"
        require ["imap4flags", "fileinto", "subaddress", "envelope", "relational", "comparator-i;ascii-numeric"];
        addflag "\\Flagged";
        addflag ["$Work", "\\flagged"];
        if envelope :detail "to" "lists" { fileinto :flags "\\Seen" "Lists"; }
        if header :value "ge" :comparator "i;ascii-numeric" "X-Priority" "3" { removeflag "$Work"; }
        if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "2" { fileinto "Crowd"; }"#;
    let compiled = compile(script.as_bytes()).unwrap();
    let mut memory = Clocked::default();
    let mut ctx = Context::new(envelope("a@b.example", "bob+lists@example.com"), &mut memory);
    let msg = "To: bob@example.com, amy@example.com\r\nX-Priority: 5\r\n\r\nx\r\n";
    let out = run(&compiled, msg.as_bytes(), &mut ctx);
    let with = |m: &str, flags: &[&str]| Action::FileInto {
        mailbox: m.into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        create: false,
    };
    assert_eq!(out.actions, [with("Lists", &["\\Seen"]), with("Crowd", &["\\Flagged"])]);
}

#[test]
fn rfc_5230_vacation_once_per_period_and_never_to_lists() {
    let script = "require \"vacation\";\nvacation :days 7 :subject \"Away\" \"I am away until Monday.\";";
    let mut m = Clocked::default();
    let reply =
        |out: Outcome| out.actions.into_iter().find_map(|a| if let Action::Vacation(r) = a { Some(r) } else { None });
    let r = reply(actions(script, MESSAGE, "coyote@desert.example.org", &mut m)).expect("a reply");
    assert_eq!(
        (r.to.as_str(), r.subject.as_str(), r.in_reply_to.as_deref()),
        ("coyote@desert.example.org", "Away", Some("<1@desert.example.org>"))
    );
    let text = String::from_utf8(r.to_message("bob@example.com", "Mon, 1 Jun 2026 10:00:00 +0000", "<r@example.com>"))
        .unwrap();
    assert!(
        text.contains("Auto-Submitted: auto-replied") && text.contains("In-Reply-To: <1@desert.example.org>"),
        "{text}"
    );
    assert!(reply(actions(script, MESSAGE, "coyote@desert.example.org", &mut m)).is_none(), "once per period");
    m.now += 7 * 86_400;
    assert!(reply(actions(script, MESSAGE, "coyote@desert.example.org", &mut m)).is_some(), "again after 7 days");
    for (sender, message) in [
        ("", MESSAGE.to_string()),
        ("owner-list@x.example", MESSAGE.to_string()),
        ("a@x.example", format!("List-Id: <l.x.example>\r\n{MESSAGE}")),
        ("b@x.example", format!("Auto-Submitted: auto-generated\r\n{MESSAGE}")),
        ("c@x.example", format!("Precedence: bulk\r\n{MESSAGE}")),
        ("d@x.example", MESSAGE.replace("To: bob@example.com", "To: other@example.com")),
    ] {
        let out = actions(script, &message, sender, &mut m);
        assert!(reply(out).is_none(), "no reply to <{sender}>");
    }
}

#[test]
fn rfc_5293_editheader_rfc_7352_duplicate_rfc_5260_date() {
    let script = r#"
        require ["editheader", "duplicate", "date", "fileinto", "relational"];
        addheader "X-Sieve" "checked";
        deleteheader "X-Caffeine";
        deleteheader "Received";
        if duplicate { discard; stop; }
        if date :value "ge" :originalzone "date" "date" "2026-01-01" { fileinto "New"; }"#;
    let mut m = Clocked::default();
    let msg = format!("Received: from x\r\nDate: Mon, 1 Jun 2026 10:00:00 +0200\r\n{MESSAGE}");
    let out = actions(script, &msg, "a@b.example", &mut m);
    assert_eq!(out.actions, [fileinto("New")]);
    let edited = String::from_utf8(out.message.unwrap()).unwrap();
    assert!(
        edited.starts_with("X-Sieve: checked\r\nReceived: from x\r\n") && !edited.contains("X-Caffeine"),
        "{edited}"
    );
    assert_eq!(actions(script, &msg, "a@b.example", &mut m).actions, [], "the same Message-ID again");
}

#[test]
fn rfc_5235_spamtest_reports_the_filter_verdict() {
    let script = compile(
        b"require [\"spamtestplus\", \"relational\", \"comparator-i;ascii-numeric\", \"fileinto\"];\n\
          if spamtest :is \"0\" { fileinto \"Untested\"; }\n\
          elsif spamtest :value \"ge\" :comparator \"i;ascii-numeric\" \"6\" { fileinto \"Junk\"; }\n\
          elsif spamtest :percent :value \"ge\" :comparator \"i;ascii-numeric\" \"30\" { fileinto \"Maybe\"; }\n",
    )
    .unwrap();
    // (filter verdict in percent, where it goes): 20 % is 3 of 10, 80 % is 8.
    for (spam, expected) in [
        (None, fileinto("Untested")),
        (Some(20), keep()),
        (Some(35), fileinto("Maybe")),
        (Some(80), fileinto("Junk")),
        (Some(100), fileinto("Junk")),
    ] {
        let mut memory = Clocked::default();
        let mut ctx = Context::new(envelope("a@b.example", "c@d.example"), &mut memory);
        ctx.spam = spam;
        assert_eq!(run(&script, b"Subject: x\r\n\r\nx\r\n", &mut ctx).actions, [expected], "{spam:?}");
    }
    let e = compile(b"require \"spamtest\";\nif spamtest :percent \"50\" { discard; }\n").unwrap_err();
    assert!(e.to_string().contains("`:percent` needs the \"spamtestplus\" extension"), "{e}");
}

#[test]
fn compile_errors_point_at_the_problem() {
    for (script, want) in [
        (
            "fileinto \"x\";",
            "line 1, column 1: `fileinto` needs the \"fileinto\" extension: add `require \"fileinto\";`",
        ),
        ("require \"frobnicate\";", "the extension \"frobnicate\" is not supported here"),
        ("keep;\nrequire \"fileinto\";", "line 2, column 1: `require` must come before every other command"),
        ("if header :is :contains \"a\" \"b\" {}", "takes only one match type"),
        ("if header :frob \"a\" \"b\" {}", "`header` has no argument `:frob`"),
        ("if header \"a\" {}", "`header` takes 2 arguments besides its tags, not 1"),
        ("elsif true {}", "must follow an `if`"),
        ("if size 100 {}", "exactly one of `:over` and `:under`"),
        ("if header :comparator \"i;frob\" \"a\" \"b\" {}", "unknown comparator"),
        (
            "require \"comparator-i;ascii-numeric\";\nif header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" {}",
            "cannot do :contains",
        ),
        ("require \"variables\"; set \"1a\" \"x\";", "is not a variable name"),
        ("require \"relational\"; if header :value \"gtx\" \"a\" \"b\" {}", "takes one of"),
        ("redirect \"not an address\";", "is not an address to redirect to"),
        ("frob;", "unknown command `frob`"),
        ("if frob {}", "unknown test `frob`"),
        ("require \"vacation\"; vacation :days 1 :seconds 2 \"x\";", "exclude each other"),
        ("require \"vacation\"; vacation :seconds 2 \"x\";", "needs the \"vacation-seconds\" extension"),
    ] {
        let e = compile(script.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(want), "{script:?}: {e}");
    }
    let limits = Limits { max_script_size: 10, ..Limits::default() };
    assert!(compile_with(b"keep; keep; keep;", limits).unwrap_err().to_string().contains("at most 10"));
    let looping = "require \"variables\";\n".to_string() + &"if true { set \"a\" \"${a}x\"; }\n".repeat(50);
    let limits = Limits { max_steps: 20, ..Limits::default() };
    let compiled = compile_with(looping.as_bytes(), limits).unwrap();
    let mut memory = NoMemory;
    let mut ctx = Context::new(envelope("a@b.example", "c@d.example"), &mut memory);
    assert!(run(&compiled, b"\r\n", &mut ctx).error.unwrap().contains("more than 20 steps"));
}

#[test]
fn pigeonhole_test_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pigeonhole");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".svtest"))
        .collect();
    names.sort();
    let (mut passed, mut report) = (Vec::new(), Vec::new());
    for name in &names {
        let script = std::fs::read(dir.join(name)).unwrap();
        let verdict = match build(&script, Limits::default(), true) {
            Err(e) => Err(format!("does not compile: {e}")),
            Ok(compiled) => {
                let mut memory = Clocked::default();
                let mut ctx = Context::new(envelope("sender@example.com", "recipient@example.net"), &mut memory);
                let (tests, failures) = run::testsuite(&compiled.program, &compiled.limits, &mut ctx);
                if failures.is_empty() { Ok(tests) } else { Err(failures.join("; ")) }
            }
        };
        match verdict {
            Ok(tests) => {
                passed.push(name.clone());
                report.push(format!("pass {name} ({tests} tests)"));
            }
            Err(e) => report.push(format!("FAIL {name}: {e}")),
        }
    }
    println!("Pigeonhole test scripts: {} of {} pass\n{}", passed.len(), names.len(), report.join("\n"));
    assert_eq!(passed.len(), names.len(), "every vendored Pigeonhole script passes:\n{}", report.join("\n"));
}
