"""SMTP trouble never loses a signal: a 4xx is retried without duplicates, a 5xx goes to a person."""

from __future__ import annotations

from hwc_mailer.domain.outcomes import Delivered
from lab.smtp import RelaySmtp
from lab.world import OFFICE, sample_signal
from tests.integration.helpers import SARA, TIM, InProcess, Run, totals


def test_a_temporary_smtp_failure_keeps_the_signal_until_it_can_be_sent_once(run: Run, pipeline: InProcess,
                                                                              relay: RelaySmtp) -> None:
    """The failing pass through the CLI (an outage exits 1 and tells the admin); the healed one in-process."""
    world = run.world
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    relay.handler.data_reply = "451 4.3.0 queue full, try later"

    failed = run.cli("once")

    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "answered 451" in failed.stderr and "will retry" in failed.stderr
    assert len(world.dovecot.messages(OFFICE)) == 1
    relay.handler.data_reply = None

    healed = pipeline.once()

    assert healed == [Delivered(tuple(school.code for school in world.schools), 2)]
    assert [len(world.school_mail(school)) for school in world.schools] == [1, 1]
    assert world.dovecot.messages(OFFICE) == []
    assert totals(run) == (1, 2, 2)


def test_a_school_the_server_refuses_goes_to_a_person_who_learns_what_was_sent(run: Run, pipeline: InProcess,
                                                                               relay: RelaySmtp) -> None:
    world = run.world
    regenboog, heuvel = world.schools
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    relay.handler.recipient_replies[heuvel.address] = "550 5.1.1 mailbox unknown"

    outcomes = pipeline.once()

    assert [outcome.code for outcome in outcomes] == ["manual:smtp-rejected"]
    assert len(world.school_mail(regenboog)) == 1
    assert world.school_mail(heuvel) == []
    assert len(world.dovecot.messages(OFFICE, "HWC-Handmatig")) == 1
    (alert,) = world.officer_mail()
    text = world.read_alert(alert)
    assert "smtp-rejected" in text and f"geweigerd voor school {heuvel.code}" in text
    assert f"al verstuurd naar {regenboog.code}" in text
    kept = [raw for raw in world.dovecot.messages(OFFICE, "Sent") if b"Subject: [hwc-mailer]" not in raw]
    assert kept == [], "the copy of the school's mail must not stay behind in Sent (alert copies may)"
