"""
HTTP service (listen.http): Mozilla autoconfig, Outlook Autodiscover,
Apple .mobileconfig, the MTA-STS policy, Prometheus /metrics (counters
move after SMTP traffic), /healthz, 404/405, HEAD, keep-alive and
pipelining, and the refusals (bad request line, oversized header, body
too large, chunked) on a live daemon.
"""
import http.client
import plistlib
import re
import smtplib
import socket
import xml.etree.ElementTree as ET

import pytest

SERVICES = ["smtp", "submission", "submissions", "imap", "imaps", "pop3s",
            "http"]
FQDN = "mail.example.test"


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(
        services=SERVICES,
        conf={"accounts": [{"name": "alice@example.test",
                            "hashed_password": pw_hashes("secret")}]})


def get(srv, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.ports["http"],
                                   timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def raw(srv, data, timeout=5):
    """Send bytes, read until the server closes; returns all bytes."""
    s = socket.create_connection(("127.0.0.1", srv.ports["http"]), 5)
    s.sendall(data)
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    s.close()
    return out


# ---- autoconfig ----------------------------------------------------------

def servers(root, tag):
    out = []
    for s in root.iter(tag):
        out.append((s.get("type"), s.findtext("hostname"),
                    int(s.findtext("port")), s.findtext("socketType"),
                    s.findtext("username")))
    return out


@pytest.mark.parametrize("path", [
    "/mail/config-v1.1.xml?emailaddress=alice%40example.test",
    "/.well-known/autoconfig/mail/config-v1.1.xml"])
def test_autoconfig(srv, path):
    r, body = get(srv, path)
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("application/xml")
    root = ET.fromstring(body)
    assert root.tag == "clientConfig"
    prov = root.find("emailProvider")
    assert prov.get("id") == "example.test"
    assert [d.text for d in prov.findall("domain")] == \
        ["example.test", "example.org"]
    p = srv.ports
    assert servers(prov, "incomingServer") == [
        ("imap", FQDN, p["imaps"], "SSL", "%EMAILADDRESS%"),
        ("imap", FQDN, p["imap"], "STARTTLS", "%EMAILADDRESS%"),
        ("pop3", FQDN, p["pop3s"], "SSL", "%EMAILADDRESS%")]
    assert servers(prov, "outgoingServer") == [
        ("smtp", FQDN, p["submissions"], "SSL", "%EMAILADDRESS%"),
        ("smtp", FQDN, p["submission"], "STARTTLS", "%EMAILADDRESS%")]
    assert str(p["smtp"]).encode() not in body     # MX is not for clients


def test_autoconfig_foreign_or_bad_address(srv):
    r, _ = get(srv, "/mail/config-v1.1.xml?emailaddress=x%40elsewhere.net")
    assert r.status == 404
    r, _ = get(srv, "/mail/config-v1.1.xml?emailaddress=nonsense")
    assert r.status == 400


# ---- autodiscover --------------------------------------------------------

AD_REQ = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>alice@example.test</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>
"""
NS = {"r": "http://schemas.microsoft.com/exchange/autodiscover/"
      "responseschema/2006",
      "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/"
      "responseschema/2006a"}


def test_autodiscover(srv):
    r, body = get(srv, "/Autodiscover/Autodiscover.xml", "POST",
                  AD_REQ.encode(), {"Content-Type": "text/xml"})
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("application/xml")
    root = ET.fromstring(body)
    assert root.tag == "{%s}Autodiscover" % NS["r"]
    acct = root.find("o:Response/o:Account", NS)
    assert acct.findtext("o:AccountType", namespaces=NS) == "email"
    assert acct.findtext("o:Action", namespaces=NS) == "settings"
    protos = {p.findtext("o:Type", namespaces=NS): p
              for p in acct.findall("o:Protocol", NS)}
    assert set(protos) == {"IMAP", "POP3", "SMTP"}
    imap = protos["IMAP"]
    assert imap.findtext("o:Server", namespaces=NS) == FQDN
    assert int(imap.findtext("o:Port", namespaces=NS)) == srv.ports["imaps"]
    assert imap.findtext("o:LoginName", namespaces=NS) == "alice@example.test"
    assert imap.findtext("o:Encryption", namespaces=NS) == "SSL"
    smtp = protos["SMTP"]
    assert int(smtp.findtext("o:Port", namespaces=NS)) == \
        srv.ports["submissions"]


def test_autodiscover_refusals(srv):
    r, _ = get(srv, "/autodiscover/autodiscover.xml")
    assert r.status == 405
    assert r.getheader("Allow") == "POST"
    r, _ = get(srv, "/autodiscover/autodiscover.xml", "POST", b"<x/>")
    assert r.status == 400
    r, _ = get(srv, "/autodiscover/autodiscover.xml", "POST",
               AD_REQ.replace("example.test", "elsewhere.net").encode())
    assert r.status == 404


def test_autodiscover_expect_continue(srv):
    body = AD_REQ.encode()
    s = socket.create_connection(("127.0.0.1", srv.ports["http"]), 5)
    s.sendall(b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\n"
              b"Host: x\r\nContent-Length: %d\r\n"
              b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
              % len(body))
    s.settimeout(5)
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(body)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"<LoginName>alice@example.test</LoginName>" in out


# ---- Apple profile -------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/apple/alice%40example.test.mobileconfig",
    "/apple/alice@example.test.mobileconfig",
    "/apple/mobileconfig?emailaddress=alice%40example.test"])
def test_mobileconfig(srv, path):
    r, body = get(srv, path)
    assert r.status == 200
    assert r.getheader("Content-Type") == "application/x-apple-aspen-config"
    assert "example.test.mobileconfig" in r.getheader("Content-Disposition")
    pl = plistlib.loads(body)
    assert pl["PayloadType"] == "Configuration"
    assert pl["PayloadVersion"] == 1
    (mail,) = pl["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["EmailAddress"] == "alice@example.test"
    assert mail["IncomingMailServerHostName"] == FQDN
    assert mail["IncomingMailServerPortNumber"] == srv.ports["imaps"]
    assert mail["IncomingMailServerUseSSL"] is True
    assert mail["IncomingMailServerUsername"] == "alice@example.test"
    assert mail["OutgoingMailServerHostName"] == FQDN
    assert mail["OutgoingMailServerPortNumber"] == srv.ports["submissions"]
    assert mail["OutgoingMailServerUsername"] == "alice@example.test"
    assert re.fullmatch(r"[0-9A-F-]{36}", mail["PayloadUUID"])
    assert mail["PayloadUUID"] != pl["PayloadUUID"]
    # Stable across requests: reinstalling replaces the profile.
    _, again = get(srv, path)
    assert plistlib.loads(again)["PayloadUUID"] == pl["PayloadUUID"]


def test_mobileconfig_foreign(srv):
    r, _ = get(srv, "/apple/bob%40elsewhere.net.mobileconfig")
    assert r.status == 404


# ---- MTA-STS, health, metrics --------------------------------------------

def test_mta_sts(srv):
    r, body = get(srv, "/.well-known/mta-sts.txt")
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/plain")
    assert body.decode().splitlines() == [
        "version: STSv1", "mode: testing", "mx: " + FQDN, "max_age: 86400"]


def test_healthz(srv):
    r, body = get(srv, "/healthz")
    assert r.status == 200
    assert body == b"ok\n"
    assert r.getheader("Content-Type").startswith("text/plain")


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? '
                    r'(-?[0-9.e+]+|NaN)$')


def metrics(srv):
    r, body = get(srv, "/metrics")
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    out, types = {}, {}
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, "bad metrics line %r" % line
        assert m.group(1) in types, "no TYPE for %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out, types


def test_metrics_move_after_smtp(srv):
    m0, types = metrics(srv)
    assert types["postern_store_deliveries_total"] == "counter"
    assert types["postern_connections"] == "gauge"
    assert 'postern_build_info{version="0.1.0"}' in "".join(m0) or \
        any(k.startswith("postern_build_info{") for k in m0)
    assert m0["postern_uptime_seconds"] >= 0
    assert m0['postern_connections{service="http"}'] >= 1
    assert m0['postern_connections{service="smtp"}'] == 0
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        c.sendmail("someone@example.org", ["alice@example.test"],
                   b"Subject: m\r\n\r\nhello\r\n")
        mid, _ = metrics(srv)
        assert mid['postern_connections{service="smtp"}'] == 1
    m1, _ = metrics(srv)
    assert m1["postern_store_deliveries_total"] == \
        m0["postern_store_deliveries_total"] + 1
    assert m1["postern_store_file_fsyncs_total"] > \
        m0["postern_store_file_fsyncs_total"]
    assert m1["postern_connections_accepted_total"] >= \
        m0["postern_connections_accepted_total"] + 3
    assert m1['postern_http_requests_total{code="200"}'] >= \
        m0['postern_http_requests_total{code="200"}'] + 2
    assert m1["postern_uptime_seconds"] >= m0["postern_uptime_seconds"]


# ---- protocol behaviour --------------------------------------------------

def test_404_and_405(srv):
    for path in ("/", "/nope", "/mail/config-v1.1.xmlx", "/metrics/x"):
        r, _ = get(srv, path)
        assert r.status == 404, path
    r, _ = get(srv, "/healthz", "POST", b"")
    assert r.status == 405
    assert r.getheader("Allow") == "GET, HEAD"
    r, _ = get(srv, "/healthz", "DELETE")
    assert r.status == 405


def test_head(srv):
    for path in ("/healthz", "/.well-known/mta-sts.txt",
                 "/mail/config-v1.1.xml"):
        g, gbody = get(srv, path)
        out = raw(srv, b"HEAD %s HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n" % path.encode())
        head, _, rest = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert rest == b""
        assert b"Content-Length: %d\r\n" % len(gbody) in head + b"\r\n"


def test_keep_alive_and_pipelining(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.ports["http"], timeout=5)
    for _ in range(3):
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"ok\n"
        assert r.getheader("Connection") == "keep-alive"
    c.close()
    out = raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    statuses = re.findall(rb"HTTP/1.1 (\d+) ", out)
    assert statuses == [b"200", b"404", b"200"]
    # HTTP/1.0 without keep-alive: one answer, then close.
    out = raw(srv, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close\r\n" in out


@pytest.mark.parametrize("req,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /healthz\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400),               # no Host
    (b"GET /healthz HTTP/1.1\nHost: x\n\n", 400),          # bare LF
    (b"GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    (b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    (b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 70000\r\n\r\n", 413),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
     b"\r\n\r\n", 431),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
])
def test_refusals_close(srv, req, status):
    out = raw(srv, req)
    assert out.startswith(b"HTTP/1.1 %d " % status), out[:100]
    assert b"Connection: close\r\n" in out
    # The daemon is still fine.
    r, _ = get(srv, "/healthz")
    assert r.status == 200


def test_oversized_header_without_end(srv):
    """A header that never ends is cut off at the limit, not buffered."""
    s = socket.create_connection(("127.0.0.1", srv.ports["http"]), 5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000)
    s.settimeout(5)
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.startswith(b"HTTP/1.1 431 ")
