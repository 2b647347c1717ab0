"""The idle STATUS line systemd shows: what the last pass did, when it ended and how long ago; nothing from a mail."""

import time

from hwc_mailer.domain.outcomes import Delivered, Held, Outcome
from hwc_mailer.domain.reasons import Reason
from hwc_mailer.service.daemon import idle_status

ENDED = time.mktime((2026, 12, 7, 14, 2, 11, 0, 0, -1))


def test_right_after_a_pass_it_says_just_now_and_what_the_pass_did() -> None:
    outcomes: list[Outcome] = [Delivered(("12AB00",), 1), Delivered(("56EF00",), 1), Held(Reason.UNKNOWN_SCHOOL)]

    assert idle_status(outcomes, ENDED, ENDED + 59) == ("watching the inbox; last pass 14:02:11 (just now): "
                                                       "2 delivered, 1 manual")


def test_while_the_wait_goes_on_it_says_how_many_minutes_ago() -> None:
    assert idle_status([], ENDED, ENDED + 3 * 60 + 5) == ("watching the inbox; last pass 14:02:11 (3 min ago): "
                                                         "nothing new")
