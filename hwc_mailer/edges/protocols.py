"""The edges as the rest of the code sees them: what each one does, not how.

Everything that does I/O, and the clock, comes in through one of these Protocols.
The real implementations sit beside this module (imap, smtp, gpg, store); a test
double implements the Protocol directly instead of subclassing a real client, and
`inbound`/`outbound` import nothing else from this package (an import-linter contract).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from ..domain.reasons import Reason
from ..errors import LoginRefused


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class Mailbox(Protocol):
    """One IMAP account. Fetches never change flags; deletion removes exactly the given UIDs."""

    def uids(self, folder: str) -> tuple[int, list[int]]: ...

    def size(self, folder: str, uid: int) -> int | None: ...

    def fetch(self, folder: str, uid: int) -> bytes | None: ...

    def fetch_header(self, folder: str, uid: int) -> bytes | None: ...

    def move(self, folder: str, uid: int, target: str) -> None: ...

    def delete(self, folder: str, uids: Sequence[int]) -> None: ...

    # UID -> RFC822.SIZE of each message whose one Message-ID is exactly this well-formed id (never a substring hit)
    def find_by_message_id(self, folder: str, message_id: str) -> dict[int, int]: ...

    def wait_for_mail(self, folder: str, seconds: float, stop: Callable[[], bool]) -> None: ...

    # (Message-ID, size) of every message in the folder with one well-formed Message-ID: one round trip
    def present(self, folder: str) -> set[tuple[str, int]]: ...

    def append(self, folder: str, raw: bytes) -> None: ...

    # The folder a configured name stands for: itself if it exists, the folder with a role (\Sent, \Trash), or None
    def find_folder(self, name: str) -> str | None: ...

    # The login refusal that stands, or None: set by a refused login, cleared by an accepted one
    @property
    def refusal(self) -> LoginRefused | None: ...

    @property
    def accepted(self) -> bool: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends one message; 4xx and network trouble raise TransportUnavailable, a refused login, token or sender
    TransportLoginRefused, 5xx to the recipients or the content TransportRejected. With `reports`, a delivery
    failure is asked to come back as a DSN with the headers only, where the server offers DSN."""

    def send(self, message: EmailMessage, recipients: Sequence[str], reports: bool = False) -> int: ...

    @property
    def refusal(self) -> LoginRefused | None: ...

    @property
    def accepted(self) -> bool: ...


@dataclass(frozen=True)
class Verified:
    plaintext: bytes
    signer: str              # primary key fingerprint, upper case
    signed_at: datetime

    def __repr__(self) -> str:
        """Without the plaintext: a signal's content never reaches a log or a traceback through this value."""
        return f"Verified(<{len(self.plaintext)} bytes>, signer={self.signer!r}, signed_at={self.signed_at!r})"


class KeyState(StrEnum):
    ok = "ok"
    missing = "missing"
    expired = "expired"
    revoked = "revoked"
    cannot_encrypt = "cannot-encrypt"
    not_certified = "not-certified"
    wrong_address = "wrong-address"
    not_yet_valid = "not-yet-valid"            # a certificate: valid only from a later date
    untrusted = "untrusted"                    # a certificate: not issued by a CA of smime.ca_file
    weak = "weak"                              # a certificate: RSA under 2048 bits, an MD5 or SHA-1 signature
    unsupported = "unsupported"                # a certificate with an EC key: not supported yet


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    state: KeyState
    expires: datetime | None = None

    def expires_within(self, now: datetime, days: int) -> bool:
        return self.expires is not None and (self.expires - now).total_seconds() < days * 86400


class Keyring(Protocol):
    """One gpg home. Only `ok` keys are encrypted to; a signature is trusted only when every indicator agrees."""

    @property
    def home(self) -> Path: ...

    def decrypt_verified(self, data: bytes) -> Verified | Reason: ...

    def encrypt_signed(self, data: bytes, recipients: Sequence[str], signer: str) -> bytes: ...

    def inspect(self, fingerprint: str, address: str | None = None) -> KeyInfo: ...

    def key_state(self, fingerprint: str, address: str | None = None) -> KeyState: ...

    def scan(self, data: bytes) -> list[str]: ...

    def import_key(self, data: bytes, fingerprint: str) -> bool: ...

    def trust_ultimately(self, fingerprint: str) -> None: ...

    def certify(self, fingerprint: str, signer: str) -> None: ...

    def has_secret_key(self, fingerprint: str) -> bool: ...

    def unlocks(self, fingerprint: str) -> bool: ...


class Certificates(Protocol):
    """S/MIME: the state of a contact's certificate, and the Leerplicht certificate and key that sign."""

    def inspect(self, pem: str, address: str | None, now: datetime) -> KeyInfo: ...

    def own_certificate(self) -> str: ...

    def signer(self) -> tuple[bytes, bytes]: ...

    # Decrypt enveloped data to the Leerplicht certificate and verify that `signer` (PEM) signed what it holds
    def open(self, data: bytes, signer: str, now: datetime) -> "Verified | Reason": ...


@dataclass(frozen=True)
class Tally:
    municipality: str
    signals: int
    children: int
    schools: int


@dataclass(frozen=True)
class Journal:
    """What the journal knows of one source: its outcome once recorded, the deliveries accepted, the attempts."""

    outcome: str | None
    delivered: frozenset[str]
    attempts: int
    since: datetime | None = field(default=None, compare=False)    # when the daemon first tried it


@dataclass(frozen=True)
class CounterRow:
    month: str
    municipality: str
    outcome: str
    signals: int
    children: int
    schools: int


class AlertKind(StrEnum):
    """Which hourly budget an alert is counted in (alerts.max_per_hour, alerts.junk_per_hour) or none."""

    genuine = "genuine"        # about an authentic signal, a key, or mail that claims a trusted sender
    junk = "junk"              # about signal-like mail from an untrusted sender
    digest = "digest"          # the junk told together, at most once an hour, outside both budgets
    digested = "digested"      # a junk event told by a digest: no mail of its own


@dataclass(frozen=True)
class PendingAlert:
    """An alert that could not go out yet: the fields of the alert itself, never anything from the message.

    `Store.pending_alerts` returns them in the order they were held: oldest first.
    """

    event: str
    kind: AlertKind            # genuine (sent later, each on its own) or junk (told by the digest)
    reason: Reason
    folder: str | None
    detail: str
    items: tuple[str, ...] = ()
    reference: str = ""
    recipient: str = ""        # the one officer it is for (an answer to their reply); "" for every officer


# The counters' outcome for a held message purged after the retention time.
EXPIRED = "expired"


@dataclass(frozen=True)
class Placed:
    """A message the daemon placed in the manual or quarantine folder, as the store records it: no content."""

    source: str
    ref: str
    folder: str
    message_id: str
    size: int
    outcome: str
    arrived: datetime
    placed: datetime
    finished_by: str = ""      # the source of the officer's reply that finished it: it only waits for its purge


class Store(Protocol):
    """The only state: anonymous counters, the journal of sources in flight, replay and alert bookkeeping."""

    def begin_attempt(self, source: str, at: datetime) -> int: ...

    def uncount_attempt(self, source: str) -> None: ...

    def journal(self, source: str) -> Journal: ...

    def journals(self, prefix: str) -> dict[str, Journal]: ...

    def record_delivery(self, source: str, delivery: str, at: datetime) -> None: ...

    def record_outcome(self, source: str, outcome: str, month: str, tallies: Sequence[Tally],
                       also: Sequence[tuple[str, Tally]] = ()) -> None: ...

    def forget(self, *sources: str) -> None: ...

    def claim_signal(self, digest: str, source: str, at: datetime) -> str: ...

    def take_over_claim(self, digest: str, claimant: str, source: str) -> bool: ...

    def settle_claim(self, source: str, disposition: str) -> None: ...

    def forget_signals_before(self, moment: datetime) -> None: ...

    def mark_poisoned(self, digest: str, at: datetime) -> None: ...

    def is_poisoned(self, digest: str) -> bool: ...

    def alert_due(self, event: str, now: datetime, repeat_after: timedelta | None) -> bool: ...

    def record_alert(self, event: str, now: datetime, kind: AlertKind, covers: Sequence[str] = ()) -> None: ...

    def alerts_sent_after(self, kind: AlertKind, moment: datetime) -> int: ...

    def hold_alert(self, pending: PendingAlert) -> None: ...

    def pending_alerts(self, kind: AlertKind) -> list[PendingAlert]: ...

    def retire_alert(self, event: str) -> None: ...

    def record_placed(self, placed: Placed) -> str: ...

    def placed(self) -> list[Placed]: ...

    def placed_by_reference(self, ref: str) -> Placed | None: ...

    def finish_placed(self, source: str, by: str) -> None: ...

    def forget_placed(self, source: str, *, expired_in: str | None = None) -> None: ...

    def move_placed(self, source: str, folder: str) -> None: ...

    def waiting_since(self, prefix: str) -> dict[str, datetime]: ...

    def remember_sent(self, digest: str, at: datetime) -> None: ...

    def is_sent(self, digest: str) -> bool: ...

    def forget_sent(self, digest: str) -> None: ...

    def counters(self) -> list[CounterRow]: ...

    def close(self) -> None: ...
