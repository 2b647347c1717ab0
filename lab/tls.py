"""A throwaway certificate authority for the mail lab.

Clients under test must verify certificates exactly as they would in production, so
the lab servers present a certificate signed by a fresh CA the tests trust explicitly.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_DAYS = "30"


@dataclass(frozen=True)
class LabTls:
    """Paths of the CA certificate and of the server certificate and key it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls(
    directory: Path,
    hostnames: Sequence[str] = ("localhost", "127.0.0.1"),
    ca_name: str = "hwc-lab CA",
) -> LabTls:
    """Create a CA and a server certificate for `hostnames` (EC P-256) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    tls = LabTls(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server.key",
    )
    ca_key = directory / "ca.key"
    _new_key(ca_key)
    _self_sign_ca(ca_key, tls.ca_file, ca_name)
    _new_key(tls.key_file)
    csr = directory / "server.csr"
    _openssl("req", "-new", "-key", tls.key_file, "-subj", f"/CN={hostnames[0]}", "-out", csr)
    extensions = directory / "server.ext"
    extensions.write_text(_server_extensions(hostnames))
    _openssl(
        "x509", "-req", "-in", csr, "-CA", tls.ca_file, "-CAkey", ca_key,
        "-set_serial", f"0x{secrets.token_hex(16)}", "-days", _VALID_DAYS,
        "-extfile", extensions, "-out", tls.cert_file,
    )
    return tls


def reissue(tls: LabTls, directory: Path, *, not_before: datetime, not_after: datetime,
            hostnames: Sequence[str] = ("localhost", "127.0.0.1")) -> LabTls:
    """A server certificate from the CA of `tls` with the validity given (one that has expired, or is not valid
    yet), with the same extensions as make_tls' but for the dates; its CA file is that of `tls`."""
    ca_key = serialization.load_pem_private_key((tls.ca_file.parent / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address(name)) if _is_address(name) else x509.DNSName(name)
             for name in hostnames]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    reissued = LabTls(ca_file=tls.ca_file, cert_file=directory / "server.pem", key_file=directory / "server.key")
    reissued.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    reissued.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    return reissued


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _new_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


def _self_sign_ca(key: Path, cert: Path, name: str) -> None:
    """A CA certificate with the extensions strict verifiers (X509_STRICT) insist on."""
    _openssl(
        "req", "-x509", "-new", "-key", key, "-subj", f"/CN={name}", "-days", _VALID_DAYS,
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        "-out", cert,
    )


def _server_extensions(hostnames: Sequence[str]) -> str:
    alt_names = ",".join(_subject_alt_name(name) for name in hostnames)
    return "\n".join(
        [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=serverAuth",
            "subjectKeyIdentifier=hash",
            "authorityKeyIdentifier=keyid:always",
            f"subjectAltName={alt_names}",
            "",
        ]
    )


def _subject_alt_name(name: str) -> str:
    """IP SAN for addresses (hostname checks on an IP never look at DNS names)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"DNS:{name}"
    return f"IP:{name}"


def _openssl(*args: str | Path) -> None:
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")
