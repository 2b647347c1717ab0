"""One message, one outcome: the values every step returns and the journal and counters record.

    Delivered   every school accepted its mail: the source is purged
    Held        a person must look: moved to the manual or quarantine folder, an officer told
    NotOurs     someone else's mail in a shared mailbox: left alone
    Bounced     a report that a school's server returned one of our mails: purged, an officer told
    Replied     an officer's reply about a held signal: carried out or refused, and that officer told

Strings appear only at the boundary (journal, counters, logs): `outcome_code` turns an
outcome into one, `parse_outcome_code` turns one back into what a resume needs.
"""

from dataclasses import dataclass

from .reasons import Disposition, Reason


@dataclass(frozen=True)
class Delivered:
    schools: tuple[str, ...]
    children: int

    disposition = Disposition.DELIVERED
    reason = None

    @property
    def code(self) -> str:
        return outcome_code(self.disposition, self.reason)


class _ByReason:
    """Held and Replied: the reason alone decides where the message goes and how it is counted."""

    reason: Reason

    @property
    def disposition(self) -> Disposition:
        assert self.reason.disposition is not None
        return self.reason.disposition

    @property
    def code(self) -> str:
        return outcome_code(self.disposition, self.reason)


@dataclass(frozen=True)
class Held(_ByReason):
    """A person must finish this message; `detail` is for the officer and never holds personal data."""

    reason: Reason
    detail: str = ""
    child: int | None = None        # 1-based position of the child the reason is about, if any

    def __post_init__(self) -> None:
        if self.reason.disposition is None:
            raise ValueError(f"{self.reason.value} is a notice about a key, not a reason to hold a message")
        if self.child is not None and self.child < 1:
            raise ValueError("child is 1-based")


@dataclass(frozen=True)
class NotOurs:
    """Not from a trusted address and not signal-like: someone else's mail in a shared mailbox."""

    disposition = Disposition.NOT_OURS
    reason = None

    @property
    def code(self) -> str:
        return outcome_code(self.disposition, self.reason)


@dataclass(frozen=True)
class Bounced:
    """A school's server returned one of our mails: the school has not got it, and an officer must see to it."""

    schools: tuple[str, ...]        # school codes of the returned mail's recipients, when the rules know them
    status: str = ""                # the report's status, such as 5.1.1

    disposition = Disposition.BOUNCED
    reason = None

    @property
    def code(self) -> str:
        return outcome_code(self.disposition, self.reason)


@dataclass(frozen=True)
class Replied(_ByReason):
    """An officer's reply about a held signal: sent to the schools, discarded, or refused and why.

    A refused reply that is not provably the officer's own goes to quarantine, any other reply is purged. `detail`
    is for the officers and never holds personal data.
    """

    officer: str                    # the officer's address as the rules list it: who is answered
    reason: Reason                  # REPLY_SENT, REPLY_DISCARDED or why not
    reference: str = ""             # the held signal's HWC-...
    detail: str = ""
    schools: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.reason.disposition not in (Disposition.REPLY, Disposition.QUARANTINED):
            raise ValueError(f"{self.reason.value} is not an answer to a reply")

    @property
    def done(self) -> bool:
        """The held signal is finished: sent or discarded."""
        return self.reason in (Reason.REPLY_SENT, Reason.REPLY_DISCARDED)


Outcome = Delivered | Held | NotOurs | Bounced | Replied


def outcome_code(disposition: Disposition, reason: Reason | None) -> str:
    """"delivered", "not-ours", "bounced", "manual:<reason>", "quarantined:<reason>" or "reply:<reason>"."""
    return disposition.value if reason is None else f"{disposition.value}:{reason.value}"


def parse_outcome_code(code: str) -> tuple[Disposition, Reason | None]:
    """The inverse of `outcome_code`; ValueError for a code this version does not know."""
    disposition, _, reason = code.partition(":")
    return Disposition(disposition), Reason(reason) if reason else None
