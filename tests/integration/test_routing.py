"""
Routing acceptance: mail sent over SMTP (port 25, smtplib) reaches the
right Maildir, in the right folder, with the right trace headers, for every
routing rule of filter/route/route.h and CONFIG.md.

The checks read the store as any Maildir reader would (mutt, Dovecot):
<storage.path>/<domain>/<local>/mail/{new,cur} for INBOX and
<...>/mail/.<Folder>/{new,cur} for folders (maildir++ layout).  Messages
are found by a unique token in their Subject, so one test can send several
messages and tell them apart.
"""
import email
import smtplib
import time
import uuid
from pathlib import Path

import pytest

DOMAINS = ["example.test", "example.org", "alias.test", "catch.test"]

ROUTING_CONF = {
    "domains": DOMAINS,
    "accounts": [
        {"name": "alice@example.test",
         "aliases": ["alias@example.test", "@alias.test"],
         "aliases_regexp": ["/^tom\\..*@example\\.test$/"]},
        {"name": "bob@example.test"},
        {"name": "carol@example.test", "catch_all": ["catch.test"]},
        {"name": "dave@example.test", "send_only": True,
         "send_only_reject_message": "Dave only sends mail."},
        {"name": "erin@example.test"},
        {"name": "frank@example.org"},
    ],
    "aliases": [
        {"address": "team@example.test", "to": ["bob@example.test"]},
        {"address": "crew@example.test", "to": ["erin@example.test"]},
        {"address": "all@example.test",
         "to": ["alice@example.test", "bob@example.test",
                "carol@example.test"]},
    ],
    # Top-level alias targets must be accounts (SNM's loginAccount type,
    # enforced by the config loader), so chains go through forwards whose
    # targets are local: chain1 -> chain2 -> crew (alias) -> erin.
    "forwards": [
        {"address": "chain1@example.test", "to": ["chain2@example.test"]},
        {"address": "chain2@example.test", "to": ["crew@example.test"]},
    ],
    "reject_recipients": ["sales@example.test"],
    "reject_sender": ["spammer.example", "bad@remote.example"],
}


def _conf(pw_hashes, **extra):
    import copy
    c = copy.deepcopy(ROUTING_CONF)
    h = pw_hashes("secret")
    for a in c["accounts"]:
        a["hashed_password"] = h
    c.update(extra)
    return c


@pytest.fixture
def srv(make_server, pw_hashes):
    return make_server(services=["smtp"], conf=_conf(pw_hashes))


# ---- helpers ----------------------------------------------------------------

def token():
    return "tok-" + uuid.uuid4().hex[:16]


def message(tok, frm="sender@remote.example", to="rcpt@example.test"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@remote.example>\r\n\r\nbody of %s\r\n"
            % (frm, to, tok, tok, tok)).encode()


def smtp(srv):
    c = smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=15)
    c.ehlo("client.example")
    return c


def send(srv, rcpts, tok=None, frm="sender@remote.example"):
    """Send one message to rcpts; returns (token, refused dict)."""
    tok = tok or token()
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    with smtp(srv) as c:
        refused = c.sendmail(frm, rcpts, message(tok, frm, rcpts[0]))
    return tok, refused


def folder_dir(srv, addr, folder=None):
    root = srv.mailbox(addr)
    return root if folder is None else root / ("." + folder)


def messages(srv, addr, folder=None):
    """[(path, bytes)] of every message file in new/ and cur/."""
    d = folder_dir(srv, addr, folder)
    out = []
    for sub in ("new", "cur"):
        p = d / sub
        if p.is_dir():
            out += [(f, f.read_bytes()) for f in sorted(p.iterdir())]
    return out


def find(srv, addr, tok, folder=None, wait=0.0):
    """Messages of (addr, folder) whose Subject is tok."""
    deadline = time.monotonic() + wait
    while True:
        got = [(p, email.message_from_bytes(b))
               for p, b in messages(srv, addr, folder)
               if ("Subject: %s\r\n" % tok).encode() in b]
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.05)


def one(srv, addr, tok, folder=None):
    got = find(srv, addr, tok, folder, wait=5)
    assert len(got) == 1, (addr, folder, [str(p) for p, _ in got])
    return got[0][1]


def everywhere(srv, tok):
    """Every (account dir, folder) that holds tok, across the whole store."""
    hits = []
    for f in srv.maildir.rglob("*"):
        if f.is_file() and f.parent.name in ("new", "cur") and \
                ("Subject: %s\r\n" % tok).encode() in f.read_bytes():
            hits.append(str(f.parent.parent.relative_to(srv.maildir)))
    return sorted(hits)


def make_folder(srv, addr, name):
    d = folder_dir(srv, addr, name)
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    return d


def rcpt_reply(srv, addr, frm="sender@remote.example"):
    with smtp(srv) as c:
        assert c.mail(frm)[0] == 250
        return c.rcpt(addr)


def check_trace(m, rcpt, account, frm="sender@remote.example"):
    """Trace headers of one delivered copy."""
    assert m.get_all("Return-Path") == ["<%s>" % frm]
    assert m.get_all("Delivered-To") == [account]
    if rcpt.lower() == account.lower():
        assert m.get_all("X-Original-To") is None
    else:
        assert m.get_all("X-Original-To") == [rcpt]
    rec = m.get_all("Received")
    assert rec and len(rec) == 1, rec
    assert rec[0].startswith("from client.example ([127.0.0.1])")
    assert "by mail.example.test (postern) with ESMTP id" in rec[0]
    assert ("for <%s>;" % rcpt) in rec[0], rec[0]
    # The trace block comes first, in Postfix/Dovecot order.
    keys = [k.lower() for k in m.keys()]
    assert keys[0] == "return-path", keys
    assert keys.index("delivered-to") < keys.index("received")


# ---- accounts and aliases ------------------------------------------------------

def test_account(srv):
    tok, refused = send(srv, "bob@example.test")
    assert refused == {}
    m = one(srv, "bob@example.test", tok)
    check_trace(m, "bob@example.test", "bob@example.test")
    assert m["Subject"] == tok and m["Message-ID"] == "<%s@remote.example>" % tok
    assert m.get_payload() == "body of %s\r\n" % tok
    assert everywhere(srv, tok) == ["example.test/bob/mail"]
    # Dovecot-compatible new/ name: no ":2," info, no dot-file.
    path = find(srv, "bob@example.test", tok)[0][0]
    assert path.parent.name == "new" and ":" not in path.name
    assert not path.name.startswith(".")


def test_account_alias(srv):
    tok, _ = send(srv, "alias@example.test")
    m = one(srv, "alice@example.test", tok)
    check_trace(m, "alias@example.test", "alice@example.test")
    assert everywhere(srv, tok) == ["example.test/alice/mail"]


def test_domain_alias(srv):
    """An account alias "@alias.test" receives the whole domain."""
    tok, _ = send(srv, "anything@alias.test")
    m = one(srv, "alice@example.test", tok)
    check_trace(m, "anything@alias.test", "alice@example.test")
    assert everywhere(srv, tok) == ["example.test/alice/mail"]


def test_catch_all(srv):
    tok, _ = send(srv, "whoever@catch.test")
    m = one(srv, "carol@example.test", tok)
    check_trace(m, "whoever@catch.test", "carol@example.test")
    # catch_all is for unknown addresses of another domain only: an
    # unknown user of carol's own domain stays unknown.
    code, text = rcpt_reply(srv, "nobody@example.test")
    assert code == 550 and text.startswith(b"5.1.1")


def test_aliases_regexp(srv):
    tok, _ = send(srv, "tom.sawyer@example.test")
    m = one(srv, "alice@example.test", tok)
    check_trace(m, "tom.sawyer@example.test", "alice@example.test")
    # Anchored: no match for a different prefix or domain.
    assert rcpt_reply(srv, "xtom.sawyer@example.test")[0] == 550
    assert rcpt_reply(srv, "tom.sawyer@example.org")[0] == 550
    # Matching is case-insensitive, as Postfix lower-cases the key.
    tok, _ = send(srv, "Tom.Finn@Example.Test")
    one(srv, "alice@example.test", tok)


def test_top_level_alias_one_target(srv):
    tok, _ = send(srv, "team@example.test")
    m = one(srv, "bob@example.test", tok)
    check_trace(m, "team@example.test", "bob@example.test")
    assert everywhere(srv, tok) == ["example.test/bob/mail"]


def test_top_level_alias_several_targets(srv):
    tok, _ = send(srv, "all@example.test")
    for who in ("alice", "bob", "carol"):
        m = one(srv, who + "@example.test", tok)
        check_trace(m, "all@example.test", who + "@example.test")
    assert everywhere(srv, tok) == ["example.test/%s/mail" % w
                                    for w in ("alice", "bob", "carol")]


def test_alias_chain(srv):
    tok, _ = send(srv, "chain1@example.test")
    m = one(srv, "erin@example.test", tok)
    check_trace(m, "chain1@example.test", "erin@example.test")
    assert everywhere(srv, tok) == ["example.test/erin/mail"]


def test_other_domain_account(srv):
    tok, _ = send(srv, "frank@example.org")
    m = one(srv, "frank@example.org", tok)
    check_trace(m, "frank@example.org", "frank@example.org")
    assert everywhere(srv, tok) == ["example.org/frank/mail"]


# ---- subaddressing ---------------------------------------------------------------

def test_subaddress_into_existing_folder(srv):
    # First delivery makes the account's Maildir; the folder is made the
    # way a Maildir tool would (no IMAP CREATE yet).
    send(srv, "bob@example.test")
    make_folder(srv, "bob@example.test", "lists")
    tok, _ = send(srv, "bob+lists@example.test")
    m = one(srv, "bob@example.test", tok, folder="lists")
    check_trace(m, "bob+lists@example.test", "bob@example.test")
    assert everywhere(srv, tok) == ["example.test/bob/mail/.lists"]


def test_subaddress_missing_folder_goes_to_inbox(srv):
    tok, _ = send(srv, "bob+nosuch@example.test")
    m = one(srv, "bob@example.test", tok)
    check_trace(m, "bob+nosuch@example.test", "bob@example.test")
    assert everywhere(srv, tok) == ["example.test/bob/mail"]
    # ... and the folder is not created behind the user's back.
    assert not folder_dir(srv, "bob@example.test", "nosuch").exists()


def test_subaddress_of_alias_and_bad_folder_names(srv):
    send(srv, "alice@example.test")
    make_folder(srv, "alice@example.test", "news")
    # An account alias with a tag also files into the folder.
    tok, _ = send(srv, "alias+news@example.test")
    one(srv, "alice@example.test", tok, folder="news")
    # Tags that could be paths or hidden names land in INBOX.
    for tag in (".news", "", "news/x"):
        tok, refused = send(srv, "alice+%s@example.test" % tag)
        assert refused == {}
        one(srv, "alice@example.test", tok)


def test_save_to_detail_mailbox_false(make_server, pw_hashes):
    srv = make_server(services=["smtp"],
                      conf=_conf(pw_hashes, save_to_detail_mailbox=False))
    send(srv, "bob@example.test")
    make_folder(srv, "bob@example.test", "lists")
    tok, _ = send(srv, "bob+lists@example.test")
    m = one(srv, "bob@example.test", tok)
    check_trace(m, "bob+lists@example.test", "bob@example.test")
    assert find(srv, "bob@example.test", tok, folder="lists") == []


def test_recipient_delimiter_several(make_server, pw_hashes):
    srv = make_server(services=["smtp"],
                      conf=_conf(pw_hashes, recipient_delimiter="+-"))
    send(srv, "bob@example.test")
    make_folder(srv, "bob@example.test", "lists")
    tok, _ = send(srv, "bob-lists@example.test")
    one(srv, "bob@example.test", tok, folder="lists")
    tok, _ = send(srv, "bob+lists@example.test")
    one(srv, "bob@example.test", tok, folder="lists")
    tok, _ = send(srv, "bob-other@example.test")
    one(srv, "bob@example.test", tok)
    # Not a delimiter here.
    assert rcpt_reply(srv, "bob_lists@example.test")[0] == 550


def test_default_delimiter_is_plus_only(srv):
    assert rcpt_reply(srv, "bob-lists@example.test")[0] == 550
    assert rcpt_reply(srv, "bob+lists@example.test")[0] == 250


# ---- refusals --------------------------------------------------------------------

def test_send_only_refused_with_its_message(srv):
    code, text = rcpt_reply(srv, "dave@example.test")
    assert code == 550 and text.startswith(b"5.1.1"), text
    assert b"Dave only sends mail." in text
    # Its subaddresses are refused too.
    code, text = rcpt_reply(srv, "dave+x@example.test")
    assert code == 550 and b"Dave only sends mail." in text
    assert not srv.mailbox("dave@example.test").exists()


def test_send_only_default_message(make_server, pw_hashes):
    c = _conf(pw_hashes)
    del c["accounts"][3]["send_only_reject_message"]
    srv = make_server(services=["smtp"], conf=c)
    code, text = rcpt_reply(srv, "dave@example.test")
    assert code == 550 and b"This account cannot receive emails." in text


def test_reject_recipients(srv):
    code, text = rcpt_reply(srv, "sales@example.test")
    assert code == 550 and text.startswith(b"5.7.1"), text
    # Other recipients of the same transaction still get their copy.
    with smtp(srv) as c:
        tok = token()
        refused = c.sendmail("s@remote.example",
                             ["sales@example.test", "bob@example.test"],
                             message(tok))
    assert list(refused) == ["sales@example.test"]
    one(srv, "bob@example.test", tok)


@pytest.mark.parametrize("sender", ["bad@remote.example",
                                    "anyone@spammer.example",
                                    "Bad@Remote.Example"])
def test_reject_sender(srv, sender):
    with smtp(srv) as c:
        code, text = c.mail(sender)
    assert code == 554 and text.startswith(b"5.7.1"), text
    # The SMTP layer lower-cases the domain part, keeps the local part.
    local, dom = sender.split("@")
    assert ("<%s@%s>" % (local, dom.lower())).encode() in text


def test_reject_sender_message(make_server, pw_hashes):
    srv = make_server(services=["smtp"], conf=_conf(
        pw_hashes, reject_sender_message="Go away, spammer."))
    with smtp(srv) as c:
        code, text = c.mail("bad@remote.example")
        assert code == 554 and b"Go away, spammer." in text
        assert c.mail("good@remote.example")[0] == 250
    # A sender not listed is accepted and delivered.
    tok, _ = send(srv, "bob@example.test", frm="good@remote.example")
    check_trace(one(srv, "bob@example.test", tok), "bob@example.test",
                "bob@example.test", frm="good@remote.example")


def test_unknown_user_refused_at_rcpt(srv):
    with smtp(srv) as c:
        assert c.mail("s@remote.example")[0] == 250
        code, text = c.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1"), text
        assert b"<nobody@example.test>" in text
        # Not in our domains: relay refused, not 5.1.1.
        code, text = c.rcpt("x@elsewhere.example")
        assert code == 554 and text.startswith(b"5.7.1")
        # With no valid recipient the transaction cannot go on.
        assert c.docmd("DATA")[0] == 554


def test_postmaster_accepted(srv):
    """Nothing maps postmaster: RFC 5321 4.5.1 still wants it delivered."""
    tok, refused = send(srv, "postmaster@example.test")
    assert refused == {}
    hits = everywhere(srv, tok)
    assert len(hits) == 1, hits
    tok, refused = send(srv, "PostMaster@example.org")
    assert refused == {}
    assert len(everywhere(srv, tok)) == 1
    # The bare RFC 5321 "postmaster" recipient.
    with smtp(srv) as c:
        c.mail("s@remote.example")
        assert c.rcpt("postmaster")[0] == 250


def test_postmaster_alias_wins(make_server, pw_hashes):
    c = _conf(pw_hashes)
    c["aliases"].append({"address": "postmaster@example.test",
                         "to": ["erin@example.test"]})
    srv = make_server(services=["smtp"], conf=c)
    tok, _ = send(srv, "postmaster@example.test")
    m = one(srv, "erin@example.test", tok)
    check_trace(m, "postmaster@example.test", "erin@example.test")


# ---- addresses, copies, headers -----------------------------------------------------

def test_case_insensitive_addresses(srv):
    tok, refused = send(srv, "BOB@EXAMPLE.TEST")
    assert refused == {}
    m = one(srv, "bob@example.test", tok)
    assert m.get_all("Delivered-To") == ["bob@example.test"]
    tok, _ = send(srv, "Team@Example.Test")
    m = one(srv, "bob@example.test", tok)
    # Local part as given, domain lower-cased by the SMTP layer.
    assert m.get_all("X-Original-To") == ["Team@example.test"]
    tok, _ = send(srv, "Whoever@CATCH.test")
    one(srv, "carol@example.test", tok)
    # No directory in any other case appeared.
    assert sorted(p.name for p in (srv.maildir / "example.test").iterdir()) \
        == ["bob", "carol"]


def test_one_copy_per_recipient(srv):
    rcpts = ["alice@example.test", "bob@example.test", "erin@example.test",
             "frank@example.org"]
    tok, refused = send(srv, rcpts)
    assert refused == {}
    for r in rcpts:
        m = one(srv, r, tok)
        # Each copy carries its own recipient.
        check_trace(m, r, r)
    assert len(everywhere(srv, tok)) == 4


def test_duplicate_recipient_one_copy(srv):
    tok, refused = send(srv, ["bob@example.test", "bob@example.test",
                              "Bob@Example.Test"])
    assert refused == {}
    m = one(srv, "bob@example.test", tok)
    check_trace(m, "bob@example.test", "bob@example.test")
    # Different addresses of one account: still one copy, headers of the
    # first recipient that reached it.
    tok, _ = send(srv, ["team@example.test", "bob@example.test",
                        "all@example.test"])
    m = one(srv, "bob@example.test", tok)
    check_trace(m, "team@example.test", "bob@example.test")
    assert everywhere(srv, tok) == ["example.test/%s/mail" % w
                                    for w in ("alice", "bob", "carol")]


def test_alias_and_subaddress_same_account_one_copy(srv):
    send(srv, "bob@example.test")
    make_folder(srv, "bob@example.test", "lists")
    tok, _ = send(srv, ["bob+lists@example.test", "bob@example.test"])
    # The first RCPT decides the folder (route.h: first folder wins).
    assert everywhere(srv, tok) == ["example.test/bob/mail/.lists"]


def test_null_sender_return_path(srv):
    tok, _ = send(srv, "bob@example.test", frm="")
    m = one(srv, "bob@example.test", tok)
    assert m.get_all("Return-Path") == ["<>"]


def test_several_transactions_one_session(srv):
    toks = []
    with smtp(srv) as c:
        for r in ("bob@example.test", "team@example.test",
                  "tom.x@example.test", "a@alias.test", "z@catch.test"):
            tok = token()
            toks.append((tok, r))
            assert c.sendmail("s@remote.example", [r], message(tok)) == {}
    want = {"bob@example.test": "bob", "team@example.test": "bob",
            "tom.x@example.test": "alice", "a@alias.test": "alice",
            "z@catch.test": "carol"}
    for tok, r in toks:
        who = want[r]
        m = one(srv, who + "@example.test", tok)
        check_trace(m, r, who + "@example.test", frm="s@remote.example")
        # The same session id must not be reused between transactions.
    ids = set()
    for tok, r in toks:
        rec = one(srv, want[r] + "@example.test", tok)["Received"]
        ids.add(rec.split(" id ")[1].split()[0])
    assert len(ids) == len(toks)


def test_maildir_tmp_is_empty_after_delivery(srv):
    for i in range(5):
        send(srv, ["alice@example.test", "bob@example.test"])
    for who in ("alice", "bob"):
        tmp = srv.mailbox(who + "@example.test") / "tmp"
        assert list(tmp.iterdir()) == []
