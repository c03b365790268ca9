"""
IMAP keywords, UTF8=ACCEPT and the per-user connection limit.

Keywords (RFC 9051 2.3.2, RFC 3501 2.3.2): STORE +FLAGS/-FLAGS/FLAGS
with $Forwarded, $Junk, $NotJunk, $label1 and custom atoms, returned by
FETCH FLAGS and unsolicited FETCH, searched with KEYWORD/UNKEYWORD,
listed in FLAGS and PERMANENTFLAGS (with \\* while the mailbox may define
more), written as Dovecot keyword letters in the Maildir names with the
folder's dovecot-keywords file so they survive a lost index + `postern
reindex`; COPY and MOVE keep them; the 64-keyword limit answers NO [LIMIT].

UTF8=ACCEPT (RFC 6855): ENABLE, mailbox names in UTF-8 on the wire, the
on-disk name modified UTF-7 unless storage.use_utf8_folder_names.

max_connections_per_user (per user and client address, as POP3 and
Dovecot's mail_max_userip_connections): the login over it gets NO [LIMIT].
"""
import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

BIN = os.environ.get("POSTERN_BIN", "postern")
USER = "alice@example.test"

MSG = (b"From: Sender <sender@example.org>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: kw %d\r\n"
       b"Message-ID: <kw%d@example.org>\r\n"
       b"\r\n"
       b"Body %d\r\n")


def conf(pw_hashes, **extra):
    c = {
        "mailboxes": [
            {"name": n, "auto": "subscribe", "special_use": "\\" + n}
            for n in ("Drafts", "Junk", "Sent", "Trash")],
        "accounts": [
            {"name": USER, "hashed_password": pw_hashes("secret")},
            {"name": "bob@example.test",
             "hashed_password": pw_hashes("hunter2")},
        ],
    }
    c.update(extra)
    return c


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(services=["smtp", "imap", "imaps", "pop3"],
                       conf=conf(pw_hashes))


def deliver(srv, n=1, to=USER, start=0):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        for i in range(start, start + n):
            c.sendmail("sender@example.org", [to], MSG % (i, i, i))


def login(srv, user=USER, pw="secret"):
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=10)
    m.login(user, pw)
    return m


def flags_of(m, seq):
    typ, data = m.fetch(str(seq), "(FLAGS)")
    assert typ == "OK", data
    line = data[0].decode()
    got = re.search(r"FLAGS \(([^)]*)\)", line)
    assert got, line
    return set(got.group(1).split())


def store(m, seq, op, flags):
    typ, data = m.store(str(seq), op, flags)
    assert typ == "OK", data
    return data


def search(m, *keys):
    typ, data = m.search(None, *keys)
    assert typ == "OK", data
    return [int(x) for x in data[0].split()]


def untagged(m, name):
    return m.untagged_responses.pop(name, [])


def cur_files(srv, folder=""):
    d = srv.mailbox(USER) / folder / "cur"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def kwfile(srv, folder=""):
    """dovecot-keywords as {name: letter}."""
    p = srv.mailbox(USER) / folder / "dovecot-keywords"
    out = {}
    for line in p.read_text().splitlines():
        idx, name = line.split(" ", 1)
        out[name] = chr(ord("a") + int(idx))
    return out


def letters(fname):
    return fname.split(":2,", 1)[1] if ":2," in fname else ""


# ---- keywords ----------------------------------------------------------

def test_keywords_store_fetch_search(srv):
    deliver(srv, 3)
    m = login(srv)
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    fl = untagged(m, "FLAGS")
    assert fl and b"\\Seen" in fl[-1]
    ok = b" ".join(untagged(m, "OK"))
    assert b"PERMANENTFLAGS (" in ok and b"\\*)" in ok, ok

    store(m, 1, "+FLAGS", "($Forwarded $label1)")
    store(m, 2, "+FLAGS", "($Junk custom_kw \\Flagged)")
    assert flags_of(m, 1) == {"$Forwarded", "$label1"}
    assert flags_of(m, 2) == {"$Junk", "custom_kw", "\\Flagged"}
    assert flags_of(m, 3) == set()
    # The new keywords were announced (RFC 9051 7.3.5).
    m.noop()

    assert search(m, "KEYWORD", "$label1") == [1]
    assert search(m, "KEYWORD", "$LABEL1") == [1]  # no case
    assert search(m, "UNKEYWORD", "$Junk") == [1, 3]
    assert search(m, "KEYWORD", "$Forwarded", "KEYWORD", "$label1") == [1]
    assert search(m, "OR", "KEYWORD", "$Junk", "KEYWORD", "$label1") == [1, 2]
    assert search(m, "KEYWORD", "neverdefined") == []
    assert search(m, "UNKEYWORD", "neverdefined") == [1, 2, 3]

    store(m, 1, "-FLAGS", "($label1)")
    assert flags_of(m, 1) == {"$Forwarded"}
    # FLAGS replaces keywords too.
    store(m, 2, "FLAGS", "(\\Seen $NotJunk)")
    assert flags_of(m, 2) == {"\\Seen", "$NotJunk"}
    assert search(m, "KEYWORD", "$Junk") == []
    assert search(m, "KEYWORD", "$NotJunk") == [2]

    # Bad keywords are syntax errors.
    for bad in ("(\\Bogus)", "(a]b)", "(a%b)"):
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            m.store("1", "+FLAGS", bad)
    m.logout()


def test_keywords_unsolicited_fetch_and_flags(srv):
    deliver(srv, 2)
    a = login(srv)
    b = login(srv)
    a.select("INBOX")
    b.select("INBOX")
    untagged(b, "FLAGS")
    untagged(b, "FETCH")
    store(a, 2, "+FLAGS", "($label2)")
    b.noop()
    fetch = b" ".join(untagged(b, "FETCH"))
    assert b"$label2" in fetch, fetch
    fl = untagged(b, "FLAGS")
    assert fl and b"$label2" in fl[-1], fl
    a.logout()
    b.logout()


def test_keywords_in_file_names_survive_reindex(srv):
    deliver(srv, 2)
    m = login(srv)
    m.select("INBOX")
    store(m, 1, "+FLAGS", "(\\Seen $Forwarded $label1)")
    store(m, 2, "+FLAGS", "($Junk)")
    m.logout()

    kw = kwfile(srv)
    assert set(kw) == {"$Forwarded", "$label1", "$Junk"}
    names = cur_files(srv)
    assert len(names) == 2
    one = [n for n in names if kw["$label1"] in letters(n)]
    assert len(one) == 1
    assert set(letters(one[0])) == {"S", kw["$Forwarded"], kw["$label1"]}
    two = [n for n in names if n != one[0]][0]
    assert letters(two) == kw["$Junk"]

    # Lose the index entirely: everything must come back from the names.
    assert srv.stop() == 0
    shutil.rmtree(srv.state_dir / "index.lmdb")
    r = subprocess.run([BIN, "reindex", "-c", str(srv.conf_path)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    srv.start()

    m = login(srv)
    m.select("INBOX")
    got = [flags_of(m, 1), flags_of(m, 2)]
    assert {"\\Seen", "$Forwarded", "$label1"} in got, got
    assert {"$Junk"} in got, got
    assert search(m, "KEYWORD", "$Junk") != []
    # The dovecot-keywords letters stay stable: a later keyword gets a
    # new letter, the old ones keep theirs.
    store(m, 1, "+FLAGS", "(later)")
    kw2 = kwfile(srv)
    for k, v in kw.items():
        assert kw2[k] == v
    assert kw2["later"] not in kw.values()
    m.logout()


def test_outside_keyword_letters_are_imported(srv):
    # A message given a keyword by another program (Dovecot) while we
    # run: the sync picks the letter up through dovecot-keywords.
    deliver(srv, 1)
    m = login(srv)
    m.select("INBOX")
    store(m, 1, "+FLAGS", "(\\Seen)")
    m.close()
    root = srv.mailbox(USER)
    (root / "dovecot-keywords").write_text("0 $Forwarded\n3 fromdovecot\n")
    name = cur_files(srv)[0]
    base = name.split(":2,")[0]
    time.sleep(0.01)
    os.rename(root / "cur" / name, root / "cur" / (base + ":2,Sad"))
    m.select("INBOX")
    assert flags_of(m, 1) == {"\\Seen", "$Forwarded", "fromdovecot"}
    m.logout()


def test_copy_and_move_keep_keywords(srv):
    deliver(srv, 2)
    m = login(srv)
    assert m.create("Archive")[0] == "OK"
    m.select("INBOX")
    store(m, 1, "+FLAGS", "($label3 $Forwarded)")
    store(m, 2, "+FLAGS", "(\\Flagged moveme)")
    typ, data = m.copy("1", "Archive")
    assert typ == "OK", data
    typ, data = m._simple_command("MOVE", "2", "Archive")
    assert typ == "OK", data
    m.select("Archive")
    got = [flags_of(m, 1), flags_of(m, 2)]
    assert got == [{"$label3", "$Forwarded"}, {"\\Flagged", "moveme"}], got
    assert search(m, "KEYWORD", "moveme") == [2]
    # The target's own dovecot-keywords numbers the letters there.
    kw = kwfile(srv, ".Archive")
    names = cur_files(srv, ".Archive")
    assert len(names) == 2
    want = [{kw["$label3"], kw["$Forwarded"]}, {"F", kw["moveme"]}]
    got = [set(letters(n)) for n in names]
    assert all(g in got for g in want), (names, kw)
    m.logout()


def test_keyword_limit(srv):
    deliver(srv, 2)
    m = login(srv)
    m.select("INBOX")
    many = ["kw%02d" % i for i in range(64)]
    store(m, 1, "+FLAGS", "(%s)" % " ".join(many[:40]))
    store(m, 2, "+FLAGS", "(%s)" % " ".join(many[40:]))
    assert len(flags_of(m, 1)) == 40 and len(flags_of(m, 2)) == 24
    # Reusing defined ones is fine; a 65th is not.
    store(m, 2, "+FLAGS", "(kw00 KW01)")
    typ, data = m.store("1", "+FLAGS", "(one_too_many)")
    assert typ == "NO" and b"[LIMIT]" in data[0], data
    assert "one_too_many" not in flags_of(m, 1)
    # The mailbox is full: PERMANENTFLAGS drops \*.
    m.select("INBOX")
    ok = b" ".join(untagged(m, "OK"))
    assert b"PERMANENTFLAGS (" in ok and b"\\*" not in ok, ok
    fl = untagged(m, "FLAGS")
    assert b"kw63" in fl[-1]
    # Removing keywords still works at the limit.
    store(m, 1, "-FLAGS", "(kw00 one_too_many)")
    assert "kw00" not in flags_of(m, 1)
    m.logout()


# ---- UTF8=ACCEPT -------------------------------------------------------

NAME = "Entwürfe 日本"
MUTF7 = "Entw&APw-rfe &ZeVnLA-"


def test_utf8_accept_create_list(srv):
    m = login(srv)
    assert "UTF8=ACCEPT" in m.capabilities
    typ, data = m.enable("UTF8=ACCEPT")
    assert typ == "OK", data
    assert m.create('"%s"' % NAME)[0] == "OK"
    typ, data = m.list()
    assert typ == "OK"
    lines = [d.decode("utf-8") for d in data]
    assert any(('"%s"' % NAME) in ln for ln in lines), lines
    assert not any(MUTF7 in ln for ln in lines), lines
    assert m.select('"%s"' % NAME)[0] == "OK"
    m.logout()
    # On disk the name stays modified UTF-7 (as Dovecot stores it).
    root = srv.mailbox(USER)
    assert (root / ("." + MUTF7)).is_dir()
    # A client that did not enable UTF8=ACCEPT sees modified UTF-7.
    m = login(srv)
    typ, data = m.list()
    lines = [d.decode("ascii") for d in data]
    assert any(MUTF7 in ln for ln in lines), lines
    # And 8-bit in a quoted string is refused without ENABLE.
    m.logout()


def test_utf8_folder_names_on_disk(make_server, pw_hashes):
    c = conf(pw_hashes)
    c["storage"] = {"use_utf8_folder_names": True}
    srv = make_server(services=["smtp", "imap"], conf=c)
    m = login(srv)
    m.enable("UTF8=ACCEPT")
    assert m.create('"%s"' % NAME)[0] == "OK"
    m.logout()
    assert (srv.mailbox(USER) / ("." + NAME)).is_dir()


def test_utf8_quoted_needs_enable(srv):
    s = srv.connect("imap", tls=False)
    s.sendall(b"a LOGIN alice@example.test secret\r\n")
    buf = b""
    while b"a OK" not in buf:
        buf += s.recv(4096)
    s.sendall(b'b CREATE "' + NAME.encode() + b'"\r\n')
    buf = b""
    while b"\r\nb " not in buf and not buf.startswith(b"b "):
        buf += s.recv(4096)
    assert b"b BAD" in buf or b"b NO" in buf, buf
    s.sendall(b"c ENABLE UTF8=ACCEPT\r\n")
    buf = b""
    while b"c OK" not in buf:
        buf += s.recv(4096)
    assert b"* ENABLED UTF8=ACCEPT" in buf
    # RFC 6855 4: APPEND with UTF8 (~{n}) data.
    body = ("Subject: grüße\r\n\r\nhi\r\n").encode()
    s.sendall(b"d APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(body), body))
    buf = b""
    while b"d OK" not in buf and b"d NO" not in buf and b"d BAD" not in buf:
        buf += s.recv(4096)
    assert b"d OK" in buf, buf
    s.close()


# ---- max_connections_per_user -------------------------------------------

def test_connection_limit_per_user_and_ip(make_server, pw_hashes):
    srv = make_server(services=["smtp", "imap"],
                      conf=conf(pw_hashes, max_connections_per_user=2))
    a = login(srv)
    b = login(srv)
    c = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=10)
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(USER, "secret")
    assert "LIMIT" in str(e.value) and "connections" in str(e.value)
    # Still connected and unauthenticated: another user may log in.
    assert c.login("bob@example.test", "hunter2")[0] == "OK"
    c.logout()
    srv.wait_log("max_connections_per_user")
    # A slot frees up when a session ends.
    a.logout()
    deadline = time.monotonic() + 5
    while True:
        d = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=10)
        try:
            d.login(USER, "secret")
            break
        except imaplib.IMAP4.error:
            d.shutdown()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    d.logout()
    b.logout()
