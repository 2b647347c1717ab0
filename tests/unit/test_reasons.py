"""One reason vocabulary: every code has its Dutch explanation and its own action, and outcomes round-trip."""

import re

import pytest

from hwc_mailer.domain.outcomes import Delivered, Held, NotOurs, outcome_code, parse_outcome_code
from hwc_mailer.domain.reasons import Disposition, Reason

DUTCH = re.compile(r"\b(het|de|een|van|niet|en|is)\b", re.IGNORECASE)


@pytest.mark.parametrize("reason", list(Reason), ids=lambda reason: reason.value)
def test_every_reason_has_a_dutch_explanation_and_an_action(reason: Reason) -> None:
    assert reason.explanation.strip() and DUTCH.search(reason.explanation), reason
    assert reason.action.strip() and DUTCH.search(reason.action), reason
    assert reason.disposition in (Disposition.MANUAL, Disposition.QUARANTINED, Disposition.REPLY, None)


def test_manual_reasons_do_not_share_one_generic_action() -> None:
    manual = [reason for reason in Reason if reason.disposition is Disposition.MANUAL]
    assert len({reason.action for reason in manual}) == len(manual)


def test_quarantine_advice_never_asks_for_the_same_mail_again() -> None:
    """Sending the same signed mail again is refused as a replay: the advice asks for a new signal."""
    for reason in Reason:
        if reason.disposition is Disposition.QUARANTINED and reason is not Reason.REPLAY:
            assert "opnieuw versturen" not in reason.action
    assert "beheerder" in Reason.UNKNOWN_KEY.action


@pytest.mark.parametrize("outcome", [Delivered(("12AB00",), 1), NotOurs(), Held(Reason.UNSIGNED),
                                     Held(Reason.UNKNOWN_SCHOOL, child=2), Held(Reason.INTERNAL_ERROR)],
                         ids=lambda outcome: outcome.code)
def test_an_outcome_code_reads_back_as_its_disposition_and_reason(outcome: Delivered | Held | NotOurs) -> None:
    assert parse_outcome_code(outcome.code) == (outcome.disposition, outcome.reason)
    assert outcome_code(outcome.disposition, outcome.reason) == outcome.code


def test_codes_are_the_journal_and_counter_strings() -> None:
    assert Held(Reason.UNKNOWN_SCHOOL).code == "manual:unknown-school"
    assert Held(Reason.BAD_SIGNATURE).code == "quarantined:bad-signature"
    assert Delivered((), 0).code == "delivered"
    assert NotOurs().code == "not-ours"


def test_a_key_notice_is_no_reason_to_hold_a_message() -> None:
    with pytest.raises(ValueError):
        Held(Reason.KEY_EXPIRING)


def test_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_outcome_code("manual:no-such-reason")
