"""
Every Sieve extension postern announces (filter/sieve/sieve.h), end to
end: the account's script (the config's sieve_script) runs at local
delivery, real messages arrive over SMTP, and each test checks which
Maildir folder every message landed in and with which flags (the
":2,<letters>" of its file name; keywords through `postern check -v`).
Redirects, vacation replies and reject reports leave through the outbound
queue to relay.host, the loopback receiver of test_outbound.py.

Covered: RFC 5228 base (control, keep/discard/redirect, every test,
comparators, match types), fileinto (+ :create, RFC 5490), reject and
ereject (RFC 5429), imap4flags (RFC 5232), subaddress (RFC 5233), body
(RFC 5173), relational + i;ascii-numeric (RFC 5231, RFC 4790), variables
(RFC 5229), copy (RFC 3894), encoded-character, vacation (smoke; the
rest is in test_sieve_vacation.py), regex, spamtest/spamtestplus (RFC
5235) and mailboxexists (RFC 5490), and the run-time error fallback.
"""
import email
import email.parser
import email.policy
import re
import smtplib
import subprocess
import time
import uuid

import pytest

from conftest import BIN
from test_outbound import Sink, sink_factory  # noqa: F401 (fixture)
from test_sieve import WIRED

pytestmark = pytest.mark.skipif(not WIRED, reason="SMTP does not call "
                                "lda_deliver yet")

USER = "alice@example.test"
REMOTE = "someone@remote.example"


def start(make_server, pw_hashes, script, folders=(), sink=None, conf=None):
    """A server whose account USER runs script; folders exist up front."""
    c = {"accounts": [{"name": USER, "hashed_password": pw_hashes("pw"),
                       "sieve_script": script}]}
    if sink is not None:
        c["relay"] = {"host": "127.0.0.1", "port": sink.port}
    if conf:
        c.update(conf)
    srv = make_server(services=["smtp"], conf=c, start=False)
    for f in folders:
        for d in ("cur", "new", "tmp"):
            (srv.mailbox(USER) / ("." + f) / d).mkdir(parents=True,
                                                      exist_ok=True)
    return srv.start()


def send(srv, subject, body="body\r\n", to=USER, sender=REMOTE, extra="",
         hdr_from=None, hdr_to=None, raw=None):
    if raw is None:
        raw = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
               "Message-ID: <%s@remote.example>\r\n"
               "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n%s\r\n%s"
               % (hdr_from or sender or "nobody@remote.example",
                  hdr_to or to, subject, uuid.uuid4().hex, extra, body))
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        assert c.sendmail(sender, [to], raw) == {}


def landed(srv, addr=USER):
    """{subject: sorted [(folder, flags)]}; folder "" is INBOX, flags the
    Maildir info letters (None for a file still in new/)."""
    root = srv.mailbox(addr)
    out = {}
    if not root.exists():
        return out
    boxes = [("", root)] + [(p.name[1:], p) for p in root.iterdir()
                            if p.name.startswith(".") and p.is_dir()]
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    for folder, box in boxes:
        for sub in ("new", "cur"):
            if not (box / sub).is_dir():
                continue
            for f in (box / sub).iterdir():
                h = parser.parsebytes(f.read_bytes())
                flags = f.name.split(":2,", 1)[1] if ":2," in f.name \
                    else None
                out.setdefault(str(h["Subject"]), []).append((folder, flags))
    return {k: sorted(v) for k, v in out.items()}


def where(srv, subject):
    return [f for f, _ in landed(srv).get(subject, [])]


def settle(sink, n, secs=1.0):
    time.sleep(secs)
    assert len(sink.msgs) == n, [m[2][:300] for m in sink.msgs]


# ---- RFC 5228 base -------------------------------------------------------

BASE = r'''require ["fileinto"];
if header :is "subject" "drop" { discard; stop; }
if header :is "subject" "one" { fileinto "A"; }
elsif header :contains "subject" "two" { fileinto "B"; }
elsif header :matches "subject" "th?ee*" { fileinto "C"; stop; }
else { keep; fileinto "D"; }
if header :contains "subject" "three" { fileinto "D"; }
if header :contains "subject" "discard" { discard; }
'''


def test_control_and_actions(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, BASE, folders="ABCD")
    for s in ("drop", "one", "number two", "three and more", "other",
              "explicit keep survives discard"):
        send(srv, s)
    got = landed(srv)
    assert "drop" not in got
    assert where(srv, "one") == ["A"]
    assert where(srv, "number two") == ["B"]
    assert where(srv, "three and more") == ["C"]      # stop ends the script
    assert where(srv, "other") == ["", "D"]
    # discard cancels only the implicit keep (RFC 5228 4.5).
    assert where(srv, "explicit keep survives discard") == ["", "D"]
    srv.wait_log("action=discard")


TESTS = r'''require ["fileinto", "envelope", "comparator-i;octet",
                     "comparator-i;ascii-casemap"];
if header :comparator "i;octet" :is "subject" "Octet-Case"
    { fileinto "Wrong"; stop; }
if header :comparator "i;octet" :is "subject" "octet-case"
    { fileinto "Octet"; stop; }
if header :is "subject" "CASEMAP-DEFAULT" { fileinto "Casemap"; stop; }
if header :comparator "i;ascii-casemap" :contains "x-tag" "MIDDLE"
    { fileinto "Contains"; stop; }
if header :matches "subject" "*inv*#??" { fileinto "Matches"; stop; }
if header :matches "subject" "literal \\* star *" { fileinto "Escaped"; stop; }
if address :domain :is "from" "Partner.Example" { fileinto "Domain"; stop; }
if address :localpart :is "from" "boss" { fileinto "Local"; stop; }
if address :all :is ["to", "cc"] "carol@other.example"
    { fileinto "All"; stop; }
if envelope :domain :is "from" "envelope.example"
    { fileinto "Envelope"; stop; }
if exists ["x-one", "x-two"] { fileinto "Exists"; stop; }
if size :over 2K { fileinto "Big"; stop; }
if allof (header :contains "subject" "allof", not exists "x-nope")
    { fileinto "Allof"; stop; }
if anyof (false, header :is "x-any" "1") { fileinto "Anyof"; stop; }
if not header :contains "subject" "keep" { fileinto "Not"; stop; }
'''

TEST_FOLDERS = ["Wrong", "Octet", "Casemap", "Contains", "Matches", "Escaped",
                "Domain", "Local", "All", "Envelope", "Exists", "Big",
                "Allof", "Anyof", "Not"]


def test_tests_comparators_match_types(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, TESTS, folders=TEST_FOLDERS)
    send(srv, "octet-case")
    send(srv, "Octet-CASE keep")                # i;octet is case-sensitive
    send(srv, "casemap-default")
    send(srv, "tagged keep", extra="X-Tag: in the middle of it\r\n")
    send(srv, "keep invoice #42")
    send(srv, "keep invoice #4")                # ?? needs two characters
    send(srv, "literal * star keep")
    send(srv, "literal x star keep")            # \* is no wildcard
    send(srv, "partner keep", hdr_from='"Bob" <bob@partner.example>')
    send(srv, "boss keep", hdr_from="The Boss <boss@remote.example>")
    send(srv, "cc keep", extra="Cc: Carol <carol@other.example>\r\n")
    send(srv, "envelope keep", sender="x@envelope.example",
         hdr_from="y@remote.example")
    send(srv, "exists keep", extra="X-One: 1\r\nX-Two: 2\r\n")
    send(srv, "exists half keep", extra="X-One: 1\r\n")
    send(srv, "big keep", body=("x" * 70 + "\r\n") * 40)
    send(srv, "allof keep")
    send(srv, "anyof keep", extra="X-Any: 1\r\n")
    send(srv, "nothing")
    send(srv, "plain keep")
    assert where(srv, "octet-case") == ["Octet"]
    assert where(srv, "Octet-CASE keep") == [""]
    assert where(srv, "casemap-default") == ["Casemap"]
    assert where(srv, "tagged keep") == ["Contains"]
    assert where(srv, "keep invoice #42") == ["Matches"]
    assert where(srv, "keep invoice #4") == [""]
    assert where(srv, "literal * star keep") == ["Escaped"]
    assert where(srv, "literal x star keep") == [""]
    assert where(srv, "partner keep") == ["Domain"]
    assert where(srv, "boss keep") == ["Local"]
    assert where(srv, "cc keep") == ["All"]
    assert where(srv, "envelope keep") == ["Envelope"]
    assert where(srv, "exists keep") == ["Exists"]
    assert where(srv, "exists half keep") == [""]
    assert where(srv, "big keep") == ["Big"]
    assert where(srv, "allof keep") == ["Allof"]
    assert where(srv, "anyof keep") == ["Anyof"]
    assert where(srv, "nothing") == ["Not"]
    assert where(srv, "plain keep") == [""]
    assert not list((srv.mailbox(USER) / ".Wrong" / "new").iterdir())


def test_redirect(make_server, pw_hashes, sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = start(make_server, pw_hashes,
                'if header :contains "subject" "fwd" '
                '{ redirect "fwd@remote.example"; }\n', sink=sink)
    send(srv, "please fwd this")
    send(srv, "local")
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert rcpts == ["fwd@remote.example"]
    assert mail                                 # not the null sender
    assert b"Subject: please fwd this" in data
    settle(sink, 1, 0.5)
    # redirect cancels the implicit keep.
    assert "please fwd this" not in landed(srv)
    assert where(srv, "local") == [""]


# ---- fileinto, mailbox ---------------------------------------------------

def test_fileinto_create_and_mailboxexists(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, r'''require ["fileinto", "mailbox"];
if header :is "subject" "exists" {
    if mailboxexists "Existing" { fileinto "Existing"; }
    if mailboxexists ["Existing", "Missing"] { fileinto "Wrong"; }
}
if header :is "subject" "create" { fileinto :create "Made.Sub"; }
if header :is "subject" "nocreate" { fileinto "Missing"; }
if header :is "subject" "inbox" {
    if mailboxexists "INBOX" { fileinto "Existing"; }
}
''', folders=["Existing", "Wrong"])
    send(srv, "exists")
    send(srv, "create")
    send(srv, "nocreate")
    send(srv, "inbox")
    assert where(srv, "exists") == ["Existing"]
    assert where(srv, "create") == ["Made.Sub"]
    assert where(srv, "nocreate") == [""]           # falls back to INBOX
    assert where(srv, "inbox") == ["Existing"]
    assert not (srv.mailbox(USER) / ".Missing").exists()


# ---- reject / ereject ----------------------------------------------------

@pytest.mark.parametrize("cmd", ["reject", "ereject"])
def test_reject_ereject(make_server, pw_hashes, sink_factory,
                        cmd):  # noqa: F811
    sink = sink_factory()
    srv = start(make_server, pw_hashes,
                'require "%s";\nif header :contains "subject" "offer" '
                '{ %s "Not interested."; }\n' % (cmd, cmd), sink=sink)
    send(srv, "great offer")
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert mail == "" and rcpts == [REMOTE]
    assert b"Not interested." in data
    assert b"; deleted" in data
    assert b"Subject: great offer" in data
    send(srv, "hello")
    settle(sink, 1, 0.5)
    got = landed(srv)
    assert "great offer" not in got
    assert got["hello"] == [("", None)]
    srv.wait_log("reject=sent")


# ---- imap4flags ----------------------------------------------------------

FLAGS = r'''require ["imap4flags", "fileinto"];
if header :is "subject" "set" {
    setflag ["\\Flagged", "\\Deleted"];
    addflag "\\Seen \\Answered";
    removeflag "\\Deleted";
    if hasflag :is "\\Seen" { addflag "\\Draft"; }
    keep;
}
if header :is "subject" "tagged" {
    fileinto :flags ["\\Seen", "$Label1", "Work"] "Flagged";
    stop;
}
if header :is "subject" "internal" {
    addflag "\\Flagged";
    fileinto "Flagged";
    removeflag "\\Flagged";
    addflag "\\Seen";
    keep;
}
'''


def test_imap4flags(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, FLAGS, folders=["Flagged"])
    send(srv, "set")
    send(srv, "tagged")
    send(srv, "internal")
    send(srv, "plain")
    got = landed(srv)
    assert got["set"] == [("", "DFRS")]
    # Keywords as Dovecot letters: a = $Label1, b = Work (dovecot-keywords).
    assert got["tagged"] == [("Flagged", "Sab")]
    # fileinto takes the flags of its moment, keep those of its own
    # (RFC 5232 3).
    assert got["internal"] == [("", "S"), ("Flagged", "F")]
    assert got["plain"] == [("", None)]
    r = subprocess.run([BIN, "check", "-v", "-c", str(srv.conf_path), USER],
                       capture_output=True, timeout=60)
    out = r.stdout.decode()
    assert re.search(r"flags=S keywords=\S*\$Label1\S*", out), out
    assert re.search(r"keywords=\S*Work", out), out


# ---- subaddress ----------------------------------------------------------

def test_subaddress(make_server, pw_hashes):
    srv = start(make_server, pw_hashes,
                r'''require ["fileinto", "subaddress", "envelope"];
if address :detail :is "to" "lists" { fileinto "Lists"; stop; }
if address :detail :is "to" "" { fileinto "Empty"; stop; }
if allof (address :user :is "to" "alice",
          address :detail :matches "to" "*") { fileinto "User"; stop; }
''', folders=["Lists", "Empty", "User"])
    send(srv, "detail", to="alice+lists@example.test")
    send(srv, "empty", to="alice+@example.test")
    send(srv, "other", to="alice+misc@example.test")
    send(srv, "none")
    assert where(srv, "detail") == ["Lists"]
    assert where(srv, "empty") == ["Empty"]
    assert where(srv, "other") == ["User"]
    # No separator: :detail does not match at all (RFC 5233 4).
    assert where(srv, "none") == [""]


def test_subaddress_envelope(make_server, pw_hashes):
    """envelope :detail "to" looks at the RCPT TO address (RFC 5233 4)."""
    srv = start(make_server, pw_hashes,
                r'''require ["fileinto", "subaddress", "envelope"];
if envelope :detail :is "to" "lists" { fileinto "Lists"; stop; }
if envelope :user :is "to" "alice" { fileinto "User"; stop; }
''', folders=["Lists", "User"])
    send(srv, "detail", to="alice+lists@example.test",
         hdr_to="alice@example.test")
    send(srv, "plain")
    assert where(srv, "plain") == ["User"]
    assert where(srv, "detail") == ["Lists"]


# ---- body ----------------------------------------------------------------

MULTIPART = (
    "From: someone@remote.example\r\nTo: alice@example.test\r\n"
    "Subject: %s\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer-b\"\r\n\r\n"
    "preamble\r\n"
    "--outer-b\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner-b\"\r\n\r\n"
    "--inner-b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "UGxlYXNlIGZpbmQgdGhlIHBsYWlud29yZCBoZXJlLg==\r\n"
    "--inner-b\r\n"
    "Content-Type: text/html\r\n\r\n"
    "<p>The <b>htmlword</b> is here.</p>\r\n"
    "--inner-b--\r\n"
    "--outer-b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "YXR0YWNod29yZA==\r\n"
    "--outer-b--\r\n")


def test_body(make_server, pw_hashes):
    # Each message gets a flag per body test that matched.
    srv = start(make_server, pw_hashes, r'''require ["body", "imap4flags"];
if body :raw :contains "UGxlYXNlIGZpbmQ" { addflag "\\Seen"; }
if body :raw :contains "plainword" { addflag "\\Deleted"; }
if body :text :contains "plainword" { addflag "\\Flagged"; }
if body :content "text/html" :contains "<b>htmlword</b>"
    { addflag "\\Answered"; }
if body :content "text/plain" :contains "htmlword" { addflag "wrong1"; }
if body :content "application/octet-stream" :contains "attachword"
    { addflag "\\Draft"; }
if body :content "text" :contains "attachword" { addflag "wrong2"; }
''')
    send(srv, "mp", raw=MULTIPART % "mp")
    send(srv, "simple", body="just plainword here\r\n")
    got = landed(srv)
    # :raw is undecoded (S, not T); :text decodes (F); :content picks
    # the part by type (R, D).
    assert got["mp"] == [("", "DFRS")], got
    assert got["simple"] == [("", "FT")], got


# ---- relational, i;ascii-numeric -----------------------------------------

def test_relational(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, r'''require ["fileinto",
    "relational", "comparator-i;ascii-numeric"];
if header :count "ge" :comparator "i;ascii-numeric" "received" "3"
    { fileinto "Hops"; stop; }
if header :value "gt" :comparator "i;ascii-numeric" "x-priority" "3"
    { fileinto "Low"; stop; }
if address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "2"
    { fileinto "Two"; stop; }
if header :value "lt" "subject" "b" { fileinto "Before"; stop; }
if header :is :comparator "i;ascii-numeric" "x-num" "007"
    { fileinto "Numeq"; stop; }
''', folders=["Hops", "Low", "Two", "Before", "Numeq"])
    rcv = "Received: from a by b; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    # The script sees the message as stored: our own Received line counts.
    send(srv, "x hops", extra=rcv * 2)           # 2 + ours = 3
    send(srv, "x two hops", extra=rcv * 1)       # 1 + ours = 2
    send(srv, "x prio5", extra="X-Priority: 5\r\n")
    send(srv, "x prio10", extra="X-Priority: 10\r\n")   # numeric, not "1"
    send(srv, "x prio2", extra="X-Priority: 2\r\n")
    send(srv, "x two rcpts", extra="Cc: c@remote.example\r\n")
    send(srv, "alpha")
    send(srv, "x num", extra="X-Num: 7\r\n")
    assert where(srv, "x hops") == ["Hops"]
    assert where(srv, "x two hops") == [""]
    assert where(srv, "x prio5") == ["Low"]
    assert where(srv, "x prio10") == ["Low"]
    assert where(srv, "x prio2") == [""]
    assert where(srv, "x two rcpts") == ["Two"]
    assert where(srv, "alpha") == ["Before"]
    assert where(srv, "x num") == ["Numeq"]


# ---- variables, regex, encoded-character ---------------------------------

def test_variables(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, r'''require ["fileinto", "mailbox",
    "variables", "imap4flags"];
if header :matches "subject" "[*] *" {
    set :lower "list" "${1}";
    fileinto :create "Lists.${list}";
    stop;
}
set "a" "hello world";
set :upperfirst "b" "${a}";
set :length "n" "${a}";
set :upper :lowerfirst "c" "${a}";
set :quotewildcard "q" "a*b?";
if allof (string :is "${b}" "Hello world", string :is "${n}" "11",
          string :is "${c}" "hELLO WORLD",
          string :matches "a*b?" "${q}",
          not string :matches "aXXbY" "${q}") {
    addflag "\\Flagged";
}
if header :matches "subject" "*-*" {
    if string :is "${0}" "left-right" { addflag "\\Seen"; }
    if string :is "${2}" "right" { addflag "\\Answered"; }
}
''')
    send(srv, "[DevTeam] weekly")
    send(srv, "left-right")
    got = landed(srv)
    assert got["[DevTeam] weekly"] == [("Lists.devteam", None)], got
    assert got["left-right"] == [("", "FRS")], got


def test_regex(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, r'''require ["fileinto", "mailbox",
    "variables", "regex"];
if header :regex "subject" "^order ([0-9]+) from ([a-z]+)$" {
    fileinto :create "Orders.${2}-${1}";
    stop;
}
if header :regex :comparator "i;ascii-casemap" "subject" "^URGENT" {
    fileinto :create "Urgent";
}
''')
    send(srv, "order 1234 from acme")
    send(srv, "order 12x4 from acme")
    send(srv, "urgent: call me")
    assert where(srv, "order 1234 from acme") == ["Orders.acme-1234"]
    assert where(srv, "order 12x4 from acme") == [""]
    assert where(srv, "urgent: call me") == ["Urgent"]


def test_encoded_character(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, r'''require ["fileinto",
    "encoded-character"];
if header :is "subject" "${hex:48 49}" { fileinto "${hex:45}nc"; stop; }
if header :contains "subject" "${unicode:263a}" { fileinto "Enc"; stop; }
if header :is "subject" "$${hex:48}" { fileinto "Lit"; stop; }
''', folders=["Enc", "Lit"])
    send(srv, "HI")
    send(srv, "=?utf-8?b?c21pbGUg4pi6?=")            # "smile \u263a"
    send(srv, "$H")
    send(srv, "hi there")
    assert where(srv, "HI") == ["Enc"]
    assert where(srv, "smile \u263a") == ["Enc"]
    assert where(srv, "$H") == ["Lit"]
    assert where(srv, "hi there") == [""]


# ---- copy, vacation ------------------------------------------------------

def test_copy(make_server, pw_hashes, sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = start(make_server, pw_hashes, r'''require ["fileinto", "copy"];
if header :is "subject" "fcopy" { fileinto :copy "Archive"; }
if header :is "subject" "rcopy" { redirect :copy "fwd@remote.example"; }
if header :is "subject" "nocopy" { fileinto "Archive"; }
''', folders=["Archive"], sink=sink)
    send(srv, "fcopy")
    send(srv, "rcopy")
    send(srv, "nocopy")
    assert where(srv, "fcopy") == ["", "Archive"]
    assert where(srv, "nocopy") == ["Archive"]
    assert where(srv, "rcopy") == [""]
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert rcpts == ["fwd@remote.example"] and b"Subject: rcopy" in data


def test_vacation_smoke(make_server, pw_hashes, sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = start(make_server, pw_hashes,
                'require "vacation";\nvacation :subject "Away" "gone";\n',
                sink=sink)
    send(srv, "hello")
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert mail == "" and rcpts == [REMOTE]
    m = email.message_from_bytes(data, policy=email.policy.default)
    assert m["Subject"] == "Away"
    assert where(srv, "hello") == [""]


# ---- spamtest ------------------------------------------------------------

def test_spamtest(make_server, pw_hashes, tmp_path):
    rules = tmp_path / "rules.conf"
    rules.write_text("header TEST_SIEVE_PILLS Subject /cheap pills/i 9\n")
    srv = start(make_server, pw_hashes, r'''require ["fileinto",
    "spamtest", "spamtestplus", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "5"
    { fileinto "Spam"; stop; }
if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
    { fileinto "Untested"; stop; }
if spamtest :percent :value "lt" :comparator "i;ascii-numeric" "50"
    { fileinto "Clean"; stop; }
''', folders=["Spam", "Untested", "Clean"],
                conf={"spam": {"enable": True, "rules_file": str(rules),
                               "actions": {"reject": 100.0,
                                           "add_header": 90.0}}})
    send(srv, "cheap pills today")
    send(srv, "lunch?")
    assert where(srv, "cheap pills today") == ["Spam"]
    assert where(srv, "lunch?") == ["Clean"]


def test_spamtest_untested(make_server, pw_hashes):
    srv = start(make_server, pw_hashes, r'''require ["fileinto",
    "spamtest", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
    { fileinto "Untested"; }
''', folders=["Untested"], conf={"spam": {"enable": False}})
    send(srv, "x")
    assert where(srv, "x") == ["Untested"]


def test_headers_added_on_delivery_visible(make_server, pw_hashes, tmp_path):
    """Scripts written for Dovecot test the scanner's headers."""
    rules = tmp_path / "rules.conf"
    rules.write_text("header TEST_SIEVE_PILLS Subject /cheap pills/i 9\n")
    srv = start(make_server, pw_hashes, r'''require ["fileinto"];
if header :is "x-spam" "yes" { fileinto "Spam"; stop; }
if exists "x-spam-score" { fileinto "Scored"; }
''', folders=["Spam", "Scored"],
                conf={"spam": {"rules_file": str(rules),
                               "actions": {"reject": 100.0,
                                           "add_header": 6.0}}})
    send(srv, "cheap pills today")
    send(srv, "lunch?")
    assert where(srv, "cheap pills today") == ["Spam"]
    assert where(srv, "lunch?") == ["Scored"]


# ---- errors --------------------------------------------------------------

def test_runtime_error_keeps(make_server, pw_hashes,
                             sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = start(make_server, pw_hashes, r'''require ["fileinto", "reject", "vacation"];
if header :is "subject" "many" {
    redirect "a@remote.example"; redirect "b@remote.example";
    redirect "c@remote.example"; redirect "d@remote.example";
    redirect "e@remote.example";
}
if header :is "subject" "clash" {
    fileinto "X"; vacation "away"; reject "no";
}
''', folders=["X"], sink=sink)
    send(srv, "many")
    srv.wait_log('action=keep error="run-time')
    send(srv, "clash")
    # Nothing the failed script asked for happens (no redirect, reply,
    # report or fileinto): the message is in INBOX (RFC 5228 2.10.6).
    settle(sink, 0, 0.5)
    got = landed(srv)
    assert got["many"] == [("", None)]
    assert got["clash"] == [("", None)]
    assert srv.log().count('action=keep error="run-time') == 2, srv.log()
