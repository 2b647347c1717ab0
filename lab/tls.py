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
from pathlib import Path

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
