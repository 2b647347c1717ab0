"""An officer finishes a held signal by replying to its alert, from Thunderbird or Outlook with GpgOL.

The reply is signed and encrypted with the officer's own key, carries `School: <code>` (per child by number) or
`Verwijderen`, and names the held signal by the reference in the quoted alert. The daemon sends the signal to that
school only, purges the signal, the reply and every copy, and confirms; any reply it cannot trust or carry out is
refused to that officer in Dutch and changes nothing.
"""

from __future__ import annotations

import re

import pytest

from hwc_mailer.domain.outcomes import Replied
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
from tests.integration.test_resume import Fault

MANUAL = "HWC-Handmatig"
QUARANTINE = "HWC-Quarantaine"


def hold(world: World, pipeline: InProcess, children: list[dict[str, str]]) -> tuple[bytes, str]:
    """A signal held for a person: the officer's sealed alert (raw) and its reference."""
    world.deliver_signal(world.signal_mail(sample_signal(children)))
    (held,) = pipeline.once()
    assert held.code.startswith("manual:"), held
    (alert,) = world.officer_mail()
    reference = re.search(r"Referentie: (HWC-[0-9A-Z]{6})", world.read_alert(alert))
    assert reference is not None
    return alert, reference[1]


def answers(world: World, seen: int = 1) -> list[str]:
    """What the officer received after the first `seen` mails (the alert), decrypted: answers to a reply are sealed
    to the officer's key."""
    return [world.read_alert(raw) for raw in world.officer_mail()[seen:]]


def assert_nothing_left(run: Run) -> None:
    world = run.world
    for folder in ("INBOX", MANUAL, QUARANTINE, "Sent", "Trash"):
        assert world.dovecot.messages(OFFICE, folder) == [], folder


def test_a_signed_reply_sends_the_held_signal_to_that_school_only_and_clears_everything(
        run: Run, pipeline: InProcess) -> None:
    world = run.world
    alert, reference = hold(world, pipeline, [{**TIM, "School": "Basisschool De Regenbog"}])
    shown = world.read_alert(alert)
    assert f"Signaal vraagt handmatige afhandeling ({reference})" in shown
    assert "lijkt op: 12AB00 Basisschool De Regenboog" in shown and "School: <BRIN-code>" in shown

    world.deliver_signal(world.reply_mail(alert, "School: 12AB00\n\nGroet, Jan"))
    (outcome,) = pipeline.once()

    assert isinstance(outcome, Replied) and (outcome.officer, outcome.reference, outcome.schools) == (
        OFFICER, reference, ("12AB00",))
    assert outcome.code == "reply:sent-by-officer"
    regenboog, heuvel = world.schools
    (notice,) = world.school_mail(regenboog)
    _, decrypted = world.open_as(regenboog, notice)
    assert decrypted.ok and TIM["Naam"].encode() in decrypted.data
    assert world.school_mail(heuvel) == []
    (confirmation,) = answers(world)
    assert f"Signaal {reference} afgehandeld" in confirmation
    assert "door Team Leerplicht, verstuurd aan school 12AB00" in confirmation
    assert_nothing_left(run)
    assert ("Maastricht", "reply:sent-by-officer", 1, 1, 1) in [
        (row.municipality, row.outcome, row.signals, row.children, row.schools) for row in counters(run)]

    # A second reply to the finished signal is refused and sends nothing.
    world.deliver_signal(world.reply_mail(alert, "School: 12AB00"))
    (again,) = pipeline.once()
    assert again.code == "reply:unknown-reference"
    assert len(world.school_mail(regenboog)) == 1
    (refusal,) = answers(world, seen=2)
    assert f"Uw antwoord is niet uitgevoerd ({reference})" in refusal and "al afgehandeld" in refusal
    assert_nothing_left(run)
    assert_no_personal_data([confirmation, refusal, without_personal(shown)], run.written)


def test_an_outlook_inline_reply_names_the_school_of_one_child_of_two(run: Run, pipeline: InProcess) -> None:
    world = run.world
    alert, reference = hold(world, pipeline, [TIM, {**SARA, "School": "De Heuvel"}])
    assert "kind 2: Sara Testkind" in world.read_alert(alert)

    world.deliver_signal(world.reply_mail(alert, "Kind 2: School: 56EF00", client="outlook"))
    (outcome,) = pipeline.once()

    assert outcome.code == "reply:sent-by-officer" and isinstance(outcome, Replied)
    assert sorted(outcome.schools) == ["12AB00", "56EF00"]
    regenboog, heuvel = world.schools
    for school, child in ((regenboog, TIM), (heuvel, SARA)):
        (notice,) = world.school_mail(school)
        _, decrypted = world.open_as(school, notice)
        assert decrypted.ok and child["Naam"].encode() in decrypted.data
    (confirmation,) = answers(world)
    assert f"Signaal {reference} afgehandeld" in confirmation and "verstuurd aan school" in confirmation
    assert_nothing_left(run)


def test_verwijderen_discards_the_held_signal(run: Run, pipeline: InProcess) -> None:
    world = run.world
    alert, reference = hold(world, pipeline, [{**TIM, "School": "Onbekende School"}])

    world.deliver_signal(world.reply_mail(alert, "Verwijderen", client="outlook"))
    (outcome,) = pipeline.once()

    assert outcome.code == "reply:discarded-by-officer"
    assert all(world.school_mail(school) == [] for school in world.schools)
    (confirmation,) = answers(world)
    assert f"Signaal {reference} afgehandeld" in confirmation and "verwijderd" in confirmation
    assert_nothing_left(run)
    assert "reply:discarded-by-officer" in [row.outcome for row in counters(run)]


@pytest.mark.parametrize(("answer", "how", "code", "words"), [
    ("School: 12AB00", "unsigned", "quarantined:reply-unauthentic", "niet met uw eigen sleutel ondertekend"),
    ("School: 12AB00", "school-key", "quarantined:reply-unauthentic", "niet met uw eigen sleutel ondertekend"),
    ("School: 99ZZ00", "officer", "reply:unknown-code", "geen BRIN-code van een school in de regels"),
    ("HWC-0000ZZ\nSchool: 12AB00", "typed-only", "reply:unknown-reference", "hoort bij geen signaal"),
    ("HWC-0000ZZ\nSchool: 12AB00", "officer", "quarantined:no-reference", "niet precies één referentie"),
    ("Dank je, ik bel de school zelf.", "officer", "reply:no-instruction", "geen opdracht"),
    ("Kind 2: School: 12AB00", "officer", "reply:unclear-child", "welke school bij welk kind"),
], ids=["unsigned", "another-key", "unknown-code", "unknown-reference", "other-than-answered", "no-instruction",
        "no-such-child"])
def test_a_reply_that_cannot_be_trusted_or_carried_out_is_refused_and_changes_nothing(
        run: Run, pipeline: InProcess, answer: str, how: str, code: str, words: str) -> None:
    world = run.world
    alert, reference = hold(world, pipeline, [{**TIM, "School": "Basisschool De Regenbog"}])
    regenboog = world.schools[0]
    signer = {"school-key": (regenboog.fingerprint, regenboog.home)}.get(how, (None, None))

    world.deliver_signal(world.reply_mail(alert, answer, encrypted=how != "unsigned", signer=signer[0],
                                          signer_home=signer[1], threaded=how != "typed-only",
                                          quoting=how != "typed-only"))
    (outcome,) = pipeline.once()

    assert outcome.code == code
    assert all(world.school_mail(school) == [] for school in world.schools)
    assert len(world.dovecot.messages(OFFICE, MANUAL)) == 1, "the held signal stays"
    assert world.dovecot.messages(OFFICE) == []
    assert len(world.dovecot.messages(OFFICE, QUARANTINE)) == (1 if code.startswith("quarantined") else 0)
    (refusal,) = answers(world)
    assert "NIET uitgevoerd" in refusal and words in refusal
    assert (reference in refusal) is (code not in ("reply:unknown-reference", "quarantined:reply-unauthentic",
                                                   "quarantined:no-reference"))
    assert "Bel Veilig Thuis" not in refusal, "never a forgery alarm"
    assert world.dovecot.messages(OFFICE, "Sent") == []
    assert_no_personal_data([refusal], run.written)

    # The same officer can still finish it.
    world.deliver_signal(world.reply_mail(alert, "School: 12AB00"))
    (finished,) = pipeline.once()
    assert finished.code == "reply:sent-by-officer"
    assert len(world.school_mail(regenboog)) == 1
    assert world.dovecot.messages(OFFICE, MANUAL) == []


def test_a_copy_of_the_held_message_beside_it_is_never_guessed_between(run: Run, pipeline: InProcess) -> None:
    """Anyone can copy an outer Message-ID and pad a message to a size: with two candidates, neither is sent."""
    world = run.world
    alert, reference = hold(world, pipeline, [{**TIM, "School": "Basisschool De Regenbog"}])
    world.dovecot.copy_all(OFFICE, MANUAL, MANUAL)

    world.deliver_signal(world.reply_mail(alert, "School: 12AB00"))
    (outcome,) = pipeline.once()

    assert outcome.code == "reply:signal-gone"
    assert all(world.school_mail(school) == [] for school in world.schools)
    assert len(world.dovecot.messages(OFFICE, MANUAL)) == 2
    assert reference in answers(world)[0]


CRASHES = {
    "after-the-school-is-sent": lambda: Fault("store", "record_delivery"),
    "after-it-is-marked-finished": lambda: Fault("store", "finish_placed"),
    "before-the-outcome": lambda: Fault("store", "record_outcome", after=False),
    "after-the-outcome": lambda: Fault("store", "record_outcome"),
}


@pytest.mark.parametrize("point", list(CRASHES))
def test_a_crash_while_carrying_out_a_reply_sends_once_and_confirms_once(run: Run, pipeline: InProcess,
                                                                         point: str) -> None:
    world = run.world
    alert, reference = hold(world, pipeline, [{**TIM, "School": "Basisschool De Regenbog"}])
    world.deliver_signal(world.reply_mail(alert, "School: 12AB00"))

    with pytest.raises(Crash):
        pipeline.once(wrap=CRASHES[point]().wrap)
    pipeline.once()

    assert len(world.school_mail(world.schools[0])) == 1
    (confirmation,) = answers(world)
    assert f"Signaal {reference} afgehandeld" in confirmation
    assert_nothing_left(run)
    assert [row.outcome for row in counters(run)].count("reply:sent-by-officer") == 1
    assert pipeline.once() == []
