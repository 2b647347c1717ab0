"""How a contact's mail is protected: one Protocol, one implementation per delivery profile.

compose builds the inner notice once per school and profile; the profile seals it:

    openpgp   PGP/MIME (RFC 3156), encrypted to the contacts' keys, signed with the daemon's key
    smime     S/MIME (RFC 8551): the notice signed with the Leerplicht certificate (multipart/signed, SHA-256),
              that enveloped to the contacts' certificates (RSA key transport, AES-256-CBC), as Outlook reads
    gateway   the notice in clear with the gateway's marker: only ever handed to that gateway's transport,
              over verified TLS, and the gateway encrypts and delivers
"""

import email
from email.message import EmailMessage
from email.policy import SMTP
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from ..edges.protocols import Keyring
from .notice import Notice


class Sealer(Protocol):
    profile: str

    def seal(self, notice: Notice) -> EmailMessage: ...


class PgpMimeSealer:
    """Encrypted to every recipient key and signed with the daemon's key, as RFC 3156 section 4 draws it."""

    profile = "openpgp"

    def __init__(self, keyring: Keyring, signer: str) -> None:
        self._keyring = keyring
        self._signer = signer

    def seal(self, notice: Notice) -> EmailMessage:
        return pgp_mime(notice, self._keyring.encrypt_signed(notice.inner, notice.fingerprints, self._signer))


def pgp_mime(notice: Notice, armored: bytes) -> EmailMessage:
    """RFC 3156 section 4: the control part, then the ciphertext."""
    message = _outer(notice)
    message.set_type("multipart/encrypted")
    message.set_param("protocol", "application/pgp-encrypted")
    control = EmailMessage(policy=SMTP)
    control.set_content(b"Version: 1\r\n", maintype="application", subtype="pgp-encrypted", cte="7bit")
    control["Content-Description"] = "PGP/MIME version identification"
    payload = EmailMessage(policy=SMTP)
    payload.set_content(armored, maintype="application", subtype="octet-stream", cte="7bit",
                        disposition="inline", filename="encrypted.asc")
    payload["Content-Description"] = "OpenPGP encrypted message"
    message.attach(control)
    message.attach(payload)
    return message


class SmimeSealer:
    """Signed, then enveloped: one application/pkcs7-mime part that only the contacts' certificates open."""

    profile = "smime"

    def __init__(self, chain: bytes, key: bytes) -> None:
        certificates = x509.load_pem_x509_certificates(chain)
        private = serialization.load_pem_private_key(key, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("the Leerplicht S/MIME key must be RSA")
        if private.public_key() != certificates[0].public_key():
            raise ValueError("smime.key does not belong to smime.certificate (the first certificate in the file)")
        self._certificate, self._intermediates, self._key = certificates[0], certificates[1:], private

    def seal(self, notice: Notice) -> EmailMessage:
        builder = pkcs7.PKCS7SignatureBuilder().set_data(notice.inner).add_signer(
            self._certificate, self._key, hashes.SHA256())
        for intermediate in self._intermediates:
            builder = builder.add_certificate(intermediate)
        signed = builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
        envelope = pkcs7.PKCS7EnvelopeBuilder().set_data(signed).set_content_encryption_algorithm(
            algorithms.AES256)
        for certificate in notice.certificates:
            envelope = envelope.add_recipient(x509.load_pem_x509_certificates(certificate.encode())[0])
        message = _outer(notice)
        message.set_content(envelope.encrypt(serialization.Encoding.DER, []), maintype="application",
                            subtype="pkcs7-mime", params={"smime-type": "enveloped-data", "name": "smime.p7m"},
                            disposition="attachment", filename="smime.p7m")
        return message


class GatewaySealer:
    """The notice's text, marked for the gateway: the gateway, under its processor agreement, encrypts it. The
    subject stays the generic one (a gateway may leave the subject in clear); the marker is set last, so nothing
    the content sets can take it away, and checked."""

    profile = "gateway"

    def __init__(self, header: str | None, subject_tag: str | None) -> None:
        self._header = header
        self._subject_tag = subject_tag

    def seal(self, notice: Notice) -> EmailMessage:
        inner = email.message_from_bytes(notice.inner, policy=SMTP)
        assert isinstance(inner, EmailMessage)
        generic = dict(notice.headers)["Subject"]
        message = _outer(notice, subject=f"{self._subject_tag} {generic}" if self._subject_tag else generic)
        message.set_content(inner.get_content(), subtype="plain", charset="utf-8", cte="quoted-printable")
        if self._header is not None:
            name, _, value = self._header.partition(":")
            message[name] = value.strip()
            if message.get_all(name) != [value.strip()]:
                raise ValueError(f"the gateway marker {name} did not survive composing the mail")
        return message


def _outer(notice: Notice, subject: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    for name, value in notice.headers:
        message[name] = subject if name == "Subject" and subject is not None else value
    message["MIME-Version"] = "1.0"
    return message
