"""
Virus scanning on the MX (filter/virus/clamd.c, the virus stage of
filter/filter_auth.c, smtp_msg_filtered): every inbound message is
streamed to a real clamd (Debian's clamav-daemon, /usr/sbin/clamd) with
INSTREAM before the 250.  The test runs its own clamd with a temporary
config and a one-line signature database for the EICAR test string (no
official databases: none can be downloaded here).  An infected message
gets 554 5.7.1 naming the signature, a clean one is delivered, and with
clamd stopped (or unreachable) the answer is 451 4.3.0, never a 250.
"""
import os
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import time

import pytest

CLAMD = "/usr/sbin/clamd"
EICAR = (rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
         rb"$H+H*")
SIG = "Postern-Test-EICAR"
CLEAN = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
         b"Message-ID: <v1@example.net>\r\nFrom: <carol@example.net>\r\n"
         b"To: <bob@example.test>\r\nSubject: Lunch\r\n\r\nNoon?\r\n")
INFECTED = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
            b"Message-ID: <v2@example.net>\r\nFrom: <carol@example.net>\r\n"
            b"To: <bob@example.test>\r\nSubject: test file\r\n\r\n" +
            EICAR + b"\r\n")

pytestmark = pytest.mark.skipif(not os.access(CLAMD, os.X_OK),
                                reason="clamav-daemon not installed")


class Clamd:
    """A private clamd: socket, database and log in a short temp dir
    (unix socket paths are limited to 108 bytes)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pav", dir="/tmp")
        self.sock = os.path.join(self.dir, "clamd.sock")
        db = os.path.join(self.dir, "db")
        os.mkdir(db)
        # A body signature: name:target(0 = any):offset(*):hex.
        with open(os.path.join(db, "postern.ndb"), "w") as f:
            f.write("%s:0:*:%s\n" % (SIG, EICAR.hex()))
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write("LocalSocket %s\nDatabaseDirectory %s\nForeground yes\n"
                    "LogFile %s\nTemporaryDirectory %s\n"
                    "PidFile %s\n" % (self.sock, db,
                                      os.path.join(self.dir, "clamd.log"),
                                      self.dir,
                                      os.path.join(self.dir, "clamd.pid")))
        self.proc = None

    def start(self, timeout=60):
        self.proc = subprocess.Popen([CLAMD, "-c", self.conf],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("clamd exited %s:\n%s" % (
                    self.proc.returncode, self.proc.stdout.read().decode(
                        errors="replace")))
            try:
                if self.scan(b"ping\r\n") == b"stream: OK":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("clamd did not come up")

    def scan(self, data):
        """Our own INSTREAM, to check clamd before postern does."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(self.sock)
            s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data +
                      struct.pack(">I", 0))
            out = b""
            while not out.endswith(b"\0"):
                got = s.recv(1024)
                if not got:
                    break
                out += got
        return out.rstrip(b"\0")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stdout.close()
        self.proc = None
        # clamd normally unlinks its socket; make sure nobody answers.
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def clamd():
    c = Clamd()
    try:
        c.start()
        yield c
    finally:
        c.cleanup()


@pytest.fixture
def own_clamd():
    c = Clamd()
    try:
        c.start()
        yield c
    finally:
        c.cleanup()


def mx(make_server, pw_hashes, sock, enable=True):
    return make_server(
        services=["smtp"],
        conf={
            "virus_scanning": {"enable": enable, "clamd_socket": sock},
            "accounts": [{"name": "bob@example.test",
                          "hashed_password": pw_hashes("hunter2")}],
        })


def send(srv, data):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                      local_hostname="client.example.net", timeout=60) as s:
        return s.sendmail("carol@example.net", ["bob@example.test"], data)


def delivered(srv, wait=15):
    d = srv.mailbox("bob@example.test") / "new"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = sorted(d.iterdir()) if d.exists() else []
        if got:
            return [p.read_bytes() for p in got]
        time.sleep(0.05)
    return []


def nothing_delivered(srv):
    d = srv.mailbox("bob@example.test") / "new"
    return not d.exists() or not any(d.iterdir())


def test_clamd_has_only_our_signature(clamd):
    # clamd runs with the one-line database and no official one.
    assert clamd.scan(CLEAN) == b"stream: OK"
    out = clamd.scan(INFECTED)
    assert out.startswith(b"stream: " + SIG.encode()) and \
        out.endswith(b" FOUND"), out


def test_infected_refused_with_signature(make_server, pw_hashes, clamd):
    srv = mx(make_server, pw_hashes, clamd.sock)
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(srv, INFECTED)
    assert ei.value.smtp_code == 554
    text = ei.value.smtp_error.decode()
    assert text.startswith("5.7.1 "), text
    assert SIG in text, text
    assert nothing_delivered(srv)
    srv.wait_log("virus found")
    # The session goes on: a clean message on the same server is taken.
    assert send(srv, CLEAN) == {}
    [m] = delivered(srv)
    assert b"Subject: Lunch" in m


def test_clean_delivered(make_server, pw_hashes, clamd):
    srv = mx(make_server, pw_hashes, clamd.sock)
    assert send(srv, CLEAN) == {}
    [m] = delivered(srv)
    assert m.endswith(b"Noon?\r\n")
    srv.wait_log("filter virus clean")


def test_infected_in_bdat_and_big_message(make_server, pw_hashes, clamd):
    # Several INSTREAM chunks: the signature sits past the first 64 KiB.
    srv = mx(make_server, pw_hashes, clamd.sock)
    filler = (b"x" * 70 + b"\r\n") * 3000
    data = INFECTED.replace(EICAR, filler + EICAR)
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                      local_hostname="client.example.net", timeout=60) as s:
        s.ehlo()
        assert s.mail("carol@example.net")[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        s.send(b"BDAT %d LAST\r\n" % len(data) + data)
        code, text = s.getreply()
    assert code == 554 and SIG.encode() in text, (code, text)
    assert nothing_delivered(srv)


def test_clamd_stopped_451(make_server, pw_hashes, own_clamd):
    srv = mx(make_server, pw_hashes, own_clamd.sock)
    assert send(srv, CLEAN) == {}
    assert len(delivered(srv)) == 1
    own_clamd.stop()
    for data in (CLEAN, INFECTED):
        with pytest.raises(smtplib.SMTPDataError) as ei:
            send(srv, data)
        assert ei.value.smtp_code == 451, ei.value
        assert ei.value.smtp_error.decode().startswith("4.3.0 ")
    assert len(delivered(srv)) == 1
    srv.wait_log("filter virus error=")


def test_clamd_not_answering_451(make_server, pw_hashes, tmp_path):
    # Something listens but closes without a verdict: still no accept.
    d = tempfile.mkdtemp(prefix="pav", dir="/tmp")
    path = os.path.join(d, "mute.sock")
    lsn = socket.socket(socket.AF_UNIX)
    try:
        lsn.bind(path)
        lsn.listen(8)
        lsn.settimeout(30)
        srv = mx(make_server, pw_hashes, path)
        with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                          local_hostname="client.example.net",
                          timeout=60) as s:
            s.ehlo()
            s.mail("carol@example.net")
            s.rcpt("bob@example.test")
            s.putcmd("data")
            assert s.getreply()[0] == 354
            s.send(CLEAN + b".\r\n")
            conn, _ = lsn.accept()
            conn.recv(100)
            conn.close()
            code, text = s.getreply()
        assert code == 451 and text.startswith(b"4.3.0"), (code, text)
        assert nothing_delivered(srv)
    finally:
        lsn.close()
        shutil.rmtree(d, ignore_errors=True)


def test_disabled_not_scanned(make_server, pw_hashes):
    srv = mx(make_server, pw_hashes, "/nonexistent/clamd.sock",
             enable=False)
    assert send(srv, INFECTED) == {}
    assert len(delivered(srv)) == 1
