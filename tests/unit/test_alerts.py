"""Officer alerts: one per event, repeats only when due, two hourly budgets so junk never silences a genuine alert,
and nothing lost: an alert that could not go out waits in the store and goes out later, once."""

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from hwc_mailer.domain.reasons import Disposition, Reason
from hwc_mailer.edges.gpg import GpgKeyring
from hwc_mailer.edges.protocols import AlertKind
from hwc_mailer.edges.store import SqlStore
from hwc_mailer.errors import LoginRefused, TransportRejected, TransportUnavailable
from hwc_mailer.outbound.notice import PACKAGED_TEMPLATES, Templates
from hwc_mailer.service.alerts import JUNK, Alert, Alerter
from hwc_mailer.settings.config import Settings
from hwc_mailer.settings.rules import Rules

REPO = Path(__file__).resolve().parents[2]
OFFICER = "team@maastricht.example.nl"
DEPUTY = "vervanger@maastricht.example.nl"
QUARANTINE = "HWC-Quarantaine"
MANUAL = "HWC-Handmatig"


class RecordingTransport:
    """Stands in for SMTP: accepts, or refuses (5xx) or defers (4xx) the addresses it is told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, EmailMessage]] = []
        self.refused: set[str] = set()
        self.deferred: set[str] = set()
        self.refusal: LoginRefused | None = None
        self.accepted = True

    def send(self, message: EmailMessage, recipients: Sequence[str], reports: bool = False) -> int:
        (recipient,) = recipients
        if recipient in self.refused:
            raise TransportRejected("lab: 550 mailbox unknown")
        if recipient in self.deferred:
            raise TransportUnavailable("lab: 451 try later")
        self.sent.append((recipient, message))
        return 1

    def bodies(self, recipient: str = OFFICER) -> list[str]:
        return [str(message.get_content()) for to, message in self.sent if to == recipient]

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for _, message in self.sent]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 23, 40, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


Make = Callable[..., Alerter]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def store() -> Iterator[SqlStore]:
    opened = SqlStore("sqlite://")
    yield opened
    opened.close()


@pytest.fixture
def make(tmp_path: Path, clock: Clock, transport: RecordingTransport) -> Make:
    """An alerter on `store`; keywords set alerts.* (max_per_hour, junk_per_hour) and `officers` the addresses."""
    fingerprint = "A" * 40

    def alerter(store: SqlStore, officers: Sequence[str] = (OFFICER,), **budgets: int) -> Alerter:
        settings = Settings.model_validate({
            "imap": {"host": "mail.example.nl", "username": "lp@example.nl", "password": {"env": "X"}},
            "smtp": {"host": "mail.example.nl"},
            "gpg": {"inbound_home": tmp_path, "outbound_home": tmp_path, "key_fingerprint": fingerprint},
            "sender": {"address": "leerplicht@maastricht.example.nl"},
            "alerts": budgets,
        })
        rules = Rules.model_validate({
            "trusted_senders": [{"name": "VT", "addresses": ["hwc@vt.example.nl"], "fingerprints": ["B" * 40]}],
            "officers": [{"name": f"Officer {index}", "email": email} for index, email in enumerate(officers)],
        })
        return Alerter(settings, rules, Templates(PACKAGED_TEMPLATES), GpgKeyring(tmp_path), transport, store,
                       clock)

    return alerter


@pytest.fixture
def alerter(make: Make, store: SqlStore) -> Alerter:
    return make(store)


def genuine(number: int) -> Alert:
    """A held authentic signal; the detail tells the alerts apart in the officer's mail."""
    return Alert(f"manual:unknown-school:INBOX:1:{number}", Reason.UNKNOWN_SCHOOL, MANUAL, f"school 99ZZ{number:02d}")


def junk(number: int) -> Alert:
    return Alert(f"quarantined:untrusted-sender:INBOX:1:{1000 + number}", Reason.UNTRUSTED_SENDER, QUARANTINE)


def told(transport: RecordingTransport) -> Counter[str]:
    """How often each genuine alert (by its detail) reached the officer."""
    return Counter(line.split(", ", 1)[1].rstrip(")") for body in transport.bodies()
                   for line in body.splitlines() if "(code: unknown-school, " in line)


# ---- one alert per event ---------------------------------------------------------------------------------------

def test_an_event_is_told_once(alerter: Alerter, transport: RecordingTransport) -> None:
    alert = Alert("quarantined:INBOX:1:7", Reason.UNSIGNED, QUARANTINE)
    assert alerter.tell(alert) is True
    assert alerter.tell(alert) is False
    ((_, message),) = transport.sent
    assert message["Subject"] == "[hwc-mailer] Verdacht bericht in quarantaine"
    body = message.get_content()
    assert "Het bericht is niet ondertekend." in body and QUARANTINE in body


def test_a_repeating_event_is_told_again_only_when_due(alerter: Alerter, transport: RecordingTransport,
                                                       clock: Clock) -> None:
    alert = Alert("key:X:key-expiring", Reason.KEY_EXPIRING, repeat_after=timedelta(days=7))
    alerter.tell(alert)
    clock.now += timedelta(days=6)
    assert alerter.tell(alert) is False
    clock.now += timedelta(days=1)
    assert alerter.tell(alert) is True
    assert len(transport.sent) == 2


# ---- two budgets -----------------------------------------------------------------------------------------------

def test_thirty_junk_alerts_do_not_silence_the_next_genuine_one(alerter: Alerter, transport: RecordingTransport,
                                                                store: SqlStore) -> None:
    """The defaults: 30 genuine and 5 junk an hour."""
    assert [alerter.tell(junk(number)) for number in range(30)] == [True] * 5 + [False] * 25

    assert alerter.tell(genuine(1)) is True
    assert told(transport) == {"school 99ZZ01": 1}
    assert len(transport.sent) == 5 + 1
    assert len(store.pending_alerts(AlertKind.junk)) == 25, "the rest wait for the digest"
    assert store.pending_alerts(AlertKind.genuine) == []


def test_genuine_alerts_over_budget_all_go_out_in_the_following_hours_each_once(
        make: Make, store: SqlStore, transport: RecordingTransport, clock: Clock) -> None:
    alerter = make(store, max_per_hour=3)
    assert [alerter.tell(genuine(number)) for number in range(8)] == [True] * 3 + [False] * 5
    assert [pending.event for pending in store.pending_alerts(AlertKind.genuine)] == [
        genuine(number).event for number in range(3, 8)], "oldest first"

    assert alerter.send_pending() == 0, "the budget is used up within the hour"
    clock.now += timedelta(minutes=59)
    assert alerter.send_pending() == 0
    clock.now += timedelta(minutes=1)
    assert alerter.send_pending() == 3
    assert alerter.send_pending() == 0
    clock.now += timedelta(hours=1)
    assert alerter.send_pending() == 2
    clock.now += timedelta(hours=1)
    assert alerter.send_pending() == 0

    assert told(transport) == {f"school 99ZZ{number:02d}": 1 for number in range(8)}
    assert [line for body in transport.bodies() for line in body.splitlines() if "99ZZ" in line] == [
        f"  (code: unknown-school, school 99ZZ{number:02d})" for number in range(8)], "in the order they came"
    assert store.pending_alerts(AlertKind.genuine) == []
    for number in range(8):
        assert alerter.tell(genuine(number)) is False, "told once: never again"


def test_a_restart_keeps_the_budgets_and_what_waits(make: Make, tmp_path: Path, transport: RecordingTransport,
                                                    clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'hwc-mailer.db'}"
    first = SqlStore(url)
    before = make(first, max_per_hour=2, junk_per_hour=1)
    assert [before.tell(genuine(number)) for number in range(3)] == [True, True, False]
    assert [before.tell(junk(number)) for number in range(2)] == [True, False]
    first.close()

    again = SqlStore(url)
    try:
        after = make(again, max_per_hour=2, junk_per_hour=1)
        assert after.tell(genuine(3)) is False, "the budget of this hour is still used up"
        assert after.tell(junk(2)) is False
        assert [pending.event for pending in again.pending_alerts(AlertKind.genuine)] == [
            genuine(2).event, genuine(3).event]
        clock.now += timedelta(hours=1)
        assert after.send_pending() == 2 + 1, "both waiting genuine alerts, then the digest"
    finally:
        again.close()
    assert told(transport) == {f"school 99ZZ{number:02d}": 1 for number in range(4)}
    assert transport.subjects().count("[hwc-mailer] Verdachte berichten in quarantaine") == 1


# ---- the digest of junk ----------------------------------------------------------------------------------------

def test_junk_over_its_budget_is_told_by_one_digest_at_most_once_an_hour(
        make: Make, store: SqlStore, transport: RecordingTransport, clock: Clock) -> None:
    alerter = make(store, junk_per_hour=2)
    assert [alerter.tell(junk(number)) for number in range(7)] == [True] * 2 + [False] * 5

    assert alerter.send_pending() == 1
    assert alerter.send_pending() == 0
    ((_, digest),) = transport.sent[2:]
    assert digest["Subject"] == "[hwc-mailer] Verdachte berichten in quarantaine"
    body = digest.get_content()
    assert "hwc-mailer heeft 5 berichten niet verwerkt en in quarantaine gezet" in body
    assert "5 berichten van onbekende afzenders zonder eigen melding" in body
    assert f'de berichten nu staan:\n  in de map "{QUARANTINE}"' in body
    assert store.pending_alerts(AlertKind.junk) == []
    assert all(not alerter.tell(junk(number)) for number in range(7)), "each junk event is told, once"

    clock.now += timedelta(minutes=30)
    assert [alerter.tell(junk(number)) for number in range(10, 13)] == [False] * 3, "the junk budget is used up"
    assert alerter.send_pending() == 0, "the last digest went out half an hour ago"
    assert alerter.tell(genuine(1)) is True, "the digest uses neither budget"
    clock.now += timedelta(minutes=30)
    assert alerter.send_pending() == 1
    assert "hwc-mailer heeft 3 berichten" in transport.sent[-1][1].get_content()
    assert len(transport.sent) == 2 + 1 + 1 + 1


def test_no_junk_budget_leaves_only_the_hourly_digest(make: Make, store: SqlStore,
                                                      transport: RecordingTransport) -> None:
    alerter = make(store, junk_per_hour=0)
    assert not any(alerter.tell(junk(number)) for number in range(4))
    assert transport.sent == []
    assert alerter.send_pending() == 1
    assert "hwc-mailer heeft 4 berichten" in transport.sent[0][1].get_content()


# ---- sent means accepted ---------------------------------------------------------------------------------------

def test_an_alert_every_officer_refuses_waits_until_the_server_accepts_it(
        make: Make, store: SqlStore, transport: RecordingTransport) -> None:
    alerter = make(store, officers=(OFFICER, DEPUTY))
    transport.refused = {OFFICER, DEPUTY}

    assert alerter.tell(genuine(1)) is False
    assert [pending.event for pending in store.pending_alerts(AlertKind.genuine)] == [genuine(1).event]
    assert store.alerts_sent_after(AlertKind.genuine, datetime.min.replace(tzinfo=UTC)) == 0, "not recorded as sent"
    assert alerter.send_pending() == 0, "still refused"
    assert alerter.tell(genuine(1)) is False and len(store.pending_alerts(AlertKind.genuine)) == 1, "kept once"
    transport.refused.clear()

    assert alerter.send_pending() == 1
    assert alerter.send_pending() == 0
    assert told(transport) == {"school 99ZZ01": 1}
    assert len(transport.bodies(DEPUTY)) == 1
    assert alerter.tell(genuine(1)) is False


def test_one_officer_accepting_is_enough(make: Make, store: SqlStore, transport: RecordingTransport) -> None:
    alerter = make(store, officers=(OFFICER, DEPUTY))
    transport.refused = {DEPUTY}

    assert alerter.tell(genuine(1)) is True
    transport.refused.clear()
    assert alerter.send_pending() == 0
    assert store.pending_alerts(AlertKind.genuine) == []
    assert (len(transport.bodies()), len(transport.bodies(DEPUTY))) == (1, 0)


def test_an_outage_never_escapes_and_nothing_more_is_tried_until_the_next_round(
        make: Make, store: SqlStore, transport: RecordingTransport) -> None:
    alerter = make(store)
    transport.deferred = {OFFICER}

    assert alerter.tell(genuine(1)) is False
    transport.deferred.clear()
    assert alerter.tell(genuine(2)) is False, "the server was just down: this one waits without a try"
    assert alerter.tell(junk(1)) is False
    assert transport.sent == []

    assert alerter.send_pending() == 2 + 1, "both, oldest first, then the digest of the junk"
    assert told(transport) == {"school 99ZZ01": 1, "school 99ZZ02": 1}
    assert alerter.tell(genuine(3)) is True


def test_an_outage_in_the_round_leaves_the_rest_waiting_in_order(
        make: Make, store: SqlStore, transport: RecordingTransport) -> None:
    alerter = make(store)
    transport.deferred = {OFFICER}
    for number in range(3):
        alerter.tell(genuine(number))
    alerter.tell(junk(1))

    assert alerter.send_pending() == 0
    assert [pending.event for pending in store.pending_alerts(AlertKind.genuine)] == [
        genuine(number).event for number in range(3)]
    assert len(store.pending_alerts(AlertKind.junk)) == 1
    transport.deferred.clear()
    assert alerter.send_pending() == 3 + 1
    assert list(told(transport)) == [f"school 99ZZ{number:02d}" for number in range(3)]


def test_an_event_told_again_after_a_crash_while_it_waited_goes_out_once(
        make: Make, store: SqlStore, transport: RecordingTransport) -> None:
    """The process died after the alert was held but before the outcome was recorded: the restart processes the
    message again and tells the same event; the waiting copy and the new one are one alert."""
    transport.deferred = {OFFICER}
    assert make(store).tell(genuine(1)) is False
    transport.deferred.clear()

    restarted = make(store)
    assert restarted.tell(genuine(1)) is True
    assert restarted.send_pending() == 0
    assert told(transport) == {"school 99ZZ01": 1}
    assert store.pending_alerts(AlertKind.genuine) == []


def test_every_quarantine_alert_counts_as_junk_and_no_manual_or_key_alert_does() -> None:
    """Anyone can make mail that is quarantined (a forged From needs no key): it must not use the budget of
    alerts about authentic signals."""
    assert {reason for reason in Reason if reason.disposition is Disposition.QUARANTINED} == JUNK
    assert Reason.UNKNOWN_SCHOOL not in JUNK and Reason.KEY_EXPIRING not in JUNK
