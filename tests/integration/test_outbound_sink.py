"""
Outbound delivery to Postfix's real smtp-sink (protocols/smtp/smtpc*.c,
storage/queue): mail submitted on port 587 goes through the durable queue
to relay.host/relay.port, where `smtp-sink -d DIR/%H%M%S.` writes every
transaction to a file (envelope as X-Mail-Args / X-Rcpt-Args lines, then
a Received line, then the message as received, dot-unstuffed, then an
empty line).

Also: an MTA-STS (RFC 8461) enforce policy whose MX is smtp-sink, which
offers no STARTTLS: the message is deferred, never sent in clear (RFC 8461
5); and outbound.tls_session_tickets = false, seen in the ClientHello that
a STARTTLS receiver written here decodes (no session_ticket extension,
RFC 5077).

smtp-sink comes with the postfix package; the tests that need it are
skipped when /usr/sbin/smtp-sink is absent.
"""
import os
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import free_port
from test_outbound_mx import ZONE, Dns, PolicyServer

os.environ["POSTERN_QUEUE_TEST_SCALE"] = "1000"

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


class SmtpSink:
    """smtp-sink on 127.0.0.1, dumping each transaction into self.dir."""

    def __init__(self):
        if not os.path.exists(SMTP_SINK):
            pytest.skip("smtp-sink (package postfix) not installed")
        # Not under tmp_path (0700): smtp-sink writes as nobody.
        self.dir = Path(tempfile.mkdtemp(prefix="postern-smtp-sink-"))
        self.dir.chmod(0o777)
        self.port = free_port()
        args = [SMTP_SINK]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += ["-d", str(self.dir) + "/%H%M%S.",
                 "127.0.0.1:%d" % self.port, "64"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    raise RuntimeError("smtp-sink did not start: %s" %
                                       self.proc.stderr.read().decode())
                time.sleep(0.05)

    def files(self):
        return sorted(p for p in self.dir.iterdir() if p.is_file())

    def wait(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = self.files()
            if len(f) >= n:
                time.sleep(0.1)         # the last one fully written
                return self.files()
            time.sleep(0.05)
        raise AssertionError("smtp-sink got %d messages, wanted %d" %
                             (len(self.files()), n))

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_dump(raw):
    """(mail_from, [rcpts], message bytes after smtp-sink's Received)."""
    head, _, rest = raw.partition(b"Received: ")
    mail, rcpts = None, []
    for line in head.decode().splitlines():
        k, _, v = line.partition(": ")
        if k == "X-Mail-Args":
            mail = v.split(">")[0].lstrip("<")
        elif k == "X-Rcpt-Args":
            rcpts.append(v.split(">")[0].lstrip("<"))
    # The Received field smtp-sink adds: up to the first unfolded line.
    lines = rest.split(b"\n")
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    msg = b"\n".join(lines[i:])
    # smtp-sink ends each dump with one empty line of its own.
    if msg.endswith(b"\n\n"):
        msg = msg[:-1]
    return mail, rcpts, msg


@pytest.fixture
def smtp_sink():
    s = SmtpSink()
    yield s
    s.close()


def _submit(srv, rcpts, body="hello\r\n", sender="alice@example.test"):
    subject = "t-" + uuid.uuid4().hex
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s"
           % (sender, rcpts[0], subject, body))
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        c.sendmail(sender, rcpts, msg.encode(),
                   mail_options=["BODY=8BITMIME"])
    return subject


def _relay_srv(make_server, pw_hashes, port, **over):
    conf = {"accounts": [{"name": "alice@example.test",
                          "hashed_password": pw_hashes("secret")}],
            "relay": {"host": "127.0.0.1", "port": port}}
    conf.update(over)
    return make_server(services=["smtp", "submission"], conf=conf)


# ---- smtp-sink through relay.host ------------------------------------------

def test_relay_to_smtp_sink(make_server, pw_hashes, smtp_sink):
    srv = _relay_srv(make_server, pw_hashes, smtp_sink.port)
    body = ("line one\r\n.leading dot\r\n..two dots\r\n.\r\n"
            "caf\u00e9 8bit\r\n" + "x" * 990 + "\r\nlast\r\n")
    subject = _submit(srv, ["bob@remote.test", "carol@other.test"],
                      body=body)
    files = smtp_sink.wait(1)
    assert len(files) == 1, files
    mail, rcpts, msg = parse_dump(files[0].read_bytes())
    assert mail == "alice@example.test"
    assert sorted(rcpts) == ["bob@remote.test", "carol@other.test"]
    assert ("Subject: %s" % subject).encode() in msg
    # Dot-stuffing undone by smtp-sink: what arrives is what was sent.
    text = msg.replace(b"\r\n", b"\n")
    want = body.replace("\r\n", "\n").encode()
    assert text.endswith(b"\n\n" + want), text[-300:]
    assert b"DKIM-Signature:" in msg     # example.test signs by default
    srv.wait_log("state=sent")
    # Nothing else: one transaction, no bounce.
    time.sleep(0.3)
    assert len(smtp_sink.files()) == 1


def test_many_messages_to_smtp_sink(make_server, pw_hashes, smtp_sink):
    srv = _relay_srv(make_server, pw_hashes, smtp_sink.port)
    n = 20
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        subjects = []
        for i in range(n):
            s = "m%d-%s" % (i, uuid.uuid4().hex)
            subjects.append(s)
            c.sendmail("alice@example.test", ["r%d@remote.test" % i],
                       "From: alice@example.test\r\nSubject: %s\r\n\r\n"
                       "body %d\r\n" % (s, i))
    files = smtp_sink.wait(n, timeout=30)
    got = {}
    for f in files:
        mail, rcpts, msg = parse_dump(f.read_bytes())
        for line in msg.split(b"\n"):
            if line.startswith(b"Subject: "):
                got[line[9:].strip().decode()] = rcpts
    assert sorted(got) == sorted(subjects)
    for i, s in enumerate(subjects):
        assert got[s] == ["r%d@remote.test" % i]
    time.sleep(0.3)
    assert len(smtp_sink.files()) == n


# ---- MTA-STS enforce, MX without STARTTLS ----------------------------------

def test_mta_sts_enforce_refuses_plaintext_mx(tmp_path, tls_ca, monkeypatch,
                                              make_server, pw_hashes,
                                              smtp_sink):
    """RFC 8461 5: sts.test says enforce; its MX (smtp-sink here) offers
    no STARTTLS, so the message is deferred and smtp-sink gets nothing."""
    dns = Dns(tmp_path, ZONE)
    ps = PolicyServer(tmp_path, tls_ca)
    try:
        monkeypatch.setenv("POSTERN_SMTPC_TEST_PORT", str(smtp_sink.port))
        monkeypatch.setenv("POSTERN_MTASTS_TEST_PORT", str(ps.port))
        monkeypatch.setenv("POSTERN_TLS_TEST_CA", tls_ca["ca"])
        conf = {"accounts": [{"name": "alice@example.test",
                              "hashed_password": pw_hashes("secret")}],
                "dns": {"resolvers": ["127.0.0.1:%d" % dns.port]}}
        srv = make_server(services=["smtp", "submission"], conf=conf)
        _submit(srv, ["x@sts.test"])
        srv.wait_log("mta-sts domain=sts.test id=20261121 mode=enforce")
        srv.wait_log("4.7.4 mail.example.test offers no STARTTLS "
                     "(MTA-STS policy enforce)")
        srv.wait_log("state=deferred")
        assert ("mta-sts.sts.test", "/.well-known/mta-sts.txt") in ps.hits
        # The retry (0.3 s at the test scale) is refused the same way.
        time.sleep(1.0)
        assert smtp_sink.files() == []
        assert "state=sent" not in srv.log()
    finally:
        ps.close()
        dns.close()


# ---- outbound.tls_session_tickets --------------------------------------------

class HelloSink:
    """A STARTTLS receiver that records, per ClientHello, the TLS
    extension types it carries (via the ssl module's message callback)."""

    def __init__(self, tls_ca):
        self.hellos = []
        self.msgs = 0
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(tls_ca["cert"], tls_ca["key"])
        self.ctx._msg_callback = self._cb
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _cb(self, conn, direction, version, content_type, msg_type, data):
        if direction != "read" or \
                msg_type != ssl._TLSMessageType.CLIENT_HELLO:
            return
        try:
            self.hellos.append(client_hello_extensions(data))
        except (IndexError, struct.error):
            self.hellos.append(None)

    def _serve(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(s,),
                             daemon=True).start()

    def _client(self, s):
        s.settimeout(10)
        f = s.makefile("rwb")
        tls = False

        def send(line):
            f.write(line.encode() + b"\r\n")
            f.flush()
        try:
            send("220 hello.test ESMTP")
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line.decode(errors="replace").split(" ")[0].upper()
                verb = verb.strip()
                if verb == "EHLO":
                    send("250-hello.test")
                    send("250 STARTTLS" if not tls else "250 8BITMIME")
                elif verb == "STARTTLS":
                    send("220 2.0.0 go")
                    f.close()
                    s = self.ctx.wrap_socket(s, server_side=True)
                    f = s.makefile("rwb")
                    tls = True
                elif verb == "DATA":
                    send("354 go")
                    while f.readline() not in (b".\r\n", b""):
                        pass
                    self.msgs += 1
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("250 2.0.0 Ok")
        except (OSError, ssl.SSLError):
            return
        finally:
            s.close()

    def close(self):
        self.lsock.close()


def client_hello_extensions(data):
    """Extension types of a ClientHello handshake message (RFC 8446 4.1.2)."""
    p = 4 + 2 + 32                       # header, legacy_version, random
    p += 1 + data[p]                     # legacy_session_id
    p += 2 + struct.unpack_from("!H", data, p)[0]   # cipher_suites
    p += 1 + data[p]                     # legacy_compression_methods
    end = p + 2 + struct.unpack_from("!H", data, p)[0]
    p += 2
    exts = []
    while p + 4 <= end:
        t, n = struct.unpack_from("!HH", data, p)
        exts.append(t)
        p += 4 + n
    return exts


SESSION_TICKET = 35                      # RFC 5077 / RFC 8447


@pytest.mark.parametrize("tickets", [True, False])
def test_tls_session_tickets_option(make_server, pw_hashes, tls_ca,
                                    tickets):
    if not hasattr(ssl.SSLContext, "_msg_callback"):
        pytest.skip("ssl has no _msg_callback")
    sink = HelloSink(tls_ca)
    try:
        srv = _relay_srv(make_server, pw_hashes, sink.port,
                         outbound={"tls_session_tickets": tickets})
        _submit(srv, ["bob@remote.test"])
        srv.wait_log("state=sent")
        assert sink.msgs == 1
        srv.wait_log("tls=TLS")
        assert len(sink.hellos) == 1 and sink.hellos[0], sink.hellos
        assert (SESSION_TICKET in sink.hellos[0]) is tickets, sink.hellos
    finally:
        sink.close()
