"""Text normalisations that must agree everywhere: said once, here.

Intake, the parser and the rules all decide things by comparing text that people
typed. Two spellings of the same thing compare equal only if every place folds them
the same way, so each normalisation lives in exactly one function.
"""

import re
import unicodedata

_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")

# Hyphens people and mail clients put between the words: ASCII, Unicode hyphens and dashes.
_JOINER = r"[\s\-\u2010-\u2015\u2212]*"
HANDLE_WITH_CARE = re.compile(rf"handle{_JOINER}with{_JOINER}care", re.IGNORECASE)

SCHOOL_CODE = re.compile(r"^[0-9]{2}[A-Z]{2}([0-9]{2})?$")


def mentions_handle_with_care(text: str) -> bool:
    """The code words, however they are spaced or hyphenated ("Handle-with-Care", "handlewithcare")."""
    return HANDLE_WITH_CARE.search(fold(text)) is not None


def has_format_characters(value: str) -> bool:
    """Zero-width spaces, joiners, direction marks, soft hyphens: characters no reader sees."""
    return any(unicodedata.category(character) == "Cf" for character in value)


def fold(value: str) -> str:
    """What a person reads: compatibility forms folded (full-width colon, ligatures, non-breaking
    spaces), format characters dropped. Every comparison of typed text starts here."""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(character for character in folded if unicodedata.category(character) != "Cf")


def lines_of(text: str) -> list[str]:
    """The lines a mail client shows: every Unicode line break splits, as `str.splitlines` does, said once
    so that line numbers agree wherever they are counted."""
    return _LINE_BREAK.split(text)


def collapse(value: str) -> str:
    """Folded, trimmed, all whitespace (non-breaking spaces included) collapsed to single spaces."""
    return " ".join(fold(value).split())


def normalise_code(value: str) -> str:
    """A BRIN code as written ("12 ab 00") in the one form the rules use ("12AB00")."""
    return re.sub(r"\s+", "", value).upper()


def normalise_name(value: str) -> str:
    """Case, spacing, compatibility forms and invisible characters never distinguish two names."""
    return collapse(value).casefold()


def normalise_address(value: str) -> str:
    return value.strip().lower()


# A Message-ID looked up or deleted by at all: "<left@right>" in printable ASCII, no spaces, brackets, quotes or
# second "@", and none of IMAP's atom specials ("%", "*", "{", "}"), so it travels as a plain atom. An empty "<>",
# a bare id, one with spaces or a truncated "<A" would make the substring SEARCH a net for other people's mail.
_ID_TEXT = r"[A-Za-z0-9!#$&'+/=?^_`|~.-]+"
_WELL_FORMED_MESSAGE_ID = re.compile(rf"<{_ID_TEXT}@{_ID_TEXT}>")
MAX_MESSAGE_ID = 250


def well_formed_message_id(value: str) -> bool:
    return len(value) <= MAX_MESSAGE_ID and _WELL_FORMED_MESSAGE_ID.fullmatch(value) is not None
