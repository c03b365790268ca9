"""
Messages Sieve sends itself (filter/lda/lda_vacation.c), seen from the
outside: mail for a local user arrives over SMTP, the user's script runs
at delivery, and a vacation reply (RFC 5230, RFC 3834) or a rejection
report (RFC 5429) leaves through the outbound queue with the null sender
to relay.host, here the loopback receiver of test_outbound.py.  Also
fileinto :create (RFC 5490 3.2).
"""
import email
import email.policy
import smtplib
import time
import uuid

import pytest

from test_outbound import Sink, sink_factory  # noqa: F401 (fixture)
from test_sieve import WIRED, files

pytestmark = pytest.mark.skipif(not WIRED, reason="SMTP does not call "
                                "lda_deliver yet")

USER = "alice@example.test"
REMOTE = "someone@remote.example"

VACATION = ('require ["vacation"];\n'
            'vacation :days 1 :subject "Away" "I am away until Monday.";\n')


def make(make_server, pw_hashes, sink, script):
    return make_server(
        services=["smtp"],
        conf={"accounts": [{"name": USER,
                            "hashed_password": pw_hashes("secret"),
                            "sieve_script": script}],
              "relay": {"host": "127.0.0.1", "port": sink.port}})


def send(srv, sender=REMOTE, to=USER, subject=None, extra="", hdr_to=None):
    subject = subject or "t-" + uuid.uuid4().hex
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
           "Message-ID: <%s@remote.example>\r\n%s\r\nbody\r\n"
           % (sender or "nobody@remote.example", hdr_to or to, subject,
              uuid.uuid4().hex, extra))
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=10) as c:
        assert c.sendmail(sender, [to], msg) == {}
    return subject


def parsed(sink_msg):
    return email.message_from_bytes(sink_msg[2], policy=email.policy.default)


def settle(sink, n, secs=1.5):
    """Wait long enough that a reply we do not expect would have come."""
    time.sleep(secs)
    assert len(sink.msgs) == n, [m[2][:300] for m in sink.msgs]


def test_vacation_reply(make_server, pw_hashes, sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink, VACATION)
    send(srv, subject="hello there")
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert mail == "" and rcpts == [REMOTE]
    m = parsed(sink.msgs[0])
    assert m["Subject"] == "Away"
    assert m["From"] == USER
    assert m["To"].addresses[0].addr_spec == REMOTE
    assert m["Auto-Submitted"].startswith("auto-replied")
    assert m["In-Reply-To"].endswith("@remote.example>")
    assert m["In-Reply-To"] in m["References"]
    assert m["Message-ID"] and m["Date"]
    assert m.get_content_type() == "text/plain"
    assert "away until Monday" in m.get_content()
    # The message itself is still delivered.
    assert len(files(srv)) == 1


def test_vacation_once_per_sender(make_server, pw_hashes,
                                  sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink, VACATION)
    send(srv)
    sink.wait(1)
    send(srv)
    settle(sink, 1)
    srv.wait_log("already replied within the interval")
    # Another sender gets its own reply.
    send(srv, sender="other@remote.example")
    assert sink.wait(2)[1][1] == ["other@remote.example"]
    assert len(files(srv)) == 3


def test_vacation_tracking_survives_restart(make_server, pw_hashes,
                                            sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink, VACATION)
    send(srv)
    sink.wait(1)
    # The sink has the reply once its 250 is sent; the queue marks it
    # done just after.  Stopping in between would (rightly: at least
    # once) send it again after the restart.
    srv.wait_log(" removed\n")
    srv.stop()
    srv.start()
    send(srv)
    settle(sink, 1)


def test_vacation_default_subject(make_server, pw_hashes,
                                  sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require "vacation";\nvacation "gone";\n')
    send(srv, subject="Quarterly numbers")
    assert parsed(sink.wait(1)[0])["Subject"] == "Auto: Quarterly numbers"


@pytest.mark.parametrize("extra", [
    "List-Id: <dev.lists.example>\r\n",
    "List-Unsubscribe: <mailto:leave@lists.example>\r\n",
    "Precedence: bulk\r\n",
    "Auto-Submitted: auto-generated\r\n",
])
def test_vacation_not_to_automatic_mail(make_server, pw_hashes,
                                        sink_factory, extra):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink, VACATION)
    send(srv, extra=extra)
    # A plain message afterwards does get a reply: the first was skipped.
    send(srv, sender="plain@remote.example")
    msgs = sink.wait(1)
    settle(sink, 1)
    assert msgs[0][1] == ["plain@remote.example"]
    assert len(files(srv)) == 2


def test_vacation_auto_submitted_no_answered(make_server, pw_hashes,
                                             sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink, VACATION)
    send(srv, extra="Auto-Submitted: no\r\n")
    sink.wait(1)


@pytest.mark.parametrize("sender", ["", "MAILER-DAEMON@remote.example",
                                    "owner-dev@lists.example",
                                    "dev-request@lists.example"])
def test_vacation_not_to_programs(make_server, pw_hashes, sink_factory,
                                  sender):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink, VACATION)
    send(srv, sender=sender)
    settle(sink, 0)
    assert len(files(srv)) == 1
    srv.wait_log("vacation=skip")


def test_vacation_only_when_addressed(make_server, pw_hashes,
                                      sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require "vacation";\n'
               'vacation :addresses ["alias@example.test"] "away";\n')
    send(srv, hdr_to="undisclosed-recipients:;")
    settle(sink, 0)
    srv.wait_log("not addressed to the user")
    send(srv, sender="x@remote.example", hdr_to="Alias <alias@example.test>")
    sink.wait(1)


def test_vacation_mime(make_server, pw_hashes, sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require "vacation";\nvacation :mime text:\n'
               'Content-Type: text/html; charset=utf-8\n\n'
               '<p>away</p>\n.\n;\n')
    send(srv)
    m = parsed(sink.wait(1)[0])
    assert m.get_content_type() == "text/html"
    assert "<p>away</p>" in m.get_content()


def test_reject_sends_report_stores_nothing(make_server, pw_hashes,
                                            sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require "reject";\nreject "No thanks.";\n')
    send(srv, subject="offer")
    mail, rcpts, data, _ = sink.wait(1)[0]
    assert mail == "" and rcpts == [REMOTE]
    m = parsed(sink.msgs[0])
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "disposition-notification"
    assert m["Auto-Submitted"].startswith("auto-replied")
    text = data.decode()
    assert "No thanks." in text
    assert "Disposition: automatic-action/MDN-sent-automatically; deleted" \
        in text
    assert "Subject: offer" in text
    time.sleep(0.5)
    assert files(srv) == []
    srv.wait_log("reject=sent")


def test_ereject_null_sender_discards(make_server, pw_hashes,
                                      sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require "ereject";\nereject "No.";\n')
    send(srv, sender="")
    settle(sink, 0)
    assert files(srv) == []
    srv.wait_log("reject=discard")


def test_fileinto_create(make_server, pw_hashes, sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require ["fileinto", "mailbox"];\n'
               'fileinto :create "Projects.New";\n')
    send(srv)
    box = srv.mailbox(USER) / ".Projects.New"
    for d in ("cur", "new", "tmp"):
        assert (box / d).is_dir()
    assert len(files(srv, folder="Projects.New")) == 1
    assert files(srv) == []
    # The folder is a real mailbox now: IMAP-visible through the index.
    send(srv)
    assert len(files(srv, folder="Projects.New")) == 2


def test_fileinto_without_create_falls_back(make_server, pw_hashes,
                                            sink_factory):  # noqa: F811
    sink = sink_factory()
    srv = make(make_server, pw_hashes, sink,
               'require "fileinto";\nfileinto "Nowhere";\n')
    send(srv)
    assert len(files(srv)) == 1
    assert not (srv.mailbox(USER) / ".Nowhere").exists()
