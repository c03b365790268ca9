"""
IMAP extensions, slice B: CONDSTORE and QRESYNC (RFC 7162), QUOTA
(RFC 9208), STATUS=SIZE (RFC 8438), LIST-EXTENDED (RFC 5258), LIST-STATUS
(RFC 5819), CREATE-SPECIAL-USE (RFC 6154), BINARY (RFC 3516) and
COMPRESS=DEFLATE (RFC 4978), against the live daemon with imaplib and, for
COMPRESS, a raw socket with Python's zlib (raw deflate, wbits=-15).
"""
import base64
import imaplib
import re
import smtplib
import socket
import ssl
import time
import zlib

import pytest

MSG = (b"From: Sender <sender@example.org>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: hello %d\r\n"
       b"Message-ID: <m%d@example.org>\r\n"
       b"\r\n"
       b"Body line one %d\r\n")

ATTACH = bytes(range(256)) * 3 + b"\x00tail"

MIME = (b"From: Sender <sender@example.org>\r\n"
        b"To: alice@example.test\r\n"
        b"Subject: attachment\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n"
        b"\r\n"
        b"--XX\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"caf=C3=A9 =3D ok\r\n"
        b"--XX\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" +
        b"\r\n".join(base64.encodebytes(ATTACH).split(b"\n")).rstrip() +
        b"\r\n--XX--\r\n")


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=["smtp", "imap", "imaps"],
        conf={
            "message_size_limit": 1000000,
            "quota": {"enable": True, "default_per_user": "10M"},
            "mailboxes": [
                {"name": n, "auto": "subscribe", "special_use": "\\" + n}
                for n in ("Drafts", "Junk", "Sent", "Trash")],
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret")},
            ],
        })


def deliver(srv, n=1, start=0, raw=None):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        if raw is not None:
            c.sendmail("sender@example.org", ["alice@example.test"], raw)
            return
        for i in range(start, start + n):
            c.sendmail("sender@example.org", ["alice@example.test"],
                       MSG % (i, i, i))


def imaps(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context())
    m.login("alice@example.test", "secret")
    return m


def cmd(m, line):
    """Send a raw command; return (status, untagged lines as bytes)."""
    tag = m._new_tag()
    m.send(tag + b" " + line.encode() + b"\r\n")
    lines = []
    while True:
        ln = m._get_line()
        if ln.startswith(tag + b" "):
            return ln[len(tag) + 1:], lines
        lit = re.search(rb"~?\{(\d+)\}$", ln)
        if lit:
            ln += b"\r\n" + m.read(int(lit.group(1)))
            ln += m._get_line()
        lines.append(ln)


def modseq_of(lines, uid):
    for ln in lines:
        if re.search(rb"UID %d\b" % uid, ln):
            return int(re.search(rb"MODSEQ \((\d+)\)", ln).group(1))
    raise AssertionError("no MODSEQ for uid %d in %r" % (uid, lines))


def test_capabilities(srv):
    m = imaps(srv)
    caps = m.capability()[1][0].decode().split()
    for c in ("CONDSTORE", "QRESYNC", "QUOTA", "QUOTA=RES-STORAGE",
              "STATUS=SIZE", "LIST-EXTENDED", "LIST-STATUS",
              "CREATE-SPECIAL-USE", "BINARY", "COMPRESS=DEFLATE"):
        assert c in caps, c
    st, lines = cmd(m, "ENABLE CONDSTORE QRESYNC")
    assert st.startswith(b"OK")
    assert lines == [b"* ENABLED CONDSTORE QRESYNC"]
    m.logout()


def test_condstore_store_fetch(srv):
    deliver(srv, 3)
    m = imaps(srv)
    st, lines = cmd(m, "SELECT INBOX (CONDSTORE)")
    assert st.startswith(b"OK")
    hms = [ln for ln in lines if b"HIGHESTMODSEQ" in ln]
    assert hms
    high0 = int(re.search(rb"HIGHESTMODSEQ (\d+)", hms[0]).group(1))
    st, lines = cmd(m, "UID FETCH 1:* (FLAGS MODSEQ)")
    ms1 = modseq_of(lines, 1)
    assert ms1 <= high0
    # MODSEQ increments on STORE; the FETCH carries it (RFC 7162 3.1.3).
    st, lines = cmd(m, "UID STORE 1 +FLAGS (\\Flagged)")
    assert st.startswith(b"OK")
    st, lines = cmd(m, "UID FETCH 1 (MODSEQ)")
    ms1b = modseq_of(lines, 1)
    assert ms1b > ms1 and ms1b > high0
    # CHANGEDSINCE returns only what changed.
    st, lines = cmd(m, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % high0)
    assert st.startswith(b"OK")
    assert len(lines) == 1 and b"UID 1 " in lines[0]
    assert b"\\Flagged" in lines[0] and b"MODSEQ" in lines[0]
    # UNCHANGEDSINCE conflict: [MODIFIED] lists the refused UID.
    st, lines = cmd(m, "UID STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)"
                    % high0)
    assert st.startswith(b"OK [MODIFIED 1]"), st
    st, lines = cmd(m, "UID FETCH 1:2 (FLAGS)")
    f = {int(re.search(rb"UID (\d+)", ln).group(1)): ln for ln in lines}
    assert b"\\Seen" not in f[1] and b"\\Seen" in f[2]
    # STATUS HIGHESTMODSEQ and SIZE.
    st, lines = cmd(m, "STATUS INBOX (HIGHESTMODSEQ SIZE MESSAGES)")
    hm = int(re.search(rb"HIGHESTMODSEQ (\d+)", lines[0]).group(1))
    size = int(re.search(rb"SIZE (\d+)", lines[0]).group(1))
    assert hm >= ms1b
    st, lines = cmd(m, "FETCH 1:* (RFC822.SIZE)")
    total = sum(int(re.search(rb"RFC822.SIZE (\d+)", ln).group(1))
                for ln in lines)
    assert size == total
    m.logout()


def test_qresync_reselect(srv):
    deliver(srv, 5)
    a = imaps(srv)
    cmd(a, "ENABLE QRESYNC")
    st, lines = cmd(a, "SELECT INBOX")
    uv = int(re.search(rb"UIDVALIDITY (\d+)",
                       b" ".join(lines)).group(1))
    hm = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(lines)).group(1))
    cmd(a, "LOGOUT")
    # Another session changes flags and expunges.
    b = imaps(srv)
    b.select("INBOX")
    b.uid("STORE", "2", "+FLAGS", "(\\Answered)")
    b.uid("STORE", "3,4", "+FLAGS", "(\\Deleted)")
    b.expunge()
    b.logout()
    c = imaps(srv)
    cmd(c, "ENABLE QRESYNC")
    st, lines = cmd(c, "SELECT INBOX (QRESYNC (%d %d 1:5))" % (uv, hm))
    assert st.startswith(b"OK"), st
    assert b"* VANISHED (EARLIER) 3:4" in lines, lines
    fetches = [ln for ln in lines if b"FETCH" in ln]
    assert len(fetches) == 1
    assert b"UID 2 " in fetches[0] and b"\\Answered" in fetches[0]
    assert b"MODSEQ" in fetches[0]
    # UID FETCH ... (CHANGEDSINCE n VANISHED)
    st, lines = cmd(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)"
                    % hm)
    assert lines[0] == b"* VANISHED (EARLIER) 3:4"
    assert len(lines) == 2 and b"UID 2 " in lines[1]
    # Once QRESYNC is on, expunges are reported as VANISHED.
    cmd(c, "UID STORE 5 +FLAGS.SILENT (\\Deleted)")
    st, lines = cmd(c, "EXPUNGE")
    assert b"* VANISHED 5" in lines and not any(b"EXPUNGE" in ln
                                                for ln in lines)
    # Mismatched UIDVALIDITY: no resync data.
    st, lines = cmd(c, "SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, hm))
    assert not any(b"VANISHED" in ln for ln in lines)
    c.logout()


def test_quota(srv):
    m = imaps(srv)
    st, lines = cmd(m, "GETQUOTAROOT INBOX")
    assert lines[0] == b'* QUOTAROOT "INBOX" ""'
    used0 = int(re.search(rb"STORAGE (\d+) (\d+)", lines[1]).group(1))
    assert b"STORAGE %d 10240" % used0 in lines[1]
    deliver(srv, 1, raw=b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 80)
    st, lines = cmd(m, "GETQUOTA \"\"")
    used1 = int(re.search(rb"STORAGE (\d+) ", lines[0]).group(1))
    assert used1 >= used0 + 4
    st, lines = cmd(m, "SETQUOTA \"\" (STORAGE 1)")
    assert st.startswith(b"NO")
    m.logout()


def test_list_extended_status(srv):
    deliver(srv, 2)
    m = imaps(srv)
    st, _ = cmd(m, "CREATE Archive (USE (\\Archive))")
    assert st.startswith(b"OK"), st
    st, _ = cmd(m, "CREATE Odd (USE (\\Nonsense))")
    assert st.startswith(b"NO [USEATTR]")
    cmd(m, "CREATE Work")
    cmd(m, "CREATE Work.Sub")
    cmd(m, "SUBSCRIBE Work.Sub")
    st, lines = cmd(m, 'LIST (SPECIAL-USE) "" "*"')
    names = sorted(ln.split(b'"')[-2] for ln in lines)
    assert names == [b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash"]
    assert any(b"\\Archive" in ln for ln in lines)
    st, lines = cmd(m, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    work = [ln for ln in lines if ln.endswith(b'"Work" ("CHILDINFO" '
                                              b'("SUBSCRIBED"))')]
    assert work, lines
    st, lines = cmd(m, 'LIST "" ("INBOX" "Work*") RETURN (CHILDREN '
                    'SUBSCRIBED STATUS (MESSAGES UIDNEXT SIZE))')
    assert st.startswith(b"OK")
    assert b'* LIST (\\HasChildren) "." "Work"' in lines, lines
    assert b'* LIST (\\HasNoChildren \\Subscribed) "." "Work.Sub"' in lines
    inbox = lines.index(next(ln for ln in lines if ln.endswith(b'"INBOX"')))
    assert re.match(rb'\* STATUS "INBOX" \(MESSAGES 2 UIDNEXT 3 SIZE \d+\)',
                    lines[inbox + 1]), lines
    m.logout()


def test_binary(srv):
    deliver(srv, raw=MIME)
    m = imaps(srv)
    m.select("INBOX")
    st, lines = cmd(m, "FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])")
    assert st.startswith(b"OK")
    data = lines[0]
    i = data.index(b"~{%d}\r\n" % len(ATTACH))
    got = data[i + len(b"~{%d}\r\n" % len(ATTACH)):][:len(ATTACH)]
    assert got == ATTACH
    assert b"BINARY.SIZE[2] %d" % len(ATTACH) in data
    st, lines = cmd(m, "FETCH 1 (BINARY.PEEK[1])")
    assert "café = ok".encode() in lines[0]
    st, lines = cmd(m, "FETCH 1 (BINARY.PEEK[2]<0.10>)")
    assert b"BINARY[2]<0> ~{10}\r\n" + ATTACH[:10] in lines[0]
    st, lines = cmd(m, "FETCH 1 (BINARY.PEEK[2]<1.3>)")
    assert b"BINARY[2]<1> {3}\r\n" + ATTACH[1:4] in lines[0]
    st, lines = cmd(m, "FETCH 1 (FLAGS)")
    assert b"\\Seen" not in lines[0]
    m.logout()


class Deflate:
    """A raw socket speaking IMAP through raw deflate after COMPRESS."""

    def __init__(self, srv):
        ctx = srv.ssl_context()
        raw = socket.create_connection(("127.0.0.1", srv.ports["imaps"]),
                                       timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.z_in = None
        self.z_out = None

    def recv(self):
        data = self.s.recv(65536)
        assert data, "connection closed"
        if self.z_in is not None:
            data = self.z_in.decompress(data)
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.recv()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def send(self, b):
        if self.z_out is not None:
            b = self.z_out.compress(b) + self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.s.sendall(b)

    def cmd(self, tag, line):
        self.send(tag + b" " + line + b"\r\n")
        out = []
        while True:
            ln = self.line()
            out.append(ln)
            if ln.startswith(tag + b" "):
                return out


def test_compress_deflate(srv):
    deliver(srv, 3)
    c = Deflate(srv)
    assert c.line().startswith(b"* OK")
    assert c.cmd(b"a1", b"LOGIN alice@example.test secret")[-1].startswith(
        b"a1 OK")
    r = c.cmd(b"a2", b"COMPRESS DEFLATE")
    assert r[-1].startswith(b"a2 OK"), r
    c.z_in = zlib.decompressobj(-15)
    c.z_out = zlib.compressobj(wbits=-15)
    assert c.buf == b""
    r = c.cmd(b"a3", b"CAPABILITY")
    assert r[-1].startswith(b"a3 OK")
    assert b"COMPRESS=DEFLATE" not in r[0]
    r = c.cmd(b"a4", b"SELECT INBOX")
    assert b"* 3 EXISTS" in r
    r = c.cmd(b"a5", b"FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert r[-1].startswith(b"a5 OK")
    assert b"".join(r).count(b"Subject: hello") == 3
    r = c.cmd(b"a6", b"COMPRESS DEFLATE")
    assert r[-1].startswith(b"a6 NO [COMPRESSIONACTIVE]")
    r = c.cmd(b"a7", b"LOGOUT")
    assert r[0].startswith(b"* BYE") and r[-1].startswith(b"a7 OK")
    c.s.close()
