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

Decryption does not go through python-gnupg: gpg decompresses whatever it is
given before any signature check, and python-gnupg would collect the whole
plaintext in memory (a few KB of ciphertext can expand to GBs). `_Decryption`
runs gpg itself, reads its output in chunks, and stops gpg as soon as the
plaintext or the status output passes its cap; gpg's own `--max-output` is the
second bound. The status lines are judged by `_judge`, in the order of its checks.
"""

import base64
import binascii
import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import gnupg

from ..domain.reasons import Reason
from ..errors import CryptoError
from ..settings.config import Limits
from .protocols import KeyInfo, KeyState, Verified

MINIMUM_GNUPG = (2, 2, 36)
HARDENING = ["--no-auto-key-retrieve", "--no-auto-key-import", "--no-auto-key-locate", "--no-encrypt-to"]
CERTIFIED_VALIDITY = ("f", "u")
# gpg writes literal data in pieces of at most 32 KiB (g10/plaintext.c) and checks --max-output before each
# piece: with this much slack over our cap, gpg stops only after we have seen more than the cap ourselves.
GPG_WRITE_SLACK = 2 * 32768
STATUS_CAP = 1024 * 1024      # bytes of status lines; a genuine signal needs about 2 KB
READ_CHUNK = 65536
DECRYPT_SECONDS = 30.0        # gpg and its agent, for one message at most; more is an outage, not a verdict


class GpgKeyring:
    def __init__(self, home: Path, *, binary: str = "gpg", passphrase: str | None = None,
                 max_plaintext_bytes: int | None = None) -> None:
        """`max_plaintext_bytes` bounds what one decryption may produce (limits.max_plaintext_bytes)."""
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
        self._max_plaintext = max_plaintext_bytes or Limits().max_plaintext_bytes

    @property
    def home(self) -> Path:
        return self._home

    def decrypt_verified(self, data: bytes) -> Verified | Reason:
        """The plaintext only when every indicator agrees; otherwise the most telling reason.

        Never holds more than the plaintext cap: a bigger plaintext is `too-large`, whatever the signature says.
        """
        if not plausible_session_keys(data):
            return Reason.DECRYPTION_FAILED
        decryption = _Decryption.run(self._command(), data, self._passphrase, self._max_plaintext, self.home)
        if decryption.over_cap:
            return Reason.TOO_LARGE
        return _judge(decryption)

    def _command(self) -> list[str]:
        """gpg as python-gnupg would run it (same home, same hardening), with its output capped."""
        command = [self._gpg.gpgbinary, "--homedir", str(self.home), "--batch", "--no-tty", "--no-verbose",
                   *HARDENING, "--max-output", str(self._max_plaintext + GPG_WRITE_SLACK)]
        if self._passphrase is not None:
            command += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
        return command

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

    def unlocks(self, fingerprint: str) -> bool:
        """Whether the secret key `fingerprint` signs with the configured passphrase (or none): a protected key
        without its passphrase would otherwise fail first on a real signal. Never asks anyone (loopback)."""
        command = [self._gpg.gpgbinary, "--homedir", str(self.home), "--batch", "--no-tty", *HARDENING,
                   "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--local-user", fingerprint,
                   "--detach-sign", "--output", "-", "/dev/null"]
        try:
            result = subprocess.run(command, input=(self._passphrase or "").encode(), capture_output=True,
                                    timeout=DECRYPT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0 and bool(result.stdout)


# Status lines that only appear when the data was encrypted (to us or to anyone).
ENCRYPTION_STATUSES = frozenset({"ENC_TO", "BEGIN_DECRYPTION", "DECRYPTION_FAILED", "NEED_PASSPHRASE_SYM"})
# Each makes the signature (or the whole run) unusable, whatever else gpg said (python-gnupg's `valid` = False).
INVALIDATING = frozenset({"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NO_PUBKEY", "UNEXPECTED",
                          "FAILURE", "NODATA", "BADMDC"})


@dataclass
class _Decryption:
    """One `gpg --decrypt` run: what came out, capped, and gpg's status lines.

    NO_SECKEY lines are about the message's other recipients (encrypt-to-self, a Cc); whether this office's
    key decrypted it is told by DECRYPTION_OKAY and DECRYPTION_FAILED alone.
    """

    plaintext: bytes = field(repr=False)
    statuses: list[tuple[str, list[str]]]      # (keyword, arguments) in gpg's order
    returncode: int | None
    over_cap: bool

    @property
    def keywords(self) -> set[str]:
        return {keyword for keyword, _ in self.statuses}

    def count(self, keyword: str) -> int:
        return sum(1 for found, _ in self.statuses if found == keyword)

    def arguments(self, keyword: str) -> list[list[str]]:
        return [arguments for found, arguments in self.statuses if found == keyword]

    @classmethod
    def run(cls, command: list[str], data: bytes, passphrase: str | None, cap: int, home: Path) -> "_Decryption":
        """Feed `data` to gpg and read its plaintext and status lines at the same time; stop gpg past a cap."""
        status_read, status_write = os.pipe()
        try:
            process = subprocess.Popen([*command, "--status-fd", str(status_write), "--decrypt"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       pass_fds=(status_write,))
        except OSError as error:
            os.close(status_read)
            raise CryptoError(f"cannot run gpg {command[0]!r} with home {home}: {error.strerror}") from None
        finally:
            os.close(status_write)
        feed = _Feed((passphrase.encode() + b"\n" if passphrase is not None else b"") + data)
        try:
            return cls._pump(process, status_read, feed, cap, home)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None and not stream.closed:
                    stream.close()
            os.close(status_read)

    @classmethod
    def _pump(cls, process: "subprocess.Popen[bytes]", status_read: int, feed: "_Feed", cap: int,
              home: Path) -> "_Decryption":
        assert process.stdin is not None and process.stdout is not None
        stdin, stdout = process.stdin.fileno(), process.stdout.fileno()
        for descriptor in (stdin, stdout, status_read):
            os.set_blocking(descriptor, False)
        plaintext, status = bytearray(), bytearray()
        deadline = time.monotonic() + DECRYPT_SECONDS
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ, plaintext)
            selector.register(status_read, selectors.EVENT_READ, status)
            selector.register(stdin, selectors.EVENT_WRITE)
            while len(selector.get_map()) > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _too_slow(home)
                for key, _ in selector.select(remaining):
                    if key.fd == stdin:
                        if feed.write(stdin):
                            selector.unregister(stdin)
                            process.stdin.close()
                        continue
                    chunk = os.read(key.fd, READ_CHUNK)
                    if not chunk:
                        selector.unregister(key.fd)
                        continue
                    buffer: bytearray = key.data
                    buffer += chunk
                    if len(plaintext) > cap or len(status) > STATUS_CAP:
                        return cls(b"", [], None, over_cap=True)
        try:
            returncode = process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise _too_slow(home) from None
        return cls(bytes(plaintext), _status_lines(bytes(status)), returncode, over_cap=False)


def _too_slow(home: Path) -> CryptoError:
    return CryptoError(f"gpg took longer than {DECRYPT_SECONDS:g} s to decrypt one message in {home}; check that "
                       f"gpg-agent can start there (`gpg --homedir {home} --list-secret-keys`)")


@dataclass
class _Feed:
    """What is still to be written to gpg's stdin; gpg may stop reading early (a failure, or the cap)."""

    data: bytes = field(repr=False)
    offset: int = 0

    def write(self, descriptor: int) -> bool:
        """Write what the pipe takes now; True when all is written or gpg no longer reads."""
        try:
            self.offset += os.write(descriptor, self.data[self.offset:self.offset + READ_CHUNK])
        except BlockingIOError:
            return False
        except BrokenPipeError:
            return True
        return self.offset >= len(self.data)


def _status_lines(status: bytes) -> list[tuple[str, list[str]]]:
    """(keyword, arguments) of each `[GNUPG:] KEYWORD args` line gpg wrote to the status fd."""
    lines = []
    for line in status.decode("utf-8", "replace").split("\n"):
        fields = line.split(" ")
        if len(fields) > 1 and fields[0] == "[GNUPG:]" and fields[1]:
            lines.append((fields[1], fields[2:]))
    return lines


def _judge(run: _Decryption) -> Verified | Reason:
    """The strict reading of gpg's status lines: every check in order, the first that fails names the reason.

    Signature problems are reported before a failed decryption because gpg aborts decryption (no
    DECRYPTION_OKAY) when the signature has expired. Only the signature's own status lines count as
    signature problems: NO_SECKEY for another recipient's key packet is none.
    """
    keywords = run.keywords
    if not keywords & ENCRYPTION_STATUSES:
        return Reason.NOT_ENCRYPTED
    if "REVKEYSIG" in keywords:
        return Reason.KEY_REVOKED
    if "EXPKEYSIG" in keywords:
        return Reason.KEY_EXPIRED
    if problem := _signature_problem(keywords):
        return problem
    if "DECRYPTION_OKAY" not in keywords or keywords & {"DECRYPTION_FAILED", "BADMDC"}:
        return Reason.DECRYPTION_FAILED
    signatures = max(run.count(keyword) for keyword in ("NEWSIG", "SIG_ID", "GOODSIG", "VALIDSIG"))
    if signatures == 0:
        return Reason.UNSIGNED
    if signatures != 1:
        return Reason.SEVERAL_SIGNATURES
    if keywords & INVALIDATING or "GOODSIG" not in keywords or run.returncode != 0:
        return Reason.BAD_SIGNATURE
    validsigs = run.arguments("VALIDSIG")
    if len(validsigs) != 1:
        return Reason.BAD_SIGNATURE
    (valid,) = validsigs
    # VALIDSIG <fpr> <date> <timestamp> <expiry> <version> <reserved> <algo> <hash> <class> <primary fpr>
    primary = valid[9] if len(valid) > 9 else ""
    timestamp = valid[2] if len(valid) > 2 else ""
    if len(primary) != 40 or not timestamp.isdigit():
        return Reason.BAD_SIGNATURE
    return Verified(run.plaintext, primary.upper(), datetime.fromtimestamp(int(timestamp), UTC))


def _has_address(uid: str, address: str) -> bool:
    inner = uid[uid.rfind("<") + 1:uid.rfind(">")] if "<" in uid and uid.endswith(">") else uid
    return inner.strip().lower() == address.strip().lower()


def _signature_problem(keywords: set[str]) -> Reason | None:
    if "NO_PUBKEY" in keywords:
        return Reason.UNKNOWN_KEY
    if "EXPSIG" in keywords:
        return Reason.SIGNATURE_EXPIRED
    if keywords & {"BADSIG", "ERRSIG"}:
        return Reason.BAD_SIGNATURE
    return None


# Veilig Thuis encrypts to public keys: a handful of session-key packets (us, itself, a Cc). A passphrase
# packet (SKESK) makes gpg try passphrases with a costly key derivation each, and hundreds of either kind make
# one message cost minutes before any signature is looked at; neither belongs in a signal.
MAX_PUBLIC_KEY_PACKETS = 16
_PKESK, _SKESK = 1, 3
_ENCRYPTED_DATA = frozenset({9, 18, 20})       # SED, SEIPD, AEAD


def plausible_session_keys(armored: bytes) -> bool:
    """Whether the packets before the encrypted data hold no passphrase session key and at most
    MAX_PUBLIC_KEY_PACKETS public-key ones. Read from the packet headers alone, walking past any other packet
    (a junk packet in front hides nothing); what this cannot read or a message without encrypted data is left
    for gpg to judge (it refuses those quickly)."""
    data = _dearmored(armored)
    if data is None:
        return True
    position, public = 0, 0
    while position < len(data):
        header = _packet_header(data, position)
        if header is None:
            return True
        tag, start, length = header
        if tag in _ENCRYPTED_DATA:
            return True
        if tag == _SKESK:
            return False
        public += tag == _PKESK
        if public > MAX_PUBLIC_KEY_PACKETS:
            return False
        position = start + length
    return True


def _dearmored(armored: bytes) -> bytes | None:
    lines = armored.replace(b"\r", b"").split(b"\n")
    try:
        begin = next(index for index, line in enumerate(lines) if line.startswith(b"-----BEGIN PGP MESSAGE"))
        blank = next(index for index in range(begin + 1, len(lines)) if not lines[index].strip())
    except StopIteration:
        return None
    body = []
    for line in lines[blank + 1:]:
        if line.startswith((b"=", b"-----END")):
            break
        body.append(line.strip())
    try:
        return base64.b64decode(b"".join(body), validate=False)
    except (binascii.Error, ValueError):
        return None


def _packet_header(data: bytes, position: int) -> tuple[int, int, int] | None:
    """(tag, start of the body, body length) of the packet at `position` (RFC 9580 section 4.2), or None for
    a header this reader does not follow (partial or indeterminate lengths, which only data packets use)."""
    first = data[position]
    if not first & 0x80:
        return None
    if first & 0x40:
        tag, at = first & 0x3F, position + 1
        if at >= len(data):
            return None
        octet = data[at]
        if octet < 192:
            return tag, at + 1, octet
        if octet < 224 and at + 1 < len(data):
            return tag, at + 2, ((octet - 192) << 8) + data[at + 1] + 192
        if octet == 255 and at + 4 < len(data):
            return tag, at + 5, int.from_bytes(data[at + 1:at + 5], "big")
        if tag in _ENCRYPTED_DATA:                 # a partial length: only the data itself uses one
            return tag, at, 0
        return None
    tag, kind = (first >> 2) & 0x0F, first & 0x03
    size = {0: 1, 1: 2, 2: 4}.get(kind)
    if size is None and tag in _ENCRYPTED_DATA:     # an indeterminate length: the data runs to the end
        return tag, position + 1, 0
    if size is None or position + 1 + size > len(data):
        return None
    return tag, position + 1 + size, int.from_bytes(data[position + 1:position + 1 + size], "big")
