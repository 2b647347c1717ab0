"""What node_exporter's textfile collector reads: the Prometheus text format 0.0.4, from one snapshot.

Counts, outcome codes and times only: no school, no municipality, no address, nothing from a message. Every
family has its HELP and TYPE lines, once, before its samples; the table below is the order of the file.

    hwc_mailer_up                                 gauge    1 when the last pass ended well, 0 in an outage
    hwc_mailer_last_success_timestamp_seconds     gauge    unix time of the last pass that ended well; 0: none yet
    hwc_mailer_last_login_failure_timestamp_seconds gauge  unix time of the last refused login; 0: none
    hwc_mailer_signals_total{outcome}             counter  signals counted per outcome code, every month together
    hwc_mailer_children_total{outcome}            counter  children counted the same way
    hwc_mailer_held_waiting{disposition}          gauge    held messages a person has not finished yet
    hwc_mailer_inbox_waiting                      gauge    messages in the inbox with no outcome yet
    hwc_mailer_key_expiry_days                    gauge    days until the first key, certificate or login secret
                                                           expires (negative: expired); absent when none expires
    hwc_mailer_keys_unusable                      gauge    keys and certificates named that cannot be used
    hwc_mailer_register_age_days                  gauge    days since the register index was imported; only with
                                                           a register and a readable index
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .reasons import Disposition

PREFIX = "hwc_mailer_"
LAST_SUCCESS = f"{PREFIX}last_success_timestamp_seconds"
LAST_LOGIN_FAILURE = f"{PREFIX}last_login_failure_timestamp_seconds"
# Always present, at 0 before the first one, so a rule sees the first increase too.
SEEDED_OUTCOMES = (Disposition.DELIVERED.value,)
HELD_DISPOSITIONS = (Disposition.MANUAL.value, Disposition.QUARANTINED.value)


@dataclass(frozen=True)
class Snapshot:
    """The daemon's state after a pass, as the textfile shows it."""

    at: datetime
    up: bool
    last_success: datetime | None
    last_login_failure: datetime | None
    signals: Mapping[str, int]              # outcome code -> signals, over every month and municipality
    children: Mapping[str, int]             # outcome code -> children
    held: Mapping[str, int]                 # manual or quarantined -> held messages a person has not finished
    inbox_waiting: int
    first_expiry: datetime | None           # the first key, certificate or login secret to expire; None: none does
    keys_unusable: int | None               # None: not checked
    register_imported: datetime | None      # None: no register, or no readable index


Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Family:
    name: str
    kind: str                               # counter or gauge
    help: str
    samples: tuple[tuple[Labels, float], ...]


def _unix(moment: datetime | None) -> float:
    return round(moment.timestamp(), 3) if moment is not None else 0.0


def _days(since: datetime, until: datetime) -> float:
    return round((until - since).total_seconds() / 86400, 3)


def _per(label: str, counts: Mapping[str, int], always: tuple[str, ...]) -> tuple[tuple[Labels, float], ...]:
    """One sample per key: the `always` keys (0 when absent) and every other key with a count."""
    every = {**dict.fromkeys(always, 0), **{key: count for key, count in counts.items() if count}}
    return tuple((((label, key),), float(every[key])) for key in sorted(every))


def _single(value: float | None) -> tuple[tuple[Labels, float], ...]:
    return () if value is None else (((), value),)


def families(snapshot: Snapshot) -> list[Family]:
    """The metrics in the order of the file; a family without samples is left out."""
    now = snapshot.at
    table = [
        Family(f"{PREFIX}up", "gauge", "1 when the last pass ended well, 0 when it did not (an outage, a refused "
               "login)", _single(1.0 if snapshot.up else 0.0)),
        Family(LAST_SUCCESS, "gauge", "Unix time of the last pass that ended well; 0 when none has",
               _single(_unix(snapshot.last_success))),
        Family(LAST_LOGIN_FAILURE, "gauge", "Unix time of the last login a server refused; 0 when none",
               _single(_unix(snapshot.last_login_failure))),
        Family(f"{PREFIX}signals_total", "counter", "Signals counted per outcome code, every month and municipality "
               "together", _per("outcome", snapshot.signals, SEEDED_OUTCOMES)),
        Family(f"{PREFIX}children_total", "counter", "Children counted per outcome code, every month and "
               "municipality together", _per("outcome", snapshot.children, SEEDED_OUTCOMES)),
        Family(f"{PREFIX}held_waiting", "gauge", "Messages held in the manual or quarantine folder that a person "
               "has not finished yet", _per("disposition", snapshot.held, HELD_DISPOSITIONS)),
        Family(f"{PREFIX}inbox_waiting", "gauge", "Messages in the inbox with no outcome yet (an outage or a failing "
               "message keeps them there)", _single(float(snapshot.inbox_waiting))),
        Family(f"{PREFIX}key_expiry_days", "gauge", "Days until the first key, certificate or login secret expires "
               "(negative: expired)", _single(None if snapshot.first_expiry is None
                                               else _days(now, snapshot.first_expiry))),
        Family(f"{PREFIX}keys_unusable", "gauge", "Keys and certificates the configuration and rules name that "
               "cannot be used", _single(None if snapshot.keys_unusable is None else float(snapshot.keys_unusable))),
        Family(f"{PREFIX}register_age_days", "gauge", "Days since the register index was imported",
               _single(None if snapshot.register_imported is None else _days(snapshot.register_imported, now))),
    ]
    return [family for family in table if family.samples]


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Every value here is finite: counts, days and times."""
    return str(int(value)) if value.is_integer() else repr(value)


def render(snapshot: Snapshot) -> str:
    """The textfile: HELP and TYPE, then the samples, per family; newline at the end."""
    lines = []
    for family in families(snapshot):
        lines += [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.kind}"]
        for labels, value in family.samples:
            shown = "{" + ",".join(f'{name}="{_escaped(text)}"' for name, text in labels) + "}" if labels else ""
            lines.append(f"{family.name}{shown} {_number(value)}")
    return "\n".join(lines) + "\n"


def recorded_times(text: str) -> tuple[datetime | None, datetime | None]:
    """The last success and the last refused login a textfile of ours shows (0 or unreadable: None): what a restart
    and every `once` carry on from."""
    def moment(name: str) -> datetime | None:
        found = re.search(rf"^{name} ([0-9]+(?:\.[0-9]+)?)$", text, re.MULTILINE)
        if found is None or float(found.group(1)) <= 0:
            return None
        try:
            return datetime.fromtimestamp(float(found.group(1)), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return moment(LAST_SUCCESS), moment(LAST_LOGIN_FAILURE)
