"""
`postern account add|passwd|del|list|show|reload` against a live daemon:
the accounts file is rewritten atomically, the daemon reloads over the
control socket (RELOAD), so a new account logs in at once over IMAP and
SMTP AUTH, a changed password refuses the old one and a deleted account
cannot log in.  Refusals: foreign domain, duplicates, accounts of the main
config, no password.  Without a daemon the file is still written.
"""
import imaplib
import os
import smtplib
import socket
import stat
import subprocess

import pytest

from conftest import BIN


@pytest.fixture
def srv(make_server, pw_hashes, tmp_path):
    return make_server(
        services=["submissions", "imaps"],
        conf={"accounts_file": str(tmp_path / "accounts"),
              "accounts": [{"name": "bob@example.test",
                            "hashed_password": pw_hashes("hunter2")}]})


def account(srv, *args, password=None):
    return subprocess.run([BIN, "account", args[0], "-c", str(srv.conf_path)]
                          + list(args[1:]),
                          input=None if password is None else password + "\n",
                          capture_output=True, text=True, timeout=120)


def imap_login(srv, user, pw):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context(), timeout=30)
    try:
        m.login(user, pw)
        m.logout()
        return True
    except imaplib.IMAP4.error:
        return False


def smtp_login(srv, user, pw):
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"], timeout=30,
                          context=srv.ssl_context()) as c:
        try:
            c.login(user, pw)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def ctl(srv, line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(srv.conf["listen"]["control"])
    s.sendall(line + b"\n")
    out = b""
    while not out.endswith(b"\n"):
        chunk = s.recv(1024)
        if not chunk:
            break
        out += chunk
    s.close()
    return out


def test_round_trip(srv):
    accounts = srv.dir.parent / "accounts"
    assert not imap_login(srv, "carol@example.test", "first-pw")

    r = account(srv, "add", "Carol@Example.TEST", password="first-pw")
    assert r.returncode == 0, r.stderr
    assert "added carol@example.test" in r.stdout
    assert stat.S_IMODE(os.stat(accounts).st_mode) == 0o600
    text = accounts.read_text()
    assert 'name = "carol@example.test"' in text
    assert "$y$" in text                      # yescrypt
    assert "first-pw" not in text
    assert not [f for f in os.listdir(accounts.parent)
                if f.startswith("accounts.tmp")]
    srv.wait_log("reload ok generation=2")
    assert imap_login(srv, "carol@example.test", "first-pw")
    assert smtp_login(srv, "carol@example.test", "first-pw")

    r = account(srv, "list")
    assert r.returncode == 0
    assert r.stdout.split() == ["bob@example.test", "carol@example.test"]
    r = account(srv, "show", "carol@example.test")
    assert r.returncode == 0, r.stderr
    assert "password:  yescrypt" in r.stdout
    assert str(accounts) in r.stdout
    assert "$y$" not in r.stdout

    r = account(srv, "passwd", "carol@example.test", password="second-pw")
    assert r.returncode == 0, r.stderr
    assert not imap_login(srv, "carol@example.test", "first-pw")
    assert imap_login(srv, "carol@example.test", "second-pw")
    assert not smtp_login(srv, "carol@example.test", "first-pw")

    r = account(srv, "del", "carol@example.test")
    assert r.returncode == 0, r.stderr
    assert not imap_login(srv, "carol@example.test", "second-pw")
    assert 'carol' not in accounts.read_text()
    # The main config's account was never touched.
    assert imap_login(srv, "bob@example.test", "hunter2")


def test_refusals(srv):
    r = account(srv, "add", "dave@elsewhere.net", password="x")
    assert r.returncode == 1
    assert "not in domains" in r.stderr
    r = account(srv, "add", "not-an-address", password="x")
    assert r.returncode == 1
    r = account(srv, "add", "bob@example.test", password="x")
    assert r.returncode == 1
    assert "already exists" in r.stderr
    r = account(srv, "passwd", "bob@example.test", password="x")
    assert r.returncode == 1
    assert "edit it there" in r.stderr
    r = account(srv, "del", "nobody@example.test")
    assert r.returncode == 1
    assert "no account" in r.stderr
    r = account(srv, "add", "erin@example.test", password="")
    assert r.returncode == 1
    assert "no password" in r.stderr
    r = account(srv, "frobnicate", "x@example.test")
    assert r.returncode == 2
    r = account(srv, "add")
    assert r.returncode == 2
    assert not (srv.dir.parent / "accounts").exists()
    assert imap_login(srv, "bob@example.test", "hunter2")


def test_reload_and_status_requests(srv):
    r = account(srv, "reload")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "reloaded\n"
    assert ctl(srv, b"RELOAD").startswith(b"OK generation=3")
    st = ctl(srv, b"STATUS")
    assert st.startswith(b"OK postern ") and b"generation=3" in st
    assert ctl(srv, b"BOGUS").startswith(b"ERR unknown request")


def test_without_daemon(make_server, tmp_path):
    s = make_server(services=["imaps"], start=False,
                    conf={"accounts_file": str(tmp_path / "accounts")})
    s.write_conf()
    r = account(s, "add", "frank@example.test", password="pw")
    assert r.returncode == 0, r.stderr
    assert "applies when it starts" in r.stderr
    s.start()
    assert imap_login(s, "frank@example.test", "pw")
    r = account(s, "reload")
    assert r.returncode == 0
