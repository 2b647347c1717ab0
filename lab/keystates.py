"""Keys in every state the daemon must refuse to encrypt to: expired, revoked, sign-only, and so on.

Made with the real gpg: a faked clock backdates a key so it is expired today, and the
revocation certificate gpg writes at generation revokes one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lab.gpg import export_public, generate_key, new_home, revoke

BACKDATE = datetime(2020, 1, 1, tzinfo=UTC)


def expired_key(home: Path, user_id: str) -> str:
    """Created in 2020, valid for one year."""
    return generate_key(home, user_id, at=BACKDATE)


def revoked_key(home: Path, user_id: str) -> str:
    fingerprint = generate_key(home, user_id)
    revoke(home, fingerprint)
    return fingerprint


def sign_only_key(home: Path, user_id: str) -> str:
    return generate_key(home, user_id, encrypt=False)


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
