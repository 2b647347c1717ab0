"""Every key the config and rules name, its state, and the one safe way to bring keys in.

Keys enter only through `import_keys`: a key is imported when the rules list its
fingerprint, into the keyring its role belongs in (senders inbound; school
contacts and officers outbound), and certified there by the daemon's key.
Anything else in the file is refused, so a key sent along with a mail or
slipped into a key file can never become a recipient or a trusted sender.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..domain.reasons import Reason
from ..edges.protocols import Certificates, KeyInfo, Keyring, KeyState
from ..errors import CryptoError
from ..settings.config import Settings
from ..settings.rules import Profile, Rules, certificate_digest
from .alerts import REPEAT_EVERY, Alert


class Role(StrEnum):
    daemon = "daemon"
    sender = "sender"
    contact = "contact"
    officer = "officer"


@dataclass(frozen=True)
class KeyRef:
    role: Role
    owner: str                 # who the rules say it belongs to: sender name, school code + address, officer
    fingerprint: str           # an OpenPGP fingerprint, or a certificate's SHA-256
    address: str | None        # the address a user id (or a certificate) must carry; None for senders and the daemon
    certificate: str | None = None      # an S/MIME certificate (PEM): checked against smime's CAs, not a keyring


@dataclass(frozen=True)
class KeyStatus:
    ref: KeyRef
    info: KeyInfo
    expiring: bool

    @property
    def problem(self) -> bool:
        return self.info.state is not KeyState.ok or self.expiring

    def describe(self, now: datetime) -> str:
        if self.info.state is KeyState.ok and self.info.expires is not None:
            days = int((self.info.expires - now).total_seconds() // 86400)
            return f"expires in {days} days" if self.expiring else "ok"
        return self.info.state.value


def referenced_keys(settings: Settings, rules: Rules) -> list[KeyRef]:
    refs = [KeyRef(Role.daemon, settings.sender.address, settings.gpg.key_fingerprint, None)]
    refs += [KeyRef(Role.sender, sender.name, fingerprint, None)
             for sender in rules.trusted_senders for fingerprint in sender.fingerprints]
    seen: set[tuple[str, str]] = set()
    for school in rules.schools:
        for contact in school.contacts:
            if contact.profile is Profile.gateway or (contact.key, contact.email) in seen:
                continue
            seen.add((contact.key, contact.email))
            refs.append(KeyRef(Role.contact, f"{school.code} {contact.email}", contact.key, contact.email,
                               contact.certificate))
    refs += [KeyRef(Role.officer, officer.email, officer.key, officer.email, officer.certificate)
             for officer in rules.officers if officer.key is not None]
    return refs


def keyring_for(role: Role, inbound: Keyring, outbound: Keyring) -> Keyring:
    return inbound if role is Role.sender else outbound


def key_statuses(settings: Settings, rules: Rules, inbound: Keyring, outbound: Keyring, now: datetime,
                 certificates: Certificates | None = None) -> list[KeyStatus]:
    refs = referenced_keys(settings, rules)
    if certificates is not None:            # the Leerplicht certificate that signs S/MIME notices
        own = certificates.own_certificate()
        refs.insert(1, KeyRef(Role.daemon, settings.sender.address, certificate_digest(own), settings.sender.address,
                              own))
    statuses = []
    for ref in refs:
        if ref.certificate is not None:
            info = (certificates.inspect(ref.certificate, ref.address, now) if certificates is not None
                    else KeyInfo(ref.fingerprint, KeyState.missing))       # smime contacts, no smime section
        else:
            info = keyring_for(ref.role, inbound, outbound).inspect(ref.fingerprint, ref.address)
        if ref.role is Role.sender and info.state is KeyState.cannot_encrypt:
            info = KeyInfo(info.fingerprint, KeyState.ok, info.expires)
        statuses.append(KeyStatus(ref, info, info.expires_within(now, settings.alerts.key_expiry_days)))
    return statuses


@dataclass(frozen=True)
class KeyHealth:
    """For the metrics: when the first key, certificate or login secret expires, and how many cannot be used."""

    first_expiry: datetime | None       # None: none of them expires
    unusable: int


def first_expiry(statuses: list[KeyStatus]) -> datetime | None:
    """When the first key or certificate still in use expires: one already unusable is counted as that, so it
    cannot hide the next one running out."""
    return min((status.info.expires for status in statuses
                if status.info.state is KeyState.ok and status.info.expires is not None), default=None)


def key_health(statuses: list[KeyStatus], secret_expires: datetime | None) -> KeyHealth:
    expiries = [moment for moment in (first_expiry(statuses), secret_expires) if moment is not None]
    return KeyHealth(min(expiries, default=None), sum(status.info.state is not KeyState.ok for status in statuses))


def keyring_problems(settings: Settings, rules: Rules, inbound: Keyring, outbound: Keyring) -> list[str]:
    """What `check` and `keys` report beyond key states: a missing own secret key, a mixed-up keyring."""
    own = settings.gpg.key_fingerprint
    problems = []
    for keyring in (inbound, outbound):
        if not keyring.has_secret_key(own):
            problems.append(f"the daemon's secret key {own} is missing from {keyring.home}")
        elif not keyring.unlocks(own):
            problems.append(f"the daemon's secret key {own} in {keyring.home} cannot be used: it is protected by a "
                            "passphrase that gpg.passphrase does not give " + (
                                "(it gives another one)" if settings.gpg.passphrase else "(it is not set)")
                            + "; set gpg.passphrase, or import the key without one")
    for ref in referenced_keys(settings, rules):
        if ref.role in (Role.contact, Role.officer) and inbound.key_state(ref.fingerprint) is not KeyState.missing:
            problems.append(f"{ref.role.value} {ref.owner}: key {ref.fingerprint} is in the inbound keyring "
                            f"{inbound.home}; remove it there, it must never vouch for a signal")
    return problems


def key_alerts(statuses: list[KeyStatus], now: datetime) -> list[Alert]:
    """One alert per key with a problem; the alerter repeats each at most weekly."""
    alerts = []
    for status in statuses:
        if not status.problem:
            continue
        reason = Reason.KEY_EXPIRING if status.info.state is KeyState.ok else Reason.KEY_UNUSABLE
        ref = status.ref
        alerts.append(Alert(f"key:{ref.fingerprint}:{reason.value}", reason,
                            detail=f"{ref.role.value} {ref.owner}, sleutel {ref.fingerprint}: {status.describe(now)}",
                            repeat_after=REPEAT_EVERY))
    return alerts


@dataclass(frozen=True)
class ImportOutcome:
    imported: list[KeyRef]
    uncertified: list[KeyRef]  # imported, but gpg would not certify them (expired, revoked): never used
    refused: list[str]         # fingerprints in the file that the rules do not list
    unusable: list[tuple[KeyRef, KeyState]]     # certified, and still not usable (wrong address, sign-only)


def import_keys(data: bytes, settings: Settings, rules: Rules, inbound: Keyring, outbound: Keyring) -> ImportOutcome:
    own = settings.gpg.key_fingerprint
    for keyring in (inbound, outbound):
        keyring.trust_ultimately(own)
    wanted = {ref.fingerprint: ref for ref in referenced_keys(settings, rules) if ref.role is not Role.daemon}
    imported: list[KeyRef] = []
    uncertified: list[KeyRef] = []
    refused: list[str] = []
    unusable: list[tuple[KeyRef, KeyState]] = []
    for fingerprint in inbound.scan(data):
        ref = wanted.get(fingerprint)
        if ref is None:
            refused.append(fingerprint)
            continue
        keyring = keyring_for(ref.role, inbound, outbound)
        if not keyring.import_key(data, fingerprint):
            continue
        try:
            keyring.certify(fingerprint, own)
        except CryptoError:
            uncertified.append(ref)
            continue
        state = keyring.key_state(fingerprint, ref.address)
        if state is KeyState.ok or (ref.role is Role.sender and state is KeyState.cannot_encrypt):
            imported.append(ref)
        else:
            unusable.append((ref, state))
    return ImportOutcome(imported, uncertified, refused, unusable)
