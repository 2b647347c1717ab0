"""What an officer's reply to a held-signal alert asks: which held signal, and which school or none.

The officer writes above the quoted alert, as Thunderbird and Outlook (with GpgOL) do:

    School: 12AB00              the one child of the signal goes to this school
    Kind 2: School: 56EF00      child 2 of the alert's list goes there (the others are routed as usual)
    Verwijderen                 the held signal is discarded

Only the officer's own text counts: everything from the first quoted line on (">", "Op ... schreef",
"-----Oorspronkelijk bericht-----", an Outlook "Van:" block, the alert's own greeting) is the alert
they answer, and its example lines are never read as instructions. The reference is the one the
officer typed, or else the only one in the quoted alert; the mail's In-Reply-To is outside the
signature, so it can only agree, never decide. Pure: the service checks the codes against the rules.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .reasons import Reason

# Crockford's base32 without look-alikes: a reference an officer can read aloud and type.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE = re.compile(rf"\bHWC-[{REFERENCE_ALPHABET}]{{6}}\b", re.IGNORECASE)

_QUOTE_START = re.compile(
    r"^\s*(?:>"
    r"|(?:op|on)\s.*(?:schreef|wrote)"
    r"|-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht|doorgestuurd bericht)"
    r"|(?:van|from|verzonden|sent):\s"
    r"|_{5,}\s*$"
    r"|beste collega,"
    r"|.*<BRIN-code>)", re.IGNORECASE)
_SCHOOL = re.compile(r"^\s*(?:kind\s*(?P<child>\d{1,2})\s*[:.)-]?\s*)?school\s*[:=](?P<code>.*)$", re.IGNORECASE)
_DISCARD = re.compile(r"^\s*verwijderen\s*[.!]?\s*$", re.IGNORECASE)
_CODE = re.compile(r"^[0-9]{2}[A-Z]{2}(?:[0-9]{2})?$")


@dataclass(frozen=True)
class Instruction:
    """A reply read: the reference, and either a school code per child number (None: the only child) or discard."""

    reference: str
    schools: dict[int | None, str] = field(default_factory=dict)
    discard: bool = False


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    detail: str = ""
    reference: str = ""             # the held signal it was about, once known


def own_text(text: str) -> list[str]:
    """The officer's lines, above whatever they quote."""
    lines = []
    for line in text.splitlines():
        if _QUOTE_START.match(line):
            break
        lines.append(line)
    return lines


def references(text: str) -> list[str]:
    """The distinct references in `text`, upper case, in the order they first appear."""
    return list(dict.fromkeys(match.upper() for match in REFERENCE.findall(text)))


def read_reply(text: str, headers: Iterable[str] = ()) -> Instruction | Refusal:
    """The instruction in an authentic reply's text; `headers` are its In-Reply-To and References values."""
    own = own_text(text)
    typed = references("\n".join(own))
    quoted = references("\n".join(text.splitlines()[len(own):]))
    found = typed or quoted
    if len(found) != 1:
        return Refusal(Reason.REPLY_NO_REFERENCE, "meer dan één referentie" if found else "geen referentie")
    (reference,) = found
    if quoted and reference not in quoted:
        return Refusal(Reason.REPLY_NO_REFERENCE, f"{reference} staat niet in de melding die u citeert")
    answered = references(" ".join(headers))
    if answered and reference not in answered:
        return Refusal(Reason.REPLY_NO_REFERENCE, f"{reference} is niet de referentie van de melding waarop u "
                                                  f"antwoordt ({', '.join(answered)})")
    schools: dict[int | None, str] = {}
    discard = False
    for line in own:
        if _DISCARD.match(line):
            discard = True
        elif school := _SCHOOL.match(line):
            code = "".join(school["code"].split()).rstrip(".").upper()
            if not _CODE.match(code):      # what the officer wrote is not repeated: it may name the child
                return Refusal(Reason.REPLY_UNKNOWN_CODE, "wat achter School: staat is geen BRIN-code", reference)
            child = int(school["child"]) if school["child"] else None
            if schools.get(child, code) != code:
                return Refusal(Reason.REPLY_UNCLEAR_CHILD, "twee scholen voor hetzelfde kind", reference)
            schools[child] = code
    if discard == bool(schools):
        return Refusal(Reason.REPLY_NO_INSTRUCTION, "zowel Verwijderen als School:" if discard else "", reference)
    if None in schools and len(schools) > 1:
        return Refusal(Reason.REPLY_UNCLEAR_CHILD, "een School:-regel zonder kind naast regels met een kind",
                       reference)
    return Instruction(reference, schools, discard)


def by_child(instruction: Instruction, children: int) -> dict[int, str] | Refusal:
    """The officer's codes by child number (1-based), for a signal of `children` children."""
    if None in instruction.schools:
        if children != 1:
            return Refusal(Reason.REPLY_UNCLEAR_CHILD, f"het signaal noemt {children} kinderen; schrijf per kind "
                                                      "'Kind <nummer>: School: <code>'")
        return {1: instruction.schools[None]}
    numbered = {number: code for number, code in instruction.schools.items() if number is not None}
    if wrong := sorted(number for number in numbered if not 1 <= number <= children):
        return Refusal(Reason.REPLY_UNCLEAR_CHILD, f"het signaal noemt {children} kind(eren), geen kind {wrong[0]}")
    return numbered
