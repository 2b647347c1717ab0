"""Reads a Handle with Care signal: hand-typed text from Veilig Thuis, turned into children.

Veilig Thuis staff type these mails by hand, so the parser accepts the forms people
produce (label case and synonyms, relation words, bold, lists, the value on the line
below its label, many Dutch date forms; lines.py) but never guesses: anything doubtful
becomes a `Held` outcome with a reason, and a person looks at it.

A delivered signal is a promise that every child written reaches a school, so the
parser accounts for what it did not use. Inside the data region (from the first child
label to the last child field) a left-over line that may hold a child holds the signal;
so do a date count that does not match the children, a name written twice, a field
that sits with another child than the one it is filed under, and, anywhere else in
the body, a possible pupil's date of birth or a sibling written in a sentence. The
signature (from the first closing greeting or legal footer after the data on, a PS
excepted) never holds it. Quoted and forwarded material is never read as live
children: when it holds a child, a person decides.

Dates are read day first, the Dutch way (03/04/2017 is 3 April); one that is valid only
month first (03/25/2017) is invalid, never reinterpreted. Results and failures carry no
names or dates from the text, because reprs end up in logs and tracebacks. This module
does no I/O and no logging.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from .lines import (
    DATE_LIKE,
    DATE_TOKEN,
    Labelled,
    Layout,
    has_child_label,
    is_closing,
    is_heading,
    is_postscript,
    labelled,
    lay_out,
    looks_like_data,
    may_hold_a_child,
    says_correction,
)
from .outcomes import Held
from .reasons import Reason
from .text import collapse, mentions_handle_with_care, normalise_name


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

# Labels that may stand before the first child as defaults for every child.
_DEFAULTABLE = frozenset({"gemeente", "kenmerk"})


@dataclass(frozen=True)
class _Field:
    written: Labelled
    value: str
    first: int          # 0-based index of the label's line
    last: int           # of the last line it took (the value may stand on the next line)

    @property
    def label(self) -> str:
        return self.written.label


@dataclass
class _Block:
    fields: dict[str, _Field]


def parse_signal(text: str, *, today: date, ages: AgeRange = AgeRange(), set_apart: str = "",
                 subject: str = "") -> Signal | Held:
    """The children in a signal's plain text, or the first reason it cannot be trusted.

    `set_apart` is what the mail showed as quoted, forwarded or hidden (HTML blockquotes,
    forwarded message parts): read only to see whether it holds a child. `subject` is the
    subject the sender wrote, read for a correction.
    """
    layout = lay_out(text, set_apart)
    lines = layout.lines
    following = _next_lines(lines)
    fields, headings = _fields(lines, following)
    names = [found for found in fields if found.label == "naam"]
    data = (names[0].first, max(found.last for found in fields[fields.index(names[0]):])) if names else None
    signature = _signature(lines, data[1] if data else -1)
    body = "\n".join(line for index, line in enumerate(lines) if index not in signature)
    if says_correction(subject) or says_correction(body):
        return Held(Reason.CORRECTION)
    if has_child_label(layout.set_apart):
        apart = normalise_name(" ".join(layout.set_apart))
        written = [normalise_name(found.value) for found in names if found.value]
        return Held(Reason.CORRECTION if any(name in apart for name in written) else Reason.QUOTED_SIGNAL)
    if not mentions_handle_with_care(" ".join(lines)):
        return Held(Reason.NOT_HWC)
    blocks = _blocks(fields, lines, following)
    if isinstance(blocks, Held):
        return blocks
    defaults, child_blocks = blocks
    if not child_blocks or data is None:
        return Held(Reason.NO_CHILDREN)
    children = []
    for number, block in enumerate(child_blocks, start=1):
        child = _child(block, number, defaults, today, ages)
        if isinstance(child, Held):
            return child
        children.append(child)
    unaccounted = _unaccounted(layout, fields, headings, child_blocks, data, signature, today, ages)
    return unaccounted or Signal(tuple(children))


def child_names(text: str) -> frozenset[str]:
    """The names a text's name labels give, normalised: to compare two versions of one mail."""
    lines = lay_out(text).lines
    fields, _ = _fields(lines, _next_lines(lines))
    return frozenset(normalise_name(found.value) for found in fields if found.label == "naam" and found.value)


def _next_lines(lines: list[str]) -> list[int | None]:
    """For each line, the index of the next non-empty line after it: one pass, so long texts stay linear."""
    following: list[int | None] = [None] * len(lines)
    upcoming: int | None = None
    for index in range(len(lines) - 1, -1, -1):
        following[index] = upcoming
        if lines[index]:
            upcoming = index
    return following


def _signature(lines: list[str], after: int) -> set[int]:
    """The lines of the signature: from the first closing greeting or legal footer after the data on, except
    a postscript ("PS: ...") and what follows it up to the next closing."""
    start = next((index for index in range(after + 1, len(lines)) if lines[index] and is_closing(lines[index])),
                 len(lines))
    signature: set[int] = set()
    in_postscript = False
    for index in range(start, len(lines)):
        line = lines[index]
        if line and is_postscript(line):
            in_postscript = True
        elif line and in_postscript and is_closing(line):
            in_postscript = False
        if not in_postscript:
            signature.add(index)
    return signature


def _fields(lines: list[str], following: list[int | None]) -> tuple[list[_Field], set[int]]:
    """Labelled fields in order, and the lines that only announce a child ("Kind 2:", "Broertje").

    An empty value is taken from the next non-empty line, because people often type the
    value below its label, unless that line itself looks like data for another field.
    """
    fields: list[_Field] = []
    headings: set[int] = set()
    found_at = [labelled(line) if line else None for line in lines]
    index = 0
    while index < len(lines):
        found = found_at[index]
        upcoming = following[index]
        next_found = found_at[upcoming] if upcoming is not None else None
        announces = next_found is not None and next_found.label == "naam"
        if found is None or (found.relation and not found.value and announces):
            if lines[index] and announces and is_heading(lines[index]):
                headings.add(index)
            index += 1
            continue
        value, last = found.value, index
        if not value and upcoming is not None and next_found is None and _may_be_value(found.label, lines[upcoming]):
            value, last = lines[upcoming], upcoming
        fields.append(_Field(found, value, index, last))
        index = last + 1
    return fields, headings


def _may_be_value(label: str, line: str) -> bool:
    """A reference or a municipality on the next line is short and holds no child."""
    return label in ("naam", "geboortedatum", "school") or not looks_like_data(line)


def _blocks(fields: list[_Field], lines: list[str], following: list[int | None]) -> tuple[_Block, list[_Block]] | Held:
    """Split fields into the defaults before the first child and one block per child.

    A field belongs only to the block it is written in. One that looks as if it belongs to
    another child (set off from its block by a blank line and written right above the next
    name, under another list number, or with another sibling word or number in its label)
    holds the signal.
    """
    defaults = _Block({})
    children: list[_Block] = []
    names_at = {found.first for found in fields if found.label == "naam"}
    previous_last = -1
    for found in fields:
        if found.label == "naam":
            children.append(_Block({}))
        elif not children and found.label not in _DEFAULTABLE:
            return Held(Reason.FIELD_OUTSIDE_CHILD)
        block = children[-1] if children else defaults
        if found.label in block.fields:
            return Held(Reason.DUPLICATE_FIELD, child=len(children) or None)
        if children and found.label != "naam" and _elsewhere(found, block, lines, following, names_at, previous_last):
            return _unparsed(found.first)
        block.fields[found.label] = found
        previous_last = found.last
    return defaults, children


def _elsewhere(found: _Field, block: _Block, lines: list[str], following: list[int | None], names_at: set[int],
               previous_last: int) -> bool:
    name = block.fields["naam"].written
    written = found.written
    set_off = any(not lines[index] for index in range(previous_last + 1, found.first))
    upcoming = following[found.last]
    above_next_name = upcoming == found.last + 1 and upcoming in names_at
    return ((set_off and above_next_name) or (written.item is not None and written.item != name.item)
            or (written.sibling is not None and written.sibling != name.sibling)
            or (written.ordinal is not None and written.ordinal != name.ordinal))


def _value(block: _Block, label: str) -> str | None:
    found = block.fields.get(label)
    return collapse(found.value) or None if found else None


def _child(block: _Block, number: int, defaults: _Block, today: date, ages: AgeRange) -> Child | Held:
    """A checked child, or why not: a child's own Gemeente/Kenmerk wins over the defaults."""
    name = _value(block, "naam")
    if not name:
        return Held(Reason.MISSING_NAME, child=number)
    written_date = _value(block, "geboortedatum")
    if not written_date:
        return Held(Reason.MISSING_BIRTH_DATE, child=number)
    birth_date = parse_dutch_date(written_date)
    if birth_date is None:
        return Held(Reason.INVALID_DATE, child=number)
    if not _possible_pupil(birth_date, today, ages):
        return Held(Reason.AGE_OUT_OF_RANGE, child=number)
    return Child(
        name=name,
        birth_date=birth_date,
        school=_value(block, "school"),
        municipality=_value(block, "gemeente") or _value(defaults, "gemeente"),
        reference=_value(block, "kenmerk") or _value(defaults, "kenmerk"),
    )


def _possible_pupil(birth_date: date, today: date, ages: AgeRange) -> bool:
    return birth_date <= today and ages.minimum <= age_on(birth_date, today) <= ages.maximum


def _unaccounted(layout: Layout, fields: list[_Field], headings: set[int], children: list[_Block],
                 data: tuple[int, int], signature: set[int], today: date, ages: AgeRange) -> Held | None:
    """The first line that may hold a child no field took, as `unparsed-line` with its line number only."""
    lines = layout.lines
    start, end = data
    taken = {index for found in fields for index in range(found.first, found.last + 1)}
    names = [normalise_name(block.fields["naam"].value) for block in children]
    if len(set(names)) != len(names):
        second = [block for block in children if names.count(normalise_name(block.fields["naam"].value)) > 1][1]
        return _unparsed(second.fields["naam"].first)
    mentioned = re.compile("|".join(rf"\b{re.escape(name)}\b" for name in names))
    for index in range(start, end + 1):
        line = lines[index]
        if index in taken or index in headings or not line:
            continue
        if looks_like_data(line) or mentioned.search(normalise_name(line)):
            return _unparsed(index)
    for found in fields:
        if found.label != "naam" and may_hold_a_child(found.value):
            return _unparsed(found.first)
    dates = [index for index in range(start, end + 1) for _ in DATE_LIKE.finditer(lines[index])]
    if len(dates) != len(children):
        birth_lines = {block.fields["geboortedatum"].last for block in children}
        extra = next((index for index in dates if dates.count(index) > 1 or index not in birth_lines), start)
        return _unparsed(extra)
    for index in [*range(0, start), *range(end + 1, len(lines))]:
        line = lines[index]
        if index in signature or index in taken or not line:
            continue
        if may_hold_a_child(line) or any((written := parse_dutch_date(token[0])) is not None
                                         and _possible_pupil(written, today, ages)
                                         for token in DATE_TOKEN.finditer(line)):
            return _unparsed(index)
    return None


def _unparsed(index: int) -> Held:
    return Held(Reason.UNPARSED_LINE, f"regel {index + 1}")
