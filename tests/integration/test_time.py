"""Time-driven work against the real servers, on a clock the test moves: the escalation before the school day,
the delay alerts, and the purge of what the daemon placed in its folders.

The signals are signed now (gpg and Dovecot keep real time), so the school day is laid relative to now: its
start three hours ahead, every day a school day. The pipeline's clock is then moved to the moments that matter.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hwc_mailer.domain.outcomes import Delivered
from hwc_mailer.errors import TransportUnavailable
from hwc_mailer.inbound.mime import message_id_of
from lab.smtp import RelaySmtp
from lab.world import OFFICE, sample_signal
from tests.integration.helpers import SARA, TIM, InProcess, Run, assert_no_personal_data, counters, without_personal

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MANUAL = "HWC-Handmatig"
UNKNOWN_SCHOOL = {**TIM, "School": "99ZZ00"}


class Clock:
    """The pipeline's clock: real time at first, then wherever the test puts it."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now

    def at(self, offset: timedelta) -> Clock:
        self.now = self.start + offset
        return self


def with_school_day(run: Run, clock: Clock, *, retention: str = "") -> Path:
    """The run's service file with a school day starting three hours from now (escalation two hours from now)."""
    start = (clock.start + timedelta(hours=3)).astimezone(AMSTERDAM)
    config = run.config.parent / "config-time.yaml"
    config.write_text(run.config.read_text() + f"""\
school_day:
  start: "{start:%H:%M}"
  days: [mon, tue, wed, thu, fri, sat, sun]
  margin_minutes: 60
{retention}""")
    return config


def a_signal_held_now(run: Run, retention: str = "") -> tuple[Clock, Path, InProcess]:
    """An unknown-school signal held by a first pass now: the clock, the service file and the pipeline."""
    clock = Clock()
    config = with_school_day(run, clock, retention=retention)
    pipeline = InProcess(run, clock)
    run.world.deliver_signal(run.world.signal_mail(sample_signal([UNKNOWN_SCHOOL])))
    pipeline.once(config)
    return clock, config, pipeline


def alert_subjects(run: Run) -> list[str]:
    return [run.world.read_alert(raw).splitlines()[0] for raw in run.world.officer_mail()]


def alert_texts(run: Run) -> list[str]:
    return [without_personal(run.world.read_alert(raw)) for raw in run.world.officer_mail()]


def test_a_held_signal_escalates_before_the_school_day_once_and_a_delivered_one_never(run: Run) -> None:
    clock = Clock()
    config = with_school_day(run, clock)
    pipeline = InProcess(run, clock)
    world = run.world
    world.deliver_signal(world.signal_mail(sample_signal([UNKNOWN_SCHOOL])))
    world.deliver_signal(world.signal_mail(sample_signal([SARA])))

    first = pipeline.once(config)
    assert [outcome.code for outcome in first] == ["manual:unknown-school", "delivered"]
    assert len(world.officer_mail()) == 1

    pipeline.clock = clock.at(timedelta(hours=1, minutes=50))
    assert pipeline.once(config) == []
    assert len(world.officer_mail()) == 1, "not yet: the escalation is an hour before the school day"

    pipeline.clock = clock.at(timedelta(hours=2, minutes=1))
    pipeline.once(config)
    texts = alert_texts(run)
    assert len(texts) == 2
    escalation = texts[1]
    assert escalation.startswith("Subject: [hwc-mailer] Nog niet bij de school: 1 signaal/signalen")
    assert "NOG NIET BIJ DE SCHOOL" in escalation and "HWC-" in escalation and "manual:unknown-school" in escalation
    assert "De school van een kind staat niet in de regels." in escalation

    pipeline.clock = clock.at(timedelta(hours=2, minutes=30))
    pipeline.once(config)
    assert len(world.officer_mail()) == 2, "each signal is escalated once"
    assert_no_personal_data(texts, run.written)


def test_a_signal_taken_out_of_the_manual_folder_by_a_person_is_not_escalated(run: Run) -> None:
    clock, config, pipeline = a_signal_held_now(run)
    world = run.world
    world.dovecot.move_all(OFFICE, MANUAL, "Afgehandeld")

    pipeline.clock = clock.at(timedelta(hours=2, minutes=1))
    pipeline.once(config)

    assert len(world.officer_mail()) == 1, "finished by a person: nothing to escalate"


def test_an_outage_that_keeps_a_signal_waiting_is_told_once_and_again_when_it_goes_out(
        run: Run, relay: RelaySmtp) -> None:
    clock = Clock()
    config = with_school_day(run, clock)
    pipeline = InProcess(run, clock)
    world = run.world
    for school in world.schools:
        relay.handler.recipient_replies[school.address] = "451 4.3.0 try later"
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    for minutes in (0, 10):
        pipeline.clock = clock.at(timedelta(minutes=minutes))
        with pytest.raises(TransportUnavailable):
            pipeline.once(config)
    assert world.officer_mail() == [], "within retention.delay_minutes (15): no alert yet"
    assert len(world.dovecot.messages(OFFICE)) == 1

    for minutes in (16, 20):
        pipeline.clock = clock.at(timedelta(minutes=minutes))
        with pytest.raises(TransportUnavailable):
            pipeline.once(config)
    assert alert_subjects(run) == ["Subject: [hwc-mailer] Signaal vertraagd door een storing"]

    relay.handler.recipient_replies.clear()
    pipeline.clock = clock.at(timedelta(minutes=25))
    assert pipeline.once(config) == [Delivered(tuple(school.code for school in world.schools), 2)]
    assert alert_subjects(run) == ["Subject: [hwc-mailer] Signaal vertraagd door een storing",
                                   "Subject: [hwc-mailer] Vertraagd signaal alsnog verzonden"]
    assert_no_personal_data(alert_texts(run), run.written)


def test_what_the_daemon_placed_is_purged_after_the_retention_with_a_warning_a_day_before(run: Run) -> None:
    clock, config, pipeline = a_signal_held_now(run, retention="retention:\n  held_hours: 72\n  warning_hours: 24\n")
    world = run.world
    (held,) = world.dovecot.messages(OFFICE, MANUAL)
    world.dovecot.copy_all(OFFICE, MANUAL, "Trash")
    original = message_id_of(held)
    filed = held.replace(original.encode(), original.replace("<", "<filed-by-a-person.").encode())
    assert filed != held
    world.dovecot.append(OFFICE, filed, MANUAL)

    pipeline.clock = clock.at(timedelta(hours=47))
    pipeline.once(config)
    before = len(world.officer_mail())
    pipeline.clock = clock.at(timedelta(hours=49))
    pipeline.once(config)
    pipeline.clock = clock.at(timedelta(hours=50))
    pipeline.once(config)
    warnings = [text for text in alert_texts(run)[before:] if "Bericht wordt morgen verwijderd" in text]
    assert len(warnings) == 1 and "HWC-" in warnings[0] and MANUAL in warnings[0]

    pipeline.clock = clock.at(timedelta(hours=73))
    pipeline.once(config)

    assert world.dovecot.messages(OFFICE, MANUAL) == [filed], "only what the daemon placed goes"
    assert world.dovecot.messages(OFFICE, "Trash") == [], "and its copy in Trash"
    assert [(row.outcome, row.signals) for row in counters(run) if row.outcome == "expired"] == [("expired", 1)]
    assert_no_personal_data(alert_texts(run), run.written)


def test_every_alert_of_the_clock_is_plain_dutch_without_personal_data(run: Run) -> None:
    """The on-call address gets the escalation unencrypted: it must hold nothing personal."""
    clock = Clock()
    on_call = "dienst@maastricht.example.nl"
    world = run.world
    world.dovecot.add_user(on_call, "x" * 16)
    config = with_school_day(run, clock)
    config.write_text(config.read_text().replace("  margin_minutes: 60\n",
                                                 f"  margin_minutes: 60\n  on_call: [{on_call}]\n"))
    pipeline = InProcess(run, clock)
    world.deliver_signal(world.signal_mail(sample_signal([UNKNOWN_SCHOOL])))
    pipeline.once(config)
    pipeline.clock = clock.at(timedelta(hours=2, minutes=1))
    pipeline.once(config)

    (raw,) = world.dovecot.messages(on_call)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_content()
    assert "NOG NIET BIJ DE SCHOOL" in text and "Dit bericht bevat bewust geen namen" in text
    assert_no_personal_data([raw.decode("latin-1"), text], run.written)


def test_a_held_signal_a_person_deleted_into_trash_is_still_purged_there(run: Run) -> None:
    clock, config, pipeline = a_signal_held_now(run)
    world = run.world
    world.dovecot.move_all(OFFICE, MANUAL, "Trash")

    pipeline.clock = clock.at(timedelta(hours=73))
    pipeline.once(config)

    assert world.dovecot.messages(OFFICE, "Trash") == [], "the copy in Trash still held the signal"
    assert [(row.outcome, row.signals) for row in counters(run) if row.outcome == "expired"] == [("expired", 1)]


def test_with_mail_down_at_escalation_time_the_officers_find_it_in_their_folder(run: Run, relay: RelaySmtp) -> None:
    clock, config, pipeline = a_signal_held_now(run)
    world = run.world
    relay.handler.rcpt_reply = "451 4.3.0 try later"

    pipeline.clock = clock.at(timedelta(hours=2, minutes=1))
    pipeline.once(config)
    relay.handler.rcpt_reply = None
    pipeline.clock = clock.at(timedelta(hours=2, minutes=20))
    pipeline.once(config)

    (filed,) = world.dovecot.messages(OFFICE, "HWC-Meldingen")
    message = email.message_from_bytes(filed, policy=email.policy.default)
    assert isinstance(message, EmailMessage) and "NOG NIET BIJ DE SCHOOL" in message.get_content()
    assert len(world.officer_mail()) == 1, "told once: in the folder, not again by mail once mail works"
