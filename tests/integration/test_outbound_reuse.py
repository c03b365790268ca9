"""
Outbound connection reuse (protocols/smtp/smtpc.c, smtpc_cache.c): after
a completed transaction the session is parked for its next hop and the
next message for that next hop goes over it (a new MAIL FROM, RFC 5321
4.1.4); a parked session is closed with QUIT after 2 s idle and at
shutdown; a parked session the server has dropped (EOF or 421 before the
reply to MAIL) costs the message nothing: it goes over a new connection
in the same attempt, neither deferred nor bounced nor sent twice.

The receiver is test_outbound.Sink (asyncio on 127.0.0.1), which counts
its connections, logs each one's commands with their times, and can be
told to fail the n-th MAIL of a connection or to close after a message.
"""
import smtplib
import subprocess
import time
import uuid

import pytest

from conftest import BIN
from test_outbound import _mailbox_msgs, _srv, _submit, sink_factory  # noqa: F401
from test_outbound_mx import _submit as _submit_mx
from test_outbound_mx import dns, mx_env, sts_env  # noqa: F401


@pytest.fixture(autouse=True)
def _slow_idle(request, monkeypatch):
    """Parked sessions live 10 s here (POSTERN_SMTPC_TEST_IDLE_MS): the
    next submission, with its TLS and AUTH, must reach a parked session
    even on a loaded machine.  test_idle_connection_quit keeps the real
    2 s."""
    if request.node.name != "test_idle_connection_quit":
        monkeypatch.setenv("POSTERN_SMTPC_TEST_IDLE_MS", "10000")


def _subject(data):
    for line in data.split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line[9:].decode()
        if line == b"":
            break
    return None


def _cmds(session):
    return [c for _, c in session]


def _wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(what)


def _no_bounce(srv):
    return [m for m in _mailbox_msgs(srv, "alice@example.test")
            if m.get_content_type() == "multipart/report"] == []


def test_reuse_fewer_connections(make_server, pw_hashes, sink_factory):
    """20 messages to one relay host: fewer connections than messages,
    never more than the queue's 10 per destination at once, and every
    message arrives exactly once."""
    sink = sink_factory()
    srv = _srv(make_server, pw_hashes, sink)
    n = 20
    subjects = []
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        for i in range(n):
            s = "reuse-%02d-%s" % (i, uuid.uuid4().hex)
            subjects.append(s)
            c.sendmail("alice@example.test", ["r%d@remote.example" % i],
                       "From: alice@example.test\r\nSubject: %s\r\n\r\n"
                       "body %d\r\n" % (s, i))
    sink.wait(n, timeout=30)
    time.sleep(0.5)
    got = [_subject(m[2]) for m in sink.msgs]
    assert sorted(got) == sorted(subjects), got
    for m in sink.msgs:
        i = int(_subject(m[2]).split("-")[1])
        assert m[1] == ["r%d@remote.example" % i]
    nconn = len(sink.sessions)
    print("20 messages over %d connection(s), peak %d at once" %
          (nconn, sink.peak))
    assert nconn < n, nconn
    assert sink.peak <= 10
    # A reused session: one greeting and EHLO, then several MAILs with
    # no QUIT in between.
    mails = [_cmds(s).count("EHLO mail.example.test") for s in sink.sessions]
    assert mails == [1] * nconn
    assert max(sum(1 for c in _cmds(s) if c.startswith("MAIL FROM:"))
               for s in sink.sessions) >= 2
    srv.wait_log("reused messages=")
    assert "state=deferred" not in srv.log()


def test_reuse_backlog_within_limits(make_server, pw_hashes, sink_factory):
    """A backlog of 30 messages released at once (postern queue flush):
    at most 10 connections at once to the destination, as without reuse,
    fewer connections than messages, each message once."""
    held = {"on": True}
    sink = sink_factory(policy=lambda a, n: "451 4.3.0 not yet"
                        if held["on"] else "250 2.1.5 Ok")
    srv = _srv(make_server, pw_hashes, sink)
    n = 30
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        for i in range(n):
            c.sendmail("alice@example.test", ["b%d@remote.example" % i],
                       "From: alice@example.test\r\nSubject: b-%d\r\n\r\n"
                       "x\r\n" % i)
    _wait_for(lambda: srv.log().count("state=deferred") >= n, 20,
              "not all deferred:\n" + srv.log())
    time.sleep(0.3)
    held["on"] = False
    before = len(sink.sessions)
    sink.peak = sink.active
    q = [BIN, "queue", "-c", str(srv.conf_path), "flush"]
    assert subprocess.run(q, capture_output=True).returncode == 0
    sink.wait(n, timeout=30)
    time.sleep(0.5)
    assert sorted(_subject(m[2]) for m in sink.msgs) == \
        sorted("b-%d" % i for i in range(n))
    fresh = len(sink.sessions) - before
    print("backlog of %d over %d connection(s), peak %d at once" %
          (n, fresh, sink.peak))
    assert sink.peak <= 10, sink.peak
    assert fresh < n


@pytest.mark.parametrize("how", ["421", "DROP"])
def test_reused_connection_refused_at_mail(make_server, pw_hashes,
                                           sink_factory, how):
    """The server answers the second MAIL of a connection with 421 (or
    closes without a reply): the message goes over a new connection at
    once, within the same attempt: not deferred, not bounced, once."""
    reply = "421 4.4.2 sink.test closing idle connection" \
        if how == "421" else "DROP"
    sink = sink_factory(
        mail_policy=lambda sno, n: reply if sno == 0 and n == 1 else None)
    srv = _srv(make_server, pw_hashes, sink)
    s1 = _submit(srv, ["one@remote.example"])
    sink.wait(1)
    srv.wait_log("state=sent")
    s2 = _submit(srv, ["two@remote.example"])
    sink.wait(2)
    _wait_for(lambda: srv.log().count("state=sent") >= 2, 10,
              "second message not recorded as sent:\n" + srv.log())
    time.sleep(0.5)
    got = sorted(_subject(m[2]) for m in sink.msgs)
    assert got == sorted([s1, s2])
    assert [m[1] for m in sink.msgs] == [["one@remote.example"],
                                         ["two@remote.example"]]
    # The second MAIL went over the first connection, then a new one.
    assert sum(1 for c in _cmds(sink.sessions[0])
               if c.startswith("MAIL FROM:")) == 2
    assert len(sink.sessions) == 2
    log = srv.log()
    assert "state=deferred" not in log
    assert "state=failed" not in log
    assert _no_bounce(srv)
    assert "reused connection failed" in log


def test_server_closes_parked_connection(make_server, pw_hashes,
                                         sink_factory):
    """A server that closes after each message: the parked session's
    EOF is noticed and the next message opens a new connection."""
    sink = sink_factory(after_data=lambda sno, n: True)
    srv = _srv(make_server, pw_hashes, sink)
    s1 = _submit(srv, ["one@remote.example"])
    sink.wait(1)
    srv.wait_log("closed reason=eof")
    s2 = _submit(srv, ["two@remote.example"])
    sink.wait(2)
    _wait_for(lambda: srv.log().count("state=sent") >= 2, 10,
              "second message not recorded as sent:\n" + srv.log())
    assert sorted(_subject(m[2]) for m in sink.msgs) == sorted([s1, s2])
    assert len(sink.sessions) == 2
    assert "reused" not in srv.log()
    assert "state=deferred" not in srv.log()


def test_idle_connection_quit(make_server, pw_hashes, sink_factory):
    """A parked session idle for 2 s gets QUIT (and is closed); not at
    once after the message, not only at shutdown."""
    sink = sink_factory()
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["idle@remote.example"])
    sink.wait(1)
    _wait_for(lambda: "QUIT" in _cmds(sink.sessions[0]), 8,
              "no QUIT: %r" % (sink.sessions,))
    sess = sink.sessions[0]
    assert _cmds(sess)[-1] == "QUIT", _cmds(sess)
    t_data = [t for t, c in sess if c == "DATA"][-1]
    t_quit = [t for t, c in sess if c == "QUIT"][0]
    assert 1.5 <= t_quit - t_data <= 5, t_quit - t_data
    srv.wait_log("closed reason=idle messages=1 quit=yes")
    assert len(sink.sessions) == 1


def test_shutdown_quits_parked_connection(make_server, pw_hashes,
                                          sink_factory):
    """SIGTERM while a session is parked: it gets QUIT before the exit."""
    sink = sink_factory()
    srv = _srv(make_server, pw_hashes, sink)
    _submit(srv, ["bye@remote.example"])
    sink.wait(1)
    srv.wait_log("state=sent")
    assert srv.stop() == 0
    _wait_for(lambda: "QUIT" in _cmds(sink.sessions[0]), 5,
              "no QUIT: %r" % (sink.sessions,))
    sess = sink.sessions[0]
    assert _cmds(sess)[-1] == "QUIT", _cmds(sess)
    t_data = [t for t, c in sess if c == "DATA"][-1]
    t_quit = [t for t, c in sess if c == "QUIT"][0]
    assert t_quit - t_data < 1.5       # before the idle limit
    assert "closed reason=shutdown messages=1 quit=yes" in srv.log()


def test_reuse_mx_and_mta_sts(sts_env):
    """MX delivery reuses per domain too; under an MTA-STS enforce policy
    the verified TLS session serves the next message of the domain, and
    the policy is still looked up for each message; QUIT at shutdown
    goes inside TLS."""
    srv, sink, ps = sts_env
    _submit_mx(srv, "a@sts.test")
    sink.wait(1)
    srv.wait_log("state=sent")
    _submit_mx(srv, "b@sts.test")
    sink.wait(2)
    _wait_for(lambda: srv.log().count("state=sent") >= 2, 10,
              "second message not recorded as sent:\n" + srv.log())
    assert [m[1] for m in sink.msgs] == [["a@sts.test"], ["b@sts.test"]]
    assert all(m[3] is True for m in sink.msgs)      # over TLS
    assert len(sink.sessions) == 1
    log = srv.log()
    assert log.count("domain=sts.test mta-sts=enforce") == 2
    assert "host=mail.example.test reused messages=1 tls=yes" in log
    assert log.count("verified=mta-sts") == 1       # one handshake
    # Shutdown: QUIT inside TLS (then close_notify) on the parked session.
    assert srv.stop() == 0
    _wait_for(lambda: "QUIT" in _cmds(sink.sessions[0]), 5,
              "no QUIT over TLS")
