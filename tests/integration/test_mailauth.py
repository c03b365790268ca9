"""
Mail authentication (filter/filter.h): DKIM signing on submission, SPF +
DKIM verification + DMARC with one Authentication-Results on port 25,
and the `postern dkim show` / `postern dns` subcommands.

DNS comes from a dnsmasq started on 127.0.0.1 for the test (never the
system resolver).  Signatures are checked by an independent verifier,
../shared/external/dkim-verify.py (dkimpy, offline, keys from a file);
inbound messages are signed by dkimpy's `dkimsign`.
"""
import base64
import shutil
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, free_port, dnsmasq, txt_records

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


@pytest.fixture
def sender_key(tmp_path):
    """An RSA key for sender.test (PEM) and its DKIM TXT text."""
    need("openssl")
    key = tmp_path / "sender.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return key, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture
def dns(tmp_path, sender_key):
    """dnsmasq on loopback serving the test zones; yields its port."""
    _, keytxt = sender_key
    recs = {
        "sender.test": "v=spf1 ip4:127.0.0.1 -all",
        "helo.sender.test": "v=spf1 ip4:127.0.0.1 -all",
        "fail.test": "v=spf1 -all",
        "_dmarc.sender.test": "v=DMARC1; p=reject",
        "sel._domainkey.sender.test": keytxt,
    }
    with dnsmasq(tmp_path, txt_records(recs),
                 local=("sender.test", "fail.test")) as port:
        yield port


def accounts(pw_hashes):
    return [{"name": "alice@example.test",
             "hashed_password": pw_hashes("secret")},
            {"name": "bob@example.test",
             "hashed_password": pw_hashes("hunter2")}]


def messages(srv, addr):
    new = srv.mailbox(addr) / "new"
    return sorted(new.iterdir()) if new.exists() else []


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


# ---- submission: DKIM signing ---------------------------------------------

def test_submission_signed_and_verified(make_server, pw_hashes, tmp_path):
    need(VERIFY)
    keydir = tmp_path / "dkim"
    srv = make_server(
        services=["smtp", "submissions"],
        conf={"accounts": accounts(pw_hashes),
              "dkim": {"enable": True, "key_directory": str(keydir),
                       "domains": [{"domain": "example.test", "selectors": [
                           {"name": "mail"},
                           {"name": "ed", "key_type": "ed25519"}]}]}})
    # Keys were generated at start, with SNM-style .txt records.
    for sel in ("mail", "ed"):
        assert (keydir / ("example.test.%s.key" % sel)).exists()
        assert (keydir / ("example.test.%s.txt" % sel)).exists()
    msg = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
           b"Subject: signed\r\n\r\nHello Bob,\r\n  spaced  line \r\n\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"],
                          context=srv.ssl_context()) as c:
        c.login("alice@example.test", "secret")
        c.sendmail("alice@example.test", ["bob@example.test"], msg)
    files = messages(srv, "bob@example.test")
    assert len(files) == 1
    raw = files[0].read_bytes()
    sigs = header_values(raw, "DKIM-Signature")
    assert len(sigs) == 2, raw
    assert any("s=mail" in s and "a=rsa-sha256" in s for s in sigs)
    assert any("s=ed" in s and "a=ed25519-sha256" in s for s in sigs)
    # The keys as published (opendkim-genkey layout, full owner name).
    keys = tmp_path / "keys.txt"
    text = ""
    for sel in ("mail", "ed"):
        t = (keydir / ("example.test.%s.txt" % sel)).read_text()
        text += t.replace("%s._domainkey" % sel,
                          "%s._domainkey.example.test" % sel, 1) + "\n"
    keys.write_text(text)
    r = subprocess.run([PY, str(VERIFY), str(keys), str(files[0])],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # `postern dkim show` prints the same records.
    r = subprocess.run([BIN, "dkim", "show", "-c", str(srv.conf_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "selector mail: rsa 2048 bits" in r.stdout
    assert "selector ed: ed25519" in r.stdout
    assert "mail._domainkey.example.test. IN TXT" in r.stdout


# ---- inbound: SPF, DKIM, DMARC, Authentication-Results ----------------------

@pytest.fixture
def mx(make_server, pw_hashes, dns):
    return make_server(
        services=["smtp"],
        conf={"accounts": accounts(pw_hashes),
              "dns": {"resolvers": ["127.0.0.1:%d" % dns]}})


def signed(sender_key, body=b"Inbound test body.\r\n", extra=b""):
    need("dkimsign")
    key, _ = sender_key
    msg = (extra + b"From: Sam <sam@sender.test>\r\nTo: bob@example.test\r\n"
           b"Subject: inbound\r\nMessage-ID: <1@sender.test>\r\n\r\n" + body)
    r = subprocess.run(["dkimsign", "sel", "sender.test", str(key)],
                       input=msg, capture_output=True, check=True)
    return r.stdout


def send_mx(srv, mail_from, msg):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                      local_hostname="helo.sender.test", timeout=30) as c:
        c.sendmail(mail_from, ["bob@example.test"], msg)
    files = messages(srv, "bob@example.test")
    assert files
    return files[-1].read_bytes()


def our_ar(raw):
    return [v for v in header_values(raw, "Authentication-Results")
            if v.split(";")[0].strip().lower() == AUTHSERV]


def test_inbound_pass(mx, sender_key):
    raw = send_mx(mx, "sam@sender.test", signed(sender_key))
    ar = our_ar(raw)
    assert len(ar) == 1, raw
    assert "spf=pass smtp.mailfrom=sender.test" in ar[0]
    assert "dkim=pass" in ar[0] and "header.d=sender.test" in ar[0]
    assert "dmarc=pass" in ar[0]
    # RFC 8601: it comes before the message's own header fields.
    assert raw.index(b"Authentication-Results:") < raw.index(b"From: Sam")


def test_inbound_spf_fail_dkim_aligned(mx, sender_key):
    raw = send_mx(mx, "x@fail.test", signed(sender_key))
    ar = our_ar(raw)
    assert len(ar) == 1
    assert "spf=fail smtp.mailfrom=fail.test" in ar[0]
    assert "dkim=pass" in ar[0]
    assert "dmarc=pass" in ar[0]


def test_inbound_tampered(mx, sender_key):
    msg = signed(sender_key).replace(b"Inbound test body.",
                                     b"Inbound test b0dy.")
    raw = send_mx(mx, "sam@sender.test", msg)
    ar = our_ar(raw)
    assert len(ar) == 1
    assert "dkim=fail" in ar[0]
    # SPF passes for an aligned MAIL FROM, so DMARC still passes ...
    assert "dmarc=pass" in ar[0]
    # ... and fails when neither identifier is aligned and authentic.
    ar = our_ar(send_mx(mx, "x@fail.test", msg))
    assert "dkim=fail" in ar[0] and "spf=fail" in ar[0]
    assert "dmarc=fail" in ar[0]


def test_inbound_forged_ar_removed(mx, sender_key):
    forged = (b"Authentication-Results: " + AUTHSERV.upper().encode() +
              b";\r\n\tdkim=pass header.d=bank.example\r\n"
              b"Authentication-Results: other.example; spf=pass\r\n")
    raw = send_mx(mx, "sam@sender.test", signed(sender_key, extra=forged))
    ar = our_ar(raw)
    assert len(ar) == 1, raw
    assert "bank.example" not in raw.decode(errors="replace")
    assert "dkim=pass header.d=sender.test" in ar[0]
    # Other servers' results are left alone.
    assert any(v.startswith("other.example")
               for v in header_values(raw, "Authentication-Results"))
    assert "removed forged Authentication-Results" in mx.log()


def test_inbound_unsigned_dns_down(make_server, pw_hashes):
    """A dead resolver: temperror, and the session does not hang."""
    srv = make_server(services=["smtp"],
                      conf={"accounts": accounts(pw_hashes)})
    t0 = time.monotonic()
    raw = send_mx(srv, "sam@sender.test",
                  b"From: sam@sender.test\r\nSubject: x\r\n\r\nbody\r\n")
    assert time.monotonic() - t0 < 25
    ar = our_ar(raw)
    assert len(ar) == 1
    assert "spf=temperror" in ar[0]
    assert "dkim=none" in ar[0]


# ---- postern dns --------------------------------------------------------------

def test_dns_records(make_server, pw_hashes, tmp_path):
    srv = make_server(services=["smtp", "submissions", "imaps"],
                      conf={"accounts": accounts(pw_hashes),
                            "dkim": {"key_directory": str(tmp_path / "k")}})
    r = subprocess.run([BIN, "dns", "-c", str(srv.conf_path),
                        "example.test"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for want in ("example.test. IN MX 10 mail.example.test.",
                 'example.test. IN TXT "v=spf1 mx -all"',
                 "mail._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa;",
                 '_dmarc.example.test. IN TXT "v=DMARC1; p=none; '
                 'rua=mailto:postmaster@example.test"',
                 '_mta-sts.example.test. IN TXT "v=STSv1; id=',
                 '_smtp._tls.example.test. IN TXT "v=TLSRPTv1; '
                 'rua=mailto:postmaster@example.test"',
                 "_submissions._tcp.example.test. IN SRV 0 1 %d "
                 "mail.example.test." % srv.ports["submissions"],
                 "_imaps._tcp.example.test. IN SRV 0 1 %d "
                 "mail.example.test." % srv.ports["imaps"],
                 "_pop3._tcp.example.test. IN SRV 0 0 0 ."):
        assert want in out, out
    assert "example.org" not in out
    r = subprocess.run([BIN, "dns", "-c", str(srv.conf_path),
                        "nope.example"], capture_output=True, text=True)
    assert r.returncode == 1
