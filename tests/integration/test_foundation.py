"""
Foundation: listeners for every service, TLS policy, STARTTLS injection
defence, reload and shutdown, limits, the CLI.
"""
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, SERVICES, free_port, readline

GREETINGS = {
    "smtp": b"220 ", "submission": b"220 ", "submissions": b"220 ",
    "imap": b"* OK", "imaps": b"* OK", "pop3": b"+OK", "pop3s": b"+OK",
}


def test_every_service_greets(server):
    for name, prefix in GREETINGS.items():
        s = server.connect(name)
        line = readline(s)
        assert line.startswith(prefix), (name, line)
        s.close()
    s = server.connect("managesieve")
    lines = []
    while len(lines) < 30 and not (lines and lines[-1].startswith(b"OK")):
        lines.append(readline(s))       # capability lines, then OK
    assert lines[-1].startswith(b"OK"), lines
    assert any(l.startswith(b'"IMPLEMENTATION"') for l in lines), lines
    s.close()
    s = server.connect("http")
    s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert readline(s).startswith(b"HTTP/1.1 404")
    s.close()


def test_ipv6_listener(make_server):
    port = free_port()
    srv = make_server(services=["smtp"], start=False)
    srv.conf["listen"]["smtp"] = ["127.0.0.1:%d" % srv.ports["smtp"],
                                  "[::1]:%d" % port]
    srv.start()
    s = socket.create_connection(("::1", port), 5)
    assert readline(s).startswith(b"220 mail.example.test")
    s.close()


@pytest.mark.parametrize("service", ["imaps", "submissions", "pop3s"])
def test_implicit_tls_13(server, service):
    s = server.connect(service)
    assert s.version() == "TLSv1.3"
    assert readline(s)
    s.close()


def test_starttls_smtp_tls13(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=5) as c:
        c.ehlo("client.example")
        assert c.has_extn("starttls")
        c.starttls(context=server.ssl_context())
        assert c.sock.version() == "TLSv1.3"
        code, _ = c.ehlo("client.example")
        assert code == 250
        assert not c.has_extn("starttls")


def test_openssl_s_client_starttls(server):
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         "127.0.0.1:%d" % server.ports["submission"], "-CAfile", server.ca,
         "-verify_return_error", "-brief"],
        input=b"QUIT\r\n", capture_output=True, timeout=20)
    out = r.stdout.decode() + r.stderr.decode()
    assert "Protocol version: TLSv1.3" in out, out
    assert "Verification: OK" in out, out


def _tls_client(max_version, ciphers=None, min_version=ssl.TLSVersion.TLSv1):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Let the client offer what OpenSSL's default security level forbids,
    # so that a refusal can only come from the server.
    ctx.set_ciphers(ciphers or "ALL:@SECLEVEL=0")
    ctx.minimum_version = min_version
    ctx.maximum_version = max_version
    return ctx


def _handshake(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port), 5)
    try:
        s = ctx.wrap_socket(raw)
        v, c = s.version(), s.cipher()[0]
        s.close()
        return v, c
    except (ssl.SSLError, ConnectionError):
        raw.close()
        return None


def test_old_tls_versions_refused(server):
    port = server.ports["imaps"]
    # Control: the same permissive client does get TLS 1.2.
    assert _handshake(port, _tls_client(ssl.TLSVersion.TLSv1_2))[0] == "TLSv1.2"
    assert _handshake(port, _tls_client(ssl.TLSVersion.TLSv1_1)) is None
    assert _handshake(port, _tls_client(ssl.TLSVersion.TLSv1)) is None


def test_non_aead_ciphers_refused(server):
    port = server.ports["imaps"]
    tls12 = dict(max_version=ssl.TLSVersion.TLSv1_2,
                 min_version=ssl.TLSVersion.TLSv1_2)
    ok = _handshake(port, _tls_client(ciphers="ECDHE-RSA-AES128-GCM-SHA256",
                                      **tls12))
    assert ok == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    for cbc in ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                "AES128-SHA", "AES256-GCM-SHA384"):
        assert _handshake(port, _tls_client(ciphers=cbc + ":@SECLEVEL=0",
                                            **tls12)) is None, cbc


def test_starttls_discards_pipelined_plaintext(server):
    """RFC 3207 4.2: commands sent before the handshake must be ignored."""
    s = server.connect("smtp")
    assert readline(s).startswith(b"220")
    s.sendall(b"EHLO x\r\n")
    while not readline(s).startswith(b"250 "):
        pass
    s.sendall(b"STARTTLS\r\nNOOP\r\nNOOP\r\n")
    assert readline(s).startswith(b"220 ")
    t = server.ssl_context().wrap_socket(s, server_hostname="localhost")
    t.sendall(b"EHLO y\r\n")
    first = readline(t)
    assert first.startswith(b"250-"), first   # EHLO's reply, not NOOP's
    t.close()
    assert "discarded pipelined plaintext" in server.log()


def test_self_signed_certificate_generated(make_server):
    srv = make_server(services=["imaps"], tls=False)
    cert = srv.state_dir / "tls" / "cert.pem"
    key = srv.state_dir / "tls" / "key.pem"
    assert cert.exists() and key.exists()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    ctx = ssl.create_default_context(cafile=str(cert))
    raw = socket.create_connection(("127.0.0.1", srv.ports["imaps"]), 5)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert s.version() == "TLSv1.3"
    assert readline(s).startswith(b"* OK")
    s.close()


def test_sighup_reload_keeps_live_connections(server):
    old = server.connect("smtp")
    assert readline(old).startswith(b"220 mail.example.test")
    conf = dict(server.conf, fqdn="reloaded.example.test")
    server.reload(conf)
    server.wait_log("reload ok generation=2")
    new = server.connect("smtp")
    assert readline(new).startswith(b"220 reloaded.example.test")
    new.close()
    old.sendall(b"NOOP\r\n")
    assert readline(old).startswith(b"250")
    old.close()


def test_sighup_broken_config_keeps_serving(server):
    good_fqdn = server.conf["fqdn"]
    server.conf_path.write_text(server.conf_path.read_text() +
                                "\nmessage_size_limit = \"lots\";\n"
                                "bogus_option = 1;\n")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_log("reload failed, keeping generation=1")
    log = server.log()
    assert "reload refused: %s:" % server.conf_path in log
    assert "bogus_option: unknown option" in log
    assert "message_size_limit:" in log
    s = server.connect("smtp")
    assert readline(s).startswith(b"220 " + good_fqdn.encode())
    s.close()


def test_sigterm_drains_and_exits_zero(server):
    s = server.connect("smtp")
    assert readline(s).startswith(b"220")
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert readline(s).startswith(b"421 4.3.2")
    rc = server.proc.wait(15)
    assert rc == 0
    assert time.monotonic() - t0 < server.conf["limits"]["shutdown_timeout"] + 3
    s.close()


def test_sigterm_bound_with_unresponsive_client(make_server):
    srv = make_server(services=["http"], conf={"limits": {"shutdown_timeout": 1}})
    # An HTTP client that never finishes its request keeps its connection.
    s = srv.connect("http")
    s.sendall(b"GET / HTTP/1.1\r\n")
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(10) == 0
    assert time.monotonic() - t0 < 4
    s.close()


def test_per_ip_connection_limit(make_server):
    srv = make_server(services=["smtp"],
                      conf={"limits": {"max_connections_per_ip": 3}})
    held = [srv.connect("smtp") for _ in range(3)]
    for s in held:
        assert readline(s).startswith(b"220")
    extra = srv.connect("smtp")
    assert readline(extra).startswith(b"421 4.7.0")
    extra.close()
    held.pop().close()
    time.sleep(0.2)
    again = srv.connect("smtp")
    assert readline(again).startswith(b"220")
    for s in held + [again]:
        s.close()


def test_idle_timeout(make_server):
    srv = make_server(services=["smtp"], conf={"limits": {"smtp_timeout": 1}})
    s = srv.connect("smtp")
    assert readline(s).startswith(b"220")
    t0 = time.monotonic()
    assert readline(s, timeout=5).startswith(b"421 4.4.2")
    assert 0.8 < time.monotonic() - t0 < 4
    assert s.recv(10) == b""
    s.close()


def test_port_in_use_is_a_clear_error(server, make_server):
    other = make_server(services=["smtp"], start=False)
    other.ports["smtp"] = server.ports["smtp"]
    other.conf["listen"]["smtp"] = ["127.0.0.1:%d" % server.ports["smtp"]]
    other.expected_rc = 1
    other.start(wait=False)
    assert other.proc.wait(10) == 1
    assert "cannot listen on 127.0.0.1:%d" % server.ports["smtp"] in other.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs root")
def test_privilege_drop(make_server, tmp_path):
    # pytest's temporary directories are 0700 all the way up: open the path
    # so that the unprivileged user can reach its state and mail dirs.
    p = tmp_path
    while str(p) not in ("/", "/tmp"):
        os.chmod(p, 0o755)
        p = p.parent
    srv = make_server(services=["smtp"], start=False,
                      run_as={"user": "nobody", "group": "nogroup"})
    os.chmod(srv.dir, 0o755)
    srv.start()
    # After the drop the daemon itself created and owns its state.
    st = os.stat(srv.state_dir / "index.lmdb")
    nobody = int(subprocess.check_output(["id", "-u", "nobody"]))
    assert st.st_uid == nobody
    status = open("/proc/%d/status" % srv.proc.pid).read()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    assert uid_line.split()[1:] == [str(nobody)] * 4
    s = srv.connect("smtp")
    assert readline(s).startswith(b"220")
    s.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs root")
def test_privilege_drop_srs_secret(make_server, tmp_path):
    """The SRS secret the first generation creates (as root, before the
    drop) belongs to the unprivileged user, so reloads can read it."""
    p = tmp_path
    while str(p) not in ("/", "/tmp"):
        os.chmod(p, 0o755)
        p = p.parent
    srv = make_server(services=["smtp"], start=False,
                      run_as={"user": "nobody", "group": "nogroup"},
                      conf={"srs": {"enable": True,
                                    "domain": "srs.example.test"}})
    os.chmod(srv.dir, 0o755)
    # The reload rereads the certificate as nobody: the test CA's files
    # must be readable (a deployment gives the service user its certs).
    ca = Path(srv.ca).parent
    os.chmod(ca, 0o755)
    for f in ca.iterdir():
        os.chmod(f, 0o644)
    srv.start()
    secret = srv.state_dir / "srs.secret"
    nobody = int(subprocess.check_output(["id", "-u", "nobody"]))
    assert secret.stat().st_uid == nobody
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    srv.reload()
    srv.wait_log("generation=2")
    log = srv.log()
    assert log.count("srs enabled") == 2, log
    assert "srs disabled" not in log


# -- CLI ---------------------------------------------------------------------

def run(*args, **kw):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=30, **kw)


def test_cli_version_and_help():
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("postern ")
    r = run("help")
    assert r.returncode == 0
    for cmd in ("serve", "check-config", "hash-password", "version"):
        assert cmd in r.stdout
    for cmd in ("serve", "check-config", "hash-password", "version"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "usage: postern " + cmd in r.stdout
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr
    assert run().returncode == 2


def test_cli_check_config(tmp_path, tls_ca):
    good = tmp_path / "good.conf"
    good.write_text('fqdn = "mail.example.test";\ndomains = [ "example.test" ];\n'
                    'state_dir = "%s";\n' % tmp_path)
    r = run("check-config", "-c", str(good))
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text('fqdn = "mail.example.test";\ndomains = [ "example.test" ];\n'
                   'listen = {\n  imaps = [ "127.0.0.1:99999" ];\n};\n'
                   'mesage_size_limit = 10;\n')
    r = run("check-config", "-c", str(bad))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert any(l.startswith("%s:4: listen.imaps" % bad) for l in lines), lines
    assert any(l.startswith("%s:6: mesage_size_limit: unknown option" % bad)
               and "did you mean 'message_size_limit'" in l for l in lines), lines
    syntax = tmp_path / "syntax.conf"
    syntax.write_text('fqdn = "x"\ndomains = [ "a.b" ;\n')
    r = run("check-config", "-c", str(syntax))
    assert r.returncode == 1 and r.stderr.startswith("%s:2: syntax: " % syntax)
    r = run("check-config", "-c", str(tmp_path / "missing.conf"))
    assert r.returncode == 1 and "missing.conf" in r.stderr


def test_cli_hash_password():
    import crypt  # deprecated in 3.11 but present: an independent verifier
    for scheme, prefix in (("yescrypt", "$y$"), ("sha512", "$6$"),
                           ("bcrypt", "$2")):
        r = run("hash-password", "--scheme", scheme, input="s3cret pass\n")
        assert r.returncode == 0, r.stderr
        h = r.stdout.strip()
        assert h.startswith(prefix)
        assert crypt.crypt("s3cret pass", h) == h
        assert crypt.crypt("wrong", h) != h
    r = run("hash-password", "--scheme", "md4", input="x\n")
    assert r.returncode != 0
    r = run("hash-password", "mypassword", input="")
    assert r.returncode == 2 and "never from the command line" in r.stderr


def test_debug_traces_redact_passwords(make_server):
    srv = make_server(services=["smtp", "imap", "pop3"], debug=True)
    s = srv.connect("smtp")
    readline(s)
    s.sendall(b"EHLO trace.example\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\nQUIT\r\n")
    while readline(s):
        pass
    s.close()
    s = srv.connect("imap")
    readline(s)
    s.sendall(b"a1 LOGIN alice hunter2pw\r\na2 LOGOUT\r\n")
    while readline(s):
        pass
    s.close()
    s = srv.connect("pop3")
    readline(s)
    s.sendall(b"USER alice\r\nPASS pop-s3cret\r\nQUIT\r\n")
    while readline(s):
        pass
    s.close()
    srv.wait_log("pop3 < QUIT")
    log = srv.log()
    assert "smtp < EHLO trace.example" in log        # traces are on
    assert "smtp > 250-mail.example.test" in log
    assert "smtp < AUTH <redacted>" in log
    assert "imap < a1 LOGIN <redacted>" in log
    assert "pop3 < PASS <redacted>" in log
    for secret in ("AGFsaWNlAHMzY3JldA", "hunter2pw", "pop-s3cret"):
        assert secret not in log


def test_no_traces_without_debug(server):
    s = server.connect("smtp")
    readline(s)
    s.sendall(b"EHLO quiet.example\r\nQUIT\r\n")
    while readline(s):
        pass
    s.close()
    server.wait_log("smtp disconnect")
    assert "quiet.example" not in server.log()
