"""A mail client's view of carrier's IMAP ports, with Python's imaplib: every command and
extension the server advertises.

Usage: imaplib_client.py SMTP_PORT IMAP_PORT IMAPS_PORT CERT_FILE
The server has bob@example.com / bob-secret with an empty INBOX; this script delivers its own
mail over SMTP (example.com is local, so the SMTP port accepts it without AUTH).
"""
import imaplib
import re
import smtplib
import ssl
import sys
import time

smtp_port, imap_port, imaps_port, cert = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
# Commands Python 3.11's imaplib does not know yet.
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
imaplib.Commands.setdefault("UNSELECT", ("SELECTED",))

MIXED = b"""From: Alice <alice@example.org>
To: Bob <bob@example.com>
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and a file
Date: Tue, 14 Nov 2023 22:13:20 +0000
Message-ID: <mixed@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Viele Gr=C3=BC=C3=9Fe aus Z=C3=BCrich
--XYZ
Content-Type: application/octet-stream; name="data.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="data.bin"

AAECAwQF
--XYZ--
"""


def check(condition, what):
    if not condition:
        raise SystemExit(f"imaplib: FAILED: {what}")


def same(got, expected, what):
    check(got == expected, f"{what}: expected {expected}, got {got}")


def ok(result, what):
    typ, data = result
    check(typ == "OK", f"{what}: {typ} {data}")
    return data


def refused(call, code, what):
    """imaplib raises for some commands' NO and returns it for others."""
    try:
        typ, data = call()
    except imaplib.IMAP4.error as e:
        check(code in str(e), f"{what}: expected {code}, got {e}")
        return
    check(typ == "NO" and code in str(data), f"{what}: expected NO [{code}], got {typ} {data}")


def mutf7(text):
    """RFC 3501 5.1.3 modified UTF-7."""
    out, run = [], ""

    def flush():
        if run:
            b64 = run.encode("utf-16-be")
            import base64
            out.append("&" + base64.b64encode(b64).decode().rstrip("=").replace("/", ",") + "-")

    for ch in text:
        if " " <= ch <= "~":
            flush()
            run = ""
            out.append("&-" if ch == "&" else ch)
        else:
            run += ch
    flush()
    return "".join(out)


def deliver(subject, body, raw=None):
    message = raw or f"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as s:
        s.sendmail("alice@example.org", ["bob@example.com"], message)


def wait_messages(M, mailbox, n):
    deadline = time.time() + 20
    while time.time() < deadline:
        data = ok(M.status(mailbox, "(MESSAGES)"), "STATUS while waiting")
        if int(re.search(rb"MESSAGES (\d+)", data[0]).group(1)) >= n:
            return
        time.sleep(0.05)
    raise SystemExit(f"imaplib: FAILED: {mailbox} never got {n} messages")


def fetch(M, which, items):
    data = ok(M.fetch(which, items), f"FETCH {which} {items}")
    return data


def uids_of(M, criteria):
    return ok(M.uid("SEARCH", *criteria), f"UID SEARCH {criteria}")[0].split()


# --- 143: LOGINDISABLED until STARTTLS, then AUTHENTICATE PLAIN ---------------------------
M = imaplib.IMAP4("127.0.0.1", imap_port, timeout=20)
check("STARTTLS" in M.capabilities and "LOGINDISABLED" in M.capabilities, M.capabilities)
refused(lambda: M.login("bob@example.com", "bob-secret"), "PRIVACYREQUIRED", "LOGIN before STARTTLS")
M.starttls(ssl_context=ctx)
check("AUTH=PLAIN" in M.capabilities and "STARTTLS" not in M.capabilities, M.capabilities)
refused(lambda: M.authenticate("PLAIN", lambda _: b"\0bob@example.com\0wrong"), "AUTHENTICATIONFAILED", "bad password")
ok(M.authenticate("PLAIN", lambda _: b"\0bob@example.com\0bob-secret"), "AUTHENTICATE PLAIN")
check(M.logout()[0] == "BYE", "LOGOUT")

# --- 993: everything else ---------------------------------------------------------------
M = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx, timeout=20)
advertised = set(M.capabilities)
for cap in ("IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "CHILDREN",
            "UIDPLUS", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "ESEARCH",
            "CONDSTORE", "QRESYNC", "STATUS=SIZE", "AUTH=PLAIN"):
    check(cap in advertised, f"capability {cap} in {advertised}")
check(any(c.startswith("APPENDLIMIT=") for c in advertised), advertised)
ok(M.login("bob", "bob-secret"), "LOGIN with the bare name")

# ID (RFC 2971), ENABLE (RFC 5161), NAMESPACE (RFC 2342)
typ, data = M._simple_command("ID", '("name" "imaplib" "version" "3.11")')
typ, data = M._untagged_response(typ, data, "ID")
check(typ == "OK" and b'"name" "carrier"' in data[0], f"ID: {typ} {data}")
ok(M.enable("CONDSTORE"), "ENABLE")
enabled = M.untagged_responses.pop("ENABLED", [])
check(enabled == [b"CONDSTORE"], f"ENABLED: {enabled}")
check(ok(M.namespace(), "NAMESPACE")[0] == b'(("" "/")) NIL NIL', "NAMESPACE")

# LIST with SPECIAL-USE (RFC 6154), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), LSUB
listing = ok(M.list(), "LIST")
for name, use in [("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"), ("Trash", b"\\Trash"), ("Junk", b"\\Junk"),
                  ("Archive", b"\\Archive")]:
    check(any(use in l and l.endswith(name.encode()) for l in listing), f"{name} {use} in {listing}")
check(any(l.endswith(b"INBOX") for l in listing), listing)
typ, data = M._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
special = M._untagged_response(typ, data, "LIST")[1]
check(len(special) == 5 and not any(l.endswith(b"INBOX") for l in special), f"LIST (SPECIAL-USE): {special}")
typ, data = M._simple_command("LIST", '""', '"*"', "RETURN", "(SUBSCRIBED STATUS (MESSAGES UNSEEN SIZE))")
check(typ == "OK", f"LIST RETURN: {typ} {data}")
statuses = M.untagged_responses.pop("STATUS", [])
check(any(s.startswith(b"INBOX (MESSAGES 0 UNSEEN 0 SIZE 0)") for s in statuses), f"LIST-STATUS: {statuses}")
returned = M._untagged_response(typ, data, "LIST")[1]
check(any(b"\\Subscribed" in l and l.endswith(b"Sent") for l in returned), returned)
lsub = ok(M.lsub(), "LSUB")
check(any(l.endswith(b"INBOX") for l in lsub) and any(l.endswith(b"Trash") for l in lsub), lsub)

# CREATE / RENAME / DELETE / SUBSCRIBE / UNSUBSCRIBE, with hierarchy and non-ASCII names
ok(M.create("Projects/2024"), "CREATE with a parent")
listing = ok(M.list('""', "Projects*"), "LIST Projects*")
check(any(b"\\HasChildren" in l and l.endswith(b"Projects") for l in listing), listing)
drafts_de, sent_ru = mutf7("Entwürfe"), mutf7("Отправленные")
check(drafts_de == "Entw&APw-rfe", drafts_de)
ok(M.create(drafts_de), "CREATE Entwürfe")
ok(M.create(f'"{sent_ru}"'), "CREATE Отправленные")
ok(M.rename("Projects", "Work"), "RENAME with children")
listing = ok(M.list('""', "*"), "LIST *")
names = [l.rsplit(b' "/" ', 1)[1].strip(b'"') for l in listing]
check(b"Work/2024" in names and b"Projects/2024" not in names, names)
check(drafts_de.encode() in names and sent_ru.encode() in names, names)
ok(M.subscribe(drafts_de), "SUBSCRIBE")
check(any(l.endswith(drafts_de.encode()) for l in ok(M.lsub('""', "*"), "LSUB")), "subscribed")
ok(M.unsubscribe(drafts_de), "UNSUBSCRIBE")
check(not any(l.endswith(drafts_de.encode()) for l in ok(M.lsub('""', "*"), "LSUB")), "unsubscribed")
ok(M.delete(f'"{sent_ru}"'), "DELETE")
ok(M.delete("Work/2024"), "DELETE child")
refused(lambda: M.select("Work/2024"), "NONEXISTENT", "SELECT of a deleted mailbox")
refused(lambda: M.create("Elsewhere (USE (\\Sent))"), "USEATTR", "CREATE with a special use for another name")
ok(M.delete("Archive"), "DELETE Archive")
ok(M._simple_command("CREATE", "Archive", "(USE (\\Archive))"), "CREATE-SPECIAL-USE")

# Mail arrives over SMTP.
deliver("one", "Hello Bob, first message.")
deliver("two", "Second message, longer than the one before.")
deliver(None, None, raw=MIXED.replace(b"\n", b"\r\n"))
wait_messages(M, "INBOX", 3)

# STATUS (with SIZE, HIGHESTMODSEQ)
data = ok(M.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)"), "STATUS")[0]
check(re.search(rb"MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY \d+ UNSEEN 3 SIZE \d+ HIGHESTMODSEQ \d+", data), data)

# EXAMINE is read-only and takes no \Recent.
data = ok(M.select("INBOX", readonly=True), "EXAMINE")
check(data == [b"3"] and M.untagged_responses.get("READ-ONLY") is not None, f"EXAMINE: {data}")
refused(lambda: M.store("1", "+FLAGS", "(\\Seen)"), "CANNOT", "STORE after EXAMINE")
ok(M.unselect() if hasattr(M, "unselect") else M._simple_command("UNSELECT"), "UNSELECT")

data = ok(M.select("INBOX"), "SELECT")
check(data == [b"3"], data)
check(M.response("RECENT")[1] == [b"3"], "RECENT 3")
check(int(M.response("UIDVALIDITY")[1][0]) > 0, "UIDVALIDITY")

# FETCH: every data item
data = fetch(M, "1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)")
meta = data[0]
check(re.search(rb"UID 1 FLAGS \(\\Recent\) INTERNALDATE \"[ 0-9]\d-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}\" RFC822.SIZE \d+ ENVELOPE \(", meta), meta)
check(b'"one"' in meta and b'(("Alice" NIL "alice" "example.org"))' in meta, meta)
data = fetch(M, "3", "(BODYSTRUCTURE)")
check(b'("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable"' in data[0], data)
check(b'"application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 8' in data[0] and b'"mixed"' in data[0], data)
data = fetch(M, "3", "(BODY)")
check(data[0].startswith(b"3 (BODY ((\"text\" \"plain\""), data)
data = fetch(M, "3", "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)])")
blob = b"".join(p if isinstance(p, bytes) else b"".join(p) for p in data)
check(b"Viele Gr=C3=BC=C3=9Fe aus Z=C3=BCrich" in blob and b"AAECAwQF" in blob, blob)
check(b"Content-Disposition: attachment" in blob and b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=" in blob, blob)
data = fetch(M, "2", "(BODY.PEEK[TEXT]<0.6>)")
check(data[0][0].endswith(b"BODY[TEXT]<0> {6}") and data[0][1] == b"Second", data)
data = fetch(M, "2", "(BODY.PEEK[]<7.100>)")
check(data[0][0].endswith(b"BODY[]<7> {100}"), data)
data = fetch(M, "1", "(RFC822.HEADER)")
check(b"Subject: one\r\n" in data[0][1] and data[0][1].endswith(b"\r\n\r\n"), data)
data = fetch(M, "1", "(FLAGS)")
check(b"\\Seen" not in data[0], f"PEEK and headers leave \\Seen alone: {data}")
data = fetch(M, "1", "(RFC822.TEXT)")
check(data[0][1] == b"Hello Bob, first message.\r\n", data)
data = fetch(M, "2", "(BODY[])")
check(b"Subject: two" in data[0][1], data)
flags = fetch(M, "1:3", "(FLAGS)")
check(b"\\Seen" in flags[0] and b"\\Seen" in flags[1] and b"\\Seen" not in flags[2], f"BODY[] and RFC822.TEXT set \\Seen: {flags}")
data = fetch(M, "3", "(RFC822)")
check(data[0][1].endswith(MIXED.replace(b"\n", b"\r\n")), f"RFC822 is the message as delivered: {data}")
check(b"\\Seen" in fetch(M, "3", "(FLAGS)")[0], "RFC822 sets \\Seen")
ok(M.store("3", "-FLAGS.SILENT", "(\\Seen)"), "unread again")
data = fetch(M, "1", "(MODSEQ)")
check(re.search(rb"MODSEQ \(\d+\)", data[0]), data)

# SEARCH with many keys, CHARSET UTF-8, ESEARCH
def search(*criteria, charset=None):
    return ok(M.search(charset, *criteria), f"SEARCH {criteria}")[0].split()

same(search("ALL"), [b"1", b"2", b"3"], "ALL")
same(search("SUBJECT", "two"), [b"2"], "SUBJECT")
same(search("FROM", "alice"), [b"1", b"2", b"3"], "FROM")
same(search("TO", "bob@example.com"), [b"1", b"2", b"3"], "TO")
same(search("BODY", "first"), [b"1"], "BODY")
same(search("TEXT", "longer"), [b"2"], "TEXT")
same(search("HEADER", "Message-ID", "mixed@example.org"), [b"3"], "HEADER")
same(search("UNSEEN"), [b"3"], "UNSEEN")
same(search("SEEN"), [b"1", b"2"], "SEEN")
same(search("RECENT"), [b"1", b"2", b"3"], "RECENT")
same(search("NEW"), [b"3"], "NEW")
same(search("OLD"), [], "OLD")
same(search("LARGER", "10", "SMALLER", "100000"), [b"1", b"2", b"3"], "LARGER/SMALLER")
same(search("SINCE", "1-Jan-2020", "BEFORE", "1-Jan-2100"), [b"1", b"2", b"3"], "SINCE/BEFORE")
check(search("ON", time.strftime("%d-%b-%Y", time.gmtime())) != [], "ON today")
same(search("SENTBEFORE", "1-Jan-2024"), [b"3"], "SENTBEFORE")
same(search("SENTON", "14-Nov-2023"), [b"3"], "SENTON")
same(search("OR", "SUBJECT", "one", "SUBJECT", "two"), [b"1", b"2"], "OR")
same(search("NOT", "SUBJECT", "one", "2:*"), [b"2", b"3"], "NOT and a sequence set")
same(search("UID", "2:3", "UNDELETED", "UNANSWERED", "UNFLAGGED", "UNDRAFT"), [b"2", b"3"], "UID and UN*")
check(search("MODSEQ", "1")[:3] == [b"1", b"2", b"3"], "MODSEQ")
M.literal = "Grüße aus Zürich".encode()
check(ok(M.search("UTF-8", "BODY"), "SEARCH CHARSET UTF-8 literal")[0].split() == [b"3"], "CHARSET UTF-8 body")
M.literal = "grüsse".encode()
check(ok(M.search("UTF-8", "SUBJECT"), "SEARCH CHARSET UTF-8")[0].split() == [], "UTF-8 no match")
M.literal = "GRÜẞE".encode()
check(ok(M.search("UTF-8", "SUBJECT"), "SEARCH")[0].split() == [b"3"], "Unicode case folding (ẞ is ß)")
refused(lambda: M.search("KOI8-R", "ALL"), "BADCHARSET", "unknown charset")
typ, data = M.uid("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
esearch = M.untagged_responses.pop("ESEARCH", [b""])[0]
check(typ == "OK" and re.search(rb"UID MIN 1 MAX 3 COUNT 3 ALL 1:3", esearch), f"ESEARCH: {esearch}")

# STORE / UID STORE: +FLAGS, -FLAGS, FLAGS, .SILENT, keywords, CONDSTORE UNCHANGEDSINCE
data = ok(M.store("1", "+FLAGS", "(\\Flagged $Important)"), "STORE +FLAGS")
check(b"\\Flagged" in data[0] and b"$Important" in data[0], data)
data = ok(M.store("1", "-FLAGS", "(\\Flagged)"), "STORE -FLAGS")
check(b"\\Flagged" not in data[0], data)
data = ok(M.store("2", "FLAGS", "(\\Answered)"), "STORE FLAGS")
check(b"\\Answered" in data[0] and b"\\Seen" not in data[0], data)
data = ok(M.store("2", "+FLAGS.SILENT", "(\\Seen)"), "STORE .SILENT")
# CONDSTORE is on (a MODSEQ was fetched above): .SILENT still reports the new MODSEQ, and
# nothing else (RFC 7162 3.1.3).
check(len(data) == 1 and re.fullmatch(rb"2 \(UID 2 MODSEQ \(\d+\)\)", data[0] or b""), f"silent: {data}")
data = ok(M.uid("STORE", "3", "+FLAGS", "(\\Draft)"), "UID STORE")
check(b"UID 3" in data[0] and b"\\Draft" in data[0], data)
same(search("KEYWORD", "$Important"), [b"1"], "KEYWORD")
same(search("ANSWERED"), [b"2"], "ANSWERED")
same(search("DRAFT"), [b"3"], "DRAFT")
modseq = int(re.search(rb"MODSEQ \((\d+)\)", fetch(M, "1", "(MODSEQ)")[0]).group(1))
typ, data = M.store("1", f"(UNCHANGEDSINCE {modseq - 1}) +FLAGS", "(\\Answered)")
modified = M.response("MODIFIED")[1]
check(typ == "OK" and data == [None] and modified == [b"1"], f"UNCHANGEDSINCE too old: {typ} {data} {modified}")
data = ok(M.store("1", f"(UNCHANGEDSINCE {modseq}) +FLAGS", "(\\Answered)"), "UNCHANGEDSINCE")
check(b"\\Answered" in data[0] and b"MODSEQ" in data[0], data)
latest = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))
data = fetch(M, "1:*", f"(FLAGS) (CHANGEDSINCE {latest - 1})")
check(len([d for d in data if d]) == 1 and data[0].startswith(b"1 "), f"CHANGEDSINCE: {data}")

# COPY / UID COPY (COPYUID), MOVE / UID MOVE
typ, data = M.copy("1:2", "Archive")
copyuid = M.response("COPYUID")[1]
check(typ == "OK" and re.fullmatch(rb"\d+ 1:2 1:2", copyuid[0]), f"COPY: {typ} {data} {copyuid}")
typ, data = M.uid("COPY", "3", "Archive")
copyuid = M.response("COPYUID")[1]
check(typ == "OK" and re.fullmatch(rb"\d+ 3 3", copyuid[0]), f"UID COPY: {typ} {data} {copyuid}")
refused(lambda: M.copy("1", "Nowhere"), "TRYCREATE", "COPY to a missing mailbox")
typ, data = M._simple_command("MOVE", "2", "Trash")
check(typ == "OK", f"MOVE: {typ} {data}")
check(M.untagged_responses.pop("EXPUNGE", []) == [b"2"], "MOVE expunges the source")
check(ok(M.select("INBOX"), "SELECT again") == [b"2"], "two left")
typ, data = M.uid("MOVE", "3", "Junk")
check(typ == "OK", f"UID MOVE: {typ} {data}")
ok(M.check(), "CHECK")

# APPEND with flags and date (APPENDUID)
when = imaplib.Time2Internaldate(time.mktime((2023, 11, 14, 12, 0, 0, 0, 0, -1)))
typ, data = M.append("Drafts", "(\\Draft \\Seen)", when, b"Subject: draft\r\n\r\nNot sent yet.\r\n")
check(typ == "OK" and re.search(rb"\[APPENDUID \d+ 1\]", data[0]), f"APPEND: {typ} {data}")
refused(lambda: M.append("Nowhere", None, None, b"x\r\n"), "TRYCREATE", "APPEND to a missing mailbox")
ok(M.select("Drafts"), "SELECT Drafts")
data = fetch(M, "1", "(FLAGS INTERNALDATE BODY.PEEK[])")
check(b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0] and b"-Nov-2023 " in data[0][0], data)
check(data[0][1] == b"Subject: draft\r\n\r\nNot sent yet.\r\n", data)

# EXPUNGE, UID EXPUNGE, CLOSE
ok(M.select("Archive"), "SELECT Archive")
ok(M.store("1:3", "+FLAGS.SILENT", "(\\Deleted)"), "mark deleted")
typ, data = M.uid("EXPUNGE", "2")
check(typ == "OK" and M.untagged_responses.pop("EXPUNGE", []) == [b"2"], f"UID EXPUNGE: {typ} {data}")
ok(M.store("1", "-FLAGS.SILENT", "(\\Deleted)"), "undelete")
typ, data = M.expunge()
check(typ == "OK" and data == [b"2"], f"EXPUNGE: {data}")
ok(M.store("1", "+FLAGS.SILENT", "(\\Deleted)"), "mark deleted")
ok(M.close(), "CLOSE expunges")
check(b"MESSAGES 0" in ok(M.status("Archive", "(MESSAGES)"), "STATUS")[0], "CLOSE removed the \\Deleted one")

# Two sessions of one user see each other's flag changes and expunges.
ok(M.select("INBOX"), "SELECT INBOX")
N = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx, timeout=20)
ok(N.login("bob@example.com", "bob-secret"), "second LOGIN")
ok(N.select("INBOX"), "second SELECT")
ok(M.store("1", "+FLAGS", "(\\Flagged)"), "STORE in the first")
ok(N.noop(), "NOOP in the second")
seen = N.untagged_responses.pop("FETCH", [])
check(any(b"\\Flagged" in f for f in seen), f"second session saw the flag: {seen}")
ok(M.store("1", "+FLAGS.SILENT", "(\\Deleted)"), "delete in the first")
ok(M.expunge(), "EXPUNGE in the first")
ok(N.noop(), "NOOP in the second")
check(N.untagged_responses.pop("EXPUNGE", []) == [b"1"], "second session saw the expunge")

# IDLE in the second session; mail delivered over SMTP meanwhile is announced at once.
tag = N._new_tag()
N.send(tag + b" IDLE\r\n")
check(N.readline() == b"+ idling\r\n", "IDLE continuation")
deliver("during idle", "Arrived while idling.")
line = N.readline()
check(line == b"* 1 EXISTS\r\n", f"EXISTS during IDLE: {line}")
check(N.readline() == b"* 1 RECENT\r\n", "RECENT during IDLE")
ok(M.noop(), "the first session learns of the new message")
exists = M.untagged_responses.pop("EXISTS", [])
check(exists[-1:] == [b"1"], f"EXISTS in the first session: {exists}")
ok(M.store("1", "+FLAGS", "(\\Answered)"), "a flag change during IDLE")
line = N.readline()
check(re.match(rb"\* 1 FETCH \(FLAGS \(.*\\Answered.*\) MODSEQ \(\d+\)\)\r\n", line) or b"\\Answered" in line, line)
N.send(b"DONE\r\n")
line = N.readline()
check(line.startswith(tag + b" OK"), f"IDLE ended: {line}")
check(N.logout()[0] == "BYE", "second LOGOUT")

# QRESYNC (RFC 7162 3.2): a client that comes back learns in its SELECT what it missed.
# imaplib has no QRESYNC of its own: ENABLE is enable(), the rest goes through
# _simple_command and uid(), and VANISHED lands in untagged_responses.
for subject in ("qresync a", "qresync b", "qresync c"):
    deliver(subject, "For the QRESYNC checks.")
wait_messages(M, "INBOX", 4)
ok(M.noop(), "the first session learns of them")
ua, ub, uc = [int(u) for u in uids_of(M, ["SUBJECT", "qresync"])]


def qresync_login():
    c = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx, timeout=20)
    ok(c.login("bob@example.com", "bob-secret"), "LOGIN for QRESYNC")
    ok(c.enable("QRESYNC"), "ENABLE QRESYNC")
    same(c.untagged_responses.pop("ENABLED", []), [b"QRESYNC"], "ENABLED")
    return c


Q = qresync_login()
ok(Q.select("INBOX"), "SELECT before going away")
validity, seen = int(Q.response("UIDVALIDITY")[1][0]), int(Q.response("HIGHESTMODSEQ")[1][0])
known = ",".join(u.decode() for u in ok(Q.uid("SEARCH", "ALL"), "UID SEARCH ALL")[0].split())
check(Q.logout()[0] == "BYE", "LOGOUT before the changes")
ok(M.uid("STORE", str(ua), "+FLAGS.SILENT", "(\\Flagged)"), "flag one while the client is away")
ok(M.uid("STORE", str(ub), "+FLAGS.SILENT", "(\\Deleted)"), "delete another")
ok(M.uid("EXPUNGE", str(ub)), "UID EXPUNGE while the client is away")
Q = qresync_login()
refused(lambda: Q._simple_command("SELECT", "INBOX", "(QRESYNC (0 1))"), "UIDVALIDITY cannot be 0", "QRESYNC with UIDVALIDITY 0")
# The Maildir index keeps no record of expunges: without the known UIDs, every absent UID
# below UIDNEXT is reported (RFC 7162 3.2.5.1 allows it); with them, exactly what went.
typ, data = Q._simple_command("EXAMINE", "INBOX", f"(QRESYNC ({validity} {seen}))")
vanished = Q.untagged_responses.pop("VANISHED", [b""])[0]
Q.untagged_responses.pop("READ-ONLY", None)  # imaplib did not send this EXAMINE itself
Q.untagged_responses.pop("FETCH", None)
check(typ == "OK" and vanished.startswith(b"(EARLIER) 1:") and vanished.endswith(f",{ub}".encode()), vanished)
typ, data = Q._simple_command("SELECT", "INBOX", f"(QRESYNC ({validity} {seen} {known}))")
check(typ == "OK", f"SELECT (QRESYNC): {typ} {data}")
Q.untagged_responses.pop("CLOSED", None)
Q.state = "SELECTED"  # imaplib only knows a SELECT made by select()
same(Q.untagged_responses.pop("VANISHED", []), [f"(EARLIER) {ub}".encode()], "VANISHED (EARLIER) in SELECT")
changed = Q.untagged_responses.pop("FETCH", [])
check(len(changed) == 1 and re.search(rf"UID {ua} FLAGS \(\\Flagged\) MODSEQ \(\d+\)".encode(), changed[0]), f"changed: {changed}")
typ, data = Q.uid("FETCH", known, f"(FLAGS) (CHANGEDSINCE {seen} VANISHED)")
check(typ == "OK" and len([d for d in data if d]) == 1, f"UID FETCH VANISHED: {typ} {data}")
same(Q.untagged_responses.pop("VANISHED", []), [f"(EARLIER) {ub}".encode()], "VANISHED (EARLIER) in UID FETCH")
typ, data = Q.uid("FETCH", f"{uc}:*", f"(FLAGS) (CHANGEDSINCE {seen} VANISHED)")
check(typ == "OK" and "VANISHED" not in Q.untagged_responses, f"VANISHED only within the UID set: {Q.untagged_responses}")
# Once QRESYNC is on, every expunge is a VANISHED: its own, and another session's.
ok(Q.uid("STORE", str(ua), "+FLAGS.SILENT", "(\\Deleted)"), "delete in the QRESYNC session")
Q.untagged_responses.pop("HIGHESTMODSEQ", None)
typ, data = Q.expunge()
check(typ == "OK" and Q.untagged_responses.pop("VANISHED", []) == [str(ua).encode()], f"EXPUNGE as VANISHED: {typ} {data}")
check(Q.response("HIGHESTMODSEQ")[1][0] is not None, "EXPUNGE reports its HIGHESTMODSEQ")
ok(M.uid("STORE", str(uc), "+FLAGS.SILENT", "(\\Deleted)"), "delete in the first session")
ok(M.uid("EXPUNGE", str(uc)), "UID EXPUNGE in the first session")
ok(Q.noop(), "NOOP in the QRESYNC session")
same(Q.untagged_responses.pop("VANISHED", []), [str(uc).encode()], "another session's expunge as VANISHED")
ok(Q.select("INBOX"), "SELECT again")
check("CLOSED" in Q.untagged_responses, f"[CLOSED] when SELECT closes a mailbox: {Q.untagged_responses}")
check(Q.logout()[0] == "BYE", "QRESYNC LOGOUT")

# RENAME INBOX moves its messages into a new mailbox; INBOX stays, empty.
ok(M.unselect() if hasattr(M, "unselect") else M._simple_command("UNSELECT"), "UNSELECT")
ok(M.rename("INBOX", '"Old mail"'), "RENAME INBOX")
check(b"MESSAGES 0" in ok(M.status("INBOX", "(MESSAGES)"), "STATUS INBOX")[0], "INBOX emptied")
check(b"MESSAGES 1" in ok(M.status('"Old mail"', "(MESSAGES)"), "STATUS Old mail")[0], "moved")
check(int(ok(M.select('"Old mail"'), "SELECT Old mail")[0]) == 1, "selectable")
data = fetch(M, "1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(b"\\Answered" in data[0][0] and b"Subject: during idle" in data[0][1], f"flags and content kept: {data}")
check(M.logout()[0] == "BYE", "LOGOUT")
print("imaplib: all checks passed")
