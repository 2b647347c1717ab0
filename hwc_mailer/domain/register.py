"""The education-register lookup, pure: how a pupil's names are written into the index and
how a signal's name is looked up in it.

The Leerplicht officer finds a child's school in the municipality's leerplicht
administration by name and date of birth. The daemon does the same against a
pseudonymised index: keyed hashes of the normalised name variants plus the date of
birth, each pointing at a school code. Index and signal use the one normalisation
here, so "Tim van ’t Testkind" in a signal meets "van 't" in the export, and a name
written without its diacritics (police and Veilig Thuis systems do not always keep
them) meets the same child.
"""

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from .text import fold

_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u2018\u02bc\u00b4`\u2032"), "'")
_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_NOT_NAME = re.compile(r"[^\w' -]+")
# The acute accent people type as an apostrophe ("van ´t") comes out of NFKC (`fold`, and so the signal parser) as a
# space and a combining acute, which no letter precedes: that is the apostrophe too.
_SPACING_ACUTE = re.compile(r"(?<!\S)\u0301")
ENTRY_VERSION = b"hwc-register-v1"
# The school of a pupil the export lists without a usable school code (a school abroad, an exemption).
NO_SCHOOL = "-"


def register_name(value: str) -> str:
    """Folded, case-free, one kind of apostrophe and hyphen, other punctuation as space, spaces collapsed."""
    text = _SPACING_ACUTE.sub("'", fold(value)).translate(_APOSTROPHES).translate(_HYPHENS).casefold()
    # A mark that no letter absorbed ("İ" casefolds to "i" and a combining dot) is no separator.
    text = "".join(character for character in text if unicodedata.category(character) != "Mn")
    return " ".join(_NOT_NAME.sub(" ", text).split())


def without_diacritics(value: str) -> str:
    decomposed = unicodedata.normalize("NFD", value)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))


def _with_folded(names: set[str]) -> frozenset[str]:
    return frozenset(name for written in names for name in (written, without_diacritics(written)) if name)


@dataclass(frozen=True)
class Pupil:
    """One row of the leerplicht administration's export. Names and date stay out of the repr."""

    given_names: str = field(repr=False)
    prefix: str = field(repr=False)
    surname: str = field(repr=False)
    call_name: str = field(repr=False)
    birth_date: date = field(repr=False)
    school: str                                  # BRIN plus location ("12AB00"), or a bare BRIN


def indexed_names(pupil: Pupil) -> frozenset[str]:
    """All given names, the first given name and the call name, each with prefix and surname; each also
    without diacritics."""
    tail = [part for part in (register_name(pupil.prefix), register_name(pupil.surname)) if part]
    given = register_name(pupil.given_names).split()
    firsts = [" ".join(given), given[0] if given else "", register_name(pupil.call_name)]
    return _with_folded({" ".join([first, *tail]) for first in firsts if first})


def written_names(name: str) -> frozenset[str]:
    """The forms a signal's name is looked up in: as written and without diacritics."""
    return _with_folded({register_name(name)})


def entry_key(secret: bytes, name: str, birth_date: date) -> str:
    """What the index stores instead of a name: without `secret` it answers nothing."""
    message = b"\0".join((ENTRY_VERSION, name.encode(), birth_date.isoformat().encode()))
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class Register(Protocol):
    """Where a child's school is found by name and date of birth: the embedded pseudonymised index, or later a
    live lookup against the municipality's own leerplicht system."""

    def schools_of(self, name: str, birth_date: date) -> frozenset[str]: ...
