"""How the keyring reads a gpg run: the caps hold whatever gpg does, and the status lines are judged strictly.

A stand-in for the gpg binary plays each part (a plaintext or status flood, a gpg that stops reading, a gpg that
hangs, the status lines of a good or a bad signature); the real gpg is exercised end to end in the integration
tests (test_forgeries, test_hostile_crypto).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from hwc_mailer.domain.reasons import Reason
from hwc_mailer.edges import gpg as gpg_module
from hwc_mailer.edges.gpg import GpgKeyring
from hwc_mailer.edges.protocols import Verified
from hwc_mailer.errors import CryptoError

PRIMARY = "A" * 40
SUBKEY = "B" * 40
OTHER = "C" * 16

PROLOGUE = f"""#!{sys.executable}
import os, sys, time
if "--list-config" in sys.argv or "--version" in sys.argv:
    print("cfg:version:2.2.40")
    sys.exit(0)
status = int(sys.argv[sys.argv.index("--status-fd") + 1])
def say(line):
    os.write(status, ("[GNUPG:] " + line + "\\n").encode())
"""


def fake_gpg(tmp_path: Path, body: str) -> tuple[Path, str]:
    """A gpg home and a stand-in binary that runs `body` (Python, with `say(line)` for a status line)."""
    script = tmp_path / "gpg"
    script.write_text(PROLOGUE + body)
    script.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    return home, str(script)


def keyring(tmp_path: Path, body: str, cap: int = 1024) -> GpgKeyring:
    home, binary = fake_gpg(tmp_path, body)
    return GpgKeyring(home, binary=binary, max_plaintext_bytes=cap)


def test_a_plaintext_flood_is_cut_off_at_the_cap(tmp_path: Path) -> None:
    """gpg would write forever; the keyring stops it just past the cap and holds no more than that."""
    ring = keyring(tmp_path, "say('BEGIN_DECRYPTION')\nwhile True:\n    sys.stdout.buffer.write(bytes(65536))\n")
    assert ring.decrypt_verified(b"ciphertext") is Reason.TOO_LARGE


def test_a_status_flood_is_cut_off(tmp_path: Path) -> None:
    """Signatures inside a compressed packet make status lines without end, with no plaintext at all."""
    ring = keyring(tmp_path, "while True:\n    say('NEWSIG')\n")
    assert ring.decrypt_verified(b"ciphertext") is Reason.TOO_LARGE


def test_a_gpg_that_stops_reading_its_input_does_not_hang_the_pass(tmp_path: Path) -> None:
    ring = keyring(tmp_path, "sys.exit(2)\n")
    assert ring.decrypt_verified(bytes(8 * 1024 * 1024)) is Reason.NOT_ENCRYPTED


def test_a_gpg_that_hangs_is_an_outage_not_a_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpg_module, "DECRYPT_SECONDS", 0.5)
    ring = keyring(tmp_path, "time.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(CryptoError, match=r"longer than 0\.5 s"):
        ring.decrypt_verified(b"ciphertext")
    assert time.monotonic() - started < 30


GOOD = [f"ENC_TO {OTHER} 18 0", "NO_SECKEY " + OTHER, f"ENC_TO {SUBKEY[-16:]} 18 0",
        f"DECRYPTION_KEY {SUBKEY} {PRIMARY} u", "BEGIN_DECRYPTION", "DECRYPTION_INFO 2 9 0",
        "PLAINTEXT 62 1796165141 ", "NEWSIG", "SIG_ID abc 2026-12-01 1796165141", f"GOODSIG {PRIMARY[-16:]} VT",
        f"VALIDSIG {SUBKEY} 2026-12-01 1796165141 0 4 0 22 10 00 {PRIMARY}", "TRUST_UNDEFINED 0 pgp",
        "DECRYPTION_OKAY", "GOODMDC", "END_DECRYPTION"]


def run_with(tmp_path: Path, statuses: list[str], exit_code: int = 0) -> Verified | Reason:
    body = "".join(f"say({line!r})\n" for line in statuses)
    body += f"sys.stdin.buffer.read()\nsys.stdout.buffer.write(b'plain')\nsys.exit({exit_code})\n"
    return keyring(tmp_path, body).decrypt_verified(b"ciphertext")


def test_no_secret_key_for_another_recipient_is_no_problem(tmp_path: Path) -> None:
    verified = run_with(tmp_path, GOOD)
    assert isinstance(verified, Verified)
    assert (verified.plaintext, verified.signer, int(verified.signed_at.timestamp())) == (b"plain", PRIMARY,
                                                                                          1796165141)
    assert "plain" not in repr(verified)


def replaced(keyword: str, *lines: str) -> list[str]:
    """GOOD with the line of `keyword` replaced by `lines` (or dropped)."""
    return [new for line in GOOD for new in (lines if line.split()[0] == keyword else (line,))]


@pytest.mark.parametrize(("statuses", "exit_code", "reason"), [
    ([line for line in GOOD if line.split()[0] not in ("ENC_TO", "BEGIN_DECRYPTION", "DECRYPTION_OKAY")], 0,
     Reason.NOT_ENCRYPTED),
    (replaced("GOODSIG", f"REVKEYSIG {PRIMARY[-16:]} VT"), 0, Reason.KEY_REVOKED),
    (replaced("GOODSIG", f"EXPKEYSIG {PRIMARY[-16:]} VT"), 0, Reason.KEY_EXPIRED),
    (replaced("GOODSIG", f"ERRSIG {PRIMARY[-16:]} 22 10 00 1796165141 9 -", "NO_PUBKEY x"), 2, Reason.UNKNOWN_KEY),
    (replaced("GOODSIG", f"EXPSIG {PRIMARY[-16:]} VT"), 0, Reason.SIGNATURE_EXPIRED),
    (replaced("GOODSIG", f"BADSIG {PRIMARY[-16:]} VT"), 1, Reason.BAD_SIGNATURE),
    (replaced("DECRYPTION_OKAY", "DECRYPTION_FAILED"), 2, Reason.DECRYPTION_FAILED),
    (replaced("DECRYPTION_OKAY"), 0, Reason.DECRYPTION_FAILED),
    (replaced("GOODMDC", "BADMDC"), 0, Reason.DECRYPTION_FAILED),
    ([line for line in GOOD if line.split()[0] not in ("NEWSIG", "SIG_ID", "GOODSIG", "VALIDSIG")], 0,
     Reason.UNSIGNED),
    (replaced("TRUST_UNDEFINED", "NEWSIG", "TRUST_UNDEFINED 0 pgp"), 0, Reason.SEVERAL_SIGNATURES),
    (GOOD, 2, Reason.BAD_SIGNATURE),
    (replaced("END_DECRYPTION", "FAILURE decrypt 1"), 0, Reason.BAD_SIGNATURE),
    (replaced("VALIDSIG", f"VALIDSIG {SUBKEY} 2026-12-01 1796165141"), 0, Reason.BAD_SIGNATURE),
    (replaced("VALIDSIG", f"VALIDSIG {SUBKEY} 2026-12-01 20261201T000000 0 4 0 22 10 00 {PRIMARY}"), 0,
     Reason.BAD_SIGNATURE),
    (replaced("GOODSIG"), 0, Reason.BAD_SIGNATURE),
    (replaced("VALIDSIG"), 0, Reason.BAD_SIGNATURE),
], ids=["not-encrypted", "revoked", "expired", "unknown-key", "signature-expired", "bad-signature",
        "decryption-failed", "no-decryption-okay", "bad-mdc", "unsigned", "two-signatures", "exit-code",
        "failure", "short-validsig", "iso-timestamp", "no-goodsig", "no-validsig"])
def test_every_indicator_must_agree(tmp_path: Path, statuses: list[str], exit_code: int, reason: Reason) -> None:
    assert run_with(tmp_path, statuses, exit_code) is reason
