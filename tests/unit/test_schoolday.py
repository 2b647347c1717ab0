"""The school-day clock, in-process: a signal's deadline is the next school-day start, in local time."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hwc_mailer.domain.schoolday import SchoolCalendar
from hwc_mailer.service.maintenance import school_calendar
from hwc_mailer.settings.config import SchoolDay

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CALENDAR = SchoolCalendar(time(7, 30), AMSTERDAM, frozenset(range(5)), frozenset({date(2027, 4, 27)}),
                          timedelta(minutes=60))


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMSTERDAM)


@pytest.mark.parametrize(("arrived", "escalation"), [
    ("2027-01-11 23:40", "2027-01-12 06:30"),     # Monday night: Tuesday before school
    ("2027-01-15 23:40", "2027-01-18 06:30"),     # Friday night: Monday
    ("2027-01-16 10:00", "2027-01-18 06:30"),     # Saturday
    ("2027-04-26 23:40", "2027-04-28 06:30"),     # the night before King's Day, a listed holiday
    ("2027-03-26 23:40", "2027-03-29 06:30"),     # Friday before the clocks go forward on Sunday
    ("2027-10-29 23:40", "2027-11-01 06:30"),     # Friday before the clocks go back
    ("2027-01-12 07:00", "2027-01-12 06:30"),     # after the moment: at once
    ("2027-01-12 08:00", "2027-01-13 06:30"),     # in the school day: before the next one
])
def test_a_signal_escalates_before_the_next_school_day_in_local_time(arrived: str, escalation: str) -> None:
    assert CALENDAR.escalate_at(local(arrived)) == local(escalation)
    assert CALENDAR.escalate_at(local(arrived)).tzinfo is not None


def test_daylight_saving_moves_the_deadline_in_utc_not_in_local_time() -> None:
    winter = CALENDAR.deadline(local("2027-03-24 23:40"))
    summer = CALENDAR.deadline(local("2027-04-01 23:40"))
    assert winter.astimezone(UTC).hour == 6 and summer.astimezone(UTC).hour == 5
    assert winter.astimezone(AMSTERDAM).time() == summer.astimezone(AMSTERDAM).time() == time(7, 30)


def test_due_is_the_moment_of_escalation_and_after() -> None:
    arrived = local("2027-01-11 23:40")
    assert not CALENDAR.due(arrived, local("2027-01-12 06:29"))
    assert CALENDAR.due(arrived, local("2027-01-12 06:30")) and CALENDAR.due(arrived, local("2027-01-12 09:00"))


def test_the_service_file_makes_the_calendar() -> None:
    calendar = school_calendar(SchoolDay.model_validate({"start": "08:15", "days": ["mon", "wed"],
                                                         "holidays": ["2027-01-13"], "margin_minutes": 30}))
    assert calendar.start == time(8, 15) and calendar.weekdays == frozenset({0, 2})
    assert calendar.escalate_at(local("2027-01-11 12:00")) == local("2027-01-18 07:45")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("start", "7:30", "pattern"),
    ("timezone", "Europe/Maastricht", "unknown time zone"),
    ("on_call", ["dienst"], "not a mail address"),
    ("days", [], "at least 1"),
])
def test_a_school_day_that_cannot_be_used_is_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SchoolDay.model_validate({field: value})
