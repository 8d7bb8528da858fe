"""Talks to a running carrier with Python's smtplib (a real, independent SMTP client).

Usage: smtplib_client.py PORT
Exits non-zero with a message if the server does not behave.
"""
import smtplib
import ssl
import sys
from email.message import EmailMessage

port = int(sys.argv[1])


def message(subject, to):
    m = EmailMessage()
    m["From"] = "py@remote.example"
    m["To"] = to
    m["Subject"] = subject
    m.set_content("Hello from smtplib.\n.a line starting with a dot\n")
    return m


# Plain ESMTP with pipelining-capable client.
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    code, _ = s.ehlo("python.example")
    assert code == 250, code
    for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls", "chunking"):
        assert s.has_extn(ext), ext
    refused = s.send_message(message("smtplib plain", "bob@example.com"))
    assert refused == {}, refused
    # An unknown user among good ones: smtplib reports it per recipient.
    refused = s.sendmail("py@remote.example", ["bob@example.com", "nobody@example.com"],
                         message("smtplib partial", "bob@example.com").as_bytes())
    assert refused["nobody@example.com"][0] == 550, refused
    assert b"5.1.1" in refused["nobody@example.com"][1], refused
    # Relaying to a stranger's domain is refused.
    try:
        s.sendmail("py@remote.example", ["x@elsewhere.example"], b"Subject: relay\r\n\r\nx\r\n")
        raise SystemExit("relay was accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["x@elsewhere.example"]
        assert code == 550 and b"5.7.1" in text, (code, text)

# STARTTLS with the self-signed certificate (not verified, as between MTAs).
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.ehlo("python.example")
    code, text = s.starttls(context=ctx)
    assert code == 220, (code, text)
    version = s.sock.version()
    assert version in ("TLSv1.2", "TLSv1.3"), version
    s.ehlo("python.example")
    assert not s.has_extn("starttls"), "STARTTLS offered again inside TLS"
    refused = s.send_message(message("smtplib tls", "bob@example.com"))
    assert refused == {}, refused

# SMTPUTF8: a UTF-8 address with the SMTPUTF8 parameter.
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.ehlo("python.example")
    m = message("smtplib utf8 ünïcode", "bob@example.com")
    s.send_message(m, from_addr="jöran@remote.example", to_addrs=["bob@example.com"],
                   mail_options=["SMTPUTF8"])

# An old TLS client is refused: only TLS 1.2 and 1.3 are offered.
old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
old.check_hostname = False
old.verify_mode = ssl.CERT_NONE
try:
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.minimum_version = ssl.TLSVersion.TLSv1
    # Debian's OpenSSL refuses TLS 1.1 at its default security level; lower it on
    # the client so that it is the server that says no.
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("python.example")
        try:
            s.starttls(context=old)
            raise SystemExit("TLS 1.1 was accepted")
        except (ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionResetError):
            pass
except ValueError:
    pass  # this OpenSSL cannot even offer TLS 1.1; nothing to test

# The server still works after that.
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    assert s.noop()[0] == 250

print("smtplib: all checks passed")
