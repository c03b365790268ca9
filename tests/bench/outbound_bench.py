#!/usr/bin/python3
"""
Outbound (queue path) throughput, side by side: postern vs Postfix.

One Postfix smtp-sink on 127.0.0.1 plays the remote MX and dumps every
transaction it accepts to a file (-d DIR/%H%M%S.).  In the same run:

  postern  (a temporary config, high ports): smtp-source -> port 25 ->
           bench@example.com, a forwards[] entry to bench@remote.test ->
           the durable queue -> smtpc -> relay.host = the sink;
  Postfix  (the /work/shared/peers stack, ROOT/postfix/etc): smtp-source
           -> 127.0.0.1:12525 -> bench@remote.test (relayed: the client is
           in mynetworks) -> cleanup -> qmgr -> smtp -> the sink, through
           a transport_maps entry "remote.test smtp:[127.0.0.1]:SINKPORT"
           this script adds to ROOT/postfix/etc/main.cf and removes again.

smtp-source (no AUTH, no TLS) sends MESSAGES messages of SIZE bytes, one
per connection, at 10 and 50 concurrent sessions.  A message counts when
its dump file exists in the sink's directory (end-to-end through the
queue: both servers answer 250 to DATA only once the message is durable).
Per point: delivered msgs/s (and accept msgs/s = smtp-source wall time),
server CPU per message, peak RSS/PSS, and the ratio postern/Postfix.

Not the same work, by design of the two servers: postern expands one
forward and runs its inbound filters (spam scoring, SPF of the sender)
on port 25; Postfix relays with its default restrictions.  Both send
without TLS (smtp-sink offers none).  Postfix's smtp client reuses
connections under backlog (smtp_connection_cache_on_demand) and runs up
to 20 per destination; postern's queue runs at most 10 attempts per
destination (storage/queue/queue.c), and its client reuses connections
after every completed transaction: up to 100 messages per connection,
closed with QUIT after 2 s idle (protocols/smtp/smtpc_cache.c).  With
--keep, postern's log tells how many connections the run opened
("connecting") and how many messages went over a reused one ("reused").

--drain N (postern only) adds the outbound side alone: N messages are
queued while relay.port has no listener (each first attempt is refused
at connect and deferred), then smtp-sink starts on that port and
`postern queue flush` releases the backlog; the figure is N / the time
until the sink holds N files, and postern's CPU per message meanwhile.
Inbound acceptance is out of it, so this is where connection reuse shows.

Needs root (the peers stack), postfix (smtp-source, smtp-sink) and the
stack of peers/setup.sh (run on first use).  Measurement helpers are the
peers harness (procstat.py), as in smtp_bench.py.

usage: outbound_bench.py [--bin build-obr/postern] [--sessions 10,50]
         [--messages 2000] [--size 4096] [--runs 1] [--drain N]
         [--peers-root /tmp/peers] [--no-peers] [--keep]
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
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS = Path(os.environ.get("PEERS_DIR", "/work/shared/peers"))
sys.path.insert(0, str(PEERS))
import procstat    # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
SENDER = "sender@example.net"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wait_port(port, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if (proc is not None and proc.poll() is not None) or \
                    time.monotonic() > deadline:
                raise RuntimeError("%s did not start" % what)
            time.sleep(0.05)


class Sink:
    """smtp-sink, one file per accepted transaction in self.dir."""

    def __init__(self, port=None):
        self.dir = Path(tempfile.mkdtemp(prefix="outbound-bench-sink-"))
        self.dir.chmod(0o777)
        self.port = port or free_port()
        args = [SMTP_SINK]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        # -m: more simultaneous connections than either server opens.
        args += ["-m", "512", "-d", str(self.dir) + "/%H%M%S.",
                 "127.0.0.1:%d" % self.port, "256"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "smtp-sink")

    def count(self):
        with os.scandir(self.dir) as it:
            return sum(1 for _ in it)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- postern ------------------------------------------------------------------

def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Postern:
    name = "postern"
    rcpt = "bench@example.com"

    def __init__(self, binary, sink_port, keep):
        self.bin = binary
        self.sink_port = sink_port
        self.tmp = Path(tempfile.mkdtemp(prefix="postern-obench-"))
        self.keep = keep
        self.port = free_port()
        self.proc = None

    def start(self):
        h = subprocess.run([self.bin, "hash-password", "--scheme", "sha512"],
                           input="bench\n", capture_output=True, text=True,
                           check=True).stdout.strip()
        empty = ["submission", "submissions", "imap", "imaps", "pop3",
                 "pop3s", "managesieve", "http"]
        conf = self.tmp / "postern.conf"
        conf.write_text("\n".join([
            'fqdn = "mail.example.com";',
            'domains = [ "example.com" ];',
            'state_dir = %s;' % q(str(self.tmp / "state")),
            'storage = { path = %s; };' % q(str(self.tmp / "mail")),
            'listen = { smtp = [ "127.0.0.1:%d" ]; %s control = %s; };' % (
                self.port, " ".join("%s = [ ];" % e for e in empty),
                q(str(self.tmp / "control.sock"))),
            # Never the machine's resolv.conf: a closed loopback port.
            'dns = { resolvers = [ "127.0.0.1:%d" ]; };' % free_port(),
            'relay = { host = "127.0.0.1"; port = %d; };' % self.sink_port,
            'limits = { shutdown_timeout = 5; };',
            'accounts = ( { name = "postmaster@example.com"; '
            'hashed_password = %s; } );' % q(h),
            'forwards = ( { address = "bench@example.com"; '
            'to = [ "bench@remote.test" ]; } );',
        ]) + "\n")
        (self.tmp / "mail").mkdir()
        self.logf = open(self.tmp / "postern.log", "ab")
        self.proc = subprocess.Popen([self.bin, "serve", "-c", str(conf)],
                                     stdout=self.logf, stderr=self.logf)
        try:
            wait_port(self.port, self.proc, "postern")
        except RuntimeError:
            raise RuntimeError("postern did not start:\n" +
                               (self.tmp / "postern.log").read_text())

    def pids(self):
        return [str(self.proc.pid)]

    def flush(self):
        subprocess.run([self.bin, "queue", "-c", str(self.tmp /
                                                     "postern.conf"),
                        "flush"], check=True, capture_output=True)

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
        self.logf.close()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---- Postfix (peers) ------------------------------------------------------------

class Peers:
    name = "postfix"
    rcpt = "bench@remote.test"

    def __init__(self, root, sink_port):
        self.root = Path(root)
        self.etc = self.root / "postfix" / "etc"
        self.port = 12525
        self.sink_port = sink_port
        self.started = False
        self.old_transport = None

    def postconf(self, *a, check=True):
        return subprocess.run(["postconf", "-c", str(self.etc)] + list(a),
                              capture_output=True, text=True, check=check)

    def running(self):
        pids = self.pids()
        return len(pids) == 2 and all(Path("/proc", p).exists()
                                      for p in pids)

    def start(self):
        if not (self.etc / "main.cf").exists():
            log("peers: running setup.sh %s (apt, configs, users)" %
                self.root)
            subprocess.run([str(PEERS / "setup.sh"), str(self.root)],
                           check=True, stdout=sys.stderr, timeout=900)
        # Route remote.test to the sink; everything else as configured.
        tfile = self.etc / "outbound_bench.transport"
        tfile.write_text("remote.test smtp:[127.0.0.1]:%d\n" %
                         self.sink_port)
        self.old_transport = self.postconf("-h", "transport_maps").stdout \
            .strip()
        self.postconf("-e", "transport_maps = texthash:%s" % tfile)
        was = self.running()
        subprocess.run([str(PEERS / "start.sh"), str(self.root)], check=True,
                       stdout=sys.stderr, timeout=120)
        self.started = not was
        if was:
            subprocess.run(["postfix", "-c", str(self.etc), "reload"],
                           check=True, capture_output=True)
            time.sleep(1)

    def pids(self):
        try:
            return subprocess.run([str(PEERS / "pids.sh"), str(self.root)],
                                  capture_output=True, text=True,
                                  check=True).stdout.split()
        except subprocess.CalledProcessError:
            return []

    def stop(self):
        if self.old_transport is not None:
            if self.old_transport:
                self.postconf("-e", "transport_maps = %s" %
                              self.old_transport, check=False)
            else:
                self.postconf("-X", "transport_maps", check=False)
            (self.etc / "outbound_bench.transport").unlink(missing_ok=True)
        if self.started:
            subprocess.run([str(PEERS / "stop.sh"), str(self.root)],
                           stdout=sys.stderr, timeout=120)
        else:
            subprocess.run(["postfix", "-c", str(self.etc), "reload"],
                           capture_output=True)


# ---- measuring --------------------------------------------------------------------

def one_run(srv, sink, sessions, messages, a):
    base = sink.count()
    pids = srv.pids()
    s0 = procstat.snap(pids)
    peak, stop = {"rss_kb": 0, "pss_kb": 0, "procs": 0}, threading.Event()

    def sampler():
        while not stop.is_set():
            s = procstat.snap(pids)
            for k in peak:
                peak[k] = max(peak[k], s[k])
            stop.wait(0.5)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    cmd = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages),
           "-l", str(a.size), "-f", SENDER, "-t", srv.rcpt,
           "127.0.0.1:%d" % srv.port]
    t0 = time.monotonic()
    rc = subprocess.run(cmd, timeout=a.timeout, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE).returncode
    t1 = time.monotonic()
    got = 0
    while time.monotonic() - t0 < a.timeout:
        got = sink.count() - base
        if got >= messages:
            break
        time.sleep(0.02)
    t2 = time.monotonic()
    stop.set()
    th.join()
    s1 = procstat.snap(pids)
    cpu = s1["cpu_s"] - s0["cpu_s"]
    return {"messages": messages, "sessions": sessions, "smtp_source_rc": rc,
            "delivered": got, "complete": got >= messages,
            "accept_mps": round(messages / (t1 - t0), 1),
            "deliver_mps": round(got / (t2 - t0), 1),
            "server_cpu_ms_per_msg": round(1000 * cpu / max(got, 1), 3),
            "peak_rss_kb": peak["rss_kb"], "peak_pss_kb": peak["pss_kb"]}


def run_point(srv, sink, sessions, a):
    runs = []
    for _ in range(a.runs):
        procstat.quiet(a.quiet_max, a.quiet_cores)
        r = one_run(srv, sink, sessions, a.messages, a)
        runs.append(r)
        log("%-8s s=%-3d %s" % (srv.name, sessions, json.dumps(r)))
    best = {k: statistics.median(r[k] for r in runs) for k in
            ("accept_mps", "deliver_mps", "server_cpu_ms_per_msg",
             "peak_rss_kb", "peak_pss_kb")}
    best["complete"] = all(r["complete"] for r in runs)
    return best


def drain_run(a, n):
    """The queue -> smtp-sink side alone (see --drain above)."""
    port = free_port()
    srv = Postern(a.bin, port, a.keep)
    sink = None
    try:
        srv.start()
        time.sleep(1)
        cmd = [SMTP_SOURCE, "-s", "10", "-m", str(n), "-l", str(a.size),
               "-f", SENDER, "-t", srv.rcpt, "127.0.0.1:%d" % srv.port]
        subprocess.run(cmd, timeout=a.timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        logf = srv.tmp / "postern.log"
        deadline = time.monotonic() + a.timeout
        # Every first attempt made (and refused) before the sink is up.
        while time.monotonic() < deadline and \
                logf.read_text(errors="replace").count("state=deferred") < n:
            time.sleep(0.2)
        sink = Sink(port)
        procstat.quiet(a.quiet_max, a.quiet_cores)
        s0 = procstat.snap(srv.pids())
        t0 = time.monotonic()
        srv.flush()
        got = 0
        while time.monotonic() - t0 < a.timeout:
            got = sink.count()
            if got >= n:
                break
            time.sleep(0.02)
        t1 = time.monotonic()
        s1 = procstat.snap(srv.pids())
        log_text = logf.read_text(errors="replace")
        r = {"messages": n, "delivered": got, "complete": got >= n,
             "drain_mps": round(got / (t1 - t0), 1),
             "server_cpu_ms_per_msg": round(1000 * (s1["cpu_s"] -
                                                    s0["cpu_s"]) /
                                            max(got, 1), 3),
             "connections": log_text.count(" connecting") - n,
             "reused": log_text.count(" reused messages=")}
        log("%-8s drain %s" % (srv.name, json.dumps(r)))
        return r
    finally:
        srv.stop()
        if sink is not None:
            sink.close()


def side_by_side(a, sessions):
    """The smtp-source -> server -> sink points; prints their table."""
    sink = Sink()
    res = {}
    try:
        servers = [Postern(a.bin, sink.port, a.keep)]
        if not a.no_peers:
            servers.append(Peers(a.peers_root, sink.port))
        for srv in servers:
            try:
                srv.start()
                time.sleep(1)
                for s in sessions:
                    res[(srv.name, s)] = run_point(srv, sink, s, a)
            finally:
                srv.stop()
    finally:
        sink.close()

    names = [s.name for s in servers]
    print("\nOutbound: smtp-source -> server -> queue -> smtp-sink, %d-byte "
          "messages, %d per point, one per inbound connection (median of "
          "%d run(s))" % (a.size, a.messages, a.runs))
    hdr = "| sessions | " + " | ".join(
        "%s msg/s (accept) | %s CPU ms/msg | %s peak RSS/PSS MB" %
        (n, n, n) for n in names)
    if len(names) == 2:
        hdr += " | ratio msg/s postern/postfix"
    hdr += " |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for s in sessions:
        cells = []
        for n in names:
            r = res[(n, s)]
            cells.append("%.0f (%.0f)%s | %.2f | %.1f / %.1f" % (
                r["deliver_mps"], r["accept_mps"],
                "" if r["complete"] else " INCOMPLETE",
                r["server_cpu_ms_per_msg"], r["peak_rss_kb"] / 1024,
                r["peak_pss_kb"] / 1024))
        row = "| %d | " % s + " | ".join(cells)
        if len(names) == 2:
            row += " | %.2fx" % (res[(names[0], s)]["deliver_mps"] /
                                 max(res[(names[1], s)]["deliver_mps"],
                                     0.001))
        print(row + " |")
    return res


def main():
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=str(ROOT / "build-obr" / "postern"))
    p.add_argument("--sessions", default="10,50")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--peers-root", default="/tmp/peers")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--keep", action="store_true",
                   help="keep postern's tmp dir")
    p.add_argument("--quiet-max", type=float, default=20)
    p.add_argument("--quiet-cores", type=float, default=0.5)
    p.add_argument("--drain", type=int, default=0, metavar="N",
                   help="also the queue -> sink drain of N messages")
    a = p.parse_args()
    sessions = [int(x) for x in a.sessions.split(",") if x]   # "": none
    for b in (SMTP_SOURCE, SMTP_SINK):
        if not os.path.exists(b):
            sys.exit("%s missing: apt-get install postfix (then systemctl "
                     "disable postfix), or run peers/setup.sh" % b)
    if not a.no_peers and os.geteuid() != 0:
        sys.exit("the Postfix stack needs root (or --no-peers)")

    res = {}
    if sessions:
        res = side_by_side(a, sessions)
    drains = [drain_run(a, a.drain) for _ in range(a.runs)] \
        if a.drain else []
    if drains:
        print("\nDrain (postern): %d queued messages -> smtp-sink after "
              "`postern queue flush`" % a.drain)
        print("| run | msg/s | CPU ms/msg | connections | reused |")
        print("|---|---|---|---|---|")
        for i, r in enumerate(drains):
            print("| %d | %.0f%s | %.2f | %d | %d |" % (
                i + 1, r["drain_mps"], "" if r["complete"] else
                " INCOMPLETE", r["server_cpu_ms_per_msg"],
                r["connections"], r["reused"]))
    print("JSON " + json.dumps(dict({"%s/%s" % k: v for k, v in
                                     res.items()},
                                    **{"postern/drain%d" % (i + 1): r
                                       for i, r in enumerate(drains)})))


if __name__ == "__main__":
    main()
