"""Reads a Handle with Care signal: hand-typed text from Veilig Thuis, turned into children.

Veilig Thuis staff type these mails by hand, so the parser accepts the usual variations
(label case, bullets, the value on the line below its label, many Dutch date forms) but
never guesses: anything doubtful becomes a `Held` outcome with a reason, and a person
looks at it. Results and failures carry no names or dates from the text, because reprs
end up in logs and tracebacks. This module does no I/O and no logging.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from .outcomes import Held
from .reasons import Reason
from .text import collapse, mentions_handle_with_care


@dataclass(frozen=True)
class AgeRange:
    """Ages (whole years, inclusive) for which a signal may be forwarded to a school."""

    minimum: int = 2
    maximum: int = 20

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError(f"age range {self.minimum}..{self.maximum} is empty or negative")


@dataclass(frozen=True)
class Child:
    """One child block. Name, birth date and reference stay out of the repr (personal data)."""

    name: str = field(repr=False)
    birth_date: date = field(repr=False)
    school: str | None
    municipality: str | None
    reference: str | None = field(repr=False)


@dataclass(frozen=True)
class Signal:
    children: tuple[Child, ...]


# --- dates -----------------------------------------------------------------------------

_MONTHS = {
    "januari": 1, "jan": 1,
    "februari": 2, "feb": 2,
    "maart": 3, "mrt": 3, "maa": 3,
    "april": 4, "apr": 4,
    "mei": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "augustus": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip

# re.ASCII keeps \d to 0-9 and stops IGNORECASE folding odd Unicode letters into a-z.
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})", re.ASCII)
_YEAR_MONTH_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_WRITTEN = re.compile(r"(\d{1,2}) ([a-z]+)\.? (\d{4})", re.ASCII | re.IGNORECASE)


def parse_dutch_date(value: str) -> date | None:
    """A date in one of the forms Dutch people type, or None: day first, four-digit year only."""
    text = collapse(value)
    if match := _DAY_MONTH_YEAR.fullmatch(text):
        return _date(match[4], match[3], match[1])
    if match := _YEAR_MONTH_DAY.fullmatch(text):
        return _date(match[1], match[2], match[3])
    if (match := _WRITTEN.fullmatch(text)) and (month := _MONTHS.get(match[2].lower())):
        return _date(match[3], str(month), match[1])
    return None


def _date(year: str, month: str, day: str) -> date | None:
    """The calendar date, or None for an impossible one such as 31-02."""
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def age_on(birth_date: date, today: date) -> int:
    """Whole years completed at `today`."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


# --- signal ----------------------------------------------------------------------------

# After _collapse a line has single spaces only. The optional '*' around the label covers
# Thunderbird's plain-text rendering of bold ("*Naam:* Jan"); it must be balanced.
_LABEL_LINE = re.compile(
    r"(?:[-\u2022\u00b7] ?|\* )?"
    r"(?P<star>\*?)(?P<label>naam|geboortedatum|school|gemeente|kenmerk)"
    r"(?: ?:(?P=star)|(?P=star) ?:)"
    r" ?(?P<value>.*)",
    re.IGNORECASE | re.ASCII,
)

# Labels that may stand before the first child as defaults for every child.
_DEFAULTABLE = frozenset({"gemeente", "kenmerk"})

_Block = dict[str, str]


def parse_signal(text: str, *, today: date, ages: AgeRange = AgeRange()) -> Signal | Held:
    """The children in a signal's plain text, or the first reason it cannot be trusted."""
    lines = [collapse(line) for line in text.splitlines()]
    if not mentions_handle_with_care(" ".join(lines)):
        return Held(Reason.NOT_HWC)
    blocks = _blocks(_fields(lines))
    if isinstance(blocks, Held):
        return blocks
    defaults, child_blocks = blocks
    if not child_blocks:
        return Held(Reason.NO_CHILDREN)
    children = []
    for number, block in enumerate(child_blocks, start=1):
        child = _child(block, number, defaults, today, ages)
        if isinstance(child, Held):
            return child
        children.append(child)
    return Signal(tuple(children))


def _label(line: str) -> tuple[str, str] | None:
    """(label, value) if the line is a labelled line, label in lower case."""
    match = _LABEL_LINE.fullmatch(line)
    return (match["label"].lower(), match["value"]) if match else None


def _fields(lines: list[str]) -> Iterator[tuple[str, str]]:
    """Labelled fields in order; an empty value is taken from the next non-empty line,
    because people often type the value below its label."""
    index = 0
    while index < len(lines):
        labelled = _label(lines[index])
        index += 1
        if labelled is None:
            continue
        label, value = labelled
        if not value:
            following = next((i for i in range(index, len(lines)) if lines[i]), None)
            if following is not None and _label(lines[following]) is None:
                value, index = lines[following], following + 1
        yield label, value


def _blocks(fields: Iterator[tuple[str, str]]) -> tuple[_Block, list[_Block]] | Held:
    """Split fields into the defaults before the first `Naam:` and one block per child."""
    defaults: _Block = {}
    children: list[_Block] = []
    for label, value in fields:
        if label == "naam":
            children.append({})
        elif not children and label not in _DEFAULTABLE:
            return Held(Reason.FIELD_OUTSIDE_CHILD)
        block = children[-1] if children else defaults
        if label in block:
            return Held(Reason.DUPLICATE_FIELD, child=len(children) or None)
        block[label] = value
    return defaults, children


def _child(block: _Block, number: int, defaults: _Block, today: date, ages: AgeRange) -> Child | Held:
    """A checked child, or why not: a child's own Gemeente/Kenmerk wins over the defaults."""
    name = block["naam"]
    if not name:
        return Held(Reason.MISSING_NAME, child=number)
    written_date = block.get("geboortedatum")
    if not written_date:
        return Held(Reason.MISSING_BIRTH_DATE, child=number)
    birth_date = parse_dutch_date(written_date)
    if birth_date is None:
        return Held(Reason.INVALID_DATE, child=number)
    if birth_date > today or not ages.minimum <= age_on(birth_date, today) <= ages.maximum:
        return Held(Reason.AGE_OUT_OF_RANGE, child=number)
    return Child(
        name=name,
        birth_date=birth_date,
        school=block.get("school") or None,
        municipality=block.get("gemeente") or defaults.get("gemeente") or None,
        reference=block.get("kenmerk") or defaults.get("kenmerk") or None,
    )
