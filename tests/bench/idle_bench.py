#!/usr/bin/python3
"""
Memory of N idle, logged-in IMAP connections sitting in IDLE: postern vs
Dovecot (peers stack), with and without TLS.

Each connection: connect (TLS: IMAPS, implicit TLS), LOGIN userK (K round
robin over user1..100@example.org, 50 messages each from peers/seed.py),
SELECT INBOX, IDLE; wait for "+ idling".  When all are up, hold --hold
seconds, sample the server's whole process tree (procstat.snap: RSS and
PSS), then DONE/LOGOUT everything and count who answered.  Printed: MB for
the N connections (tree at hold minus tree before opening), KB per
connection, connections established, dropped, logins/s while opening.

postern, like Dovecot, takes plain-text LOGIN on 143 from loopback peers
(127.0.0.0/8, ::1), so the "no TLS" figure is measured on 143 directly;
for Dovecot it uses peers/idleconn.py.  Note the delta (holding minus
before) can understate: memory freed after seeding is reused first.

usage: idle_bench.py [--bin build-bench/postern] [--counts 1000,10000]
         [--hold 10] [--threads 8] [--peers-root /tmp/peers] [--no-peers]
The fd limit is raised to the hard limit for this process and postern;
postern's config raises limits.max_connections, max_connections_per_ip and
max_connections_per_user to 30000.
"""
import argparse
import json
import os
import resource
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import imap_bench as ib        # noqa: E402
import procstat                # noqa: E402


def readline(f, tag):
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        if tag is None or line.startswith(tag):
            return line


def hold(port, n, tls, threads, hold_s, pids, user_fmt="user%d@example.org"):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl._create_unverified_context() if tls else None
    conns, errs, lock = [], [], threading.Lock()
    before = procstat.snap(pids)
    t0 = time.monotonic()

    def work(k):
        for i in range(k, n, threads):
            try:
                s = socket.create_connection(("127.0.0.1", port), 30)
                if tls:
                    s = ctx.wrap_socket(s, server_hostname="localhost")
                f = s.makefile("rb")
                readline(f, b"* OK")
                s.sendall(b'a1 LOGIN "%s" "%s"\r\n' % (
                    (user_fmt % (i % 100 + 1)).encode(), ib.PASS.encode()))
                r = readline(f, b"a1 ")
                if not r.startswith(b"a1 OK"):
                    raise RuntimeError(r[:120])
                s.sendall(b"a2 SELECT INBOX\r\n")
                r = readline(f, b"a2 ")
                if not r.startswith(b"a2 OK"):
                    raise RuntimeError(r[:120])
                s.sendall(b"a3 IDLE\r\n")
                readline(f, b"+")
                with lock:
                    conns.append((s, f))
            except Exception as e:          # noqa: BLE001
                with lock:
                    errs.append(repr(e)[:160])
                if len(errs) > 50:
                    return
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    est = time.monotonic() - t0
    time.sleep(hold_s)
    at = procstat.snap(pids)
    # a dropped connection is readable (EOF or BYE); an idle one is not
    poll = select.poll()
    for s, f in conns:
        poll.register(s, select.POLLIN)
    alive = len(conns) - len(poll.poll(0))
    answered = 0
    for s, f in conns:
        try:
            s.settimeout(10)
            s.sendall(b"DONE\r\nz LOGOUT\r\n")
            readline(f, b"z ")
            answered += 1
        except Exception:                   # noqa: BLE001
            pass
        try:
            s.close()
        except OSError:
            pass
    return {"target": n, "tls": tls, "ready": len(conns),
            "alive_at_sample": alive, "answered_logout": answered,
            "errors": len(errs), "first_errors": sorted(set(errs))[:3],
            "establish_s": round(est, 1),
            "logins_per_s": round(len(conns) / max(est, 1e-9), 1),
            "mem_before": before, "mem_holding": at,
            "rss_mb": round((at["rss_kb"] - before["rss_kb"]) / 1024, 1),
            "pss_mb": round((at["pss_kb"] - before["pss_kb"]) / 1024, 1),
            "procs": at["procs"]}


def idleconn(port, n, hold_s, pids):
    r = subprocess.run([sys.executable, str(ib.PEERS / "idleconn.py"),
                        "127.0.0.1", str(port), "-n", str(n), "--idle",
                        "--hold", str(hold_s), "--pids", " ".join(pids)],
                       capture_output=True, text=True, timeout=3600)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    if not line:
        return {"target": n, "tls": False, "ready": 0,
                "errors": 1, "first_errors": [(r.stdout + r.stderr)[-300:]]}
    j = json.loads(line[0][7:])
    b, h = j["mem_before"], j["mem_holding"]
    return {"target": n, "tls": False, "ready": j["ready"],
            "alive_at_sample": j["ready"] - j["dropped_during_hold"],
            "answered_logout": j["answered_logout"], "errors": j["failed"],
            "first_errors": [j["stopped"]] if j["stopped"] else [],
            "establish_s": j["establish_s"],
            "logins_per_s": j["logins_per_s"], "mem_before": b,
            "mem_holding": h,
            "rss_mb": round((h["rss_kb"] - b["rss_kb"]) / 1024, 1),
            "pss_mb": round((h["pss_kb"] - b["pss_kb"]) / 1024, 1),
            "procs": h["procs"]}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    ib.common_args(p)
    p.add_argument("--counts", default="1000,10000")
    p.add_argument("--hold", type=float, default=10)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--modes", default="plain,tls")
    a = p.parse_args()
    counts = [int(x) for x in a.counts.split(",")]
    modes = a.modes.split(",")
    res = []
    for srv, start in ib.servers(a):
        start()
        try:
            ib.seed(srv)
            for n in counts:
                for mode in modes:
                    procstat.quiet(20, 0.5)
                    if mode == "plain" and srv.name == "dovecot":
                        r = idleconn(srv.ports["imap"], n, a.hold,
                                     srv.pids())
                    else:
                        r = hold(srv.ports["imaps" if mode == "tls" else
                                           "imap"], n, mode == "tls",
                                 a.threads, a.hold, srv.pids())
                    r["server"] = srv.name
                    ib.log("%s %s n=%d: ready %d, %.1f MB PSS, errors %s" % (
                        srv.name, mode, n, r["ready"], r.get("pss_mb", 0),
                        r["first_errors"][:1]))
                    res.append(r)
                    time.sleep(2)
        finally:
            srv.stop()
    print("\nIdle IMAP connections in IDLE (SELECT INBOX, 50 msgs), hold "
          "%g s; memory = server tree while holding minus before" % a.hold)
    print("| server | TLS | conns (ready/target) | RSS MB | PSS MB | "
          "KB/conn (PSS) | procs | logins/s | alive | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in res:
        print("| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["server"], "yes" if r["tls"] else "no", r["ready"], r["target"],
            r.get("rss_mb", "-"), r.get("pss_mb", "-"),
            "%.1f" % (r["pss_mb"] * 1024 / r["ready"]) if r["ready"] else "-",
            r.get("procs", "-"), r.get("logins_per_s", "-"),
            r.get("alive_at_sample", "-"),
            "%d %s" % (r["errors"], "; ".join(r["first_errors"][:1]))))
    print("JSON " + json.dumps(res))


if __name__ == "__main__":
    main()
