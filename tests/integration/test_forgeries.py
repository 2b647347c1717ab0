"""A catalogue of forged and broken signals, each made with real gpg and run through the real daemon.

Every case claims to come from Veilig Thuis (or looks like a signal from someone else). None
may reach a school: each must land in the quarantine folder with the reason an officer is
told, one alert, one anonymous counter row, and no child's data anywhere the run wrote.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Delivered
from lab.forge import (
    ATTACKER,
    CONTROL,
    OTHER_CHILD,
    SIGNAL,
    Forger,
    config_with_sender_keys,
    flip,
    generate_signing_key,
    gpg,
    inline,
    inner_text,
    message,
    multipart,
    part,
    payload,
    pgp_mime,
    signal_text,
)
from lab.world import OFFICE, OFFICER, VEILIG_THUIS, World
from tests.integration.helpers import InProcess, Run, assert_held_and_nothing_sent, assert_no_personal_data, counters

QUARANTINE = "HWC-Quarantaine"
VT_FROM = f"Veilig Thuis Zuid-Limburg <{VEILIG_THUIS}>"


@pytest.fixture(scope="session")
def forger(world: World, lab_dir: Path) -> Iterator[Forger]:
    """Forging keys in their own gpg home; the revoked, expired and old keys also in the inbound keyring."""
    forger = Forger(world, lab_dir / "forgeries")
    forger.enlist(lab_dir / "forgeries")
    yield forger
    forger.close()


def config(run: Run, forger: Forger, settings: str = "") -> Path:
    """The run's service file, with rules that also list the extra Veilig Thuis keys (same state dir)."""
    return config_with_sender_keys(run.world, run.directory / "etc2", forger.extra_keys,
                                   state_dir=run.directory / "state", extra_yaml=settings)


# ---- builders: one forged or broken message each ------------------------------------------------------------

def valid(f: Forger, text: str = SIGNAL) -> bytes:
    """The genuine article, as a reference: signed by Veilig Thuis, encrypted to the office, PGP/MIME."""
    return f.sign_encrypt(inner_text(text))


def clearsigned_inline(f: Forger) -> bytes:
    return inline(f.clearsign(SIGNAL))


def pgp_mime_signed_only(f: Forger) -> bytes:
    signed = part("text/plain; charset=utf-8", SIGNAL, "Content-Transfer-Encoding: 8bit")
    signed = signed.replace("\r\n", "\n").replace("\n", "\r\n")
    signature = part('application/pgp-signature; name="signature.asc"', f.detached(signed.encode()))
    kind, body = multipart("signed", [signed, signature], '; micalg=pgp-sha512; protocol="application/pgp-signature"')
    return message(kind, body)


def armored_signed_only_inline(f: Forger) -> bytes:
    """`gpg --sign --armor`: a `BEGIN PGP MESSAGE` block that is signed but not encrypted."""
    return inline(f.sign_only(SIGNAL.encode()))


def encrypted_unsigned_pgp_mime(f: Forger) -> bytes:
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), signers=()))


def revoked_key(f: Forger) -> bytes:
    assert f.revoked_ciphertext is not None
    return pgp_mime(f.revoked_ciphertext)


def expired_key(f: Forger) -> bytes:
    """Signed while the key was valid (nine days before it expired); it has expired since."""
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), signers=(f.expired,), at=f.now - timedelta(days=10, hours=-1)))


def school_key(f: Forger) -> bytes:
    school = f.world.schools[0]
    ciphertext = f.world.armored(inner_text(SIGNAL), signer=school.fingerprint, signer_home=school.home)
    return pgp_mime(ciphertext)


def other_senders_key(f: Forger) -> bytes:
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), signers=(f.world.other_sender,)))


def two_signatures(f: Forger) -> bytes:
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), signers=(f.world.veilig_thuis, f.world.other_sender)))


def signature_too_old(f: Forger) -> bytes:
    """A month old, by a listed key that was valid then and is valid now: beyond the 14 days allowed."""
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), signers=(f.old,), at=f.now - timedelta(days=30)))


def signature_in_future(f: Forger) -> bytes:
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), at=f.now + timedelta(days=2)))


def signature_expired(f: Forger) -> bytes:
    """A signature that itself expired (made three days ago, valid one day)."""
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), signers=(f.old,), at=f.now - timedelta(days=3),
                                   sig_expire="1d"))


def clear_part_beside_encrypted(f: Forger) -> bytes:
    """multipart/mixed: a genuine encrypted signal plus a clear text/plain naming another child."""
    encrypted_kind, encrypted_body = multipart("encrypted", [CONTROL, payload(valid(f))],
                                               '; protocol="application/pgp-encrypted"')
    clear = part("text/plain; charset=utf-8", signal_text([OTHER_CHILD]))
    kind, body = multipart("mixed", [clear, f"Content-Type: {encrypted_kind}\r\n\r\n{encrypted_body}"])
    return message(kind, body)


def display_name_trick(f: Forger) -> bytes:
    return pgp_mime(valid(f), sender=f'"{VEILIG_THUIS}" <{ATTACKER}>')


def encoded_display_name_trick(f: Forger) -> bytes:
    return pgp_mime(valid(f), sender=f"=?utf-8?q?{VEILIG_THUIS.replace('@', '=40')}?= <{ATTACKER}>")


def comment_trick(f: Forger) -> bytes:
    return pgp_mime(valid(f), sender=f"{ATTACKER} ({VEILIG_THUIS})")


def sender_header_trick(f: Forger) -> bytes:
    """From is the attacker; Sender and Reply-To name Veilig Thuis."""
    return pgp_mime(valid(f), sender=ATTACKER, extra=(f"Sender: {VT_FROM}", f"Reply-To: {VT_FROM}"))


def two_addresses_in_from(f: Forger) -> bytes:
    return pgp_mime(valid(f), sender=f"{VT_FROM}, {ATTACKER}")


def two_from_headers(f: Forger) -> bytes:
    return pgp_mime(valid(f), extra=(f"From: {ATTACKER}",))


def tampered_ciphertext(f: Forger) -> bytes:
    return pgp_mime(flip(valid(f)))


def encrypted_to_a_school(f: Forger) -> bytes:
    return pgp_mime(f.sign_encrypt(inner_text(SIGNAL), recipient=f.world.schools[0].fingerprint))


def two_armored_blocks_inline(f: Forger) -> bytes:
    first = f.sign_encrypt(SIGNAL.encode()).decode()
    second = f.sign_encrypt(signal_text([OTHER_CHILD]).encode()).decode()
    return inline(first + "\n" + second)


def text_around_inline_block(f: Forger) -> bytes:
    armored = f.sign_encrypt(SIGNAL.encode()).decode()
    return inline(f"Beste collega,\n\n{armored}\n{signal_text([OTHER_CHILD])}")


def pgp_mime_parts_swapped(f: Forger) -> bytes:
    return pgp_mime(b"", parts=[payload(valid(f)), CONTROL])


def pgp_mime_without_control(f: Forger) -> bytes:
    return pgp_mime(b"", parts=[payload(valid(f))])


def pgp_mime_wrong_protocol(f: Forger) -> bytes:
    return pgp_mime(valid(f), protocol="application/pkcs7-mime")


def pgp_mime_wrong_version(f: Forger) -> bytes:
    return pgp_mime(b"", parts=[part("application/pgp-encrypted", "Version: 2\r\n"), payload(valid(f))])


def pgp_mime_two_blocks(f: Forger) -> bytes:
    return pgp_mime(valid(f) + valid(f, signal_text([OTHER_CHILD])))


def encrypted_as_attachment(f: Forger) -> bytes:
    """An Outlook user attaching the armored file to a plain mail."""
    note = part("text/plain; charset=utf-8", "Zie bijlage.\n")
    attachment = part('application/octet-stream; name="signaal.asc"', valid(f),
                      'Content-Disposition: attachment; filename="signaal.asc"')
    kind, body = multipart("mixed", [note, attachment])
    return message(kind, body)


def nested_pgp_inline(f: Forger) -> bytes:
    smuggled = f.sign_encrypt(signal_text([OTHER_CHILD]).encode()).decode()
    return inline(f.sign_encrypt(f"{SIGNAL}\n{smuggled}".encode()))


def nested_pgp_mime_part(f: Forger) -> bytes:
    smuggled = f.sign_encrypt(inner_text(signal_text([OTHER_CHILD])))
    kind, body = multipart("mixed", [part("text/plain; charset=utf-8", SIGNAL),
                                     part("application/pgp-encrypted", smuggled)])
    return pgp_mime(f.sign_encrypt(f"Content-Type: {kind}\r\n\r\n{body}".encode()))


def nested_pgp_hidden_in_base64(f: Forger) -> bytes:
    """The inner text part is base64: its decoded text carries another armored PGP message."""
    import base64
    smuggled = f.sign_encrypt(signal_text([OTHER_CHILD]).encode()).decode()
    encoded = base64.encodebytes(f"{SIGNAL}\n{smuggled}".encode()).decode()
    inner = f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}"
    return pgp_mime(f.sign_encrypt(inner.encode()))


def too_large(f: Forger) -> bytes:
    """A genuine signal with an incompressible appendix, over a cap of SMALL bytes."""
    raw = pgp_mime(valid(f, f"{SIGNAL}\n{secrets.token_hex(SMALL)}\n"))
    assert len(raw) > SMALL
    return raw


def too_deep_inside(f: Forger) -> bytes:
    entity = part("text/plain; charset=utf-8", SIGNAL)
    for _ in range(10):
        kind, body = multipart("mixed", [entity])
        entity = f"Content-Type: {kind}\r\n\r\n{body}"
    return pgp_mime(f.sign_encrypt(entity.encode()))


def too_many_parts_inside(f: Forger) -> bytes:
    kind, body = multipart("mixed", [part("text/plain; charset=utf-8", SIGNAL)] +
                           [part("text/plain; charset=utf-8", f"bijlage {index}\n") for index in range(60)])
    return pgp_mime(f.sign_encrypt(f"Content-Type: {kind}\r\n\r\n{body}".encode()))


def too_many_parts_outside(f: Forger) -> bytes:
    kind, body = multipart("mixed", [part("text/plain", f"deel {index}\n") for index in range(60)])
    return message(kind, body)


def undecodable_inline(f: Forger) -> bytes:
    return inline(f.sign_encrypt(SIGNAL.replace("collega", "coll\xe9ga").encode("latin-1")))


def untrusted_plaintext_signal(f: Forger) -> bytes:
    return message("text/plain; charset=utf-8", SIGNAL, sender=f"Veilig Thuis <{ATTACKER}>")


def untrusted_subject_only(f: Forger) -> bytes:
    return message("text/plain; charset=utf-8", "Zie telefoon.\n", sender=ATTACKER,
                   subject="Handle with Care signaal")


def untrusted_pgp_mime(f: Forger) -> bytes:
    return pgp_mime(valid(f), sender=f"Veilig Thuis Limburg <{ATTACKER}>")


@dataclass(frozen=True)
class Case:
    build: Callable[[Forger], bytes]
    reason: str
    settings: str = ""       # YAML appended to the service file


SMALL = 2048



CASES: dict[str, Case] = {
    # signed, but not encrypted
    "clearsigned-inline": Case(clearsigned_inline, "not-encrypted"),
    "pgp-mime-signed-only": Case(pgp_mime_signed_only, "not-encrypted"),
    "armored-signed-only-inline": Case(armored_signed_only_inline, "not-encrypted"),
    # encrypted, but not (properly) signed
    "unsigned-pgp-mime": Case(encrypted_unsigned_pgp_mime, "unsigned"),
    "revoked-key": Case(revoked_key, "key-revoked"),
    "expired-key": Case(expired_key, "key-expired"),
    "school-key": Case(school_key, "unknown-key"),
    "other-senders-key": Case(other_senders_key, "wrong-signer"),
    "two-signatures": Case(two_signatures, "several-signatures"),
    "signature-too-old": Case(signature_too_old, "signature-too-old"),
    "signature-in-future": Case(signature_in_future, "signature-in-future"),
    "signature-expired": Case(signature_expired, "signature-expired"),
    # the envelope lies
    "display-name-trick": Case(display_name_trick, "untrusted-sender"),
    "encoded-display-name-trick": Case(encoded_display_name_trick, "untrusted-sender"),
    "comment-trick": Case(comment_trick, "untrusted-sender"),
    "sender-and-reply-to-trick": Case(sender_header_trick, "untrusted-sender"),
    "two-addresses-in-from": Case(two_addresses_in_from, "multiple-from"),
    "two-from-headers": Case(two_from_headers, "multiple-from"),
    # the ciphertext or its wrapping is wrong
    "tampered-ciphertext": Case(tampered_ciphertext, "decryption-failed"),
    "encrypted-to-a-school": Case(encrypted_to_a_school, "decryption-failed"),
    "clear-part-beside-encrypted": Case(clear_part_beside_encrypted, "unencrypted-parts"),
    "two-armored-blocks-inline": Case(two_armored_blocks_inline, "text-around-armor"),
    "text-around-inline-block": Case(text_around_inline_block, "text-around-armor"),
    "pgp-mime-parts-swapped": Case(pgp_mime_parts_swapped, "malformed-pgp-mime"),
    "pgp-mime-without-control": Case(pgp_mime_without_control, "malformed-pgp-mime"),
    "pgp-mime-wrong-protocol": Case(pgp_mime_wrong_protocol, "malformed-pgp-mime"),
    "pgp-mime-version-2": Case(pgp_mime_wrong_version, "malformed-pgp-mime"),
    "pgp-mime-two-blocks": Case(pgp_mime_two_blocks, "malformed-pgp-mime"),
    "encrypted-as-attachment": Case(encrypted_as_attachment, "not-encrypted"),
    "too-large": Case(too_large, "too-large",
                      f"limits:\n  max_message_bytes: {SMALL}\n"),
    # what was signed is not a plain signal
    "nested-pgp-inline": Case(nested_pgp_inline, "nested-pgp"),
    "nested-pgp-mime-part": Case(nested_pgp_mime_part, "nested-pgp"),
    "nested-pgp-in-base64": Case(nested_pgp_hidden_in_base64, "nested-pgp"),
    "too-deep-inside": Case(too_deep_inside, "too-deep"),
    "too-many-parts-inside": Case(too_many_parts_inside, "too-many-parts"),
    "too-many-parts-outside": Case(too_many_parts_outside, "too-many-parts"),
    "undecodable-inline": Case(undecodable_inline, "undecodable-text"),
    # signal-like, from someone not in the rules
    "untrusted-plaintext-signal": Case(untrusted_plaintext_signal, "untrusted-sender"),
    "untrusted-subject-only": Case(untrusted_subject_only, "untrusted-sender"),
    "untrusted-pgp-mime": Case(untrusted_pgp_mime, "untrusted-sender"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_forged_signal_is_quarantined_and_an_officer_told(run: Run, pipeline: InProcess, forger: Forger,
                                                            name: str) -> None:
    world, case = run.world, CASES[name]
    world.deliver_signal(case.build(forger))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once(config=config(run, forger, case.settings))

    alert = assert_held_and_nothing_sent(run, outcomes, f"quarantined:{case.reason}", sent_before)
    assert_no_personal_data([repr(outcomes), alert], run.written)


@pytest.mark.parametrize("envelope", ["same-message", "new-envelope"])
def test_a_replayed_signal_reaches_the_school_once_and_the_replay_is_quarantined(run: Run, pipeline: InProcess,
                                                                                 forger: Forger, envelope: str) -> None:
    """An attacker who captured a genuine signal sends it again: as it was, or re-wrapped with a new Message-ID."""
    world = run.world
    ciphertext = valid(forger)
    original = pgp_mime(ciphertext)
    world.deliver_signal(original)
    school = world.schools[0]
    first = pipeline.once()
    assert first == [Delivered((school.code,), 1)]
    (delivered,) = world.school_mail(school)
    sent_before = len(world.smtp.received)

    world.deliver_signal(original if envelope == "same-message" else pgp_mime(ciphertext, subject="Melding (2)"))
    second = pipeline.once()

    assert [outcome.code for outcome in second] == ["quarantined:replay"]
    assert world.school_mail(school) == [delivered]
    assert world.school_mail(world.schools[1]) == []
    assert world.dovecot.messages(OFFICE) == []
    assert len(world.dovecot.messages(OFFICE, QUARANTINE)) == 1
    assert [received.rcpt_tos for received in world.smtp.received[sent_before:]] == [(OFFICER,)]
    (alert_mail,) = world.officer_mail()
    alert = world.read_alert(alert_mail)
    assert "replay" in alert and QUARANTINE in alert
    assert sorted(row.outcome for row in counters(run)) == ["delivered", "quarantined:replay"]
    assert_no_personal_data([repr(first), repr(second), alert, alert_mail.decode("latin-1")], run.written)


def test_a_key_carried_inside_a_signature_never_enters_the_keyring(run: Run, pipeline: InProcess,
                                                                  forger: Forger) -> None:
    """gpg can embed the signer's key in a signature (--include-key-block); it must not make the signer known."""
    world = run.world
    stranger = generate_signing_key(forger.home, f"Veilig Thuis (nep) <{ATTACKER}>")
    ciphertext = gpg(forger.home, "--armor", "--recipient", world.office, "--local-user", stranger,
                     "--include-key-block", "--sign", "--encrypt", stdin=inner_text(SIGNAL))
    world.deliver_signal(pgp_mime(ciphertext))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once(config=config(run, forger))

    alert = assert_held_and_nothing_sent(run, outcomes, "quarantined:unknown-key", sent_before)
    listing = subprocess.run(["gpg", "--homedir", str(world.inbound_home), "--list-keys", "--with-colons"],
                             capture_output=True, text=True, check=True).stdout
    assert stranger not in listing
    assert_no_personal_data([repr(outcomes), alert], run.written)
