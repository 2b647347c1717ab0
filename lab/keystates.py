"""Keys in every state the daemon must refuse to encrypt to: expired, revoked, sign-only, and so on.

Made with the real gpg: `--faked-system-time` backdates a key so it is expired
today, and the revocation certificate gpg writes at generation revokes one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab.gpg import export_public, generate_key, new_home

BACKDATE = "20200101T000000!"


def _gpg(home: Path, *args: str, stdin: bytes = b"") -> bytes:
    result = subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(home), "--pinentry-mode", "loopback",
                             "--passphrase", "", "--status-fd", "1", *args], input=stdin, capture_output=True,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"gpg {args[0]} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def expired_key(home: Path, user_id: str) -> str:
    """Created in 2020, valid for one year."""
    status = _gpg(home, "--faked-system-time", BACKDATE, "--quick-generate-key", user_id, "ed25519", "sign,cert",
                  "1y")
    fingerprint = next(line.split()[3] for line in status.decode().splitlines() if " KEY_CREATED " in line)
    _gpg(home, "--faked-system-time", BACKDATE, "--quick-add-key", fingerprint, "cv25519", "encr", "1y")
    return fingerprint.upper()


def revoked_key(home: Path, user_id: str) -> str:
    fingerprint = generate_key(home, user_id)
    certificate = (home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
    _gpg(home, "--import", stdin=certificate.replace("\n:-----BEGIN", "\n-----BEGIN").encode())
    return fingerprint


def sign_only_key(home: Path, user_id: str) -> str:
    status = _gpg(home, "--quick-generate-key", user_id, "ed25519", "sign,cert", "1y")
    return next(line.split()[3] for line in status.decode().splitlines() if " KEY_CREATED " in line).upper()


def expiring_key(home: Path, user_id: str, days: int) -> str:
    return generate_key(home, user_id, expire=f"{days}d")


def make_partner_key(base: Path, name: str, kind: str, user_id: str) -> tuple[Path, str, bytes]:
    """(home, fingerprint, public key) of a fresh partner with a key of `kind`."""
    home = new_home(base, name)
    makers = {"ok": generate_key, "expired": expired_key, "revoked": revoked_key, "sign-only": sign_only_key}
    if kind.startswith("expiring-"):
        fingerprint = expiring_key(home, user_id, int(kind.removeprefix("expiring-")))
    else:
        fingerprint = makers[kind](home, user_id)
    return home, fingerprint, export_public(home, fingerprint)

