"""How people lay out a signal, line by line: labels, headings, quotes, closings, dates.

Veilig Thuis staff type signals by hand in Outlook or Thunderbird: labels come in
bold, in numbered or bulleted lists, with a relation word ("Naam broertje:"), with a
synonym ("Geboren:"), with a full-width colon or an invisible character inside. Every
line is folded once (`prepare`) and then read by the patterns here; the parser in
signal.py decides what the lines mean together.

The patterns that recognise data err on the side of seeing it: a line that merely
might hold a child holds the signal for a person, never the other way round.
"""

import re
import unicodedata
from dataclasses import dataclass

from .text import collapse, fold, lines_of

# Words for a child in a household; the sibling words point at one particular child.
_SIBLING = (r"(?:(?:half|stief|tweeling|pleeg)?(?:broer(?:tje)?|zus(?:je)?)|(?:pleeg)?(?:zoon|dochter)|"
            r"neef(?:je)?|nicht(?:je)?)")
_REL = rf"(?:{_SIBLING}|kind(?:je)?|leerling|jeugdige|minderjarige|pleegkind)"
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
_BULLETS = "-\u2022\u00b7\u2023\u25e6\u25aa\u25cf\u25cb\u25a0\u25a1\u27a2\u25ba+"
_MARKER = rf"(?:(?:[{_BULLETS}]|(?P<item>\d{{1,2}})[.)]|\((?P<item2>\d{{1,2}})\)|[a-z][.)])\s*)?"
_LABEL_LINE = re.compile(rf"{_MARKER}(?:{_ANY_LABEL})\s*:\s*(?P<value>.*)", re.IGNORECASE)
# "Geboren op 14 maart 2017": the one label people also write without a colon, before a date.
_BORN_LINE = re.compile(rf"{_MARKER}geboren(?:\s+op)?\s+(?P<value>\d.*)", re.IGNORECASE)
_TAB_AFTER_LABEL = re.compile(rf"^(\s*{_MARKER}(?:{_ANY_LABEL}))[ ]*\t+\s*", re.IGNORECASE)
# Markdown or Thunderbird emphasis at the edge of a word: "**Naam:**", "*Naam:*", "__Naam__:".
_EMPHASIS = re.compile(r"(?<!\w)[*_]+|[*_]+(?!\w)")
# Every dash people put between the parts of a date or a name, as the one hyphen.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"), "-")
# A line that only announces the next child: "Kind 2", "Tweede kind:", "Gegevens broertje".
_HEADING = re.compile(rf"{_MARKER}(?:gegevens\s+(?:van\s+(?:het\s+)?)?)?{_RELATION}\s*:?", re.IGNORECASE)
_SIBLING_WORD = re.compile(rf"\b{_SIBLING}\b", re.IGNORECASE)
_ORDINAL_WORD = re.compile(rf"\b{_ORD}\b", re.IGNORECASE)

# Words that mark a line as data in the data region, and the bare "label:" shape.
_LABEL_WORDS = re.compile(rf"\b(?:naam|geboren|geboortedatum|geb|\w*school|brin|gemeente|woonplaats|kenmerk|"
                          rf"kind(?:je|eren)?|{_SIBLING}|leerling(?:en)?)\b", re.IGNORECASE)
_FIELD_WORDS = re.compile(r"\b(?:naam|geboren|geboortedatum|geb|\w*school|brin|gemeente|woongemeente)\b",
                          re.IGNORECASE)
_LABEL_SHAPE = re.compile(rf"{_MARKER}[^\W\d][\w .()'/-]{{0,40}}:(?:\s|$)")

_MONTH_WORDS = (r"(?:januari|jan|februari|feb|maart|mrt|maa|april|apr|mei|juni|jun|juli|jul|augustus|aug|"
                r"september|sept|sep|oktober|okt|november|nov|december|dec)")
# A date as the parser accepts it in a date-of-birth field (see signal.parse_dutch_date)...
DATE_TOKEN = re.compile(rf"(?<!\d)\d{{1,2}}\s*([-/.])\s*\d{{1,2}}\s*\1\s*\d{{2,4}}(?!\d)|(?<!\d)\d{{4}}-\d{{1,2}}-"
                        rf"\d{{1,2}}(?!\d)|(?<!\d)\d{{1,2}}\.?\s+{_MONTH_WORDS}\.?\s+\d{{2,4}}(?!\d)", re.IGNORECASE)
# ...and anything a person might have meant as a date: what the accounting counts.
DATE_LIKE = re.compile(rf"(?<!\d)\d{{1,2}}\s*[-/. ]\s*\d{{1,2}}\s*[-/. ]\s*\d{{2,4}}(?!\d)"
                       rf"|(?<!\d)\d{{4}}\s*[-/.]\s*\d{{1,2}}\s*[-/.]\s*\d{{1,2}}(?!\d)"
                       rf"|(?<!\d)\d{{1,2}}[\s.-]*{_MONTH_WORDS}\.?[\s.-]*\d{{2,4}}(?!\d)|(?<!\d)\d{{8}}(?!\d)",
                       re.IGNORECASE)
_MANY_DIGITS = re.compile(r"(?:\d\D*){4}")
# Two capitalised words in a row ("Piet Testkind"), a name; particles such as "van 't" may stand between.
_WORD = r"[^\W\d_][^\W\d_'-]*(?:[-'][^\W\d_]+)*"
_PARTICLES = r"(?:van|de|der|den|het|'t|ter|ten|te|la|le|du|da|di|el|al|op|in|v\.?d\.?)"
_NAME_LIKE = re.compile(rf"(?=\b({_WORD})\s+(?:{_PARTICLES}\s+)*({_WORD}))")
_SIBLING_NAMED = re.compile(rf"\b{_SIBLING}\s+({_WORD})", re.IGNORECASE)

# Where the message being answered or forwarded begins.
_QUOTE_START = re.compile(
    r"-{2,}\s*(?:oorspronkelijk\s+bericht|original\s+message|doorgestuurd\s+bericht|forwarded\s+message|"
    r"begin\s+doorgestuurd\s+bericht|begin\s+forwarded\s+message|urspr\w*\s+nachricht|message\s+d'origine)\s*-*:?"
    r"|(?:begin\s+doorgestuurd\s+bericht|begin\s+forwarded\s+message)\s*:"
    r"|op\s.{4,200}\s(?:schreef|heeft\s.{1,80}\sgeschreven)\b.{0,80}:"
    r"|on\s.{4,200}\swrote\s*:"
    r"|>{3}.*>{3}", re.IGNORECASE)
_HEADER_FROM = re.compile(r"(?:van|from)\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"(?:verzonden|sent|datum|date|aan|to|onderwerp|subject|cc)\s*:", re.IGNORECASE)
_QUOTED_LINE = re.compile(r"\s*>")
# Where the signature begins: a closing greeting, a signature delimiter, or a legal footer.
_CLOSING = re.compile(
    r"(?:met\s+)?(?:(?:vriendelijke|hartelijke|collegiale|beste|warme|vr\.?|hartel\.?)\s+)?"
    r"(?:groet(?:en|jes)?|gr\.?)\b.*"
    r"|m\.?\s*v\.?\s*(?:r\.?\s*)?g\.?\b.*|met\s+vr\.?\s*gr\.?.*|vr\.?\s*gr\.?.*|hoogachtend\b.*"
    r"|(?:with\s+)?(?:kind|best|warm)\s+regards\b.*|regards\b.*|best,?|bedankt\s+en\s+groet.*"
    r"|--\s*|_{5,}|-{5,}", re.IGNORECASE)
_DISCLAIMER = re.compile(r"\b(?:dit|deze)\s+(?:e-?mail|bericht|mail)\w*\b.*\b(?:uitsluitend|bestemd|geadresseerde|"
                         r"vertrouwelijk|verwijder\w*|rechten|aansprakelijk)", re.IGNORECASE)
_POSTSCRIPT = re.compile(r"p\.?\s*s\.?(?::|\s|$)", re.IGNORECASE)
_CORRECTION = re.compile(
    r"\b(?:correctie|corrigeer\w*|gecorrigeerd|rectificatie|herstelbericht|vervalt|komt\s+te\s+vervallen|"
    r"vervang\w*|intrek\w*|ingetrokken|trekken\s+(?:\w+\s+){0,3}in\b|onjuist|niet\s+juist|niet\s+correct|"
    r"klopt(?:e)?\s+niet|vergissing|abusievelijk|per\s+abuis|ten\s+onrechte|onterecht|negeer\w*|negere\w*|genegeerd|"
    r"wijziging\w*|gewijzigd|aanvulling\w*|aangevuld|herzien\w*|aangepaste\s+versie|foutie\w*|een\s+fout|"
    r"vernietig\w*|annule\w*|geannuleerd|nogmaals|verkeerde\s+(?:school|leerling|kind|persoon|adres)|"
    r"disregard|please\s+ignore|"
    r"(?:eerder|vorig)\w*\s+(?:\w+\s+){0,2}(?:signaal|melding|bericht|e-?mail|mail))", re.IGNORECASE)


def _without_marks_in_numbers(text: str) -> str:
    """A combining mark after a digit is no part of a date: "1\u03012" reads as "12"."""
    if not any(unicodedata.category(character) == "Mn" for character in text):
        return text
    kept: list[str] = []
    for character in text:
        if unicodedata.category(character) == "Mn" and kept and kept[-1].isdigit():
            continue
        kept.append(character)
    return "".join(kept)


def prepare(line: str) -> str:
    """One line as the patterns read it: folded, dashes one hyphen, emphasis gone, a tab after a label made a
    colon, collapsed."""
    if not line or line.isspace():
        return ""
    folded = _EMPHASIS.sub("", _without_marks_in_numbers(fold(line)).translate(_DASHES))
    if tabbed := _TAB_AFTER_LABEL.match(folded):
        folded = f"{tabbed[1]}: {folded[tabbed.end():]}"
    return collapse(folded)


@dataclass(frozen=True)
class Labelled:
    label: str             # naam, geboortedatum, school, gemeente, kenmerk
    value: str
    relation: bool         # written as a relation word alone ("Broertje:", "Kind 2:"): may be a heading
    sibling: str | None    # a sibling word in the label ("Naam zusje", "School broertje"), folded
    ordinal: str | None    # a number in the label ("Naam (2)", "Geboortedatum kind 2")
    item: str | None       # the number of the list item the line opens ("2. School:")


def labelled(line: str) -> Labelled | None:
    """The label and value of a prepared line, if it is a labelled line."""
    if match := _LABEL_LINE.fullmatch(line):
        label = next(name for name in LABELS if match[name] is not None)
        written = match[label]
        relation = label == "naam" and re.fullmatch(_RELATION, written, re.IGNORECASE) is not None
        sibling = _SIBLING_WORD.search(written)
        ordinal = _ORDINAL_WORD.search(written)
        return Labelled(label, match["value"].strip(), relation,
                        _sibling_stem(sibling[0]) if sibling else None,
                        ordinal[0].casefold() if ordinal else None, match["item"] or match["item2"])
    if match := _BORN_LINE.fullmatch(line):
        return Labelled("geboortedatum", match["value"].strip(), False, None, None, match["item"] or match["item2"])
    return None


def _sibling_stem(word: str) -> str:
    """broertje and broer, zusje and zus are the same child."""
    return re.sub(r"(?:tje|je)$", "", word.casefold())


def is_heading(line: str) -> bool:
    return _HEADING.fullmatch(line) is not None


def looks_like_data(line: str) -> bool:
    """A line in the data region that no field took, but that may hold a child: a date, four digits, a label
    word, a label shape, or a name."""
    return bool(DATE_LIKE.search(line) or _MANY_DIGITS.search(line) or _LABEL_WORDS.search(line)
                or _LABEL_SHAPE.match(line) or names_someone(line))


def names_someone(line: str) -> bool:
    """Two capitalised words in a row, or a sibling word before a capitalised one: a person's name, most likely."""
    if any(match[1][0].isupper() and match[2][0].isupper() for match in _NAME_LIKE.finditer(line)):
        return True
    return any(match[1][0].isupper() for match in _SIBLING_NAMED.finditer(line))


def may_hold_a_child(line: str) -> bool:
    """Outside the data region (but not in the signature): a sibling written in a sentence, a field label that
    was not read, or a relation word with a date or a name."""
    if _LABEL_SHAPE.match(line) and _FIELD_WORDS.search(line.split(":", 1)[0]):
        return True
    if _SIBLING_WORD.search(line):
        return bool(DATE_LIKE.search(line) or _MANY_DIGITS.search(line) or names_someone(line))
    return False


def is_closing(line: str) -> bool:
    return _CLOSING.fullmatch(line) is not None or _DISCLAIMER.search(line) is not None


def is_postscript(line: str) -> bool:
    return _POSTSCRIPT.match(line) is not None


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
    first_text = next((index for index, line in enumerate(prepared)
                       if line and not _HEADER_FROM.match(line) and not _HEADER_NEXT.match(line)), len(prepared))
    cut = next((index for index in range(len(prepared)) if _starts_quote(prepared, index, first_text)),
               len(prepared))
    lines: list[str] = []
    apart = [prepare(line) for line in lines_of(set_apart)] if set_apart else []
    for index, line in enumerate(prepared):
        if index >= cut or _QUOTED_LINE.match(fold(raw[index])):
            apart.append(line.lstrip("> "))
            lines.append("")
        else:
            lines.append(line)
    return Layout(lines, apart)


def _starts_quote(lines: list[str], index: int, first_text: int) -> bool:
    """A quote marker line, or a Van:/From: header block below some new text (a memo header on top is none)."""
    line = lines[index]
    if _QUOTE_START.fullmatch(line):
        return True
    if index > first_text and _HEADER_FROM.match(line):
        following = [later for later in lines[index + 1:index + 6] if later]
        return any(_HEADER_NEXT.match(later) for later in following[:4])
    return False
