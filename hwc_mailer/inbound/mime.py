"""The shape of a raw mail: its parts, its one encrypted payload, the text a person would read.

Nothing here trusts or decrypts anything; `authenticate` decides with what this finds.

Python 3.11's email package raises on short hostile values (IndexError for `Message-ID: <>`,
RecursionError for deeply nested comments) and its structured header parser is quadratic (a From of
16 KB of quotes costs seconds, a megabyte minutes). So a header is measured before it is parsed:
`header_fits` scans the raw header block (total size, number of fields, longest field with its folded
lines), and `read_message` parses with a policy that applies the same caps to the header of every MIME
part as it is read and stops at `max_mime_parts` parts, which also bounds the nesting. Message-ID and
the From addresses that decide trust when nothing else can be read are taken from the raw bytes with
bounded patterns. What is over a cap or still makes the parser raise leaves as one of PARSER_ERRORS.
"""

import email
import email.errors
import email.header
import email.policy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, Policy
from typing import TYPE_CHECKING

from ..domain.html import split_html
from ..domain.outcomes import Held
from ..domain.reasons import Reason
from ..domain.signal import child_names
from ..domain.text import mentions_handle_with_care, well_formed_message_id
from ..settings.config import Limits

# Any OpenPGP armor (message, signature, key); MESSAGE_ARMOR is the encrypted message alone.
PGP_ARMOR = "-----BEGIN PGP"
MESSAGE_ARMOR = f"{PGP_ARMOR} MESSAGE-----".encode()
ARMOR_BLOCK = re.compile(rb"\A\s*(-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----)\s*\Z", re.DOTALL)
ENCRYPTED_TYPES = ("multipart/encrypted", "application/pgp-encrypted")
PGP_TYPES = (*ENCRYPTED_TYPES, "application/pgp-signature", "application/pgp-keys")


# What the email package raises on hostile input; Unreadable (below) is one of its MessageErrors.
PARSER_ERRORS: tuple[type[Exception], ...] = (IndexError, RecursionError, ValueError, AttributeError, TypeError,
                                              LookupError, email.errors.MessageError)

# Fields the code reads through the structured parser, whose cost grows with the square of the value (1 KB of
# `;a=` in a Content-Type: 26 ms, parsed again on every access), get a tighter cap than max_header_field_bytes.
# No mail client writes a From or Content-* field near 512 bytes; a part's field is parsed once (see _Budget).
PARSED_FIELDS = frozenset({"from", "content-type", "content-transfer-encoding", "content-disposition"})
PARSED_FIELD_BYTES = 512


class Unreadable(email.errors.MessageError):
    """A header over a cap, or a message of more parts than allowed, met before or while parsing."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def reason_of(error: BaseException) -> Reason:
    """The reason a message that could not be read is held for: its cap, or a header the parser choked on."""
    return error.reason if isinstance(error, Unreadable) else Reason.MALFORMED_HEADER


def field_fits(name: str, size: int, limits: Limits) -> bool:
    """One header field of `size` bytes (folded lines included) is within the caps for its name."""
    cap = min(limits.max_header_field_bytes, PARSED_FIELD_BYTES) if name.strip().lower() in PARSED_FIELDS \
        else limits.max_header_field_bytes
    return size <= cap


# Lines end at CRLF, LF or a lone CR, as the email package's parser splits them. The header block ends before
# the first empty line; a field is its first line and every folded continuation line (one starting with a blank).
# Each pattern starts with a plain character or set, so the regex engine skips to candidates at C speed.
_EOL = rb"(?:\r\n|\n|\r(?!\n))"
_BLANK_LINE = re.compile(rb"(\r\n|\n|\r(?!\n))" + _EOL)
_FIELD = re.compile(rb"[^\r\n]*(?:" + _EOL + rb"[ \t][^\r\n]*)*" + _EOL + b"?")
_UNFOLD = re.compile(r"\r\n|\n|\r")


def header_block(raw: bytes) -> bytes:
    """The header lines of a message, or all of `raw` when no empty line ends them."""
    if raw[:1] in (b"\r", b"\n"):
        return b""
    found = _BLANK_LINE.search(raw)
    return raw[:found.end(1)] if found else raw


def header_fits(raw: bytes, limits: Limits) -> bool:
    """The header block of a message (or a header alone) is within every cap: on the raw bytes, before parsing.

    Field by field from the top, stopping at the first over a cap: it reads little more than the caps allow.
    """
    position = count = 0
    while position < len(raw) and raw[position] not in b"\r\n":
        found = _FIELD.match(raw, position)
        assert found is not None and found.end() > position
        start, position, count = position, found.end(), count + 1
        colon = raw.find(b":", start, min(position, start + 256))
        name = raw[start:colon].decode("latin-1") if colon >= 0 else ""
        if count > limits.max_header_count or position > limits.max_header_bytes or not field_fits(
                name, position - start, limits):
            return False
    return True


def _raw_fields(raw: bytes, name: str) -> list[str]:
    """The unfolded values of every field called `name` in the raw header block, found by one linear search."""
    pattern = re.compile(rb"[\r\n](?i:" + re.escape(name.encode()) + rb")[ \t]*:([^\r\n]*(?:" + _EOL
                         + rb"[ \t][^\r\n]*)*)")
    return [_UNFOLD.sub("", found.group(1).decode("latin-1")).strip()
            for found in pattern.finditer(b"\n" + header_block(raw))]


_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.-"   # and the dot: what a local part is made of
# An address anywhere in a From value (display names and comments included), found in linear time: the local part
# starts where no address character precedes it and is taken whole (possessive), so no start position is retried.
_ADDRESS = re.compile(rf"(?<![{_ATEXT}])([{_ATEXT}]{{1,64}}+)@"
                      r"([A-Za-z0-9-]{1,63}+(?:\.[A-Za-z0-9-]{1,63}+){0,16}+)(?![A-Za-z0-9-])")


def addresses_in(values: Iterable[str]) -> list[str]:
    """Every address-shaped `local@domain` in header values, a superset of what a parser would find."""
    return [f"{found[1]}@{found[2]}" for value in values for found in _ADDRESS.finditer(value)]


def outer_subject(raw: bytes) -> str:
    """The Subject as the sender wrote it, read from the raw header; encoded words decoded where they can be."""
    fields = _raw_fields(raw, "subject")
    if not fields:
        return ""
    value = fields[0][:PARSED_FIELD_BYTES]
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, UnicodeError, ValueError, email.errors.MessageError):
        return value


def from_fields(raw: bytes) -> list[str]:
    """The From values of a raw message or header, read without the email package."""
    return _raw_fields(raw, "from")


def message_id_of(raw: bytes) -> str:
    """The first Message-ID of a whole message or of its header alone, read from the raw bytes; "" when it has
    none or it is not a well-formed `<left@right>` (`<>`, spaces, comments, over 250 characters)."""
    found = _raw_fields(raw, "message-id")
    return found[0] if found and well_formed_message_id(found[0]) else ""


class _Budget:
    """What one parse may still spend: parts in all, and header fields and bytes in the part being read.

    It is the parse's message factory, so it sees every part begin, and the policy shows it every field.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts = self.fields = self.size = 0
        self.parsed: dict[tuple[str, str], str] = {}

    def __call__(self, policy: "Policy[EmailMessage]") -> EmailMessage:
        self.parts += 1
        if self.parts > self.limits.max_mime_parts:
            raise Unreadable(Reason.TOO_MANY_PARTS)
        self.fields = self.size = 0
        return EmailMessage(policy=policy)

    def field(self, sourcelines: list[str]) -> None:
        size = sum(map(len, sourcelines))
        self.fields += 1
        self.size += size
        if (self.fields > self.limits.max_header_count or self.size > self.limits.max_header_bytes
                or not field_fits(sourcelines[0].partition(":")[0], size, self.limits)):
            raise Unreadable(Reason.MALFORMED_HEADER)


if TYPE_CHECKING:   # generic in typeshed only
    _EmailPolicy = EmailPolicy[EmailMessage]
else:
    _EmailPolicy = EmailPolicy


class _BoundedPolicy(_EmailPolicy):
    """email.policy.default that measures every header field of every part before it is stored."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        if isinstance(self.message_factory, _Budget):
            self.message_factory.field(sourcelines)
        return super().header_source_parse(sourcelines)

    def header_fetch_parse(self, name: str, value: str) -> str:
        """Each field value is parsed once per message: the email package asks for a part's Content-Type about
        seven times while reading and walking it. Parsed headers are immutable strings, safe to hand out again."""
        budget = self.message_factory
        key = (name, value)
        if isinstance(budget, _Budget) and key in budget.parsed:
            return budget.parsed[key]
        header: str = super().header_fetch_parse(name, value)
        if isinstance(budget, _Budget):
            budget.parsed[key] = header
        return header


_POLICY = _BoundedPolicy()


def read_message(raw: bytes, limits: Limits | None = None) -> EmailMessage:
    """The parsed message; raises Unreadable over a cap (headers of any part, number of parts), or another of
    PARSER_ERRORS when the email package chokes. Header values are parsed on access and may raise too."""
    policy = _POLICY.clone(message_factory=_Budget(limits or Limits()))
    message = email.message_from_bytes(raw, policy=policy)
    assert isinstance(message, EmailMessage)
    return message


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


PLAIN_ENCODINGS = frozenset({"7bit", "8bit", "binary", "base64", "quoted-printable"})
SIGNAL_LIKE_BYTES = 64 * 1024


def looks_like_signal(message: EmailMessage, limits: Limits) -> bool:
    """Signal-like mail from an untrusted address is quarantined, not ignored: a forgery or a new sender."""
    if mentions_handle_with_care(str(message.get("Subject", ""))):
        return True
    for count, part in enumerate(message.walk()):
        if count >= limits.max_mime_parts:
            return False
        if part.get_content_type() in ENCRYPTED_TYPES:
            return True
        if part.get_content_maintype() == "text" and not part.is_multipart():
            if str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower() not in PLAIN_ENCODINGS:
                continue
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            # The code words or an encrypted block stand near the top; reading more is a cost anyone can impose.
            head = payload[:SIGNAL_LIKE_BYTES]
            if MESSAGE_ARMOR in head or mentions_handle_with_care(head.decode("utf-8", "replace")):
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
    """What a person reads as the new text, and apart from it what came quoted, forwarded or hidden; `doubt`
    when the mail holds something that may name a child and is not read (an attached document, two versions
    that name different children), `subject` the subject the sender wrote."""

    text: str
    set_apart: str = ""
    doubt: Reason | None = None
    subject: str = ""


def readable_text(entity: Message) -> Readable | None:
    """What a person would read: the version of multipart/alternative that names children (text/plain first),
    a forwarded message (message/*) and attached or named text set apart, HTML quotes set apart."""
    try:
        readable = _readable(entity)
    except (LookupError, UnicodeError, ValueError):
        return None
    if readable is None:
        return None
    return Readable(readable.text, readable.set_apart, readable.doubt, str(entity.get("Subject", "")))


def _join(parts: list[Readable]) -> Readable:
    return Readable("\n".join(part.text for part in parts if part.text),
                    "\n".join(part.set_apart for part in parts if part.set_apart),
                    next((part.doubt for part in parts if part.doubt), None))


def _apart(readable: Readable) -> Readable:
    """All of it set apart: never read as live children, only looked at for whether it holds one."""
    return Readable("", "\n".join(text for text in (readable.text, readable.set_apart) if text), readable.doubt)


def _readable(entity: Message) -> Readable | None:
    kind = entity.get_content_type()
    if entity.get_content_maintype() == "message":
        forwarded = [found for part in parts_of(entity) if (found := _readable(part)) is not None]
        if forwarded:
            return _apart(_join(forwarded))
        payload = entity.get_payload(decode=True)
        return Readable("", payload.decode("utf-8", "replace") if isinstance(payload, bytes) else "")
    named = entity.get_content_disposition() == "attachment" or entity.get_filename() is not None \
        or entity.get_param("name") is not None
    if entity.is_multipart():
        children = parts_of(entity)
        if kind == "multipart/alternative":
            return _one_version(children)
        found_parts = [found for part in children if (found := _readable(part)) is not None]
        return _join(found_parts) if found_parts else None
    if kind not in ("text/plain", "text/html"):
        unread = named and entity.get_content_maintype() not in ("image", "audio", "video")
        return Readable("", doubt=Reason.UNREAD_ATTACHMENT) if unread else None
    payload = entity.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    text = payload.decode(entity.get_content_charset() or "utf-8")
    if kind == "text/html":
        html = split_html(text)
        readable = Readable(html.visible, html.set_apart)
    else:
        readable = Readable(text)
    return _apart(readable) if named else readable


def _one_version(children: list[Message]) -> Readable | None:
    """text/plain and HTML say the same in two forms: read the one that names children, text/plain first;
    when both name children and not the same ones, a person decides."""
    preferred = sorted(children, key=lambda part: part.get_content_type() != "text/plain")
    versions = [found for part in preferred if (found := _readable(part)) is not None]
    named = [(version, child_names(version.text)) for version in versions]
    naming = [(version, names) for version, names in named if names]
    if len({names for _, names in naming}) > 1:
        return Readable(naming[0][0].text, naming[0][0].set_apart, Reason.VERSIONS_DIFFER)
    if naming:
        return naming[0][0]
    return versions[0] if versions else None


def utf8_text(plaintext: bytes) -> str | None:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        return None
