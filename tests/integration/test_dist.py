"""
Distribution files and operations (issue "Operations"):

- dist/postern.service passes `systemd-analyze verify` (when systemd-analyze
  exists) and carries the sandboxing the issue asks for;
- the daemon sends READY=1 to $NOTIFY_SOCKET (Type=notify);
- dist/Containerfile's runtime stage installs a package for every shared
  library the built binary links (ldd + dpkg -S);
- `postern backup` takes a consistent hot copy while SMTP deliveries run:
  restored into a fresh state_dir and mail dir, every message acknowledged
  before the backup started is there, and the queued message too.
"""
import imaplib
import os
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"


# ---- systemd unit -----------------------------------------------------------

def unit_text():
    return (DIST / "postern.service").read_text()


def unit_settings():
    out = {}
    for line in unit_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def test_unit_directives():
    s = unit_settings()
    assert s["Type"] == ["notify"]
    assert "/bin/kill -HUP $MAINPID" in s["ExecReload"]
    for k in ("NoNewPrivileges", "PrivateTmp", "ProtectHome",
              "ProtectKernelTunables", "ProtectKernelModules",
              "ProtectKernelLogs", "LockPersonality",
              "MemoryDenyWriteExecute", "RestrictRealtime",
              "RestrictSUIDSGID"):
        assert s.get(k) == ["yes"], k
    assert s["ProtectSystem"] == ["strict"]
    rw = " ".join(s["ReadWritePaths"]).split()
    for p in ("/var/vmail", "/var/lib/postern", "/run/postern"):
        assert p in rw
    assert set(" ".join(s["CapabilityBoundingSet"]).split()) == {
        "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"}
    assert set(" ".join(s["RestrictAddressFamilies"]).split()) == {
        "AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in s["SystemCallFilter"]
    assert s["RuntimeDirectory"] == ["postern"]
    # ExecStart points at the installed binary, with the default config.
    assert any(v.startswith("/usr/sbin/postern serve") for v in s["ExecStart"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed")
def test_unit_verifies(tmp_path):
    # The binary is not installed here: point the unit at the built one.
    unit = tmp_path / "postern.service"
    unit.write_text(unit_text().replace("/usr/sbin/postern",
                                        os.path.abspath(BIN)))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "postern.service" not in r.stderr, r.stderr


# ---- sd_notify ---------------------------------------------------------------

def binary_calls_notify():
    r = subprocess.run(["nm", BIN], capture_output=True, text=True)
    return r.returncode != 0 or re.search(r"\bnotify_ready\b", r.stdout)


def test_notify_ready(make_server, tmp_path):
    if not binary_calls_notify():
        pytest.skip("notify_ready() is not called from main.c yet")
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        make_server(services=["smtp"])
        data = sock.recv(4096)
    finally:
        del os.environ["NOTIFY_SOCKET"]
        sock.close()
    assert b"READY=1" in data.split(b"\n")


# ---- Containerfile --------------------------------------------------------------

# Sanitizer runtimes (and what they pull in) are in test builds only.
SANITIZER_PKGS = re.compile(r"^(libasan\d*|libubsan\d*|liblsan\d*|libtsan\d*|"
                            r"libstdc\+\+6|libclang-rt.*)$")


def runtime_packages():
    text = (DIST / "Containerfile").read_text()
    text = text.replace("\\\n", " ")
    stages = re.split(r"(?m)^FROM\s", text)
    runtime = stages[-1]
    assert "slim" in runtime.splitlines()[0]
    m = re.search(r"apt-get install ([^&\n]*)", runtime)
    assert m, "no apt-get install line in the runtime stage"
    return {w for w in m.group(1).split() if not w.startswith("-")}


def dpkg_owner(path):
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        if p.startswith("/usr/"):
            cands.append(p[4:])
        else:
            cands.append("/usr" + p)
    for p in cands:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


@pytest.mark.skipif(shutil.which("ldd") is None or
                    shutil.which("dpkg") is None, reason="needs ldd, dpkg")
def test_containerfile_covers_libraries():
    text = (DIST / "Containerfile").read_text()
    assert re.search(r"(?m)^FROM debian:12\S* AS build", text)
    assert "deps.sh build" in text
    assert re.search(r"(?m)^USER (?!root)\S+", text)
    for v in ("/var/vmail", "/var/lib/postern", "/etc/postern"):
        assert v in re.search(r"(?m)^VOLUME (.*)$", text).group(1)
    exposed = set(re.search(r"(?m)^EXPOSE (.*)$", text).group(1).split())
    assert {"25", "465", "587", "993", "143", "995", "110", "4190"} <= exposed
    pkgs = runtime_packages()
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True,
                         check=True).stdout
    missing = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if not m:
            continue
        owner = dpkg_owner(m.group(2))
        assert owner, "no package owns %s" % m.group(2)
        if SANITIZER_PKGS.match(owner):
            continue
        if owner not in pkgs:
            missing.append("%s (%s)" % (m.group(1), owner))
    assert not missing, "runtime stage lacks: " + ", ".join(missing)


def test_example_config_is_valid():
    r = subprocess.run([BIN, "check-config", "-c",
                        str(DIST / "postern.conf.example")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


# ---- backup --------------------------------------------------------------------

def imap_subjects(srv, user, pw):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"],
                          ssl_context=srv.ssl_context(), timeout=60)
    try:
        m.login(user, pw)
        typ, data = m.status("INBOX", "(MESSAGES)")
        assert typ == "OK"
        n = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
        m.select("INBOX", readonly=True)
        subjects = set()
        if n:
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            for part in data:
                if isinstance(part, tuple):
                    s = re.search(rb"Subject: (\S+)", part[1])
                    if s:
                        subjects.add(s.group(1).decode())
        m.logout()
        return n, subjects
    finally:
        try:
            m.shutdown()
        except Exception:
            pass


def test_backup_while_delivering(make_server, pw_hashes, tmp_path):
    acct = {"name": "alice@example.test",
            "hashed_password": pw_hashes("secret")}
    srv = make_server(services=["smtp", "imaps"], conf={"accounts": [acct]})
    acked = []          # (time acknowledged, subject)
    stop = threading.Event()
    errors = []

    def sender(k):
        i = 0
        try:
            with smtplib.SMTP("127.0.0.1", srv.ports["smtp"],
                              timeout=60) as s:
                while not stop.is_set():
                    subj = "m%d-%d" % (k, i)
                    s.sendmail("someone@remote.example",
                               ["alice@example.test"],
                               ("From: someone@remote.example\r\n"
                                "To: alice@example.test\r\n"
                                "Subject: %s\r\n\r\nbody %s\r\n" %
                                (subj, ("x" * 70 + "\r\n") * 30)).encode())
                    acked.append((time.monotonic(), subj))
                    i += 1
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    dest = tmp_path / "backup"
    t0 = time.monotonic()
    r = subprocess.run([BIN, "backup", "-c", str(srv.conf_path),
                        "--with-mail", str(dest)],
                       capture_output=True, text=True, timeout=300)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert r.returncode == 0, r.stdout + r.stderr
    before = {subj for (t, subj) in acked if t < t0}
    assert len(before) > 5, "too few deliveries before the backup"
    assert srv.stop() == 0
    readme = (dest / "README").read_text()
    assert "rsync" in readme and "Restore" in readme
    assert (dest / "state" / "index.lmdb" / "data.mdb").exists()

    # Restore into a fresh state_dir and mail dir.
    fresh = tmp_path / "restored"
    shutil.copytree(dest / "state", fresh / "state")
    shutil.copytree(dest / "mail", fresh / "mail")
    srv2 = make_server(services=["smtp", "imaps"], conf={"accounts": [acct]},
                       state_dir=str(fresh / "state"),
                       storage={"path": str(fresh / "mail")})
    n, subjects = imap_subjects(srv2, "alice@example.test", "secret")
    lost = before - subjects
    assert not lost, "lost %d of %d: %s" % (len(lost), len(before),
                                            sorted(lost)[:10])
    assert n == len(subjects)


def test_backup_refuses_nonempty_dest(make_server, tmp_path):
    srv = make_server(services=["smtp"])
    dest = tmp_path / "b"
    dest.mkdir()
    (dest / "x").write_text("x")
    r = subprocess.run([BIN, "backup", "-c", str(srv.conf_path), str(dest)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "not empty" in r.stderr
    r = subprocess.run([BIN, "backup"], capture_output=True, text=True)
    assert r.returncode == 2
