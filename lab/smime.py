"""A throwaway S/MIME world: a CA, the Leerplicht certificate, school certificates good and bad, a CRL.

The daemon must never be the only judge of its own S/MIME: `read` opens a mail the way a school's
client would, with `openssl cms` (decrypt with the school's key, verify against the CA), through
pipes, so no decrypted byte touches the disk.
"""

from __future__ import annotations

import email.policy
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    address: str
    certificate: bytes          # PEM
    key: bytes                  # PEM, unencrypted
    serial: int
    certificate_file: Path
    key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class SmimeLab:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC)
        self._ca = (x509.CertificateBuilder().subject_name(_name("Lab S/MIME CA")).issuer_name(_name("Lab S/MIME CA"))
                    .public_key(self._ca_key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - ONE_DAY).not_valid_after(now + 3650 * ONE_DAY)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                 key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                 key_cert_sign=True, crl_sign=True, encipher_only=False,
                                                 decipher_only=False), critical=True)
                    .sign(self._ca_key, hashes.SHA256()))
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(_pem(self._ca))

    def issue(self, address: str, *, valid_from: timedelta = -ONE_DAY, valid_for: timedelta = 365 * ONE_DAY,
              elliptic: bool = False, encipherment: bool = True, name: str | None = None,
              issuer: Issued | None = None, ca: bool = False, bits: int = 2048) -> Issued:
        """A certificate for `address` (subjectAltName rfc822Name), from now + `valid_from` for `valid_for`; signed
        by the CA, or by `issuer` (whatever that is: a forger's try), with basicConstraints CA:TRUE when `ca`."""
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(ec.SECP256R1()) if elliptic
            else rsa.generate_private_key(public_exponent=65537, key_size=bits))
        start = datetime.now(UTC) + valid_from
        serial = x509.random_serial_number()
        signer_key: rsa.RSAPrivateKey = self._ca_key
        signer_name = self._ca.subject
        if issuer is not None:
            loaded = serialization.load_pem_private_key(issuer.key, password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            signer_key, signer_name = loaded, x509.load_pem_x509_certificate(issuer.certificate).subject
        builder = (x509.CertificateBuilder().subject_name(_name(name or address)).issuer_name(signer_name)
                   .public_key(key.public_key()).serial_number(serial)
                   .not_valid_before(start).not_valid_after(start + valid_for)
                   .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=encipherment and not elliptic,
                                                data_encipherment=False, key_agreement=elliptic,
                                                key_cert_sign=False, crl_sign=False, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False))
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        certificate = builder.sign(signer_key, hashes.SHA256())
        stem = f"{address.replace('@', '_at_')}-{serial:x}"[:200]
        certificate_file, key_file = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        certificate_file.write_bytes(_pem(certificate))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        key_file.write_bytes(key_pem)
        key_file.chmod(0o600)
        return Issued(address, _pem(certificate), key_pem, serial, certificate_file, key_file)

    def crl(self, revoked: Sequence[Issued]) -> Path:
        now = datetime.now(UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self._ca.subject)
                   .last_update(now - ONE_DAY).next_update(now + 7 * ONE_DAY))
        for issued in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(issued.serial).revocation_date(now - ONE_DAY).build())
        path = self.directory / "ca.crl"
        path.write_bytes(builder.sign(self._ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return path

    def reply(self, text: str, *, signer: Issued, to: bytes, sender: str, recipient: str, subject: str,
              answers: str | None = None) -> bytes:
        """A reply as Outlook sends S/MIME: the text signed by `signer` (multipart/signed), enveloped to the
        certificate `to` (PEM) with AES-256-CBC, as one application/pkcs7-mime part."""
        entity = EmailMessage(policy=email.policy.SMTP)
        entity.set_content(text)
        signer_certificate = x509.load_pem_x509_certificate(signer.certificate)
        signer_key = serialization.load_pem_private_key(signer.key, password=None)
        assert isinstance(signer_key, rsa.RSAPrivateKey)
        signed = (pkcs7.PKCS7SignatureBuilder().set_data(entity.as_bytes())
                  .add_signer(signer_certificate, signer_key, hashes.SHA256())
                  .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature]))
        enveloped = (pkcs7.PKCS7EnvelopeBuilder().set_data(signed).add_recipient(x509.load_pem_x509_certificate(to))
                     .set_content_encryption_algorithm(algorithms.AES256).encrypt(serialization.Encoding.DER, []))
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="maastricht.example.nl")
        if answers:
            message["In-Reply-To"] = answers
            message["References"] = answers
        message.set_content(enveloped, maintype="application", subtype="pkcs7-mime",
                            params={"smime-type": "enveloped-data", "name": "smime.p7m"}, disposition="attachment",
                            filename="smime.p7m")
        return message.as_bytes()

    def read(self, raw: bytes, reader: Issued) -> bytes:
        """The mail as `reader`'s client opens it: decrypted with their key, the signature verified against the
        CA (openssl cms fails otherwise); returns the signed content (the notice entity)."""
        signed = _openssl(["cms", "-decrypt", "-recip", str(reader.certificate_file), "-inkey",
                           str(reader.key_file)], raw)
        return _openssl(["cms", "-verify", "-CAfile", str(self.ca_file)], signed)


def _openssl(arguments: list[str], data: bytes) -> bytes:
    result = subprocess.run(["openssl", *arguments], input=data, capture_output=True, check=False, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {arguments[0]} {arguments[1]} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout
