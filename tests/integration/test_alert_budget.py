"""Alerts through the real pipeline: a flood of junk never silences a genuine alert, and an alert no officer's
server accepted waits and goes out once, on a later pass, while its signal is held in its folder as usual."""

from __future__ import annotations

import pytest

from hwc_mailer.edges.protocols import AlertKind, PendingAlert
from hwc_mailer.edges.store import SqlStore
from hwc_mailer.settings.config import load_settings
from lab.forge import ATTACKER, SIGNAL, message
from lab.smtp import RelaySmtp
from lab.world import OFFICE, OFFICER, sample_signal
from tests.integration.helpers import TIM, InProcess, Run, assert_no_personal_data, counters, without_personal

MANUAL = "HWC-Handmatig"
QUARANTINE = "HWC-Quarantaine"
FLOOD = 12
JUNK_PER_HOUR = 5                    # the default of alerts.junk_per_hour


def junk_mail() -> bytes:
    """Signal-like plain text from an address that is not in the rules: anyone can send this."""
    return message("text/plain; charset=utf-8", SIGNAL, sender=f"Veilig Thuis <{ATTACKER}>")


def held_signal(run: Run) -> bytes:
    """A genuine signal a person must finish: its school is not in the rules."""
    return run.world.signal_mail(sample_signal([{**TIM, "School": "99ZZ00"}]))


def pending(run: Run, kind: AlertKind) -> list[PendingAlert]:
    store = SqlStore(load_settings(run.config).database)
    try:
        return store.pending_alerts(kind)
    finally:
        store.close()


def alerts(run: Run) -> list[str]:
    """Every alert in the officer's mailbox, decrypted, in the order they came."""
    return [without_personal(run.world.read_alert(raw)) for raw in run.world.officer_mail()]


def test_a_flood_of_junk_leaves_the_genuine_alert_and_a_digest(run: Run, pipeline: InProcess) -> None:
    world = run.world
    for _ in range(FLOOD):
        world.deliver_signal(junk_mail())
    world.deliver_signal(held_signal(run))

    outcomes = pipeline.once()

    assert [outcome.code for outcome in outcomes] == ["quarantined:untrusted-sender"] * FLOOD + [
        "manual:unknown-school"]
    first = alerts(run)
    assert len(first) == JUNK_PER_HOUR + 1
    assert [text for text in first if "code: unknown-school" in text and MANUAL in text] == [first[-1]], \
        "the genuine alert came, after the junk that used up only its own budget"
    assert all("code: untrusted-sender" in text for text in first[:-1])
    assert len(pending(run, AlertKind.junk)) == FLOOD - JUNK_PER_HOUR
    assert pending(run, AlertKind.genuine) == []

    assert pipeline.once() == []

    (digest,) = alerts(run)[len(first):]
    assert "Verdachte berichten in quarantaine" in digest
    assert f"hwc-mailer heeft {FLOOD - JUNK_PER_HOUR} berichten niet verwerkt" in digest and QUARANTINE in digest
    assert pending(run, AlertKind.junk) == []
    assert pipeline.once() == []
    assert len(world.officer_mail()) == JUNK_PER_HOUR + 2, "no more: each mail told once, one way or the other"
    assert len(world.dovecot.messages(OFFICE, QUARANTINE)) == FLOOD
    assert len(world.dovecot.messages(OFFICE, MANUAL)) == 1
    assert_no_personal_data([repr(outcomes), *alerts(run)], run.written)


@pytest.mark.parametrize("refusal", ["451 4.2.1 mailbox busy, try later", "550 5.1.1 mailbox unknown"])
def test_an_alert_the_officers_server_refused_waits_and_goes_out_once_when_it_accepts(
        run: Run, pipeline: InProcess, relay: RelaySmtp, refusal: str) -> None:
    """4xx (TransportUnavailable) or 5xx (TransportRejected) for the officer's address: the signal is held as
    always, the alert is pending, not recorded as sent, and the first pass after the relay recovers sends it."""
    world = run.world
    world.deliver_signal(held_signal(run))
    relay.handler.recipient_replies[OFFICER] = refusal

    outcomes = pipeline.once()

    assert [outcome.code for outcome in outcomes] == ["manual:unknown-school"]
    assert world.dovecot.messages(OFFICE) == [], "held in its folder despite the failed alert"
    assert len(world.dovecot.messages(OFFICE, MANUAL)) == 1
    assert world.officer_mail() == []
    (waiting,) = pending(run, AlertKind.genuine)
    assert (waiting.reason.value, waiting.folder) == ("unknown-school", MANUAL)
    assert pipeline.once() == [] and world.officer_mail() == [], "still refused: still waiting"
    assert len(pending(run, AlertKind.genuine)) == 1
    relay.handler.recipient_replies.clear()

    assert pipeline.once() == []

    (alert,) = alerts(run)
    assert "code: unknown-school" in alert and MANUAL in alert
    assert pending(run, AlertKind.genuine) == []
    assert pipeline.once() == []
    assert len(world.officer_mail()) == 1, "exactly once"
    assert [(row.outcome, row.signals) for row in counters(run)] == [("manual:unknown-school", 1)]
    assert_no_personal_data([repr(outcomes), alert], run.written)

