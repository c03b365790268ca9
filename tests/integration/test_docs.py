"""
The manuals and documents stay complete and true:

- postern(8) and postern.conf(5) render with `groff -ww -z -man` without a
  warning;
- every subcommand `postern help` lists is documented in postern(8);
- every option path of the config schema is documented in postern.conf(5).
  The schema is read from conf/conf_load.c's tables (struct conf_opt), so
  an option added there without a manual entry fails here.  List-element
  options are written in the manual as accounts[].name, which matches the
  path accounts.name;
- README keeps the two-command quick start and links the docs/ guides, and
  docs/snm-options.md names only postern options that exist.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN

ROOT = Path(__file__).resolve().parents[2]
MAN8 = ROOT / "man" / "postern.8"
MAN5 = ROOT / "man" / "postern.conf.5"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff missing")
@pytest.mark.parametrize("page", [MAN8, MAN5], ids=lambda p: p.name)
def test_man_renders_cleanly(page):
    r = subprocess.run(["groff", "-ww", "-z", "-man", str(page)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def man_text(page):
    """The page's words with font escapes and list markers dropped."""
    t = page.read_text()
    t = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", t)
    t = t.replace("\\-", "-").replace("\\&", "").replace("[]", "")
    return t


def help_commands():
    out = subprocess.run([BIN, "help"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    cmds = []
    for line in out.split("commands:", 1)[1].splitlines():
        m = re.match(r"  (\S+)", line)
        if m:
            cmds.append(m.group(1))
    assert len(cmds) >= 10, out
    return cmds


def test_every_subcommand_in_postern_8():
    text = man_text(MAN8)
    sections = re.findall(r"(?m)^\.SS \"?([^\"\n]+)", MAN8.read_text())
    missing = [c for c in help_commands()
               if not re.search(r"(?m)^\.B postern %s\b" % re.escape(c), text)
               or not any(s.split()[0] == c for s in sections)]
    assert not missing, "postern(8) lacks a SYNOPSIS line or a section " \
        "for: %s" % missing


# ---- the config schema ----------------------------------------------------------

LEAF_MACROS = r"(?:STRN?|BOOL|INT|I64|SIZE|NUM|LIST|ENUM)"


def schema_paths():
    src = (ROOT / "conf" / "conf_load.c").read_text()
    tables = {}
    for name, body in re.findall(
            r"static const struct conf_opt (conf_tab_\w+)\[\] = \{(.*?)\n\};",
            src, re.S):
        entries = []
        for m in re.finditer(
                LEAF_MACROS + r"\(\s*struct \w+,\s*\"(\w+)\""
                r"|OPT\(\s*struct \w+,\s*\"(\w+)\""
                r"|GROUP\(\s*\"(\w+)\",\s*(conf_tab_\w+)\s*\)"
                r"|FN\(\s*\"(\w+)\",\s*(\w+)\s*\)"
                r"|\.name = \"(\w+)\", \.kind = K_FN, \.fn = (\w+)"
                r"|\.name = \"(\w+)\", \.kind = K_SKIP", body):
            g = m.groups()
            if g[0] or g[1]:
                entries.append(("leaf", g[0] or g[1], None))
            elif g[2]:
                entries.append(("group", g[2], g[3]))
            elif g[4] or g[6]:
                entries.append(("fn", g[4] or g[6], g[5] or g[7]))
            else:
                entries.append(("skip", g[8], None))
        tables[name] = entries
    assert "conf_tab_top" in tables, "schema tables not found"

    def fn_tables(fn):
        m = re.search(r"(?ms)^%s\(.*?^\}" % re.escape(fn), src)
        return re.findall(r"\bconf_tab_\w+", m.group(0)) if m else []

    paths = set()

    def walk(tab, prefix, seen=()):
        if tab in seen:
            return
        for kind, name, ref in tables[tab]:
            path = prefix + name
            if kind == "leaf":
                paths.add(path)
            elif kind == "group":
                walk(ref, path + ".", seen + (tab,))
            elif kind == "fn":
                refs = [t for t in dict.fromkeys(fn_tables(ref))
                        if t in tables]
                if not refs:
                    paths.add(path)     # a leaf with its own parser
                    continue
                # A table named <t>_<skip> read by the same function is
                # the group of t's K_SKIP entry <skip> (dkim.defaults).
                nested = {}
                for t in refs:
                    for k, n, _ in tables[t]:
                        if k == "skip" and t + "_" + n in refs:
                            nested[t + "_" + n] = n
                for t in refs:
                    if t in nested:
                        walk(t, path + "." + nested[t] + ".", seen + (tab,))
                    else:
                        walk(t, path + ".", seen + (tab,))

    walk("conf_tab_top", "")
    return paths


def test_schema_parse_is_sane():
    p = schema_paths()
    for known in ("fqdn", "storage.layout", "listen.smtp", "accounts.name",
                  "accounts.hashed_password_file", "dkim.defaults.key_length",
                  "dkim.domains.selectors.key_file", "spam.bayes.autolearn",
                  "limits.shutdown_timeout", "storage.hierarchy_separator"):
        assert known in p, (known, sorted(p))
    assert len(p) >= 80


def test_every_option_in_postern_conf_5():
    text = man_text(MAN5)
    missing = sorted(p for p in schema_paths()
                     if not re.search(r"(?<![\w.])%s(?![\w])" %
                                      re.escape(p), text))
    assert not missing, "postern.conf(5) lacks: %s" % missing


# ---- README and docs/ -----------------------------------------------------------

def test_readme_quick_start_and_links():
    text = (ROOT / "README.md").read_text()
    assert re.search(r"(?m)^    make run\b", text)
    assert re.search(r"(?m)^    make test\b", text)
    for doc in ("docs/snm-options.md", "docs/migration-from-snm.md",
                "docs/dns-setup.md"):
        assert doc in text, doc
        assert (ROOT / doc).is_file(), doc
    for c in help_commands():
        assert re.search(r"postern %s\b" % re.escape(c), text), c


def test_snm_table_names_real_options():
    """Every `postern option` cell of the SNM table is a schema path."""
    paths = schema_paths()
    prefixes = {p.rsplit(".", 1)[0] for p in paths if "." in p}
    rows = [l for l in (ROOT / "docs" / "snm-options.md").read_text()
            .splitlines() if l.startswith("| `mailserver.")]
    assert len(rows) >= 60, "table too short"
    bad = []
    for row in rows:
        cell = row.split("|")[2]
        for opt in re.findall(r"`([a-z_][a-z0-9_.\[\]]*)`", cell):
            o = opt.replace("[]", "")
            if o not in paths and o not in prefixes:
                bad.append((row.split("|")[1].strip(), opt))
    assert not bad, bad
