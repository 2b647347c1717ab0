"""Signals whose cryptography is odd or hostile, made with real gpg and run through the real pipeline in-process.

A genuine signal that was also encrypted to other keys (encrypt-to-self, a Cc) is delivered; a signal signed for
another office and re-encrypted to us is quarantined; a decompression bomb is quarantined without ever being
held in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Delivered
from lab.forge import SIGNAL, Forger, inner_text, multipart, part, pgp_mime, protected_inner
from lab.world import OFFICE, World
from tests.integration.helpers import InProcess, Run, assert_held_and_nothing_sent, assert_no_personal_data

OTHER_OFFICE = "leerplicht@heerlen.example.nl"
ALIAS = "hwc@maastricht.example.nl"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def forger(world: World, lab_dir: Path) -> Iterator[Forger]:
    """Veilig Thuis' key (and the other keys a forger holds) in a gpg home of its own."""
    forger = Forger(world, lab_dir / "hostile")
    yield forger
    forger.close()


def with_settings(run: Run, yaml: str) -> Path:
    """The run's own service file with `yaml` appended (same state dir, same rules)."""
    run.config.write_text(run.config.read_text() + yaml)
    return run.config


def assert_delivered_to_the_school(run: Run, outcomes: object) -> None:
    school = run.world.schools[0]
    assert outcomes == [Delivered((school.code,), 1)]
    assert len(run.world.school_mail(school)) == 1
    assert_no_personal_data([repr(outcomes)], run.written)


# ---- 1. encrypted to more keys than ours -------------------------------------------------------------------------

@pytest.mark.parametrize("also", ["encrypt-to-self", "encrypt-to-self-and-a-cc"])
def test_a_signal_also_encrypted_to_other_keys_is_delivered(run: Run, pipeline: InProcess, forger: Forger,
                                                            also: str) -> None:
    """gpg reports NO_SECKEY for the other recipients' key packets; our key decrypted it, so that is no problem."""
    world = run.world
    others = [world.veilig_thuis] if also == "encrypt-to-self" else [world.veilig_thuis, world.other_sender]
    world.deliver_signal(pgp_mime(forger.sign_encrypt_to(inner_text(SIGNAL), [world.office, *others])))

    assert_delivered_to_the_school(run, pipeline.once())


def test_a_signal_encrypted_only_to_other_keys_is_still_quarantined(run: Run, pipeline: InProcess,
                                                                   forger: Forger) -> None:
    world = run.world
    world.deliver_signal(pgp_mime(forger.sign_encrypt_to(inner_text(SIGNAL),
                                                         [world.veilig_thuis, world.other_sender])))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once()

    alert = assert_held_and_nothing_sent(run, outcomes, "quarantined:decryption-failed", sent_before)
    assert_no_personal_data([repr(outcomes), alert], run.written)


# ---- 2. signed for whom ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("to", "settings"), [
    (f"Leerplicht Maastricht-Heuvelland <{OFFICE}>", ""),
    (OFFICE.upper(), ""),
    (ALIAS, f"trust:\n  recipient_aliases: [{ALIAS}]\n"),
    (f"{OFFICE}, Leerplicht <{ALIAS}>", f"trust:\n  recipient_aliases: [{ALIAS}]\n"),
], ids=["office", "office-in-capitals", "alias", "office-and-alias"])
def test_a_signal_signed_for_this_office_is_delivered(run: Run, pipeline: InProcess, forger: Forger, to: str,
                                                      settings: str) -> None:
    """Thunderbird's protected To: inside the encrypted part names this office or one of its aliases."""
    run.world.deliver_signal(pgp_mime(forger.sign_encrypt(protected_inner(SIGNAL, to=to))))

    assert_delivered_to_the_school(run, pipeline.once(config=with_settings(run, settings)))


@pytest.mark.parametrize(("to", "settings"), [
    (f"Leerplicht Parkstad <{OTHER_OFFICE}>", ""),
    (f"{OFFICE}, {OTHER_OFFICE}", ""),
    (ALIAS, ""),
    ("undisclosed-recipients:;", ""),
    (f"Leerplicht <{OTHER_OFFICE}>", f"trust:\n  recipient_aliases: [{ALIAS}]\n"),
], ids=["other-office", "also-another-office", "alias-not-configured", "no-address", "other-office-with-aliases"])
def test_a_signal_signed_for_another_office_and_re_encrypted_to_us_is_quarantined(
        run: Run, pipeline: InProcess, forger: Forger, to: str, settings: str) -> None:
    """Someone who could read a signal meant for Heerlen encrypts it to us: Veilig Thuis' signature still verifies,
    but the To: it signed names Heerlen."""
    world = run.world
    world.deliver_signal(pgp_mime(forger.sign_encrypt(protected_inner(SIGNAL, to=to))))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once(config=with_settings(run, settings))

    alert = assert_held_and_nothing_sent(run, outcomes, "quarantined:wrong-recipient", sent_before)
    assert "trust.recipient_aliases" in alert
    assert_no_personal_data([repr(outcomes), alert], run.written)


# ---- 3. the plaintext cap ----------------------------------------------------------------------------------------

def padded(size: int) -> bytes:
    """A genuine PGP/MIME entity of exactly `size` bytes: the signal and an image of filler lines (an image, as a
    logo in a signature, is not read and is no doubt; a document attachment would hold the signal)."""
    def entity(filler: bytes) -> bytes:
        kind, body = multipart("mixed", [part("text/plain; charset=utf-8", SIGNAL.replace("\n", "\r\n")),
                                         part("image/png", "@@", 'Content-Disposition: inline; filename="logo.png"')])
        return f"Content-Type: {kind}\r\n\r\n{body}".encode().replace(b"@@", filler)

    missing = size - len(entity(b""))
    assert missing > 0
    line = b"A" * 75 + b"\r\n"
    filler = line * (missing // len(line)) + b"A" * (missing % len(line))
    result = entity(filler)
    assert len(result) == size
    return result


@pytest.mark.parametrize(("size", "outcome"), [(MIB, "delivered"), (MIB + 1, "quarantined:too-large")],
                         ids=["at-the-cap", "one-byte-over"])
def test_the_plaintext_cap_is_exact(run: Run, pipeline: InProcess, forger: Forger, size: int,
                                    outcome: str) -> None:
    world = run.world
    world.deliver_signal(pgp_mime(forger.sign_encrypt(padded(size))))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once(config=with_settings(run, f"limits:\n  max_plaintext_bytes: {MIB}\n"))

    if outcome == "delivered":
        assert_delivered_to_the_school(run, outcomes)
    else:
        alert = assert_held_and_nothing_sent(run, outcomes, outcome, sent_before)
        assert_no_personal_data([repr(outcomes), alert], run.written)


def memory_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in KiB."""
    found = re.search(rf"^{field}:\s+(\d+) kB$", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert found, field
    return int(found.group(1))


def test_a_decompression_bomb_is_quarantined_too_large_and_never_held_in_memory(run: Run, pipeline: InProcess,
                                                                               forger: Forger) -> None:
    """A few KB of ciphertext that expands to 200 MB, under a 1 MiB cap: this process never grows by the expansion.

    python-gnupg collected the whole plaintext (200 MB here, 2 GB in the field); the keyring now stops gpg as soon
    as the plaintext passes the cap. The peak is reset first (/proc/self/clear_refs), so what the session did
    before does not hide a new peak.
    """
    world = run.world
    expansion = 200 * MIB
    bomb = forger.bomb(inner_text(SIGNAL), expansion)
    assert len(bomb) < 64 * 1024
    world.deliver_signal(pgp_mime(bomb))
    config = with_settings(run, f"limits:\n  max_plaintext_bytes: {MIB}\n")
    sent_before = len(world.smtp.received)
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_kib("VmRSS")

    outcomes = pipeline.once(config=config)

    growth = memory_kib("VmHWM") - before
    print(f"bomb: {len(bomb)} bytes of ciphertext, {expansion // MIB} MiB expanded, cap {MIB // MIB} MiB, "
          f"peak growth {growth} KiB")
    assert growth < 100 * 1024, f"the pass grew this process by {growth} KiB"
    alert = assert_held_and_nothing_sent(run, outcomes, "quarantined:too-large", sent_before)
    assert_no_personal_data([repr(outcomes), alert], run.written)
