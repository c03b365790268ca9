#!/usr/bin/python3
"""
Start-up time and idle memory of `postern serve --dev`.

Start-up: from exec to the first accepted SMTP connection (127.0.0.1:2525),
over several runs (the first run also generates the self-signed certificate
and is reported separately).  Idle memory: VmRSS and PSS (smaps_rollup) of
the idle daemon a second after it became ready.
Targets (issue #2): idle RSS under 8 MB, start-up under 100 ms.

usage: startup_rss.py [--bin build/postern] [--runs 5]
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def wait_accept(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), 0.5)
            s.recv(100)
            s.close()
            return time.monotonic()
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("postern exited %s" % proc.returncode)
            time.sleep(0.001)
    raise RuntimeError("no accept within %ss" % timeout)


def mem(pid):
    rss = pss = 0
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def one_run(binary, cwd):
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "serve", "--dev"], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t1 = wait_accept(2525, proc)
        time.sleep(1.0)
        rss, pss = mem(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    return (t1 - t0) * 1000, rss, pss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/postern")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    cwd = tempfile.mkdtemp(prefix="postern-bench-")
    try:
        first = one_run(binary, cwd)
        runs = [one_run(binary, cwd) for _ in range(a.runs)]
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    ms = [r[0] for r in runs]
    rss = [r[1] for r in runs]
    pss = [r[2] for r in runs]
    print("postern serve --dev (%s)" % binary)
    print("  first start (generates self-signed cert): %.1f ms" % first[0])
    print("  start-up to first accept: median %.1f ms, min %.1f, max %.1f"
          " (target < 100 ms)" % (statistics.median(ms), min(ms), max(ms)))
    print("  idle RSS: median %.0f KiB (%.2f MB), PSS %.0f KiB (target < 8 MB)"
          % (statistics.median(rss), statistics.median(rss) / 1024,
             statistics.median(pss)))


if __name__ == "__main__":
    main()
