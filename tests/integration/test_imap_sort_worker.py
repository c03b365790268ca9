"""
SORT and THREAD (RFC 5256) whose search keys read the message files
(BODY, TEXT, HEADER) on a mailbox of a few hundred messages.  The keys
are matched on the worker that reads the sort keys, never on the loop
thread (DESIGN.md); the debug log line "imap sort|thread match=worker
files=N" says where the matching ran and how many files it read.

The answers are checked against SEARCH with the same keys: a SORT with
keys must be the SORT of ALL restricted to the SEARCH hits (the order is
total: ties go by sequence number), and a THREAD with keys must be the
THREAD of ALL over a mailbox holding only the SEARCH hits (a COPY of
them, mapped back through COPYUID).
"""
import imaplib
import re
import smtplib

import pytest

USER = "alice@example.test"
THREADS = 100                   # three messages each: 300 in INBOX


def colour(k):
    return "blue" if k % 4 == 1 else "grey"


def message(k, depth):
    """Message depth (0 root, 1 reply, 2 reply to the reply) of thread k.
    Threads with k % 3 == 0 carry "needle" in every body; replies say
    "second" or "third" in the body; k % 4 == 1 has X-Colour: blue (a
    header only TEXT sees).  Dates: roots first, in reverse thread
    order, so sequence order, date order and thread order all differ."""
    mid = "t%d-%d@example.org" % (k, depth)
    h = ["From: Sender %02d <s%02d@example.org>" % (k % 7, k % 7),
         "To: %s" % USER,
         "Subject: %stopic %03d" % ("Re: " * depth, k),
         "Date: Mon, 7 Feb 1994 %02d:%02d:00 +0000" % (
             depth * 6 + (THREADS - k) // 60, (THREADS - k) % 60),
         "Message-ID: <%s>" % mid,
         "X-Colour: %s" % colour(k)]
    if depth:
        refs = " ".join("<t%d-%d@example.org>" % (k, d)
                        for d in range(depth))
        h += ["References: %s" % refs,
              "In-Reply-To: <t%d-%d@example.org>" % (k, depth - 1)]
    body = ["hello from thread %d" % k,
            ("first", "second", "third")[depth]]
    if k % 3 == 0:
        body.append("a needle in the hay")
    body.append("x" * (k % 13) * 10)
    return ("\r\n".join(h) + "\r\n\r\n" + "\r\n".join(body) +
            "\r\n").encode()


@pytest.fixture
def srv(make_server, pw_hashes):
    s = make_server(
        services=["smtp", "imap"], debug=True,
        conf={"accounts": [{"name": USER,
                            "hashed_password": pw_hashes("secret")}]})
    with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as c:
        # Sequence order: every root, then every reply, then the rest.
        for depth in range(3):
            for k in range(THREADS):
                c.sendmail("sender@example.org", [USER], message(k, depth))
    return s


def login(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=60)
    m.login(USER, "secret")
    return m


def raw(m, line):
    """Send one tagged command; return (untagged lines, tagged line)."""
    tag = m._new_tag()
    m.send(tag + b" " + line + b"\r\n")
    out = []
    while True:
        ln = m.readline().rstrip(b"\r\n")
        if ln.startswith(tag + b" "):
            return out, ln[len(tag) + 1:]
        out.append(ln)


def one(m, line, what):
    untagged, tagged = raw(m, line)
    assert tagged.startswith(b"OK"), (line, tagged)
    got = [u for u in untagged if u.startswith(b"* " + what)]
    assert len(got) == 1, (line, untagged)
    return got[0][len(b"* " + what):].decode().strip()


def search(m, keys, uid=False):
    out = one(m, (b"UID SEARCH " if uid else b"SEARCH ") + keys, b"SEARCH")
    return [int(x) for x in out.split()]


def sort(m, crit, keys, uid=False):
    out = one(m, (b"UID SORT " if uid else b"SORT ") + crit + b" UTF-8 " +
              keys, b"SORT")
    return [int(x) for x in out.split()]


def thread(m, alg, keys, uid=False):
    return one(m, (b"UID THREAD " if uid else b"THREAD ") + alg +
               b" UTF-8 " + keys, b"THREAD")


def thread_nums(t):
    return sorted(int(x) for x in re.findall(r"\d+", t))


def match_logs(srv, what):
    return re.findall(r"imap %s match=(\w+) msgs=(\d+) files=(\d+) "
                      r"hits=(\d+)" % what, srv.log())


KEYS = [b"BODY needle", b"TEXT blue", b"TEXT second",
        b"OR BODY needle TEXT blue", b"NOT BODY needle",
        b"BODY third HEADER X-Colour grey", b"BODY nothing-matches-this"]


def test_sort_with_file_keys_matches_search(srv):
    m = login(srv)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"%d" % (3 * THREADS)], data
    crits = [b"(SUBJECT)", b"(DATE)", b"(REVERSE ARRIVAL)", b"(FROM DATE)",
             b"(SIZE REVERSE SUBJECT)", b"(DISPLAYFROM)"]
    full = {c: sort(m, c, b"ALL") for c in crits}
    assert sorted(full[b"(DATE)"]) == list(range(1, 3 * THREADS + 1))
    for keys in KEYS:
        hits = search(m, keys)
        for c in crits:
            want = [n for n in full[c] if n in set(hits)]
            assert sort(m, c, keys) == want, (c, keys)
    # What the keys select, known independently of the server.
    needle = search(m, b"BODY needle")
    assert needle == sorted(d * THREADS + k + 1 for d in range(3)
                            for k in range(THREADS) if k % 3 == 0)
    blue = search(m, b"TEXT blue")
    assert blue == sorted(d * THREADS + k + 1 for d in range(3)
                          for k in range(THREADS) if colour(k) == "blue")
    assert sort(m, b"(DATE)", b"BODY nothing-matches-this") == []
    # UID SORT prints UIDs (here equal to sequence numbers).
    uids = search(m, b"BODY needle", uid=True)
    assert sort(m, b"(SUBJECT)", b"BODY needle", uid=True) == \
        [n for n in full[b"(SUBJECT)"] if n in set(uids)]
    m.logout()

    # Every SORT matched on a worker; those with file keys read files.
    logs = match_logs(srv, "sort")
    assert len(logs) == len(crits) * (len(KEYS) + 1) + 2, logs
    assert all(w == "worker" for w, _, _, _ in logs), logs
    assert all(int(n) == 3 * THREADS for _, n, _, _ in logs), logs
    assert any(int(f) == 3 * THREADS for _, _, f, _ in logs), logs
    assert ("worker", "300", "300", str(len(needle))) in logs, logs


def test_thread_with_file_keys_matches_search(srv):
    m = login(srv)
    m.select("INBOX")
    # Whole threads selected: each comes back as its chain, threads in
    # the order of their roots' dates (the reverse of k).
    t = thread(m, b"REFERENCES", b"BODY needle")
    want = "".join("(%d %d %d)" % (k + 1, THREADS + k + 1, 2 * THREADS + k + 1)
                   for k in reversed(range(THREADS)) if k % 3 == 0)
    assert t == want
    assert thread_nums(t) == search(m, b"BODY needle")

    # The oracle: THREAD ALL over a copy of exactly the SEARCH hits.
    assert m.create("Oracle")[0] == "OK"
    for keys in KEYS[:6]:
        for alg in (b"REFERENCES", b"ORDEREDSUBJECT"):
            uids = search(m, keys, uid=True)
            assert thread_nums(thread(m, alg, keys, uid=True)) == uids
            m.select("Oracle")
            if search(m, b"ALL"):
                m.store("1:*", "+FLAGS", "\\Deleted")
                m.expunge()
            m.select("INBOX")
            _, tagged = raw(m, b"UID COPY %s Oracle" %
                            ",".join(map(str, uids)).encode())
            cu = re.match(rb"OK \[COPYUID \d+ (\S+) (\S+)\]", tagged)
            assert cu, tagged
            back = dict(zip(expand(cu.group(2)), expand(cu.group(1))))
            m.select("Oracle")
            oracle = thread(m, alg, b"ALL", uid=True)
            m.select("INBOX")
            mapped = re.sub(r"\d+", lambda x: str(back[int(x.group(0))]),
                            oracle)
            assert thread(m, alg, keys, uid=True) == mapped, (alg, keys)
    m.logout()

    logs = match_logs(srv, "thread")
    assert logs and all(w == "worker" for w, _, _, _ in logs), logs
    nneedle = 3 * len([k for k in range(THREADS) if k % 3 == 0])
    assert ("worker", "300", "300", str(nneedle)) in logs, logs


def expand(s):
    out = []
    for part in s.decode().split(","):
        a, _, b = part.partition(":")
        out += range(int(a), int(b or a) + 1)
    return out


def test_search_logs_where_it_matched(srv):
    m = login(srv)
    m.select("INBOX")
    assert len(search(m, b"TEXT second")) == THREADS
    assert len(search(m, b"UNSEEN")) == 3 * THREADS
    m.logout()
    logs = match_logs(srv, "search")
    assert ("worker", "300", "300", str(THREADS)) in logs, logs
    # Index-only keys stay on the loop and open no file.
    assert ("loop", "300", "0", "300") in logs, logs
