"""
Operations: the one-line-per-message log, `postern reload` and
`postern status` over the control socket, and the MTA-STS policy from the
mta_sts option.

- An inbound message (port 25, STARTTLS) and a submitted one (465, AUTH,
  one local and one remote recipient) each leave one "smtp msg" line in
  the daemon's log with queue id, client, sender, recipients and where
  each went, size, TLS, auth user, spf/dkim/dmarc, spam and the result
  with the reply; a refused message logs "rejected" with its reply.
- `postern status` prints version, pid, uptime, generation, connections
  per service and the queue size; `postern reload` picks up a changed
  fqdn (the next SMTP greeting shows it) and refuses a broken config.
- The control socket is mode 0660.
- /.well-known/mta-sts.txt follows mta_sts (mode, mx, max_age), and a
  reload.
"""
import http.client
import os
import re
import smtplib
import socket
import stat
import subprocess
import time

import pytest

from conftest import BIN, closed_port, readline


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "submissions", "http"],
        conf={
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret")},
                {"name": "bob@example.test",
                 "hashed_password": pw_hashes("hunter2")},
            ],
            # Remote mail waits in the queue: nobody listens there.
            "relay": {"host": "127.0.0.1", "port": closed_port()},
        })


def msg_lines(srv, qid=None):
    return [l for l in srv.log().splitlines()
            if " smtp msg " in l and (qid is None or "id=%s " % qid in l)]


def wait_msg_line(srv, needle, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for l in msg_lines(srv):
            if needle in l:
                return l
        time.sleep(0.05)
    raise AssertionError("no smtp msg line with %r:\n%s" % (needle, srv.log()))


def fields(line):
    """key=value pairs of a log line; reply="..." keeps its spaces."""
    out = {}
    for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', line):
        out[m.group(1)] = m.group(2).strip('"')
    return out


def run(srv, *args):
    return subprocess.run([BIN] + list(args) + ["-c", str(srv.conf_path)],
                          capture_output=True, text=True, timeout=60)


# ---- the message log line ----------------------------------------------------

def test_log_line_inbound(srv):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=30) as c:
        c.ehlo("client.example.net")
        c.starttls(context=srv.ssl_context())
        c.ehlo("client.example.net")
        r = c.sendmail("sender@example.net", ["bob@example.test"],
                       b"From: sender@example.net\r\nSubject: in\r\n\r\n"
                       b"hello\r\n")
        assert r == {}
        code, text = c.noop()
    line = wait_msg_line(srv, "from=<sender@example.net>")
    f = fields(line)
    assert re.match(r"^[0-9a-f]{16}$", line.split(" smtp msg ")[0]
                    .split()[-1]), line
    assert f["id"] and f["to"] == "<bob@example.test>"
    assert int(f["size"]) > 40
    assert f["client"] == "[127.0.0.1]"
    assert f["helo"] == "client.example.net"
    assert f["tls"].startswith("TLSv1."), line
    assert "/" in f["tls"]
    assert f["auth"] == "-"
    # The resolver is a closed port: SPF/DMARC cannot pass, but they ran.
    for k in ("spf", "dkim", "dmarc"):
        assert f[k] not in ("", "-"), (k, line)
    assert f["dkim"] == "none"
    assert re.match(r"^-?[0-9.]+/\w+$", f["spam"]), line
    assert f["delivered"] == "bob@example.test:INBOX"
    assert f["queued"] == "-"
    assert f["result"] == "delivered"
    assert f["reply"] == "250 2.0.0 Ok: queued as %s" % f["id"]
    assert len(msg_lines(srv, f["id"])) == 1


def test_log_line_submission(srv):
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"], timeout=30,
                          context=srv.ssl_context()) as c:
        c.login("alice@example.test", "secret")
        c.sendmail("alice@example.test",
                   ["bob@example.test", "carol@remote.example"],
                   b"From: alice@example.test\r\nSubject: out\r\n\r\nbody\r\n")
    line = wait_msg_line(srv, "from=<alice@example.test>")
    f = fields(line)
    assert f["to"] == "<bob@example.test>,<carol@remote.example>"
    assert f["auth"] == "alice@example.test"
    assert f["tls"].startswith("TLSv1.")
    assert f["spf"] == "-" and f["dmarc"] == "-"
    assert f["dkim"] in ("signed", "-")
    assert f["spam"] == "-"
    assert f["delivered"] == "bob@example.test:INBOX"
    assert f["queued"] == "<carol@remote.example>"
    assert f["result"] == "delivered"
    assert f["reply"].startswith("250 2.0.0 Ok: queued as ")


def test_log_line_rejected(srv):
    """A message over the size limit is logged as rejected with its reply."""
    s = socket.create_connection(("127.0.0.1", srv.ports["smtp"]), 10)
    assert readline(s).startswith(b"220")
    for cmd in (b"EHLO client.example.net", b"MAIL FROM:<big@example.net>",
                b"RCPT TO:<bob@example.test>", b"DATA"):
        s.sendall(cmd + b"\r\n")
        while True:
            l = readline(s)
            if l[3:4] != b"-":
                break
    assert l.startswith(b"354")
    chunk = b"x" * 998 + b"\r\n"
    s.sendall(b"Subject: big\r\n\r\n" + chunk * 21000 + b".\r\n")
    reply = readline(s, 30)
    assert reply.startswith(b"552"), reply
    s.close()
    line = wait_msg_line(srv, "from=<big@example.net>")
    f = fields(line)
    assert f["result"] == "rejected"
    assert f["reply"].startswith("552 "), line
    assert f["delivered"] == "-" and f["queued"] == "-"


# ---- postern status and reload ---------------------------------------------------

def status(srv):
    r = run(srv, "status")
    assert r.returncode == 0, r.stderr
    out = {}
    for l in r.stdout.splitlines():
        k, _, v = l.partition(": ")
        out[k] = v
    return out


def test_control_socket_mode(srv):
    st = os.stat(srv.conf["listen"]["control"])
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_status(srv):
    ver = subprocess.run([BIN, "version"], capture_output=True, text=True,
                         check=True).stdout.split()[-1]
    # One idle SMTP client and one queued message.
    held = socket.create_connection(("127.0.0.1", srv.ports["smtp"]), 10)
    assert readline(held).startswith(b"220")
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"], timeout=30,
                          context=srv.ssl_context()) as c:
        c.login("alice@example.test", "secret")
        c.sendmail("alice@example.test", ["dave@remote.example"],
                   b"From: alice@example.test\r\nSubject: q\r\n\r\nq\r\n")
    wait_msg_line(srv, "to=<dave@remote.example>")
    time.sleep(1.1)
    # The daemon's own STATUS line carries uptime and per-service counts.
    with socket.socket(socket.AF_UNIX) as u:
        u.settimeout(10)
        u.connect(str(srv.dir / "control.sock"))
        u.sendall(b"STATUS\n")
        raw = u.makefile("rb").readline().decode()
    assert re.search(r" uptime=\d+", raw), raw
    assert re.search(r" smtp=1( |$)", raw.strip()), raw
    assert " submissions=0" in raw and " imaps=" not in raw, raw
    s = status(srv)
    held.close()
    assert s["version"] == ver
    assert int(s["pid"]) == srv.proc.pid
    assert re.match(r"^\d\d:\d\d:\d\d \((\d+) s\)$", s["uptime"]), s
    assert int(re.search(r"\((\d+) s\)", s["uptime"]).group(1)) >= 1
    assert s["generation"] == "1"
    assert int(s["connections"]) >= 1
    assert s["connections smtp"] == "1"
    assert s["connections submissions"] == "0"
    assert "connections http" in s
    assert "connections imaps" not in s       # not listening
    assert s["queue"] == "1 messages"


def test_reload_changes_banner(srv):
    def banner():
        s = socket.create_connection(("127.0.0.1", srv.ports["smtp"]), 10)
        try:
            return readline(s)
        finally:
            s.close()
    assert banner() == b"220 mail.example.test ESMTP postern"
    srv.conf["fqdn"] = "mx2.example.test"
    srv.write_conf()
    r = run(srv, "reload")
    assert r.returncode == 0, r.stderr
    assert "reloaded" in r.stdout and "generation=2" in r.stdout
    assert banner() == b"220 mx2.example.test ESMTP postern"
    assert status(srv)["generation"] == "2"

    # A broken config: its errors, with file and line; nothing changes.
    good = srv.conf_path.read_text()
    srv.conf_path.write_text(good + "\nfrobnicate = 1;\n")
    r = run(srv, "reload")
    assert r.returncode == 1
    assert re.search(r"postern\.conf:\d+: frobnicate: unknown option",
                     r.stderr), r.stderr
    srv.conf_path.write_text(good)
    assert banner() == b"220 mx2.example.test ESMTP postern"
    assert status(srv)["generation"] == "2"


def test_status_without_daemon(tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text('fqdn = "mail.example.test";\ndomains = [ "example.test" ];\n'
                    'listen = { control = "%s"; };\n' % (tmp_path / "none.sock"))
    for cmd in ("status", "reload"):
        r = subprocess.run([BIN, cmd, "-c", str(conf)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 1
        assert "no daemon answers" in r.stderr
    r = subprocess.run([BIN, "status", "extra"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2


# ---- MTA-STS ---------------------------------------------------------------------

def sts(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.ports["http"], timeout=10)
    c.request("GET", "/.well-known/mta-sts.txt")
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    assert r.status == 200
    assert body.endswith("\r\n")
    return body.splitlines()


def test_mta_sts_default(srv):
    assert sts(srv) == ["version: STSv1", "mode: testing",
                        "mx: mail.example.test", "max_age: 86400"]


def test_mta_sts_from_config(make_server):
    srv = make_server(services=["smtp", "http"], conf={
        "mta_sts": {"mode": "enforce", "max_age": 604800,
                    "mx": ["mx1.example.test", "*.backup.example.test"]}})
    assert sts(srv) == ["version: STSv1", "mode: enforce",
                        "mx: mx1.example.test", "mx: *.backup.example.test",
                        "max_age: 604800"]
    srv.conf["mta_sts"] = {"mode": "none", "max_age": 0}
    srv.write_conf()
    assert run(srv, "reload").returncode == 0
    assert sts(srv) == ["version: STSv1", "mode: none",
                        "mx: mail.example.test", "max_age: 0"]


def test_mta_sts_bad_config(make_server):
    srv = make_server(services=["smtp"], start=False, conf={
        "mta_sts": {"mode": "strict", "mx": []}})
    srv.write_conf()
    r = subprocess.run([BIN, "check-config", "-c", str(srv.conf_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert re.search(r"postern\.conf:\d+: mta_sts\.mode: expected one of "
                     r'"testing", "enforce" or "none"', r.stderr), r.stderr
    assert re.search(r"postern\.conf:\d+: mta_sts\.mx: must not be empty",
                     r.stderr), r.stderr
