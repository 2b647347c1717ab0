"""The only module that talks to gpg.

One `Keyring` per gpg home: the inbound one holds the daemon's secret key and the
trusted senders' public keys only, the outbound one the daemon's secret key and
the schools' keys, so a school's key can never vouch for a signal.

python-gnupg says 'decryption ok' and hands out the plaintext even when the
signature is missing, unknown, expired or the ciphertext was tampered with, and
its `valid` is True for a signature by any key in the keyring. So a signature is
accepted only when every one of its indicators agrees; anything else is a
reason from the one vocabulary. Trust in a key comes from the rules: the
caller compares fingerprints, and a recipient key must be certified by the
daemon's key, which `hwc-mailer keys import` does only for keys the rules list.
"""

import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import gnupg

from ..domain.reasons import Reason
from ..errors import CryptoError
from .protocols import KeyInfo, KeyState, Verified

MINIMUM_GNUPG = (2, 2, 36)
HARDENING = ["--no-auto-key-retrieve", "--no-auto-key-import", "--no-auto-key-locate", "--no-encrypt-to"]
CERTIFIED_VALIDITY = ("f", "u")


class GpgKeyring:
    def __init__(self, home: Path, *, binary: str = "gpg", passphrase: str | None = None) -> None:
        if not home.is_dir():
            raise CryptoError(f"gpg home {home} does not exist; create it and import the keys (see README)")
        try:
            self._gpg = gnupg.GPG(gpgbinary=binary, gnupghome=str(home), options=HARDENING)
        except (OSError, ValueError) as error:
            raise CryptoError(f"cannot run gpg {binary!r} with home {home}: {error}") from None
        version = tuple(self._gpg.version or ())
        if version < MINIMUM_GNUPG:
            raise CryptoError(f"GnuPG {'.'.join(map(str, version)) or '?'} is too old: 2.2.36 or newer is needed "
                              "(earlier versions let signed data inject status lines)")
        self._passphrase = passphrase
        self._home = home

    @property
    def home(self) -> Path:
        return self._home

    def decrypt_verified(self, data: bytes) -> Verified | Reason:
        """The plaintext only when every indicator agrees; otherwise the most telling reason.

        Signature problems are reported before a failed decryption because gpg
        aborts decryption (no DECRYPTION_OKAY) when the signature has expired.
        """
        result = self._gpg.decrypt(data, passphrase=self._passphrase)
        statuses = _status_keywords(result.stderr)
        if not statuses & ENCRYPTION_STATUSES:
            return Reason.NOT_ENCRYPTED
        if result.key_status is not None:
            return Reason.KEY_REVOKED if "revoked" in result.key_status else Reason.KEY_EXPIRED
        if result.problems:
            return _signature_problem(result.problems)
        if not result.ok or "DECRYPTION_OKAY" not in statuses or "DECRYPTION_FAILED" in statuses:
            return Reason.DECRYPTION_FAILED
        if not result.sig_info:
            return Reason.UNSIGNED
        if len(result.sig_info) != 1:
            return Reason.SEVERAL_SIGNATURES
        if not result.valid or result.returncode != 0:
            return Reason.BAD_SIGNATURE
        (signature,) = result.sig_info.values()
        primary = signature.get("pubkey_fingerprint")
        timestamp = signature.get("timestamp")
        if signature.get("status") != "signature valid" or not primary or not timestamp:
            return Reason.BAD_SIGNATURE
        return Verified(bytes(result.data), primary.upper(), datetime.fromtimestamp(int(timestamp), UTC))

    def encrypt_signed(self, data: bytes, recipients: Sequence[str], signer: str) -> bytes:
        """ASCII-armored ciphertext for exactly `recipients`, signed by `signer`."""
        if not recipients:
            raise CryptoError("refusing to encrypt to nobody")
        result = self._gpg.encrypt(data, list(recipients), sign=signer, armor=True, passphrase=self._passphrase)
        if not result.ok or result.returncode != 0:
            raise CryptoError(f"gpg could not encrypt and sign in {self.home} ({result.status}); "
                              "run `hwc-mailer check` to see which key is unusable")
        return bytes(result.data)

    def inspect(self, fingerprint: str, address: str | None = None) -> KeyInfo:
        """What a key is good for: only `ok` keys are ever encrypted to.

        Certified means locally signed by the daemon's key (`hwc-mailer keys import`
        does that after checking the fingerprint against the rules); `address`, when
        given, must be one of the key's user ids.
        """
        wanted = fingerprint.upper()
        key = next((key for key in self._gpg.list_keys() if key["fingerprint"].upper() == wanted), None)
        if key is None:
            return KeyInfo(wanted, KeyState.missing)
        expires = datetime.fromtimestamp(int(key["expires"]), UTC) if key.get("expires") else None
        validity = key.get("trust", "")
        if validity == "r":
            state = KeyState.revoked
        elif validity == "e":
            state = KeyState.expired
        elif "E" not in key.get("cap", ""):
            state = KeyState.cannot_encrypt
        elif validity not in CERTIFIED_VALIDITY:
            state = KeyState.not_certified
        elif address is not None and not any(_has_address(uid, address) for uid in key.get("uids", [])):
            state = KeyState.wrong_address
        else:
            state = KeyState.ok
        return KeyInfo(wanted, state, expires)

    def key_state(self, fingerprint: str, address: str | None = None) -> KeyState:
        return self.inspect(fingerprint, address).state

    def scan(self, data: bytes) -> list[str]:
        """Primary fingerprints of the keys in `data`, without importing anything."""
        return [key["fingerprint"].upper() for key in self._gpg.scan_keys_mem(data)]

    def import_key(self, data: bytes, fingerprint: str) -> bool:
        """Import only `fingerprint` from `data`: other keys in the same file never enter this keyring."""
        with tempfile.TemporaryDirectory(prefix="hwc-k") as scratch:
            isolated = gnupg.GPG(gpgbinary=self._gpg.gpgbinary, gnupghome=scratch, options=HARDENING)
            isolated.import_keys(data)
            single = isolated.export_keys(fingerprint, armor=True)
        if not single:
            return False
        result = self._gpg.import_keys(single)
        return fingerprint.upper() in {value.upper() for value in result.fingerprints}

    def trust_ultimately(self, fingerprint: str) -> None:
        """The daemon's own key anchors local certification; imported secret keys do not get that by default."""
        self._run(["--import-ownertrust"], stdin=f"{fingerprint.upper()}:6:\n".encode())

    def certify(self, fingerprint: str, signer: str) -> None:
        """A local (non-exportable) signature by the daemon's key: this keyring may now encrypt to it."""
        self._run(["--pinentry-mode", "loopback", "--passphrase-fd", "0", "--default-key", signer,
                   "--quick-lsign-key", fingerprint], stdin=(self._passphrase or "").encode())

    def _run(self, args: list[str], *, stdin: bytes = b"") -> None:
        command = [self._gpg.gpgbinary, "--homedir", str(self.home), "--batch", "--yes", *HARDENING, *args]
        result = subprocess.run(command, input=stdin, capture_output=True, check=False)
        if result.returncode != 0:
            raise CryptoError(f"gpg {args[-2] if len(args) > 1 else args[0]} failed in {self.home} "
                              f"(exit {result.returncode})")

    def has_secret_key(self, fingerprint: str) -> bool:
        return any(key["fingerprint"].upper() == fingerprint.upper()
                   for key in self._gpg.list_keys(secret=True))


# Status lines that only appear when the data was encrypted (to us or to anyone).
ENCRYPTION_STATUSES = frozenset({"ENC_TO", "BEGIN_DECRYPTION", "DECRYPTION_FAILED", "NEED_PASSPHRASE_SYM"})


def _status_keywords(stderr: str) -> set[str]:
    """The keywords of gpg's machine-readable status lines, which python-gnupg keeps in stderr."""
    return {line.split()[1] for line in stderr.splitlines() if line.startswith("[GNUPG:] ") and len(line.split()) > 1}


def _has_address(uid: str, address: str) -> bool:
    inner = uid[uid.rfind("<") + 1:uid.rfind(">")] if "<" in uid and uid.endswith(">") else uid
    return inner.strip().lower() == address.strip().lower()


def _signature_problem(problems: Sequence[dict[str, str]]) -> Reason:
    statuses = {problem.get("status") for problem in problems}
    if "no secret key" in statuses:
        return Reason.DECRYPTION_FAILED
    if "no public key" in statuses:
        return Reason.UNKNOWN_KEY
    if "signature expired" in statuses:
        return Reason.SIGNATURE_EXPIRED
    return Reason.BAD_SIGNATURE
