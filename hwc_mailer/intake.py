"""From raw mail to the signed plaintext of a signal, or the reason there is none.

Order matters, as in Schleuder's runner: first decide from the envelope whether
the mail claims to be ours at all (a trusted From address), then decrypt and
verify, then check that the key that signed is the key of the sender the From
address names. Only the decrypted, signed content is ever read as signal data.
"""

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

from .crypto import Keyring, Refused
from .rules import Rules, TrustedSender
from .signal import text_from_html

ARMOR = re.compile(rb"\A\s*(-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----)\s*\Z", re.DOTALL)


@dataclass(frozen=True)
class Authentic:
    text: str
    sender: TrustedSender
    signer: str


@dataclass(frozen=True)
class NotOurs:
    """Not from a trusted address: someone else's mail in a shared mailbox; leave it alone."""


@dataclass(frozen=True)
class Rejected:
    """Claims a trusted sender but is not an authentic signal."""

    reason: str


def read_message(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def claimed_sender(message: EmailMessage, rules: Rules) -> TrustedSender | NotOurs | Rejected:
    """The trusted sender the From header names; several addresses with any trusted one are refused."""
    try:
        addresses = [address.addr_spec for header in message.get_all("From", []) for address in header.addresses]
    except (AttributeError, ValueError):
        return NotOurs()
    senders = [rules.sender_for_address(address) for address in addresses]
    trusted = [sender for sender in senders if sender is not None]
    if not trusted:
        return NotOurs()
    if len(addresses) != 1:
        return Rejected("multiple-from")
    return trusted[0]


def ciphertext(message: EmailMessage) -> bytes | Rejected:
    """The one encrypted payload: RFC 3156 PGP/MIME, or one inline armored block in text/plain."""
    if message.get_content_type() == "multipart/encrypted":
        parts = message.get_payload()
        if (message.get_param("protocol") != "application/pgp-encrypted" or not isinstance(parts, list)
                or len(parts) != 2 or parts[0].get_content_type() != "application/pgp-encrypted"
                or parts[1].get_content_type() != "application/octet-stream"):
            return Rejected("malformed-pgp-mime")
        payload = parts[1].get_payload(decode=True)
        return payload if isinstance(payload, bytes) else Rejected("malformed-pgp-mime")
    if message.get_content_type() == "text/plain" and not message.is_multipart():
        body = message.get_payload(decode=True)
        if isinstance(body, bytes):
            match = ARMOR.match(body)
            if match:
                return match.group(1)
    return Rejected("not-encrypted")


def authenticate(raw: bytes, rules: Rules, keyring: Keyring) -> Authentic | NotOurs | Rejected:
    message = read_message(raw)
    sender = claimed_sender(message, rules)
    if not isinstance(sender, TrustedSender):
        return sender
    encrypted = ciphertext(message)
    if isinstance(encrypted, Rejected):
        return encrypted
    verified = keyring.decrypt_verified(encrypted)
    if isinstance(verified, Refused):
        return Rejected(verified.reason)
    if not sender.signs_with(verified.signer):
        return Rejected("wrong-signer")
    is_mime = message.get_content_type() == "multipart/encrypted"
    text = readable_text(read_message(verified.plaintext)) if is_mime else _decoded(verified.plaintext)
    if text is None:
        return Rejected("undecodable-text")
    return Authentic(text, sender, verified.signer)


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
        children = entity.get_payload()
        assert isinstance(children, list)
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
