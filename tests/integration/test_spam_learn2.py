"""
The spam pipeline's second round (issue #9), on the MX:

- autolearn (spam.bayes.autolearn, filter/spam/spam_autolearn.c): a
  message whose score without Bayes reaches spam.actions.reject teaches
  "spam" (even when refused with 550), one at or below -2 teaches "ham",
  a plain message teaches nothing; one local recipient also teaches that
  account's set, several only the global one; autolearn = false learns
  nothing;
- per-user Bayes at SMTP time: a message for one local account is
  classified with that account's counts, one for several with the
  global counts;
- a sender's X-Spam / X-Spam-* fields never reach the mailbox, Sieve or
  the Junk filing, while a DKIM signature over the other fields still
  verifies (the spool is rewritten after DKIM has hashed it).
"""
import base64
import imaplib
import random
import smtplib
import subprocess
import time

import dkim
import pytest

from conftest import BIN, dnsmasq, txt_records

BOB = "bob@example.test"
ALICE = "alice@example.test"
AUTHSERV = "mail.example.test"


def accounts(pw_hashes, bob_sieve=None):
    bob = {"name": BOB, "hashed_password": pw_hashes("hunter2")}
    if bob_sieve is not None:
        bob["sieve_script"] = bob_sieve
    return [{"name": ALICE, "hashed_password": pw_hashes("secret")}, bob]


def send(srv, data, to=(BOB,), helo="client.example.net",
         sender="carol@example.net"):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], local_hostname=helo,
                      timeout=60) as s:
        return s.sendmail(sender, list(to), data)


def stats(srv, user=None):
    cmd = [BIN, "spam", "stats", "-c", str(srv.conf_path)]
    if user:
        cmd += ["--user", user]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    d = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    return int(d["spam"]), int(d["ham"])


def delivered(srv, addr, wait=15):
    """Every file delivered to addr, in any folder (new/ and cur/)."""
    base = srv.mailbox(addr)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = sorted(p for p in base.glob("**/new/*") if p.is_file()) \
            if base.exists() else []
        if got:
            return got
        time.sleep(0.05)
    return []


def header(msg, name):
    """Unfolded values of every field called name."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    out, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            out[-1] += " " + line.strip()
        elif line.split(":", 1)[0].strip().lower() == name.lower() and \
                ":" in line:
            out.append(line.split(":", 1)[1].strip())
            cur = True
        else:
            cur = None
    return out


# ---- autolearn ---------------------------------------------------------------

RULES = ("# a site's allowlist rule: strong ham evidence\n"
         "header TEST_TRUSTED_LIST List-Id /friends\\.example\\.net/ -5\n")


def spammy(n):
    """Heuristics alone score past reject (15): no Date, no Message-ID,
    no To, Reply-To elsewhere, a Subject in capitals with "!!!", a
    bare-IP URL, a .exe attachment, the HELO [ip] it is sent with."""
    return (b"From: <deals@bulk.example.net>\r\n"
            b"Reply-To: <x@elsewhere.test>\r\nMIME-Version: 1.0\r\n"
            b"Subject: CHEAP PILLS FOR EVERYONE!!!\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\n"
            b"see http://192.0.2.%d/buy now\r\n--b\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"pills.exe\"\r\n"
            b"\r\nTVqQ\r\n--b--\r\n" % n)


HAM = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
       b"Message-ID: <dinner@friends.example.net>\r\n"
       b"From: <dana@friends.example.net>\r\nTo: <bob@example.test>\r\n"
       b"MIME-Version: 1.0\r\nList-Id: Friends <friends.example.net>\r\n"
       b"Subject: Dinner on Friday\r\n\r\nAt eight, as usual.\r\n")

PLAIN = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
         b"Message-ID: <m1@example.net>\r\nFrom: <carol@example.net>\r\n"
         b"To: <bob@example.test>\r\nMIME-Version: 1.0\r\n"
         b"Subject: Lunch\r\n\r\nNoon?\r\n")


def learn_server(make_server, pw_hashes, tmp_path, autolearn):
    rules = tmp_path / ("rules-%s.conf" % autolearn)
    rules.write_text(RULES)
    return make_server(
        services=["smtp"],
        conf={"spam": {"rules_file": str(rules),
                       "actions": {"reject": 15.0, "add_header": 6.0},
                       "bayes": {"autolearn": autolearn}},
              "accounts": accounts(pw_hashes)})


def send_spam(srv, data, to=(BOB,)):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(srv, data, to=to, helo="[192.0.2.1]")
    assert e.value.smtp_code == 550, e.value


def test_autolearn(make_server, pw_hashes, tmp_path):
    srv = learn_server(make_server, pw_hashes, tmp_path, True)
    # A plain message is neither: nothing learned.
    send(srv, PLAIN)
    assert delivered(srv, BOB)
    assert stats(srv) == (0, 0)
    # Refused at DATA, and still learned: for bob (the one recipient)
    # and globally.
    send_spam(srv, spammy(1))
    srv.wait_log("filter autolearn-spam account=%s" % BOB)
    assert "result=learned" in srv.log()
    assert stats(srv) == (1, 0)
    assert stats(srv, BOB) == (1, 0)
    # Strong ham (a site rule at -5): learned as ham.
    send(srv, HAM)
    srv.wait_log("filter autolearn-ham account=%s" % BOB)
    assert stats(srv) == (1, 1)
    assert stats(srv, BOB) == (1, 1)
    # The same spam again is known, not counted twice.
    send_spam(srv, spammy(1))
    srv.wait_log("result=known")
    assert stats(srv) == (1, 1)
    # Several recipients: the global set only.
    send_spam(srv, spammy(2), to=(ALICE, BOB))
    srv.wait_log("filter autolearn-spam account=- ")
    assert stats(srv) == (2, 1)
    assert stats(srv, BOB) == (1, 1)
    assert stats(srv, ALICE) == (0, 0)
    # Exactly the four lines above (three lessons, one known message),
    # nothing for the plain message.
    assert srv.log().count("filter autolearn-") == 4


def test_autolearn_off(make_server, pw_hashes, tmp_path):
    srv = learn_server(make_server, pw_hashes, tmp_path, False)
    send_spam(srv, spammy(1))
    send(srv, HAM)
    assert delivered(srv, BOB)
    assert stats(srv) == (0, 0)
    assert stats(srv, BOB) == (0, 0)
    assert "filter autolearn" not in srv.log()


# ---- per-user Bayes at SMTP time ---------------------------------------------

# alice's spam, global ham:
X = ["zorblaxe", "quintarve", "vexillumo", "brontique", "calyxeer",
     "dravonil"]
Y = ["grimboltz", "plundexa", "snorkvane"]     # global spam
Z = ["meadowlin", "harbourix", "tulipanto"]    # alice's ham
FILLER = ["%s%s" % (a, b) for a in ("bar", "cor", "dun", "fel", "gan",
                                    "hol", "jur", "kel", "lom", "mir")
          for b in ("ada", "eno", "iru", "ola", "ume")]


def corpus(d, tag, words, n, rnd):
    """n messages in directory d: the class words in a fixed order (so
    their bigrams repeat) among shared filler; shared header fields."""
    d.mkdir()
    for i in range(n):
        body = rnd.sample(FILLER, 12)
        body[4:4] = words
        (d / ("%s%04d.eml" % (tag, i))).write_bytes((
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
            "Message-ID: <%s.%d@news.example.net>\r\n"
            "From: <news@news.example.net>\r\nTo: <list@example.test>\r\n"
            "MIME-Version: 1.0\r\nSubject: Weekly note\r\n\r\n%s\r\n"
            % (tag, i, " ".join(body))).encode())
    return d


def learn(srv, verb, path, user=None):
    cmd = [BIN, "spam", verb, "-c", str(srv.conf_path)]
    if user:
        cmd += ["--user", user]
    out = subprocess.run(cmd + [str(path)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def test_per_user_bayes(make_server, pw_hashes, tmp_path):
    srv = make_server(
        services=["smtp"],
        conf={"spam": {"actions": {"reject": 100.0, "add_header": 6.0}},
              "accounts": accounts(pw_hashes)})
    rnd = random.Random(9)
    # alice: X is spam (her lessons reach the global set as well) ...
    learn(srv, "learn-spam", corpus(tmp_path / "as", "as", X, 200, rnd),
          ALICE)
    learn(srv, "learn-ham", corpus(tmp_path / "ah", "ah", Z, 200, rnd),
          ALICE)
    # ... globally X is mostly ham (in 800 of 1000 ham, 200 of 1000
    # spam).
    learn(srv, "learn-spam", corpus(tmp_path / "gs", "gs", Y, 800, rnd))
    learn(srv, "learn-ham", corpus(tmp_path / "gh", "gh", X, 800, rnd))
    assert stats(srv, ALICE) == (200, 200)
    assert stats(srv) == (1000, 1000)
    assert stats(srv, BOB) == (0, 0)

    def probe(n):
        body = rnd.sample(FILLER, 12)
        body[4:4] = X
        return ("Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
                "Message-ID: <probe.%d@news.example.net>\r\n"
                "From: <news@news.example.net>\r\nTo: <list@example.test>\r\n"
                "MIME-Version: 1.0\r\nSubject: Weekly note\r\n\r\n%s\r\n"
                % (n, " ".join(body))).encode()

    def result(addr, n, to):
        send(srv, probe(n), to=to, sender="news@news.example.net")
        for _ in range(100):
            for p in delivered(srv, addr):
                m = p.read_bytes()
                if b"probe.%d@" % n in m:
                    return header(m, "X-Spam-Result")[0]
            time.sleep(0.05)
        raise AssertionError("probe %d never reached %s" % (n, addr))

    # Alone for alice: her counts; BAYES_SPAM.
    r = result(ALICE, 1, (ALICE,))
    assert "BAYES_SPAM" in r, r
    # Alone for bob (no lessons of his own): the global counts.
    r = result(BOB, 2, (BOB,))
    assert "BAYES_SPAM" not in r and "BAYES_HAM" in r, r
    # For both: one score for every copy, with the global counts.
    r = result(ALICE, 3, (ALICE, BOB))
    assert "BAYES_SPAM" not in r and "BAYES_HAM" in r, r


# ---- a sender's X-Spam fields --------------------------------------------------

FORGED = (b"X-Spam: Yes\r\n"
          b"X-Spam-Score: 99\r\n"
          b"X-Spam-Status: Yes, score=99.0 required=5.0\r\n"
          b"\ttests=FORGED_BY_SENDER autolearn=no\r\n"
          b"x-spam-flag: YES\r\n")

# Bob's Sieve files what the forged fields say into Forged (created):
# the message must stay in INBOX because Sieve never sees them.
SIEVE = ('require ["fileinto", "mailbox"];\n'
         'if anyof (header :is "X-Spam-Score" "99",\n'
         '          header :contains "X-Spam-Status" "FORGED",\n'
         '          header :is "X-Spam-Flag" "YES") {\n'
         '  fileinto :create "Forged";\n}\n')


@pytest.fixture
def sender_key(tmp_path):
    """An RSA key for sender.test (PEM bytes) and its DKIM TXT text."""
    key = tmp_path / "sender.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return key.read_bytes(), "v=DKIM1; k=rsa; p=" + \
        base64.b64encode(der).decode()


@pytest.fixture
def dns(tmp_path, sender_key):
    recs = {"sender.test": "v=spf1 ip4:127.0.0.1 -all",
            "_dmarc.sender.test": "v=DMARC1; p=reject",
            "sel._domainkey.sender.test": sender_key[1]}
    with dnsmasq(tmp_path, txt_records(recs), local=("sender.test",)) as p:
        yield p


SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]


def signed(sender_key, pad=b""):
    """The forged fields, then a message whose From, To, Subject, Date and
    Message-ID (not the X-Spam fields) carry a DKIM signature."""
    msg = (FORGED + pad +
           b"From: Sam <sam@sender.test>\r\nTo: <bob@example.test>\r\n"
           b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
           b"Message-ID: <forged.%d@sender.test>\r\nMIME-Version: 1.0\r\n"
           b"Subject: Quarterly figures\r\n\r\nThe numbers are in.\r\n"
           % len(pad))
    sig = dkim.sign(msg, b"sel", b"sender.test", sender_key[0],
                    include_headers=SIGNED)
    assert b"x-spam" not in sig.lower()
    return sig + msg


def imap_inbox(srv):
    im = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    im.starttls(ssl_context=srv.ssl_context())
    im.login(BOB, "hunter2")
    for _ in range(100):
        typ, data = im.select("INBOX")
        if typ == "OK" and int(data[0]) > 0:
            break
        time.sleep(0.05)
    typ, data = im.fetch("1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    im.logout()
    return [d[1] for d in data if isinstance(d, tuple)]


def mx(make_server, pw_hashes, dns, spam=True):
    return make_server(
        services=["smtp", "imap"],
        conf={"spam": {"enable": spam},
              "dns": {"resolvers": ["127.0.0.1:%d" % dns]},
              "accounts": accounts(pw_hashes, SIEVE)})


def check_stripped(raw, key_txt):
    assert len(header(raw, "X-Spam-Score")) == 1, raw
    ours = float(header(raw, "X-Spam-Score")[0])
    assert ours < 6, raw
    for name in ("X-Spam", "X-Spam-Status", "X-Spam-Flag"):
        assert header(raw, name) == [], (name, raw)
    assert b"FORGED_BY_SENDER" not in raw and b": 99\r\n" not in raw
    ar = [v for v in header(raw, "Authentication-Results")
          if v.split(";")[0].strip() == AUTHSERV]
    assert len(ar) == 1 and "dkim=pass" in ar[0], ar
    # What we deliver still verifies for anyone (dkimpy, our key).
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5:
                       key_txt.encode()), raw


def test_forged_xspam_stripped(make_server, pw_hashes, dns, sender_key):
    srv = mx(make_server, pw_hashes, dns)
    send(srv, signed(sender_key), helo="mail.sender.test",
         sender="sam@sender.test")
    [raw] = imap_inbox(srv)
    check_stripped(raw, sender_key[1])
    assert not (srv.mailbox(BOB) / ".Forged").exists()
    srv.wait_log("filter removed sender X-Spam fields")
    # A header section longer than anything buffered (DKIM keeps 256 KiB)
    # is streamed: its X-Spam fields go too.
    pad = b"".join(b"X-Pad-%05d: %s\r\n" % (i, b"p" * 60)
                   for i in range(4500))
    send(srv, signed(sender_key, pad), helo="mail.sender.test",
         sender="sam@sender.test")
    for _ in range(100):
        msgs = imap_inbox(srv)
        if len(msgs) == 2:
            break
        time.sleep(0.05)
    big = [m for m in msgs if b"X-Pad-04499" in m]
    assert len(big) == 1
    assert header(big[0], "X-Spam") == [] and \
        len(header(big[0], "X-Spam-Score")) == 1
    assert b"FORGED_BY_SENDER" not in big[0]
    assert not (srv.mailbox(BOB) / ".Forged").exists()


def test_forged_xspam_kept_without_spam(make_server, pw_hashes, dns,
                                        sender_key):
    """The control: with spam.enable = false nothing is removed, and the
    Sieve script above does see the fields."""
    srv = mx(make_server, pw_hashes, dns, spam=False)
    send(srv, signed(sender_key), helo="mail.sender.test",
         sender="sam@sender.test")
    [f] = delivered(srv, BOB)
    assert f.parent.parent.name == ".Forged"
    raw = f.read_bytes()
    assert header(raw, "X-Spam-Score") == ["99"]
    assert header(raw, "X-Spam") == ["Yes"]
