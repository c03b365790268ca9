"""
IMAP server, slice C: plain-text LOGIN/AUTHENTICATE on 143 from loopback
peers (as Dovecot: 127.0.0.0/8 and ::1 count as secured) while other
peers still need STARTTLS (RFC 9051 6.2.3, 11.1); FETCH BODY[]/BINARY and
SEARCH BODY/TEXT answered from worker reads, in order; SEARCHRES "$" in
FETCH, STORE, COPY (RFC 5182 2.2) and its reset at SELECT/UNSELECT (2.1);
RENAME INBOX (RFC 3501 6.3.5).
"""
import imaplib
import smtplib
import socket

import pytest

MSG = (b"From: Sender <sender@example.org>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: hello %d\r\n"
       b"Message-ID: <c%d@example.org>\r\n"
       b"\r\n"
       b"Body line %d %s\r\n")

NONLOOP = "192.0.2.2"      # this host's eth0 address in the test container


def have_addr(addr):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((addr, 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "imap", "imaps"],
        conf={
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret")},
            ],
        })


def deliver(srv, n=1, start=0, word=b"plain"):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        for i in range(start, start + n):
            w = word(i) if callable(word) else word
            c.sendmail("sender@example.org", ["alice@example.test"],
                       MSG % (i, i, i, w))


def plain(srv, login=True):
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    if login:
        m.login("alice@example.test", "secret")
    return m


# ---- 1. plain-text logins from loopback -------------------------------

def test_loopback_login_without_starttls(srv):
    m = plain(srv, login=False)
    caps = m.capabilities
    assert "LOGINDISABLED" not in caps
    assert "AUTH=PLAIN" in caps and "STARTTLS" in caps
    assert m.login("alice@example.test", "secret")[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_loopback_authenticate_plain(srv):
    m = plain(srv, login=False)
    typ, _ = m.authenticate(
        "PLAIN", lambda _: b"\0alice@example.test\0secret")
    assert typ == "OK"
    m.logout()
    # 127.0.0.2 is loopback too
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    m.logout()


def test_loopback_wrong_password_still_fails(srv):
    m = plain(srv, login=False)
    with pytest.raises(imaplib.IMAP4.error):
        m.login("alice@example.test", "wrong")
    m.logout()


@pytest.mark.skipif(not have_addr(NONLOOP),
                    reason="no non-loopback address to test with")
def test_nonloopback_needs_starttls(make_server, pw_hashes):
    from conftest import free_port
    port = free_port()
    s = make_server(
        services=["imap"],
        conf={"accounts": [{"name": "alice@example.test",
                            "hashed_password": pw_hashes("secret")}]})
    s.stop()
    s.conf["listen"]["imap"].append("%s:%d" % (NONLOOP, port))
    s.write_conf()
    s.start()
    m = imaplib.IMAP4(NONLOOP, port)
    caps = m.capabilities
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps
    assert "AUTH=PLAIN" not in caps
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login("alice@example.test", "secret")
    assert "PRIVACYREQUIRED" in str(e.value)
    ctx = s.ssl_context()
    ctx.check_hostname = False      # the test certificate names 127.0.0.1
    m.starttls(ssl_context=ctx)
    assert "AUTH=PLAIN" in m.capabilities
    assert m.login("alice@example.test", "secret")[0] == "OK"
    m.logout()


@pytest.mark.skipif(not have_addr(NONLOOP),
                    reason="no non-loopback address to test with")
def test_nonloopback_authenticate_refused(make_server, pw_hashes):
    from conftest import free_port
    port = free_port()
    s = make_server(
        services=["imap"],
        conf={"accounts": [{"name": "alice@example.test",
                            "hashed_password": pw_hashes("secret")}]})
    s.stop()
    s.conf["listen"]["imap"].append("%s:%d" % (NONLOOP, port))
    s.write_conf()
    s.start()
    sock = socket.create_connection((NONLOOP, port), 5)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"* OK")
    sock.sendall(b"a AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ="
                 b"\r\n")
    assert f.readline().startswith(b"a NO [PRIVACYREQUIRED]")
    sock.close()


# ---- 2. file reads on workers -------------------------------------------

def test_fetch_body_many_in_order(srv):
    deliver(srv, 30)
    m = plain(srv)
    m.select("INBOX")
    typ, data = m.fetch("1:30", "(UID BODY.PEEK[] BINARY.PEEK[1] "
                        "RFC822.SIZE)")
    assert typ == "OK"
    bodies = [d for d in data if isinstance(d, tuple)]
    # BODY[] and BINARY[1] per message, sequence numbers ascending
    seqs = [int(d[0].split()[0]) for d in bodies[::2]]
    assert seqs == list(range(1, 31))
    for i, d in enumerate(bodies[::2]):
        assert b"Subject: hello %d\r\n" % i in d[1]
    typ, data = m.fetch("3", "(RFC822 FLAGS)")
    assert typ == "OK" and b"\\Seen" in b"".join(
        x if isinstance(x, bytes) else x[0] for x in data)
    m.logout()


def test_fetch_large_output_backpressure(srv):
    big = (b"x" * 98 + b"\r\n") * 2000
    deliver(srv, 12, word=big)
    m = plain(srv)
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    bodies = [d for d in data if isinstance(d, tuple)]
    assert len(bodies) == 12 and all(big in d[1] for d in bodies)
    m.logout()


def test_search_body_and_text(srv):
    deliver(srv, 6, word=lambda i: b"needle" if i % 2 else b"hay")
    m = plain(srv)
    m.select("INBOX")
    assert m.search(None, "BODY", "needle") == ("OK", [b"2 4 6"])
    assert m.search(None, "TEXT", '"hello 3"') == ("OK", [b"4"])
    assert m.uid("SEARCH", "NOT", "BODY", "needle")[1][0].split() == \
        [b"1", b"3", b"5"]
    assert m.search(None, "HEADER", "Subject", '"hello 5"') == ("OK", [b"6"])
    # pipelined: answers keep command order
    s = socket.create_connection(("127.0.0.1", srv.ports["imap"]), 5)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN alice@example.test secret\r\nb SELECT INBOX\r\n"
              b"c SEARCH BODY needle\r\nd SEARCH ALL\r\ne NOOP\r\n")
    tags = []
    while len(tags) < 5:
        line = f.readline()
        if line[:1] in b"abcde" and line[1:2] == b" ":
            tags.append(line[:1])
        if line.startswith(b"* SEARCH"):
            tags.append(line.strip())
    assert tags[2:] == [b"* SEARCH 2 4 6", b"c", b"* SEARCH 1 2 3 4 5 6",
                        b"d", b"e"][:len(tags) - 2]
    s.close()
    m.logout()


# ---- 3. SEARCHRES "$" ------------------------------------------------------

def test_searchres_fetch_store_copy(srv):
    deliver(srv, 5, word=lambda i: b"needle" if i in (1, 3) else b"hay")
    m = plain(srv)
    m.select("INBOX")
    typ, data = m._simple_command("SEARCH", "RETURN", "(SAVE)", "BODY",
                                  "needle")
    assert typ == "OK"
    typ, data = m.fetch("$", "(UID)")
    assert typ == "OK"
    assert sorted(int(x.split()[0]) for x in data) == [2, 4]
    typ, data = m.uid("FETCH", "$", "(FLAGS)")
    assert typ == "OK" and len(data) == 2
    assert m.store("$", "+FLAGS", "\\Flagged")[0] == "OK"
    assert m.search(None, "FLAGGED") == ("OK", [b"2 4"])
    assert m.create("Saved")[0] == "OK"
    assert m.copy("$", "Saved")[0] == "OK"
    assert m.status("Saved", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 2)")
    assert m.search(None, "$") == ("OK", [b"2 4"])
    # RFC 5182 2.1: SELECT empties "$"
    m.select("INBOX")
    typ, data = m.fetch("$", "(UID)")
    assert typ == "OK" and data == [None]
    assert m.search(None, "$") == ("OK", [b""])
    m.logout()


def test_searchres_reset_by_unselect(srv):
    deliver(srv, 3)
    m = plain(srv)
    m.select("INBOX")
    m._simple_command("SEARCH", "RETURN", "(SAVE)", "ALL")
    assert m.search(None, "$") == ("OK", [b"1 2 3"])
    assert m._simple_command("UNSELECT")[0] == "OK"
    m.select("INBOX")
    assert m.search(None, "$") == ("OK", [b""])
    m.logout()


# ---- 5. RENAME INBOX -------------------------------------------------------

def test_rename_inbox(srv):
    deliver(srv, 3)
    m = plain(srv)
    typ, _ = m.rename("INBOX", "Old-Inbox")
    assert typ == "OK", _
    assert m.status("Old-Inbox", "(MESSAGES)")[1][0].endswith(
        b"(MESSAGES 3)")
    assert m.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
    m.select("Old-Inbox")
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert [d[1].strip() for d in data if isinstance(d, tuple)] == \
        [b"Subject: hello %d" % i for i in range(3)]
    m.logout()
    deliver(srv, 1, start=7)
    m = plain(srv)
    assert m.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
    typ, _ = m.rename("INBOX", "Old-Inbox")
    assert typ == "NO"
    m.logout()


# ---- 5. MULTIAPPEND (RFC 3502) ----------------------------------------------

def raw_login(srv):
    s = socket.create_connection(("127.0.0.1", srv.ports["imap"]), 10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN alice@example.test secret\r\n")
    while not f.readline().startswith(b"a "):
        pass
    return s, f


def tagged(f, tag):
    while True:
        line = f.readline()
        if not line or line.startswith(tag + b" "):
            return line


def test_multiappend(srv):
    m = plain(srv, login=False)
    assert "MULTIAPPEND" in m.capabilities
    m.logout()
    s, f = raw_login(srv)
    m1 = b"Subject: one\r\n\r\nfirst\r\n"
    m2 = b"Subject: two\r\n\r\nsecond\r\n"
    m3 = b"Subject: three\r\n\r\nthird\r\n"
    s.sendall(b"b APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s "
              b"(\\Flagged) \"01-Jan-2024 10:00:00 +0000\" {%d+}\r\n%s\r\n"
              % (len(m1), m1, len(m2), m2, len(m3), m3))
    r = tagged(f, b"b")
    assert r.startswith(b"b OK [APPENDUID "), r
    assert r.split()[4] == b"1:3]"
    s.close()
    m = plain(srv)
    m.select("INBOX")
    typ, data = m.fetch("1:3", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    got = [(d[0], d[1].strip()) for d in data if isinstance(d, tuple)]
    assert [g[1] for g in got] == [b"Subject: one", b"Subject: two",
                                   b"Subject: three"]
    assert b"\\Seen" in got[0][0] and b"\\Flagged" in got[2][0]
    m.logout()


def test_multiappend_all_or_none(srv):
    s, f = raw_login(srv)
    m1 = b"Subject: one\r\n\r\nfirst\r\n"
    s.sendall(b"b APPEND Nope {%d+}\r\n%s {%d+}\r\n%s\r\n"
              % (len(m1), m1, len(m1), m1))
    assert tagged(f, b"b").startswith(b"b NO [TRYCREATE]")
    s.sendall(b"c STATUS INBOX (MESSAGES)\r\n")
    assert tagged(f, b"c").startswith(b"c OK")
    s.close()


def test_multiappend_rollback_over_quota(make_server, pw_hashes):
    srv = make_server(
        services=["smtp", "imap"],
        conf={"quota": {"enable": True, "default_per_user": "2K"},
              "accounts": [{"name": "alice@example.test",
                            "hashed_password": pw_hashes("secret")}]})
    s, f = raw_login(srv)
    m1 = b"Subject: one\r\n\r\n" + b"a" * 1200 + b"\r\n"
    s.sendall(b"b APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n"
              % (len(m1), m1, len(m1), m1))
    r = tagged(f, b"b")
    assert r.startswith(b"b NO"), r
    s.sendall(b"c STATUS INBOX (MESSAGES)\r\n")
    assert f.readline().startswith(b"* STATUS \"INBOX\" (MESSAGES 0)")
    s.close()
