"""The school-day clock: a signal's deadline is the start of the first school day after it arrived.

Pure: times in, times out. Local time with daylight saving (the zone's rules), school days by weekday minus
the holidays the admin lists. A held signal is escalated `margin` before its deadline, or at once when it is
held after that moment.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Far enough to pass any run of holidays an admin lists (summer holidays are six weeks), short enough to end.
_LOOKAHEAD_DAYS = 120


@dataclass(frozen=True)
class SchoolCalendar:
    start: time                     # local time the school day starts
    zone: ZoneInfo
    weekdays: frozenset[int]        # date.weekday(): Monday is 0
    holidays: frozenset[date]
    margin: timedelta

    def is_school_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def deadline(self, arrived: datetime) -> datetime:
        """The start of the first school day strictly after `arrived` (aware); in UTC."""
        local = arrived.astimezone(self.zone)
        for offset in range(_LOOKAHEAD_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            begins = datetime.combine(day, self.start, self.zone)
            if self.is_school_day(day) and begins > local:
                return begins.astimezone(ZoneInfo("UTC"))
        return (local + timedelta(days=_LOOKAHEAD_DAYS)).astimezone(ZoneInfo("UTC"))

    def escalate_at(self, arrived: datetime) -> datetime:
        """When a signal that arrived then and is still not at its school must reach a person."""
        return self.deadline(arrived) - self.margin

    def due(self, arrived: datetime, now: datetime) -> bool:
        return now >= self.escalate_at(arrived)
