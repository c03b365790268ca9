#!/usr/bin/python3
"""
SMTP MX throughput, side by side: postern vs the Postfix + Dovecot stack.

In one run: postern (a temporary config, 200 accounts, high ports) and the
reference stack of /work/shared/peers (Postfix smtpd -> cleanup -> qmgr ->
LMTP -> Dovecot, Maildir) each receive MESSAGES messages of SIZE bytes
from Postfix's smtp-source at 1, 10 and 50 concurrent sessions (one
message per connection, recipients <n>bench@example.com spread over
user1..user100).  A message counts when its file is in a Maildir new/ or
cur/ (end-to-end, durable: both servers answer 250 only after fsync).

Per point it prints accept and end-to-end msgs/s, the ratio
postern/peers, peak RSS and PSS of each server's process tree
(procstat.py), server CPU per message; then fsyncs per message for each
server, counted in a separate short pass under `strace -f -c` (fsync,
fdatasync, msync, sync_file_range), since tracing slows the servers.

Measurement code is the peers harness (smtpbench.one_run, procstat), so
the figures are comparable with peers.md.  Needs root (the peers stack),
postfix (smtp-source) and dovecot installed by peers/setup.sh.

usage: smtp_bench.py [--bin build-bench/postern] [--sessions 1,10,50]
         [--messages 2000] [--messages-1 500] [--size 4096] [--runs 1]
         [--peers-root /tmp/peers] [--no-peers] [--no-fsync] [--keep]
Bounded: every smtp-source run has --timeout (default 300 s).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = Path(os.environ.get("PEERS_DIR", "/work/shared/peers"))
sys.path.insert(0, str(PEERS))
import procstat    # noqa: E402
import smtpbench   # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- postern ------------------------------------------------------------------

def bench_regexp(i, dom):
    """The aliases_regexp that maps <n>bench@dom to user<i> (n % 100 == i % 100),
    the same mapping as peers' bench.regexp."""
    d = dom.replace(".", "\\.")
    if i == 100:
        return "/^[0-9]*00bench@%s$/" % d
    if i < 10:
        return "/^([0-9]*0)?%dbench@%s$/" % (i, d)
    return "/^[0-9]*%dbench@%s$/" % (i, d)


def postern_conf(tmp, port, pwhash):
    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    accts = []
    for dom in ("example.com", "example.org"):
        for i in range(1, 101):
            accts.append('  { name = %s; hashed_password = %s; '
                         'aliases_regexp = [ %s ]; }'
                         % (q("user%d@%s" % (i, dom)), q(pwhash),
                            q(bench_regexp(i, dom))))
    empty = ["submission", "submissions", "imap", "imaps", "pop3", "pop3s",
             "managesieve", "http"]
    return "\n".join([
        'fqdn = "mail.example.com";',
        'domains = [ "example.com", "example.org" ];',
        'state_dir = %s;' % q(str(tmp / "state")),
        'storage = { path = %s; };' % q(str(tmp / "mail")),
        'listen = { smtp = [ "127.0.0.1:%d" ]; %s control = %s; };' % (
            port, " ".join("%s = [ ];" % e for e in empty),
            q(str(tmp / "control.sock"))),
        # Never the machine's resolv.conf: a closed loopback port.
        'dns = { resolvers = [ "127.0.0.1:%d" ]; };' % free_port(),
        'limits = { shutdown_timeout = 5; };',
        'accounts = (\n%s\n);' % ",\n".join(accts),
    ]) + "\n"


class Postern:
    name = "postern"

    def __init__(self, binary, keep):
        self.bin = binary
        self.tmp = Path(tempfile.mkdtemp(prefix="postern-bench-"))
        self.keep = keep
        self.port = free_port()
        self.maildir = self.tmp / "mail"
        self.proc = None

    def start(self):
        h = subprocess.run([self.bin, "hash-password", "--scheme", "sha512"],
                           input="bench\n", capture_output=True, text=True,
                           check=True).stdout.strip()
        conf = self.tmp / "postern.conf"
        conf.write_text(postern_conf(self.tmp, self.port, h))
        self.maildir.mkdir()
        self.logf = open(self.tmp / "postern.log", "ab")
        self.proc = subprocess.Popen([self.bin, "serve", "-c", str(conf)],
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    raise RuntimeError("postern did not start:\n" +
                                       (self.tmp / "postern.log").read_text())
                time.sleep(0.05)

    def pids(self):
        return [str(self.proc.pid)]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if rc != 0:
                log("postern exited %s, log: %s" % (rc, self.tmp))
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---- Postfix + Dovecot ----------------------------------------------------------

class Peers:
    name = "postfix+dovecot"

    def __init__(self, root):
        self.root = Path(root)
        self.port = 12525
        self.maildir = self.root / "vmail"

    def start(self):
        if not (self.root / "postfix/etc/main.cf").exists():
            log("peers: running setup.sh %s (apt, configs, users)" % self.root)
            subprocess.run([str(PEERS / "setup.sh"), str(self.root)],
                           check=True, stdout=sys.stderr, timeout=900)
        subprocess.run([str(PEERS / "start.sh"), str(self.root)], check=True,
                       stdout=sys.stderr, timeout=120)

    def pids(self):
        return subprocess.run([str(PEERS / "pids.sh"), str(self.root)],
                              capture_output=True, text=True,
                              check=True).stdout.split()

    def stop(self):
        subprocess.run([str(PEERS / "stop.sh"), str(self.root)],
                       stdout=sys.stderr, timeout=120)


# ---- measuring --------------------------------------------------------------------

def run_point(srv, sessions, messages, a):
    ns = SimpleNamespace(host="127.0.0.1", port=str(srv.port),
                         maildir=str(srv.maildir), messages=messages,
                         sessions=sessions, size=a.size,
                         sender="sender@example.net",
                         rcpt="bench@example.com", timeout=a.timeout)
    runs = []
    for i in range(a.runs):
        q = procstat.quiet(a.quiet_max, a.quiet_cores)
        r = smtpbench.one_run(ns, srv.pids())
        r["quiet"] = q
        runs.append(r)
        log("%-16s s=%-3d %s" % (srv.name, sessions, json.dumps(r)))
    best = {k: statistics.median(r[k] for r in runs) for k in
            ("accept_mps", "deliver_mps", "server_cpu_ms_per_msg",
             "peak_rss_kb", "peak_pss_kb", "peak_procs", "idle_rss_kb",
             "idle_pss_kb")}
    best["complete"] = all(r["complete"] for r in runs)
    return best


SYNC_CALLS = ("fsync", "fdatasync", "msync", "sync_file_range")


def fsync_pass(srv, messages, sessions, a):
    """Sync syscalls per message, counted by strace -f -c on the tree."""
    if shutil.which("strace") is None:
        return None
    pids = list(procstat.tree(srv.pids()))
    out = tempfile.NamedTemporaryFile(prefix="strace-", delete=False).name
    cmd = ["strace", "-f", "-c", "-o", out, "-e",
           "trace=" + ",".join(SYNC_CALLS)]
    for p in pids:
        cmd += ["-p", str(p)]
    st = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(1.0)                      # attach
    ns = SimpleNamespace(host="127.0.0.1", port=str(srv.port),
                         maildir=str(srv.maildir), messages=messages,
                         sessions=sessions, size=a.size,
                         sender="sender@example.net",
                         rcpt="bench@example.com", timeout=a.timeout)
    r = smtpbench.one_run(ns, srv.pids())
    time.sleep(1.0)                      # stragglers (Postfix qmgr/lmtp)
    st.send_signal(signal.SIGINT)
    try:
        st.wait(30)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait()
    counts = {}
    for line in Path(out).read_text().splitlines():
        f = line.split()
        if f and f[-1] in SYNC_CALLS:
            # % time, seconds, usecs/call, calls, [errors], syscall
            counts[f[-1]] = int(f[3])
    os.unlink(out)
    total = sum(counts.values())
    return {"calls": counts, "messages": r["delivered"],
            "per_msg": round(total / max(r["delivered"], 1), 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=str(ROOT / "build-bench" / "postern"))
    p.add_argument("--sessions", default="1,10,50")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--messages-1", type=int, default=500,
                   help="messages for the 1-session point (it is slow)")
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--peers-root", default="/tmp/peers")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--no-fsync", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep postern's tmp dir")
    p.add_argument("--quiet-max", type=float, default=20,
                   help="max wait for other tenants to go idle before a point")
    p.add_argument("--quiet-cores", type=float, default=0.5)
    a = p.parse_args()
    sessions = [int(x) for x in a.sessions.split(",")]
    if not os.path.exists("/usr/sbin/smtp-source"):
        sys.exit("smtp-source missing: apt-get install postfix "
                 "(then systemctl disable postfix), or run peers/setup.sh")

    servers = [Postern(a.bin, a.keep)]
    if not a.no_peers:
        if os.geteuid() != 0:
            sys.exit("the Postfix+Dovecot stack needs root (or --no-peers)")
        servers.append(Peers(a.peers_root))
    res = {}
    for srv in servers:
        srv.start()
        try:
            time.sleep(1)
            for s in sessions:
                n = a.messages_1 if s == 1 else a.messages
                res[(srv.name, s)] = run_point(srv, s, n, a)
            if not a.no_fsync:
                res[(srv.name, "fsync")] = fsync_pass(srv, 500, 10, a)
        finally:
            srv.stop()

    # ---- report ----
    names = [s.name for s in servers]
    print("\nSMTP MX, %d-byte messages, one per connection, end-to-end to "
          "Maildir (median of %d run(s))" % (a.size, a.runs))
    hdr = "| sessions | " + " | ".join(
        "%s msg/s (accept) | %s peak RSS/PSS MB | %s CPU ms/msg" % (n, n, n)
        for n in names)
    if len(names) == 2:
        hdr += " | ratio msg/s | ratio PSS"
    hdr += " |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for s in sessions:
        row = "| %d | " % s
        cells = []
        for n in names:
            r = res[(n, s)]
            cells.append("%.0f (%.0f)%s | %.1f / %.1f | %.2f" % (
                r["deliver_mps"], r["accept_mps"],
                "" if r["complete"] else " INCOMPLETE",
                r["peak_rss_kb"] / 1024, r["peak_pss_kb"] / 1024,
                r["server_cpu_ms_per_msg"]))
        row += " | ".join(cells)
        if len(names) == 2:
            a_, b_ = res[(names[0], s)], res[(names[1], s)]
            row += " | %.2fx | %.3f" % (
                a_["deliver_mps"] / max(b_["deliver_mps"], 0.001),
                a_["peak_pss_kb"] / max(b_["peak_pss_kb"], 1))
        print(row + " |")
    for n in names:
        f = res.get((n, "fsync"))
        if f:
            print("%s: %.2f sync calls per message %s over %d messages "
                  "(strace -f -c, 10 sessions)" % (n, f["per_msg"],
                                                  json.dumps(f["calls"]),
                                                  f["messages"]))
    print("JSON " + json.dumps({"%s/%s" % k: v for k, v in res.items()}))


if __name__ == "__main__":
    main()
