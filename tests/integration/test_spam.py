"""
Spam scoring on the MX (filter/spam, filter/filter_auth.c): X-Spam-Score
and X-Spam-Result on every inbound message, X-Spam: Yes at add_header,
rules from spam.rules_file, submission not scored, Bayes learning through
IMAP MOVE into \\Junk and back out (filter/learn_hook.c), and the
`postern spam` subcommand, reject at DATA (550 5.7.1) and Junk filing.
"""
import imaplib
import re
import smtplib
import subprocess
import time

import pytest

from conftest import BIN

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
GOOD = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        b"Message-ID: <m1@example.net>\r\nFrom: <carol@example.net>\r\n"
        b"To: <bob@example.test>\r\nSubject: Lunch\r\n\r\nNoon?\r\n")


@pytest.fixture
def srv(make_server, pw_hashes, tmp_path):
    rules = tmp_path / "rules.conf"
    rules.write_text("# test rules\n"
                     "header TEST_SUBJ_PILLS Subject /cheap pills/i 7.5\n"
                     "body TEST_BODY_WIRE /wire transfer/i 2\n")
    return make_server(
        services=["smtp", "submission", "imap"],
        conf={
            # reject above 50: messages scoring ~20 are filed into Junk
            # (add_header 6); GTUBE still scores far above it.
            "spam": {"rules_file": str(rules),
                     "actions": {"reject": 50.0, "add_header": 6.0,
                                 "greylist": 4.0}},
            "accounts": [
                {"name": "alice@example.test",
                 "hashed_password": pw_hashes("secret")},
                {"name": "bob@example.test",
                 "hashed_password": pw_hashes("hunter2")},
            ],
        })


def send(srv, data, helo="client.example.net"):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], local_hostname=helo,
                      timeout=30) as s:
        return s.sendmail("carol@example.net", ["bob@example.test"], data)


def delivered(srv, addr="bob@example.test", folder="", wait=15):
    base = srv.mailbox(addr)
    d = (base / ("." + folder) if folder else base) / "new"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = sorted(d.iterdir()) if d.exists() else []
        if got:
            return [p.read_bytes() for p in got]
        time.sleep(0.05)
    return []


def header(msg, name):
    head = msg.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    out, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            out[-1] += " " + line.strip()
        elif line.lower().startswith(name.lower() + ":"):
            out.append(line.split(":", 1)[1].strip())
            cur = True
        else:
            cur = None
    return out


def test_headers_on_clean_message(srv):
    send(srv, GOOD)
    [m] = delivered(srv)
    score = float(header(m, "X-Spam-Score")[0])
    assert score < 6
    res = header(m, "X-Spam-Result")[0]
    assert res.startswith("accept; score=")
    assert "R_SPF" in res and "R_DKIM_NA" in res
    assert header(m, "X-Spam") == []
    assert header(m, "Authentication-Results")


def test_add_header_and_symbols(srv):
    data = (b"From: <carol@example.net>\r\nTo: <bob@example.test>\r\n"
            b"Reply-To: <x@elsewhere.test>\r\n"
            b"Subject: CHEAP PILLS FOR EVERYONE\r\n\r\n"
            b"see http://192.0.2.55/buy\r\n")
    send(srv, data, helo="[192.0.2.1]")
    [m] = delivered(srv, folder="Junk")    # past add_header: filed as junk
    res = header(m, "X-Spam-Result")[0]
    for sym in ("MISSING_DATE", "MISSING_MID", "SUBJ_ALL_CAPS",
                "URL_BARE_IP", "FORGED_HELO_IP", "REPLYTO_DOM_NEQ_FROM_DOM",
                "TEST_SUBJ_PILLS(7.50)"):
        assert sym in res, res
    assert float(header(m, "X-Spam-Score")[0]) >= 6
    assert header(m, "X-Spam") == ["Yes"]


def test_helo_our_fqdn(srv):
    send(srv, GOOD, helo="mail.example.test")
    [m] = delivered(srv)
    assert "FORGED_HELO_FQDN" in header(m, "X-Spam-Result")[0]


def test_submission_not_scored(srv):
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as s:
        s.starttls(context=srv.ssl_context())
        s.login("alice@example.test", "secret")
        s.sendmail("alice@example.test", ["bob@example.test"],
                   b"From: <alice@example.test>\r\nTo: <bob@example.test>\r\n"
                   b"Subject: hi\r\n\r\n" + GTUBE + b"\r\n")
    [m] = delivered(srv)
    assert header(m, "X-Spam-Score") == []


def test_reject_at_data(srv):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(srv, b"Subject: t\r\n\r\n" + GTUBE + b"\r\n")
    assert e.value.smtp_code == 550
    assert b"5.7.1" in e.value.smtp_error


def test_junk_filing(srv):
    send(srv, b"Subject: CHEAP PILLS NOW\r\n\r\nwire transfer\r\n")
    assert delivered(srv, folder="Junk", wait=5)


def stats(srv, user=None):
    cmd = [BIN, "spam", "stats", "-c", str(srv.conf_path)]
    if user:
        cmd += ["--user", user]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return dict(l.split(": ", 1) for l in out.stdout.splitlines())


def test_learn_through_imap_move(srv):
    send(srv, GOOD)
    assert delivered(srv)
    im = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    im.starttls(ssl_context=srv.ssl_context())
    im.login("bob@example.test", "hunter2")
    im.select("INBOX")
    typ, _ = im.uid("MOVE", "1:*", "Junk")
    assert typ == "OK"
    srv.wait_log("filter learn-spam account=bob@example.test")
    srv.wait_log("result=learned")
    st = stats(srv, "bob@example.test")
    assert st["spam"] == "1" and st["ham"] == "0"
    assert stats(srv)["spam"] == "1"
    im.select("Junk")
    typ, _ = im.uid("MOVE", "1:*", "INBOX")
    assert typ == "OK"
    srv.wait_log("filter learn-ham account=bob@example.test")
    time.sleep(0.2)
    st = stats(srv, "bob@example.test")
    assert st["spam"] == "0" and st["ham"] == "1"
    im.logout()


def test_cli_learn_and_score(srv, tmp_path):
    spam = tmp_path / "s.eml"
    spam.write_bytes(b"Subject: cheap pills\r\n\r\nbuy now\r\n")
    cmd = [BIN, "spam", "learn-spam", "-c", str(srv.conf_path), str(spam)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "learned=1" in out.stdout, out
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert "known=1" in out.stdout
    out = subprocess.run([BIN, "spam", "score", "-v", "-c",
                          str(srv.conf_path), str(spam)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "TEST_SUBJ_PILLS(7.50)" in out.stdout
    assert out.stdout.split()[1] in ("add_header", "reject")
    out = subprocess.run([BIN, "spam", "learn-spam"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2


def test_cli_stats_and_reset(srv, tmp_path):
    spam = tmp_path / "r.eml"
    spam.write_bytes(b"Subject: reset me\r\n\r\nsome words\r\n")
    conf = ["-c", str(srv.conf_path)]

    def run(*args):
        return subprocess.run([BIN, "spam"] + list(args), capture_output=True,
                              text=True, timeout=30)
    assert run("learn-spam", *conf, str(spam)).returncode == 0
    out = run("stats", *conf)
    assert out.returncode == 0 and "version: 2" in out.stdout, out
    assert int(re.search(r"spam: (\d+)", out.stdout).group(1)) >= 1
    out = run("reset", *conf)
    assert out.returncode == 0, out
    out = run("stats", *conf)
    assert "spam: 0\nham: 0\ntokens: 0" in out.stdout, out
    assert run("reset", *conf, str(spam)).returncode == 2   # no paths
