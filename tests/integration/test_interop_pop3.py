"""
POP3 interoperability with real clients (acceptance of issue "POP3 server").

A mailbox of POSTERN_INTEROP_POP3_MSGS (default 500) messages, delivered
over SMTP, is retrieved over pop3s (implicit TLS, certificate checked
against the test CA) with "keep" by:

- fetchmail (UIDL tracking in an idfile): first run gets every message into
  an mbox, the second run gets nothing (exit 1 = "no mail") and the server
  still holds all of them;
- getmail6 (SimplePOP3SSLRetriever, read_all = false, delete = false):
  the same, into a Maildir, "0 messages retrieved" the second time;
- curl pop3s://: LIST (every message with its size, compared with
  poplib), RETR of one message byte for byte against poplib, UIDL via -X.

The clients are required (dist/deps.sh installs fetchmail, getmail6,
curl): a missing client fails the test.  fetchmail checks the
certificate by DNS name only: host "localhost".
"""
import os
import poplib
import re
import shutil
import smtplib
import subprocess
import threading

import pytest

from conftest import getmail_setup

N_MSGS = int(os.environ.get("POSTERN_INTEROP_POP3_MSGS", "500"))
USER = "alice@example.test"
PW = "pop pass 1"


def need(tool):
    path = shutil.which(tool)
    assert path, ("%s is not installed: dist/deps.sh must install it "
                  "(apt-get install fetchmail getmail6 curl)" % tool)
    return path


@pytest.fixture
def srv(make_server, pw_hashes):
    s = make_server(
        services=["smtp", "pop3", "pop3s"],
        conf={"accounts": [{"name": USER,
                            "hashed_password": pw_hashes(PW)}]})
    seed(s, N_MSGS)
    return s


def msg(i):
    return (b"From: Sender %d <s%d@remote.example>\r\nTo: %s\r\n"
            b"Subject: pop interop %d\r\nMessage-ID: <pop%d@remote.example>\r\n"
            b"\r\nline one of %d\r\n.dot-stuffed line\r\n..two dots\r\n"
            b"From the start of a line\r\n%s\r\n"
            % (i, i, USER.encode(), i, i, i, b"x" * (i % 300)))


def seed(srv, n, conns=4):
    errs = []

    def work(k):
        try:
            with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                              timeout=30) as c:
                for i in range(k, n, conns):
                    c.sendmail("s@remote.example", [USER], msg(i))
        except Exception as e:          # noqa: BLE001
            errs.append(e)
    ts = [threading.Thread(target=work, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs, errs


def pop3s(srv):
    p = poplib.POP3_SSL("127.0.0.1", srv.ports["pop3s"], timeout=30,
                        context=srv.ssl_context())
    p.user(USER)
    p.pass_(PW)
    return p


def server_state(srv):
    p = pop3s(srv)
    count, _ = p.stat()
    uidl = [l.split()[1] for l in p.uidl()[1]]
    p.quit()
    return count, uidl


def maildir_count(d):
    return sum(len(os.listdir(d / s)) for s in ("new", "cur")
               if (d / s).is_dir())


def test_fetchmail_pop3s_keep_twice(srv, tmp_path):
    fm = need("fetchmail")
    mbox = tmp_path / "out.mbox"
    mbox.touch()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        'set no syslog\n'
        'poll localhost protocol POP3 port %d uidl\n'
        '  user "%s" there with password "%s" is "%s" here\n'
        '  ssl sslproto tls1.2+ sslcertfile %s sslcertck\n'
        '  keep mda "/bin/sh -c \'cat >> %s\'"\n'
        % (srv.ports["pop3s"], USER, PW, os.environ.get("USER", "root")
           if os.geteuid() else "root", srv.ca, mbox))
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path))
    cmd = [fm, "-f", str(rc), "-N", "-i", str(tmp_path / "idfile"),
           "--pidfile", str(tmp_path / "fm.pid")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    data = mbox.read_bytes()
    got = sorted(int(x) for x in
                 re.findall(rb"^Subject: pop interop (\d+)\r?$", data, re.M))
    assert got == list(range(N_MSGS)), out[-2000:]
    # dot-unstuffing of the last message came through
    assert b"\n.dot-stuffed line" in data and b"\n..two dots" in data
    size1 = len(data)

    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-3000:]          # 1 = no new mail
    assert len(mbox.read_bytes()) == size1
    count, _ = server_state(srv)
    assert count == N_MSGS                         # keep


def test_getmail_pop3s_keep_twice(srv, gm_dir):
    d = gm_dir
    cmd, md = getmail_setup(d, "SimplePOP3SSLRetriever",
                            srv.ports["pop3s"], USER, PW, srv.ca)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"\b%d messages? \(\d+ bytes\) retrieved" % N_MSGS,
                     out), out[-2000:]
    assert maildir_count(md) == N_MSGS
    _, uidl = server_state(srv)
    # getmail remembers what it saw by UIDL in its oldmail file
    old = [f for f in os.listdir(d) if f.startswith("oldmail-")]
    assert len(old) == 1, os.listdir(d)
    seen = (d / old[0]).read_text()
    assert all(u.decode() in seen for u in uidl)

    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"\b0 messages? \(0 bytes\) retrieved", out), out
    assert maildir_count(md) == N_MSGS
    count, _ = server_state(srv)
    assert count == N_MSGS


def test_curl_pop3s_list_retr_uidl(srv):
    curl = need("curl")
    base = [curl, "-sS", "--ssl-reqd", "--cacert", srv.ca, "-u",
            "%s:%s" % (USER, PW), "--max-time", "60"]
    url = "pop3s://localhost:%d/" % srv.ports["pop3s"]
    p = pop3s(srv)
    _, listing, _ = p.list()
    want_list = {int(a): int(b) for a, b in (l.split() for l in listing)}
    k = min(N_MSGS, 42)
    _, lines, _ = p.retr(k)
    want_msg = b"\r\n".join(lines) + b"\r\n"
    _, uidl, _ = p.uidl()
    p.quit()

    r = subprocess.run(base + [url], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = {int(a): int(b) for a, b in
           (l.split() for l in r.stdout.decode().splitlines())}
    assert got == want_list and len(got) == N_MSGS

    r = subprocess.run(base + [url + str(k)], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want_msg

    r = subprocess.run(base + ["-X", "UIDL", url], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(b"\r\n")[:-1] == uidl

    # a message number past the end: curl fails, the server stays well
    r = subprocess.run(base + [url + str(N_MSGS + 1)], capture_output=True,
                       timeout=60)
    assert r.returncode != 0
    assert server_state(srv)[0] == N_MSGS
