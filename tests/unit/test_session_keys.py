"""Session-key packets before decryption: a signal has a few public-key ones and no passphrase one."""

import base64

from hwc_mailer.edges.gpg import MAX_PUBLIC_KEY_PACKETS, plausible_session_keys


def armored(*packets: bytes) -> bytes:
    body = base64.b64encode(b"".join(packets)).decode()
    return f"-----BEGIN PGP MESSAGE-----\n\n{body}\n=AAAA\n-----END PGP MESSAGE-----\n".encode()


def new_format(tag: int, body: bytes) -> bytes:
    assert len(body) < 192
    return bytes([0xC0 | tag, len(body)]) + body


def old_format(tag: int, body: bytes) -> bytes:
    return bytes([0x80 | (tag << 2) | 1]) + len(body).to_bytes(2, "big") + body


PKESK = new_format(1, b"\x03" + b"k" * 60)
DATA = new_format(18, b"\x01" + b"x" * 40)


def test_a_few_public_key_packets_are_left_for_gpg() -> None:
    assert plausible_session_keys(armored(PKESK, old_format(1, b"\x03" + b"k" * 60), PKESK, DATA))


def test_a_passphrase_packet_is_refused_before_gpg_spends_seconds_on_it() -> None:
    assert not plausible_session_keys(armored(PKESK, new_format(3, b"\x04\x09\x03" + b"s" * 12), DATA))
    assert not plausible_session_keys(armored(old_format(3, b"\x04\x09\x03" + b"s" * 12), PKESK, DATA))


def test_hundreds_of_public_key_packets_are_refused() -> None:
    assert plausible_session_keys(armored(*[PKESK] * MAX_PUBLIC_KEY_PACKETS, DATA))
    assert not plausible_session_keys(armored(*[PKESK] * (MAX_PUBLIC_KEY_PACKETS + 1), DATA))


def test_what_it_cannot_read_is_left_for_gpg_to_judge() -> None:
    assert plausible_session_keys(b"not armored at all")
    assert plausible_session_keys(armored(b"\x00\x01\x02"))


def test_a_junk_packet_in_front_does_not_hide_passphrase_packets() -> None:
    junk = new_format(61, b"j" * 10)
    assert not plausible_session_keys(armored(junk, new_format(3, b"\x04\x09\x03" + b"s" * 12), PKESK, DATA))
    assert not plausible_session_keys(armored(new_format(12, b"t"), *[PKESK] * (MAX_PUBLIC_KEY_PACKETS + 1), DATA))
