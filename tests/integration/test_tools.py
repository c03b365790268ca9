"""
The store tools: `postern deliver` through the control socket, `postern
reindex` (index rebuilt from the Maildir, Dovecot's dovecot-uidlist and
dovecot-keywords imported) and `postern check`.
"""
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import BIN

MSG = (b"From: Someone <someone@example.org>\n"
       b"To: alice@example.test\n"
       b"Subject: tools test\n"
       b"\n"
       b"body line one\n"
       b"body line two\n")


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp"],
        conf={
            "message_size_limit": 100000,
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret"),
                 "aliases": ["alias@example.test"]},
                {"name": "bob@example.test",
                 "hashed_password": pw_hashes("hunter2")},
                {"name": "carol@example.test",
                 "hashed_password": pw_hashes("carol")},
            ],
            "aliases": [{"address": "team@example.test",
                         "to": ["alice@example.test", "bob@example.test"]}],
        })


def run(srv, *args, data=None):
    return subprocess.run([BIN, args[0], "-c", str(srv.conf_path)] +
                          list(args[1:]), input=data, capture_output=True,
                          timeout=60)


def deliver(srv, to, data=MSG, folder=None):
    args = ["deliver", "--to", to]
    if folder:
        args += ["--folder", folder]
    return run(srv, *args, data=data)


def files(d):
    out = []
    for sub in ("new", "cur"):
        p = d / sub
        if p.is_dir():
            out += [p / f for f in sorted(os.listdir(p))]
    return out


def check_listing(srv, *extra):
    r = run(srv, "check", "-v", *extra)
    return r, r.stdout.decode()


# ---- deliver -----------------------------------------------------------

def test_deliver_is_durable_before_exit(srv):
    r = deliver(srv, "alice@example.test")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rb"uid=1\n", r.stdout), r.stdout
    got = files(srv.mailbox("alice@example.test"))
    assert len(got) == 1
    data = got[0].read_bytes()
    assert data.startswith(b"Delivered-To: alice@example.test\r\n")
    # LF was turned into CRLF, nothing else changed.
    assert data.endswith(MSG.replace(b"\n", b"\r\n"))
    r = deliver(srv, "alice@example.test")
    assert r.stdout == b"uid=2\n"


def test_deliver_strips_mbox_from_line(srv):
    r = deliver(srv, "bob@example.test",
                data=b"From someone@example.org Mon Jan 1 00:00:00 2024\n"
                + MSG)
    assert r.returncode == 0, r.stderr
    data = files(srv.mailbox("bob@example.test"))[0].read_bytes()
    assert b"From someone@" not in data
    assert b"\r\nFrom: Someone" in data


def test_deliver_daemon_stopped(srv):
    srv.stop()
    r = deliver(srv, "alice@example.test")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert str(srv.conf["listen"]["control"]) in err
    assert "running" in err
    assert files(srv.mailbox("alice@example.test")) == []


def test_deliver_folder(srv):
    root = srv.mailbox("alice@example.test")
    # Make the account (INBOX) and a folder, as a client would.
    assert deliver(srv, "alice@example.test").returncode == 0
    for sub in ("cur", "new", "tmp"):
        (root / ".Work" / sub).mkdir(parents=True, exist_ok=True)
    (root / ".Work" / "maildirfolder").touch()
    r = deliver(srv, "alice@example.test", folder="Work")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"uid=1\n"
    assert len(files(root / ".Work")) == 1
    # A folder that does not exist is an error, not a silent INBOX.
    r = deliver(srv, "alice@example.test", folder="Nope")
    assert r.returncode == 1
    assert b"does not exist" in r.stderr
    assert len(files(root)) == 1


def test_deliver_alias_and_fanout(srv):
    r = deliver(srv, "alias@example.test")
    assert r.returncode == 0, r.stderr
    data = files(srv.mailbox("alice@example.test"))[0].read_bytes()
    assert data.startswith(b"Delivered-To: alice@example.test\r\n"
                           b"X-Original-To: alias@example.test\r\n")
    r = deliver(srv, "team@example.test")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"uid=2,1\n"
    assert len(files(srv.mailbox("bob@example.test"))) == 1


def test_deliver_refusals(srv):
    r = deliver(srv, "nobody@example.test")
    assert r.returncode == 1
    assert b"failed" in r.stderr
    r = deliver(srv, "someone@elsewhere.example")
    assert r.returncode == 1
    assert b"not a local domain" in r.stderr
    r = deliver(srv, "alice@example.test", data=b"x" * 200000)
    assert r.returncode == 1
    assert b"message_size_limit" in r.stderr
    # The daemon is still fine.
    assert deliver(srv, "alice@example.test").returncode == 0


# ---- reindex and check -------------------------------------------------

def test_reindex_rebuilds_lost_index(srv):
    s = smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10)
    s.sendmail("someone@example.org", ["alice@example.test"],
               MSG.replace(b"\n", b"\r\n"))
    s.quit()
    for _ in range(2):
        assert deliver(srv, "alice@example.test").returncode == 0
    assert deliver(srv, "bob@example.test").returncode == 0
    r, out = check_listing(srv)
    assert r.returncode == 0, out + r.stderr.decode()
    # Reindex refuses while the daemon runs.
    r = run(srv, "reindex")
    assert r.returncode == 1
    assert b"running" in r.stderr
    assert srv.stop() == 0

    root = srv.mailbox("alice@example.test")
    got = files(root)
    assert len(got) == 3
    # Mark one \Seen by hand, as mutt would.
    first = got[0]
    base = first.name.split(":")[0]
    first.rename(root / "cur" / (base + ":2,S"))
    shutil.rmtree(srv.state_dir / "index.lmdb")

    r = run(srv, "reindex", "-v")
    assert r.returncode == 0, r.stderr
    assert b"4 messages added" in r.stdout, r.stdout
    r, out = check_listing(srv)
    assert r.returncode == 0, out + r.stderr.decode()
    assert "mailbox alice@example.test INBOX" in out
    seen = [ln for ln in out.splitlines() if base in ln]
    assert len(seen) == 1 and "flags=S " in seen[0], out
    assert out.count("  uid=") == 4

    # Restarted, the daemon uses the rebuilt index.
    srv.start()
    r = deliver(srv, "alice@example.test")
    assert r.stdout == b"uid=4\n"
    r, out = check_listing(srv)
    assert r.returncode == 0, out
    assert out.count("  uid=") == 5


def test_check_finds_inconsistencies(srv):
    for _ in range(2):
        assert deliver(srv, "alice@example.test").returncode == 0
    assert srv.stop() == 0
    root = srv.mailbox("alice@example.test")
    got = files(root)
    # Which UID does each file carry?  (Names sort by unpadded
    # microseconds, so the first file is not always UID 1.)
    _, listing = check_listing(srv, "alice@example.test")
    uid_of = {f: u for u, f in re.findall(r"  uid=(\d+) .* file=(\S+)",
                                          listing)}
    survivor = uid_of[got[1].name]
    got[0].unlink()
    (root / "new" / "1700000000.M1P1.outside").write_bytes(MSG)
    r = run(srv, "check")
    assert r.returncode == 1
    out = r.stdout.decode()
    assert "indexed message has no file" in out
    assert "file not indexed: 1700000000.M1P1.outside" in out
    r = run(srv, "reindex", "alice@example.test")
    assert r.returncode == 0, r.stderr
    r, out = check_listing(srv, "alice@example.test")
    assert r.returncode == 0, out
    # The surviving message keeps its UID; the new file gets the next.
    uids = re.findall(r"  uid=(\d+)", out)
    assert uids == [survivor, "3"], out


def dovecot_file(d, name, flags, body):
    data = body
    vsize = len(data) + data.count(b"\n")
    fname = "%s,S=%d,W=%d:2,%s" % (name, len(data), vsize, flags)
    (d / "cur" / fname).write_bytes(data)
    return vsize


def test_dovecot_migration(srv):
    assert srv.stop() == 0
    root = srv.mailbox("carol@example.test")
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
        (root / ".Archive" / sub).mkdir(parents=True)
    (root / ".Archive" / "maildirfolder").touch()
    names = ["1600000000.M1P1.old", "1600000001.M2P1.old",
             "1600000002.M3P1.old"]
    dovecot_file(root, names[0], "S", MSG)
    vsize = dovecot_file(root, names[1], "", MSG)
    dovecot_file(root, names[2], "FSa", MSG)
    # Dovecot keeps ",S=..,W=.." in the uidlist's names; both forms match.
    names[1] += ",S=%d,W=%d" % (len(MSG), vsize)
    # Not in the uidlist: arrived after Dovecot wrote it.
    (root / "new" / "1600000003.M4P1.old").write_bytes(MSG)
    (root / "dovecot-uidlist").write_text(
        "3 V1234567890 N100 G0123456789abcdef0123456789abcdef\n"
        "50 :%s\n51 W150 :%s\n77 :%s\n" % tuple(names))
    (root / "dovecot-keywords").write_text("0 $Label1\n1 Important\n")
    dovecot_file(root / ".Archive", "1500000000.M9P1.old", "RS", MSG)
    (root / ".Archive" / "dovecot-uidlist").write_text(
        "3 V1111 N8 G0123456789abcdef0123456789abcdef\n"
        "7 :1500000000.M9P1.old\n")
    (root / "subscriptions").write_text("V\t2\n\nArchive\n")

    r = run(srv, "reindex", "carol@example.test")
    assert r.returncode == 0, r.stderr
    r, out = check_listing(srv, "carol@example.test")
    assert r.returncode == 0, out + r.stderr.decode()
    assert ("mailbox carol@example.test INBOX uidvalidity=1234567890 "
            "uidnext=101 messages=4 unseen=2") in out, out
    assert "mailbox carol@example.test Archive uidvalidity=1111 uidnext=8 " \
        in out, out
    lines = {m.group(1): m.group(0) for m in
             re.finditer(r"  uid=(\d+) .*", out)}
    assert set(lines) == {"50", "51", "77", "100", "7"}, out
    assert "flags=S keywords=- " in lines["50"]
    assert "flags=- keywords=- " in lines["51"]
    assert "flags=FS keywords=$Label1 " in lines["77"]
    assert "file=1600000003.M4P1.old" in lines["100"]
    assert "flags=RS " in lines["7"]
    # RFC822.SIZE from W= (CRLF size of an LF file).
    assert "size=%d " % (len(MSG) + MSG.count(b"\n")) in lines["50"]

    srv.start()
    r = deliver(srv, "carol@example.test")
    assert r.stdout == b"uid=101\n", r.stderr
