"""Hostile headers and MIME at intake: always an outcome, never an exception, never minutes.

Python 3.11's email package raises IndexError on `Message-ID: <>` and RecursionError on deeply nested
comments, and its structured header parser is quadratic. Intake measures the raw header first, parses
with bounded caps, reads Message-ID and the deciding From addresses from the raw bytes, and turns
whatever the parser still throws into a reason. No servers here: the keyrings are fakes, since this is
about the structure of a message, not about cryptography.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hwc_mailer.domain.outcomes import Held, NotOurs
from hwc_mailer.domain.reasons import Disposition, Reason
from hwc_mailer.domain.text import well_formed_message_id
from hwc_mailer.edges.protocols import KeyInfo, KeyState, Verified
from hwc_mailer.inbound import mime
from hwc_mailer.inbound.authenticate import Authentic, authenticate, header_sender, oversized
from hwc_mailer.inbound.mime import message_id_of
from hwc_mailer.settings.config import Limits, Trust
from hwc_mailer.settings.rules import Rules, TrustedSender

VT = "hwc@vt.example.nl"
VT_KEY = "B" * 40
OFFICE = "leerplicht@maastricht.example.nl"
NOW = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
LIMITS = Limits()
TRUST = Trust()
RULES = Rules.model_validate({
    "trusted_senders": [{"name": "Veilig Thuis", "addresses": [VT], "fingerprints": [VT_KEY]}],
    "officers": [{"name": "Team Leerplicht", "email": "team@maastricht.example.nl"}],
})
# A property, not a benchmark: at the default caps the worst header costs tens of milliseconds, where the
# parser alone took seconds for 16 KB and minutes for a megabyte. What a body costs grows with its size (a
# header value with an empty line in it makes the rest a body): that part of the bound is linear.
BOUND_SECONDS = 2.0
BODY_SECONDS_PER_MB = 1.0


def bound(raw: bytes) -> float:
    return BOUND_SECONDS + BODY_SECONDS_PER_MB * len(raw) / 1_000_000


class FakeKeyring:
    """A Keyring that decrypts nothing (`plaintext` None) or hands back `plaintext` as signed by Veilig Thuis."""

    def __init__(self, plaintext: bytes | None = None) -> None:
        self.plaintext = plaintext

    @property
    def home(self) -> Path:
        return Path("/nonexistent")

    def decrypt_verified(self, data: bytes) -> Verified | Reason:
        if self.plaintext is None:
            return Reason.DECRYPTION_FAILED
        return Verified(self.plaintext, VT_KEY, NOW)

    def encrypt_signed(self, data: bytes, recipients: Sequence[str], signer: str) -> bytes:
        raise AssertionError("intake never encrypts")

    def inspect(self, fingerprint: str, address: str | None = None) -> KeyInfo:
        return KeyInfo(fingerprint, KeyState.missing)

    def key_state(self, fingerprint: str, address: str | None = None) -> KeyState:
        return KeyState.missing

    def scan(self, data: bytes) -> list[str]:
        return []

    def import_key(self, data: bytes, fingerprint: str) -> bool:
        return False

    def trust_ultimately(self, fingerprint: str) -> None:
        raise AssertionError("intake never changes trust")

    def certify(self, fingerprint: str, signer: str) -> None:
        raise AssertionError("intake never certifies")

    def has_secret_key(self, fingerprint: str) -> bool:
        return False

    def unlocks(self, fingerprint: str) -> bool:
        raise AssertionError("intake never signs")


def intake(raw: bytes, keyring: FakeKeyring | None = None) -> Authentic | NotOurs | Held:
    return authenticate(raw, RULES, keyring or FakeKeyring(), limits=LIMITS, trust=TRUST, office=OFFICE, now=NOW)


def timed(raw: bytes, keyring: FakeKeyring | None = None) -> tuple[Authentic | NotOurs | Held, float]:
    started = time.monotonic()
    outcome = intake(raw, keyring)
    return outcome, time.monotonic() - started


CRLF = b"\r\n"
ARMOR = b"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1234\r\n=abcd\r\n-----END PGP MESSAGE-----\r\n"


def pgp_mime(*fields: bytes) -> bytes:
    """A PGP/MIME envelope around dummy ciphertext, with `fields` as its header (From first)."""
    return (CRLF.join([*fields, b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
                                b'boundary="b1"', b"MIME-Version: 1.0"]) + CRLF + CRLF
            + b"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
            + b"--b1\r\nContent-Type: application/octet-stream\r\n\r\n" + ARMOR + b"--b1--\r\n")


def plain(*fields: bytes, body: bytes = b"Hoi, tot morgen.\r\n") -> bytes:
    return CRLF.join([*fields, b"Content-Type: text/plain; charset=utf-8"]) + CRLF + CRLF + body


def nested(depth: int, leaf: bytes = b"Content-Type: text/plain\r\n\r\nhoi\r\n") -> bytes:
    entity = leaf
    for level in range(depth):
        boundary = b"n%d" % level
        entity = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary + CRLF
                  + entity + b"\r\n--" + boundary + b"--\r\n")
    return entity


def comments(depth: int) -> bytes:
    return b"(" * depth + b"x" + b")" * depth


VT_FROM = b"From: Veilig Thuis <" + VT.encode() + b">"
OTHER_FROM = b"From: Buurvrouw <buurvrouw@example.nl>"

# (name, header fields beside From): each chokes or slows Python's parser, or is over a cap.
HOSTILE: dict[str, tuple[bytes, ...]] = {
    "empty-message-id": (b"Message-ID: <>",),
    "message-id-of-spaces": (b"Message-ID: <a b@c d>",),
    "message-id-comment-bomb": (b"Message-ID: " + comments(5000),),
    "nested-comments-in-subject": (b"Subject: " + comments(3000),),
    "300-kb-field": (b"X-Padding: " + b"x" * 300_000,),
    "300-kb-folded": (b"X-Padding: " + b"\r\n ".join([b"y" * 70] * 4300),),
    "megabyte-subject": (b"Subject: " + b"=?utf-8?q?x?= " * 80_000,),
    "quotes-in-content-type": (b"Content-Type: " + b'"' * 16_000,),
    "many-fields": tuple(b"X-F%d: 1" % index for index in range(600)),
    "nul-and-latin-1": (b"Subject: \x00\xff\xfe caf\xe9 \x00",),
    "broken-encoded-words": (b"Subject: =?utf-8?b?=?x?q?==?= =?unknown-8?q?x?=",),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_trusted_senders_mail_with_a_hostile_header_is_held_not_raised(name: str) -> None:
    outcome, seconds = timed(pgp_mime(VT_FROM, *HOSTILE[name]))
    assert isinstance(outcome, Held), outcome
    assert outcome.disposition is Disposition.QUARANTINED
    assert seconds < BOUND_SECONDS


@pytest.mark.parametrize("name", list(HOSTILE))
def test_someone_elses_mail_with_a_hostile_header_is_left_alone(name: str) -> None:
    outcome, seconds = timed(plain(OTHER_FROM, *HOSTILE[name]))
    assert outcome == NotOurs()
    assert seconds < BOUND_SECONDS


@pytest.mark.parametrize("field", [b"X-Padding: " + b"x" * 300_000, b"Subject: x" + b"\r\n y" * 90_000],
                         ids=["long-line", "folded"])
def test_over_a_cap_the_raw_from_decides_and_the_reason_is_malformed_header(field: bytes) -> None:
    assert not mime.header_fits(pgp_mime(VT_FROM, field), LIMITS)
    assert intake(pgp_mime(VT_FROM, field)) == Held(Reason.MALFORMED_HEADER)
    assert intake(plain(OTHER_FROM, field)) == NotOurs()
    # A trusted address only in the display name, or in a second From, still counts: fail closed.
    assert intake(plain(b'From: "' + VT.encode() + b'" <x@evil.example>', field)) == Held(Reason.MALFORMED_HEADER)


def test_many_fields_over_the_count_cap() -> None:
    fields = tuple(b"X-F%d: 1" % index for index in range(LIMITS.max_header_count))
    assert not mime.header_fits(pgp_mime(VT_FROM, *fields), LIMITS)
    assert intake(pgp_mime(VT_FROM, *fields)) == Held(Reason.MALFORMED_HEADER)


def test_the_caps_hold_exactly_at_their_values() -> None:
    small = Limits(max_header_bytes=200, max_header_count=3, max_header_field_bytes=40)
    at_field_cap = b"X-A: " + b"a" * 33 + CRLF           # 40 bytes with its CRLF
    assert mime.header_fits(at_field_cap + CRLF, small)
    assert not mime.header_fits(b"X-A: " + b"a" * 34 + CRLF + CRLF, small)
    folded = b"X-A: " + b"a" * 10 + b"\r\n " + b"a" * 20 + CRLF   # a folded field counts with its continuation
    assert len(folded) == 40 and mime.header_fits(folded + CRLF, small)
    assert not mime.header_fits(folded[:-2] + b"a" + CRLF + CRLF, small)
    assert mime.header_fits(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\nD: body, not header\r\n", small)
    assert not mime.header_fits(b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", small)
    assert not mime.header_fits((b"X: " + b"z" * 30 + CRLF) * 3, Limits(max_header_bytes=100))
    # From and Content-* go through the quadratic parser: they have the tighter cap.
    assert mime.header_fits(b"X-Long: " + b"q" * 1000 + CRLF + CRLF, LIMITS)
    assert not mime.header_fits(b"From: " + b"q" * 1000 + CRLF + CRLF, LIMITS)
    assert not mime.header_fits(b"content-TYPE : " + b"q" * 1000 + CRLF + CRLF, LIMITS)


def test_lines_end_as_the_parser_ends_them_with_a_lone_cr_too() -> None:
    assert mime.header_block(b"From: a@b.nl\rSubject: x\r\rbody") == b"From: a@b.nl\rSubject: x\r"
    assert mime.header_block(b"From: a@b.nl\nSubject: x\n\nbody") == b"From: a@b.nl\nSubject: x\n"
    assert mime.header_block(b"\r\nFrom: a@b.nl\r\n") == b""
    assert mime.header_block(b"From: a@b.nl") == b"From: a@b.nl"
    assert mime.from_fields(b"X: 1\rfrom :\r\n hwc@vt.example.nl\r\n\r\nFrom: body@example.nl") == [VT]


@pytest.mark.parametrize("depth", [3000, 600, 60])
def test_deep_mime_nesting_stops_at_the_part_cap_before_it_costs_anything(depth: int) -> None:
    outcome, seconds = timed(VT_FROM + CRLF + nested(depth))
    assert outcome == Held(Reason.TOO_MANY_PARTS)
    assert seconds < BOUND_SECONDS
    # Someone else's: left alone (a newsletter with many parts is ordinary mail in a shared mailbox).
    assert intake(OTHER_FROM + CRLF + nested(depth)) == NotOurs()


def test_deep_message_rfc822_nesting_stops_at_the_part_cap() -> None:
    entity = b"Content-Type: text/plain\r\n\r\nhoi\r\n"
    for _ in range(2000):
        entity = b"Content-Type: message/rfc822\r\n\r\n" + entity
    assert intake(VT_FROM + CRLF + entity) == Held(Reason.TOO_MANY_PARTS)


def test_a_hostile_header_in_a_mime_part_is_measured_too() -> None:
    bomb = b"--b1\r\nContent-Type: text/plain; name=" + b'"' * 20_000 + b"\r\n\r\nhoi\r\n"
    raw = VT_FROM + b'\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n' + bomb + b"--b1--\r\n"
    outcome, seconds = timed(raw)
    assert outcome == Held(Reason.MALFORMED_HEADER)
    assert seconds < BOUND_SECONDS


def test_a_from_the_parser_chokes_on_is_held_for_a_trusted_address_only() -> None:
    """1000-deep comments (2 KB) are over the From cap; under it, the parser may still raise: both are held."""
    deep = b"From: VT " + comments(1000) + b" <" + VT.encode() + b">"
    assert intake(pgp_mime(deep)) == Held(Reason.MALFORMED_HEADER)
    assert intake(plain(b"From: Buur " + comments(1000) + b" <buur@example.nl>")) == NotOurs()
    # 100 deep parses fine and reaches decryption.
    assert intake(pgp_mime(b"From: VT " + comments(100) + b" <" + VT.encode() + b">")) == \
        Held(Reason.DECRYPTION_FAILED)


def test_several_from_fields_are_judged_raw_and_never_all_parsed() -> None:
    many = tuple(b"From: " + b'"' * 400 + b" <x%d@example.nl>" % index for index in range(200))
    outcome, seconds = timed(plain(*many))
    assert outcome == NotOurs() and seconds < BOUND_SECONDS
    assert intake(pgp_mime(VT_FROM, b"From: x@example.nl")) == Held(Reason.MULTIPLE_FROM)


def test_a_genuine_looking_signal_with_an_empty_message_id_reaches_decryption() -> None:
    assert intake(pgp_mime(VT_FROM, b"Message-ID: <>")) == Held(Reason.DECRYPTION_FAILED)


@pytest.mark.parametrize(("header", "expected"), [
    (b"Message-ID: <1715.42@veiligthuis-zl.example.nl>\r\n", "<1715.42@veiligthuis-zl.example.nl>"),
    (b"message-id:\r\n\t<AM0PR+x=y_z@eur.prod.outlook.com>  \r\n", "<AM0PR+x=y_z@eur.prod.outlook.com>"),
    (b"Message-ID: <a@b>\r\nMessage-ID: <c@d>\r\n", "<a@b>"),
    (b"Message-ID: <>\r\n", ""),
    (b"Message-ID: <a b@c>\r\n", ""),
    (b"Message-ID: <a@b@c>\r\n", ""),
    (b"Message-ID: <ab>\r\n", ""),
    (b"Message-ID: a@b\r\n", ""),
    (b"Message-ID: <a@b> (comment)\r\n", ""),
    (b"Message-ID: <%s@b>\r\n" % (b"x" * 300), ""),
    (b"Message-ID: <\xe9@b>\r\n", ""),
    (b"Message-ID: " + comments(5000) + b"\r\n", ""),
    (b"Subject: x\r\n", ""),
    (b"Subject: x\r\n\r\nMessage-ID: <in@body>\r\n", ""),
])
def test_the_message_id_is_read_raw_and_only_when_well_formed(header: bytes, expected: str) -> None:
    assert mime.message_id_of(header) == expected


@pytest.mark.parametrize(("value", "looked_up"), [
    ("<hwc.0123abcd@maastricht.example.nl>", True), ("<A@x>", True), ("<>", False), ("<A", False),
    ("A@x", False), ("<A @x>", False), ("<a@b@c>", False), ("<%*@x>", False), ("<" + "a" * 250 + "@x>", False),
])
def test_only_a_well_formed_message_id_is_ever_looked_up(value: str, looked_up: bool) -> None:
    """One shape for what intake reads and what the mailbox searches and deletes by (domain.text)."""
    assert well_formed_message_id(value) is looked_up
    assert (message_id_of(f"Message-ID: {value}\r\n\r\n".encode()) == value) is looked_up


def test_an_oversized_messages_header_alone_decides_and_never_raises() -> None:
    assert oversized(VT_FROM + b"\r\nMessage-ID: <>\r\n\r\n", RULES, LIMITS) == Held(Reason.TOO_LARGE)
    assert oversized(OTHER_FROM + b"\r\nX: " + b"x" * 300_000 + b"\r\n\r\n", RULES, LIMITS) == NotOurs()
    assert oversized(b"From: VT " + comments(1000) + b" <" + VT.encode() + b">\r\n\r\n", RULES, LIMITS) == \
        Held(Reason.TOO_LARGE)
    assert header_sender(b"From: \x00\xff <" + VT.encode() + b">\r\n\r\n", RULES, LIMITS) is RULES.trusted_senders[0]


def test_the_address_scan_is_linear_on_a_megabyte_without_an_at_sign() -> None:
    started = time.monotonic()
    assert mime.addresses_in(["a" * 1_000_000, "." * 1_000_000 + "@", "x@" + "y" * 1_000_000]) == []
    assert time.monotonic() - started < BOUND_SECONDS


# ---- the property -------------------------------------------------------------------------------------------

NAMES = st.sampled_from([b"From", b"from", b"FROM", b"To", b"Subject", b"Message-ID", b"Message-Id", b"References",
                         b"Content-Type", b"Content-Transfer-Encoding", b"Content-Disposition", b"MIME-Version",
                         b"Received", b"X-Junk", b"Sender", b"Reply-To"]) | st.binary(max_size=12)
PIECES = st.sampled_from([b"<>", b"<", b">", b"(", b")", b"((((", b"))))", b'"', b"\\", b",", b";", b"=", b":", b"@",
                          b".", b"a=\"", b";a=", b"=?utf-8?q?x?=", b"=?utf-8?b?eA==?=", b"=?x?q?", b"?=", b"<a@b>",
                          b"a@b.example", VT.encode(), b"multipart/mixed; boundary=b", b"text/plain; charset=x-bad",
                          b"base64", b"quoted-printable", b"\x00", b"\xff\xfe", b"\xe9", b"\r\n ", b"\r\n\t", b"\r",
                          b"\n", b" ", b"\t", b"x", b"Veilig Thuis"]) | st.binary(max_size=8)
# Mostly a few of a piece, sometimes a great many: megabyte values cost hypothesis nothing this way.
REPEATS = st.integers(1, 4) | st.sampled_from([50, 400, 3000, 20_000, 60_000])
VALUES = st.lists(st.tuples(PIECES, REPEATS), max_size=6).map(lambda pairs: b"".join(piece * count
                                                                                     for piece, count in pairs))
FIELDS = st.lists(st.tuples(NAMES, VALUES).map(lambda field: field[0] + b": " + field[1]), max_size=8)
SENDERS = st.sampled_from([VT_FROM, OTHER_FROM, b"From: " + comments(100) + b" <" + VT.encode() + b">",
                           b'From: "' + VT.encode() + b'" <x@evil.example>', b"From: <>", b"From:"]) \
    | VALUES.map(lambda value: b"From: " + value)


@st.composite
def entities(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A MIME entity: a leaf, a multipart of such, a message/rfc822, or a tower of plain nesting."""
    fields = draw(FIELDS)
    kind = draw(st.sampled_from(["leaf", "leaf", "multipart", "rfc822", "tower"]) if depth < 3 else st.just("leaf"))
    if kind == "multipart":
        boundary = draw(st.sampled_from([b"b", b"==x==", b"", b'"', b"a b"]))
        children = draw(st.lists(entities(depth + 1), max_size=4))
        body = b"".join(b"--" + boundary + CRLF + child + CRLF for child in children) + b"--" + boundary + b"--\r\n"
        content_type = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"'
    elif kind == "rfc822":
        body = draw(entities(depth + 1))
        content_type = b"Content-Type: message/rfc822"
    elif kind == "tower":
        return CRLF.join(fields) + CRLF + nested(draw(st.sampled_from([2, 8, 45, 60, 700])))
    else:
        body = draw(st.sampled_from([b"hoi\r\n", ARMOR, b"Handle with Care\r\n", b"\xff\x00\r\n"])
                    | st.binary(max_size=64))
        content_type = draw(st.sampled_from([b"Content-Type: text/plain", b"Content-Type: text/html; charset=utf-8",
                                             b"Content-Type: application/pgp-encrypted", b""]))
    return CRLF.join([*fields, content_type]) + CRLF + CRLF + body


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    return draw(SENDERS) + CRLF + draw(entities())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(messages())
@example(VT_FROM + b"\r\nMessage-ID: <>\r\n\r\nhoi")
@example(VT_FROM + b"\r\nSubject: " + comments(3000) + b"\r\n\r\nhoi")
@example(b"From: VT " + comments(400) + b" <" + VT.encode() + b">\r\nX: " + b"=?utf-8?q?x?= " * 90_000 + b"\r\n\r\n")
def test_any_mail_gives_an_outcome_never_an_exception_and_never_minutes(raw: bytes) -> None:
    started = time.monotonic()
    outcome = intake(raw)
    assert isinstance(outcome, (NotOurs, Held))
    assert isinstance(header_sender(mime.header_block(raw), RULES, LIMITS), (Held, NotOurs, TrustedSender))
    message_id = mime.message_id_of(raw)
    assert message_id == "" or well_formed_message_id(message_id)
    assert time.monotonic() - started < bound(raw)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(entities())
def test_any_signed_content_gives_an_outcome_never_an_exception(inner: bytes) -> None:
    """Inside the encryption too: hand the generated entity back as if Veilig Thuis had signed it."""
    started = time.monotonic()
    outcome = intake(pgp_mime(VT_FROM), FakeKeyring(inner))
    assert isinstance(outcome, (Authentic, Held))
    assert time.monotonic() - started < bound(inner)
