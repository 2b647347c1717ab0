"""From raw mail to the signed plaintext of a signal, or the reason there is none.

Order matters, as in Schleuder's runner. Before decryption: decide from the
From header whether the mail claims to be ours at all, then insist on exactly
one encrypted payload in exactly the shape RFC 3156 (or one inline armored
block) prescribes, with nothing in clear beside it. Decrypt and verify. After
decryption: the key that signed must be the key of the sender the From address
names, the signature must be recent, and the content must not smuggle in
another PGP message. Only that decrypted, signed content is ever parsed.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from ..domain.outcomes import Held, NotOurs
from ..domain.reasons import Reason
from ..edges.protocols import Keyring
from ..settings.config import Limits, Trust
from ..settings.rules import Rules, TrustedSender
from .mime import (
    Readable,
    ciphertext,
    holds_armor,
    holds_pgp,
    looks_like_signal,
    mime_shape,
    read_message,
    readable_text,
    utf8_text,
)


@dataclass(frozen=True)
class Authentic:
    readable: Readable
    sender: TrustedSender
    signer: str
    signed_at: datetime
    digest: str          # of signer, signature time and content: the replay guard's input, kept in memory only


def claimed_sender(message: EmailMessage, rules: Rules) -> TrustedSender | NotOurs | Held:
    """The trusted sender the From header names; several From addresses with any trusted one are refused."""
    try:
        headers = message.get_all("From", [])
        addresses = [address.addr_spec for header in headers for address in header.addresses]
    except (AttributeError, ValueError, IndexError):
        return Held(Reason.MALFORMED_FROM)
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


def authenticate(raw: bytes, rules: Rules, keyring: Keyring, *, limits: Limits, trust: Trust,
                 now: datetime) -> Authentic | NotOurs | Held:
    message = read_message(raw)
    sender = claimed_sender(message, rules)
    if isinstance(sender, NotOurs):
        return Held(Reason.UNTRUSTED_SENDER) if looks_like_signal(message, limits) else sender
    if isinstance(sender, Held):
        return sender
    if shape := mime_shape(message, limits):
        return Held(shape)
    encrypted = ciphertext(message)
    if isinstance(encrypted, Held):
        return encrypted
    verified = keyring.decrypt_verified(encrypted)
    if isinstance(verified, Reason):
        return Held(verified)
    if not sender.signs_with(verified.signer):
        return Held(Reason.WRONG_SIGNER)
    if age := signature_age(verified.signed_at, now, trust):
        return Held(age)
    if holds_armor(verified.plaintext):
        return Held(Reason.NESTED_PGP)
    if message.get_content_type() == "multipart/encrypted":
        inner = read_message(verified.plaintext)
        if shape := mime_shape(inner, limits):
            return Held(shape)
        if holds_pgp(inner):
            return Held(Reason.NESTED_PGP)
        readable = readable_text(inner)
    else:
        text = utf8_text(verified.plaintext)
        readable = Readable(text) if text is not None else None
    if readable is None:
        return Held(Reason.UNDECODABLE_TEXT)
    if holds_armor(readable.text) or holds_armor(readable.set_apart):
        return Held(Reason.NESTED_PGP)
    digest = hashlib.sha256(f"{verified.signer}\0{verified.signed_at.timestamp()}\0".encode()
                            + verified.plaintext).hexdigest()
    return Authentic(readable, sender, verified.signer, verified.signed_at, digest)


def oversized(header: bytes, rules: Rules) -> NotOurs | Held:
    """A message over the size cap is never downloaded: its From header alone decides."""
    sender = claimed_sender(read_message(header), rules)
    return sender if isinstance(sender, NotOurs) else Held(Reason.TOO_LARGE)
