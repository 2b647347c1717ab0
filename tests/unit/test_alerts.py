"""Officer alerts: one per event, repeats only when due, and a cap so a flood of forgeries is no flood of mail."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from hwc_mailer.domain.reasons import Reason
from hwc_mailer.edges.gpg import GpgKeyring
from hwc_mailer.edges.store import SqlStore
from hwc_mailer.outbound.notice import Templates
from hwc_mailer.service.alerts import MAX_ALERTS_PER_HOUR, Alert, Alerter
from hwc_mailer.settings.config import Settings
from hwc_mailer.settings.rules import Rules

REPO = Path(__file__).resolve().parents[2]
OFFICER = "team@maastricht.example.nl"


class RecordingTransport:
    """Stands in for SMTP: these tests are about when alerts go out, not how."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> int:
        assert list(recipients) == [OFFICER]
        self.sent.append(message)
        return 1


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 23, 40, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def alerter(tmp_path: Path, clock: Clock, transport: RecordingTransport) -> Alerter:
    fingerprint = "A" * 40
    settings = Settings.model_validate({
        "imap": {"host": "mail.example.nl", "username": "lp@example.nl", "password": {"env": "X"}},
        "smtp": {"host": "mail.example.nl"},
        "gpg": {"inbound_home": tmp_path, "outbound_home": tmp_path, "key_fingerprint": fingerprint},
        "sender": {"address": "leerplicht@maastricht.example.nl"},
    })
    rules = Rules.model_validate({
        "trusted_senders": [{"name": "VT", "addresses": ["hwc@vt.example.nl"], "fingerprints": ["B" * 40]}],
        "officers": [{"name": "Team", "email": OFFICER}],
    })
    return Alerter(settings, rules, Templates(REPO / "templates"), GpgKeyring(tmp_path), transport,
                   SqlStore("sqlite://"), clock)


def test_an_event_is_told_once(alerter: Alerter, transport: RecordingTransport) -> None:
    alert = Alert("quarantined:INBOX:1:7", Reason.UNSIGNED, "HWC-Quarantaine")
    assert alerter.tell(alert) is True
    assert alerter.tell(alert) is False
    (message,) = transport.sent
    assert message["Subject"] == "[hwc-mailer] Verdacht bericht in quarantaine"
    body = message.get_content()
    assert "Het bericht is niet ondertekend." in body and "HWC-Quarantaine" in body


def test_a_repeating_event_is_told_again_only_when_due(alerter: Alerter, transport: RecordingTransport,
                                                       clock: Clock) -> None:
    alert = Alert("key:X:key-expiring", Reason.KEY_EXPIRING, repeat_after=timedelta(days=7))
    alerter.tell(alert)
    clock.now += timedelta(days=6)
    assert alerter.tell(alert) is False
    clock.now += timedelta(days=1)
    assert alerter.tell(alert) is True
    assert len(transport.sent) == 2


def test_a_flood_of_events_is_capped_per_hour(alerter: Alerter, transport: RecordingTransport, clock: Clock) -> None:
    told = [alerter.tell(Alert(f"quarantined:INBOX:1:{uid}", Reason.UNKNOWN_KEY, "HWC-Quarantaine"))
            for uid in range(MAX_ALERTS_PER_HOUR + 5)]
    assert told.count(True) == MAX_ALERTS_PER_HOUR
    clock.now += timedelta(hours=1)
    assert alerter.tell(Alert("quarantined:INBOX:1:999", Reason.UNKNOWN_KEY, "HWC-Quarantaine")) is True
    assert len(transport.sent) == MAX_ALERTS_PER_HOUR + 1
