"""How people lay out a signal, line by line: labels, headings, quotes, closings, dates.

Veilig Thuis staff type signals by hand in Outlook or Thunderbird: labels come in
bold, in numbered or bulleted lists, with a relation word ("Naam broertje:"), with a
synonym ("Geboren:"), with a full-width colon or an invisible character inside. Every
line is folded once (`prepare`) and then read by the patterns here; the parser in
signal.py decides what the lines mean together.
"""

import re
from dataclasses import dataclass

from .text import collapse, fold, lines_of

_REL = r"(?:kind(?:je)?|broer(?:tje)?|zus(?:je)?|zoon|dochter|leerling|jeugdige|minderjarige|pleegkind)"
_ORD = (r"(?:\d{1,2}(?:e|de|ste)?|een|twee|drie|vier|vijf|zes|eerste|tweede|derde|vierde|vijfde|zesde|"
        r"oudste|jongste|middelste)")
# What may follow a label word: whose ("van het kind", "broertje") and which ("2", "(2)", "nr. 2").
_OF = rf"(?:\s+(?:van\s+(?:het\s+|de\s+)?)?{_REL})?(?:\s*\(?\s*(?:nr\.?\s*)?{_ORD}\s*\)?)?"
_RELATION = rf"(?:{_ORD}\s+)?{_REL}(?:\s*\(?\s*(?:nr\.?\s*)?{_ORD}\s*\)?)?"

LABELS: dict[str, str] = {
    "naam": rf"(?:naam|volledige\s+naam|voor-?\s*en\s+achternaam|naam\s+en\s+voornaam){_OF}|{_RELATION}",
    "geboortedatum": rf"(?:geboortedatum|geb\.?\s*datum|geboren(?:\s+op)?|geb\.?|d\.?o\.?b\.?|date\s+of\s+birth)"
                     rf"{_OF}",
    "school": rf"(?:school|naam\s+(?:van\s+(?:de\s+)?)?school|schoolnaam|basisschool|school\s*\(brin\)|"
              rf"brin(?:[-\s]?code)?(?:\s*(?:\+|en)\s*vestiging(?:snummer)?)?|school\s+en\s+brin(?:[-\s]?code)?)"
              rf"{_OF}",
    "gemeente": rf"(?:gemeente|woongemeente|gemeente\s+van\s+inschrijving){_OF}",
    "kenmerk": r"(?:kenmerk|ons\s+kenmerk|kenmerk\s+veilig\s+thuis|referentie|dossiernummer|zaaknummer|"
               r"registratienummer)",
}
_ANY_LABEL = "|".join(f"(?P<{name}>{pattern})" for name, pattern in LABELS.items())
# A list marker before the label: bullet, dash, "2.", "2)", "(2)", "b.".
_BULLETS = "-\u2022\u00b7\u2023\u25e6\u25aa\u25cf\u25cb\u25a0\u25a1\u27a2\u25ba\u2013\u2014+"
_MARKER = rf"(?:(?:[{_BULLETS}]|\d{{1,2}}[.)]|\(\d{{1,2}}\)|[a-z][.)])\s*)?"
_LABEL_LINE = re.compile(rf"{_MARKER}(?:{_ANY_LABEL})\s*:\s*(?P<value>.*)", re.IGNORECASE)
# "Geboren op 14 maart 2017": the one label people also write without a colon, before a date.
_BORN_LINE = re.compile(rf"{_MARKER}geboren(?:\s+op)?\s+(?P<value>\d.*)", re.IGNORECASE)
_TAB_AFTER_LABEL = re.compile(rf"^(\s*{_MARKER}(?:{_ANY_LABEL}))[ ]*\t+\s*", re.IGNORECASE)
# Markdown or Thunderbird emphasis at the edge of a word: "**Naam:**", "*Naam:*", "__Naam__:".
_EMPHASIS = re.compile(r"(?<!\w)[*_]+|[*_]+(?!\w)")
# A line that only announces the next child: "Kind 2", "Tweede kind:", "Gegevens broertje".
_HEADING = re.compile(rf"{_MARKER}(?:gegevens\s+(?:van\s+(?:het\s+)?)?)?{_RELATION}\s*:?", re.IGNORECASE)

# Words that mark a line as data in the data region, and the bare "label:" shape.
_LABEL_WORDS = re.compile(r"\b(?:naam|geboren|geboortedatum|geb|school|brin|gemeente|kenmerk|kind|broer|broertje|"
                          r"zus|zusje|leerling)\b", re.IGNORECASE)
_LABEL_SHAPE = re.compile(rf"{_MARKER}[^\W\d][\w .()'/-]{{0,40}}:(?:\s|$)")

_MONTH_WORDS = (r"(?:januari|jan|februari|feb|maart|mrt|maa|april|apr|mei|juni|jun|juli|jul|augustus|aug|"
                r"september|sept|sep|oktober|okt|november|nov|december|dec)")
DATE_TOKEN = re.compile(rf"(?<!\d)\d{{1,2}}\s*([-/.])\s*\d{{1,2}}\s*\1\s*\d{{2,4}}(?!\d)|(?<!\d)\d{{4}}-\d{{1,2}}-"
                        rf"\d{{1,2}}(?!\d)|(?<!\d)\d{{1,2}}\.?\s+{_MONTH_WORDS}\.?\s+\d{{2,4}}(?!\d)", re.IGNORECASE)

# Where the message being answered or forwarded begins.
_QUOTE_START = re.compile(
    r"-{2,}\s*(?:oorspronkelijk\s+bericht|original\s+message|doorgestuurd\s+bericht|forwarded\s+message|"
    r"begin\s+doorgestuurd\s+bericht|begin\s+forwarded\s+message)\s*-*:?"
    r"|(?:begin\s+doorgestuurd\s+bericht|begin\s+forwarded\s+message)\s*:"
    r"|op\s.{4,200}\s(?:schreef|heeft\s.{1,80}\sgeschreven)\b.{0,80}:"
    r"|on\s.{4,200}\swrote\s*:", re.IGNORECASE)
_HEADER_FROM = re.compile(r"(?:van|from)\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"(?:verzonden|sent|datum|date|aan|to|onderwerp|subject|cc)\s*:", re.IGNORECASE)
_QUOTED_LINE = re.compile(r"\s*>")
# Where the signature begins: a closing greeting or a signature delimiter.
_CLOSING = re.compile(r"(?:met\s+)?(?:vriendelijke|hartelijke|collegiale|beste|warme)\s+groet(?:en)?\b.*"
                      r"|groet(?:en|jes)?\s*,?|m\.?v\.?g\.?\s*,?.*|kind\s+regards.*|(?:best\s+)?regards.*"
                      r"|--\s*|_{5,}|-{5,}", re.IGNORECASE)
_CORRECTION = re.compile(
    r"\b(?:correctie|corrigeren|gecorrigeerd|rectificatie|herstelbericht|vervalt|komt\s+te\s+vervallen|"
    r"intrekken|intrekking|ingetrokken|trekken\s+(?:\w+\s+){0,3}in\b|onjuist|niet\s+juist|niet\s+correct|"
    r"vergissing|abusievelijk|per\s+abuis|ten\s+onrechte|negeer|wijziging|gewijzigd|verkeerde\s+school|"
    r"(?:eerder|vorig)e?\s+(?:verstuurde\s+|gestuurde\s+|gemelde\s+)?(?:signaal|melding|bericht|mail))",
    re.IGNORECASE)


def prepare(line: str) -> str:
    """One line as the patterns read it: folded, emphasis gone, a tab after a label made a colon, collapsed."""
    folded = _EMPHASIS.sub("", fold(line))
    return collapse(_TAB_AFTER_LABEL.sub(r"\1: ", folded))


@dataclass(frozen=True)
class Labelled:
    label: str          # naam, geboortedatum, school, gemeente, kenmerk
    value: str
    relation: bool      # written as a relation word alone ("Broertje:", "Kind 2:"): may be a heading


def labelled(line: str) -> Labelled | None:
    """The label and value of a prepared line, if it is a labelled line."""
    if match := _LABEL_LINE.fullmatch(line):
        label = next(name for name in LABELS if match[name] is not None)
        relation = label == "naam" and re.fullmatch(_RELATION, match[label], re.IGNORECASE) is not None
        return Labelled(label, match["value"].strip(), relation)
    if match := _BORN_LINE.fullmatch(line):
        return Labelled("geboortedatum", match["value"].strip(), False)
    return None


def is_heading(line: str) -> bool:
    return _HEADING.fullmatch(line) is not None


def looks_like_data(line: str) -> bool:
    """A line in the data region that no field took, but that holds a date, a label word or a label shape."""
    return bool(DATE_TOKEN.search(line) or _LABEL_WORDS.search(line) or _LABEL_SHAPE.match(line))


def is_closing(line: str) -> bool:
    return _CLOSING.fullmatch(line) is not None


def says_correction(text: str) -> bool:
    return _CORRECTION.search(text) is not None


def has_child_label(lines: list[str]) -> bool:
    """Whether quoted or hidden material holds a child: any name or birth-date label in it."""
    return any((found := labelled(line)) is not None and found.label in ("naam", "geboortedatum")
               and not found.relation for line in lines)


@dataclass(frozen=True)
class Layout:
    """A signal's text split into the new text and what is set apart from it (quoted or forwarded)."""

    lines: list[str]        # prepared; quoted lines blanked, so numbers stay those of the text
    set_apart: list[str]    # prepared


def lay_out(text: str, set_apart: str = "") -> Layout:
    """Everything from the first quote marker on, and every `>` line, is set apart from the new text."""
    raw = lines_of(text)
    prepared = [prepare(line) for line in raw]
    cut = next((index for index in range(len(prepared)) if _starts_quote(prepared, index)), len(prepared))
    lines: list[str] = []
    apart = [prepare(line) for line in lines_of(set_apart)] if set_apart else []
    for index, line in enumerate(prepared):
        if index >= cut or _QUOTED_LINE.match(fold(raw[index])):
            apart.append(line.lstrip("> "))
            lines.append("")
        else:
            lines.append(line)
    return Layout(lines, apart)


def _starts_quote(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _QUOTE_START.fullmatch(line):
        return True
    if _HEADER_FROM.match(line):
        following = [later for later in lines[index + 1:index + 6] if later]
        return any(_HEADER_NEXT.match(later) for later in following[:4])
    return False
