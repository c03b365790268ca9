#!/usr/bin/python3
"""Spam accuracy on the SpamAssassin public corpus (stdlib only).

  spam_accuracy.py CORPUS [--seeds 1,2,3] [--postern BIN] [--threshold 6]

CORPUS is what ../shared/external/export-spamassassin-corpus.sh DEST
wrote (DEST/{ham,spam}/GROUP/*.eml).  Per seed: a random half trains
Bayes through `postern spam learn-spam|learn-ham` in a fresh state_dir,
the other half is scored by `postern spam score` (the MX pipeline with
no network checks: heuristics, rules, Bayes).  Prints the confusion
matrix at add_header (score >= threshold), spam recall, ham false
positive rate and messages/s, and beside the mean the SpamAssassin
baselines of ../shared/external/README.md (500 + 500 sample).
Target: >= 97 % spam, <= 0.5 % ham.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


# (scorer, spam recall %, ham FP %) from ../shared/external/README.md
BASELINES = (
    ("SpamAssassin 4.0.1, no Bayes", 74.0, 2.0),
    ("SpamAssassin 4.0.1 + Bayes (5046 msgs)", 94.2, 0.2),
    ("rspamd 3.4 offline, score >= 6", 49.8, 3.4),
)


def files(root, kind):
    return sorted(str(p) for p in (Path(root) / kind).rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit("%s: %s" % (" ".join(cmd[:3]), out.stderr))
    return out


def one(binp, ham, spam, seed, thr):
    rnd = random.Random(seed)
    rnd.shuffle(ham)
    rnd.shuffle(spam)
    th, tsp = ham[: len(ham) // 2], spam[: len(spam) // 2]
    eh, esp = ham[len(ham) // 2:], spam[len(spam) // 2:]
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "p.conf"
        conf.write_text('fqdn = "mail.example.test";\n'
                        'domains = [ "example.test" ];\n'
                        'state_dir = "%s/state";\n'
                        'storage = { path = "%s/mail"; };\n' % (d, d))
        t0 = time.monotonic()
        for verb, lst in (("learn-spam", tsp), ("learn-ham", th)):
            for i in range(0, len(lst), 500):
                run([binp, "spam", verb, "-c", str(conf)] + lst[i:i + 500])
        learn_s = time.monotonic() - t0
        score = {}
        t0 = time.monotonic()
        for lst in (eh, esp):
            for i in range(0, len(lst), 500):
                out = run([binp, "spam", "score", "-c", str(conf)]
                          + lst[i:i + 500])
                for line in out.stdout.splitlines():
                    s, _, p = line.split(" ", 2)
                    score[p] = float(s)
        secs = time.monotonic() - t0
    tp = sum(score[p] >= thr for p in esp)
    fp = sum(score[p] >= thr for p in eh)
    n = len(eh) + len(esp)
    print("seed %d: train %d spam + %d ham (%.1fs)  test %d spam + %d ham"
          % (seed, len(tsp), len(th), learn_s, len(esp), len(eh)))
    print("            pred spam  pred ham")
    print("  spam      %9d  %8d" % (tp, len(esp) - tp))
    print("  ham       %9d  %8d" % (fp, len(eh) - fp))
    print("  spam recall %.2f %%  ham FP %.2f %% (%d)  accuracy %.2f %%  "
          "%.0f msgs/s (process start included)"
          % (100.0 * tp / len(esp), 100.0 * fp / len(eh), fp,
             100.0 * (tp + len(eh) - fp) / n, n / secs))
    return tp / len(esp), fp / len(eh)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threshold", type=float, default=6.0)
    ap.add_argument("--postern", default=os.environ.get(
        "POSTERN_BIN", str(Path(__file__).resolve().parents[2] /
                           "build" / "postern")))
    a = ap.parse_args()
    ham, spam = files(a.corpus, "ham"), files(a.corpus, "spam")
    if not ham or not spam:
        sys.exit("no ham/ or spam/ under %s" % a.corpus)
    res = [one(a.postern, list(ham), list(spam), int(s), a.threshold)
           for s in a.seeds.split(",")]
    print("mean: spam recall %.2f %%, ham FP %.2f %%" % (
        100 * sum(r for r, _ in res) / len(res),
        100 * sum(f for _, f in res) / len(res)))
    print("baselines (shared/external/README.md, 500 spam + 500 ham):")
    for name, rec, fp in BASELINES:
        print("  %-40s spam recall %5.1f %%  ham FP %.1f %%" % (name, rec, fp))


if __name__ == "__main__":
    main()
