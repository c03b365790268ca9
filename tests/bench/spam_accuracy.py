#!/usr/bin/python3
"""Spam accuracy on the SpamAssassin public corpus, beside SpamAssassin 4.

  spam_accuracy.py CORPUS [--seeds 1,2,3] [--postern BIN] [--threshold 6]
                   [--sa-seeds 1,2] [--sa-sample N] [--no-sa]

CORPUS (6046 messages, CORPUS/{ham,spam}/GROUP/*.eml) is written by

  /work/shared/external/export-spamassassin-corpus.sh CORPUS

(../shared/external/README.md: needs npm and node).  Per seed the corpus
is split in random halves.  postern: the training half goes through
`postern spam learn-spam|learn-ham` in a fresh state_dir, the test half is
scored by `postern spam score` (the MX pipeline with no network checks:
heuristics, rules, Bayes); "spam" means score >= --threshold (add_header).
SpamAssassin 4 (the baseline, same run, same split): a fresh Bayes DB is
trained with `sa-learn --no-sync --spam|--ham` on the same training half,
then `--sync`; the same test half (or a random --sa-sample N of each class
of it) is scored by ../shared/external/sa-score.sh (spamd -L on a free
127.0.0.1 port, no DNS, no auto-learn, SA_JOBS=2, threshold 5.0).
For each: the confusion matrix, spam recall, ham false-positive rate,
accuracy and messages/s (process / spamd start-up included); at the end
the mean over the seeds.  SpamAssassin needs root (spamd runs as nobody)
and the packages of `sh dist/deps.sh bench`; without them only postern
runs.  Target: >= 97 % spam, <= 0.5 % ham.

Time on the 2-core machine: postern ~10 s per seed; SpamAssassin ~40 s
of sa-learn plus ~3,000 test messages at 10-20 msgs/s (slower when the
machine is busy), so ~3-6 min per seed.  --sa-sample 500 or --sa-seeds 1
cut that down.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SA_SCORE = REPO.parent / "shared" / "external" / "sa-score.sh"
SA_TOOLS = ("spamd", "spamc", "sa-learn", "bc", "bash")
SA_NAME = "SpamAssassin 4 + Bayes"

# Not run here: ../shared/external/README.md, 500 spam + 500 ham sample.
REFERENCE = (
    ("SpamAssassin 4.0.1, no Bayes", 74.0, 2.0),
    ("rspamd 3.4 offline, score >= 6", 49.8, 3.4),
)


def files(root, kind):
    return sorted(str(p) for p in (Path(root) / kind).rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def run(cmd, timeout=600, env=None):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        sys.exit("%s: no answer in %d s" % (" ".join(cmd[:3]), timeout))
    if out.returncode not in (0, 1):
        sys.exit("%s: %s" % (" ".join(cmd[:3]), out.stderr))
    return out


def counts(score, spam, ham):
    """score: path -> True when classified spam."""
    tp = sum(score[p] for p in spam)
    fp = sum(score[p] for p in ham)
    return {"tp": tp, "fn": len(spam) - tp, "fp": fp, "tn": len(ham) - fp}


def rates(c):
    ns, nh = c["tp"] + c["fn"], c["fp"] + c["tn"]
    return (100.0 * c["tp"] / ns, 100.0 * c["fp"] / nh,
            100.0 * (c["tp"] + c["tn"]) / (ns + nh))


# ---------------------------------------------------------------- postern
def postern(binp, train_spam, train_ham, test_spam, test_ham, thr):
    with tempfile.TemporaryDirectory(prefix="spamacc-") as d:
        conf = Path(d) / "p.conf"
        conf.write_text('fqdn = "mail.example.test";\n'
                        'domains = [ "example.test" ];\n'
                        'state_dir = "%s/state";\n'
                        'storage = { path = "%s/mail"; };\n' % (d, d))
        t0 = time.monotonic()
        for verb, lst in (("learn-spam", train_spam),
                          ("learn-ham", train_ham)):
            for i in range(0, len(lst), 500):
                out = run([binp, "spam", verb, "-c", str(conf)]
                          + lst[i:i + 500])
                if out.returncode != 0 or " failed=0" not in out.stdout:
                    sys.exit("postern spam %s: %s%s" % (verb, out.stdout,
                                                         out.stderr))
        learn_s = time.monotonic() - t0
        score = {}
        t0 = time.monotonic()
        for lst in (test_ham, test_spam):
            for i in range(0, len(lst), 500):
                out = run([binp, "spam", "score", "-c", str(conf)]
                          + lst[i:i + 500])
                for line in out.stdout.splitlines():
                    s, _, p = line.split(" ", 2)
                    score[p] = float(s) >= thr
        secs = time.monotonic() - t0
    missing = [p for p in test_spam + test_ham if p not in score]
    if missing:
        sys.exit("postern spam score printed nothing for %d messages, "
                 "e.g. %s" % (len(missing), missing[0]))
    c = counts(score, test_spam, test_ham)
    c.update(score=score, train_s=learn_s,
             rate=(len(test_spam) + len(test_ham)) / secs)
    return c


# ----------------------------------------------------------- SpamAssassin
def sa_missing(script):
    """None when the SpamAssassin baseline can run, else why not."""
    miss = [t for t in SA_TOOLS if shutil.which(t) is None]
    if miss:
        return ("%s not installed (install as root: sh dist/deps.sh bench)"
                % ", ".join(miss))
    if not Path(script).is_file():
        return "no %s (--sa-score; it is in the project's shared/external)" \
            % script
    if os.geteuid() != 0:
        return "needs root (spamd -u nobody reads the Bayes DB)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sa_learn(dbdir, env, train_spam, train_ham):
    db = str(Path(dbdir) / "bayes")
    t0 = time.monotonic()
    for flag, lst in (("--spam", train_spam), ("--ham", train_ham)):
        for i in range(0, len(lst), 500):
            out = run(["sa-learn", "--dbpath", db, "--no-sync", flag]
                      + lst[i:i + 500], timeout=900, env=env)
            if out.returncode:
                sys.exit("sa-learn %s: %s" % (flag, out.stderr.strip()))
    run(["sa-learn", "--dbpath", db, "--sync"], timeout=900, env=env)
    secs = time.monotonic() - t0
    magic = run(["sa-learn", "--dbpath", db, "--dump", "magic"],
                timeout=120, env=env).stdout
    learned = {}
    for line in magic.splitlines():
        f = line.split()
        if len(f) >= 6 and f[4] == "non-token" and f[6:7] in (["nspam"],
                                                             ["nham"]):
            learned[f[6]] = int(f[2])
    # A little under the training half: sa-learn skips messages it has
    # seen (the corpus has a few duplicates).
    if learned.get("nspam", 0) < 0.95 * len(train_spam) or \
            learned.get("nham", 0) < 0.95 * len(train_ham):
        print("  warning: sa-learn learned %s of %d spam + %d ham"
              % (learned, len(train_spam), len(train_ham)))
    return db, secs, learned


def sa_score(script, db, env, paths, jobs):
    """path -> True when SpamAssassin says spam (score >= 5.0)."""
    env = dict(env, SA_BAYES=db, SA_PORT=str(free_port()), SA_JOBS=str(jobs))
    limit = 120 + 2.0 * len(paths)         # ~0.05 s/message here
    err = tempfile.TemporaryFile("w+")
    t0 = time.monotonic()
    proc = subprocess.Popen(["bash", script, "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=err, text=True,
                            env=env, start_new_session=True)

    killed = []

    def kill():                            # spamd, spamc: same process group
        killed.append(1)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=20)
                return
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def feed():
        try:
            proc.stdin.write("".join(p + "\n" for p in paths))
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    timer = threading.Timer(limit, kill)
    timer.start()
    threading.Thread(target=feed, daemon=True).start()
    lines, first, last = [], None, None
    for line in proc.stdout:
        last = time.monotonic()
        first = first or last
        lines.append(line)
    proc.wait()
    secs = time.monotonic() - t0
    timer.cancel()
    if killed:
        sys.exit("sa-score.sh: not done in %d s" % limit)
    # spamd loads its rules before the first answer: rate without that.
    steady = (len(lines) - 1) / (last - first) \
        if len(lines) > 1 and last > first else 0.0
    err.seek(0)
    err = err.read()
    score = {}
    for line in lines:
        f = line.rstrip("\n").split("\t", 2)
        if len(f) != 3:
            continue
        try:
            float(f[0])                    # empty when spamc failed
        except ValueError:
            continue
        score[f[2]] = f[1] == "spam"
    lost = [p for p in paths if p not in score]
    if len(lost) > len(paths) // 100:
        sys.exit("sa-score.sh scored %d of %d messages (spamd failed?)%s"
                 % (len(score), len(paths),
                    ": " + err.strip()[-500:] if err.strip() else ""))
    return score, lost, secs, steady


def spamassassin(script, train_spam, train_ham, test_spam, test_ham, jobs):
    with tempfile.TemporaryDirectory(prefix="spamacc-sa-") as d:
        home = Path(d) / "home"            # sa-learn's ~/.spamassassin
        home.mkdir()
        env = dict(os.environ, HOME=str(home))
        db, learn_s, learned = sa_learn(d, env, train_spam, train_ham)
        run(["chown", "-R", "nobody", d], timeout=60)   # spamd runs as nobody
        score, lost, secs, steady = sa_score(
            script, db, env, test_spam + test_ham, jobs)
    if lost:
        print("  warning: SpamAssassin did not score %d messages (left out),"
              " e.g. %s" % (len(lost), lost[0]))
        test_spam = [p for p in test_spam if p in score]
        test_ham = [p for p in test_ham if p in score]
    c = counts(score, test_spam, test_ham)
    c.update(train_s=learn_s, rate=len(score) / secs, steady=steady,
             learned="%s+%s" % (learned.get("nspam", "?"),
                                learned.get("nham", "?")))
    return c


# ----------------------------------------------------------------- output
def table(cols):
    """cols: [(title, counts or None)], printed side by side."""
    w = 24
    print("  %-13s" % "" + "".join("%-*s" % (w, t) for t, _ in cols))
    print("  %-13s" % "" + "".join("%-*s" % (w, "pred spam  pred ham")
                                   for _ in cols))
    for label, a, b in (("spam", "tp", "fn"), ("ham", "fp", "tn")):
        print("  %-13s" % label + "".join(
            "%-*s" % (w, "%9d  %8d" % (c[a], c[b])) for _, c in cols))
    rows = {"spam recall": [], "ham FP": [], "accuracy": [],
            "msgs/s": [], "training": []}
    for _, c in cols:
        rec, fp, acc = rates(c)
        rows["spam recall"].append("%.2f %%" % rec)
        rows["ham FP"].append("%.2f %% (%d of %d)"
                              % (fp, c["fp"], c["fp"] + c["tn"]))
        rows["accuracy"].append("%.2f %%" % acc)
        rows["msgs/s"].append(("%.1f" % c["rate"] if c.get("rate") else "-")
                              + (" (%.1f w/o start)" % c["steady"]
                                 if c.get("steady") else ""))
        rows["training"].append(("%.1f s" % c["train_s"]
                                 if c.get("train_s") else "-")
                                + (" (%s)" % c["learned"]
                                   if c.get("learned") else ""))
    for k, v in rows.items():
        print("  %-13s" % k + "".join("%-*s" % (w, x) for x in v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threshold", type=float, default=6.0,
                    help="postern spam score threshold (add_header)")
    ap.add_argument("--postern", default=os.environ.get(
        "POSTERN_BIN", str(REPO / "build" / "postern")))
    ap.add_argument("--no-sa", action="store_true",
                    help="skip the SpamAssassin baseline")
    ap.add_argument("--sa-seeds", default=None,
                    help="seeds to run SpamAssassin on (default: all)")
    ap.add_argument("--sa-sample", type=int, default=0, metavar="N",
                    help="SpamAssassin scores a random N spam + N ham of the"
                         " test half (default 0: all of it)")
    ap.add_argument("--sa-jobs", type=int, default=2)
    ap.add_argument("--sa-score", default=os.environ.get("SA_SCORE",
                                                         str(SA_SCORE)))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    sa_seeds = seeds if a.sa_seeds is None else \
        [int(s) for s in a.sa_seeds.split(",") if s]
    ham, spam = files(a.corpus, "ham"), files(a.corpus, "spam")
    if not ham or not spam:
        sys.exit("no ham/ or spam/ under %s (make it with "
                 "/work/shared/external/export-spamassassin-corpus.sh DEST)"
                 % a.corpus)
    if not os.access(a.postern, os.X_OK):
        sys.exit("no postern binary at %s (--postern)" % a.postern)

    why = "--no-sa" if a.no_sa else sa_missing(a.sa_score)
    if why or not sa_seeds:
        sa_seeds = []
        print("SpamAssassin baseline skipped: %s" % (why or "--sa-seeds"))
    print("corpus %s: %d spam + %d ham; postern %s, spam at score >= %g;"
          % (a.corpus, len(spam), len(ham), a.postern, a.threshold))
    if sa_seeds:
        print("%s (sa-score.sh: spamd -L, no DNS, SA_JOBS=%d) at score >= 5"
              " on seeds %s%s" % (
                  SA_NAME, a.sa_jobs, ",".join(map(str, sa_seeds)),
                  ", %d spam + %d ham of each test half" %
                  (a.sa_sample, a.sa_sample) if a.sa_sample else ""))
    print("msgs/s = test messages / wall time, process and spamd start-up "
          "included")

    res = {}                       # column -> [(seed, counts)]
    t_all = time.monotonic()
    for seed in seeds:
        rnd = random.Random(seed)
        h, s = list(ham), list(spam)
        rnd.shuffle(h)
        rnd.shuffle(s)
        th, tsp = h[: len(h) // 2], s[: len(s) // 2]
        eh, esp = h[len(h) // 2:], s[len(s) // 2:]
        print("\nseed %d: train %d spam + %d ham, test %d spam + %d ham"
              % (seed, len(tsp), len(th), len(esp), len(eh)))
        sys.stdout.flush()
        ours = postern(a.postern, tsp, th, esp, eh, a.threshold)
        cols = [("postern", ours)]
        res.setdefault("postern", []).append((seed, ours))
        if seed in sa_seeds:
            ssp, sh = esp, eh
            if a.sa_sample:
                r2 = random.Random(1000003 * seed + 1)
                ssp = sorted(r2.sample(esp, min(a.sa_sample, len(esp))))
                sh = sorted(r2.sample(eh, min(a.sa_sample, len(eh))))
            sa = spamassassin(a.sa_score, tsp, th, ssp, sh, a.sa_jobs)
            if a.sa_sample:
                same = counts(ours["score"], ssp, sh)
                cols.append(("postern, SA's sample", same))
                res.setdefault("postern, SA's sample", []).append((seed, same))
            elif sa_seeds != seeds:
                res.setdefault("postern, SA's seeds", []).append((seed, ours))
            cols.append((SA_NAME, sa))
            res.setdefault(SA_NAME, []).append((seed, sa))
        table(cols)
        sys.stdout.flush()

    print("\nmean over seeds (%.0f s in all):" % (time.monotonic() - t_all))
    print("  %-24s %-7s %11s  %-19s %8s %8s" % (
        "scorer", "seeds", "spam recall", "ham FP", "accuracy", "msgs/s"))
    for name, sl in res.items():
        lst = [c for _, c in sl]
        n = len(lst)
        r = [rates(c) for c in lst]
        fps = sum(c["fp"] for c in lst)
        nham = sum(c["fp"] + c["tn"] for c in lst)
        rate = [c["rate"] for c in lst if c.get("rate")]
        print("  %-24s %-7s %9.2f %%  %-19s %6.2f %% %8s" % (
            name, ",".join(str(x) for x, _ in sl), sum(x[0] for x in r) / n,
            "%.2f %% (%d/%d)" % (sum(x[1] for x in r) / n, fps, nham),
            sum(x[2] for x in r) / n,
            "%.1f" % (sum(rate) / len(rate)) if rate else "-"))
    print("  target: spam recall >= 97 %, ham FP <= 0.5 %")
    print("not run here (../shared/external/README.md, 500 + 500 sample):")
    for name, rec, fp in REFERENCE:
        print("  %-32s spam recall %5.1f %%  ham FP %.1f %%" % (name, rec, fp))


if __name__ == "__main__":
    main()
