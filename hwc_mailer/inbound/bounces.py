"""A delivery report about a mail: what a school's server says when it could not deliver our notice.

Read before authentication, because a report comes from a mail server, not from Veilig Thuis, and may carry the
encrypted original (which would make it look like a forged signal). This module only reads what the report
names; whether a named Message-ID is one we sent is the pipeline's question (its store keeps keyed hashes of
them), so a report anyone could write is acted on only when it names a mail that is provably ours.

Both forms are read: a DSN (RFC 3464: multipart/report with a message/delivery-status part and the returned
headers or message) and a classic bounce from MAILER-DAEMON or postmaster with the original quoted as text.
Everything is bounded like the rest of intake: the header caps first, then the bounded parser.
"""

import re
from dataclasses import dataclass
from email.message import Message

from ..domain.text import well_formed_message_id
from ..settings.config import Limits
from .mime import PARSER_ERRORS, addresses_in, from_fields, header_fits, leaves, read_message

_DAEMONS = frozenset({"mailer-daemon", "postmaster"})
_MESSAGE_ID_LINE = re.compile(r"^message-id:[ \t]*(<[^<>\s]{1,250}>)", re.IGNORECASE | re.MULTILINE)
_RECIPIENT = re.compile(r"^(?:rfc822;)?\s*<?([^<>\s;]+@[^<>\s;]+)>?\s*$", re.IGNORECASE)
_STATUS = re.compile(r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}$")
# Text read from one part when looking for the returned Message-ID: a classic bounce quotes headers first.
_TEXT_BYTES = 64 * 1024
# A report names the one mail it returns; a few more cover a digest of reports. More is a hostile mail.
MAX_IDS = 16


@dataclass(frozen=True)
class Bounce:
    message_ids: tuple[str, ...]     # the well-formed Message-IDs the report names (of the mail it returns)
    recipients: tuple[str, ...]      # Final-Recipient / Original-Recipient addresses, lower case: for the log only,
                                     # since anyone can write them (the school comes from our own record)
    status: str                      # the first permanent DSN Status such as 5.1.1, or "" (a classic bounce)


def bounce_of(raw: bytes, limits: Limits) -> Bounce | None:
    """The report in `raw`, or None when it is no delivery report (or cannot be read as one)."""
    if not header_fits(raw, limits):
        return None
    senders = {address.split("@", 1)[0].lower() for address in addresses_in(from_fields(raw))}
    try:
        message = read_message(raw, limits)
        if message.get_content_type() != "multipart/report" and not senders & _DAEMONS:
            return None
        ids: list[str] = []
        recipients: list[str] = []
        statuses: list[str] = []
        for part in message.walk():
            if part is not message:
                ids += _header_ids(part)
                recipients += _recipients(part)
                if _STATUS.match(status := str(part.get("Status", "")).strip()):
                    statuses.append(status)
        for _, payload in leaves(message):
            ids += _MESSAGE_ID_LINE.findall(payload[:_TEXT_BYTES].decode("latin-1"))
    except PARSER_ERRORS:
        return None
    found = tuple(dict.fromkeys(mid for mid in ids if well_formed_message_id(mid)))[:MAX_IDS]
    if not found or (statuses and not any(status.startswith("5.") for status in statuses)):
        return None     # names nothing, or reports a delay or a success: not a mail that did not arrive
    return Bounce(found, tuple(dict.fromkeys(recipients)), next((status for status in statuses
                                                                if status.startswith("5.")), ""))


def _header_ids(part: Message) -> list[str]:
    """The Message-ID of a returned message (message/rfc822), read as its header says it."""
    value = part.get("Message-ID")
    return [str(value).strip()] if value is not None else []


def _recipients(part: Message) -> list[str]:
    """The recipients a per-recipient block of a delivery-status part names."""
    found = []
    for field in ("Final-Recipient", "Original-Recipient"):
        value = part.get(field)
        if value is not None and (matched := _RECIPIENT.match(str(value).strip())):
            found.append(matched.group(1).lower())
    return found
