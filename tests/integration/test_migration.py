"""
Migration from a real Dovecot: a throw-away Dovecot instance (its own
config, free loopback port, state in a temporary directory; never the
system one, never the peers stack's fixed ports) builds a Maildir through
IMAP APPEND, STORE, EXPUNGE and CREATE.  The user's Maildir is then
copied into postern's storage path, `postern reindex` runs, and postern
must answer over IMAP with the same UIDVALIDITY, UIDs, UIDNEXT, flags and
message bytes as Dovecot did.

Dovecot is not a build or CI dependency (dist/deps.sh does not install
it; it comes only with the peers benchmark, ../shared/peers/setup.sh), so
this test skips when /usr/sbin/dovecot is missing or cannot start.
"""
import imaplib
import os
import pwd
import grp
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, free_port

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
USER = "mig@example.test"
PASS = "migrate-me"


def dovecot_conf(root, port):
    if os.geteuid() == 0:
        mail_user, mail_group = "nobody", grp.getgrgid(
            pwd.getpwnam("nobody").pw_gid).gr_name
        users = ""
    else:
        # Unprivileged: every Dovecot process runs as us.
        mail_user = pwd.getpwuid(os.getuid()).pw_name
        mail_group = grp.getgrgid(os.getgid()).gr_name
        users = ("default_login_user = %s\ndefault_internal_user = %s\n"
                 "default_internal_group = %s\n"
                 % (mail_user, mail_user, mail_group))
    return """\
instance_name = postern-migration-test
base_dir = {root}/run
state_dir = {root}/state
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
{users}passdb {{
  driver = static
  args = password={pw}
}}
userdb {{
  driver = static
  args = uid={mu} gid={mg} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""".format(root=root, port=port, pw=PASS, mu=mail_user, mg=mail_group,
           users=users)


@pytest.fixture
def dovecot():
    if DOVECOT is None:
        pytest.skip("Dovecot is not installed (CI's deps.sh does not "
                    "install it; ../shared/peers/setup.sh does)")
    # Not under pytest's 0700 tmp_path: Dovecot's mail user must get in.
    root = tempfile.mkdtemp(prefix="postern-dovecot-")
    os.chmod(root, 0o755)
    for d in ("run", "state", "home"):
        os.mkdir(os.path.join(root, d))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(os.path.join(root, "home"), nobody.pw_uid, nobody.pw_gid)
    port = free_port()
    conf = os.path.join(root, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(dovecot_conf(root, port))
    proc = subprocess.Popen([DOVECOT, "-F", "-c", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    ready = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            ready = True
            break
        except OSError:
            time.sleep(0.05)
    if not ready:
        if proc.poll() is None:
            proc.terminate()
        err = proc.communicate(timeout=10)[1].decode(errors="replace")
        try:
            err += open(os.path.join(root, "dovecot.log")).read()
        except OSError:
            pass
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip("Dovecot did not start: " + err.strip()[-500:])
    d = {"root": root, "port": port, "proc": proc,
         "maildir": os.path.join(root, "home", USER, "Maildir")}
    try:
        yield d
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def msg(n, size=0):
    return (b"From: sender%d@example.org\r\nTo: %s\r\n"
            b"Subject: migration %d\r\nMessage-ID: <m%d@example.org>\r\n"
            b"\r\nbody %d\r\n" % (n, USER.encode(), n, n, n)
            + b"x" * size + b"\r\n")


def snapshot(m, box):
    """UIDVALIDITY, UIDNEXT and {uid: (system flags, bytes)}."""
    typ, _ = m.select(box)
    assert typ == "OK", box
    uidvalidity = int(m.response("UIDVALIDITY")[1][0])
    typ, data = m.status(box, "(UIDNEXT)")
    assert typ == "OK"
    uidnext = int(re.search(rb"UIDNEXT (\d+)", data[0]).group(1))
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK"
    msgs = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()
        msgs[uid] = (frozenset(f for f in flags if f.startswith("\\")
                               and f != "\\Recent"), item[1])
    m.unselect()
    return uidvalidity, uidnext, msgs


def build_with_dovecot(dv):
    m = imaplib.IMAP4("127.0.0.1", dv["port"])
    m.login(USER, PASS)
    for n in range(1, 7):
        flags = {1: r"(\Seen)", 3: r"(\Flagged \Seen)", 5: r"(\Draft)"}
        typ, _ = m.append("INBOX", flags.get(n), None, msg(n, n * 100))
        assert typ == "OK"
    m.select("INBOX")
    m.uid("STORE", "2", "+FLAGS", r"(\Answered $Label1)")
    m.uid("STORE", "4", "+FLAGS", r"(\Deleted)")
    m.expunge()			# a gap: UID 4 is gone
    m.uid("STORE", "6", "+FLAGS", r"(\Seen \Deleted)")	# kept
    m.unselect()		# CLOSE would expunge it
    assert m.create("Archive")[0] == "OK"
    assert m.append("Archive", r"(\Seen \Answered)", None, msg(20))[0] \
        == "OK"
    assert m.append("Archive", None, None, msg(21))[0] == "OK"
    want = {box: snapshot(m, box) for box in ("INBOX", "Archive")}
    m.logout()
    return want


def test_migration_keeps_uids_and_flags(dovecot, make_server, pw_hashes):
    want = build_with_dovecot(dovecot)
    assert sorted(want["INBOX"][2]) == [1, 2, 3, 5, 6]
    assert want["INBOX"][2][2][0] == {"\\Answered"}
    assert want["INBOX"][2][6][0] == {"\\Seen", "\\Deleted"}
    dovecot["proc"].terminate()
    dovecot["proc"].wait(15)
    assert os.path.exists(os.path.join(dovecot["maildir"],
                                       "dovecot-uidlist"))

    srv = make_server(services=["imaps"], conf={
        "accounts": [{"name": USER, "hashed_password": pw_hashes(PASS)}]})
    assert srv.stop() == 0
    dest = srv.mailbox(USER)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(dovecot["maildir"], dest)
    r = subprocess.run([BIN, "reindex", "-c", str(srv.conf_path), USER],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    srv.start()
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context())
    m.login(USER, PASS)
    for box in ("INBOX", "Archive"):
        got = snapshot(m, box)
        assert got[0] == want[box][0], "%s UIDVALIDITY" % box
        assert got[1] == want[box][1], "%s UIDNEXT" % box
        assert sorted(got[2]) == sorted(want[box][2]), "%s UIDs" % box
        for uid, (flags, body) in want[box][2].items():
            assert got[2][uid][0] == flags, "%s uid %d flags" % (box, uid)
            assert got[2][uid][1] == body, "%s uid %d body" % (box, uid)
    # The next delivery continues after Dovecot's UIDNEXT.
    m.select("INBOX")
    m.append("INBOX", None, None, msg(30))
    typ, data = m.uid("SEARCH", "ALL")
    assert int(data[0].split()[-1]) == want["INBOX"][1]
    m.logout()
