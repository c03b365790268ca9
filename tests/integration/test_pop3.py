"""
POP3 server (RFC 1939, RFC 2449 CAPA and response codes, RFC 2595 STLS,
RFC 5034 AUTH) on 110 and 995.

Every command in its state and in the wrong one, USER/PASS refused
before TLS on the plain port, STLS with pipelined plaintext discarded,
AUTH PLAIN/LOGIN, STAT/LIST/UIDL/RETR/TOP against what was delivered over
SMTP, DELE+QUIT removing files and DELE+drop keeping them, RSET, UIDL
stable across sessions and a restart, [IN-USE] for a second session, bad
input, and curl's pop3s:// client.  Mail is delivered through the MX port.
"""
import base64
import poplib
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import readline

USER = "alice@example.test"
PW = "secret"


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "pop3", "pop3s"],
        conf={
            "accounts": [
                {"name": USER, "hashed_password": pw_hashes(PW)},
                {"name": "bob@example.test",
                 "hashed_password": pw_hashes("hunter2")},
            ],
        })


def deliver(srv, subject, body="hello\r\n", to=USER, extra=""):
    msg = ("From: sender@remote.example\r\nTo: %s\r\nSubject: %s\r\n%s\r\n%s"
           % (to, subject, extra, body))
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        assert c.sendmail("sender@remote.example", [to], msg) == {}


def pop3s(srv, user=USER, pw=PW):
    p = poplib.POP3_SSL("127.0.0.1", srv.ports["pop3s"], timeout=10,
                        context=srv.ssl_context())
    if user is not None:
        p.user(user)
        p.pass_(pw)
    return p


def files(srv, addr=USER):
    box = srv.mailbox(addr)
    return sorted(p.name for d in ("new", "cur") for p in (box / d).iterdir()
                  if (box / d).exists())


class Raw:
    """A raw POP3 client over a socket (plain or TLS)."""

    def __init__(self, srv, service="pop3"):
        self.srv = srv
        self.s = srv.connect(service)
        self.greeting = readline(self.s)

    def send(self, data):
        self.s.sendall(data)

    def line(self, timeout=5):
        return readline(self.s, timeout)

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln == b".":
                return lines
            lines.append(ln)

    def starttls(self):
        assert self.cmd(b"STLS").startswith(b"+OK")
        self.s = self.srv.ssl_context().wrap_socket(
            self.s, server_hostname="localhost")

    def closed(self, timeout=5):
        """True once the server hangs up (pending replies are skipped)."""
        self.s.settimeout(timeout)
        try:
            while self.s.recv(4096) != b"":
                pass
            return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


def test_greeting_and_capa(srv):
    r = Raw(srv)
    assert r.greeting == b"+OK postern ready"
    assert r.cmd(b"CAPA") == b"+OK Capability list follows"
    caps = r.multi()
    for c in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE",
              b"PIPELINING", b"EXPIRE NEVER", b"STLS",
              b"IMPLEMENTATION postern"):
        assert c in caps
    # RFC 2595: no cleartext login offered before TLS.
    assert b"USER" not in caps and not any(c.startswith(b"SASL")
                                           for c in caps)
    r.starttls()
    assert r.cmd(b"CAPA").startswith(b"+OK")
    caps = r.multi()
    assert b"USER" in caps and b"SASL PLAIN LOGIN" in caps
    assert b"STLS" not in caps
    p = pop3s(srv, user=None)
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps and "TOP" in caps
    assert caps["SASL"] == ["PLAIN", "LOGIN"]
    p.quit()


def test_plaintext_login_refused_before_tls(srv):
    r = Raw(srv)
    assert r.cmd(b"USER " + USER.encode()).startswith(b"-ERR [AUTH]")
    assert r.cmd(b"PASS " + PW.encode()).startswith(b"-ERR")
    ir = base64.b64encode(b"\0" + USER.encode() + b"\0" + PW.encode())
    assert r.cmd(b"AUTH PLAIN " + ir).startswith(b"-ERR [AUTH]")
    assert r.cmd(b"STAT").startswith(b"-ERR")
    assert r.cmd(b"QUIT").startswith(b"+OK")
    assert r.closed()


def test_stls_then_user_pass(srv):
    deliver(srv, "one")
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=10)
    p.stls(context=srv.ssl_context())
    p.user(USER)
    assert p.pass_(PW).startswith(b"+OK")
    assert p.stat()[0] == 1
    p.quit()


def test_stls_pipelined_plaintext_ignored(srv):
    r = Raw(srv)
    # The USER/PASS/STAT after STLS in the same packet must be dropped.
    r.send(b"STLS\r\nUSER " + USER.encode() + b"\r\nPASS " + PW.encode() +
           b"\r\nSTAT\r\n")
    assert r.line().startswith(b"+OK")
    r.s = srv.ssl_context().wrap_socket(r.s, server_hostname="localhost")
    # Nothing of the injection is answered: STAT is refused (not logged in).
    assert r.cmd(b"STAT").startswith(b"-ERR")
    assert r.cmd(b"STLS").startswith(b"-ERR")


def test_wrong_state_commands(srv):
    r = Raw(srv, "pop3s")
    for c in (b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"NOOP", b"RSET",
              b"TOP 1 0", b"UIDL"):
        assert r.cmd(c).startswith(b"-ERR"), c
    assert r.cmd(b"PASS x").startswith(b"-ERR")     # no USER first
    assert r.cmd(b"APOP a b").startswith(b"-ERR")
    assert r.cmd(b"USER " + USER.encode()) == b"+OK"
    assert r.cmd(b"PASS " + PW.encode()).startswith(b"+OK")
    for c in (b"USER x", b"PASS x", b"AUTH PLAIN", b"STLS", b"APOP a b"):
        assert r.cmd(c).startswith(b"-ERR"), c
    assert r.cmd(b"NOOP") == b"+OK"
    assert r.cmd(b"QUIT").startswith(b"+OK")


def test_bad_password_and_auth_resp_code(srv):
    r = Raw(srv, "pop3s")
    r.cmd(b"USER " + USER.encode())
    assert r.cmd(b"PASS wrong").startswith(b"-ERR [AUTH]")
    # Back in AUTHORIZATION: a new USER/PASS works.
    r.cmd(b"USER " + USER.encode())
    assert r.cmd(b"PASS " + PW.encode()).startswith(b"+OK")


def test_auth_plain_and_login(srv):
    deliver(srv, "x")
    r = Raw(srv, "pop3s")
    assert r.cmd(b"AUTH") == b"+OK"
    assert r.multi() == [b"PLAIN", b"LOGIN"]
    ir = base64.b64encode(b"\0" + USER.encode() + b"\0" + PW.encode())
    assert r.cmd(b"AUTH PLAIN " + ir).startswith(b"+OK")
    assert r.cmd(b"STAT") .startswith(b"+OK 1 ")
    assert r.cmd(b"QUIT").startswith(b"+OK")
    # AUTH PLAIN without initial response, then cancel, then LOGIN.
    r = Raw(srv, "pop3s")
    assert r.cmd(b"AUTH PLAIN") == b"+ "
    assert r.cmd(b"*").startswith(b"-ERR")
    assert r.cmd(b"AUTH LOGIN").startswith(b"+ ")
    assert r.cmd(base64.b64encode(USER.encode())).startswith(b"+ ")
    assert r.cmd(base64.b64encode(PW.encode())).startswith(b"+OK")
    assert r.cmd(b"AUTH X").startswith(b"-ERR")
    r.cmd(b"QUIT")
    r = Raw(srv, "pop3s")
    assert r.cmd(b"AUTH CRAM-MD5").startswith(b"-ERR")
    bad = base64.b64encode(b"\0" + USER.encode() + b"\0nope")
    assert r.cmd(b"AUTH PLAIN " + bad).startswith(b"-ERR [AUTH]")
    assert r.cmd(b"AUTH PLAIN !!!").startswith(b"-ERR")


def test_stat_list_uidl_retr_top(srv):
    deliver(srv, "first", body="line1\r\n.dot line\r\nline3\r\n")
    deliver(srv, "second", body="a\r\nb\r\nc\r\nd\r\n")
    p = pop3s(srv)
    n, size = p.stat()
    assert n == 2
    resp, lst, _ = p.list()
    sizes = [int(x.split()[1]) for x in lst]
    assert [int(x.split()[0]) for x in lst] == [1, 2]
    assert sum(sizes) == size
    assert p.list(2).split()[1:] == [b"2", str(sizes[1]).encode()]
    resp, lines, octets = p.retr(1)
    assert resp.startswith(b"+OK %d octets" % sizes[0])
    text = b"\r\n".join(lines) + b"\r\n"
    assert len(text) == sizes[0]      # LIST size is what RETR sends
    assert b"Subject: first" in text and b".dot line" in lines
    resp, lines, _ = p.top(2, 2)
    assert lines[-2:] == [b"a", b"b"] and b"Subject: second" in lines
    resp, lines, _ = p.top(2, 0)
    assert lines[-1] == b"" and b"a" not in lines
    resp, uids, _ = p.uidl()
    u = [x.split()[1] for x in uids]
    assert len(u) == 2 and len(set(u)) == 2 and all(len(x) == 16 for x in u)
    assert p.uidl(1).split()[2] == u[0]
    for bad in (3, 0):
        with pytest.raises(poplib.error_proto):
            p.retr(bad)
    p.quit()


def test_dele_quit_removes_files_and_drop_keeps_them(srv):
    deliver(srv, "a")
    deliver(srv, "b")
    deliver(srv, "c")
    # Dropped connection: nothing deleted.
    p = pop3s(srv)
    p.dele(1)
    p.sock.shutdown(socket.SHUT_RDWR)
    p.sock.close()
    time.sleep(0.3)
    assert len(files(srv)) == 3
    # RSET undoes DELE.
    p = pop3s(srv)
    p.dele(1)
    with pytest.raises(poplib.error_proto):
        p.dele(1)                  # already deleted
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    assert p.stat()[0] == 2
    assert b"1 " not in b" ".join(p.list()[1][:1])
    p.rset()
    assert p.stat()[0] == 3
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    left = files(srv)
    assert len(left) == 2
    # The survivors were moved to cur/ (seen by a client), none in new/.
    assert not list((srv.mailbox(USER) / "new").iterdir())
    p = pop3s(srv)
    subjects = []
    for i in (1, 2):
        subjects.append([x for x in p.top(i, 0)[1]
                         if x.startswith(b"Subject:")][0])
    assert subjects == [b"Subject: a", b"Subject: c"]
    p.quit()


def test_uidl_stable_across_sessions_and_restart(srv):
    deliver(srv, "u1")
    deliver(srv, "u2")
    p = pop3s(srv)
    first = p.uidl()[1]
    p.quit()
    p = pop3s(srv)
    assert p.uidl()[1] == first
    p.quit()
    assert srv.stop() == 0
    srv.start()
    deliver(srv, "u3")
    p = pop3s(srv)
    now = p.uidl()[1]
    assert now[:2] == first and len(now) == 3
    p.quit()


def test_uidl_dovecot_format_and_external_files(srv):
    # A file dropped into new/ by another program is indexed at login.
    deliver(srv, "known")
    box = srv.mailbox(USER)
    (box / "new" / "1700000000.M1P1.other").write_bytes(
        b"Subject: external\nX: y\n\nbare lf body\n.leading dot\n")
    p = pop3s(srv)
    assert p.stat()[0] == 2
    lst = p.list()[1]
    uids = p.uidl()[1]
    # %08Xu%08Xv: UID then UIDVALIDITY, upper-case hex.
    for x in uids:
        u = x.split()[1].decode()
        assert u == u.upper() and int(u[:8], 16) >= 1
    assert len({x.split()[1][8:] for x in uids}) == 1
    resp, lines, _ = p.retr(2)
    text = b"\r\n".join(lines) + b"\r\n"
    assert int(lst[1].split()[1]) == len(text)
    assert b"bare lf body" in lines and b".leading dot" in lines
    p.quit()


def test_in_use(srv):
    p = pop3s(srv)
    q = pop3s(srv, user=None)
    q.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        q.pass_(PW)
    assert b"[IN-USE]" in e.value.args[0]
    # Another account is not affected.
    r = pop3s(srv, "bob@example.test", "hunter2")
    r.quit()
    p.quit()
    time.sleep(0.2)
    q.user(USER)
    assert q.pass_(PW).startswith(b"+OK")
    q.quit()


def test_bad_input(srv):
    r = Raw(srv, "pop3s")
    assert r.cmd(b"FOO").startswith(b"-ERR")
    assert r.cmd(b"").startswith(b"-ERR")
    assert r.cmd(b"USER " + b"a" * 300).startswith(b"-ERR")
    r.cmd(b"USER " + USER.encode())
    assert r.cmd(b"PASS " + PW.encode()).startswith(b"+OK")
    assert r.cmd(b"LIST x").startswith(b"-ERR")
    assert r.cmd(b"TOP 1").startswith(b"-ERR")
    assert r.cmd(b"RETR 99999999999").startswith(b"-ERR")
    assert r.cmd(b"STAT\nNOOP").startswith(b"-ERR")   # bare LF
    # A 64 KiB line with no CRLF is dropped; its end gets one -ERR.
    r.send(b"X" * 65536)
    time.sleep(0.2)
    assert r.cmd(b"").startswith(b"-ERR Line too long")
    assert r.cmd(b"NOOP") == b"+OK"
    # Too many errors: the server hangs up.
    for _ in range(25):
        r.send(b"BOGUS\r\n")
    assert r.closed()


def test_pipelining(srv):
    deliver(srv, "p1")
    deliver(srv, "p2")
    r = Raw(srv, "pop3s")
    r.send(b"USER " + USER.encode() + b"\r\nPASS " + PW.encode() +
           b"\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nLIST\r\nQUIT\r\n")
    assert r.line() == b"+OK"
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"+OK 2 ")
    assert r.line().startswith(b"+OK")
    assert any(x == b"Subject: p1" for x in r.multi())
    assert r.line().startswith(b"+OK")                # DELE
    assert r.line() == b"+OK"                          # LIST
    assert [x.split()[0] for x in r.multi()] == [b"2"]
    assert r.line().startswith(b"+OK Logging out")
    assert len(files(srv)) == 1


def test_large_message_streams(srv):
    body = "".join("line %06d %s\r\n" % (i, "x" * 60) for i in range(30000))
    deliver(srv, "big", body=body)
    p = pop3s(srv)
    resp, lines, octets = p.retr(1)
    assert sum(1 for x in lines if x.startswith(b"line ")) == 30000
    assert int(resp.split()[1]) == int(p.list(1).split()[2])
    p.quit()


def test_curl_pop3s(srv):
    deliver(srv, "curl one", body="via curl\r\n")
    url = "pop3s://127.0.0.1:%d/" % srv.ports["pop3s"]
    base = ["curl", "-s", "--cacert", srv.ca, "--user", "%s:%s" % (USER, PW),
            "--connect-to", "localhost:%d:127.0.0.1:%d" %
            (srv.ports["pop3s"], srv.ports["pop3s"])]
    url = "pop3s://localhost:%d/" % srv.ports["pop3s"]
    out = subprocess.run(base + [url], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == b"1"
    out = subprocess.run(base + [url + "1"], capture_output=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert b"Subject: curl one" in out.stdout and b"via curl" in out.stdout


def test_shutdown_says_goodbye(srv):
    r = Raw(srv, "pop3s")
    srv.proc.send_signal(__import__("signal").SIGTERM)
    assert r.line().startswith(b"-ERR [SYS/TEMP]")
    srv.proc.wait(20)
    assert srv.proc.returncode == 0


def test_autologout_closes_silently_and_keeps_mail(make_server, pw_hashes):
    srv = make_server(services=["smtp", "pop3s"], conf={
        "limits": {"pop3_timeout": 1},
        "accounts": [{"name": USER, "hashed_password": pw_hashes(PW)}]})
    deliver(srv, "kept")
    r = Raw(srv, "pop3s")
    r.cmd(b"USER " + USER.encode())
    assert r.cmd(b"PASS " + PW.encode()).startswith(b"+OK")
    assert r.cmd(b"DELE 1").startswith(b"+OK")
    # RFC 1939 3: no response, no UPDATE.
    r.s.settimeout(10)
    assert r.s.recv(100) == b""
    assert len(files(srv)) == 1


def test_uidl_across_reindex(srv):
    """With nothing expunged, a rebuilt index gives every message its UID
    again (file order), so the UID half of each UIDL (Dovecot's
    %08Xu%08Xv) is unchanged.  The
    UIDVALIDITY half is kept only when a dovecot-uidlist is present
    (postern(8), backup): without one a reindex starts a new UIDVALIDITY,
    as Dovecot does when its dovecot-uidlist is lost."""
    import shutil
    from conftest import BIN
    for i in range(3):
        deliver(srv, "r%d" % i)
    p = pop3s(srv)
    before = p.uidl()[1]
    p.quit()
    assert srv.stop() == 0
    shutil.rmtree(srv.state_dir / "index.lmdb")
    r = subprocess.run([BIN, "reindex", "-c", str(srv.conf_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    srv.start()
    p = pop3s(srv)
    after = p.uidl()[1]
    p.quit()
    assert len(after) == len(before) == 3
    assert [u.split()[1][:8] for u in after] == \
        [u.split()[1][:8] for u in before]


def test_pop3_and_imap_on_one_mailbox(make_server, pw_hashes):
    """A message expunged over IMAP while a POP3 session holds its
    snapshot: RETR answers -ERR for it, the others are served, QUIT works,
    and nothing else is lost."""
    import imaplib
    s = make_server(services=["smtp", "pop3s", "imaps"], conf={
        "accounts": [{"name": USER, "hashed_password": pw_hashes(PW)}]})
    for i in range(4):
        deliver(s, "both%d" % i)
    p = pop3s(s)
    assert p.stat()[0] == 4
    im = imaplib.IMAP4_SSL("127.0.0.1", s.ports["imaps"],
                           ssl_context=s.ssl_context())
    im.login(USER, PW)
    im.select("INBOX")
    im.store("1", "+FLAGS", "\\Deleted")
    im.expunge()
    im.logout()
    # Message 1 of the POP3 snapshot is gone: a clean -ERR, not a crash.
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    for n in (2, 3, 4):
        resp, lines, _ = p.retr(n)
        assert resp.startswith(b"+OK")
        assert any(b"Subject: both" in l for l in lines)
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    p = pop3s(s)
    assert p.stat()[0] == 2                  # 4 - IMAP expunge - POP3 DELE
    subjects = []
    for n in (1, 2):
        subjects += [l for l in p.retr(n)[1] if l.startswith(b"Subject:")]
    p.quit()
    assert sorted(subjects) == [b"Subject: both2", b"Subject: both3"]
