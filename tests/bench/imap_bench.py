#!/usr/bin/python3
"""
IMAP throughput and latency, side by side: postern vs Dovecot (peers stack).

In one run both servers get the same seeded data (peers/seed.py: every
user1..100@example.org holds exactly 50 messages of ~4.8 KB, sent over
SMTP: postern's MX port, Postfix -> LMTP -> Dovecot for the peers), then
peers/mailbench.py drives the realistic mix against each over IMAPS
(postern refuses LOGIN without TLS, so both use implicit TLS):
connect, LOGIN, SELECT INBOX, FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE),
3 x FETCH BODY.PEEK[], STORE +/-FLAGS, SEARCH UNSEEN, LOGOUT, repeated,
at 10 and 50 concurrent clients.  Printed: ops/s, p50/p99 over all ops,
server CPU ms per op, peak RSS/PSS, and postern/Dovecot ratios.

usage: imap_bench.py [--bin build-bench/postern] [--conc 10,50]
         [--duration 15] [--runs 1] [--peers-root /tmp/peers] [--no-peers]
         [--mode session|steady] [--keep]
Needs root for the peers stack (peers/setup.sh, run if missing).
The helpers here (PosternMail, PeersMail, mailbench) are shared by
pop3_bench.py and idle_bench.py.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import smtp_bench                        # noqa: E402
from smtp_bench import PEERS, free_port, log, bench_regexp   # noqa: E402
import procstat                          # noqa: E402

PASS = os.environ.get("PEERS_PASS", "peers-pass")


class PosternMail:
    """postern with 200 accounts (user1..100@example.com/.org, password
    peers-pass), MX + IMAP(S) + POP3(S) on free loopback ports, the peers'
    TLS certificate, connection limits raised for the idle test."""
    name = "postern"

    def __init__(self, binary, keep=False, max_conns=30000):
        self.bin = binary
        self.keep = keep
        self.max_conns = max_conns
        self.tmp = Path(tempfile.mkdtemp(prefix="postern-mbench-"))
        self.ports = {k: free_port() for k in
                      ("smtp", "imap", "imaps", "pop3", "pop3s")}
        self.maildir = self.tmp / "mail"
        self.proc = None

    def conf(self, pwhash, cert, key):
        def q(s):
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        accts = ['  { name = %s; hashed_password = %s; aliases_regexp = '
                 '[ %s ]; }' % (q("user%d@%s" % (i, d)), q(pwhash),
                                q(bench_regexp(i, d)))
                 for d in ("example.com", "example.org")
                 for i in range(1, 101)]
        empty = ["submission", "submissions", "managesieve", "http"]
        listen = " ".join('%s = [ "127.0.0.1:%d" ];' % kv
                          for kv in self.ports.items())
        return "\n".join([
            'fqdn = "mail.example.com";',
            'domains = [ "example.com", "example.org" ];',
            'state_dir = %s;' % q(str(self.tmp / "state")),
            'storage = { path = %s; };' % q(str(self.maildir)),
            'listen = { %s %s control = %s; };' % (
                listen, " ".join("%s = [ ];" % e for e in empty),
                q(str(self.tmp / "control.sock"))),
            'tls = { certificate_file = %s; private_key_file = %s; };'
            % (q(cert), q(key)),
            'dns = { resolvers = [ "127.0.0.1:%d" ]; };' % free_port(),
            'limits = { shutdown_timeout = 5; max_connections = %d; '
            'max_connections_per_ip = %d; };' % (self.max_conns,
                                                  self.max_conns),
            'max_connections_per_user = %d;' % self.max_conns,
            # the benchmark mail must not be scored, greylisted or learnt
            'spam = { enable = false; };',
            'accounts = (\n%s\n);' % ",\n".join(accts),
        ]) + "\n"

    def start(self, cert, key):
        h = subprocess.run([self.bin, "hash-password", "--scheme", "sha512"],
                           input=PASS + "\n", capture_output=True, text=True,
                           check=True).stdout.strip()
        conf = self.tmp / "postern.conf"
        conf.write_text(self.conf(h, cert, key))
        self.maildir.mkdir(exist_ok=True)
        self.logf = open(self.tmp / "postern.log", "ab")

        def lift():
            import resource
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.proc = subprocess.Popen([self.bin, "serve", "-c", str(conf)],
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=lift)
        deadline = time.monotonic() + 30
        for port in self.ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or \
                            time.monotonic() > deadline:
                        raise RuntimeError("postern did not start:\n" + (
                            self.tmp / "postern.log").read_text()[-3000:])
                    time.sleep(0.05)

    def pids(self):
        return [str(self.proc.pid)]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if rc != 0:
                log("postern exited %s, log in %s" % (rc, self.tmp))
                self.keep = True
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


class PeersMail(smtp_bench.Peers):
    name = "dovecot"

    def __init__(self, root):
        super().__init__(root)
        self.ports = {"smtp": 12525, "imap": 11143, "imaps": 11993,
                      "pop3": 11110, "pop3s": 11995}


def tls_files(peers_root):
    t = Path(peers_root) / "tls"
    return str(t / "cert.pem"), str(t / "key.pem")


def seed(srv, per_user=50):
    r = subprocess.run([sys.executable, str(PEERS / "seed.py"), "127.0.0.1",
                        str(srv.ports["smtp"]), str(srv.maildir),
                        "--per-user", str(per_user)],
                       capture_output=True, text=True, timeout=900)
    log("%s: %s" % (srv.name, (r.stdout + r.stderr).strip()))
    if r.returncode != 0:
        raise RuntimeError("seeding %s failed" % srv.name)


def avg_msg_size(maildir, domain="example.org"):
    n = total = 0
    for d, subdirs, files in os.walk(Path(maildir) / domain):
        if os.path.basename(d) in ("new", "cur"):
            for f in files:
                total += os.path.getsize(os.path.join(d, f))
                n += 1
    return total / max(n, 1)


def mailbench(proto, srv, port, conc, a, extra=()):
    """Run peers/mailbench.py; returns the median RESULT (by ops/s) and the
    list of runs."""
    cmd = [sys.executable, str(PEERS / "mailbench.py"), proto, "127.0.0.1",
           str(port), "-c", str(conc), "-d", str(a.duration), "-r",
           str(a.runs), "--ssl", "--mode", a.mode,
           "--pids", " ".join(srv.pids())] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=a.runs * (a.duration + 120) + 60)
    runs = [json.loads(l[7:]) for l in r.stdout.splitlines()
            if l.startswith("RESULT ")]
    if not runs:
        raise RuntimeError("mailbench failed: %s" % (r.stdout + r.stderr)[-2000:])
    runs.sort(key=lambda x: x["ops_per_s"])
    med = runs[len(runs) // 2]
    log("%-8s %s c=%-3d %s" % (srv.name, proto, conc, json.dumps(
        {k: med[k] for k in ("ops_per_s", "p50_ms", "p99_ms", "errors",
                             "server_cpu_ms_per_op", "peak_pss_kb",
                             "first_errors")})))
    return med


def servers(a):
    cert, key = tls_files(a.peers_root)
    out = []
    if not a.no_peers:
        if os.geteuid() != 0:
            sys.exit("the peers stack needs root (or --no-peers)")
        p = PeersMail(a.peers_root)
        out.append((p, lambda: p.start()))
    if not os.path.exists(cert):
        # no peers set up: postern's own certificate from a throw-away CA
        cert, key = None, None
    pm = PosternMail(a.bin, a.keep)
    out.insert(0, (pm, lambda: pm.start(cert or _selfsigned(pm.tmp)[0],
                                        key or _selfsigned(pm.tmp)[1])))
    return out


def _selfsigned(d):
    c, k = d / "cert.pem", d / "key.pem"
    if not c.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", str(k), "-out", str(c), "-days",
                        "5", "-subj", "/CN=localhost"], check=True,
                       capture_output=True)
    return str(c), str(k)


def common_args(p):
    p.add_argument("--bin", default=str(ROOT / "build-bench" / "postern"))
    p.add_argument("--peers-root", default="/tmp/peers")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--mode", choices=("session", "steady"),
                   default="session")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(p)
    p.add_argument("--conc", default="10,50")
    a = p.parse_args()
    concs = [int(x) for x in a.conc.split(",")]
    res = {}
    names = []
    for srv, start in servers(a):
        names.append(srv.name)
        start()
        try:
            seed(srv)
            time.sleep(1)
            for c in concs:
                procstat.quiet(20, 0.5)
                res[(srv.name, c)] = mailbench("imap", srv,
                                               srv.ports["imaps"], c, a)
        finally:
            srv.stop()
    print("\nIMAP realistic mix over IMAPS (mailbench.py --mode %s, %g s, "
          "median of %d)" % (a.mode, a.duration, a.runs))
    hdr = "| clients | " + " | ".join(
        "%s ops/s | p50/p99 ms | CPU ms/op | PSS MB | err" % n
        for n in names)
    if len(names) == 2:
        hdr += " | ops ratio | p99 ratio"
    print(hdr + " |")
    print("|" + "---|" * (hdr.count("|") - 1 + 1))
    for c in concs:
        cells = []
        for n in names:
            r = res[(n, c)]
            cells.append("%.0f | %.1f / %.1f | %.2f | %.1f | %d" % (
                r["ops_per_s"], r["p50_ms"], r["p99_ms"],
                r["server_cpu_ms_per_op"], r["peak_pss_kb"] / 1024,
                r["errors"]))
        row = "| %d | %s" % (c, " | ".join(cells))
        if len(names) == 2:
            x, y = res[(names[0], c)], res[(names[1], c)]
            row += " | %.2fx | %.2f" % (x["ops_per_s"] / max(y["ops_per_s"],
                                                             0.1),
                                        x["p99_ms"] / max(y["p99_ms"], 0.001))
        print(row + " |")
    for c in concs:
        for n in names:
            r = res[(n, c)]
            print("%s c=%d per op: %s" % (n, c, "  ".join(
                "%s %.0f/s p99 %.1f" % (k, v["per_s"], v["p99_ms"])
                for k, v in sorted(r["per_op"].items()))))
    print("JSON " + json.dumps({"%s/%s" % k: v for k, v in res.items()}))


if __name__ == "__main__":
    main()
