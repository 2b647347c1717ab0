"""From raw mail to the signed plaintext of a signal, or the reason there is none.

Order matters, as in Schleuder's runner. Before decryption: decide from the
From header whether the mail claims to be ours at all, then insist on exactly
one encrypted payload in exactly the shape RFC 3156 (or one inline armored
block) prescribes, with nothing in clear beside it. Decrypt and verify. After
decryption: the key that signed must be the key of the sender the From address
names, the signature must be recent, and the content must not smuggle in
another PGP message. Only that decrypted, signed content is ever parsed.
"""

import email
import email.policy
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage, Message

from .config import Limits, Trust
from .crypto import Keyring, Refused
from .rules import Rules, TrustedSender
from .signal import text_from_html

BEGIN = b"-----BEGIN PGP MESSAGE-----"
ARMOR = re.compile(rb"\A\s*(-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----)\s*\Z", re.DOTALL)
HWC_WORDS = re.compile(r"handle[\s\-]*with[\s\-]*care", re.IGNORECASE)
ENCRYPTED_TYPES = ("multipart/encrypted", "application/pgp-encrypted")
PGP_TYPES = (*ENCRYPTED_TYPES, "application/pgp-signature", "application/pgp-keys")


@dataclass(frozen=True)
class Authentic:
    text: str
    sender: TrustedSender
    signer: str
    signed_at: datetime
    digest: str          # of signer, signature time and content: the replay guard's input, kept in memory only


@dataclass(frozen=True)
class NotOurs:
    """Not from a trusted address and not signal-like: someone else's mail in a shared mailbox."""


@dataclass(frozen=True)
class Rejected:
    """Claims to be a signal but is not an authentic one: quarantine and tell a person."""

    reason: str


def read_message(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message_id_of(raw: bytes) -> str:
    """The Message-ID of a whole message or of its header alone; "" when it has none."""
    return str(read_message(raw).get("Message-ID", "")).strip()


def _leaves(entity: Message) -> Iterator[tuple[Message, bytes]]:
    """Every non-multipart part with its decoded payload (base64 and quoted-printable undone)."""
    for part in entity.walk():
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        if isinstance(payload, bytes):
            yield part, payload


def claimed_sender(message: EmailMessage, rules: Rules) -> TrustedSender | NotOurs | Rejected:
    """The trusted sender the From header names; several From addresses with any trusted one are refused."""
    try:
        headers = message.get_all("From", [])
        addresses = [address.addr_spec for header in headers for address in header.addresses]
    except (AttributeError, ValueError, IndexError):
        return Rejected("malformed-from")
    trusted = [sender for sender in map(rules.sender_for_address, addresses) if sender is not None]
    if not trusted:
        return NotOurs()
    if len(addresses) != 1 or len(headers) != 1:
        return Rejected("multiple-from")
    return trusted[0]


def mime_shape(entity: Message, limits: Limits) -> str | None:
    """A reason code when the tree is deeper or wider than the limits allow; walks at most the limits."""
    parts = 0
    stack: list[tuple[Message, int]] = [(entity, 1)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > limits.max_mime_depth:
            return "too-deep"
        if parts > limits.max_mime_parts:
            return "too-many-parts"
        stack.extend((child, depth + 1) for child in _parts(part))
    return None


def _parts(entity: Message) -> list[Message]:
    """The direct sub-parts of a multipart entity; none for a leaf."""
    payload = entity.get_payload() if entity.is_multipart() else None
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def looks_like_signal(message: EmailMessage, limits: Limits) -> bool:
    """Signal-like mail from an untrusted address is quarantined, not ignored: a forgery or a new sender."""
    if HWC_WORDS.search(str(message.get("Subject", ""))):
        return True
    for count, part in enumerate(message.walk()):
        if count >= limits.max_mime_parts:
            return True
        if part.get_content_type() in PGP_TYPES:
            return True
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and (BEGIN in payload or HWC_WORDS.search(payload.decode("latin-1"))):
                return True
    return False


def ciphertext(message: EmailMessage) -> bytes | Rejected:
    """The one encrypted payload: RFC 3156 PGP/MIME, or one inline armored block in a lone text/plain."""
    kind = message.get_content_type()
    if kind == "multipart/encrypted":
        parts = _parts(message)
        if (message.get_param("protocol") != "application/pgp-encrypted"
                or len(parts) != 2 or parts[0].get_content_type() != "application/pgp-encrypted"
                or parts[1].get_content_type() != "application/octet-stream"
                or any(part.is_multipart() for part in parts)):
            return Rejected("malformed-pgp-mime")
        control = parts[0].get_payload(decode=True)
        payload = parts[1].get_payload(decode=True)
        if not isinstance(control, bytes) or control.strip() != b"Version: 1" or not isinstance(payload, bytes):
            return Rejected("malformed-pgp-mime")
        if payload.count(BEGIN) != 1 or not ARMOR.match(payload):
            return Rejected("malformed-pgp-mime")
        return payload
    if kind == "text/plain" and not message.is_multipart():
        body = message.get_payload(decode=True)
        if isinstance(body, bytes) and BEGIN in body:
            match = ARMOR.match(body)
            return match.group(1) if match and body.count(BEGIN) == 1 else Rejected("text-around-armor")
    if message.is_multipart() and any(part.get_content_type() in ENCRYPTED_TYPES for part in message.walk()):
        return Rejected("unencrypted-parts")
    if any(part.get_content_maintype() == "text" and BEGIN in payload for part, payload in _leaves(message)):
        return Rejected("unencrypted-parts")
    return Rejected("not-encrypted")


def signature_age(signed_at: datetime, now: datetime, trust: Trust) -> str | None:
    if signed_at > now + timedelta(minutes=trust.max_clock_skew_minutes):
        return "signature-in-future"
    if signed_at < now - timedelta(days=trust.max_signature_age_days):
        return "signature-too-old"
    return None


def authenticate(raw: bytes, rules: Rules, keyring: Keyring, *, limits: Limits, trust: Trust,
                 now: datetime) -> Authentic | NotOurs | Rejected:
    message = read_message(raw)
    sender = claimed_sender(message, rules)
    if isinstance(sender, NotOurs):
        return Rejected("untrusted-sender") if looks_like_signal(message, limits) else sender
    if isinstance(sender, Rejected):
        return sender
    if shape := mime_shape(message, limits):
        return Rejected(shape)
    encrypted = ciphertext(message)
    if isinstance(encrypted, Rejected):
        return encrypted
    verified = keyring.decrypt_verified(encrypted)
    if isinstance(verified, Refused):
        return Rejected(verified.reason)
    if not sender.signs_with(verified.signer):
        return Rejected("wrong-signer")
    if age := signature_age(verified.signed_at, now, trust):
        return Rejected(age)
    if b"-----BEGIN PGP" in verified.plaintext:
        return Rejected("nested-pgp")
    if message.get_content_type() == "multipart/encrypted":
        inner = read_message(verified.plaintext)
        if shape := mime_shape(inner, limits):
            return Rejected(shape)
        if _holds_pgp(inner):
            return Rejected("nested-pgp")
        text = readable_text(inner)
    else:
        text = _decoded(verified.plaintext)
    if text is None:
        return Rejected("undecodable-text")
    if "-----BEGIN PGP" in text:
        return Rejected("nested-pgp")
    digest = hashlib.sha256(f"{verified.signer}\0{verified.signed_at.timestamp()}\0".encode()
                            + verified.plaintext).hexdigest()
    return Authentic(text, sender, verified.signer, verified.signed_at, digest)


def _holds_pgp(entity: Message) -> bool:
    """Another PGP object anywhere inside, also behind base64 or quoted-printable: never ours to read."""
    return (any(part.get_content_type() in PGP_TYPES for part in entity.walk())
            or any(b"-----BEGIN PGP" in payload for _, payload in _leaves(entity)))


def oversized(header: bytes, rules: Rules) -> NotOurs | Rejected:
    """A message over the size cap is never downloaded: its From header alone decides."""
    sender = claimed_sender(read_message(header), rules)
    return sender if isinstance(sender, NotOurs) else Rejected("too-large")


def readable_text(entity: Message) -> str | None:
    """What a person would read: text/plain preferred over HTML, attachments skipped."""
    try:
        return _readable(entity)
    except (LookupError, UnicodeError, ValueError):
        return None


def _readable(entity: Message) -> str | None:
    if entity.get_content_disposition() == "attachment":
        return None
    kind = entity.get_content_type()
    if entity.is_multipart():
        children = _parts(entity)
        if kind == "multipart/alternative":
            preferred = sorted(children, key=lambda part: part.get_content_type() != "text/plain")
            return next((text for part in preferred if (text := _readable(part)) is not None), None)
        texts = [text for part in children if (text := _readable(part)) is not None]
        return "\n".join(texts) if texts else None
    if kind not in ("text/plain", "text/html"):
        return None
    payload = entity.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    text = payload.decode(entity.get_content_charset() or "utf-8")
    return text_from_html(text) if kind == "text/html" else text


def _decoded(plaintext: bytes) -> str | None:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        return None
