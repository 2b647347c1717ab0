"""Nothing kept, nothing of anyone else's touched, and a half-delivered signal not mistaken for a replay.

The purge after a delivery removes our own sent mails from Sent and Trash and the source's copy from Trash. IMAP
`SEARCH HEADER` is a case-insensitive substring match, so a search only nominates: a message goes only when its one
Message-ID is exactly ours (or exactly the source's and it has the source's size), and an id that is not well formed
is never searched for at all. The replay guard refuses a second copy of a signal, except when the first copy never
finished and left INBOX: then the new copy takes over and delivers what is left, under the same Message-IDs.
"""

from __future__ import annotations

import email
import re

import pytest
from imapclient import IMAPClient

from hwc_mailer.domain.outcomes import Delivered
from hwc_mailer.edges.imap import message_ids_in
from hwc_mailer.errors import TransportUnavailable
from lab.smtp import RelaySmtp
from lab.world import OFFICE, OFFICER, World, sample_signal
from tests.integration.helpers import (
    SARA,
    TIM,
    Crash,
    InProcess,
    Run,
    assert_no_personal_data,
    counters,
    without_personal,
)
from tests.integration.test_resume import Fault, heuvel_in, state

QUARANTINE = "HWC-Quarantaine"
MANUAL = "HWC-Handmatig"
SOURCE_ID = "<A7f3.melding@veiligthuis-zl.example.nl>"
BUSY = "451 4.2.1 mailbox busy, try later"


# ---- mail as it sits in the folders ---------------------------------------------------------------------------

def with_message_id(raw: bytes, message_id: str) -> bytes:
    """The same mail with its Message-ID header replaced by `message_id`, as written (malformed or not)."""
    replaced, count = re.subn(rb"(?m)^Message-ID:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*",  # Python folds a long one
                              lambda _: b"Message-ID: " + message_id.encode(), raw, count=1)
    assert count == 1
    return replaced


def stranger(message_id: str, subject: str) -> bytes:
    """Someone else's mail, written by hand so that even a malformed Message-ID stays exactly as given."""
    return (f"From: Buurman <buurman@example.org>\r\nTo: {OFFICE}\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\n\r\nZullen we morgen koffie drinken? ({subject})\r\n").encode()


def ids_in(world: World, folder: str) -> list[str]:
    """The Message-ID field of every message in `folder`, as written."""
    return sorted(value for raw in world.dovecot.messages(OFFICE, folder)
                  for value in message_ids_in(raw.split(b"\r\n\r\n", 1)[0]))


def search_hits(world: World, folder: str, message_id: str) -> int:
    """How many messages the server's own `SEARCH HEADER Message-ID` finds: what deleting on a hit would take."""
    dovecot = world.dovecot
    with IMAPClient(dovecot.host, dovecot.imaps_port, ssl=True, ssl_context=dovecot.ssl_context(), timeout=10) as imap:
        imap.login(OFFICE, world.office_password)
        imap.select_folder(folder, readonly=True)
        return len(imap.search(["HEADER", "Message-ID", message_id]))


def outgoing_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Message-ID"])


# ---- 1. only what is provably ours or the source's ------------------------------------------------------------

def test_only_the_exact_copies_leave_sent_and_trash(run: Run, pipeline: InProcess, relay: RelaySmtp) -> None:
    world, dovecot = run.world, run.world.dovecot
    regenboog, heuvel = world.schools
    world.deliver_signal(with_message_id(world.signal_mail(sample_signal([TIM, SARA])), SOURCE_ID))
    dovecot.copy_all(OFFICE, "INBOX", "Trash")              # a mail client that keeps what it deletes
    unrelated = {
        "case variant": "<a7f3.MELDING@VeiligThuis-zl.example.nl>",
        "contains the id": f"{SOURCE_ID} (doorgestuurd)",
        "same id, other mail": SOURCE_ID,
        "longer domain": "<A7f3.melding@veiligthuis-zl.example.nlx>",
        "longer local part": "<A7f3.meldingB@veiligthuis-zl.example.nl>",
    }
    for subject, message_id in unrelated.items():
        dovecot.append(OFFICE, stranger(message_id, subject), "Trash")
    assert search_hits(world, "Trash", SOURCE_ID) == 4, "the server's search also finds three unrelated mails"

    relay.handler.recipient_replies[heuvel.address] = BUSY   # the first school is served, the second must wait
    with pytest.raises(TransportUnavailable):
        pipeline.once()
    (served,) = world.school_mail(regenboog)
    ours = outgoing_id(served)
    assert re.fullmatch(r"<hwc\.[0-9a-f]{32}@[^<>@\s]+>", ours)
    dovecot.copy_all(OFFICE, "Sent", "Trash")               # someone deleted our Sent copy into Trash
    near = {"upper case": ours.upper(), "contains our id": f"{ours} (kopie)"}
    for subject, message_id in near.items():
        dovecot.append(OFFICE, stranger(message_id, subject), "Sent")
    assert search_hits(world, "Sent", ours) == 3
    relay.handler.recipient_replies.clear()

    assert pipeline.once() == [Delivered((regenboog.code, heuvel.code), 2)]

    assert (world.school_mail(regenboog), len(world.school_mail(heuvel))) == ([served], 1)
    assert dovecot.messages(OFFICE) == []
    assert ids_in(world, "Sent") == sorted(near.values()), "our copies went, the near-identical ones stayed"
    assert ids_in(world, "Trash") == sorted(unrelated.values()), "the source's copy and ours went, nothing else"
    assert world.officer_mail() == []
    _, journals = state(run)
    assert journals == {}


@pytest.mark.parametrize("malformed", ["<>", "A7f3.melding@veiligthuis-zl.example.nl",
                                       "<A7f3 melding@veiligthuis-zl.example.nl>", "<A7f3"],
                         ids=["empty", "no-brackets", "with-a-space", "truncated"])
def test_a_source_with_a_malformed_message_id_never_deletes_from_trash(run: Run, pipeline: InProcess,
                                                                       malformed: str) -> None:
    world, dovecot = run.world, run.world.dovecot
    world.deliver_signal(with_message_id(world.signal_mail(sample_signal([TIM])), malformed))
    dovecot.copy_all(OFFICE, "INBOX", "Trash")
    for subject, message_id in {"prefix": "<A7f3.melding@veiligthuis-zl.example.nl>", "short": "<A7f3@x.example>",
                                "case": "<a7f3@veiligthuis-zl.example.nl>", "empty": "<>"}.items():
        dovecot.append(OFFICE, stranger(message_id, subject), "Trash")
    trash = dovecot.messages(OFFICE, "Trash")

    for _ in range(4):                # delivered at once, or (when it cannot be read) set aside after max_attempts
        pipeline.once()
        if not dovecot.messages(OFFICE):
            break

    assert dovecot.messages(OFFICE) == []
    assert dovecot.messages(OFFICE, "Trash") == trash, "not one message left Trash"
    assert all(b"Subject: [hwc-mailer]" in raw for raw in dovecot.messages(OFFICE, "Sent")), \
        "our own copies still go: they are found by our ids, not the source's"


# ---- 2. a half-delivered signal under a new UID ---------------------------------------------------------------

def move_out_and_back(world: World) -> None:
    """A colleague drags the message to another folder and back: same bytes and Message-ID, a new UID."""
    world.dovecot.move_all(OFFICE, "INBOX", "Elders")
    world.dovecot.move_all(OFFICE, "Elders", "INBOX")
    assert len(world.dovecot.messages(OFFICE)) == 1


@pytest.mark.parametrize("crash", [None, "after-takeover", "before-takeover"])
def test_a_partial_delivery_survives_a_new_uid(run: Run, pipeline: InProcess, relay: RelaySmtp,
                                               crash: str | None) -> None:
    world = run.world
    regenboog, heuvel = world.schools
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    relay.handler.recipient_replies[heuvel.address] = BUSY
    with pytest.raises(TransportUnavailable):
        pipeline.once()
    (served,) = world.school_mail(regenboog)
    assert world.school_mail(heuvel) == []
    move_out_and_back(world)
    relay.handler.recipient_replies.clear()
    if crash is not None:
        fault = Fault("store", "take_over_claim", after=crash == "after-takeover")
        with pytest.raises(Crash):
            pipeline.once(wrap=fault.wrap)
        assert fault.calls == 1

    outcomes = pipeline.once()

    assert outcomes == [Delivered((regenboog.code, heuvel.code), 2)]
    assert world.school_mail(regenboog) == [served], "the school already served gets nothing again"
    assert len(world.school_mail(heuvel)) == 1
    assert outgoing_id(world.school_mail(heuvel)[0]) != outgoing_id(served)
    assert world.dovecot.messages(OFFICE) == [] and world.dovecot.messages(OFFICE, "Sent") == []
    assert world.dovecot.messages(OFFICE, QUARANTINE) == [] and world.officer_mail() == []
    rows, journals = state(run)
    assert [(row.outcome, row.signals) for row in rows if row.signals] == [("delivered", 1)]
    assert sum(row.schools for row in rows) == 2 and journals == {}
    assert pipeline.once() == []


def test_a_signal_no_school_got_yet_is_delivered_under_its_new_uid(run: Run, pipeline: InProcess,
                                                                  relay: RelaySmtp) -> None:
    """Nothing was accepted, so the first copy's journal is tidied away once it left INBOX: its claim alone is
    left, and the new copy takes it over all the same."""
    world = run.world
    regenboog = world.schools[0]
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))
    relay.handler.recipient_replies[regenboog.address] = BUSY
    with pytest.raises(TransportUnavailable):
        pipeline.once()
    move_out_and_back(world)
    relay.handler.recipient_replies.clear()

    assert pipeline.once() == [Delivered((regenboog.code,), 1)]

    assert len(world.school_mail(regenboog)) == 1
    assert world.dovecot.messages(OFFICE) == [] and world.dovecot.messages(OFFICE, "Sent") == []
    assert world.officer_mail() == [] and state(run)[1] == {}


def test_a_replay_after_full_delivery_is_quarantined_saying_the_original_was_delivered(run: Run,
                                                                                       pipeline: InProcess) -> None:
    world = run.world
    raw = world.signal_mail(sample_signal([TIM, SARA]))
    world.deliver_signal(raw)
    assert [outcome.code for outcome in pipeline.once()] == ["delivered"]
    delivered = [world.school_mail(school) for school in world.schools]

    world.deliver_signal(raw)
    assert [outcome.code for outcome in pipeline.once()] == ["quarantined:replay"]

    assert [world.school_mail(school) for school in world.schools] == delivered
    assert len(world.dovecot.messages(OFFICE, QUARANTINE)) == 1
    (alert_mail,) = world.officer_mail()
    alert = without_personal(world.read_alert(alert_mail))
    assert "(code: replay, het origineel is afgeleverd)" in alert
    assert sorted(row.outcome for row in counters(run) if row.signals) == ["delivered", "quarantined:replay"]
    assert_no_personal_data([alert, alert_mail.decode("latin-1")], run.written)


def test_a_held_signal_moved_back_into_inbox_is_a_replay_that_says_where_the_original_went(
        run: Run, pipeline: InProcess) -> None:
    """A person drags a signal from the manual folder back into INBOX: not sent again, and not called delivered."""
    world = run.world
    world.deliver_signal(world.signal_mail(sample_signal([{**TIM, "School": "99ZZ00"}])))
    assert [outcome.code for outcome in pipeline.once()] == ["manual:unknown-school"]
    world.dovecot.move_all(OFFICE, MANUAL, "INBOX")

    assert [outcome.code for outcome in pipeline.once()] == ["quarantined:replay"]

    assert all(world.school_mail(school) == [] for school in world.schools)
    alerts = [world.read_alert(raw) for raw in world.officer_mail()]
    (replay,) = [alert for alert in alerts if "code: replay" in alert]
    assert f"het origineel is niet (volledig) afgeleverd; het is eerder aan u voorgelegd in de map {MANUAL}" in replay


def test_a_second_copy_while_the_first_is_unfinished_in_inbox_is_a_replay(run: Run, pipeline: InProcess) -> None:
    """Two copies at once; the first one's pass breaks off after one school: the second is refused, the first
    finishes on the next pass."""
    world = run.world
    regenboog, heuvel = world.schools
    raw = world.signal_mail(sample_signal([TIM, SARA]))
    world.deliver_signal(raw)
    world.deliver_signal(raw)
    bug = Fault("transport", "send", after=False, match=heuvel_in, raises=lambda: RuntimeError("lab: a bug"))

    assert [outcome.code for outcome in pipeline.once(wrap=bug.wrap)] == ["quarantined:replay"]
    (alert_mail,) = world.officer_mail()
    assert "het origineel is niet (volledig) afgeleverd; hwc-mailer maakt het origineel nog af" in \
        world.read_alert(alert_mail)
    assert [outcome.code for outcome in pipeline.once()] == ["delivered"]

    assert [len(world.school_mail(school)) for school in (regenboog, heuvel)] == [1, 1]
    assert world.dovecot.messages(OFFICE) == [] and len(world.dovecot.messages(OFFICE, QUARANTINE)) == 1
    assert [received.rcpt_tos for received in world.smtp.received[-1:]] == [(heuvel.address,)]
    assert OFFICER not in {address for received in world.smtp.received[-1:] for address in received.rcpt_tos}
