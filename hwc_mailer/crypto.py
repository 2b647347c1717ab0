"""The only module that talks to gpg.

One `Keyring` per gpg home: the inbound one holds the daemon's secret key and the
trusted senders' public keys only, the outbound one the daemon's secret key and
the schools' keys, so a school's key can never vouch for a signal.

python-gnupg says 'decryption ok' and hands out the plaintext even when the
signature is missing, unknown, expired or the ciphertext was tampered with, and
its `valid` is True for a signature by any key in the keyring. So a signature is
accepted only when every one of its indicators agrees; anything else is a
`Refused` value with a reason code. Trust in a key comes from the rules (the
caller compares fingerprints), not from gpg's web of trust.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

import gnupg

from .errors import CryptoError


@dataclass(frozen=True)
class Verified:
    plaintext: bytes
    signer: str              # primary key fingerprint, upper case
    signed_at: datetime


@dataclass(frozen=True)
class Refused:
    reason: str              # a reason code: decryption-failed, unsigned, bad-signature, ...


class KeyState(str, Enum):
    ok = "ok"
    missing = "missing"
    expired = "expired"
    revoked = "revoked"
    cannot_encrypt = "cannot-encrypt"


class Keyring:
    def __init__(self, home: Path, *, binary: str = "gpg", passphrase: str | None = None) -> None:
        if not home.is_dir():
            raise CryptoError(f"gpg home {home} does not exist; create it and import the keys (see README)")
        try:
            self._gpg = gnupg.GPG(gpgbinary=binary, gnupghome=str(home))
        except (OSError, ValueError) as error:
            raise CryptoError(f"cannot run gpg {binary!r} with home {home}: {error}") from None
        self._passphrase = passphrase
        self.home = home

    def decrypt_verified(self, data: bytes) -> Verified | Refused:
        result = self._gpg.decrypt(data, passphrase=self._passphrase)
        if not result.ok or result.status != "decryption ok":
            return Refused("decryption-failed")
        if result.key_status is not None:
            return Refused("key-revoked" if "revoked" in result.key_status else "key-expired")
        if result.problems:
            return Refused(_signature_problem(result.problems))
        if not result.sig_info:
            return Refused("unsigned")
        if len(result.sig_info) != 1:
            return Refused("several-signatures")
        if not result.valid or result.returncode != 0:
            return Refused("bad-signature")
        (signature,) = result.sig_info.values()
        primary = signature.get("pubkey_fingerprint")
        timestamp = signature.get("timestamp")
        if signature.get("status") != "signature valid" or not primary or not timestamp:
            return Refused("bad-signature")
        return Verified(bytes(result.data), primary.upper(), datetime.fromtimestamp(int(timestamp), timezone.utc))

    def encrypt_signed(self, data: bytes, recipients: Sequence[str], signer: str) -> bytes:
        """ASCII-armored ciphertext for exactly `recipients`, signed by `signer`."""
        if not recipients:
            raise CryptoError("refusing to encrypt to nobody")
        result = self._gpg.encrypt(data, list(recipients), sign=signer, always_trust=True, armor=True,
                                   passphrase=self._passphrase)
        if not result.ok or result.returncode != 0:
            raise CryptoError(f"gpg could not encrypt and sign in {self.home} ({result.status}); "
                              "run `hwc-mailer check` to see which key is unusable")
        return bytes(result.data)

    def key_state(self, fingerprint: str) -> KeyState:
        keys = [key for key in self._gpg.list_keys() if key["fingerprint"].upper() == fingerprint.upper()]
        if not keys:
            return KeyState.missing
        key = keys[0]
        if key.get("trust") == "r":
            return KeyState.revoked
        if key.get("trust") == "e":
            return KeyState.expired
        if "E" not in key.get("cap", ""):
            return KeyState.cannot_encrypt
        return KeyState.ok

    def has_secret_key(self, fingerprint: str) -> bool:
        return any(key["fingerprint"].upper() == fingerprint.upper()
                   for key in self._gpg.list_keys(secret=True))


def _signature_problem(problems: Sequence[dict[str, str]]) -> str:
    statuses = {problem.get("status") for problem in problems}
    if "no public key" in statuses:
        return "unknown-key"
    if "signature expired" in statuses:
        return "signature-expired"
    return "bad-signature"
