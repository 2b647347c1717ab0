"""The signal text as people really write it, end to end on real gpg, Dovecot and SMTP.

A share of the corpus (lab/corpus.py) goes through the whole path: signed and encrypted by
Veilig Thuis, read from the Leerplicht inbox, and either delivered to exactly the schools and
children the case names, or held with its reason and an officer told. A privacy sweep follows
each case.
"""

from __future__ import annotations

import email
import email.policy

import pytest

from hwc_mailer.domain.outcomes import Delivered, Held
from lab.corpus import CASES
from lab.world import OFFICE
from tests.integration.helpers import InProcess, assert_held_and_nothing_sent, assert_no_personal_data

IN_LAB = [name for name, case in CASES.items() if case.in_lab]
NAMES = ("Tim Testkind", "Sara Testkind", "Sam Testkind")


def test_a_representative_share_of_the_corpus_runs_end_to_end() -> None:
    held = [name for name in IN_LAB if CASES[name].held is not None]
    assert len(IN_LAB) >= 15 and len(held) >= 6 and len(IN_LAB) - len(held) >= 8


@pytest.mark.parametrize("name", IN_LAB)
def test_a_written_signal_reaches_exactly_its_schools_or_a_person(pipeline: InProcess, name: str) -> None:
    case, world = CASES[name], pipeline.run.world
    mail = world.signal_mail("", html=case.text) if case.html else world.signal_mail(case.text)
    world.deliver_signal(mail)
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once()

    texts: list[str] = []
    if case.held is not None:
        texts.append(assert_held_and_nothing_sent(pipeline.run, outcomes, Held(case.held).code, sent_before))
    else:
        assert [type(outcome) for outcome in outcomes] == [Delivered]
        for school in world.schools:
            wanted = set(case.delivered.get(school.code, ()))
            mails = world.school_mail(school)
            assert len(mails) == (1 if wanted else 0)
            for raw in mails:
                _, decrypted = world.open_as(school, raw)
                assert decrypted.ok and decrypted.valid
                inner = email.message_from_bytes(decrypted.data, policy=email.policy.default)
                body = inner.get_body(("plain",))
                assert body is not None
                text = body.get_content()
                assert {child for child in NAMES if child in text} == wanted
        assert world.dovecot.messages(OFFICE) == []
    assert_no_personal_data(texts, pipeline.run.written)
