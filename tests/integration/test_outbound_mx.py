"""
Outbound delivery through DNS (protocols/smtp/smtpc*.c, storage/queue):
MX lookup and preference order (RFC 5321 5.1), the implicit MX (A
fallback), null MX (RFC 7505: 556 5.1.10), NXDOMAIN, and a kill -9 in the
middle of a run of 2,000 messages; MTA-STS (RFC 8461) enforce policies.

DNS comes from a dnsmasq the test starts on 127.0.0.1 (never the system
resolver): --mx-host, --host-record, and --local=/test/ so that unknown
names under .test are NXDOMAIN instead of being forwarded.  Every MX
target is delivered to on the port POSTERN_SMTPC_TEST_PORT names (the
sink's), so the receivers all live on loopback.  A "failing" MX is one
whose only address is ::1, where nothing listens on that port.

MTA-STS: an HTTPS policy server on 127.0.0.1 with a certificate for the
mta-sts.<domain> names from the session's test CA; the daemon reaches it
through POSTERN_MTASTS_TEST_PORT (instead of 443) and trusts that CA
through POSTERN_TLS_TEST_CA (added to the system store).
"""
import http.server
import os
import shutil
import ssl
import threading
import smtplib
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import BIN, free_port
from test_outbound import Sink, _dsn_fields, _wait_bounce

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

ZONE = [
    # pref.test: MX 20 listed first; MX 10 (tried first) has no listener.
    "--mx-host=pref.test,mx2.pref.test,20",
    "--mx-host=pref.test,mx1.pref.test,10",
    "--host-record=mx1.pref.test,::1",
    "--host-record=mx2.pref.test,127.0.0.1",
    # amx.test: no MX at all, only an A record (RFC 5321 5.1 implicit MX).
    "--host-record=amx.test,127.0.0.1",
    # nullmx.test: "MX 0 ." (RFC 7505).
    "--mx-host=nullmx.test,.,0",
    # MTA-STS: sts.test (valid), stsmx.test (MX not in the policy),
    # stscert.test (MX in the policy, certificate without its name).
    "--mx-host=sts.test,mail.example.test,10",
    "--host-record=mail.example.test,127.0.0.1",
    "--txt-record=_mta-sts.sts.test,v=STSv1; id=20261121",
    "--host-record=mta-sts.sts.test,127.0.0.1",
    "--mx-host=stsmx.test,mx.stsmx.test,10",
    "--host-record=mx.stsmx.test,127.0.0.1",
    "--txt-record=_mta-sts.stsmx.test,v=STSv1; id=1",
    "--host-record=mta-sts.stsmx.test,127.0.0.1",
    "--mx-host=stscert.test,mx.stscert.test,10",
    "--host-record=mx.stscert.test,127.0.0.1",
    "--txt-record=_mta-sts.stscert.test,v=STSv1; id=1",
    "--host-record=mta-sts.stscert.test,127.0.0.1",
    # bulk.test: the kill -9 run.
    "--mx-host=bulk.test,mx.bulk.test,10",
    "--host-record=mx.bulk.test,127.0.0.1",
]


class Dns:
    def __init__(self, tmp, records):
        if not os.path.exists(DNSMASQ):
            pytest.skip("dnsmasq (dnsmasq-base) not installed")
        self.port = free_port()
        self.log = tmp / "dnsmasq.log"
        args = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--no-poll", "-C", "/dev/null", "--pid-file=",
                "--port=%d" % self.port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--local=/test/", "--log-queries",
                "--log-facility=%s" % self.log]
        if os.getuid() == 0:
            args.append("--user=root")
        self.proc = subprocess.Popen(args + records,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError("dnsmasq failed: %s" %
                               self.proc.stderr.read().decode())

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture
def dns(tmp_path):
    d = Dns(tmp_path, ZONE)
    yield d
    d.close()


@pytest.fixture
def mx_env(dns, monkeypatch, make_server, pw_hashes):
    """make(sink, **conf) -> a server that resolves through dnsmasq and
    delivers every MX target to the sink's port."""
    sinks = []

    def make(policy=None, sink_tls=None, **over):
        sink = Sink(policy=policy, tls_ca=sink_tls)
        sinks.append(sink)
        monkeypatch.setenv("POSTERN_SMTPC_TEST_PORT", str(sink.port))
        conf = {"accounts": [{"name": "alice@example.test",
                              "hashed_password": pw_hashes("secret")}],
                "dns": {"resolvers": ["127.0.0.1:%d" % dns.port]}}
        conf.update(over)
        srv = make_server(services=["smtp", "submission"], conf=conf)
        return srv, sink
    yield make
    for s in sinks:
        s.close()


def _submit(srv, rcpt, n=1, conn=None):
    subject = "t-" + uuid.uuid4().hex
    msg = ("From: alice@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\n"
           "hello\r\n" % (rcpt, subject))
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        c.sendmail("alice@example.test", [rcpt], msg)
    return subject


def test_mx_preference_failover(mx_env):
    """RFC 5321 5.1: lowest preference first; on failure the next MX."""
    srv, sink = mx_env()
    subject = _submit(srv, "bob@pref.test")
    mail, rcpts, data, tls = sink.wait(1)[0]
    assert rcpts == ["bob@pref.test"]
    assert subject.encode() in data
    log = srv.log()
    first = log.index("host=mx1.pref.test")
    second = log.index("host=mx2.pref.test ip=127.0.0.1")
    assert first < second, log
    srv.wait_log("mx=mx2.pref.test[127.0.0.1] code=250 state=sent")


def test_implicit_mx_a_fallback(mx_env):
    """RFC 5321 5.1: no MX records: the domain's own address."""
    srv, sink = mx_env()
    _submit(srv, "carol@amx.test")
    assert sink.wait(1)[0][1] == ["carol@amx.test"]
    srv.wait_log("mx=amx.test[127.0.0.1] code=250 state=sent")


def test_null_mx_bounces(mx_env):
    """RFC 7505 3 and 4.2: null MX: no attempt, bounce with 5.1.10."""
    srv, sink = mx_env()
    _submit(srv, "dave@nullmx.test")
    f = _dsn_fields(_wait_bounce(srv, "alice@example.test"))
    assert f[0]["final-recipient"] == "rfc822; dave@nullmx.test"
    assert f[0]["status"] == "5.1.10"
    assert f[0]["action"] == "failed"
    srv.wait_log("code=556 state=failed")
    assert sink.tries == {}


def test_nxdomain_bounces(mx_env):
    srv, sink = mx_env()
    _submit(srv, "erin@nx.test")
    f = _dsn_fields(_wait_bounce(srv, "alice@example.test"))
    assert f[0]["final-recipient"] == "rfc822; erin@nx.test"
    assert f[0]["status"] == "5.1.2"
    assert sink.tries == {}


N_BULK = 2000


def _bulk_submit(srv, n):
    """n small messages in a few long sessions; returns their subjects."""
    subjects = []
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=60) as c:
        c.starttls(context=srv.ssl_context())
        c.login("alice@example.test", "secret")
        for i in range(n):
            s = "bulk-%05d" % i
            c.sendmail("alice@example.test", ["r%d@bulk.test" % (i % 50)],
                       "From: alice@example.test\r\nSubject: %s\r\n\r\n"
                       "x\r\n" % s)
            subjects.append(s)
    return subjects


def _subject(data):
    for line in data.split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line[9:].decode()
        if line == b"":
            break
    return None


def test_kill9_during_queue_run(mx_env):
    """kill -9 while 2,000 messages are being delivered: after a restart
    every message reaches the sink.  A duplicate is possible only for a
    message whose 250 arrived and whose "sent" record had not committed
    yet (at most the attempts in flight); they are counted and printed."""
    held = {"on": True}

    def policy(addr, n):
        return "451 4.3.0 not yet" if held["on"] else "250 2.1.5 Ok"
    srv, sink = mx_env(policy=policy)
    subjects = _bulk_submit(srv, N_BULK)
    held["on"] = False
    subprocess.run([BIN, "queue", "-c", str(srv.conf_path), "flush"],
                   check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while len(sink.msgs) < N_BULK // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.msgs) < N_BULK, "run finished before the kill"
    before = len(sink.msgs)
    srv.kill()
    srv.start()
    deadline = time.monotonic() + 240
    got = {}
    while time.monotonic() < deadline:
        got = {}
        for m in list(sink.msgs):
            s = _subject(m[2])
            got[s] = got.get(s, 0) + 1
        if len(got) >= N_BULK:
            break
        time.sleep(0.2)
    missing = sorted(set(subjects) - set(got))
    dups = sum(v - 1 for v in got.values())
    print("kill9 run: delivered before kill=%d, total received=%d, "
          "distinct=%d, duplicates=%d, missing=%d" %
          (before, len(sink.msgs), len(got), dups, len(missing)))
    assert missing == [], "lost %d messages, e.g. %s" % (len(missing),
                                                         missing[:5])
    # Only attempts in flight at the kill can repeat (queue.c limits).
    assert dups <= 20, dups
    srv.wait_log("queue loaded messages=")


# ---- MTA-STS (RFC 8461) ----------------------------------------------------

POLICIES = {
    "sts.test": "version: STSv1\r\nmode: enforce\r\n"
                "mx: mail.example.test\r\nmax_age: 86400\r\n",
    "stsmx.test": "version: STSv1\nmode: enforce\nmx: *.example.test\n"
                  "max_age: 86400\n",
    "stscert.test": "version: STSv1\r\nmode: enforce\r\n"
                    "mx: mx.stscert.test\r\nmax_age: 86400\r\n",
}


class PolicyServer:
    """HTTPS on 127.0.0.1 serving /.well-known/mta-sts.txt by Host."""

    def __init__(self, tmp, tls_ca):
        d = tmp / "sts"
        d.mkdir()
        names = ["mta-sts." + dom for dom in POLICIES]
        (d / "ext.cnf").write_text(
            "subjectAltName=" + ",".join("DNS:" + n for n in names) +
            "\nextendedKeyUsage=serverAuth\n")
        cadir = Path(tls_ca["ca"]).parent

        def run(*a):
            subprocess.run(a, check=True, cwd=d, capture_output=True)
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
            "key.pem", "-out", "csr.pem", "-subj", "/CN=mta-sts")
        run("openssl", "x509", "-req", "-in", "csr.pem", "-CA",
            str(cadir / "ca.pem"), "-CAkey", str(cadir / "ca.key"),
            "-CAserial", str(d / "ca.srl"), "-CAcreateserial",
            "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf")
        self.hits = []
        hits = self.hits

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = self.headers.get("Host", "")
                hits.append((host, self.path))
                body = POLICIES.get(host[len("mta-sts."):])
                if self.path != "/.well-known/mta-sts.txt" or body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *a):
                pass
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(d / "cert.pem"), str(d / "key.pem"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sts_env(tmp_path, tls_ca, monkeypatch, mx_env):
    ps = PolicyServer(tmp_path, tls_ca)
    monkeypatch.setenv("POSTERN_MTASTS_TEST_PORT", str(ps.port))
    monkeypatch.setenv("POSTERN_TLS_TEST_CA", tls_ca["ca"])
    srv, sink = mx_env(sink_tls=tls_ca)
    yield srv, sink, ps
    ps.close()


def test_mta_sts_enforce_verified(sts_env):
    srv, sink, ps = sts_env
    _submit(srv, "x@sts.test")
    mail, rcpts, data, tls = sink.wait(1)[0]
    assert rcpts == ["x@sts.test"] and tls is True
    assert ("mta-sts.sts.test", "/.well-known/mta-sts.txt") in ps.hits
    srv.wait_log("mta-sts domain=sts.test id=20261121 mode=enforce")
    srv.wait_log("verified=mta-sts")
    # A second message: the cached policy (same id), no new fetch.
    _submit(srv, "x2@sts.test")
    sink.wait(2)
    assert sum(1 for h in ps.hits if h[0] == "mta-sts.sts.test") == 1


def test_mta_sts_mx_not_in_policy(sts_env):
    """RFC 8461 4.1: "*.example.test" does not cover mx.stsmx.test."""
    srv, sink, ps = sts_env
    _submit(srv, "y@stsmx.test")
    srv.wait_log("skipped reason=mta-sts-mx")
    srv.wait_log("state=deferred reply=\"4.7.5 no MX host")
    assert sink.msgs == [] and sink.tries == {}


def test_mta_sts_unverified_tls_refused(sts_env):
    """RFC 8461 4.2: the MX certificate must be valid for the MX name;
    the sink's names are localhost/mail.example.test only."""
    srv, sink, ps = sts_env
    _submit(srv, "z@stscert.test")
    srv.wait_log("4.7.5 TLS handshake with mx.stscert.test failed")
    srv.wait_log("state=deferred")
    assert sink.msgs == [] and sink.tries == {}
