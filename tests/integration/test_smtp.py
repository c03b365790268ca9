"""
SMTP server: MX (25) and submission (587 STARTTLS, 465 implicit TLS).

Greeting and EHLO per port, every verb and its reply code, pipelining,
DATA/BDAT delivered to the Maildir with trace headers, the limits (size,
recipients, line length, errors), SMTP smuggling sequences, STARTTLS
injection, AUTH PLAIN/LOGIN, sender ownership on submission, and an
open-relay matrix.  Deliveries need the store (storage/store*.c).
"""
import base64
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import readline

SIZE_LIMIT = 200000


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "submission", "submissions"],
        conf={
            "message_size_limit": SIZE_LIMIT,
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret"),
                 "aliases": ["alias@example.test"]},
                {"name": "bob@example.test",
                 "hashed_password": pw_hashes("hunter2")},
            ],
            "aliases": [{"address": "team@example.test",
                         "to": ["bob@example.test"]}],
        })


class Raw:
    """A raw SMTP client that reads whole (multi-line) replies."""

    def __init__(self, srv, service="smtp", tls=None):
        self.srv = srv
        self.s = srv.connect(service, tls=tls)

    def reply(self, timeout=5):
        lines = []
        while True:
            line = readline(self.s, timeout)
            if not line:
                raise EOFError("connection closed after %r" % lines)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def code(self, timeout=5):
        return self.reply(timeout)[0]

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def starttls(self):
        assert self.cmd(b"STARTTLS")[0] == 220
        self.s = self.srv.ssl_context().wrap_socket(
            self.s, server_hostname="localhost")

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(100) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.s.close()


def raw(srv, service="smtp", ehlo=True, tls=None):
    r = Raw(srv, service, tls)
    code, lines = r.reply()
    assert code == 220 and lines[0] == b"220 mail.example.test ESMTP postern"
    if ehlo:
        assert r.cmd(b"EHLO client.example")[0] == 250
    return r


def login(r, user="alice@example.test", pw="secret"):
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
    return r.cmd(b"AUTH PLAIN " + tok)


def sub(srv, user="alice@example.test", pw="secret"):
    """An authenticated session on 587 after STARTTLS."""
    r = raw(srv, "submission")
    r.starttls()
    assert r.cmd(b"EHLO client.example")[0] == 250
    assert login(r, user, pw)[0] == 235
    return r


def files(srv, addr, wait=0.0):
    d = srv.mailbox(addr) / "new"
    deadline = time.monotonic() + wait
    while True:
        got = sorted(d.iterdir()) if d.exists() else []
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.05)


def msg(subject=b"hi", frm=b"alice@example.test", body=b"hello\r\n"):
    return (b"From: <" + frm + b">\r\nTo: <bob@example.test>\r\n"
            b"Subject: " + subject + b"\r\n\r\n" + body)


# ---- greeting and EHLO ---------------------------------------------------

@pytest.mark.parametrize("service", ["smtp", "submission", "submissions"])
def test_greeting_and_ehlo(srv, service):
    r = raw(srv, service, ehlo=False)
    code, lines = r.cmd(b"EHLO client.example")
    assert code == 250
    kw = [l[4:] for l in lines[1:]]
    for k in (b"PIPELINING", b"SIZE %d" % SIZE_LIMIT, b"8BITMIME",
              b"SMTPUTF8", b"ENHANCEDSTATUSCODES", b"CHUNKING", b"DSN"):
        assert k in kw, (service, kw)
    assert (b"STARTTLS" in kw) == (service != "submissions")
    # AUTH: only on submission ports, only under TLS.
    assert (b"AUTH PLAIN LOGIN" in kw) == (service == "submissions")
    if service == "submission":
        r.starttls()
        code, lines = r.cmd(b"EHLO client.example")
        kw = [l[4:] for l in lines[1:]]
        assert b"AUTH PLAIN LOGIN" in kw and b"STARTTLS" not in kw
    r.close()


def test_helo_and_simple_verbs(srv):
    r = raw(srv, ehlo=False)
    assert r.cmd(b"MAIL FROM:<a@b.example>")[0] == 503
    code, lines = r.cmd(b"HELO client.example")
    assert code == 250 and lines[0].startswith(b"250 2.0.0")
    assert r.cmd(b"NOOP")[1][0].startswith(b"250 2.0.0")
    assert r.cmd(b"RSET")[1][0].startswith(b"250 2.0.0")
    assert r.cmd(b"VRFY bob")[1][0].startswith(b"252 2.")
    assert r.cmd(b"EXPN list")[1][0].startswith(b"502 5.5.1")
    assert r.cmd(b"HELP")[1][0].startswith(b"214 2.0.0")
    assert r.cmd(b"FOO bar")[1][0].startswith(b"500 5.5.2")
    assert r.cmd(b"HELO")[1][0].startswith(b"501 5.5.4")
    assert r.cmd(b"RCPT TO:<bob@example.test>")[1][0].startswith(b"503 5.5.1")
    assert r.cmd(b"DATA")[1][0].startswith(b"503 5.5.1")
    assert r.cmd(b"AUTH PLAIN")[1][0].startswith(b"503 5.5.1")
    assert r.cmd(b"MAIL FROM:<>")[0] == 250
    assert r.cmd(b"MAIL FROM:<>")[1][0].startswith(b"503 5.5.1")
    assert r.cmd(b"DATA")[1][0].startswith(b"554 5.5.1")
    assert r.cmd(b"MAIL FROM:<x@y.example>")[0] == 503
    assert r.cmd(b"RSET")[0] == 250
    assert r.cmd(b"MAIL FROM:<x@y.example> FOO=1")[1][0].startswith(b"555")
    assert r.cmd(b"MAIL FROM:<x@y.example> BODY=BINARYMIME")[0] == 555
    code, lines = r.cmd(b"QUIT")
    assert lines[0].startswith(b"221 2.0.0")
    assert r.closed()


def test_every_reply_has_enhanced_code(srv):
    r = raw(srv)
    for line in (b"NOOP", b"MAIL FROM:<a@x.example>",
                 b"RCPT TO:<nobody@example.test>",
                 b"RCPT TO:<bob@example.test>", b"RSET", b"VRFY x",
                 b"BOGUS", b"STARTTLS x"):
        code, lines = r.cmd(line)
        for l in lines[-1:]:
            assert l[4:5].isdigit() and l[5:6] == b"." and \
                l[4:5] == l[0:1], (line, lines)
    r.close()


# ---- delivery --------------------------------------------------------------

def test_data_delivered_with_trace_headers(srv):
    r = raw(srv)
    assert r.cmd(b"MAIL FROM:<sender@remote.example>")[0] == 250
    assert r.cmd(b"RCPT TO:<bob@example.test>")[0] == 250
    assert r.cmd(b"DATA")[0] == 354
    r.send(msg(body=b"line1\r\n..dotted\r\n.\r\n"))
    code, lines = r.reply(10)
    assert code == 250 and lines[0].startswith(b"250 2.0.0 Ok: queued as ")
    r.cmd(b"QUIT")
    got = files(srv, "bob@example.test", 5)
    assert len(got) == 1
    data = got[0].read_bytes()
    head = data.split(b"\r\n\r\n")[0]
    assert head.startswith(b"Return-Path: <sender@remote.example>\r\n")
    assert b"Delivered-To: bob@example.test\r\n" in head
    assert b"X-Original-To" not in head
    assert b"Received: from client.example ([127.0.0.1])" in head
    assert b"by mail.example.test (postern) with ESMTP id" in head
    assert b"for <bob@example.test>;" in head
    assert data.endswith(b"line1\r\n.dotted\r\n")


def test_alias_sets_x_original_to(srv):
    r = raw(srv)
    r.cmd(b"MAIL FROM:<>")
    assert r.cmd(b"RCPT TO:<team@example.test>")[0] == 250
    assert r.cmd(b"RCPT TO:<Bob@Example.test>")[0] == 250
    assert r.cmd(b"DATA")[0] == 354
    r.send(msg() + b".\r\n")
    assert r.code(10) == 250
    got = files(srv, "bob@example.test", 5)
    assert len(got) == 1          # one copy per account
    head = got[0].read_bytes().split(b"\r\n\r\n")[0]
    assert b"Return-Path: <>\r\n" in head
    assert b"X-Original-To: team@example.test\r\n" in head


def test_pipelining(srv):
    r = raw(srv)
    r.send(b"MAIL FROM:<p@remote.example>\r\nRCPT TO:<bob@example.test>\r\n"
           b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"DATA\r\n")
    assert [r.code() for _ in range(5)] == [250, 250, 550, 250, 354]
    # The message, then more commands in the same write.
    r.send(msg() + b".\r\nMAIL FROM:<q@remote.example>\r\n"
           b"RCPT TO:<bob@example.test>\r\nRSET\r\nNOOP\r\n")
    assert [r.code(10) for _ in range(5)] == [250, 250, 250, 250, 250]
    assert len(files(srv, "bob@example.test", 5)) == 1
    assert len(files(srv, "alice@example.test", 5)) == 1


def test_bdat(srv):
    r = raw(srv)
    r.cmd(b"MAIL FROM:<c@remote.example>")
    r.cmd(b"RCPT TO:<bob@example.test>")
    m = msg(body=b".not stuffed\r\n")
    r.send(b"BDAT %d\r\n" % 10 + m[:10])
    code, lines = r.reply()
    assert code == 250 and b"10 octets" in lines[0]
    r.send(b"BDAT %d LAST\r\n" % (len(m) - 10) + m[10:])
    assert r.code(10) == 250
    data = files(srv, "bob@example.test", 5)[0].read_bytes()
    assert data.endswith(b"\r\n\r\n.not stuffed\r\n")
    # BDAT without a transaction: the chunk is read and refused.
    r.send(b"BDAT 6\r\nNOOP\r\nNOOP\r\n")
    assert r.code() == 503
    assert r.code() == 250
    r.close()


def test_message_size_limit(srv):
    r = raw(srv)
    assert r.cmd(b"MAIL FROM:<a@remote.example> SIZE=%d" %
                 (SIZE_LIMIT + 1))[1][0].startswith(b"552 5.3.4")
    assert r.cmd(b"MAIL FROM:<a@remote.example> SIZE=100")[0] == 250
    r.cmd(b"RCPT TO:<bob@example.test>")
    assert r.cmd(b"DATA")[0] == 354
    line = b"x" * 900 + b"\r\n"
    r.send(msg() + line * (SIZE_LIMIT // len(line) + 2) + b".\r\n")
    code, lines = r.reply(10)
    assert lines[0].startswith(b"552 5.3.4"), lines
    assert r.cmd(b"NOOP")[0] == 250
    assert files(srv, "bob@example.test") == []


def test_recipient_limit(srv):
    r = raw(srv)
    r.cmd(b"MAIL FROM:<a@remote.example>")
    r.send(b"RCPT TO:<bob@example.test>\r\n" * 101)
    codes = [r.code() for _ in range(101)]
    assert codes[:100] == [250] * 100
    assert codes[100] == 452
    r.close()


def test_command_line_too_long(srv):
    r = raw(srv)
    code, lines = r.cmd(b"NOOP " + b"a" * 600)
    assert lines[0].startswith(b"500 5.5.2")
    # Over-long with no CRLF yet: bytes dropped, one reply at the end.
    r.send(b"NOOP " + b"b" * 70000)
    time.sleep(0.2)
    r.send(b"c" * 100 + b"\r\nNOOP\r\n")
    assert r.reply()[1][0].startswith(b"500 5.5.2")
    assert r.code() == 250
    r.close()


def test_too_many_errors(srv):
    r = raw(srv)
    r.send(b"BOGUS\r\n" * 25)
    codes = []
    try:
        while True:
            codes.append(r.code())
    except EOFError:
        pass
    assert codes[-1] == 421 and codes.count(500) == 20
    r.close()


@pytest.mark.parametrize("seq", [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\n",
                                 b"\n.\r"])
def test_smuggling_sequences_refused(srv, seq):
    r = raw(srv)
    r.cmd(b"MAIL FROM:<a@remote.example>")
    r.cmd(b"RCPT TO:<bob@example.test>")
    assert r.cmd(b"DATA")[0] == 354
    r.send(msg() + b"x" + seq + b"MAIL FROM:<evil@remote.example>\r\n"
           b"RCPT TO:<alice@example.test>\r\nDATA\r\n" + b"evil\r\n")
    time.sleep(0.3)
    r.send(b".\r\n")
    code, lines = r.reply(10)
    assert code == 550 and lines[0].startswith(b"550 5.5.2"), lines
    assert r.cmd(b"NOOP")[0] == 250
    assert files(srv, "bob@example.test") == []
    assert files(srv, "alice@example.test") == []


def test_bare_lf_command_refused(srv):
    r = raw(srv)
    r.send(b"NOOP\nNOOP\r\n")
    assert r.reply()[1][0].startswith(b"500 5.5.2")
    r.close()


def test_starttls_drops_pipelined_plaintext(srv):
    r = raw(srv)
    r.send(b"STARTTLS\r\nMAIL FROM:<a@remote.example>\r\n")
    assert r.code() == 220
    r.s = srv.ssl_context().wrap_socket(r.s, server_hostname="localhost")
    # The state is reset: MAIL needs a new EHLO; nothing else answered.
    assert r.cmd(b"MAIL FROM:<a@remote.example>")[0] == 503
    assert r.cmd(b"EHLO again.example")[0] == 250
    assert r.cmd(b"STARTTLS")[0] == 503
    r.close()
    assert "discarded pipelined plaintext" in srv.log()


def test_received_tls_protocol(srv):
    r = raw(srv)
    r.starttls()
    r.cmd(b"EHLO tls.example")
    r.cmd(b"MAIL FROM:<a@remote.example>")
    r.cmd(b"RCPT TO:<bob@example.test>")
    r.cmd(b"DATA")
    r.send(msg() + b".\r\n")
    assert r.code(10) == 250
    head = files(srv, "bob@example.test", 5)[0].read_bytes()
    assert b"with ESMTPS id" in head and b"(using TLSv1.3 with cipher" in head


# ---- AUTH and submission ---------------------------------------------------

def test_auth_refused_before_tls_on_587(srv):
    r = raw(srv, "submission")
    assert r.cmd(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==")[1][0].startswith(
        b"538 5.7.11")
    assert r.cmd(b"MAIL FROM:<alice@example.test>")[1][0].startswith(
        b"530 5.7.0")
    r.close()


def test_auth_not_on_port_25(srv):
    r = raw(srv)
    r.starttls()
    r.cmd(b"EHLO x.example")
    assert login(r)[0] == 503
    r.close()


def test_auth_plain_587(srv):
    r = raw(srv, "submission")
    r.starttls()
    r.cmd(b"EHLO x.example")
    assert login(r, pw="wrong")[1][0].startswith(b"535 5.7.8")
    code, lines = login(r)
    assert lines[0].startswith(b"235 2.7.0")
    assert login(r)[0] == 503
    r.close()


def test_auth_login_465(srv):
    r = raw(srv, "submissions")
    code, lines = r.cmd(b"AUTH LOGIN")
    assert code == 334 and base64.b64decode(lines[0][4:]).startswith(b"User")
    code, lines = r.cmd(base64.b64encode(b"alice@example.test"))
    assert code == 334
    assert r.cmd(base64.b64encode(b"nope"))[0] == 535
    code, lines = r.cmd(b"AUTH LOGIN " + base64.b64encode(b"bob@example.test"))
    assert code == 334
    assert r.cmd(base64.b64encode(b"hunter2"))[0] == 235
    r.close()


def test_auth_cancel_and_garbage(srv):
    r = raw(srv, "submissions")
    assert r.cmd(b"AUTH LOGIN")[0] == 334
    assert r.cmd(b"*")[0] == 501
    assert r.cmd(b"AUTH PLAIN !!!!")[0] == 501
    assert r.cmd(b"AUTH CRAM-MD5")[0] == 504
    r.close()


def test_smtplib_submission_465(srv):
    ctx = srv.ssl_context()
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"],
                          context=ctx, timeout=10) as c:
        c.login("alice@example.test", "secret")
        c.sendmail("alice@example.test", ["bob@example.test"],
                   b"From: alice@example.test\r\nSubject: s\r\n\r\nbody\r\n")
    head = files(srv, "bob@example.test", 5)[0].read_bytes()
    assert b"with ESMTPSA id" in head
    assert b"(authenticated as alice@example.test)" in head
    assert b"\r\nDate: " in head and b"\r\nMessage-ID: <" in head


def test_swaks_mx(srv):
    """swaks (plain: this swaks has no Net::SSLeay) with pipelining."""
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(srv.ports["smtp"]),
         "--pipeline", "--from", "someone@remote.example",
         "--to", "bob@example.test,alice@example.test",
         "--body", "line\n.dot\n", "--timeout", "10"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(files(srv, "bob@example.test", 5)) == 1
    assert len(files(srv, "alice@example.test", 5)) == 1


def test_submission_sender_ownership(srv):
    r = sub(srv)
    assert r.cmd(b"MAIL FROM:<bob@example.test>")[1][0].startswith(
        b"553 5.7.1")
    assert r.cmd(b"MAIL FROM:<alias@example.test>")[0] == 250
    r.cmd(b"RSET")
    assert r.cmd(b"MAIL FROM:<alice@example.test>")[0] == 250
    assert r.cmd(b"RCPT TO:<bob@example.test>")[0] == 250
    assert r.cmd(b"DATA")[0] == 354
    r.send(msg(frm=b"bob@example.test") + b".\r\n")
    assert r.reply(10)[1][0].startswith(b"553 5.7.1")
    assert r.cmd(b"MAIL FROM:<alice@example.test>")[0] == 250
    assert r.cmd(b"RCPT TO:<bob@example.test>")[0] == 250
    assert r.cmd(b"DATA")[0] == 354
    r.send(msg(frm=b"alias@example.test") + b".\r\n")
    assert r.code(10) == 250
    assert len(files(srv, "bob@example.test", 5)) == 1
    # Authenticated relay is accepted (the outbound queue takes it; its
    # delivery is covered by test_outbound.py).
    r.cmd(b"MAIL FROM:<alice@example.test>")
    assert r.cmd(b"RCPT TO:<x@foreign.example>")[0] == 250
    r.cmd(b"RSET")
    r.close()


def test_reject_sender(make_server, pw_hashes):
    s = make_server(services=["smtp"], conf={
        "reject_sender": ["spam.example"],
        "accounts": [{"name": "bob@example.test",
                      "hashed_password": pw_hashes("x")}]})
    r = raw(s)
    assert r.cmd(b"MAIL FROM:<x@spam.example>")[1][0].startswith(b"554 5.7.1")
    assert r.cmd(b"MAIL FROM:<x@ok.example>")[0] == 250
    r.close()


# ---- open relay ------------------------------------------------------------

RELAY_TRIES = [b"x@foreign.example", b"bob%foreign.example@example.test",
               b"foreign.example!bob@example.test",
               b"@relay.example:x@foreign.example",
               b"\"x@foreign.example\"@example.test", b"bob@[127.0.0.1]"]


@pytest.mark.parametrize("service,tls", [
    ("smtp", False), ("smtp", True), ("submission", False),
    ("submission", True), ("submissions", None)])
def test_no_open_relay(srv, service, tls):
    for rcpt in RELAY_TRIES:
        r = raw(srv, service)
        if tls:
            r.starttls()
            r.cmd(b"EHLO x.example")
        code, _ = r.cmd(b"MAIL FROM:<a@remote.example>")
        if code == 250:
            code, lines = r.cmd(b"RCPT TO:<" + rcpt + b">")
            assert code >= 500, (service, tls, rcpt, lines)
            assert r.cmd(b"DATA")[0] >= 500
        else:
            assert service != "smtp" and code == 530
        r.close()
    time.sleep(0.2)
    assert files(srv, "bob@example.test") == []
    assert "queued as" not in srv.log()


def test_postmaster_always_accepted(srv):
    r = raw(srv)
    r.cmd(b"MAIL FROM:<a@remote.example>")
    assert r.cmd(b"RCPT TO:<postmaster>")[0] == 250
    assert r.cmd(b"RCPT TO:<postmaster@example.org>")[0] == 250
    r.close()


def test_sigterm_during_session(srv):
    r = raw(srv)
    srv.proc.send_signal(15)
    assert r.reply()[1][0].startswith(b"421 4.3.2")
    assert srv.proc.wait(15) == 0


def test_failed_logins_are_delayed(srv):
    r = raw(srv, "submissions")
    for _ in range(2):
        assert login(r, pw="bad")[0] == 535
    t0 = time.monotonic()
    r.send(b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0bad") +
           b"\r\nNOOP\r\n")
    assert r.code() == 535
    assert time.monotonic() - t0 >= 0.9
    assert r.code() == 250          # the pipelined NOOP, after the delay
    # Success clears the count.
    assert login(r)[0] == 235
    r.close()


def test_client_leaves_during_jobs(srv):
    """Completions must cope with a session that is gone."""
    r = raw(srv, "submissions")
    r.send(b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0secret")
           + b"\r\n")
    r.close()
    r = raw(srv)
    r.send(b"MAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.test>\r\n"
           b"DATA\r\n" + msg() + b".\r\n")
    r.close()
    time.sleep(0.5)
    r = raw(srv)
    assert r.cmd(b"NOOP")[0] == 250
    r.close()
    srv.wait_log("smtp msg id=")


def test_log_line_per_message(srv):
    r = raw(srv)
    r.cmd(b"MAIL FROM:<log@remote.example>")
    r.cmd(b"RCPT TO:<bob@example.test>")
    r.cmd(b"DATA")
    r.send(msg() + b".\r\n")
    assert r.code(10) == 250
    r.close()
    srv.wait_log("from=<log@remote.example> to=<bob@example.test> size=")
    # The full field list is tested in test_ops2.py.
    assert 'result=delivered reply="250 2.0.0 Ok: queued as ' in srv.log()


def test_pregreet_talker_dropped(make_server):
    """A client that sends before the 220 is dropped on port 25."""
    import signal as _signal
    srv = make_server(services=["smtp", "submission"])
    # Freeze the daemon so the command is in the socket before it accepts.
    srv.proc.send_signal(_signal.SIGSTOP)
    try:
        early = socket.create_connection(("127.0.0.1", srv.ports["smtp"]), 5)
        early.sendall(b"EHLO early.example\r\n")
    finally:
        srv.proc.send_signal(_signal.SIGCONT)
    early.settimeout(5)
    buf = b""
    while b"554 " not in buf and b"250 " not in buf:
        chunk = early.recv(4096)        # bounded by the 5 s timeout
        if not chunk:
            break
        buf += chunk
    lines = buf.split(b"\r\n")
    assert any(l.startswith(b"554 5.5.1") for l in lines), lines
    assert not any(l.startswith(b"250") for l in lines), lines
    early.close()
    srv.wait_log("smtp pregreet")
    # A client that waits for the greeting is served as usual.
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=5) as c:
        assert c.ehlo("patient.example")[0] == 250
