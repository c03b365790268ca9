"""
`postern import ADDRESS MAILDIR|MBOX`: bulk import through the running
daemon's control socket (IMPORT request).  Maildir flags and Dovecot
keywords are kept, message bytes are stored as they were (CRLF added),
mbox files are split on "From " lines with mboxrd unescaping.
"""
import imaplib
import re
import subprocess

import pytest

from conftest import BIN


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["imaps"],
        conf={
            "message_size_limit": 20000,
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret")},
            ],
        })


def imp(srv, *args):
    return subprocess.run([BIN, "import", "-c", str(srv.conf_path)] +
                          list(args), capture_output=True, timeout=120)


def imaps(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context())
    m.login("alice@example.test", "secret")
    return m


def fetch_all(m, box="INBOX"):
    """{uid: (flags set, body bytes)} of a mailbox."""
    typ, _ = m.select(box)
    assert typ == "OK"
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK"
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())
        out[uid] = (flags, item[1])
    return out


def msg(n):
    return (b"From: a@example.org\nTo: alice@example.test\n"
            b"Subject: imported %d\n\nbody %d\n" % (n, n))


def test_import_maildir_keeps_flags_and_order(srv, tmp_path):
    src = tmp_path / "src"
    for sub in ("cur", "new", "tmp"):
        (src / sub).mkdir(parents=True)
    (src / "dovecot-keywords").write_text("0 $Label1\n1 Important\n")
    # dovecot-uidlist order wins over name order.
    (src / "cur" / "1700000003.M1P1.h:2,S").write_bytes(msg(1))
    (src / "cur" / "1700000001.M2P1.h,S=10:2,FRa").write_bytes(msg(2))
    (src / "cur" / "1700000002.M3P1.h:2,DTb").write_bytes(msg(3))
    (src / "new" / "1700000004.M4P1.h").write_bytes(msg(4))
    (src / "dovecot-uidlist").write_text(
        "3 V1 N9 G0123456789abcdef0123456789abcdef\n"
        "5 :1700000003.M1P1.h\n6 :1700000001.M2P1.h,S=10\n"
        "7 :1700000002.M3P1.h\n")
    r = imp(srv, "alice@example.test", str(src))
    assert r.returncode == 0, r.stderr
    assert b"imported 4/4" in r.stderr
    got = fetch_all(imaps(srv))
    assert sorted(got) == [1, 2, 3, 4]
    assert got[1] == ({"\\Seen"}, msg(1).replace(b"\n", b"\r\n"))
    # Keywords come along (RFC 9051 2.3.2, FETCH FLAGS shows them).
    assert got[2][0] == {"\\Flagged", "\\Answered", "$Label1"}
    assert got[3][0] == {"\\Draft", "\\Deleted", "Important"}
    assert got[4][0] == set()
    assert got[4][1] == msg(4).replace(b"\n", b"\r\n")
    # The index has them as well.
    r = subprocess.run([BIN, "check", "-v", "-c", str(srv.conf_path),
                        "alice@example.test"], capture_output=True,
                       timeout=60)
    out = r.stdout.decode()
    assert re.search(r"uid=2 .*keywords=\$Label1 ", out), out
    assert re.search(r"uid=3 .*keywords=Important ", out), out
    # Not a delivery: nothing prepended.
    assert all(not v[1].startswith(b"Delivered-To") for v in got.values())


def test_import_mbox(srv, tmp_path):
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(
        b"From a@example.org Mon Jan  1 00:00:00 2024\n"
        b"Subject: one\n\nline\n>From the start\n>>From deeper\n"
        b">Fromage\n\n"
        b"From b@example.org Mon Jan  1 00:00:01 2024\n"
        b"Subject: two\r\n\r\nalready crlf\r\n\r\n"
        b"From c@example.org Mon Jan  1 00:00:02 2024\n"
        b"Subject: three\n\nno final newline")
    r = imp(srv, "alice@example.test", str(mbox))
    assert r.returncode == 0, r.stderr
    assert b"imported 3/3" in r.stderr
    got = fetch_all(imaps(srv))
    assert [got[u][1] for u in sorted(got)] == [
        b"Subject: one\r\n\r\nline\r\nFrom the start\r\n>From deeper\r\n"
        b">Fromage\r\n",
        b"Subject: two\r\n\r\nalready crlf\r\n",
        b"Subject: three\r\n\r\nno final newline\r\n"]


def test_import_refusal_goes_on_and_fails(srv, tmp_path):
    mbox = tmp_path / "big.mbox"
    mbox.write_bytes(b"From x\nSubject: a\n\nsmall\n\n"
                     b"From x\nSubject: b\n\n" + b"y" * 30000 + b"\n\n"
                     b"From x\nSubject: c\n\nsmall\n")
    r = imp(srv, "alice@example.test", str(mbox))
    assert r.returncode == 1
    assert b"message 2 refused" in r.stderr, r.stderr
    assert b"imported 2/3" in r.stderr
    assert len(fetch_all(imaps(srv))) == 2


def test_import_folder_and_errors(srv, tmp_path):
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(b"From x\nSubject: a\n\nbody\n")
    m = imaps(srv)
    assert m.create("Archive")[0] == "OK"
    r = imp(srv, "--folder", "Archive", "alice@example.test", str(mbox))
    assert r.returncode == 0, r.stderr
    assert len(fetch_all(m, "Archive")) == 1
    m.logout()
    r = imp(srv, "--folder", "Nope", "alice@example.test", str(mbox))
    assert r.returncode == 1
    bad = tmp_path / "bad.mbox"
    bad.write_bytes(b"Subject: not an mbox\n\n")
    r = imp(srv, "alice@example.test", str(bad))
    assert r.returncode == 1 and b"not an mbox" in r.stderr
    assert srv.stop() == 0
    r = imp(srv, "alice@example.test", str(mbox))
    assert r.returncode == 1 and b"running" in r.stderr
