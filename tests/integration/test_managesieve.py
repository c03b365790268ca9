"""
ManageSieve (RFC 5804) on listen.managesieve.

Greeting and CAPABILITY (SASL PLAIN only after TLS), STARTTLS with the
capabilities re-sent, AUTHENTICATE PLAIN with and without an initial
response (quoted and literal), bad credentials, every script command and
its error codes (NONEXISTENT, ACTIVE, ALREADYEXISTS, QUOTA/MAXSIZE,
QUOTA/MAXSCRIPTS), PUTSCRIPT refusing a broken script with its line
number, the on-disk layout (sieve/<name>.sieve, .dovecot.sieve symlink),
abuse (long line, huge literal before login) and sieve-connect.
"""
import base64
import os
import shutil
import socket
import subprocess

import pytest

from conftest import readline

USER = "alice@example.test"
PW = "secret"

GOOD = b'require ["fileinto"];\r\nif header :contains "subject" "x" {\r\n' \
       b'  fileinto "X";\r\n}\r\n'
BAD = b'require ["fileinto"];\r\nif header :contains "subject" "x" {\r\n' \
      b'  fileinto "X"\r\n}\r\n'


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "managesieve"],
        conf={"accounts": [{"name": USER,
                            "hashed_password": pw_hashes(PW)}]})


class Sieve:
    """A raw ManageSieve client."""

    def __init__(self, srv):
        self.srv = srv
        self.s = srv.connect("managesieve")
        self.greeting = self.response()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        return readline(self.s)

    def response(self):
        """Lines up to and including OK/NO/BYE; literals read whole."""
        lines = []
        while True:
            ln = self.line()
            if ln.endswith(b"}") and b"{" in ln:
                n = int(ln[ln.rindex(b"{") + 1:-1].rstrip(b"+"))
                data = b""
                while len(data) < n:
                    data += self.s.recv(n - len(data))
                rest = self.line()     # the CRLF that ends the line
                lines.append(data + rest)
                continue
            lines.append(ln)
            if ln[:2] in (b"OK", b"NO") or ln.startswith(b"BYE") or not ln:
                return lines

    def cmd(self, data):
        self.send(data + b"\r\n")
        return self.response()

    def starttls(self):
        r = self.cmd(b"STARTTLS")
        assert r[-1].startswith(b"OK")
        self.s = self.srv.ssl_context().wrap_socket(
            self.s, server_hostname="localhost")
        return self.response()

    def login(self, user=USER, pw=PW):
        self.starttls()
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
        return self.cmd(b'AUTHENTICATE "PLAIN" "' + ir + b'"')

    def put(self, name, script, plus=True):
        return self.cmd(b'PUTSCRIPT "' + name + b'" {%d%s}\r\n'
                        % (len(script), b"+" if plus else b"") + script)


def home(srv):
    return srv.maildir / "example.test" / "alice"


def test_greeting_and_capability(srv):
    c = Sieve(srv)
    g = c.greeting
    assert g[-1].startswith(b"OK")
    assert b'"IMPLEMENTATION" "postern"' in g
    assert b'"VERSION" "1.0"' in g
    assert b'"STARTTLS"' in g
    assert b'"SASL" ""' in g          # no PLAIN before TLS
    sieve = [x for x in g if x.startswith(b'"SIEVE"')][0]
    for ext in (b"fileinto", b"vacation", b"imap4flags", b"regex"):
        assert ext in sieve
    assert any(x.startswith(b'"MAXREDIRECTS"') for x in g)
    assert c.cmd(b"CAPABILITY") == g[:-1] + [b'OK "Capability completed."']
    r = c.cmd(b"NOOP")
    assert r[-1].startswith(b"OK")
    assert c.cmd(b'NOOP "t1"')[-1] == b'OK (TAG "t1") "Done"'
    assert c.cmd(b"LOGOUT")[-1].startswith(b"OK")


def test_starttls_and_auth(srv):
    c = Sieve(srv)
    # Before TLS: no AUTHENTICATE.
    r = c.cmd(b'AUTHENTICATE "PLAIN" "AGFsaWNlAHNlY3JldA=="')
    assert r[-1].startswith(b"NO (ENCRYPT-NEEDED)")
    assert c.cmd(b"LISTSCRIPTS")[-1].startswith(b"NO")
    caps = c.starttls()
    assert caps[-1].startswith(b"OK")
    assert b'"SASL" "PLAIN"' in caps and b'"STARTTLS"' not in caps
    # Wrong password, then a two-step exchange with a literal response.
    ir = base64.b64encode(b"\0" + USER.encode() + b"\0wrong")
    assert c.cmd(b'AUTHENTICATE "PLAIN" "' + ir + b'"')[-1].startswith(b"NO")
    c.send(b'AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == b'""'
    ir = base64.b64encode(b"\0" + USER.encode() + b"\0" + PW.encode())
    r = c.cmd(b"{%d+}\r\n" % len(ir) + ir)
    assert r[-1].startswith(b"OK"), r
    assert c.cmd(b'AUTHENTICATE "PLAIN" "x"')[-1].startswith(b"NO")
    assert c.cmd(b"LISTSCRIPTS") == [b'OK "Listscripts completed."']
    assert c.cmd(b"UNAUTHENTICATE")[-1].startswith(b"OK")
    assert c.cmd(b"LISTSCRIPTS")[-1].startswith(b"NO")


def test_cancel_auth(srv):
    c = Sieve(srv)
    c.starttls()
    c.send(b'AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == b'""'
    assert c.cmd(b'"*"')[-1].startswith(b"NO")
    assert c.cmd(b"NOOP")[-1].startswith(b"OK")


def test_scripts(srv):
    c = Sieve(srv)
    assert c.login()[-1].startswith(b"OK")
    assert c.put(b"one", GOOD)[-1].startswith(b"OK")
    assert c.put(b"two", GOOD, plus=False)[-1].startswith(b"OK")
    d = home(srv) / "sieve"
    assert (d / "one.sieve").read_bytes() == GOOD
    assert c.cmd(b"LISTSCRIPTS") == [b'"one"', b'"two"',
                                     b'OK "Listscripts completed."']
    # Broken script: refused with its line number, nothing stored.
    r = c.put(b"bad", BAD)
    assert r[-1].startswith(b"NO") and b"line 4" in r[-1], r
    assert not (d / "bad.sieve").exists()
    r = c.cmd(b"CHECKSCRIPT {%d+}\r\n" % len(BAD) + BAD)
    assert r[-1].startswith(b"NO") and b"line" in r[-1]
    r = c.cmd(b"CHECKSCRIPT {%d+}\r\n" % len(GOOD) + GOOD)
    assert r[-1].startswith(b"OK")
    # GETSCRIPT
    r = c.cmd(b'GETSCRIPT "one"')
    assert r[0] == GOOD and r[-1].startswith(b"OK")
    assert c.cmd(b'GETSCRIPT "nope"')[-1].startswith(b"NO (NONEXISTENT)")
    # SETACTIVE and the Dovecot symlink.
    assert c.cmd(b'SETACTIVE "nope"')[-1].startswith(b"NO (NONEXISTENT)")
    assert c.cmd(b'SETACTIVE "one"')[-1].startswith(b"OK")
    link = home(srv) / ".dovecot.sieve"
    assert os.readlink(link) == "sieve/one.sieve"
    assert c.cmd(b"LISTSCRIPTS")[0] == b'"one" ACTIVE'
    assert c.cmd(b'DELETESCRIPT "one"')[-1].startswith(b"NO (ACTIVE)")
    # RENAMESCRIPT follows the active mark.
    assert c.cmd(b'RENAMESCRIPT "one" "two"')[-1].startswith(
        b"NO (ALREADYEXISTS)")
    assert c.cmd(b'RENAMESCRIPT "x" "y"')[-1].startswith(b"NO (NONEXISTENT)")
    assert c.cmd(b'RENAMESCRIPT "one" "uno"')[-1].startswith(b"OK")
    assert os.readlink(link) == "sieve/uno.sieve"
    # Deactivate, then delete.
    assert c.cmd(b'SETACTIVE ""')[-1].startswith(b"OK")
    assert not os.path.lexists(link)
    assert c.cmd(b'DELETESCRIPT "uno"')[-1].startswith(b"OK")
    assert c.cmd(b'DELETESCRIPT "uno"')[-1].startswith(b"NO (NONEXISTENT)")
    assert c.cmd(b"LISTSCRIPTS") == [b'"two"', b'OK "Listscripts completed."']
    # Names: no '/', no controls.
    assert c.cmd(b'GETSCRIPT "../x"')[-1].startswith(b"NO")
    assert c.put(b"a/b", GOOD)[-1].startswith(b"NO")
    assert c.cmd(b"LOGOUT")[-1].startswith(b"OK")


def test_limits(srv):
    c = Sieve(srv)
    c.login()
    assert c.cmd(b'HAVESPACE "x" 100')[-1].startswith(b"OK")
    r = c.cmd(b'HAVESPACE "x" 99999999')
    assert r[-1].startswith(b"NO (QUOTA/MAXSIZE)")
    assert c.cmd(b'HAVESPACE "x" abc')[-1].startswith(b"NO")
    big = b"#" + b"x" * (256 * 1024) + b"\r\n"
    r = c.put(b"big", big)
    assert r[-1].startswith(b"NO (QUOTA/MAXSIZE)")
    for i in range(32):
        assert c.put(b"s%d" % i, b"keep;\r\n")[-1].startswith(b"OK")
    assert c.put(b"s0", b"stop;\r\n")[-1].startswith(b"OK")   # replace
    assert c.put(b"more", b"keep;\r\n")[-1].startswith(
        b"NO (QUOTA/MAXSCRIPTS)")
    assert c.cmd(b'HAVESPACE "more" 10')[-1].startswith(
        b"NO (QUOTA/MAXSCRIPTS)")
    # Bad syntax is answered, the session goes on.
    assert c.cmd(b'PUTSCRIPT "x')[-1].startswith(b"NO")
    assert c.cmd(b"FROB")[-1].startswith(b"NO")
    assert c.cmd(b'RENAMESCRIPT "a" "b" "c" "d"')[-1].startswith(b"NO")
    assert c.cmd(b"NOOP")[-1].startswith(b"OK")


def test_abuse(srv):
    c = Sieve(srv)
    # A 64 KiB line with no CRLF, then the end of it.
    c.send(b"NOOP " + b"x" * 65536)
    c.send(b"\r\n")
    assert c.response()[-1].startswith(b"NO")
    assert c.cmd(b"NOOP")[-1].startswith(b"OK")
    # A huge literal before login: hang up at once.
    r = c.cmd(b'AUTHENTICATE "PLAIN" {4294967296+}')
    assert r[-1].startswith(b"BYE")
    assert c.s.recv(10) == b""


def test_literal_dropped_when_bad(srv):
    c = Sieve(srv)
    c.login()
    # A malformed command with a literal: its bytes are not run as commands.
    r = c.cmd(b'PUTSCRIPT "a" "b" "c" {6+}\r\nLOGOUT')
    assert r[-1].startswith(b"NO")
    assert c.cmd(b"NOOP")[-1].startswith(b"OK")


@pytest.mark.skipif(shutil.which("sieve-connect") is None,
                    reason="sieve-connect not installed")
def test_sieve_connect(srv, tmp_path):
    script = tmp_path / "vac.sieve"
    script.write_bytes(GOOD)
    env = dict(os.environ, SSL_CERT_FILE=srv.ca)
    base = ["sieve-connect", "--server", "localhost", "--port",
            str(srv.ports["managesieve"]), "--user", USER,
            "--passwordfd", "0", "--authmech", "PLAIN", "--notlsverify",
            "--nosslverify"]

    def run(*args):
        # The password comes on stdin (fd 0), so nothing is interactive.
        return subprocess.run(base + list(args), env=env, timeout=30,
                              input=PW + "\n", capture_output=True,
                              text=True)
    r = run("--upload", "--localsieve", str(script), "--remotesieve", "vac")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("--activate", "--remotesieve", "vac")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("--list")
    assert r.returncode == 0 and "vac" in r.stdout, r.stdout + r.stderr
    assert os.readlink(home(srv) / ".dovecot.sieve") == "sieve/vac.sieve"
    r = run("--deactivate")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("--delete", "--remotesieve", "vac")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (home(srv) / "sieve" / "vac.sieve").exists()
