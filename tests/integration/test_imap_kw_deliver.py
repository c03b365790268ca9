"""
Keywords given at delivery time go into the Maildir file names from the
start, as Dovecot writes them: IMAP APPEND with keywords, Sieve
imap4flags (addflag, fileinto :flags) on SMTP delivery.  The file lands
in cur/ with ":2," and the letters, each letter ('a' + n) named by the
folder's dovecot-keywords ("<n> <name>" lines), which is written before
the message file is placed (durably: letters never outlive their names).
So a lost index rebuilt by `postern reindex` from the file names keeps
every keyword, and a move back to Dovecot sees them.

Concurrent deliveries defining keywords in one folder must agree on the
letters: one name per letter, one letter per name.
"""
import imaplib
import re
import shutil
import smtplib
import subprocess
import threading
import uuid

import pytest

from conftest import BIN

USER = "alice@example.test"

SCRIPT = r'''require ["imap4flags", "fileinto", "variables"];
if header :is "subject" "labelled" {
    fileinto :flags "$Label1 custom" "Work";
    stop;
}
if header :is "subject" "junky" {
    addflag ["\\Seen", "$Junk"];
    keep;
    stop;
}
if header :matches "subject" "race *" {
    addflag "${1}";
    fileinto "Race";
    stop;
}
'''


@pytest.fixture
def srv(make_server, pw_hashes):
    s = make_server(
        services=["smtp", "imap"],
        conf={
            "mailboxes": [{"name": n, "auto": "create"}
                          for n in ("Work", "Race")],
            "accounts": [{"name": USER,
                          "hashed_password": pw_hashes("secret"),
                          "sieve_script": SCRIPT}],
        })
    return s


def message(subject):
    return ("From: someone@remote.example\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@remote.example>\r\n\r\nbody of %s\r\n" %
            (USER, subject, uuid.uuid4().hex, subject)).encode()


def send(srv, *subjects):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=30) as c:
        for subj in subjects:
            assert c.sendmail("someone@remote.example", [USER],
                              message(subj)) == {}


def login(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    m.login(USER, "secret")
    return m


def folder_dir(srv, folder):
    root = srv.mailbox(USER)
    return root if folder == "INBOX" else root / ("." + folder)


def kwfile(srv, folder):
    """dovecot-keywords as {letter: name}; no letter or name twice."""
    out = {}
    p = folder_dir(srv, folder) / "dovecot-keywords"
    for line in p.read_text().splitlines():
        n, name = line.split(" ", 1)
        letter = chr(ord("a") + int(n))
        assert letter not in out and name not in out.values(), line
        out[letter] = name
    return out


def on_disk(srv, folder):
    """{subject: (dir, flags)} from the files: system flag names plus the
    keyword names their letters map to through dovecot-keywords."""
    sysl = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered",
            "S": "\\Seen", "T": "\\Deleted"}
    d = folder_dir(srv, folder)
    kw = kwfile(srv, folder) if (d / "dovecot-keywords").exists() else {}
    out = {}
    for sub in ("new", "cur"):
        for f in (d / sub).iterdir():
            subj = re.search(rb"^Subject: (.*?)\r?$", f.read_bytes(),
                             re.M).group(1).decode()
            letters = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
            names = set()
            for c in letters:
                if c in sysl:
                    names.add(sysl[c])
                else:
                    assert c in kw, (f.name, kw)
                    names.add(kw[c])
            out[subj] = (sub, names)
    return out


def over_imap(srv, folder):
    """{subject: flags} by FETCH FLAGS."""
    return dict(over_imap_list(srv, folder))


def over_imap_list(srv, folder):
    """[(subject, flags)] by FETCH FLAGS, in sequence order."""
    m = login(srv)
    typ, data = m.select(folder)
    assert typ == "OK", data
    out = []
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS "
                            "(SUBJECT)])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1)
            subj = item[1].decode().split(":", 1)[1].strip()
            out.append((subj, set(flags.decode().split()) - {"\\Recent"}))
    m.logout()
    return out


def reindex(srv):
    assert srv.stop() == 0
    shutil.rmtree(srv.state_dir / "index.lmdb")
    r = subprocess.run([BIN, "reindex", "-c", str(srv.conf_path)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    srv.start()


def test_append_and_sieve_keywords_in_names_survive_reindex(srv):
    send(srv, "labelled", "junky", "plain")
    m = login(srv)
    msg = message("appended")
    typ, data = m.append("INBOX", "(\\Seen $Forwarded apple)", None, msg)
    assert typ == "OK", data
    typ, data = m.append("Work", "(custom $Junk)", None,
                         message("appended to work"))
    assert typ == "OK", data
    # Only a system flag: a letter but no dovecot-keywords change.
    typ, data = m.append("Work", "(\\Flagged)", None, message("flagged"))
    assert typ == "OK", data
    m.logout()

    want = {
        "INBOX": {"junky": {"\\Seen", "$Junk"}, "plain": set(),
                  "appended": {"\\Seen", "$Forwarded", "apple"}},
        "Work": {"labelled": {"$Label1", "custom"},
                 "appended to work": {"custom", "$Junk"},
                 "flagged": {"\\Flagged"}},
    }
    for folder, msgs in want.items():
        # On disk: the letters say it all; keyword files go to cur/.
        disk = on_disk(srv, folder)
        assert {s: f for s, (_, f) in disk.items()} == msgs, (folder, disk)
        for subj, (sub, flags) in disk.items():
            assert sub == ("cur" if flags else "new"), (subj, sub)
        assert over_imap(srv, folder) == msgs
    assert sorted(kwfile(srv, "INBOX").values()) == \
        ["$Forwarded", "$Junk", "apple"]
    assert sorted(kwfile(srv, "Work").values()) == \
        ["$Junk", "$Label1", "custom"]
    # dovecot-keywords is Dovecot's format, letters from 'a' on.
    text = (folder_dir(srv, "Work") / "dovecot-keywords").read_text()
    assert re.fullmatch(r"(\d+ \S+\n)+", text), text
    assert set(kwfile(srv, "Work")) == {"a", "b", "c"}

    reindex(srv)
    for folder, msgs in want.items():
        assert over_imap(srv, folder) == msgs, folder


def test_concurrent_deliveries_agree_on_letters(srv):
    names = ["kw%02d" % i for i in range(20)]
    errors = []

    def worker(part):
        try:
            send(srv, *("race %s" % n for n in part))
        except Exception as e:          # noqa: BLE001 (reported below)
            errors.append(e)

    def appender(part):
        try:
            m = login(srv)
            for n in part:
                typ, data = m.append("Race", "(%s)" % n, None,
                                     message("race %s" % n))
                assert typ == "OK", data
            m.logout()
        except Exception as e:          # noqa: BLE001
            errors.append(e)

    # Half over SMTP + Sieve, half by APPEND, all at once; every name
    # twice (once each way), so two jobs often define the same name.
    ts = [threading.Thread(target=worker, args=(names[i::4],))
          for i in range(4)]
    ts += [threading.Thread(target=appender, args=(names[i::4],))
           for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a writer hung"
    assert not errors, errors

    kw = kwfile(srv, "Race")
    assert sorted(kw.values()) == names
    disk = {}
    for sub in ("new", "cur"):
        for f in (folder_dir(srv, "Race") / sub).iterdir():
            subj = re.search(rb"^Subject: race (\S+)", f.read_bytes(),
                             re.M).group(1).decode()
            letters = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
            disk.setdefault(subj, []).append((sub, letters))
    assert sorted(disk) == names
    for n, files in disk.items():
        assert len(files) == 2, (n, files)
        for sub, letters in files:
            assert sub == "cur" and len(letters) == 1, (n, files)
            assert kw[letters] == n, (n, files, kw)

    reindex(srv)
    got = over_imap_list(srv, "Race")
    assert len(got) == 2 * len(names)
    for subj, flags in got:
        assert flags == {subj.split()[1]}, (subj, flags)
