"""Never lost: the process dies at every step the journal promises, and the restart finishes the job.

Each fault-injecting double implements an edge's Protocol by handing every call to the real edge and
dying (raising `Crash`, which nothing in the pipeline catches) at one chosen call, before or after the
real edge ran. The first pass dies; `pipeline.once()` without the double is the restart. Then we look
at what people would see: each school's mail, INBOX, Sent and the manual folder, the officer's alerts,
the anonymous counters and what is left of the journal.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from imapclient import IMAPClient

from hwc_mailer.domain.reasons import Reason
from hwc_mailer.edges.protocols import (
    AlertKind,
    CounterRow,
    Journal,
    KeyInfo,
    Keyring,
    KeyState,
    Mailbox,
    PendingAlert,
    Placed,
    Store,
    Tally,
    Transport,
    Verified,
)
from hwc_mailer.edges.store import SqlStore
from hwc_mailer.errors import LoginRefused, TransportUnavailable
from hwc_mailer.service.pipeline import Edges
from hwc_mailer.settings.config import load_settings
from lab.world import OFFICE, World, sample_signal
from tests.integration.helpers import SARA, TIM, Crash, InProcess, Run, assert_no_personal_data, without_personal

T = TypeVar("T")
Edge = Literal["mailbox", "transport", "store", "inbound"]
MANUAL = "HWC-Handmatig"


# ---- the doubles ----------------------------------------------------------------------------------------------

def always(_: tuple[object, ...]) -> bool:
    return True


def crash() -> BaseException:
    return Crash("the process dies here")


@dataclass
class Fault:
    """Where the process dies: the `nth` call of `method` on `edge` whose arguments `match`.

    `after` lets the real edge do its work first (the crash comes between the effect and its return);
    `every` makes every matching call from the nth on fail (a poison message); `calls` counts matching calls,
    across passes when the same Fault wraps the edges of several passes.
    """

    edge: Edge
    method: str
    nth: int = 1
    after: bool = True
    match: Callable[[tuple[object, ...]], bool] = always
    every: bool = False
    raises: Callable[[], BaseException] = crash
    calls: int = 0

    def around(self, method: str, args: tuple[object, ...], real: Callable[[], T]) -> T:
        due = False
        if method == self.method and self.match(args):
            self.calls += 1
            due = self.calls == self.nth or (self.every and self.calls > self.nth)
        if due and not self.after:
            raise self.raises()
        result = real()
        if due:
            raise self.raises()
        return result

    def wrap(self, edges: Edges) -> Edges:
        """The real edges with this one edge replaced by its double: the `wrap` of `InProcess.once`."""
        if self.edge == "mailbox":
            return replace(edges, mailbox=FaultyMailbox(edges.mailbox, self))
        if self.edge == "transport":
            return replace(edges, transport=FaultyTransport(edges.transport, self))
        if self.edge == "store":
            return replace(edges, store=FaultyStore(edges.store, self))
        return replace(edges, inbound=FaultyKeyring(edges.inbound, self))


class FaultyTransport:
    def __init__(self, real: Transport, fault: Fault) -> None:
        self.real, self.fault = real, fault

    def send(self, message: EmailMessage, recipients: Sequence[str], reports: bool = False) -> int:
        return self.fault.around("send", (message, recipients), lambda: self.real.send(message, recipients, reports))

    @property
    def refusal(self) -> LoginRefused | None:
        return self.real.refusal

    @property
    def accepted(self) -> bool:
        return self.real.accepted


class FaultyMailbox:
    def __init__(self, real: Mailbox, fault: Fault) -> None:
        self.real, self.fault = real, fault

    def uids(self, folder: str) -> tuple[int, list[int]]:
        return self.fault.around("uids", (folder,), lambda: self.real.uids(folder))

    def size(self, folder: str, uid: int) -> int | None:
        return self.fault.around("size", (folder, uid), lambda: self.real.size(folder, uid))

    def fetch(self, folder: str, uid: int) -> bytes | None:
        return self.fault.around("fetch", (folder, uid), lambda: self.real.fetch(folder, uid))

    def fetch_header(self, folder: str, uid: int) -> bytes | None:
        return self.fault.around("fetch_header", (folder, uid), lambda: self.real.fetch_header(folder, uid))

    def move(self, folder: str, uid: int, target: str) -> None:
        self.fault.around("move", (folder, uid, target), lambda: self.real.move(folder, uid, target))

    def delete(self, folder: str, uids: Sequence[int]) -> None:
        self.fault.around("delete", (folder, uids), lambda: self.real.delete(folder, uids))

    def find_by_message_id(self, folder: str, message_id: str) -> dict[int, int]:
        return self.fault.around("find_by_message_id", (folder, message_id),
                                 lambda: self.real.find_by_message_id(folder, message_id))

    def wait_for_mail(self, folder: str, seconds: float, stop: Callable[[], bool]) -> None:
        self.fault.around("wait_for_mail", (folder, seconds), lambda: self.real.wait_for_mail(folder, seconds, stop))

    def present(self, folder: str) -> set[tuple[str, int]]:
        return self.fault.around("present", (folder,), lambda: self.real.present(folder))

    def append(self, folder: str, raw: bytes) -> None:
        self.fault.around("append", (folder, raw), lambda: self.real.append(folder, raw))

    def find_folder(self, name: str) -> str | None:
        return self.fault.around("find_folder", (name,), lambda: self.real.find_folder(name))

    @property
    def refusal(self) -> LoginRefused | None:
        return self.real.refusal

    @property
    def accepted(self) -> bool:
        return self.real.accepted

    def close(self) -> None:
        self.real.close()


class FaultyStore:
    def __init__(self, real: Store, fault: Fault) -> None:
        self.real, self.fault = real, fault

    def begin_attempt(self, source: str, at: datetime) -> int:
        return self.fault.around("begin_attempt", (source,), lambda: self.real.begin_attempt(source, at))

    def uncount_attempt(self, source: str) -> None:
        self.fault.around("uncount_attempt", (source,), lambda: self.real.uncount_attempt(source))

    def journal(self, source: str) -> Journal:
        return self.fault.around("journal", (source,), lambda: self.real.journal(source))

    def journals(self, prefix: str) -> dict[str, Journal]:
        return self.fault.around("journals", (prefix,), lambda: self.real.journals(prefix))

    def record_delivery(self, source: str, delivery: str, at: datetime) -> None:
        self.fault.around("record_delivery", (source, delivery),
                          lambda: self.real.record_delivery(source, delivery, at))

    def record_outcome(self, source: str, outcome: str, month: str, tallies: Sequence[Tally],
                       also: Sequence[tuple[str, Tally]] = ()) -> None:
        self.fault.around("record_outcome", (source, outcome),
                          lambda: self.real.record_outcome(source, outcome, month, tallies, also))

    def forget(self, *sources: str) -> None:
        self.fault.around("forget", sources, lambda: self.real.forget(*sources))

    def claim_signal(self, digest: str, source: str, at: datetime) -> str:
        return self.fault.around("claim_signal", (digest, source), lambda: self.real.claim_signal(digest, source, at))

    def take_over_claim(self, digest: str, claimant: str, source: str) -> bool:
        return self.fault.around("take_over_claim", (digest, claimant, source),
                                 lambda: self.real.take_over_claim(digest, claimant, source))

    def settle_claim(self, source: str, disposition: str) -> None:
        self.fault.around("settle_claim", (source, disposition), lambda: self.real.settle_claim(source, disposition))

    def forget_signals_before(self, moment: datetime) -> None:
        self.fault.around("forget_signals_before", (moment,), lambda: self.real.forget_signals_before(moment))

    def mark_poisoned(self, digest: str, at: datetime) -> None:
        self.fault.around("mark_poisoned", (digest,), lambda: self.real.mark_poisoned(digest, at))

    def is_poisoned(self, digest: str) -> bool:
        return self.fault.around("is_poisoned", (digest,), lambda: self.real.is_poisoned(digest))

    def alert_due(self, event: str, now: datetime, repeat_after: timedelta | None) -> bool:
        return self.fault.around("alert_due", (event,), lambda: self.real.alert_due(event, now, repeat_after))

    def record_alert(self, event: str, now: datetime, kind: AlertKind, covers: Sequence[str] = ()) -> None:
        self.fault.around("record_alert", (event,), lambda: self.real.record_alert(event, now, kind, covers))

    def alerts_sent_after(self, kind: AlertKind, moment: datetime) -> int:
        return self.fault.around("alerts_sent_after", (kind,), lambda: self.real.alerts_sent_after(kind, moment))

    def hold_alert(self, pending: PendingAlert) -> None:
        self.fault.around("hold_alert", (pending.event,), lambda: self.real.hold_alert(pending))

    def pending_alerts(self, kind: AlertKind) -> list[PendingAlert]:
        return self.fault.around("pending_alerts", (kind,), lambda: self.real.pending_alerts(kind))

    def retire_alert(self, event: str) -> None:
        self.fault.around("retire_alert", (event,), lambda: self.real.retire_alert(event))

    def record_placed(self, placed: Placed) -> str:
        return self.fault.around("record_placed", (placed,), lambda: self.real.record_placed(placed))

    def placed(self) -> list[Placed]:
        return self.fault.around("placed", (), self.real.placed)

    def placed_by_reference(self, ref: str) -> Placed | None:
        return self.fault.around("placed_by_reference", (ref,), lambda: self.real.placed_by_reference(ref))

    def finish_placed(self, source: str, by: str) -> None:
        self.fault.around("finish_placed", (source, by), lambda: self.real.finish_placed(source, by))

    def forget_placed(self, source: str, *, expired_in: str | None = None) -> None:
        self.fault.around("forget_placed", (source,), lambda: self.real.forget_placed(source, expired_in=expired_in))

    def move_placed(self, source: str, folder: str) -> None:
        self.fault.around("move_placed", (source, folder), lambda: self.real.move_placed(source, folder))

    def waiting_since(self, prefix: str) -> dict[str, datetime]:
        return self.fault.around("waiting_since", (prefix,), lambda: self.real.waiting_since(prefix))

    def remember_sent(self, digest: str, at: datetime) -> None:
        self.fault.around("remember_sent", (digest,), lambda: self.real.remember_sent(digest, at))

    def is_sent(self, digest: str) -> bool:
        return self.fault.around("is_sent", (digest,), lambda: self.real.is_sent(digest))

    def forget_sent(self, digest: str) -> None:
        self.fault.around("forget_sent", (digest,), lambda: self.real.forget_sent(digest))

    def counters(self) -> list[CounterRow]:
        return self.fault.around("counters", (), self.real.counters)

    def close(self) -> None:
        self.real.close()


class FaultyKeyring:
    def __init__(self, real: Keyring, fault: Fault) -> None:
        self.real, self.fault = real, fault

    @property
    def home(self) -> Path:
        return self.real.home

    def decrypt_verified(self, data: bytes) -> Verified | Reason:
        return self.fault.around("decrypt_verified", (), lambda: self.real.decrypt_verified(data))

    def encrypt_signed(self, data: bytes, recipients: Sequence[str], signer: str) -> bytes:
        return self.fault.around("encrypt_signed", (recipients,),
                                 lambda: self.real.encrypt_signed(data, recipients, signer))

    def inspect(self, fingerprint: str, address: str | None = None) -> KeyInfo:
        return self.fault.around("inspect", (fingerprint,), lambda: self.real.inspect(fingerprint, address))

    def key_state(self, fingerprint: str, address: str | None = None) -> KeyState:
        return self.fault.around("key_state", (fingerprint,), lambda: self.real.key_state(fingerprint, address))

    def scan(self, data: bytes) -> list[str]:
        return self.fault.around("scan", (), lambda: self.real.scan(data))

    def import_key(self, data: bytes, fingerprint: str) -> bool:
        return self.fault.around("import_key", (fingerprint,), lambda: self.real.import_key(data, fingerprint))

    def trust_ultimately(self, fingerprint: str) -> None:
        self.fault.around("trust_ultimately", (fingerprint,), lambda: self.real.trust_ultimately(fingerprint))

    def certify(self, fingerprint: str, signer: str) -> None:
        self.fault.around("certify", (fingerprint,), lambda: self.real.certify(fingerprint, signer))

    def has_secret_key(self, fingerprint: str) -> bool:
        return self.fault.around("has_secret_key", (fingerprint,), lambda: self.real.has_secret_key(fingerprint))

    def unlocks(self, fingerprint: str) -> bool:
        return self.fault.around("unlocks", (fingerprint,), lambda: self.real.unlocks(fingerprint))


# ---- what people see ------------------------------------------------------------------------------------------

def in_folder(folder: str) -> Callable[[tuple[object, ...]], bool]:
    return lambda args: args[0] == folder


def message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Message-ID"])


def state(run: Run) -> tuple[list[CounterRow], dict[str, Journal]]:
    """The counters and every journal row, read in-process from the run's database."""
    store = SqlStore(load_settings(run.config).database)
    try:
        return store.counters(), store.journals("")
    finally:
        store.close()


def assert_held_once(run: Run, outcome: str, copies: tuple[int, int] = (0, 0)) -> str:
    """The signal sits once in the manual folder, officers got one alert, the schools `copies` mails (none by
    default), no copy of those stayed in Sent, and the journal is empty; returns the alert."""
    world = run.world
    assert world.dovecot.messages(OFFICE) == []
    assert len(world.dovecot.messages(OFFICE, MANUAL)) == 1
    assert tuple(len(world.school_mail(school)) for school in world.schools) == copies
    assert all(b"Subject: [hwc-mailer]" in raw for raw in world.dovecot.messages(OFFICE, "Sent")), \
        "only the alert's own copy may stay in Sent"
    (alert_mail,) = world.officer_mail()
    alert = world.read_alert(alert_mail)
    assert outcome.split(":", 1)[1] in alert and MANUAL in alert
    counters, journals = state(run)
    assert [(row.outcome, row.signals) for row in counters] == [(outcome, 1)]
    assert journals == {}
    return without_personal(alert) + alert_mail.decode("latin-1")


# ---- a delivered signal, two children at two schools ------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    fault: Callable[[], Fault]
    copies: tuple[int, int]          # what each school holds after the restart


DELIVERY_POINTS: dict[str, Point] = {
    "fetch-of-the-source": Point(lambda: Fault("mailbox", "fetch", after=False), (1, 1)),
    "replay-guard-claimed": Point(lambda: Fault("store", "claim_signal"), (1, 1)),
    # between SMTP acceptance and the journal: the one visible duplicate, same Message-ID
    "first-send-accepted": Point(lambda: Fault("transport", "send"), (2, 1)),
    "second-send-accepted": Point(lambda: Fault("transport", "send", nth=2), (1, 2)),
    "first-delivery-journaled": Point(lambda: Fault("store", "record_delivery"), (1, 1)),
    "before-outcome-recorded": Point(lambda: Fault("store", "record_outcome", after=False), (1, 1)),
    "outcome-recorded": Point(lambda: Fault("store", "record_outcome"), (1, 1)),
    "before-source-deleted": Point(lambda: Fault("mailbox", "delete", after=False, match=in_folder("INBOX")), (1, 1)),
    "source-deleted": Point(lambda: Fault("mailbox", "delete", match=in_folder("INBOX")), (1, 1)),
    "before-sent-copies-deleted": Point(lambda: Fault("mailbox", "delete", after=False, match=in_folder("Sent")),
                                        (1, 1)),
    "sent-copies-deleted": Point(lambda: Fault("mailbox", "delete", match=in_folder("Sent")), (1, 1)),
    "before-journal-forgotten": Point(lambda: Fault("store", "forget", after=False, match=bool), (1, 1)),
}


@pytest.mark.parametrize("name", list(DELIVERY_POINTS))
def test_a_crash_at_any_step_of_a_delivery_resumes_to_one_mail_per_school(run: Run, pipeline: InProcess,
                                                                          name: str) -> None:
    world, point = run.world, DELIVERY_POINTS[name]
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    relayed_before = len(world.smtp.received)
    fault = point.fault()

    with pytest.raises(Crash):
        pipeline.once(wrap=fault.wrap)
    assert fault.calls == fault.nth
    pipeline.once()

    mails = [world.school_mail(school) for school in world.schools]
    assert tuple(len(mail) for mail in mails) == point.copies
    ids = [{message_id(raw) for raw in mail} for mail in mails]
    assert all(len(one) == 1 for one in ids), "a duplicate carries the same Message-ID"
    assert ids[0] != ids[1]
    assert len(world.smtp.received) - relayed_before == sum(point.copies)
    assert world.dovecot.messages(OFFICE) == []
    assert world.dovecot.messages(OFFICE, "Sent") == []
    assert world.officer_mail() == []
    counters, journals = state(run)
    assert {row.outcome for row in counters} == {"delivered"}
    assert (sum(row.signals for row in counters), sum(row.children for row in counters),
            sum(row.schools for row in counters)) == (1, 2, 2)
    assert journals == {}
    assert pipeline.once() == []


# ---- a held signal: a school the rules do not know --------------------------------------------------------------

HELD_POINTS: dict[str, Callable[[], Fault]] = {
    "alert-told": lambda: Fault("store", "record_alert"),
    "outcome-recorded": lambda: Fault("store", "record_outcome"),
    "before-move": lambda: Fault("mailbox", "move", after=False),
    "moved": lambda: Fault("mailbox", "move"),
}


@pytest.mark.parametrize("name", list(HELD_POINTS))
def test_a_crash_while_holding_a_signal_leaves_it_once_in_the_manual_folder_with_one_alert(
        run: Run, pipeline: InProcess, name: str) -> None:
    world = run.world
    world.deliver_signal(world.signal_mail(sample_signal([{**TIM, "School": "99ZZ00"}])))
    fault = HELD_POINTS[name]()

    with pytest.raises(Crash):
        pipeline.once(wrap=fault.wrap)
    pipeline.once()

    alert = assert_held_once(run, "manual:unknown-school")
    assert_no_personal_data([alert], run.written)
    assert pipeline.once() == []


# ---- poison: a message that kills every attempt ----------------------------------------------------------------

def attempts(run: Run) -> list[int]:
    return [journal.attempts for journal in state(run)[1].values()]


def heuvel_in(args: tuple[object, ...]) -> bool:
    """A send to the second school (Op de Heuvel), which comes after the first school's."""
    return "hwc@opdeheuvel.example.nl" in str(args[1])


@dataclass(frozen=True)
class Poison:
    fault: Callable[[], Fault]
    copies: tuple[int, int]          # what the schools got before it was set aside
    detail: str                      # what the officer learns about that


POISONS: dict[str, Poison] = {
    "in-decryption": Poison(lambda: Fault("inbound", "decrypt_verified", after=False, every=True), (0, 0),
                            "aan geen enkele school verstuurd"),
    "after-the-first-school": Poison(lambda: Fault("transport", "send", after=False, every=True, match=heuvel_in),
                                     (1, 0), "al verstuurd aan 1 school/scholen"),
}


@pytest.mark.parametrize("name", list(POISONS))
def test_a_signal_that_kills_every_attempt_goes_to_a_person_after_max_attempts(run: Run, pipeline: InProcess,
                                                                               name: str) -> None:
    world, case = run.world, POISONS[name]
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    poison = case.fault()

    for attempt in (1, 2, 3):                               # limits.max_attempts defaults to 3
        with pytest.raises(Crash):
            pipeline.once(wrap=poison.wrap)
        assert (poison.calls, attempts(run)) == (attempt, [attempt])
        assert len(world.dovecot.messages(OFFICE)) == 1
    outcomes = pipeline.once(wrap=poison.wrap)

    assert [outcome.code for outcome in outcomes] == ["manual:internal-error"]
    assert poison.calls == 3, "set aside without being tried again"
    alert = assert_held_once(run, "manual:internal-error", case.copies)
    assert case.detail in alert
    assert_no_personal_data([alert], run.written)
    assert pipeline.once(wrap=poison.wrap) == [] and poison.calls == 3


def stranger_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Buurman <buurman@example.org>"
    message["To"] = OFFICE
    message["Subject"] = "Koffie morgen?"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Zullen we morgen koffie drinken?\n")
    return message.as_bytes()


def copy_back_under_a_new_uid(world: World) -> None:
    """What a colleague does who drags the message out and back in: same bytes, new UID, old one gone."""
    dovecot = world.dovecot
    with IMAPClient(dovecot.host, dovecot.imaps_port, ssl=True, ssl_context=dovecot.ssl_context(), timeout=10) as imap:
        imap.login(OFFICE, world.office_password)
        imap.select_folder("INBOX")
        (old,) = imap.search("ALL")
        imap.copy([old], "INBOX")
        imap.add_flags([old], [b"\\Deleted"], silent=True)
        imap.uid_expunge([old])
        assert imap.search("ALL") != [old]


def test_someone_elses_message_that_kills_every_attempt_is_skipped_from_then_on(run: Run,
                                                                                pipeline: InProcess) -> None:
    world = run.world
    with run.config.open("a") as config:
        config.write("limits:\n  max_attempts: 2\n")
    raw = stranger_mail()
    world.dovecot.deliver(OFFICE, raw)
    (kept,) = world.dovecot.messages(OFFICE)
    poison = Fault("mailbox", "fetch", after=False, every=True, match=in_folder("INBOX"))

    for attempt in (1, 2):
        with pytest.raises(Crash):
            pipeline.once(wrap=poison.wrap)
        assert (poison.calls, attempts(run)) == (attempt, [attempt])
    assert [outcome.code for outcome in pipeline.once(wrap=poison.wrap)] == ["not-ours"]
    assert pipeline.once(wrap=poison.wrap) == []
    assert (poison.calls, attempts(run)) == (2, [3]), "skipped: no further attempt"

    copy_back_under_a_new_uid(world)
    assert [outcome.code for outcome in pipeline.once(wrap=poison.wrap)] == ["not-ours"]
    assert pipeline.once(wrap=poison.wrap) == []

    assert poison.calls == 2, "recognised by its header under the new UID, never fetched again"
    assert world.dovecot.messages(OFFICE) == [kept], "left alone, exactly as it came"
    assert world.officer_mail() == [] and world.dovecot.messages(OFFICE, MANUAL) == []
    counters, journals = state(run)
    assert counters == []
    assert [(journal.outcome, journal.attempts) for journal in journals.values()] == [("not-ours", 1)]


# ---- an outage is nobody's fault ------------------------------------------------------------------------------

def test_outages_do_not_count_as_attempts(run: Run, pipeline: InProcess) -> None:
    world = run.world
    regenboog, heuvel = world.schools
    assert heuvel_in(((), [heuvel.address]))
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    outage = Fault("transport", "send", after=False, every=True, match=heuvel_in,
                   raises=lambda: TransportUnavailable("lab: the relay is down"))

    for passes in range(1, 6):
        with pytest.raises(TransportUnavailable):
            pipeline.once(wrap=outage.wrap)
        assert (outage.calls, attempts(run)) == (passes, [0])
    assert (len(world.school_mail(regenboog)), len(world.school_mail(heuvel))) == (1, 0)
    assert [outcome.code for outcome in pipeline.once()] == ["delivered"]

    assert (len(world.school_mail(regenboog)), len(world.school_mail(heuvel))) == (1, 1)
    assert world.dovecot.messages(OFFICE) == [] and world.dovecot.messages(OFFICE, "Sent") == []
    counters, journals = state(run)
    assert {row.outcome for row in counters} == {"delivered"} and sum(row.signals for row in counters) == 1
    assert journals == {}
