//! IMAP commands (RFC 3501 6 and 9 `command`; the extensions the session offers).

use super::fetch::{self, FetchAttr, FetchModifiers};
use super::lexer::{Cursor, ParseError, Parsed, bad};
use super::qresync::{self, Qresync};
use super::search::{self, SearchProgram};
use super::sequence::SequenceSet;
use crate::datetime::DateTime;
use crate::mutf7;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag.
    pub tag: String,
    /// What it asks.
    pub kind: Kind,
    /// A mailbox name or LIST pattern that is not valid modified UTF-7, as sent: the command
    /// is well-formed, but no mailbox can have that name (answered NO, or an empty LIST).
    pub invalid_name: Option<String>,
}

/// STORE's operation (RFC 3501 6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// FLAGS: replace.
    Replace,
    /// +FLAGS: add.
    Add,
    /// -FLAGS: remove.
    Remove,
}

/// STATUS data items (RFC 3501 6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 9051 DELETED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES.
    Messages,
    /// RECENT.
    Recent,
    /// UIDNEXT.
    UidNext,
    /// UIDVALIDITY.
    UidValidity,
    /// UNSEEN.
    Unseen,
    /// HIGHESTMODSEQ.
    HighestModSeq,
    /// SIZE.
    Size,
    /// DELETED.
    Deleted,
}

/// LIST's arguments (RFC 3501 6.3.8, RFC 5258 LIST-EXTENDED, RFC 6154, RFC 5819).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArgs {
    /// Reference name (decoded).
    pub reference: String,
    /// Patterns (decoded); more than one only with LIST-EXTENDED.
    pub patterns: Vec<String>,
    /// Selection option SUBSCRIBED.
    pub select_subscribed: bool,
    /// Selection option RECURSIVEMATCH.
    pub recursive_match: bool,
    /// Selection option SPECIAL-USE.
    pub select_special_use: bool,
    /// Return option SUBSCRIBED.
    pub return_subscribed: bool,
    /// Return option CHILDREN.
    pub return_children: bool,
    /// Return option SPECIAL-USE.
    pub return_special_use: bool,
    /// Return option STATUS (items).
    pub return_status: Option<Vec<StatusItem>>,
    /// Whether any extended syntax was used (then CHILDREN info is sent only on request).
    pub extended: bool,
}

/// SELECT/EXAMINE parameters (RFC 7162 3.1.8, 3.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    /// (CONDSTORE).
    pub condstore: bool,
    /// (QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])).
    pub qresync: Option<Qresync>,
}

/// The commands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Kind {
    Capability,
    Noop,
    Logout,
    StartTls,
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Login {
        user: String,
        password: String,
    },
    Enable(Vec<String>),
    Select {
        mailbox: String,
        read_only: bool,
        params: SelectParams,
    },
    Create {
        mailbox: String,
        special_use: Vec<String>,
    },
    Delete(String),
    Rename {
        from: String,
        to: String,
    },
    Subscribe(String),
    Unsubscribe(String),
    List(ListArgs),
    Lsub {
        reference: String,
        pattern: String,
    },
    Namespace,
    /// RFC 9208 4.2, 4.3, 4.1.
    GetQuota(String),
    GetQuotaRoot(String),
    SetQuota(String),
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: String,
        flags: Vec<String>,
        date: Option<DateTime>,
        message: Vec<u8>,
    },
    Idle,
    Id(Vec<(String, Option<String>)>),
    Check,
    Close,
    Unselect,
    Expunge {
        uids: Option<SequenceSet>,
    },
    Search {
        uid: bool,
        program: SearchProgram,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        items: Vec<FetchAttr>,
        modifiers: FetchModifiers,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
}

impl Kind {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Capability => "CAPABILITY",
            Kind::Noop => "NOOP",
            Kind::Logout => "LOGOUT",
            Kind::StartTls => "STARTTLS",
            Kind::Authenticate { .. } => "AUTHENTICATE",
            Kind::Login { .. } => "LOGIN",
            Kind::Enable(_) => "ENABLE",
            Kind::Select { read_only: false, .. } => "SELECT",
            Kind::Select { read_only: true, .. } => "EXAMINE",
            Kind::Create { .. } => "CREATE",
            Kind::Delete(_) => "DELETE",
            Kind::Rename { .. } => "RENAME",
            Kind::Subscribe(_) => "SUBSCRIBE",
            Kind::Unsubscribe(_) => "UNSUBSCRIBE",
            Kind::List(_) => "LIST",
            Kind::Lsub { .. } => "LSUB",
            Kind::Namespace => "NAMESPACE",
            Kind::GetQuota(_) => "GETQUOTA",
            Kind::GetQuotaRoot(_) => "GETQUOTAROOT",
            Kind::SetQuota(_) => "SETQUOTA",
            Kind::Status { .. } => "STATUS",
            Kind::Append { .. } => "APPEND",
            Kind::Idle => "IDLE",
            Kind::Id(_) => "ID",
            Kind::Check => "CHECK",
            Kind::Close => "CLOSE",
            Kind::Unselect => "UNSELECT",
            Kind::Expunge { .. } => "EXPUNGE",
            Kind::Search { .. } => "SEARCH",
            Kind::Fetch { .. } => "FETCH",
            Kind::Store { .. } => "STORE",
            Kind::Copy { .. } => "COPY",
            Kind::Move { .. } => "MOVE",
        }
    }
}

/// A command that could not be parsed: the tag when one was read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The tag, if the line started with one.
    pub tag: Option<String>,
    /// The reason, for `BAD`.
    pub error: ParseError,
}

/// Parses one complete command in wire form (as the framer returns it).
pub fn parse(input: &[u8]) -> Result<Command, Malformed> {
    let mut c = Cursor::new(input);
    let tag = match c.tag() {
        Ok(tag) => tag,
        Err(_) if c.at_end() => return Err(Malformed { tag: None, error: ParseError("Empty command line".into()) }),
        Err(error) => return Err(Malformed { tag: None, error }),
    };
    let kind = c.sp().and_then(|_| parse_kind(&mut c)).and_then(|kind| c.end().map(|_| kind));
    match kind {
        Ok(kind) => Ok(Command { tag, kind, invalid_name: c.invalid_name }),
        Err(error) => Err(Malformed { tag: Some(tag), error }),
    }
}

fn parse_kind(c: &mut Cursor) -> Parsed<Kind> {
    let name = c.word("a command name")?;
    let kind = match name.as_str() {
        "CAPABILITY" => Kind::Capability,
        "NOOP" => Kind::Noop,
        "LOGOUT" => Kind::Logout,
        "STARTTLS" => Kind::StartTls,
        "AUTHENTICATE" => authenticate(c)?,
        "LOGIN" => {
            c.sp()?;
            let user = c.astring_text("a user name")?;
            c.sp()?;
            Kind::Login { user, password: c.astring_text("a password")? }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while c.eat(b' ') {
                caps.push(c.atom("a capability")?.to_ascii_uppercase());
            }
            if caps.is_empty() {
                return bad("ENABLE needs at least one capability");
            }
            Kind::Enable(caps)
        }
        "SELECT" | "EXAMINE" => {
            let mailbox = sp_mailbox(c)?;
            Kind::Select { mailbox, read_only: name == "EXAMINE", params: select_params(c)? }
        }
        "CREATE" => create(c)?,
        "DELETE" => Kind::Delete(sp_mailbox(c)?),
        "RENAME" => {
            let from = sp_mailbox(c)?;
            Kind::Rename { from, to: sp_mailbox(c)? }
        }
        "SUBSCRIBE" => Kind::Subscribe(sp_mailbox(c)?),
        "UNSUBSCRIBE" => Kind::Unsubscribe(sp_mailbox(c)?),
        "LIST" => Kind::List(list(c)?),
        "LSUB" => {
            let reference = sp_mailbox(c)?;
            c.sp()?;
            Kind::Lsub { reference, pattern: pattern(c)? }
        }
        "NAMESPACE" => Kind::Namespace,
        // RFC 9208 4: quota roots are astrings, like mailbox names.
        "GETQUOTA" => Kind::GetQuota(sp_mailbox(c)?),
        "GETQUOTAROOT" => Kind::GetQuotaRoot(sp_mailbox(c)?),
        "SETQUOTA" => {
            let root = sp_mailbox(c)?;
            c.sp()?;
            // setquota-list (RFC 9208 8): read, never applied; limits are set in carrier.toml.
            c.expect(b'(', "a list of quota resources")?;
            if !c.eat(b')') {
                loop {
                    c.atom("a quota resource name")?;
                    c.sp()?;
                    c.number64()?;
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
            }
            Kind::SetQuota(root)
        }
        "STATUS" => {
            let mailbox = sp_mailbox(c)?;
            c.sp()?;
            Kind::Status { mailbox, items: status_items(c)? }
        }
        "APPEND" => append(c)?,
        "IDLE" => Kind::Idle,
        "ID" => id(c)?,
        "CHECK" => Kind::Check,
        "CLOSE" => Kind::Close,
        "UNSELECT" => Kind::Unselect,
        "EXPUNGE" => Kind::Expunge { uids: None },
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => message_command(c, &name, false)?,
        "UID" => {
            c.sp()?;
            let sub = c.word("a UID command")?;
            match sub.as_str() {
                "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => message_command(c, &sub, true)?,
                // RFC 4315 2.1
                "EXPUNGE" => {
                    c.sp()?;
                    Kind::Expunge { uids: Some(SequenceSet::parse(c)?) }
                }
                _ => return bad(format!("Unknown UID command {sub}")),
            }
        }
        _ => return bad(format!("Unknown command {name}")),
    };
    Ok(kind)
}

fn authenticate(c: &mut Cursor) -> Parsed<Kind> {
    c.sp()?;
    let mechanism = c.atom("a SASL mechanism")?.to_ascii_uppercase();
    let mut initial = None;
    // RFC 4959: SP (base64 / "=") initial response.
    if c.eat(b' ') {
        let mut word = Vec::new();
        while let Some(b) = c.peek().filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
            word.push(b);
            c.eat(b);
        }
        if word.is_empty() {
            return c.unexpected("a base64 initial response");
        }
        initial = Some(word);
    }
    Ok(Kind::Authenticate { mechanism, initial })
}

/// A mailbox name: astring, `INBOX` in any case, else modified UTF-7 (RFC 3501 5.1.3).
pub fn mailbox(c: &mut Cursor) -> Parsed<String> {
    let raw = c.astring("a mailbox name")?;
    Ok(decode_mailbox(c, &raw))
}

/// A name that is not modified UTF-7 is still a well-formed argument (RFC 3501 9 only asks
/// for an astring): it is kept as sent and marked, so the command gets NO, not BAD.
fn decode_mailbox(c: &mut Cursor, raw: &[u8]) -> String {
    if raw.eq_ignore_ascii_case(b"INBOX") {
        return "INBOX".into();
    }
    mutf7::decode(raw).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(raw).into_owned();
        c.invalid_name.get_or_insert_with(|| text.clone());
        text
    })
}

fn sp_mailbox(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    mailbox(c)
}

fn pattern(c: &mut Cursor) -> Parsed<String> {
    let raw = c.list_mailbox()?;
    Ok(decode_mailbox(c, &raw))
}

fn create(c: &mut Cursor) -> Parsed<Kind> {
    let mailbox = sp_mailbox(c)?;
    let mut special_use = Vec::new();
    // RFC 6154 3: CREATE name (USE (\Drafts)).
    if c.eat(b' ') {
        c.list(false, |c| {
            let w = c.word("a CREATE parameter")?;
            if w != "USE" {
                return bad(format!("Unknown CREATE parameter {w}"));
            }
            c.sp()?;
            special_use = c.list(true, |c| flag(c))?;
            Ok(())
        })?;
    }
    Ok(Kind::Create { mailbox, special_use })
}

fn select_params(c: &mut Cursor) -> Parsed<SelectParams> {
    let mut p = SelectParams::default();
    if c.at_end() {
        return Ok(p);
    }
    c.sp()?;
    c.list(false, |c| {
        let w = c.word("a SELECT parameter")?;
        match w.as_str() {
            "CONDSTORE" => p.condstore = true,
            "QRESYNC" if p.qresync.is_some() => return bad("QRESYNC is given twice"),
            "QRESYNC" => {
                c.sp()?;
                p.qresync = Some(qresync::parse(c)?);
            }
            _ => return bad(format!("Unknown SELECT parameter {w}")),
        }
        Ok(())
    })?;
    Ok(p)
}

fn list(c: &mut Cursor) -> Parsed<ListArgs> {
    let mut args = ListArgs::default();
    c.sp()?;
    if c.peek() == Some(b'(') {
        args.extended = true;
        c.list(true, |c| {
            let w = c.word("a LIST selection option")?;
            match w.as_str() {
                "SUBSCRIBED" => args.select_subscribed = true,
                "REMOTE" => {}
                "RECURSIVEMATCH" => args.recursive_match = true,
                "SPECIAL-USE" => args.select_special_use = true,
                _ => return bad(format!("Unknown LIST selection option {w}")),
            }
            Ok(())
        })?;
        // RFC 5258 3: RECURSIVEMATCH alone is an error.
        if args.recursive_match && !args.select_subscribed && !args.select_special_use {
            return bad("RECURSIVEMATCH needs another selection option");
        }
        c.sp()?;
    }
    args.reference = mailbox(c)?;
    c.sp()?;
    if c.peek() == Some(b'(') {
        args.extended = true;
        args.patterns = c.list(false, pattern)?;
    } else {
        args.patterns = vec![pattern(c)?];
    }
    if c.peek_word(" RETURN ") {
        args.extended = true;
        c.eat_word(" RETURN ");
        c.list(true, |c| {
            let w = c.word("a LIST return option")?;
            match w.as_str() {
                "SUBSCRIBED" => args.return_subscribed = true,
                "CHILDREN" => args.return_children = true,
                "SPECIAL-USE" => args.return_special_use = true,
                "STATUS" => {
                    c.sp()?;
                    args.return_status = Some(status_items(c)?);
                }
                _ => return bad(format!("Unknown LIST return option {w}")),
            }
            Ok(())
        })?;
    }
    Ok(args)
}

fn status_items(c: &mut Cursor) -> Parsed<Vec<StatusItem>> {
    c.list(false, |c| {
        let w = c.word("a STATUS item")?;
        Ok(match w.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "SIZE" => StatusItem::Size,
            "DELETED" => StatusItem::Deleted,
            _ => return bad(format!("Unknown STATUS item {w}")),
        })
    })
}

/// flag = "\" atom / atom (RFC 3501 9; `\*` only in PERMANENTFLAGS, never from clients).
fn flag(c: &mut Cursor) -> Parsed<String> {
    let backslash = c.eat(b'\\');
    let atom = c.atom("a flag")?;
    Ok(if backslash { crate::flags::canonical(&format!("\\{atom}")) } else { atom.to_string() })
}

fn flag_list(c: &mut Cursor) -> Parsed<Vec<String>> {
    c.list(true, flag)
}

fn append(c: &mut Cursor) -> Parsed<Kind> {
    let mailbox = sp_mailbox(c)?;
    c.sp()?;
    let mut flags = Vec::new();
    if c.peek() == Some(b'(') {
        flags = flag_list(c)?;
        c.sp()?;
    }
    let mut date = None;
    if c.peek() == Some(b'"') {
        let text = c.quoted()?;
        let text = String::from_utf8_lossy(&text);
        date = Some(
            DateTime::parse_imap(&text)
                .map_or_else(|| bad(format!("Invalid date-time {text:?}: use \"dd-Mon-yyyy hh:mm:ss +zzzz\"")), Ok)?,
        );
        c.sp()?;
    }
    if c.peek() == Some(b'~') {
        return bad("literal8 needs BINARY, which is not supported");
    }
    if c.peek() != Some(b'{') {
        return c.unexpected("the message as a literal");
    }
    Ok(Kind::Append { mailbox, flags, date, message: c.literal()? })
}

fn id(c: &mut Cursor) -> Parsed<Kind> {
    c.sp()?;
    if c.eat_nil() {
        return Ok(Kind::Id(Vec::new()));
    }
    let mut pairs = Vec::new();
    c.list(true, |c| {
        let key = String::from_utf8_lossy(&c.string()?).into_owned();
        c.sp()?;
        let value = c.nstring()?.map(|v| String::from_utf8_lossy(&v).into_owned());
        pairs.push((key, value));
        Ok(())
    })?;
    // RFC 2971 3.3: at most 30 field-value pairs.
    if pairs.len() > 30 {
        return bad("ID allows at most 30 field-value pairs");
    }
    Ok(Kind::Id(pairs))
}

fn message_command(c: &mut Cursor, name: &str, uid: bool) -> Parsed<Kind> {
    if name == "SEARCH" {
        return Ok(Kind::Search { uid, program: search::parse_program(c)? });
    }
    c.sp()?;
    let set = SequenceSet::parse(c)?;
    c.sp()?;
    Ok(match name {
        "FETCH" => {
            let items = fetch::parse_items(c)?;
            let modifiers = fetch::parse_modifiers(c)?;
            if modifiers.vanished && (!uid || modifiers.changed_since.is_none()) {
                // RFC 7162 3.2.6
                return bad("VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 3.2.6)");
            }
            Kind::Fetch { uid, set, items, modifiers }
        }
        "STORE" => store(c, uid, set)?,
        "COPY" => Kind::Copy { uid, set, mailbox: mailbox(c)? },
        _ => Kind::Move { uid, set, mailbox: mailbox(c)? },
    })
}

fn store(c: &mut Cursor, uid: bool, set: SequenceSet) -> Parsed<Kind> {
    let mut unchanged_since = None;
    if c.peek() == Some(b'(') {
        c.list(false, |c| {
            let w = c.word("a STORE modifier")?;
            if w != "UNCHANGEDSINCE" {
                return bad(format!("Unknown STORE modifier {w}"));
            }
            c.sp()?;
            unchanged_since = Some(c.number64()?);
            Ok(())
        })?;
        c.sp()?;
    }
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let item = c.word("FLAGS or FLAGS.SILENT")?;
    let silent = match item.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return bad(format!("Unknown STORE item {item}: use FLAGS, +FLAGS or -FLAGS, with .SILENT or not")),
    };
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        flag_list(c)?
    } else {
        let mut flags = vec![flag(c)?];
        while c.eat(b' ') {
            flags.push(flag(c)?);
        }
        flags
    };
    Ok(Kind::Store { uid, set, unchanged_since, mode, silent, flags })
}

#[cfg(test)]
mod tests;
