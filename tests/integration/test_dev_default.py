"""
The embedded development default (`postern serve --dev`, what `make run`
starts): fixed high ports on 127.0.0.1, a self-signed certificate, TLS 1.3
on the implicit-TLS port and through STARTTLS on submission.
"""
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN

DEV_PORTS = {"smtp": 2525, "submission": 2587, "submissions": 2465,
             "imap": 2143, "imaps": 2993, "pop3": 2110, "pop3s": 2995,
             "managesieve": 2190, "http": 2080}


def _busy(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def dev_server(tmp_path):
    if any(_busy(p) for p in DEV_PORTS.values()):
        pytest.skip("a development-default port is in use on this machine")
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen([BIN, "serve", "--dev"], cwd=tmp_path,
                            stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while not all(_busy(p) for p in DEV_PORTS.values()):
        assert proc.poll() is None, (tmp_path / "dev.log").read_text()
        assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
        time.sleep(0.05)
    yield proc, tmp_path
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, (tmp_path / "dev.log").read_text()


def s_client(*args):
    return subprocess.run(["openssl", "s_client", "-brief"] + list(args),
                          input=b"", capture_output=True, timeout=20)


def test_dev_default_tls13(dev_server):
    proc, cwd = dev_server
    cert = cwd / "postern-dev" / "state" / "tls" / "cert.pem"
    assert cert.exists()
    log = (cwd / "dev.log").read_text()
    assert "EMBEDDED DEVELOPMENT DEFAULT" in log
    r = s_client("-connect", "127.0.0.1:2993", "-CAfile", str(cert),
                 "-verify_return_error")
    out = (r.stdout + r.stderr).decode()
    assert "Protocol version: TLSv1.3" in out and "Verification: OK" in out, out
    r = s_client("-starttls", "smtp", "-connect", "127.0.0.1:2587",
                 "-CAfile", str(cert), "-verify_return_error")
    out = (r.stdout + r.stderr).decode()
    assert "Protocol version: TLSv1.3" in out and "Verification: OK" in out, out
    for name, port in DEV_PORTS.items():
        assert _busy(port), name
