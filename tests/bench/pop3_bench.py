#!/usr/bin/python3
"""
POP3 logins/s and RETR MB/s, side by side: postern vs Dovecot pop3.

Same seeded data for both (peers/seed.py, 100 users x 50 messages of
~4.8 KB), peers/mailbench.py over POP3S (postern refuses USER/PASS without
TLS) at --conc clients (default 10), two passes per server:
  session: connect, USER+PASS, STAT, LIST, UIDL, 3 x RETR, QUIT, repeated
           -> logins/s (the 'login' op) and its p99;
  steady:  one login per client, then STAT/LIST/UIDL/10 x RETR repeated
           -> RETR/s x average message size = RETR MB/s.

usage: pop3_bench.py [--bin build-bench/postern] [--conc 10] [--duration 15]
         [--runs 1] [--peers-root /tmp/peers] [--no-peers] [--keep]
"""
import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import imap_bench as ib        # noqa: E402
import procstat                # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    ib.common_args(p)
    p.add_argument("--conc", type=int, default=10)
    a = p.parse_args()
    res, names = {}, []
    for srv, start in ib.servers(a):
        names.append(srv.name)
        start()
        try:
            ib.seed(srv)
            size = ib.avg_msg_size(srv.maildir)
            time.sleep(1)
            procstat.quiet(20, 0.5)
            s = ib.mailbench("pop3", srv, srv.ports["pop3s"], a.conc, a)
            b = copy.copy(a)
            b.mode = "steady"
            procstat.quiet(20, 0.5)
            t = ib.mailbench("pop3", srv, srv.ports["pop3s"], a.conc, b,
                             extra=["--bodies", "10"])
            res[srv.name] = {"session": s, "steady": t, "size": size}
        finally:
            srv.stop()
    print("\nPOP3S, %d clients (mailbench.py, %g s, median of %d)"
          % (a.conc, a.duration, a.runs))
    print("| server | logins/s | login p50/p99 ms | sessions/s | RETR/s "
          "(steady) | RETR MB/s | RETR p99 ms | CPU ms/op | PSS MB | err |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = res[n]
        lg = r["session"]["per_op"].get("login", {})
        rt = r["steady"]["per_op"].get("retr", {})
        r["logins_per_s"] = lg.get("per_s", 0)
        r["retr_mb_s"] = rt.get("per_s", 0) * r["size"] / 1e6
        print("| %s | %.0f | %.1f / %.1f | %.0f | %.0f | %.2f | %.1f | "
              "%.2f / %.2f | %.1f | %d |" % (
                  n, r["logins_per_s"], lg.get("p50_ms", 0),
                  lg.get("p99_ms", 0), r["session"]["sessions_per_s"],
                  rt.get("per_s", 0), r["retr_mb_s"], rt.get("p99_ms", 0),
                  r["session"]["server_cpu_ms_per_op"],
                  r["steady"]["server_cpu_ms_per_op"],
                  max(r["session"]["peak_pss_kb"],
                      r["steady"]["peak_pss_kb"]) / 1024,
                  r["session"]["errors"] + r["steady"]["errors"]))
    if len(names) == 2:
        x, y = res[names[0]], res[names[1]]
        print("ratio postern/dovecot: logins/s %.2fx, RETR MB/s %.2fx" % (
            x["logins_per_s"] / max(y["logins_per_s"], 0.1),
            x["retr_mb_s"] / max(y["retr_mb_s"], 0.001)))
    print("JSON " + json.dumps(res))


if __name__ == "__main__":
    main()
