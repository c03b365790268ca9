"""
Mail authentication, part 2 (filter/filter_sign.c, dmarc.enforce):

- the mail postern makes itself is DKIM-signed when its From domain is
  ours: a DSN after a 5xx (From MAILER-DAEMON@<fqdn>, signed by the
  parent domain's key; with srs.enable From MAILER-DAEMON@srs.domain,
  signed by the srs.domain key generated at start) and a Sieve vacation
  reply (From the user).  Signatures are checked by an independent
  verifier, ../shared/external/dkim-verify.py (dkimpy), with the keys
  postern wrote (opendkim-genkey .txt layout).
- dmarc.enforce: with a dnsmasq on loopback publishing p=reject for
  sender.test, a forged From from it is refused with 550 5.7.1 when
  enforce is true and accepted with dmarc=fail when false; p=quarantine
  (and p=reject spared by pct=0, RFC 7489 6.6.4) is filed into Junk.
"""
import shutil
import smtplib
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, free_port, dnsmasq, txt_records
from test_outbound import (Sink, _submit, _wait_bounce,  # noqa: F401
                           sink_factory)

SHARED = ROOT.parent / "shared"
VERIFY = SHARED / "external" / "dkim-verify.py"
PY = "/usr/bin/python3"
AUTHSERV = "mail.example.test"


def need(path_or_cmd):
    if "/" in str(path_or_cmd):
        if not Path(path_or_cmd).exists():
            pytest.fail("missing %s (expected ../shared relative to the "
                        "repository root %s)" % (path_or_cmd, ROOT))
    elif shutil.which(path_or_cmd) is None:
        pytest.fail("missing program %s" % path_or_cmd)


def header_values(raw, name):
    """Unfolded values of every field called name."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    out, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += " " + line.strip()
            continue
        if cur is not None:
            out.append(cur)
            cur = None
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            cur = v.strip()
    if cur is not None:
        out.append(cur)
    return out


def verify(srv, tmp_path, raw, domain, selector="mail"):
    """dkimpy verifies raw with the key postern wrote for domain."""
    need(VERIFY)
    keydir = Path(srv.conf["dkim"]["key_directory"])
    txt = (keydir / ("%s.%s.txt" % (domain, selector))).read_text()
    keys = tmp_path / ("keys-%s.txt" % uuid.uuid4().hex)
    keys.write_text(txt.replace("%s._domainkey" % selector,
                                "%s._domainkey.%s" % (selector, domain), 1))
    msg = tmp_path / ("msg-%s.eml" % uuid.uuid4().hex)
    msg.write_bytes(raw)
    r = subprocess.run([PY, str(VERIFY), str(keys), str(msg)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def raw_files(srv, addr, folder=""):
    base = srv.mailbox(addr)
    d = (base / ("." + folder) if folder else base)
    out = []
    for sub in ("new", "cur"):
        if (d / sub).exists():
            out += [p.read_bytes() for p in sorted((d / sub).iterdir())]
    return out


def _out_srv(make_server, pw_hashes, sink, **conf):
    c = {"accounts": [{"name": "alice@example.test",
                       "hashed_password": pw_hashes("secret")}],
         "relay": {"host": "127.0.0.1", "port": sink.port}}
    c.update(conf)
    return make_server(services=["smtp", "submission"], conf=c)


def _bounce_raw(srv, addr="alice@example.test", timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in raw_files(srv, addr):
            if b"multipart/report" in raw:
                return raw
        time.sleep(0.05)
    raise AssertionError("no bounce for %s:\n%s" % (addr, srv.log()))


# ---- DKIM on the mail we make ----------------------------------------------

def test_dsn_signed(make_server, pw_hashes, sink_factory, tmp_path):
    sink = sink_factory(policy=lambda addr, n: "550 5.1.1 no such user")
    srv = _out_srv(make_server, pw_hashes, sink)
    _submit(srv, ["nobody@remote.example"])
    raw = _bounce_raw(srv)
    assert b"From: Mail Delivery System <MAILER-DAEMON@mail.example.test>" \
        in raw
    sigs = header_values(raw, "DKIM-Signature")
    assert len(sigs) == 1, raw[:2000]
    # Our host name is not a signing domain: its parent's key signs.
    assert "d=example.test" in sigs[0].replace(" ", "")
    out = verify(srv, tmp_path, raw, "example.test")
    assert "pass" in out


def test_dsn_signed_srs_domain(make_server, pw_hashes, sink_factory,
                               tmp_path):
    """srs.enable: DSNs come from MAILER-DAEMON@srs.domain and its key
    (dkim.defaults, generated at start) signs them."""
    sink = sink_factory(policy=lambda addr, n: "550 5.1.1 no such user")
    srs_dom = "srs-%s.example.test" % uuid.uuid4().hex[:8]
    srv = _out_srv(make_server, pw_hashes, sink,
                   srs={"enable": True, "domain": srs_dom})
    keydir = Path(srv.conf["dkim"]["key_directory"])
    assert (keydir / ("%s.mail.key" % srs_dom)).exists()
    _submit(srv, ["nobody@remote.example"])
    raw = _bounce_raw(srv)
    assert ("<MAILER-DAEMON@%s>" % srs_dom).encode() in raw
    sigs = header_values(raw, "DKIM-Signature")
    assert len(sigs) == 1
    assert ("d=%s" % srs_dom) in sigs[0].replace(" ", "")
    verify(srv, tmp_path, raw, srs_dom)


def test_vacation_reply_signed(make_server, pw_hashes, sink_factory,
                               tmp_path):
    sink = sink_factory()
    script = ('require ["vacation"];\n'
              'vacation :days 1 :subject "Away" "Back on Monday.";\n')
    srv = make_server(
        services=["smtp"],
        conf={"accounts": [{"name": "alice@example.test",
                            "hashed_password": pw_hashes("secret"),
                            "sieve_script": script}],
              "relay": {"host": "127.0.0.1", "port": sink.port},
              "spam": {"enable": False}})
    msg = ("From: someone@remote.example\r\nTo: alice@example.test\r\n"
           "Subject: hi\r\nMessage-ID: <%s@remote.example>\r\n\r\nbody\r\n"
           % uuid.uuid4().hex)
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.sendmail("someone@remote.example", ["alice@example.test"], msg)
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert mail == "" and rcpts == ["someone@remote.example"]
    sigs = header_values(data, "DKIM-Signature")
    assert len(sigs) == 1, data[:2000]
    assert "d=example.test" in sigs[0].replace(" ", "")
    verify(srv, tmp_path, data, "example.test")


def test_not_ours_not_signed(make_server, pw_hashes, sink_factory):
    """A vacation :from of a foreign domain is not signed."""
    sink = sink_factory()
    script = ('require ["vacation"];\n'
              'vacation :from "alice@elsewhere.example" "Away.";\n')
    srv = make_server(
        services=["smtp"],
        conf={"accounts": [{"name": "alice@example.test",
                            "hashed_password": pw_hashes("secret"),
                            "sieve_script": script}],
              "relay": {"host": "127.0.0.1", "port": sink.port},
              "spam": {"enable": False}})
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.sendmail("someone@remote.example", ["alice@example.test"],
                   "From: someone@remote.example\r\nTo: alice@example.test"
                   "\r\nSubject: hi\r\n\r\nbody\r\n")
    data = sink.wait(1)[0][2]
    assert b"elsewhere.example" in data
    assert header_values(data, "DKIM-Signature") == []


# ---- dmarc.enforce ----------------------------------------------------------

@pytest.fixture
def dns(tmp_path):
    """dnsmasq on loopback with DMARC policies; yields its port."""
    recs = {
        "sender.test": "v=spf1 ip4:192.0.2.1 -all",
        "_dmarc.sender.test": "v=DMARC1; p=reject",
        "quar.test": "v=spf1 ip4:192.0.2.1 -all",
        "_dmarc.quar.test": "v=DMARC1; p=quarantine",
        "pct.test": "v=spf1 ip4:192.0.2.1 -all",
        "_dmarc.pct.test": "v=DMARC1; p=reject; pct=0",
    }
    with dnsmasq(tmp_path, txt_records(recs),
                 local=("sender.test", "quar.test", "pct.test")) as port:
        yield port


def _mx(make_server, pw_hashes, dns, enforce):
    return make_server(
        services=["smtp"],
        conf={"accounts": [{"name": "bob@example.test",
                            "hashed_password": pw_hashes("hunter2")}],
              "dns": {"resolvers": ["127.0.0.1:%d" % dns]},
              "spam": {"enable": False},
              "dmarc": {"enforce": enforce}})


def _forged(domain):
    return ("From: Boss <boss@%s>\r\nTo: bob@example.test\r\n"
            "Subject: wire money %s\r\n\r\nNow.\r\n"
            % (domain, uuid.uuid4().hex)).encode()


def _our_ar(raw):
    return [v for v in header_values(raw, "Authentication-Results")
            if v.split(";")[0].strip().lower() == AUTHSERV]


def test_dmarc_reject_enforced(make_server, pw_hashes, dns):
    srv = _mx(make_server, pw_hashes, dns, True)
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=30) as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("boss@sender.test", ["bob@example.test"],
                       _forged("sender.test"))
    assert e.value.smtp_code == 550
    msg = e.value.smtp_error.decode()
    assert msg.startswith("5.7.1") and "DMARC" in msg, msg
    assert "sender.test" in msg
    assert raw_files(srv, "bob@example.test") == []
    srv.wait_log("rejected: dmarc")


def test_dmarc_reject_not_enforced(make_server, pw_hashes, dns):
    srv = _mx(make_server, pw_hashes, dns, False)
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=30) as c:
        c.sendmail("boss@sender.test", ["bob@example.test"],
                   _forged("sender.test"))
    [raw] = raw_files(srv, "bob@example.test")
    ar = _our_ar(raw)
    assert len(ar) == 1 and "dmarc=fail" in ar[0], raw[:1500]
    assert "p=reject" in ar[0]


def test_dmarc_quarantine_and_pct_to_junk(make_server, pw_hashes, dns):
    srv = _mx(make_server, pw_hashes, dns, True)
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=30) as c:
        c.sendmail("boss@quar.test", ["bob@example.test"],
                   _forged("quar.test"))
        # p=reject with pct=0: never sampled, so quarantine (6.6.4).
        c.sendmail("boss@pct.test", ["bob@example.test"],
                   _forged("pct.test"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        junk = raw_files(srv, "bob@example.test", "Junk")
        if len(junk) == 2:
            break
        time.sleep(0.05)
    assert len(junk) == 2, srv.log()
    assert raw_files(srv, "bob@example.test") == []
    for raw in junk:
        assert "dmarc=fail" in _our_ar(raw)[0]
