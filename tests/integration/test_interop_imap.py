"""
IMAP interoperability with real clients (acceptance of issue "IMAP server").

- mbsync (isync): full two-way sync of an account with POSTERN_INTEROP_MSGS
  (default 1000) messages in INBOX plus folders created and filled over
  IMAP; a second sync that changes nothing; a flag set in the local
  Maildir and a message added locally, synced back and checked on the
  server with imaplib; a flag set on the server synced down.
- offlineimap3 (two-way, it exits 0 on errors: its output is grepped for
  ERROR) and getmail6 (SimpleIMAPSSLRetriever, read_all = false): twice,
  the second run fetching nothing.
- curl imaps://: LIST, UID SEARCH, FETCH of one message by UID, compared
  byte for byte with imaplib's BODY.PEEK[].
- neomutt: its IMAP reader needs a terminal; driven through a pty it saves
  every message of INBOX to a local mbox (skipped only if `script` from
  util-linux is missing, which Debian always ships).

Every client is required (dist/deps.sh installs isync, offlineimap3,
getmail6, curl, neomutt): a missing client fails the test.
isync and offlineimap check the certificate by DNS name only: host
"localhost" (the test CA's certificate carries DNS:localhost).
"""
import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import getmail_setup

N_MSGS = int(os.environ.get("POSTERN_INTEROP_MSGS", "1000"))
USER = "alice@example.test"
PW = "s3cret pass"          # a space: clients must quote it

MSG = (b"From: Sender %d <sender%d@example.org>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: interop message %d\r\n"
       b"Message-ID: <interop%d@example.org>\r\n"
       b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
       b"\r\n"
       b"Body of message %d\r\n"
       b".leading dot line\r\n"
       b"last line\r\n")

FOLDERS = {"Work": 12, "Work.Reports": 7, "Archive 2024": 5}


def need(tool):
    path = shutil.which(tool)
    assert path, ("%s is not installed: dist/deps.sh must install it "
                  "(apt-get install isync offlineimap3 getmail6 curl "
                  "neomutt)" % tool)
    return path


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "imap", "imaps"],
        conf={
            "message_size_limit": 100000,
            "mailboxes": [
                {"name": n, "auto": "subscribe", "special_use": "\\" + n}
                for n in ("Drafts", "Junk", "Sent", "Trash")],
            "accounts": [{"name": USER,
                          "hashed_password": pw_hashes(PW)}],
        })


def seed(srv, n, conns=4):
    """n messages to INBOX over SMTP, conns connections in parallel."""
    errs = []

    def work(k):
        try:
            with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                              timeout=30) as c:
                for i in range(k, n, conns):
                    c.sendmail("sender@example.org", [USER],
                               MSG % (i, i, i, i, i))
        except Exception as e:          # noqa: BLE001
            errs.append(e)
    t0 = time.monotonic()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs, errs
    return time.monotonic() - t0


def imaps(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context())
    m.login(USER, PW)
    return m


def make_folders(srv):
    m = imaps(srv)
    for name, count in FOLDERS.items():
        typ, _ = m.create('"%s"' % name)
        assert typ == "OK", name
        for i in range(count):
            typ, _ = m.append('"%s"' % name, None, None,
                              MSG % (9000 + i, 0, i, hash(name) % 1000 * 100
                                     + i, i))
            assert typ == "OK"
    m.logout()


def server_count(m, box):
    typ, d = m.select('"%s"' % box, readonly=True)
    assert typ == "OK", (box, d)
    return int(d[0])


def maildir_count(d):
    d = Path(d)
    return sum(len(os.listdir(d / s)) for s in ("new", "cur")
               if (d / s).is_dir())


def msg_files(d):
    return [p for s in ("new", "cur") if (d / s).is_dir()
            for p in sorted((d / s).iterdir())]


def has_subject(path, i):
    """mbsync stores local files with LF line ends."""
    return re.search(rb"^Subject: interop message %d\r?$" % i,
                     path.read_bytes(), re.M) is not None


def run(cmd, timeout=300, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       **kw)
    return r, r.stdout + r.stderr


# ---- mbsync ---------------------------------------------------------------

def mbsync_rc(srv, w):
    rc = w / "mbsyncrc"
    rc.write_text("""IMAPAccount a
Host localhost
Port %d
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
SystemCertificates no

IMAPStore far
Account a

MaildirStore near
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel c
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
CopyArrivalDate yes
""" % (srv.ports["imaps"], USER, PW, srv.ca, w / "mail", w / "mail"))
    (w / "mail").mkdir(exist_ok=True)
    return rc


# mbsync prints its progress counters ("C: 1/1  B: 8/8  F: +0/0 *0/0 #0/0
#  N: +1024/1024 *0/0 #0/0": messages propagated to the far / near side:
# new, flag changes, trashed) only to a terminal: run it under script(1).
STATS = re.compile(r"F: \+(\d+)/\d+ \*(\d+)/\d+ #(\d+)/\d+\s+"
                   r"N: \+(\d+)/\d+ \*(\d+)/\d+ #(\d+)/\d+")


def mbsync(rc):
    cmd = "%s -c %s -a" % (need("mbsync"), rc)
    r, out = run([need("script"), "-qec", cmd, "/dev/null"],
                 stdin=subprocess.DEVNULL)
    assert r.returncode == 0, out[-4000:]
    assert "rror" not in out, out[-4000:]
    return out


def stats(out):
    """(far +new, *flags, #trash, near +new, *flags, #trash) of the run."""
    m = STATS.findall(out)
    assert m, out[-3000:]
    return tuple(int(x) for x in m[-1])


def test_mbsync_two_way(srv, tmp_path):
    took = seed(srv, N_MSGS)
    print("seeded %d messages in %.1f s" % (N_MSGS, took))
    make_folders(srv)
    w = tmp_path / "mbsync"
    w.mkdir()
    rc = mbsync_rc(srv, w)
    local = w / "mail"

    # 1: full download
    t0 = time.monotonic()
    out = mbsync(rc)
    print("first sync %.1f s" % (time.monotonic() - t0))
    assert maildir_count(local / "INBOX") == N_MSGS, out[-2000:]
    # SubFolders Verbatim maps the server's "." hierarchy to directories
    assert maildir_count(local / "Work") == FOLDERS["Work"]
    assert maildir_count(local / "Work" / "Reports") == FOLDERS["Work.Reports"]
    assert maildir_count(local / "Archive 2024") == FOLDERS["Archive 2024"]
    for box in ("Drafts", "Sent", "Junk"):
        assert (local / box / "cur").is_dir(), box
    s = stats(out)
    assert s[3] == N_MSGS + sum(FOLDERS.values()), s   # near: +N
    assert s[0] == 0, s                                  # nothing uploaded

    # 2: nothing changed -> nothing transferred, same local files
    before = sorted(p.name for p in local.rglob("*") if p.is_file()
                    and p.parent.name in ("cur", "new"))
    out = mbsync(rc)
    assert stats(out) == (0,) * 6, out[-2000:]
    after = sorted(p.name for p in local.rglob("*") if p.is_file()
                   and p.parent.name in ("cur", "new"))
    assert before == after

    # 3: local changes go up: flag one message, mark one seen, add one
    pick = [p for p in msg_files(local / "INBOX")
            if has_subject(p, 7)]
    assert len(pick) == 1
    p = pick[0]
    base, _, flags = p.name.partition(":2,")
    # unseen mail sits in new/ without ":2,": set flags = move to cur/
    p.rename(local / "INBOX" / "cur" /
             (base + ":2," + "".join(sorted(set(flags + "FS")))))
    newmsg = (local / "Work" / "new" / "1700000000.local1.host")
    newmsg.write_bytes(MSG % (777777, 7, 777777, 777777, 7))
    out = mbsync(rc)
    s = stats(out)
    assert s[0] == 1 and s[1] == 1, (s, out[-2000:])     # far: +1 *1

    m = imaps(srv)
    assert server_count(m, "INBOX") == N_MSGS
    typ, d = m.search(None, "FLAGGED")
    ids = d[0].split()
    assert len(ids) == 1, d
    typ, d = m.fetch(ids[0], "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"\\Flagged" in d[0][0] and b"\\Seen" in d[0][0], d
    assert b"interop message 7\r\n" in d[0][1], d
    assert server_count(m, "Work") == FOLDERS["Work"] + 1
    typ, d = m.search(None, "SUBJECT", '"interop message 777777"')
    assert len(d[0].split()) == 1, d

    # 4: a server-side change comes down: flag message 3 via IMAP
    m.select("INBOX")
    typ, d = m.search(None, "SUBJECT", '"interop message 3"')
    typ, _ = m.store(d[0].split()[0], "+FLAGS", "(\\Answered)")
    assert typ == "OK"
    m.logout()
    out = mbsync(rc)
    s = stats(out)
    assert s[4] == 1 and s[0] == 0 and s[3] == 0, (s, out[-2000:])
    hit = [p for p in msg_files(local / "INBOX")
           if has_subject(p, 3)]
    assert len(hit) == 1 and "R" in hit[0].name.partition(":2,")[2], hit

    # 5: and then again nothing
    out = mbsync(rc)
    assert stats(out) == (0,) * 6, out[-2000:]


# ---- offlineimap3 / getmail6 -----------------------------------------------

def test_offlineimap_two_way(srv, tmp_path):
    n = min(N_MSGS, 200)
    seed(srv, n)
    make_folders(srv)
    w = tmp_path / "oi"
    w.mkdir()
    rc = w / "rc"
    rc.write_text("""[general]
accounts = a
metadata = %s/meta
[Account a]
localrepository = L
remoterepository = R
[Repository L]
type = Maildir
localfolders = %s/mail
sep = /
[Repository R]
type = IMAP
remotehost = localhost
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = yes
sslcacertfile = %s
""" % (w, w, srv.ports["imaps"], USER, PW, srv.ca))
    cmd = [need("offlineimap"), "-c", str(rc), "-o", "-u", "basic"]

    def oi():
        r, out = run(cmd)
        assert r.returncode == 0, out[-4000:]
        assert "ERROR" not in out and "Traceback" not in out, out[-4000:]
        return out

    oi()
    local = w / "mail"
    assert maildir_count(local / "INBOX") == n
    assert maildir_count(local / "Work") == FOLDERS["Work"]
    assert maildir_count(local / "Work" / "Reports") == FOLDERS["Work.Reports"]
    assert maildir_count(local / "Archive 2024") == FOLDERS["Archive 2024"]
    files1 = sorted(p.name for p in local.rglob("*") if p.is_file())

    out = oi()                              # no changes
    assert "Copy message" not in out, out[-3000:]
    files2 = sorted(p.name for p in local.rglob("*") if p.is_file())
    assert files1 == files2

    # local flag + new local message go up
    p = msg_files(local / "INBOX")[0]
    body = p.read_bytes()
    base, _, flags = p.name.partition(":2,")
    p.rename(local / "INBOX" / "cur" /
             (base + ":2," + "".join(sorted(set(flags + "F")))))
    (local / "Archive 2024" / "new" / "1700000001.oi.host").write_bytes(
        MSG % (888888, 8, 888888, 888888, 8))
    oi()
    m = imaps(srv)
    assert server_count(m, "Archive 2024") == FOLDERS["Archive 2024"] + 1
    m.select("INBOX", readonly=True)
    typ, d = m.search(None, "FLAGGED")
    assert len(d[0].split()) == 1, d
    typ, d = m.fetch(d[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subj = re.search(rb"Subject: [^\r\n]*", body).group(0)
    assert subj in d[0][1], (subj, d)
    m.logout()


def test_getmail_imaps_twice(srv, gm_dir):
    n = min(N_MSGS, 200)
    seed(srv, n)
    d = gm_dir
    cmd, md = getmail_setup(d, "SimpleIMAPSSLRetriever",
                            srv.ports["imaps"], USER, PW, srv.ca)
    r, out = run(cmd)
    assert r.returncode == 0, out[-3000:]
    assert maildir_count(md) == n, out[-3000:]
    assert re.search(r"\b%d messages? \(\d+ bytes\) retrieved" % n, out), out
    r, out = run(cmd)
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"\b0 messages? \(0 bytes\) retrieved", out), out
    assert maildir_count(md) == n


# ---- curl ----------------------------------------------------------------

def test_curl_imaps_list_search_fetch(srv):
    seed(srv, 5)
    make_folders(srv)
    curl = need("curl")
    url = "imaps://localhost:%d/" % srv.ports["imaps"]
    base = [curl, "-sS", "--ssl-reqd", "--cacert", srv.ca, "-u",
            "%s:%s" % (USER, PW), "--max-time", "30"]
    r, out = run(base + [url])
    assert r.returncode == 0, out
    for name in ["INBOX", "Drafts", "Sent", "Junk", "Work", "Work.Reports",
                 "Archive 2024"]:
        assert re.search(r'^\* LIST \([^)]*\) "\." "?%s"?\r?$'
                         % re.escape(name), r.stdout, re.M), (name, r.stdout)

    r, out = run(base + ["-X", "UID SEARCH ALL", url + "INBOX"])
    assert r.returncode == 0, out
    uids = [int(x) for x in r.stdout.split("SEARCH", 1)[1].split()]
    assert len(uids) == 5

    m = imaps(srv)
    m.select("INBOX", readonly=True)
    uid = uids[3]
    typ, d = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
    want = d[0][1]
    r = subprocess.run(base + [url + "INBOX;UID=%d" % uid],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want
    # a section and a folder with a space, through URL escaping
    typ, d = m.select('"Archive 2024"', readonly=True)
    typ, d = m.uid("SEARCH", None, "ALL")
    uid = int(d[0].split()[-1])
    typ, d = m.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
    r = subprocess.run(base + [url + "Archive%%202024;UID=%d;SECTION=HEADER"
                               % uid], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == d[0][1]
    # a UID that does not exist: curl must fail, the server must live on
    r = subprocess.run(base + [url + "INBOX;UID=999999"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0
    m.noop()
    m.logout()


# ---- neomutt -------------------------------------------------------------

def test_neomutt_reads_imaps(srv, tmp_path):
    """neomutt's IMAP reader needs a tty: run it under script(1) and let
    push'ed keys tag every message and save them to an mbox, then quit."""
    seed(srv, 20)
    neomutt = need("neomutt")
    script = need("script")
    box = tmp_path / "saved.mbox"
    muttrc = tmp_path / "muttrc"
    muttrc.write_text("""set ssl_ca_certificates_file = "%s"
set imap_user = "%s"
set imap_pass = "%s"
set folder = "imaps://localhost:%d/"
set spoolfile = "+INBOX"
set header_cache = ""
set message_cachedir = ""
set confirmappend = no
set confirmcreate = no
set mbox_type = mbox
set quit = yes
set mark_old = no
set move = no
set delete = no
set sort = date-sent
set timeout = 1
set imap_keepalive = 30
push "<tag-pattern>~A<enter><tag-prefix><save-message>%s<enter><quit>"
""" % (srv.ca, USER, PW, srv.ports["imaps"], box))
    env = dict(os.environ, TERM="xterm", HOME=str(tmp_path))
    cmd = "%s -n -F %s" % (neomutt, muttrc)
    r = subprocess.run([script, "-qec", cmd, "/dev/null"], env=env,
                       capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert box.exists(), r.stdout[-3000:]
    data = box.read_bytes()
    got = sorted(int(x) for x in
                 re.findall(rb"^Subject: interop message (\d+)$", data, re.M))
    assert got == list(range(20)), (got, r.stdout[-2000:])
    # save-message copies without deleting on the server (move = no, and
    # save marks for deletion only in the local view; we quit without sync)
    m = imaps(srv)
    assert server_count(m, "INBOX") == 20
    m.logout()
