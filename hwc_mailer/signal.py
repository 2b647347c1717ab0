"""Reads a Handle with Care signal: hand-typed text from Veilig Thuis, turned into children.

Veilig Thuis staff type these mails by hand, so the parser accepts the usual variations
(label case, bullets, the value on the line below its label, many Dutch date forms) but
never guesses: anything doubtful becomes an `Invalid` with a reason code, and a person
looks at it. Results and failures carry no names or dates from the text, because reprs
end up in logs and tracebacks. This module does no I/O and no logging.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser

REASONS = frozenset(
    {
        "not-hwc",
        "no-children",
        "missing-name",
        "missing-birth-date",
        "invalid-date",
        "age-out-of-range",
        "duplicate-field",
        "field-outside-child",
    }
)


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


@dataclass(frozen=True)
class Invalid:
    """Why a signal cannot be handled automatically; a fixed code, so never personal data."""

    reason: str
    child_number: int | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError("unknown reason code")
        if self.child_number is not None and self.child_number < 1:
            raise ValueError("child_number is 1-based")


# --- text clean-up ---------------------------------------------------------------------

# Invisible characters Word and Outlook leave behind; they would break label matching.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))


def _collapse(value: str) -> str:
    """Trim, collapse all whitespace (non-breaking spaces included) and drop invisibles."""
    return " ".join(value.translate(_INVISIBLE).split())


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
    text = _collapse(value)
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


def _age(birth_date: date, today: date) -> int:
    """Whole years completed at `today`."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


# --- signal ----------------------------------------------------------------------------

_HWC = re.compile(r"\bhandle[\s\-\u2010\u2011]+with[\s\-\u2010\u2011]+care\b", re.IGNORECASE | re.ASCII)

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


def parse_signal(text: str, *, today: date, ages: AgeRange = AgeRange()) -> Signal | Invalid:
    """The children in a signal's plain text, or the first reason it cannot be trusted."""
    lines = [_collapse(line) for line in text.splitlines()]
    if not _HWC.search(" ".join(lines)):
        return Invalid("not-hwc")
    blocks = _blocks(_fields(lines))
    if isinstance(blocks, Invalid):
        return blocks
    defaults, child_blocks = blocks
    if not child_blocks:
        return Invalid("no-children")
    children = []
    for number, block in enumerate(child_blocks, start=1):
        child = _child(block, number, defaults, today, ages)
        if isinstance(child, Invalid):
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


def _blocks(fields: Iterator[tuple[str, str]]) -> tuple[_Block, list[_Block]] | Invalid:
    """Split fields into the defaults before the first `Naam:` and one block per child."""
    defaults: _Block = {}
    children: list[_Block] = []
    for label, value in fields:
        if label == "naam":
            children.append({})
        elif not children and label not in _DEFAULTABLE:
            return Invalid("field-outside-child")
        block = children[-1] if children else defaults
        if label in block:
            return Invalid("duplicate-field", len(children) or None)
        block[label] = value
    return defaults, children


def _child(block: _Block, number: int, defaults: _Block, today: date, ages: AgeRange) -> Child | Invalid:
    """A checked child, or why not: a child's own Gemeente/Kenmerk wins over the defaults."""
    name = block["naam"]
    if not name:
        return Invalid("missing-name", number)
    written_date = block.get("geboortedatum")
    if not written_date:
        return Invalid("missing-birth-date", number)
    birth_date = parse_dutch_date(written_date)
    if birth_date is None:
        return Invalid("invalid-date", number)
    if birth_date > today or not ages.minimum <= _age(birth_date, today) <= ages.maximum:
        return Invalid("age-out-of-range", number)
    return Child(
        name=name,
        birth_date=birth_date,
        school=block.get("school") or None,
        municipality=block.get("gemeente") or defaults.get("gemeente") or None,
        reference=block.get("kenmerk") or defaults.get("kenmerk") or None,
    )


# --- HTML ------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6",
     "ul", "ol", "blockquote", "pre", "hr", "dt", "dd"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_DROPPED_TAGS = frozenset({"script", "style"})


class _TextExtractor(HTMLParser):
    """Collects visible text, with line breaks where the mail client would show them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._boundary(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        self._boundary(tag, opening=False)

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            # Source line breaks inside HTML text are plain spaces when rendered.
            self.parts.append(re.sub(r"\s+", " ", data))

    def _boundary(self, tag: str, *, opening: bool) -> None:
        if tag in _DROPPED_TAGS:
            self._dropping = self._dropping + 1 if opening else max(0, self._dropping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")


def text_from_html(html: str) -> str:
    """Plain text of an HTML mail body, one visual line per line, so parse_signal can read it."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (_collapse(line) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)
