"""A school's server returns our mail: an officer hears which school, the report goes, nothing else is touched.

Before, a report from MAILER-DAEMON was someone else's mail (or, with the encrypted original in it, a forged
signal in quarantine): the school silently never had the signal.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from hwc_mailer.domain.outcomes import Bounced, Delivered, NotOurs
from hwc_mailer.inbound.mime import message_id_of
from lab.reports import delivery_report
from lab.world import OFFICE, OFFICER, sample_signal
from tests.integration.helpers import SARA, TIM, InProcess, Run, assert_no_personal_data, counters


def test_a_report_on_our_mail_tells_an_officer_which_school_and_is_purged(run: Run, pipeline: InProcess) -> None:
    world = run.world
    regenboog = world.schools[0]
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    assert pipeline.once() == [Delivered(tuple(school.code for school in world.schools), 2)]
    (notice,) = world.school_mail(regenboog)
    outer = email.message_from_bytes(notice, policy=email.policy.default)
    assert isinstance(outer, EmailMessage) and OFFICER in str(outer["Reply-To"]), "a school's answer reaches a person"

    world.deliver_signal(delivery_report(message_id_of(notice), regenboog.address, whole=True))
    assert pipeline.once() == [Bounced((regenboog.code,), "5.1.1")]

    assert world.dovecot.messages(OFFICE) == [], "the report is gone (it carried the encrypted original)"
    assert world.dovecot.messages(OFFICE, "HWC-Quarantaine") == []
    (alert,) = [world.read_alert(raw) for raw in world.officer_mail()]
    assert "Bericht aan een school kwam niet aan" in alert and f"school {regenboog.code}, status 5.1.1" in alert
    assert [(row.outcome, row.signals) for row in counters(run) if row.outcome == "bounced"] == [("bounced", 1)]
    assert_no_personal_data([alert], run.written)

    # A second report on the same mail, or one that names another school as its recipient: someone else's mail.
    heuvel = world.schools[1]
    world.deliver_signal(delivery_report(message_id_of(notice), heuvel.address))
    assert pipeline.once() == [NotOurs()]
    assert len(world.officer_mail()) == 1 and len(world.dovecot.messages(OFFICE)) == 1


def test_the_school_of_a_report_comes_from_our_record_not_from_what_the_report_says(run: Run,
                                                                                    pipeline: InProcess) -> None:
    world = run.world
    regenboog, heuvel = world.schools
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))
    pipeline.once()
    (notice,) = world.school_mail(regenboog)
    world.deliver_signal(delivery_report(message_id_of(notice), heuvel.address))

    assert pipeline.once() == [Bounced((regenboog.code,), "5.1.1")]


def test_a_report_of_a_delay_is_not_taken_for_a_mail_that_did_not_arrive(run: Run, pipeline: InProcess) -> None:
    world = run.world
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))
    pipeline.once()
    (notice,) = world.school_mail(world.schools[0])
    world.deliver_signal(delivery_report(message_id_of(notice), world.schools[0].address, status="4.4.7"))

    assert pipeline.once() == [NotOurs()]
    assert world.officer_mail() == []


def test_a_report_on_a_mail_we_never_sent_is_left_alone(run: Run, pipeline: InProcess) -> None:
    world = run.world
    world.deliver_signal(delivery_report("<invented.1@maastricht.example.nl>", world.schools[0].address))

    assert pipeline.once() == [NotOurs()]
    assert len(world.dovecot.messages(OFFICE)) == 1 and world.officer_mail() == []
