"""A mail client's view of carrier's submission ports, with Python's smtplib.

Usage: submission_client.py SUBMISSION_PORT SMTPS_PORT
The server has the account bob@example.com / bob-secret and alice@example.com.
"""
import base64
import smtplib
import ssl
import sys
from email.message import EmailMessage

submission, smtps = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def message(sender, to, subject):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m.set_content("Sent by a mail client.\n")
    return m


# 587: nothing about passwords before STARTTLS.
with smtplib.SMTP("127.0.0.1", submission, timeout=20) as s:
    s.ehlo("client.example")
    assert not s.has_extn("auth"), "AUTH offered before TLS"
    creds = base64.b64encode(b"\0bob@example.com\0bob-secret").decode()
    code, text = s.docmd("AUTH", "PLAIN " + creds)
    assert code == 538 and text.startswith(b"5.7.11"), (code, text)
    code, text = s.docmd("MAIL", "FROM:<bob@example.com>")
    assert code == 530 and text.startswith(b"5.7.0"), (code, text)
    s.starttls(context=ctx)
    s.ehlo("client.example")
    assert s.has_extn("auth") and "PLAIN" in s.esmtp_features["auth"], s.esmtp_features
    try:
        s.login("bob@example.com", "wrong password")
        raise SystemExit("a wrong password was accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535 and e.smtp_error.startswith(b"5.7.8"), e
    s.login("bob", "bob-secret")  # the bare local part is enough when unambiguous
    refused = s.send_message(message("bob@example.com", "alice@example.com, friend@elsewhere.example", "via 587"))
    assert refused == {}, refused  # authenticated users may relay
    try:
        s.send_message(message("alice@example.com", "bob@example.com", "forged"), from_addr="alice@example.com")
        raise SystemExit("a foreign sender was accepted")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 553 and e.smtp_error.startswith(b"5.7.1"), e

# 465: TLS from the first byte, AUTH LOGIN.
with smtplib.SMTP_SSL("127.0.0.1", smtps, context=ctx, timeout=20) as s:
    assert s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version()
    s.ehlo("client.example")
    s.esmtp_features["auth"] = "LOGIN"  # make smtplib use LOGIN rather than PLAIN
    s.login("bob@example.com", "bob-secret")
    refused = s.send_message(message("Bob <bob@example.com>", "alice@example.com", "via 465"))
    assert refused == {}, refused

print("submission: all checks passed")
