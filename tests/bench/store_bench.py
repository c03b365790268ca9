#!/usr/bin/python3
"""
Storage engine: durable deliveries per second through the control socket,
with 1, 10 and 50 concurrent writers, and what the group commit saves.

One postern (release build, a temporary config: 50 accounts, HTTP on a
free loopback port for /metrics, the control socket, nothing else) gets
MESSAGES deliveries per point.  Each writer is a thread speaking the
control protocol (ctl.h) directly: "DELIVER <account> <size>", the body,
then it waits for "OK uid=N", which the daemon sends only after the file
is fsynced, renamed, its directory fsynced and the index committed.
Writer i delivers round-robin over the accounts starting at i, so
concurrent deliveries mostly hit different Maildirs.

Per point it prints durable deliveries/s, p50/p99 latency, and from the
store's counters (store_stats(), read from GET /metrics before and after):
message-file fsyncs, directory fsyncs and LMDB index commits per
delivery.  Without group commit every delivery would cost one index
commit (one LMDB sync); "saved" is 1 - commits/deliveries.  The Maildir
file fsync cannot be shared (one per file); directory fsyncs are shared
by the deliveries of one batch that land in the same directory.

usage: store_bench.py [--bin build-bench/postern] [--writers 1,10,50]
         [--messages 2000] [--size 4096] [--accounts 50] [--keep]
Stdlib only; run with /usr/bin/python3.  No root needed.
"""
import argparse
import http.client
import os
import re
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
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import pconf  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    c.close()
    out = {}
    for m in re.finditer(r"^(postern_store_\w+) ([0-9.e+]+)$", body, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def deliver(path, account, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    # The control socket's listen backlog is 16 (ctl.c): a full one
    # answers EAGAIN at once; wait and retry as a local tool would.
    for _ in range(2000):
        try:
            s.connect(path)
            break
        except BlockingIOError:
            time.sleep(0.001)
    s.sendall(b"DELIVER %s %d\n" % (account.encode(), len(body)) + body)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    if not reply.startswith(b"OK "):
        raise RuntimeError("delivery failed: %r" % reply)


def run_point(ctl, accounts, writers, total, body):
    lat = []
    errors = []
    lock = threading.Lock()
    counter = [0]

    def worker(i):
        k = i
        mine = []
        while True:
            with lock:
                if counter[0] >= total:
                    break
                counter[0] += 1
            t0 = time.perf_counter()
            try:
                deliver(ctl, accounts[k % len(accounts)], body)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
                break
            mine.append(time.perf_counter() - t0)
            k += writers
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        raise errors[0]
    lat.sort()
    return dt, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "build-bench" / "postern"))
    ap.add_argument("--writers", default="1,10,50")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--messages-1", type=int, default=500,
                    help="messages for the 1-writer point")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--accounts", type=int, default=50)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit("no postern binary at %s (build a release one, see "
                 "tests/bench/README.md)" % a.bin)

    tmp = Path(tempfile.mkdtemp(prefix="store-bench-"))
    pw = subprocess.run([a.bin, "hash-password", "--scheme", "sha512"],
                        input="bench\n", capture_output=True, text=True,
                        check=True).stdout.strip()
    accounts = ["user%d@example.com" % i for i in range(1, a.accounts + 1)]
    http_port = free_port()
    conf = {
        "fqdn": "mail.example.com",
        "domains": ["example.com"],
        "state_dir": str(tmp / "state"),
        "storage": {"path": str(tmp / "mail")},
        "listen": {"http": ["127.0.0.1:%d" % http_port],
                   "control": str(tmp / "control.sock")},
        "dns": {"resolvers": ["127.0.0.1:%d" % free_port()]},
        "message_size_limit": max(a.size * 2, 1 << 20),
        "accounts": [{"name": n, "hashed_password": pw} for n in accounts],
    }
    for svc in ("smtp", "submission", "submissions", "imap", "imaps",
                "pop3", "pop3s", "managesieve"):
        conf["listen"][svc] = []
    (tmp / "postern.conf").write_text(pconf.dump(conf))
    logf = open(tmp / "postern.log", "wb")
    proc = subprocess.Popen([a.bin, "serve", "-c", str(tmp / "postern.conf")],
                            stdout=logf, stderr=logf)
    ctl = str(tmp / "control.sock")
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                sys.exit("postern exited:\n" + (tmp / "postern.log")
                         .read_text(errors="replace"))
            try:
                metrics(http_port)
                if os.path.exists(ctl):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("postern not ready")
            time.sleep(0.05)
        line = b"X" * 76 + b"\r\n"
        body = (b"From: bench@example.org\r\nTo: bench@example.com\r\n"
                b"Subject: store bench\r\n\r\n")
        body += line * max(1, (a.size - len(body)) // len(line))
        # Warm-up: create every Maildir (first deliveries mkdir).
        run_point(ctl, accounts, 10, len(accounts), body)

        print("store_bench: %d-byte messages, %d accounts, control socket "
              "DELIVER, cores=%d" % (len(body), len(accounts),
                                     os.cpu_count()))
        print("%-8s %8s %10s %9s %9s %10s %10s %10s %8s" % (
            "writers", "msgs", "deliv/s", "p50 ms", "p99 ms",
            "file fs/m", "dir fs/m", "idx cm/m", "saved"))
        for w in [int(x) for x in a.writers.split(",")]:
            n = a.messages_1 if w == 1 else a.messages
            m0 = metrics(http_port)
            dt, lat = run_point(ctl, accounts, w, n, body)
            m1 = metrics(http_port)

            def d(k):
                return m1.get(k, 0) - m0.get(k, 0)
            dl = d("postern_store_deliveries_total") or 1
            commits = d("postern_store_index_commits_total")
            print("%-8d %8d %10.1f %9.2f %9.2f %10.2f %10.2f %10.3f %7.0f%%"
                  % (w, n, n / dt, statistics.median(lat) * 1e3,
                     lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
                     d("postern_store_file_fsyncs_total") / dl,
                     d("postern_store_dir_fsyncs_total") / dl,
                     commits / dl, 100 * (1 - commits / dl)), flush=True)
            if d("postern_store_delivery_failures_total") or \
                    d("postern_store_index_errors_total"):
                log("warning: failures or index errors during this point")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        logf.close()
        if rc != 0:
            log("postern exited with %s; log in %s" % (rc, tmp))
        elif not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept", tmp)


if __name__ == "__main__":
    main()
