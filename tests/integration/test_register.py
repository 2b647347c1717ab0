"""Finding the school the way Leerplicht does, end to end: the register index, real gpg, Dovecot and SMTP.

Veilig Thuis sends only name, date of birth and the code word; the daemon finds the school in the
pseudonymised index built from the leerplicht administration's export, piped into `register import`.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Delivered, Held
from hwc_mailer.domain.reasons import Reason
from lab.children import FINN_ONLY_NAME, LOTTE_ONLY_NAME, REGISTER_EXPORT, SAM_ONLY_NAME, SARA_ONLY_NAME, TIM_ONLY_NAME
from lab.cli import hwc_mailer
from lab.world import sample_signal
from tests.integration.helpers import InProcess, Run, assert_held_and_nothing_sent, assert_no_personal_data, counters


@pytest.fixture
def with_register(run: Run) -> Path:
    """The run's service file with the register on, and the lab export piped in, as the timer would."""
    config = run.world.write_config(run.directory / "etc", state_dir=run.directory / "state", register=True)
    imported = hwc_mailer(config, "register", "import", "-", stdin=REGISTER_EXPORT)
    assert imported.returncode == 0, imported.stderr
    assert "imported 5 pupil(s)" in imported.stdout
    assert_no_personal_data([imported.stdout, imported.stderr], run.written)
    return config


def plain_text_of(pipeline: InProcess, raw: bytes, school_index: int) -> str:
    _, decrypted = pipeline.run.world.open_as(pipeline.run.world.schools[school_index], raw)
    assert decrypted.ok and decrypted.valid
    inner = email.message_from_bytes(decrypted.data, policy=email.policy.default)
    body = inner.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_signal_with_name_and_date_of_birth_only_reaches_the_school_of_the_register(
        pipeline: InProcess, with_register: Path) -> None:
    world = pipeline.run.world
    world.deliver_signal(world.signal_mail(sample_signal([TIM_ONLY_NAME, SARA_ONLY_NAME])))

    outcomes = pipeline.once(config=with_register)

    assert outcomes == [Delivered(("12AB00", "56EF00"), 2)]
    regenboog, heuvel = world.schools
    (tim_mail,) = world.school_mail(regenboog)
    (sara_mail,) = world.school_mail(heuvel)
    assert "Tim Testkind" in plain_text_of(pipeline, tim_mail, 0)
    assert "Sara Testkind" not in plain_text_of(pipeline, tim_mail, 0)
    assert "Sara Testkind" in plain_text_of(pipeline, sara_mail, 1)
    assert [row.outcome for row in counters(pipeline.run)] == ["delivered", "delivered"]
    assert_no_personal_data([], pipeline.run.written)


@pytest.mark.parametrize(("child", "reason", "detail"), [
    (FINN_ONLY_NAME, Reason.NOT_IN_REGISTER, ""),
    (LOTTE_ONLY_NAME, Reason.AMBIGUOUS_REGISTER, "het register noemt 12AB00, 56EF00"),
    (SAM_ONLY_NAME, Reason.SCHOOL_NOT_PARTICIPATING, "school 99ZZ00"),
    ({**TIM_ONLY_NAME, "School": "56EF00"}, Reason.REGISTER_MISMATCH, "het register noemt 12AB00"),
], ids=["not-in-register", "ambiguous-register", "school-not-participating", "register-mismatch"])
def test_every_doubt_about_the_register_goes_to_a_person(pipeline: InProcess, with_register: Path,
                                                          child: dict[str, str], reason: Reason, detail: str) -> None:
    world = pipeline.run.world
    world.deliver_signal(world.signal_mail(sample_signal([child])))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once(config=with_register)

    assert outcomes == [Held(reason, detail, child=1)]
    alert = assert_held_and_nothing_sent(pipeline.run, outcomes, Held(reason).code, sent_before)
    assert detail in alert
    assert_no_personal_data([alert], pipeline.run.written)


def test_a_school_line_for_a_child_the_register_does_not_know_is_sent_and_counted_as_a_gap(
        pipeline: InProcess, with_register: Path) -> None:
    world = pipeline.run.world
    world.deliver_signal(world.signal_mail(sample_signal([{**FINN_ONLY_NAME, "School": "12AB00"}])))

    outcomes = pipeline.once(config=with_register)

    assert outcomes == [Delivered(("12AB00",), 1)]
    assert len(world.school_mail(world.schools[0])) == 1
    rows = {(row.outcome, row.children) for row in counters(pipeline.run)}
    assert ("register-gap", 1) in rows and ("delivered", 1) in rows
    gap = hwc_mailer(with_register, "stats", "--exact")
    assert "1 child(ren) sent by the School: line but not in the register" in gap.stdout
    assert_no_personal_data([gap.stdout], pipeline.run.written)


def test_a_new_export_is_picked_up_by_the_next_pass(pipeline: InProcess, with_register: Path) -> None:
    world = pipeline.run.world
    moved = REGISTER_EXPORT.replace("Sara;;Testkind;;02-05-2013;56EF;00", "Sara;;Testkind;;02-05-2013;12AB;00")
    assert hwc_mailer(with_register, "register", "import", "-", stdin=moved).returncode == 0
    world.deliver_signal(world.signal_mail(sample_signal([SARA_ONLY_NAME])))

    assert pipeline.once(config=with_register) == [Delivered(("12AB00",), 1)]
    assert_no_personal_data([], pipeline.run.written)
