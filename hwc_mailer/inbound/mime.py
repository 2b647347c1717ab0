"""The shape of a raw mail: its parts, its one encrypted payload, the text a person would read.

Nothing here trusts or decrypts anything; `authenticate` decides with what this finds.
"""

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message

from ..domain.html import split_html
from ..domain.outcomes import Held
from ..domain.reasons import Reason
from ..domain.text import mentions_handle_with_care
from ..settings.config import Limits

# Any OpenPGP armor (message, signature, key); MESSAGE_ARMOR is the encrypted message alone.
PGP_ARMOR = "-----BEGIN PGP"
MESSAGE_ARMOR = f"{PGP_ARMOR} MESSAGE-----".encode()
ARMOR_BLOCK = re.compile(rb"\A\s*(-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----)\s*\Z", re.DOTALL)
ENCRYPTED_TYPES = ("multipart/encrypted", "application/pgp-encrypted")
PGP_TYPES = (*ENCRYPTED_TYPES, "application/pgp-signature", "application/pgp-keys")


def read_message(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message_id_of(raw: bytes) -> str:
    """The Message-ID of a whole message or of its header alone; "" when it has none."""
    return str(read_message(raw).get("Message-ID", "")).strip()


def holds_armor(data: bytes | str) -> bool:
    """Any OpenPGP armor in decoded bytes or in text."""
    return PGP_ARMOR.encode() in data if isinstance(data, bytes) else PGP_ARMOR in data


def leaves(entity: Message) -> Iterator[tuple[Message, bytes]]:
    """Every non-multipart part with its decoded payload (base64 and quoted-printable undone)."""
    for part in entity.walk():
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        if isinstance(payload, bytes):
            yield part, payload


def parts_of(entity: Message) -> list[Message]:
    """The direct sub-parts of a multipart entity; none for a leaf."""
    payload = entity.get_payload() if entity.is_multipart() else None
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def mime_shape(entity: Message, limits: Limits) -> Reason | None:
    """Why the tree is deeper or wider than the limits allow, if it is; walks at most the limits."""
    parts = 0
    stack: list[tuple[Message, int]] = [(entity, 1)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > limits.max_mime_depth:
            return Reason.TOO_DEEP
        if parts > limits.max_mime_parts:
            return Reason.TOO_MANY_PARTS
        stack.extend((child, depth + 1) for child in parts_of(part))
    return None


def looks_like_signal(message: EmailMessage, limits: Limits) -> bool:
    """Signal-like mail from an untrusted address is quarantined, not ignored: a forgery or a new sender."""
    if mentions_handle_with_care(str(message.get("Subject", ""))):
        return True
    for count, part in enumerate(message.walk()):
        if count >= limits.max_mime_parts:
            return True
        if part.get_content_type() in PGP_TYPES:
            return True
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and (MESSAGE_ARMOR in payload or
                                               mentions_handle_with_care(payload.decode("utf-8", "replace"))):
                return True
    return False


def ciphertext(message: EmailMessage) -> bytes | Held:
    """The one encrypted payload: RFC 3156 PGP/MIME, or one inline armored block in a lone text/plain."""
    kind = message.get_content_type()
    if kind == "multipart/encrypted":
        parts = parts_of(message)
        if (message.get_param("protocol") != "application/pgp-encrypted"
                or len(parts) != 2 or parts[0].get_content_type() != "application/pgp-encrypted"
                or parts[1].get_content_type() != "application/octet-stream"
                or any(part.is_multipart() for part in parts)):
            return Held(Reason.MALFORMED_PGP_MIME)
        control = parts[0].get_payload(decode=True)
        payload = parts[1].get_payload(decode=True)
        if not isinstance(control, bytes) or control.strip() != b"Version: 1" or not isinstance(payload, bytes):
            return Held(Reason.MALFORMED_PGP_MIME)
        if payload.count(MESSAGE_ARMOR) != 1 or not ARMOR_BLOCK.match(payload):
            return Held(Reason.MALFORMED_PGP_MIME)
        return payload
    if kind == "text/plain" and not message.is_multipart():
        body = message.get_payload(decode=True)
        if isinstance(body, bytes) and MESSAGE_ARMOR in body:
            match = ARMOR_BLOCK.match(body)
            return match.group(1) if match and body.count(MESSAGE_ARMOR) == 1 else Held(Reason.TEXT_AROUND_ARMOR)
    if message.is_multipart() and any(part.get_content_type() in ENCRYPTED_TYPES for part in message.walk()):
        return Held(Reason.UNENCRYPTED_PARTS)
    if any(part.get_content_maintype() == "text" and MESSAGE_ARMOR in payload for part, payload in leaves(message)):
        return Held(Reason.UNENCRYPTED_PARTS)
    return Held(Reason.NOT_ENCRYPTED)


def holds_pgp(entity: Message) -> bool:
    """Another PGP object anywhere inside, also behind base64 or quoted-printable: never ours to read."""
    return (any(part.get_content_type() in PGP_TYPES for part in entity.walk())
            or any(holds_armor(payload) for _, payload in leaves(entity)))


@dataclass(frozen=True)
class Readable:
    """What a person reads as the new text, and apart from it what came quoted, forwarded or hidden."""

    text: str
    set_apart: str = ""


def readable_text(entity: Message) -> Readable | None:
    """What a person would read: text/plain preferred over HTML, attachments skipped, a forwarded
    message (message/rfc822, inline or attached) and HTML quotes set apart."""
    try:
        return _readable(entity)
    except (LookupError, UnicodeError, ValueError):
        return None


def _join(parts: list[Readable]) -> Readable:
    return Readable("\n".join(part.text for part in parts if part.text),
                    "\n".join(part.set_apart for part in parts if part.set_apart))


def _readable(entity: Message) -> Readable | None:
    kind = entity.get_content_type()
    if kind == "message/rfc822":
        forwarded = [_readable(part) for part in parts_of(entity)]
        inner = _join([part for part in forwarded if part is not None])
        return Readable("", "\n".join(text for text in (inner.text, inner.set_apart) if text))
    if entity.get_content_disposition() == "attachment":
        return None
    if entity.is_multipart():
        children = parts_of(entity)
        if kind == "multipart/alternative":
            preferred = sorted(children, key=lambda part: part.get_content_type() != "text/plain")
            return next((found for part in preferred if (found := _readable(part)) is not None), None)
        found_parts = [found for part in children if (found := _readable(part)) is not None]
        return _join(found_parts) if found_parts else None
    if kind not in ("text/plain", "text/html"):
        return None
    payload = entity.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    text = payload.decode(entity.get_content_charset() or "utf-8")
    if kind == "text/html":
        html = split_html(text)
        return Readable(html.visible, html.set_apart)
    return Readable(text)


def utf8_text(plaintext: bytes) -> str | None:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        return None
