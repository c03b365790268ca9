"""
IMAP server session (RFC 9051 / RFC 3501): greeting and capabilities,
LOGINDISABLED before STARTTLS, LOGIN and AUTHENTICATE PLAIN, mailbox
management with special-use LIST, SELECT counts after SMTP deliveries,
FETCH items checked against the message sent, STORE reflected in Maildir
file names, EXPUNGE, APPEND, SEARCH, IDLE wake-up on delivery, two
sessions on one mailbox, and bad input (literals, names).
"""
import base64
import imaplib
import re
import smtplib
import socket
import time

import pytest

from conftest import readline

MSG = (b"From: Sender <sender@example.org>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: hello %d\r\n"
       b"Message-ID: <m%d@example.org>\r\n"
       b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
       b"\r\n"
       b"Body line one %d\r\n"
       b"second line\r\n")


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "imap", "imaps"],
        conf={
            "message_size_limit": 100000,
            "mailboxes": [
                {"name": n, "auto": "subscribe", "special_use": "\\" + n}
                for n in ("Drafts", "Junk", "Sent", "Trash")],
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret")},
                {"name": "bob@example.test",
                 "hashed_password": pw_hashes("hunter2")},
            ],
        })


def deliver(srv, n=1, to="alice@example.test", start=0):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        for i in range(start, start + n):
            c.sendmail("sender@example.org", [to], MSG % (i, i, i))


def imaps(srv, user="alice@example.test", pw="secret"):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context())
    if user:
        m.login(user, pw)
    return m


def files(srv, sub="cur", folder=""):
    d = srv.mailbox("alice@example.test") / folder / sub
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_greeting_and_loopback_secured(srv):
    # Like Dovecot, connections from loopback count as secured: local
    # webmail may log in without TLS.  Remote peers still get
    # LOGINDISABLED before STARTTLS (test_imap_ext_c.py covers that on a
    # non-loopback address).
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    caps = m.capabilities
    assert "IMAP4REV1" in caps and "IMAP4REV2" in caps
    assert "STARTTLS" in caps and "LOGINDISABLED" not in caps
    assert "AUTH=PLAIN" in caps
    m.starttls(ssl_context=srv.ssl_context())
    assert "AUTH=PLAIN" in m.capabilities
    assert "LOGINDISABLED" not in m.capabilities
    assert m.login("alice@example.test", "secret")[0] == "OK"
    m.logout()


def test_login_bad_and_authenticate_plain(srv):
    m = imaps(srv, user=None)
    with pytest.raises(imaplib.IMAP4.error):
        m.login("alice@example.test", "wrong")
    m.logout()
    m = imaps(srv, user=None)
    typ, _ = m.authenticate(
        "PLAIN", lambda _: b"\0alice@example.test\0secret")
    assert typ == "OK"
    assert m.noop()[0] == "OK"
    m.logout()


def test_sasl_ir_raw(srv):
    s = srv.connect("imaps")
    assert readline(s).startswith(b"* OK [CAPABILITY")
    ir = base64.b64encode(b"\0bob@example.test\0hunter2")
    s.sendall(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
    assert readline(s).startswith(b"a OK")
    s.sendall(b"b ID NIL\r\n")
    assert readline(s).startswith(b"* ID")
    assert readline(s).startswith(b"b OK")


def test_list_special_use_and_mailbox_ops(srv):
    m = imaps(srv)
    typ, data = m.list()
    assert typ == "OK"
    text = b"\n".join(data).decode()
    for name, su in (("Drafts", "\\Drafts"), ("Junk", "\\Junk"),
                     ("Sent", "\\Sent"), ("Trash", "\\Trash")):
        assert re.search(r"\(.*%s.*\) \".\" \"?%s\"?" %
                         (re.escape(su), name), text), text
    assert "INBOX" in text
    assert m.create("Work")[0] == "OK"
    assert m.create("Work.Sub")[0] == "OK"
    assert m.create("Work")[0] == "NO"
    text = b"\n".join(m.list()[1]).decode()
    assert re.search(r'\\HasChildren.*"Work"', text), text
    assert m.rename("Work.Sub", "Work.Other")[0] == "OK"
    assert (srv.mailbox("alice@example.test") / ".Work.Other").is_dir()
    assert m.delete("Work.Other")[0] == "OK"
    assert not (srv.mailbox("alice@example.test") / ".Work.Other").exists()
    assert m.subscribe("Work")[0] == "OK"
    assert b"Work" in b"".join(m.lsub()[1])
    for bad in ("../x", "a/b", "a..b", ".hidden"):
        assert m.create(bad)[0] == "NO", bad
    m.logout()


def test_select_fetch_store_expunge(srv):
    m = imaps(srv)          # first login creates the folders
    deliver(srv, 3)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data[0] == b"3"
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
    assert b"MESSAGES 3" in data[0] and b"UNSEEN 3" in data[0]
    body = MSG % (1, 1, 1)
    typ, data = m.fetch("2", "(UID FLAGS RFC822.SIZE INTERNALDATE "
                        "ENVELOPE BODY.PEEK[])")
    assert typ == "OK"
    head, lit = data[0]
    assert b"FLAGS ()" in head
    assert lit.endswith(body)
    assert b"RFC822.SIZE %d" % len(lit) in head
    assert b'"hello 1"' in head
    typ, data = m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert data[0][1] == b"Subject: hello 1\r\n\r\n"
    typ, data = m.fetch("2", "(BODY.PEEK[TEXT]<0.8>)")
    assert data[0][1] == b"Body lin"
    typ, data = m.fetch("1", "(BODYSTRUCTURE)")
    assert b'"TEXT" "PLAIN"' in data[0].upper()
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    assert len([d for d in data if d]) == 3
    # Non-PEEK sets \Seen.
    m.fetch("1", "(RFC822.TEXT)")
    assert b"\\Seen" in m.fetch("1", "(FLAGS)")[1][0]
    assert any(n.endswith(":2,S") for n in files(srv)), files(srv)
    assert m.store("2", "+FLAGS", "(\\Flagged \\Deleted)")[0] == "OK"
    assert any(n.endswith(":2,FT") for n in files(srv)), files(srv)
    typ, data = m.search(None, "DELETED")
    assert data[0] == b"2"
    typ, data = m.search(None, 'SUBJECT "hello 2"')
    assert data[0] == b"3"
    typ, data = m.expunge()
    assert typ == "OK" and data[0] == b"2"
    assert len(files(srv) + files(srv, "new")) == 2
    typ, data = m.select("INBOX")
    assert data[0] == b"2"
    m.logout()


def test_append_then_fetch(srv):
    m = imaps(srv)
    msg = MSG % (9, 9, 9)
    typ, data = m.append("Drafts", "(\\Draft)", None, msg)
    assert typ == "OK"
    assert b"APPENDUID" in data[0]
    typ, data = m.select("Drafts")
    assert data[0] == b"1"
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
    assert b"\\Draft" in data[0][0] and data[0][1] == msg
    assert m.append("Nope", None, None, msg)[0] == "NO"
    m.logout()


def test_idle_exists_on_delivery(srv):
    m = imaps(srv)
    deliver(srv, 1)
    m.select("INBOX")
    s = m.socket()
    tag = m._new_tag()
    s.sendall(tag + b" IDLE\r\n")
    assert readline(s).startswith(b"+")
    t0 = time.monotonic()
    deliver(srv, 1, start=5)
    t1 = time.monotonic()
    line = readline(s, 5)
    t2 = time.monotonic()
    assert line == b"* 2 EXISTS", line
    assert t2 - t1 < 0.1 + 0.05, (t0, t1, t2)
    s.sendall(b"DONE\r\n")
    while True:
        line = readline(s)
        if line.startswith(tag):
            break
    assert line.startswith(tag + b" OK")


def test_two_sessions(srv):
    a = imaps(srv)
    deliver(srv, 2)
    b = imaps(srv)
    a.select("INBOX")
    b.select("INBOX")
    a.store("1", "+FLAGS", "(\\Deleted)")
    a.expunge()
    typ, data = b.noop()
    assert typ == "OK"
    assert b.response("EXPUNGE")[1][0] == b"1"
    a.logout()
    b.logout()


def test_bad_input(srv):
    s = srv.connect("imaps")
    readline(s)
    s.sendall(b"a LOGIN {4294967296}\r\n")
    line = readline(s)
    assert b"BAD" in line or b"BYE" in line or line == b""
    s = srv.connect("imaps")
    readline(s)
    s.sendall(b"b NOOP\r\nc FOO\r\n")
    assert readline(s).startswith(b"b OK")
    assert readline(s).startswith(b"c BAD")
    s.sendall(b"d LOGIN alice@example.test {6}\r\n")
    assert readline(s).startswith(b"+")
    s.close()           # unterminated literal: the server just drops it
    s = srv.connect("imap", tls=False)
    readline(s)
    s.sendall(b"e STARTTLS\r\nf NOOP\r\n")
    line = readline(s)
    assert line.startswith(b"e BAD") or line.startswith(b"e OK")
