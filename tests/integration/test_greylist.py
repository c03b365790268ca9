"""
Greylisting and DNS block/allow lists on the MX (filter/spam/spam_greylist.c,
filter/spam/spam_dnsbl.c, filter/filter_auth.c, smtp_msg_filtered):

- spam.greylist: a message scoring at spam.actions.greylist from a new
  (client /24, sender, recipient) triplet gets 451 4.7.1 at the end of
  DATA; the retry after spam.greylist.delay is accepted; a message below
  the greylist score is never deferred.
- spam.dnsbl: "<reversed ip>.<zone>" A from a dnsmasq on loopback; a
  127.0.0.x answer adds RBL_<ZONE> to X-Spam-Result, a zone named
  "*dnswl*" gives a negative weight.
"""
import re
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import free_port, dnsmasq, txt_records
from test_mailauth import need



def msg(subject, mid):
    return ("Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
            "Message-ID: <%s@example.net>\r\nFrom: <carol@example.net>\r\n"
            "To: <bob@example.test>\r\nSubject: %s\r\n\r\nNoon?\r\n"
            % (mid, subject)).encode()


@pytest.fixture
def dnsbl(tmp_path):
    """dnsmasq on loopback: 127.0.0.1 listed in zen.example.test,
    list.dnswl.test and good.example.test; everything else answered
    locally (NXDOMAIN)."""
    with dnsmasq(tmp_path,
                 ["--host-record=1.0.0.127.zen.example.test,127.0.0.2",
                  "--host-record=1.0.0.127.list.dnswl.test,127.0.0.5",
                  "--host-record=1.0.0.127.good.example.test,127.0.10.3"],
                 local=("example.test", "dnswl.test", "example.net",
                        "example.org")) as port:
        yield port


def accounts(pw_hashes):
    return [{"name": "bob@example.test",
             "hashed_password": pw_hashes("hunter2")},
            {"name": "dave@example.test",
             "hashed_password": pw_hashes("hunter2")}]


def delivered(srv, addr, n, wait=15):
    d = srv.mailbox(addr) / "new"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = sorted(d.iterdir()) if d.exists() else []
        if len(got) >= n:
            return [p.read_bytes() for p in got]
        time.sleep(0.05)
    return sorted(p.read_bytes() for p in d.iterdir()) if d.exists() else []


def spam_result(raw):
    head = raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    m = re.search(r"^X-Spam-Result:(.*?)\r\n(?![ \t])", head + "\r\n",
                  re.M | re.S)
    assert m, head
    return re.sub(r"\r\n[ \t]+", " ", m.group(1))


def send(srv, data, rcpt="bob@example.test", sender="carol@example.net"):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                      local_hostname="client.example.net", timeout=30) as c:
        return c.sendmail(sender, [rcpt], data)


@pytest.fixture
def grey(make_server, pw_hashes, dnsbl, tmp_path):
    rules = tmp_path / "rules.conf"
    rules.write_text("header TEST_GREY Subject /greyme/i 5\n")
    return make_server(
        services=["smtp"],
        conf={"accounts": accounts(pw_hashes),
              "dns": {"resolvers": ["127.0.0.1:%d" % dnsbl]},
              "spam": {"rules_file": str(rules),
                       "actions": {"reject": 50.0, "add_header": 20.0,
                                   "greylist": 4.0},
                       "greylist": {"enable": True, "delay": 2}}})


def test_greylist_then_retry(grey):
    data = msg("please greyme", "g1")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(grey, data)
    assert e.value.smtp_code == 451
    assert b"4.7.1" in e.value.smtp_error
    assert b"Greylisted" in e.value.smtp_error
    # Too early: still deferred.
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(grey, data)
    assert e.value.smtp_code == 451
    assert delivered(grey, "bob@example.test", 1, wait=0.2) == []
    time.sleep(2.5)
    send(grey, data)
    got = delivered(grey, "bob@example.test", 1)
    assert len(got) == 1
    assert "TEST_GREY" in spam_result(got[0])
    # The passed triplet is remembered: no new wait.
    send(grey, msg("greyme again", "g2"))
    assert len(delivered(grey, "bob@example.test", 2)) == 2
    # Another recipient is another triplet.
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(grey, msg("greyme", "g3"), rcpt="dave@example.test")
    assert e.value.smtp_code == 451


def test_allowlisted_client_not_greylisted(make_server, pw_hashes, dnsbl,
                                           tmp_path):
    """A client on a DNSWL skips greylisting whatever it scores."""
    rules = tmp_path / "rules.conf"
    rules.write_text("header TEST_GREY Subject /greyme/i 9\n")
    base = {"accounts": accounts(pw_hashes),
            "dns": {"resolvers": ["127.0.0.1:%d" % dnsbl]},
            "spam": {"rules_file": str(rules),
                     "actions": {"reject": 50.0, "add_header": 20.0,
                                 "greylist": 4.0},
                     "greylist": {"enable": True, "delay": 300}}}
    # Control: the same server without the allowlist defers.
    srv = make_server(services=["smtp"], conf=base)
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(srv, msg("greyme", "w0"))
    assert e.value.smtp_code == 451
    srv.stop()
    base["spam"]["dnsbl"] = ["good.example.test:wl"]
    srv = make_server(services=["smtp"], conf=base)
    send(srv, msg("greyme", "w1"))          # 9 - 3 = 6 >= 4, not deferred
    got = delivered(srv, "bob@example.test", 1)
    assert len(got) == 1
    res = spam_result(got[0])
    assert "TEST_GREY" in res and "RBL_GOOD_EXAMPLE_TEST" in res, res
    assert "greylist" in res, res           # the action it would have had
    assert "deferred" not in srv.log()


def test_below_greylist_score_not_deferred(grey):
    send(grey, msg("lunch", "c1"), rcpt="dave@example.test",
         sender="eve@example.org")
    got = delivered(grey, "dave@example.test", 1)
    assert len(got) == 1
    assert "TEST_GREY" not in spam_result(got[0])


@pytest.fixture
def rbl(make_server, pw_hashes, dnsbl):
    return make_server(
        services=["smtp"],
        conf={"accounts": accounts(pw_hashes),
              "dns": {"resolvers": ["127.0.0.1:%d" % dnsbl]},
              "spam": {"dnsbl": ["zen.example.test", "list.dnswl.test",
                                 "nolist.example.test",
                                 "good.example.test:wl"],
                       "symbols": [{"name": "RBL_ZEN_EXAMPLE_TEST",
                                    "weight": 2.5}],
                       "actions": {"reject": 50.0, "add_header": 20.0,
                                   "greylist": 4.0}}})


def test_dnsbl_symbols(rbl):
    send(rbl, msg("lunch", "r1"))
    got = delivered(rbl, "bob@example.test", 1)
    assert len(got) == 1
    res = spam_result(got[0])
    m = re.search(r"RBL_ZEN_EXAMPLE_TEST\(([-0-9.]+)\)\[127\.0\.0\.2\]", res)
    assert m, res
    assert float(m.group(1)) == 2.5            # spam.symbols override
    m = re.search(r"RBL_LIST_DNSWL_TEST\(([-0-9.]+)\)\[127\.0\.0\.5\]", res)
    assert m, res
    assert float(m.group(1)) < 0               # an allowlist lowers it
    assert "NOLIST" not in res                 # NXDOMAIN: no symbol
    # "zone:wl": an allowlist by configuration, listings in 127.0/16.
    m = re.search(r"RBL_GOOD_EXAMPLE_TEST\(([-0-9.]+)\)\[127\.0\.10\.3\]",
                  res)
    assert m, res
    assert float(m.group(1)) < 0
    syms = [float(x) for x in re.findall(r"[A-Z0-9_]+\(([-0-9.]+)\)", res)]
    score = float(re.search(r"score=([-0-9.]+)", res).group(1))
    assert abs(score - sum(syms)) < 0.05
