"""A mail client's view of carrier's POP3 ports, with Python's poplib.

Usage: poplib_client.py POP3_PORT POP3S_PORT CERT_FILE
The server has bob@example.com / bob-secret with exactly two messages, subjects "one" and
"two", the second with a line starting with a dot.
"""
import poplib
import ssl
import sys

pop3, pop3s, cert = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# Verify the server's own (self-signed) certificate; the name is its hostname.
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False


def subject(lines):
    return next(l for l in lines if l.startswith(b"Subject:")).split(b":", 1)[1].strip()


# 110: no passwords before STLS.
p = poplib.POP3("127.0.0.1", pop3, timeout=20)
caps = p.capa()
assert "STLS" in caps and "USER" not in caps, caps
try:
    p.user("bob@example.com")
    raise SystemExit("USER accepted before STLS")
except poplib.error_proto as e:
    assert b"[AUTH]" in e.args[0], e
p.stls(context=ctx)
caps = p.capa()
assert "USER" in caps and "STLS" not in caps and caps["SASL"] == ["PLAIN"], caps
try:
    p.user("bob@example.com")
    p.pass_("wrong")
    raise SystemExit("wrong password accepted")
except poplib.error_proto as e:
    assert e.args[0] == b"-ERR [AUTH] Authentication failed.", e
p.user("bob@example.com")
p.pass_("bob-secret")
count, size = p.stat()
assert count == 2, (count, size)
resp, listing, _ = p.list()
assert len(listing) == 2 and sum(int(l.split()[1]) for l in listing) == size, listing
resp, uidls, _ = p.uidl()
p.quit()

# 995: TLS from the first byte; the same maildrop with the same unique ids.
p = poplib.POP3_SSL("127.0.0.1", pop3s, context=ctx, timeout=20)
p.user("bob")
p.pass_("bob-secret")
assert p.uidl()[1] == uidls, "UIDLs changed between sessions"
resp, lines, octets = p.retr(1)
assert subject(lines) == b"one", lines
# poplib reports the octets read including CRLFs; the announced size matches it.
announced = int(resp.split()[1])
assert octets == announced, (resp, octets)
resp, lines, _ = p.retr(2)
assert subject(lines) == b"two" and b".starts with a dot" in lines, lines
resp, top, _ = p.top(2, 0)
assert top[-1] == b"" and subject(top) == b"two", top
p.dele(1)
assert p.stat()[0] == 1
p.rset()
assert p.stat()[0] == 2
p.dele(2)
p.noop()
resp = p.quit()
assert resp == b"+OK Logging out, 1 messages deleted.", resp

p = poplib.POP3_SSL("127.0.0.1", pop3s, context=ctx, timeout=20)
p.user("bob@example.com")
p.pass_("bob-secret")
assert p.stat()[0] == 1
assert p.uidl()[1] == uidls[:1], "the remaining message kept its unique id"
p.quit()
print("poplib: all checks passed")
