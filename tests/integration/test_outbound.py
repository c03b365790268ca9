"""
Outbound delivery (storage/queue, protocols/smtp/smtpc*): mail submitted
for a remote recipient goes through the durable queue to relay.host, a
scripted SMTP receiver on 127.0.0.1 written here (asyncio in a thread).
It answers per recipient: 250, 4xx the first time then 250, 5xx, or drops
the connection, and can offer STARTTLS.  Bounces (RFC 3464) go back to the
local sender's Maildir, or to the relay when the sender is remote.

POSTERN_QUEUE_TEST_SCALE=1000 shrinks the 5-minute first retry to 0.3 s.
"""
import asyncio
import email
import email.policy
import os
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import BIN, free_port

os.environ["POSTERN_QUEUE_TEST_SCALE"] = "1000"


class Sink:
    """A tiny ESMTP receiver; rcpt_policy(addr, nth_try) -> reply line.

    Per connection it keeps the commands it got (self.sessions[i]: a
    list of (monotonic time, command line), then (time, "EOF") when the
    client closes), and the peak number of connections open at once.
    mail_policy(session_no, nth_mail_in_session) -> None (answer 250),
    a reply line (sent, then the connection is closed if it starts with
    "421"), or "DROP" (closed without a reply); after_data(session_no,
    nth_mail) -> True closes the connection right after the 250 to the
    message (a server that ends sessions after one transaction)."""

    def __init__(self, tls_ca=None, policy=None, mail_policy=None,
                 after_data=None):
        self.msgs = []          # (mail_from, [rcpts], data bytes, tls)
        self.tries = {}
        self.policy = policy or (lambda addr, n: "250 2.1.5 Ok")
        self.mail_policy = mail_policy or (lambda sno, n: None)
        self.after_data = after_data or (lambda sno, n: False)
        self.sessions = []
        self.active = 0
        self.peak = 0
        self.tls_ca = tls_ca
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def close(self):
        async def shutdown():
            # Connections still open (a client's idle session) end here,
            # not as tasks destroyed while pending.
            self.server.close()
            tasks = [t for t in asyncio.all_tasks()
                     if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _client(self, reader, writer):
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self._session(reader, writer)
        finally:
            self.active -= 1

    async def _session(self, reader, writer):
        tls = False
        sno = len(self.sessions)
        log = []
        self.sessions.append(log)
        nmail = 0

        async def send(line):
            writer.write(line.encode() + b"\r\n")
            await writer.drain()
        await send("220 sink.test ESMTP")
        mail, rcpts = None, []
        try:
            while True:
                line = await reader.readline()
                if not line:
                    log.append((time.monotonic(), "EOF"))
                    return
                cmd = line.decode(errors="replace").rstrip("\r\n")
                log.append((time.monotonic(), cmd))
                verb = cmd.split(" ")[0].upper()
                if verb == "EHLO":
                    caps = ["sink.test", "PIPELINING", "SIZE 10000000",
                            "8BITMIME"]
                    if self.tls_ca and not tls:
                        caps.append("STARTTLS")
                    for c in caps[:-1]:
                        await send("250-" + c)
                    await send("250 " + caps[-1])
                elif verb == "STARTTLS":
                    await send("220 2.0.0 go")
                    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    ctx.load_cert_chain(self.tls_ca["cert"],
                                        self.tls_ca["key"])
                    await writer.start_tls(ctx)
                    tls = True
                elif verb == "MAIL":
                    nmail += 1
                    reply = self.mail_policy(sno, nmail - 1)
                    mail, rcpts = None, []
                    if reply == "DROP":
                        writer.close()
                        return
                    if reply is not None:
                        await send(reply)
                        if reply.startswith("421"):
                            writer.close()
                            return
                        continue
                    mail = cmd[10:].split(">")[0].lstrip("<")
                    rcpts = []
                    await send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    if mail is None:
                        await send("503 5.5.1 MAIL first")
                        continue
                    addr = cmd[8:].split(">")[0].lstrip("<")
                    n = self.tries.get(addr, 0)
                    self.tries[addr] = n + 1
                    reply = self.policy(addr, n)
                    if reply == "DROP":
                        writer.close()
                        return
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    await send(reply)
                elif verb == "DATA":
                    if not rcpts:
                        await send("554 5.5.1 no valid recipients")
                        continue
                    await send("354 go")
                    data = b""
                    while True:
                        ln = await reader.readline()
                        if ln in (b".\r\n", b""):
                            break
                        data += ln[1:] if ln.startswith(b".") else ln
                    self.msgs.append((mail, rcpts, data, tls))
                    mail, rcpts = None, []
                    await send("250 2.0.0 Ok: queued")
                    if self.after_data(sno, nmail - 1):
                        writer.close()
                        return
                elif verb == "RSET":
                    mail, rcpts = None, []
                    await send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await send("221 2.0.0 Bye")
                    writer.close()
                    return
                else:
                    await send("250 2.0.0 Ok")
        except (ConnectionError, ssl.SSLError):
            return

    def wait(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.msgs) >= n:
                return self.msgs
            time.sleep(0.05)
        raise AssertionError("sink got %d messages, wanted %d" %
                             (len(self.msgs), n))


@pytest.fixture
def sink_factory(tls_ca):
    sinks = []

    def make(**kw):
        s = Sink(**kw)
        sinks.append(s)
        return s
    yield make
    for s in sinks:
        s.close()


def _srv(make_server, pw_hashes, sink, **over):
    conf = {"accounts": [{"name": "alice@example.test",
                          "hashed_password": pw_hashes("secret")}],
            "relay": {"host": "127.0.0.1", "port": sink.port}}
    conf.update(over)
    return make_server(services=["smtp", "submission"], conf=conf)


def _submit(srv, rcpts, subject=None, sender="alice@example.test",
            rcpt_options=()):
    subject = subject or "t-" + uuid.uuid4().hex
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n.dot line\r\n"
           % (sender, rcpts[0], subject))
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=10) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        c.sendmail(sender, rcpts, msg, rcpt_options=list(rcpt_options))
    return subject


def _mailbox_msgs(srv, addr):
    box = srv.mailbox(addr)
    out = []
    for sub in ("new", "cur"):
        d = box / sub
        if d.exists():
            for f in sorted(d.iterdir()):
                out.append(email.message_from_bytes(
                    f.read_bytes(), policy=email.policy.default))
    return out


def _wait_bounce(srv, addr, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in _mailbox_msgs(srv, addr):
            if m.get_content_type() == "multipart/report":
                return m
        time.sleep(0.05)
    raise AssertionError("no bounce for %s:\n%s" % (addr, srv.log()))


def _dsn_fields(report):
    """Per-recipient field dicts of the message/delivery-status part."""
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            return [dict((k.lower(), str(v)) for k, v in b.items())
                    for b in blocks[1:]]
    raise AssertionError("no message/delivery-status part")


def test_relay_delivery(make_server, pw_hashes, sink_factory):
    sink = sink_factory()
    srv = _srv(make_server, pw_hashes, sink)
    subject = _submit(srv, ["bob@remote.example"])
    mail, rcpts, data, tls = sink.wait(1)[0]
    assert mail == "alice@example.test"
    assert rcpts == ["bob@remote.example"]
    m = email.message_from_bytes(data)
    assert m["Subject"] == subject
    assert b"\r\n.dot line\r\n" in data      # dot-stuffing undone by sink
    assert m["Received"] is not None
    srv.wait_log("state=sent")


def test_starttls_used(make_server, pw_hashes, sink_factory, tls_ca):
    sink = sink_factory(tls_ca=tls_ca)
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["bob@remote.example"])
    assert sink.wait(1)[0][3] is True
    srv.wait_log("tls=TLS")


def test_retry_after_4xx(make_server, pw_hashes, sink_factory):
    def policy(addr, n):
        return "451 4.7.1 try later" if n == 0 else "250 2.1.5 Ok"
    sink = sink_factory(policy=policy)
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["slow@remote.example"])
    msgs = sink.wait(1, timeout=20)
    assert msgs[0][1] == ["slow@remote.example"]
    assert sink.tries["slow@remote.example"] == 2
    srv.wait_log("state=deferred")


def test_bounce_after_5xx(make_server, pw_hashes, sink_factory):
    def policy(addr, n):
        if addr.startswith("nobody"):
            return "550 5.1.1 no such user"
        return "250 2.1.5 Ok"
    sink = sink_factory(policy=policy)
    srv = _srv(make_server, pw_hashes, sink)
    subject = _submit(srv, ["ok@remote.example", "nobody@remote.example"])
    assert sink.wait(1)[0][1] == ["ok@remote.example"]
    report = _wait_bounce(srv, "alice@example.test")
    f = _dsn_fields(report)
    assert len(f) == 1
    assert f[0]["final-recipient"] == "rfc822; nobody@remote.example"
    assert f[0]["action"] == "failed"
    assert f[0]["status"] == "5.1.1"
    assert "550 5.1.1" in f[0]["diagnostic-code"]
    assert subject in report.as_string()
    # The accepted recipient was not sent twice.
    time.sleep(0.5)
    assert sink.tries["ok@remote.example"] == 1


def test_bounce_keeps_orcpt(make_server, pw_hashes, sink_factory):
    """RFC 3461 4.2: the ORCPT given at RCPT reaches the bounce."""
    sink = sink_factory(policy=lambda addr, n: "550 5.1.1 no such user")
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["gone@remote.example"],
            rcpt_options=["ORCPT=rfc822;Original+2Btag@remote.example"])  # xtext
    f = _dsn_fields(_wait_bounce(srv, "alice@example.test"))
    assert f[0]["final-recipient"] == "rfc822; gone@remote.example"
    assert f[0]["original-recipient"].replace(" ", "") == \
        "rfc822;Original+tag@remote.example"


def test_bounce_after_lifetime(make_server, pw_hashes, sink_factory):
    sink = sink_factory(policy=lambda a, n: "450 4.2.0 mailbox busy")
    srv = _srv(make_server, pw_hashes, sink, queue={"lifetime": 2})
    _submit(srv, ["busy@remote.example"])
    report = _wait_bounce(srv, "alice@example.test", timeout=30)
    f = _dsn_fields(report)
    assert f[0]["final-recipient"] == "rfc822; busy@remote.example"
    assert f[0]["status"].startswith("5.")
    assert sink.tries["busy@remote.example"] >= 2


def test_dropped_connection_retried(make_server, pw_hashes, sink_factory):
    sink = sink_factory(policy=lambda a, n: "DROP" if n == 0 else
                        "250 2.1.5 Ok")
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["flaky@remote.example"])
    assert sink.wait(1, timeout=20)[0][1] == ["flaky@remote.example"]


def test_restart_delivers_queued(make_server, pw_hashes, sink_factory):
    sink = sink_factory(policy=lambda a, n: "451 4.3.0 not now")
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["later@remote.example"])
    srv.wait_log("state=deferred")
    assert srv.stop() == 0
    out = subprocess.run([BIN, "queue", "-c", str(srv.conf_path), "list"],
                         capture_output=True, text=True)
    assert out.returncode == 1          # no daemon: a clear error
    sink.policy = lambda a, n: "250 2.1.5 Ok"
    srv.start()
    out = subprocess.run([BIN, "queue", "-c", str(srv.conf_path), "list"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert sink.wait(1, timeout=20)[0][1] == ["later@remote.example"]


def test_kill9_loses_nothing(make_server, pw_hashes, sink_factory):
    sink = sink_factory(policy=lambda a, n: "451 4.3.0 not now")
    srv = _srv(make_server, pw_hashes, sink)
    rcpts = ["k%d@remote.example" % i for i in range(5)]
    for r in rcpts:
        _submit(srv, [r])
    srv.kill()
    sink.policy = lambda a, n: "250 2.1.5 Ok"
    srv.start()
    msgs = sink.wait(5, timeout=30)
    got = sorted(r for m in msgs for r in m[1])
    assert got == rcpts
    time.sleep(0.5)
    assert len(sink.msgs) == 5


def test_queue_cli(make_server, pw_hashes, sink_factory):
    sink = sink_factory(policy=lambda a, n: "451 4.3.0 not now")
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["cli@remote.example"])
    srv.wait_log("state=deferred")
    q = [BIN, "queue", "-c", str(srv.conf_path)]
    out = subprocess.run(q + ["list"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    qid = out.stdout.split()[0]
    out = subprocess.run(q + ["show", qid], capture_output=True, text=True)
    assert "cli@remote.example" in out.stdout
    assert subprocess.run(q + ["bounce", qid]).returncode == 0
    report = _wait_bounce(srv, "alice@example.test")
    assert _dsn_fields(report)[0]["action"] == "failed"
    out = subprocess.run(q + ["show", "NOPE"], capture_output=True,
                         text=True)
    assert out.returncode == 1


# ---- RFC 3461 ENVID and RET in bounces ----------------------------------

def _submit_opts(srv, rcpt, mail_options, body="hello\r\nsecond line\r\n"):
    subject = "t-" + uuid.uuid4().hex
    msg = ("From: alice@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\n%s"
           % (rcpt, subject, body))
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=10) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        c.sendmail("alice@example.test", [rcpt], msg,
                   mail_options=list(mail_options))
    return subject


def _dsn_message_fields(report):
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            return dict((k.lower(), str(v))
                        for k, v in part.get_payload()[0].items())
    raise AssertionError("no message/delivery-status part")


def test_bounce_envid_ret_full(make_server, pw_hashes, sink_factory):
    """RFC 3461 4.3/4.4: RET=FULL returns the whole message as
    message/rfc822; ENVID comes back as Original-Envelope-Id (RFC 3464
    2.2.1), xtext-decoded."""
    sink = sink_factory(policy=lambda a, n: "550 5.1.1 no such user")
    srv = _srv(make_server, pw_hashes, sink)
    subject = _submit_opts(srv, "gone@remote.example",
                           ["RET=FULL", "ENVID=QQ+2Benv-1"],
                           body="the full body line\r\n")
    report = _wait_bounce(srv, "alice@example.test")
    assert _dsn_message_fields(report)["original-envelope-id"] == "QQ+env-1"
    types = [p.get_content_type() for p in report.walk()]
    assert "message/rfc822" in types
    assert "text/rfc822-headers" not in types
    raw = report.as_bytes()
    assert b"the full body line" in raw
    assert subject.encode() in raw


def test_bounce_ret_hdrs(make_server, pw_hashes, sink_factory):
    sink = sink_factory(policy=lambda a, n: "550 5.1.1 no such user")
    srv = _srv(make_server, pw_hashes, sink)
    subject = _submit_opts(srv, "gone@remote.example", ["RET=HDRS"],
                           body="secret body line\r\n")
    report = _wait_bounce(srv, "alice@example.test")
    types = [p.get_content_type() for p in report.walk()]
    assert "text/rfc822-headers" in types
    assert "message/rfc822" not in types
    raw = report.as_bytes()
    assert subject.encode() in raw
    assert b"secret body line" not in raw
    assert "original-envelope-id" not in _dsn_message_fields(report)


def test_envid_ret_survive_restart(make_server, pw_hashes, sink_factory):
    """The queue record keeps ENVID and RET across a restart."""
    sink = sink_factory(policy=lambda a, n: "451 4.3.0 not now")
    srv = _srv(make_server, pw_hashes, sink)
    _submit_opts(srv, "later@remote.example", ["RET=FULL", "ENVID=abc.42"],
                 body="kept body\r\n")
    srv.wait_log("state=deferred")
    q = [BIN, "queue", "-c", str(srv.conf_path)]
    qid = subprocess.run(q + ["list"], capture_output=True,
                         text=True).stdout.split()[0]
    out = subprocess.run(q + ["show", qid], capture_output=True, text=True)
    assert "envid: abc.42" in out.stdout and "ret: FULL" in out.stdout
    assert srv.stop() == 0
    sink.policy = lambda a, n: "550 5.1.1 gone now"
    srv.start()
    report = _wait_bounce(srv, "alice@example.test", timeout=30)
    assert _dsn_message_fields(report)["original-envelope-id"] == "abc.42"
    assert b"kept body" in report.as_bytes()


# ---- SRS for forwards (filter/srs/srs.h) ---------------------------------

ROOT_DIR = Path(__file__).resolve().parents[2]
ORACLE = ROOT_DIR.parent / "shared" / "external" / "srs-oracle.sh"
SRS_DOMAIN = "fwd.example.test"


def _oracle(secret, direction, addr):
    if not ORACLE.exists():
        pytest.fail("SRS oracle not found at %s (expected ../shared/external "
                    "next to the repository root)" % ORACLE)
    for _ in range(20):
        port = free_port()
        if port + 1 < 65536:
            try:
                s = socket.socket()
                s.bind(("127.0.0.1", port + 1))
                s.close()
                break
            except OSError:
                continue
    env = dict(os.environ, SRS_PORT=str(port))
    r = subprocess.run([str(ORACLE), str(secret), SRS_DOMAIN, direction,
                        addr], capture_output=True, text=True, env=env,
                       timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.strip()


def _srs_srv(make_server, pw_hashes, sink):
    return _srv(make_server, pw_hashes, sink,
                srs={"enable": True, "domain": SRS_DOMAIN},
                forwards=[{"address": "fw@example.test",
                           "to": ["ext@remote.example"]}])


def _mx_send(srv, sender, rcpts, body):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.sendmail(sender, rcpts, body)


def test_srs_forward_reversed_by_oracle(make_server, pw_hashes, sink_factory):
    sink = sink_factory()
    srv = _srs_srv(make_server, pw_hashes, sink)
    srv.wait_log("srs enabled")     # the listeners open before the queue
    secret = srv.state_dir / "srs.secret"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    assert len(secret.read_text().strip()) == 64
    tok = uuid.uuid4().hex
    _mx_send(srv, "orig@sender.example", ["fw@example.test"],
             "From: orig@sender.example\r\nSubject: %s\r\n\r\nhi\r\n" % tok)
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert rcpts == ["ext@remote.example"]
    assert tok.encode() in data
    assert mail.startswith("SRS0=") and mail.endswith("@" + SRS_DOMAIN), mail
    assert _oracle(secret, "reverse", mail) == "orig@sender.example"
    # Relayed submission keeps its own sender (only forwards are rewritten).
    _submit(srv, ["plain@remote.example"])
    assert sink.wait(2)[1][0] == "alice@example.test"


def test_srs_bounce_to_original_sender(make_server, pw_hashes, sink_factory):
    sink = sink_factory()
    srv = _srs_srv(make_server, pw_hashes, sink)
    srv.wait_log("srs enabled")
    secret = srv.state_dir / "srs.secret"
    _mx_send(srv, "orig@sender.example", ["fw@example.test"],
             "From: orig@sender.example\r\nSubject: f\r\n\r\nhi\r\n")
    srs_addr = sink.wait(1)[0][0]
    # A bounce from the next hop to our SRS address: back to the sender.
    _mx_send(srv, "", [srs_addr],
             "From: MAILER-DAEMON@remote.example\r\nSubject: bounce-1\r\n"
             "\r\nundeliverable\r\n")
    mail, rcpts, data, _ = sink.wait(2)[1]
    assert mail == "" and rcpts == ["orig@sender.example"]
    assert b"bounce-1" in data
    # An address postsrsd minted for a local sender: delivered locally.
    local = _oracle(secret, "forward", "alice@example.test")
    assert local.startswith("SRS0=")
    _mx_send(srv, "", [local],
             "From: MAILER-DAEMON@remote.example\r\nSubject: bounce-2\r\n"
             "\r\nundeliverable\r\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(m["Subject"] == "bounce-2"
               for m in _mailbox_msgs(srv, "alice@example.test")):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("bounce-2 not delivered:\n" + srv.log())
    # A forged SRS address (bad hash) is refused at RCPT.
    bad = srs_addr.replace("SRS0=", "SRS0=zz", 1)
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.ehlo()
        c.mail("")
        code, _ = c.rcpt(bad)
        assert code == 550
