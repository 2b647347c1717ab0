"""An officer finishes a held signal by replying to its alert: the second inbound route, beside signals.

    route      before decryption, by the From address: an officer's, on a mail that is encrypted or names a
               reference (`replying_officer`); an officer's other mail stays theirs
    trust      the reply is authenticated as strictly as a signal, with the officer as its one sender and
               the officer's key from the rules (in the outbound keyring, where the daemon certified it);
               anything less is refused to that officer and set aside in quarantine, never a forgery alarm
    read       the reference and `School:` lines or `Verwijderen` (domain.replies), the codes the rules know
    re-read    the held message, found in its folder by the Message-ID and size the journal recorded,
               authenticated again as of its first receipt (its signature's age then) and never refused as a
               replay of itself; routed with the officer's schools for the children they name

The pipeline carries a `Finish` out like a routed signal (one journal, the same deliveries), marks the
placement finished, answers the officer, purges the reply, then the held message and its Trash copy; a crash
in between leaves the placement marked, and the clock's chores purge it.
"""

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from ..domain.outcomes import Held, NotOurs, Replied
from ..domain.reasons import Reason
from ..domain.replies import Instruction, Refusal, by_child, read_reply
from ..domain.routing import Routed
from ..edges.protocols import Certificates, Keyring, Placed
from ..inbound.authenticate import Authentic, OfficerSender, authenticate, authenticate_smime
from ..inbound.mime import PARSER_ERRORS, read_message
from ..settings.config import Settings
from ..settings.rules import Officer, Profile, Rules, School
from .alerts import Alert


@dataclass(frozen=True)
class Finish:
    """An officer's reply to carry out: the held message it names, and its routing with the officer's schools (or
    why it is still held), or None when they asked to discard it."""

    officer: Officer
    held: Placed
    routed: Routed[School] | Held | None


@dataclass(frozen=True)
class Answer:
    """An authentic reply read: the instruction, and the digest of what was signed (the replay guard's input)."""

    instruction: Instruction
    digest: str


def read_answer(raw: bytes, officer: Officer, settings: Settings, keyring: Keyring, certificates: Certificates | None,
                now: datetime) -> Answer | Replied:
    """The officer's instruction from a reply that is provably theirs (PGP, or S/MIME for an officer whose profile
    is smime), or the refusal to send them."""
    if officer.key is None or (officer.profile is Profile.smime and certificates is None):
        return Replied(officer.email, Reason.REPLY_NO_KEY)
    if certificates is not None and officer.profile is Profile.smime:
        authentic: Authentic | NotOurs | Held = authenticate_smime(
            raw, officer, certificates, limits=settings.limits, trust=settings.trust, office=settings.sender.address,
            now=now)
    else:
        authentic = authenticate(raw, OfficerSender(officer), keyring, limits=settings.limits, trust=settings.trust,
                                 office=settings.sender.address, now=now, inline_entities=False)
    if isinstance(authentic, Authentic):
        read = read_reply(authentic.readable.text, _answered(raw, settings))
        if isinstance(read, Instruction):
            return Answer(read, authentic.digest)
        return Replied(officer.email, read.reason, read.reference, read.detail)
    why = authentic.reason.explanation if isinstance(authentic, Held) else ""
    return Replied(officer.email, Reason.REPLY_UNAUTHENTIC, detail=why)


def _answered(raw: bytes, settings: Settings) -> list[str]:
    """The reply's In-Reply-To and References: which alert the officer's mail client says it answers."""
    try:
        message: EmailMessage = read_message(raw, settings.limits)
        return [str(value) for name in ("In-Reply-To", "References") for value in message.get_all(name, [])]
    except PARSER_ERRORS:
        return []


def officer_schools(instruction: Instruction, children: int, rules: Rules) -> dict[int, School] | Refusal:
    """The schools of the rules the officer named, by child number."""
    codes = by_child(instruction, children)
    if isinstance(codes, Refusal):
        return codes
    schools = {}
    for number, code in codes.items():
        school = rules.school_by_code(code)
        if school is None:
            return Refusal(Reason.REPLY_UNKNOWN_CODE, f"{code} staat niet in de regels")
        schools[number] = school
    return schools


def answer_alert(outcome: Replied, source: str, officer_name: str) -> Alert | None:
    """A finished signal is told to every officer (no one acts twice); a refusal only to the officer who replied; a
    repeat of a reply already carried out, to no one."""
    if outcome.reason is Reason.REPLY_REPEATED:
        return None
    if outcome.done:
        done = (f"verstuurd aan school {', '.join(outcome.schools)}" if outcome.reason is Reason.REPLY_SENT
                else "verwijderd")
        return Alert(f"{outcome.code}:{source}", outcome.reason, detail=f"door {officer_name}, {done}",
                     reference=outcome.reference)
    return Alert(f"{outcome.code}:{source}", outcome.reason, detail=outcome.detail, reference=outcome.reference,
                 recipient=outcome.officer)
