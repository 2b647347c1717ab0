"""From raw mail to the signed plaintext of a signal, or the reason there is none.

Order matters, as in Schleuder's runner. Before decryption: decide from the
From header whether the mail claims to be ours at all, then insist on exactly
one encrypted payload in exactly the shape RFC 3156 (or one inline armored
block) prescribes, with nothing in clear beside it. Decrypt and verify. After
decryption: the key that signed must be the key of the sender the From address
names, the signature must be recent, the content must fit the plaintext cap,
must be addressed to this office when it names its recipient, and must not
smuggle in another PGP message. Only that decrypted, signed content is ever parsed.
"""

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.errors import MessageError
from email.message import EmailMessage, Message
from email.policy import default as email_policy
from typing import Protocol

from ..domain.outcomes import Held, NotOurs
from ..domain.reasons import Reason
from ..domain.replies import REFERENCE
from ..edges.protocols import Certificates, Keyring, Verified
from ..settings.config import Limits, Trust
from ..settings.rules import Officer, Rules, TrustedSender
from .mime import (
    PARSED_FIELD_BYTES,
    PARSER_ERRORS,
    Readable,
    addresses_in,
    ciphertext,
    from_fields,
    header_fits,
    holds_armor,
    holds_pgp,
    looks_like_signal,
    mime_shape,
    outer_subject,
    read_message,
    readable_text,
    reason_of,
    utf8_text,
)


@dataclass(frozen=True)
class Authentic:
    readable: Readable
    sender: TrustedSender | Officer
    signer: str
    signed_at: datetime
    digest: str          # of signer, signature time and content: the replay guard's input, kept in memory only


class Senders(Protocol):
    """Who may sign what this mail claims to be: Veilig Thuis for signals (the rules), one officer for a reply."""

    def sender_for_address(self, address: str) -> TrustedSender | None: ...


@dataclass(frozen=True)
class OfficerSender:
    """An officer as the one sender of their own replies: their address, signed with their key from the rules."""

    officer: Officer

    def sender_for_address(self, address: str) -> TrustedSender | None:
        if address.lower() != self.officer.email.lower() or self.officer.fingerprint is None:
            return None
        return TrustedSender(name=self.officer.name, addresses=(self.officer.email,),
                             fingerprints=(self.officer.fingerprint,))


def names_trusted(values: list[str], rules: Senders) -> bool:
    """Any trusted address anywhere in these raw From values, display names and comments included (fail closed)."""
    return any(rules.sender_for_address(address) is not None for address in addresses_in(values))


def unreadable(raw: bytes, rules: Senders, reason: Reason) -> NotOurs | Held:
    """A message whose header is over a cap or chokes the parser: held when its raw From names a trusted sender,
    anyone else's left alone (a newsletter with many images is someone's ordinary mail)."""
    if names_trusted(from_fields(raw), rules):
        return Held(reason)
    return NotOurs()


def claimed_sender(message: EmailMessage, rules: Senders) -> TrustedSender | NotOurs | Held:
    """The trusted sender the From header names; several From addresses with any trusted one are refused.

    Several From fields are judged on their raw values, so no more than one is ever parsed; a From the parser
    chokes on is held only when its raw value names a trusted address.
    """
    values = [str(value) for name, value in message.raw_items() if name.lower() == "from"]
    if len(values) > 1:
        return Held(Reason.MULTIPLE_FROM) if names_trusted(values, rules) else NotOurs()
    try:
        headers = message.get_all("From", [])
        addresses = [address.addr_spec for header in headers for address in header.addresses]
    except PARSER_ERRORS:
        return Held(Reason.MALFORMED_FROM) if names_trusted(values, rules) else NotOurs()
    trusted = [sender for sender in map(rules.sender_for_address, addresses) if sender is not None]
    if not trusted:
        return NotOurs()
    if len(addresses) != 1 or len(headers) != 1:
        return Held(Reason.MULTIPLE_FROM)
    return trusted[0]


def signature_age(signed_at: datetime, now: datetime, trust: Trust) -> Reason | None:
    if signed_at > now + timedelta(minutes=trust.max_clock_skew_minutes):
        return Reason.SIGNATURE_IN_FUTURE
    if signed_at < now - timedelta(days=trust.max_signature_age_days):
        return Reason.SIGNATURE_TOO_OLD
    return None


def signed_for_someone_else(entity: Message, office: str, trust: Trust, limits: Limits) -> bool:
    """Whether the signed entity's own To: names anyone but this office, or names no one readably.

    Thunderbird copies From, To and Cc into the encrypted part as protected headers, so a signal signed for
    another office and re-encrypted to us still names that office. An entity without To: names no one and
    passes: GpgOL and inline PGP carry none, and gpg 2.2 neither writes nor reports an intended-recipient
    subpacket, so the signature itself never says whom it was meant for. This office is `office`
    (sender.address) and trust.recipient_aliases, compared without regard to case.
    """
    ours = {address.lower() for address in (office, *trust.recipient_aliases)}
    for name, value in entity.raw_items():
        if name.lower() != "to":
            continue
        if len(value) > PARSED_FIELD_BYTES:
            return True
        try:
            addresses = [address.addr_spec.lower() for address in email_policy.header_fetch_parse(name, value)
                         .addresses]
        except (AttributeError, ValueError, IndexError, TypeError, RecursionError, MessageError):
            return True
        if not addresses or not set(addresses) <= ours:
            return True
    return False


def authenticate(raw: bytes, rules: Senders, keyring: Keyring, *, limits: Limits, trust: Trust, office: str,
                 now: datetime, inline_entities: bool = True) -> Authentic | NotOurs | Held:
    """`inline_entities`: inline armor around what looks like a MIME entity is read as one (a signal's); an
    officer's reply typed as "School: 12AB00" above a blank line must stay text."""
    if not header_fits(raw, limits):
        return unreadable(raw, rules, Reason.MALFORMED_HEADER)
    try:
        message = read_message(raw, limits)
        sender = claimed_sender(message, rules)
        if isinstance(sender, NotOurs):
            return Held(Reason.UNTRUSTED_SENDER) if looks_like_signal(message, limits) else sender
        if isinstance(sender, Held):
            return sender
        if shape := mime_shape(message, limits):
            return Held(shape)
        encrypted = ciphertext(message)
    except PARSER_ERRORS as error:
        return unreadable(raw, rules, reason_of(error))
    if isinstance(encrypted, Held):
        return encrypted
    verified = keyring.decrypt_verified(encrypted)
    if isinstance(verified, Reason):
        return Held(verified)
    if len(verified.plaintext) > limits.max_plaintext_bytes:
        return Held(Reason.TOO_LARGE)
    if not sender.signs_with(verified.signer):
        return Held(Reason.WRONG_SIGNER)
    entity = message.get_content_type() == "multipart/encrypted" or (inline_entities and
                                                                     _entity_like(verified.plaintext))
    return _content(verified, sender, raw, entity, limits=limits, trust=trust, office=office, now=now)


def authenticate_smime(raw: bytes, officer: Officer, certificates: Certificates, *, limits: Limits, trust: Trust,
                       office: str, now: datetime) -> Authentic | Held:
    """An officer's S/MIME reply (Outlook): one application/pkcs7-mime part enveloped to the Leerplicht certificate,
    holding an entity signed by the officer's own certificate from the rules, under the same checks as PGP."""
    if officer.certificate is None:
        return Held(Reason.UNKNOWN_KEY)
    if not header_fits(raw, limits):
        return Held(Reason.MALFORMED_HEADER)
    try:
        message = read_message(raw, limits)
        if message.get_content_type() not in SMIME_TYPES or str(message.get_param("smime-type", "enveloped-data")
                                                                ).lower() != "enveloped-data":
            return Held(Reason.NOT_ENCRYPTED)
        payload = message.get_payload(decode=True)
    except PARSER_ERRORS as error:
        return Held(reason_of(error))
    if not isinstance(payload, bytes) or not payload:
        return Held(Reason.NOT_ENCRYPTED)
    verified = certificates.open(payload, officer.certificate, now)
    if isinstance(verified, Reason):
        return Held(verified)
    return _content(verified, officer, raw, True, limits=limits, trust=trust, office=office, now=now)


def _content(verified: Verified, sender: TrustedSender | Officer, raw: bytes, entity: bool, *, limits: Limits,
             trust: Trust, office: str, now: datetime) -> Authentic | Held:
    """After decryption, for PGP and S/MIME alike: within the plaintext cap, signed recently, addressed to this office
    when it says, no other PGP message inside; the readable text of that signed content only."""
    if len(verified.plaintext) > limits.max_plaintext_bytes:
        return Held(Reason.TOO_LARGE)
    if age := signature_age(verified.signed_at, now, trust):
        return Held(age)
    if holds_armor(verified.plaintext):
        return Held(Reason.NESTED_PGP)
    if entity:
        try:
            inner = read_message(verified.plaintext, limits)
            if shape := mime_shape(inner, limits):
                return Held(shape)
            if holds_pgp(inner):
                return Held(Reason.NESTED_PGP)
            if signed_for_someone_else(inner, office, trust, limits):
                return Held(Reason.WRONG_RECIPIENT)
            readable = readable_text(inner)
        except PARSER_ERRORS as error:
            return Held(reason_of(error))
    else:
        text = utf8_text(verified.plaintext)
        readable = Readable(text) if text is not None else None
    if readable is not None and not readable.subject:
        readable = replace(readable, subject=str(outer_subject(raw)))
    if readable is None:
        return Held(Reason.UNDECODABLE_TEXT)
    if holds_armor(readable.text) or holds_armor(readable.set_apart):
        return Held(Reason.NESTED_PGP)
    digest = hashlib.sha256(f"{verified.signer}\0{verified.signed_at.timestamp()}\0".encode()
                            + verified.plaintext).hexdigest()
    return Authentic(readable, sender, verified.signer, verified.signed_at, digest)


SMIME_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_HEADER_FIELD = re.compile(rb"[A-Za-z][A-Za-z0-9-]{0,75}:[ \t]")


def _entity_like(plaintext: bytes) -> bool:
    """Inline armor around a MIME entity (headers, a blank line, a body): read as one, so its To: is checked too
    and its headers are never taken for signal text."""
    head = plaintext[:PARSED_FIELD_BYTES * 32]
    return _HEADER_FIELD.match(head) is not None and (b"\r\n\r\n" in head or b"\n\n" in head)


def header_sender(header: bytes, rules: Senders, limits: Limits) -> TrustedSender | NotOurs | Held:
    """The sender a header alone claims, never raising for what the header holds (see `unreadable`)."""
    if not header_fits(header, limits):
        return unreadable(header, rules, Reason.MALFORMED_HEADER)
    try:
        return claimed_sender(read_message(header, limits), rules)
    except PARSER_ERRORS as error:
        return unreadable(header, rules, reason_of(error))


def replying_officer(raw: bytes, rules: Rules, limits: Limits) -> Officer | None:
    """The officer whose address is this mail's one From, when the mail answers an alert: it is encrypted or names a
    reference (HWC-...), and no machine wrote it (an out-of-office answer, a report). An officer's other mail to the
    shared mailbox stays theirs, and a From the parser chokes on is judged as a signal would be."""
    if not header_fits(raw, limits):
        return None
    try:
        message = read_message(raw, limits)
        values = [str(value) for name, value in message.raw_items() if name.lower() == "from"]
        addresses = [address.addr_spec for header in message.get_all("From", []) for address in header.addresses]
        encrypted = message.get_content_type() in ("multipart/encrypted", *SMIME_TYPES)
        automatic = (str(message.get("Auto-Submitted", "no")).strip().lower() != "no"
                     or message.get_content_type() == "multipart/report")
    except PARSER_ERRORS:
        return None
    if len(values) != 1 or len(addresses) != 1 or automatic:
        return None
    officer = rules.officer_for_address(addresses[0])
    if officer is None or not (encrypted or holds_armor(raw) or REFERENCE.search(raw.decode("latin-1"))):
        return None
    return officer


def oversized(header: bytes, rules: Senders, limits: Limits) -> NotOurs | Held:
    """A message over the size cap is never downloaded: its From header alone decides."""
    sender = header_sender(header, rules, limits)
    return sender if isinstance(sender, NotOurs) else Held(Reason.TOO_LARGE)
