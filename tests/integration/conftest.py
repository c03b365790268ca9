"""
pytest harness shared by every integration test.

The `server` fixture starts the real daemon (POSTERN_BIN, default
build-asan/postern) on free loopback ports with a temporary state dir,
Maildir root and config, waits until every listener accepts, and stops it
with SIGTERM at the end, asserting a clean exit (ASan reports make the exit
status non-zero).  On failure the daemon's log is printed.

Every config this harness writes sets dns.resolvers to a closed loopback
port: the machine's resolv.conf points off-host and must never be used.
"""
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import pconf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("POSTERN_BIN", str(ROOT / "build-asan" / "postern"))

SERVICES = ["smtp", "submission", "submissions", "imap", "imaps", "pop3",
            "pop3s", "managesieve", "http"]

# LeakSanitizer needs ptrace-free /proc access; keep reports readable.
os.environ.setdefault("ASAN_OPTIONS",
                      "detect_leaks=1:abort_on_error=0:exitcode=86")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")


_ports_given = set()


def free_ports(n):
    """n distinct free loopback ports.  The sockets stay bound until all
    are chosen (so the kernel cannot hand out the same one twice), and a
    port is never given twice in one run."""
    held, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def free_port():
    return free_ports(1)[0]


@contextlib.contextmanager
def dnsmasq(tmp_path, records, local=()):
    """A dnsmasq on 127.0.0.1 serving records (dnsmasq options such as
    "--txt-record=name,text" or "--host-record=name,addr"), answering
    NXDOMAIN for the zones in local; yields its port.  Never the system
    resolver: every test zone lives here."""
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(exe):
        pytest.fail("dnsmasq missing (dist/deps.sh installs dnsmasq-base)")
    port = free_port()
    args = [exe, "--no-daemon", "--port=%d" % port,
            "--listen-address=127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
            "--pid-file=%s" % (tmp_path / ("dnsmasq-%d.pid" % port))]
    args += ["--local=/%s/" % z for z in local] + list(records)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while True:
            if proc.poll() is not None:
                pytest.fail("dnsmasq failed: %s" %
                            proc.stderr.read().decode())
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("dnsmasq not listening on %d" % port)
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def txt_records(recs):
    """--txt-record options for {name: text} (no shell: no quoting; the
    texts must hold no comma)."""
    return ["--txt-record=%s,%s" % (n, t) for n, t in recs.items()]


def closed_port():
    """A loopback UDP/TCP port nobody listens on (for dns.resolvers)."""
    return free_port()


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory):
    """A throw-away CA and a server certificate for localhost/127.0.0.1/::1."""
    d = tmp_path_factory.mktemp("ca")
    ext = d / "ext.cnf"
    ext.write_text(
        "subjectAltName=DNS:localhost,DNS:mail.example.test,"
        "IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n")

    def run(*a):
        subprocess.run(a, check=True, cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
        "-subj", "/CN=postern test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
        "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
        "-days", "30", "-extfile", "ext.cnf")
    return {"ca": str(d / "ca.pem"), "cert": str(d / "server.pem"),
            "key": str(d / "server.key")}


@pytest.fixture(scope="session")
def dkim_keys(tmp_path_factory):
    """One DKIM key directory for the whole run: keys are generated once
    (RSA generation under ASan is slow), then reused by every server."""
    d = tmp_path_factory.mktemp("dkim")
    os.chmod(d, 0o755)
    return str(d)


@pytest.fixture(scope="session")
def pw_hashes():
    """Password hashes made by `postern hash-password` (sha512: fast)."""
    cache = {}

    def get(password, scheme="sha512"):
        if (password, scheme) not in cache:
            r = subprocess.run([BIN, "hash-password", "--scheme", scheme],
                               input=password + "\n", capture_output=True,
                               text=True, check=True)
            cache[(password, scheme)] = r.stdout.strip()
        return cache[(password, scheme)]
    return get


class Server:
    def __init__(self, tmp, tls_ca, conf):
        self.dir = tmp
        self.ca = tls_ca["ca"] if tls_ca else None
        self.conf = conf
        self.ports = {}
        self.proc = None
        self.expected_rc = 0
        self.log_path = tmp / "postern.log"
        self.conf_path = tmp / "postern.conf"
        self.maildir = Path(conf["storage"]["path"])
        self.state_dir = Path(conf["state_dir"])

    # -- lifecycle ---------------------------------------------------------
    def write_conf(self, conf=None):
        self.conf_path.write_text(pconf.dump(conf or self.conf))

    def start(self, wait=True, args=None):
        self.write_conf()
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "-c", str(self.conf_path)] + (args or []),
            stdout=self.logf, stderr=self.logf, cwd=self.dir)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError("postern exited with %s:\n%s" %
                                   (self.proc.returncode, self.log()))
            for name, port in list(pending.items()):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    del pending[name]
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("postern not ready (%s):\n%s" %
                                   (list(pending), self.log()))
            time.sleep(0.02)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def reload(self, conf=None):
        if conf is not None:
            self.conf = conf
            self.write_conf()
        self.proc.send_signal(signal.SIGHUP)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.02)
        raise AssertionError("log never showed %r:\n%s" % (needle, self.log()))

    # -- clients -------------------------------------------------------------
    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx

    def connect(self, service, tls=None):
        sock = socket.create_connection(("127.0.0.1", self.ports[service]), 5)
        if tls or (tls is None and service in ("submissions", "imaps", "pop3s")):
            sock = self.ssl_context().wrap_socket(sock,
                                                  server_hostname="localhost")
        return sock

    def mailbox(self, address):
        local, domain = address.split("@")
        return self.maildir / domain / local / "mail"


def base_conf(tmp, tls_ca, ports, **over):
    conf = {
        "fqdn": "mail.example.test",
        "domains": ["example.test", "example.org"],
        "state_dir": str(tmp / "state"),
        "storage": {"path": str(tmp / "mail")},
        "listen": {name: ["127.0.0.1:%d" % ports[name]] for name in ports},
        "dns": {"resolvers": ["127.0.0.1:%d" % closed_port()]},
        "limits": {"shutdown_timeout": 5},
        "accounts": [],
    }
    conf["listen"]["control"] = str(tmp / "control.sock")
    for name in SERVICES:
        conf["listen"].setdefault(name, [])
    if tls_ca:
        conf["tls"] = {"certificate_file": tls_ca["cert"],
                       "private_key_file": tls_ca["key"]}
    conf.update(over)
    return conf


@pytest.fixture
def make_server(tmp_path, tls_ca, dkim_keys, request):
    """Factory: make_server(services=[...], tls=True, **conf_overrides)."""
    servers = []

    def make(services=SERVICES, tls=True, start=True, conf=None, **over):
        ports = dict(zip(services, free_ports(len(services))))
        tmp = tmp_path / ("srv%d" % len(servers))
        tmp.mkdir()
        c = base_conf(tmp, tls_ca if tls else None, ports, **over)
        c.setdefault("dkim", {}).setdefault("key_directory", dkim_keys)
        if conf:
            pconf.merge(c, conf)
        s = Server(tmp, tls_ca if tls else None, c)
        s.ports = ports
        servers.append(s)
        if start:
            s.start()
        return s
    yield make
    failed = getattr(request.node, "rep_call", None)
    for s in servers:
        rc = 0
        try:
            rc = s.stop()
        finally:
            s.kill()
        ok = rc in (s.expected_rc, None)
        if (failed is not None and failed.failed) or not ok:
            sys.stderr.write("\n---- postern log (%s) ----\n%s\n" %
                             (s.dir, s.log()))
        assert ok, "postern exited with status %s" % rc


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def readline(sock, timeout=5):
    """Read one CRLF line from a socket (bytes, without CRLF)."""
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\r\n"):
        ch = sock.recv(1)
        if not ch:
            break
        buf += ch
    return buf[:-2] if buf.endswith(b"\r\n") else buf


# -- getmail6 (test_interop_imap.py, test_interop_pop3.py) -------------------

@pytest.fixture
def gm_dir():
    """getmail's directory.  As root getmail delivers as `nobody`, which
    cannot enter pytest's private tmp_path: a world-searchable one."""
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="postern-getmail-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def getmail_setup(d, retriever, port, user, password, ca):
    """A Maildir and an rc for getmail in d (retriever: e.g.
    SimpleIMAPSSLRetriever); returns (command, maildir).  getmail runs
    through getmail_waitpid.py (a race-free child wait)."""
    gm = shutil.which("getmail")
    assert gm, "getmail is not installed: dist/deps.sh must install getmail6"
    md = d / "Maildir"
    for s in ("new", "cur", "tmp"):
        (md / s).mkdir(parents=True)
    asuser = ""
    if os.geteuid() == 0:           # getmail refuses Maildir delivery as root
        for p in [d, md] + list(md.iterdir()):
            shutil.chown(p, "nobody")
        asuser = "user = nobody"
    (d / "rc").write_text(
        "[retriever]\ntype = %s\nserver = 127.0.0.1\n"
        "port = %d\nusername = %s\npassword = %s\nca_certs = %s\n"
        "[destination]\ntype = Maildir\npath = %s/\n%s\n"
        "[options]\nread_all = false\ndelete = false\nverbose = 1\n"
        % (retriever, port, user, password, ca, md, asuser))
    cmd = ["/usr/bin/python3",
           str(Path(__file__).with_name("getmail_waitpid.py")), gm,
           "--getmaildir", str(d), "--rcfile", str(d / "rc")]
    return cmd, md
