"""S/MIME certificates: whether a contact's may be encrypted to, and the Leerplicht identity that signs.

A certificate is used only when every check passes, as Outlook would insist and a little more:
an RSA key of at least 2048 bits (an EC key is reported as not supported yet, never skipped in
silence), no MD5 or SHA-1 signature, valid now, no CA's certificate and no unknown critical
extension, a validated path (through intermediates in the same PEM) to a CA in `smime.ca_file`,
not revoked by a configured CRL of its issuer, naming the contact's address (subjectAltName
rfc822Name, or the subject's emailAddress), and fit for encryption (keyUsage keyEncipherment and
extendedKeyUsage emailProtection, where present).
"""

import re
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from ..domain.reasons import Reason
from ..errors import ConfigError
from ..settings.config import Smime
from ..settings.rules import certificate_digest
from .files import check_secret
from .protocols import KeyInfo, KeyState, Verified

OPENSSL_SECONDS = 30
# In `openssl cms -cmsout -print`: the signingTime attribute's value, two lines below its name.
_SIGNING_TIME = re.compile(r"signingTime.*\n.*\n\s*(?:UTCTIME|GENERALIZEDTIME):(?P<when>[^\n]+)")
MIN_RSA_BITS = 2048
WEAK_HASHES = (hashes.MD5, hashes.SHA1)
MAX_CHAIN = 6


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM text; [] when there is none or it cannot be read."""
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def _read_crl(path: Path) -> x509.CertificateRevocationList:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"smime.crl_files: cannot read {path}: {error.strerror}") from None
    try:
        return x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError:
        raise ConfigError(f"smime.crl_files: {path} is not a CRL (PEM or DER)") from None


def _acts_as_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _addresses(certificate: x509.Certificate) -> set[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = {str(name).lower() for name in names.get_values_for_type(x509.RFC822Name)}
    except x509.ExtensionNotFound:
        found = set()
    found |= {str(attribute.value).lower() for attribute in certificate.subject.get_attributes_for_oid(
        NameOID.EMAIL_ADDRESS)}
    return found


def _encipherment(certificate: x509.Certificate) -> bool:
    """Fit for S/MIME encryption where the certificate says what it is for."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_encipherment:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.EMAIL_PROTECTION in purposes or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in purposes


class CertificateBook:
    """The CAs and CRLs of `smime`, and the Leerplicht certificate and key; read once per start (and SIGHUP)."""

    def __init__(self, settings: Smime) -> None:
        self._settings = settings
        try:
            anchors = settings.ca_file.read_bytes()
        except OSError as error:
            raise ConfigError(f"smime.ca_file: cannot read {settings.ca_file}: {error.strerror}") from None
        found = read_certificates(anchors)
        if not found:
            raise ConfigError(f"smime.ca_file: {settings.ca_file} holds no PEM certificate")
        self._store = Store(found)
        self._crls = [_read_crl(path) for path in settings.crl_files]

    def inspect(self, pem: str, address: str | None, now: datetime) -> KeyInfo:
        """The state of the first certificate in `pem` for mail to `address` (None: the address is not checked);
        one that cannot be read or judged (a malformed extension) is `missing`, never an exception."""
        chain = read_certificates(pem.encode())
        if not chain:
            return KeyInfo(certificate_digest(pem), KeyState.missing)
        certificate = chain[0]
        try:
            state = self._state(certificate, chain[1:], address, now)
        except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension,
                x509.UnsupportedGeneralNameType):
            state = KeyState.missing
        return KeyInfo(certificate_digest(pem), state, certificate.not_valid_after_utc)

    def _state(self, certificate: x509.Certificate, intermediates: Sequence[x509.Certificate], address: str | None,
               now: datetime) -> KeyState:
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return KeyState.unsupported if isinstance(key, ec.EllipticCurvePublicKey) else KeyState.weak
        hash_algorithm = certificate.signature_hash_algorithm
        if key.key_size < MIN_RSA_BITS or hash_algorithm is None or isinstance(hash_algorithm, WEAK_HASHES):
            return KeyState.weak
        if now < certificate.not_valid_before_utc:
            return KeyState.not_yet_valid
        if now > certificate.not_valid_after_utc:
            return KeyState.expired
        if _acts_as_ca(certificate) or any(extension.critical and isinstance(extension.value,
                                                                             x509.UnrecognizedExtension)
                                           for extension in certificate.extensions):
            return KeyState.untrusted       # a CA's certificate is no mailbox's; an unknown critical extension binds
        issuer = self._trusted_issuer(certificate, intermediates, now)
        if issuer is None:
            return KeyState.untrusted
        if self._revoked(certificate, issuer):
            return KeyState.revoked
        if address is not None and address.lower() not in _addresses(certificate):
            return KeyState.wrong_address
        if not _encipherment(certificate):
            return KeyState.cannot_encrypt
        return KeyState.ok

    def _trusted_issuer(self, certificate: x509.Certificate, intermediates: Sequence[x509.Certificate],
                        now: datetime) -> x509.Certificate | None:
        """The certificate's direct issuer when a path from it to a CA of ca_file validates: cryptography's path
        validation with the Web PKI rules for every CA on the way (basicConstraints, keyCertSign, path length, key
        sizes, validity now); the leaf's own extensions are judged by `_state`."""
        verifier = (PolicyBuilder().store(self._store).time(now).max_chain_depth(MAX_CHAIN)
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            chain = verifier.verify(certificate, list(intermediates)).chain
        except (VerificationError, ValueError, TypeError):
            return None
        return chain[1] if len(chain) > 1 else None

    def _revoked(self, certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = issuer.public_key()
        if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            return False
        return any(crl.issuer == certificate.issuer and crl.is_signature_valid(key)
                   and crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
                   for crl in self._crls)

    def open(self, data: bytes, signer: str, now: datetime) -> Verified | Reason:
        """An S/MIME reply: decrypted with the Leerplicht key, its signature verified by `openssl cms` against
        ca_file, and signed by `signer` exactly (the one certificate openssl names as signer; its -nointern does not
        keep a message from naming another one); the signed content, the signer's SHA-256 and the signing time.
        The content passes through memory and pipes only."""
        chain, key = self.signer()
        private = serialization.load_pem_private_key(key, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            return Reason.DECRYPTION_FAILED
        try:
            signed = pkcs7.pkcs7_decrypt_der(data, read_certificates(chain)[0], private, [])
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return Reason.DECRYPTION_FAILED
        state = self.inspect(signer, None, now).state
        if state is not KeyState.ok:
            return {KeyState.expired: Reason.KEY_EXPIRED, KeyState.revoked: Reason.KEY_REVOKED}.get(
                state, Reason.UNKNOWN_KEY)
        with tempfile.TemporaryDirectory() as directory:        # for the signer's (public) certificate only
            found = Path(directory) / "signer.pem"
            verified = _openssl(["cms", "-verify", "-inform", "SMIME", "-CAfile", str(self._settings.ca_file),
                                 "-purpose", "smimesign", "-signer", str(found)], signed)
            signers = read_certificates(found.read_bytes()) if verified is not None and found.exists() else []
        if verified is None:
            return Reason.BAD_SIGNATURE
        expected = read_certificates(signer.encode("ascii", "replace"))[:1]
        if [certificate.public_bytes(serialization.Encoding.DER) for certificate in signers] != \
                [certificate.public_bytes(serialization.Encoding.DER) for certificate in expected]:
            return Reason.WRONG_SIGNER
        printed = _openssl(["cms", "-cmsout", "-print", "-inform", "SMIME"], signed)
        signed_at = _signing_time(printed.decode("ascii", "replace")) if printed is not None else None
        if signed_at is None:
            return Reason.UNSIGNED
        return Verified(verified, certificate_digest(signer), signed_at)

    def own_certificate(self) -> str:
        """The Leerplicht certificate with its intermediates, PEM."""
        try:
            chain = self._settings.certificate.read_text(encoding="ascii")
        except (OSError, UnicodeError) as error:
            raise ConfigError(f"smime.certificate: cannot read {self._settings.certificate}: "
                              f"{getattr(error, 'strerror', None) or type(error).__name__}") from None
        if not read_certificates(chain.encode()):
            raise ConfigError(f"smime.certificate: {self._settings.certificate} holds no PEM certificate")
        return chain

    def signer(self) -> tuple[bytes, bytes]:
        """The Leerplicht certificate (with its intermediates) and private key, both PEM."""
        return self.own_certificate().encode(), self._settings.key.read(check_secret).encode("ascii", "replace")


def _openssl(arguments: list[str], data: bytes) -> bytes | None:
    """openssl's output, or None when it fails or takes too long."""
    try:
        result = subprocess.run(["openssl", *arguments], input=data, capture_output=True, check=False,
                                timeout=OPENSSL_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _signing_time(printed: str) -> datetime | None:
    found = _SIGNING_TIME.search(printed)
    if found is None:
        return None
    try:
        return datetime.strptime(" ".join(found["when"].split()), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
    except ValueError:
        return None
