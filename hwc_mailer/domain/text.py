"""Text normalisations that must agree everywhere: said once, here.

Intake, the parser and the rules all decide things by comparing text that people
typed. Two spellings of the same thing compare equal only if every place folds them
the same way, so each normalisation lives in exactly one function.
"""

import re

# Invisible characters Word and Outlook leave behind; they would break label matching.
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))

# Hyphens people and mail clients put between the words: ASCII, Unicode hyphens and dashes.
_JOINER = r"[\s\-\u2010-\u2015\u2212]*"
HANDLE_WITH_CARE = re.compile(rf"handle{_JOINER}with{_JOINER}care", re.IGNORECASE)

SCHOOL_CODE = re.compile(r"^[0-9]{2}[A-Z]{2}([0-9]{2})?$")


def mentions_handle_with_care(text: str) -> bool:
    """The code words, however they are spaced or hyphenated ("Handle-with-Care", "handlewithcare")."""
    return HANDLE_WITH_CARE.search(text.translate(INVISIBLE)) is not None


def collapse(value: str) -> str:
    """Trim, collapse all whitespace (non-breaking spaces included) and drop invisibles."""
    return " ".join(value.translate(INVISIBLE).split())


def normalise_code(value: str) -> str:
    """A BRIN code as written ("12 ab 00") in the one form the rules use ("12AB00")."""
    return re.sub(r"\s+", "", value).upper()


def normalise_name(value: str) -> str:
    """Case and spacing never distinguish two schools."""
    return collapse(value).casefold()


def normalise_address(value: str) -> str:
    return value.strip().lower()
