"""The diagnosis of a failed connection, as a pure mapping: each error the libraries raise, the sentence it becomes.

The same errors from real loopback servers are in tests/integration/test_check_diagnosis.py; here the cases no
loopback server can produce honestly (a name the DNS does not know, an unreachable network) and the edges of the
mapping (a chain wrapped by aiosmtplib, a hostile certificate, an error with nothing to say).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from datetime import UTC, datetime, timedelta

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hwc_mailer.edges.reach import PeerCertificate, Secured, SpeaksTlsAtOnce, cause, diagnose
from hwc_mailer.settings.config import Imap, Smtp, TlsMode

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IMAP = Imap.model_validate({"host": "imap.example.nl", "username": "hwc@example.nl",
                            "password": {"env": "UNUSED"}})
SMTP = Smtp.model_validate({"host": "smtp.example.nl", "port": 587, "tls": "starttls", "ca_file": "/etc/ca.pem"})


def refused_certificate(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    error.verify_code = code
    error.verify_message = message
    return error


def certificate(common_name: str, names: list[str], not_before: datetime, not_after: datetime) -> PeerCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                                        critical=False)
    parsed = PeerCertificate.from_der(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    assert parsed is not None
    return parsed


def test_a_name_the_dns_does_not_know_is_a_host_name_to_fix() -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert diagnose(error, IMAP, "imap", NOW) == ("the host name imap.example.nl does not resolve (Name or service "
                                                  "not known): fix imap.host")


def test_a_name_server_out_of_reach_is_this_machines_dns_first() -> None:
    error = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    assert diagnose(error, SMTP, "smtp", NOW) == (
        "the host name smtp.example.nl could not be looked up (Temporary failure in name resolution): no name server "
        "answered; check this machine's DNS, then smtp.host")


def test_aiosmtplib_wrapping_is_seen_through_to_the_network_error() -> None:
    """aiosmtplib raises its own errors, caused by the socket's; a timeout of asyncio is caused by a cancellation."""
    def raised(error: BaseException, by: BaseException) -> BaseException:
        error.__cause__ = by
        return error

    timeout = raised(aiosmtplib.SMTPConnectTimeoutError("Timed out waiting for server ready message"),
                     raised(TimeoutError(), asyncio.CancelledError()))
    refused = raised(aiosmtplib.SMTPConnectError("Error connecting to smtp.example.nl on port 587"),
                     ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))

    assert isinstance(cause(timeout), TimeoutError) and not isinstance(cause(timeout), aiosmtplib.SMTPException)
    assert diagnose(timeout, SMTP, "smtp", NOW).startswith("no answer within 30s (smtp.timeout_seconds): ")
    assert diagnose(refused, SMTP, "smtp", NOW).startswith("nothing listens on smtp.example.nl:587 (connection "
                                                           "refused)")


def test_a_gateway_is_named_by_its_place_in_the_service_file() -> None:
    error = SpeaksTlsAtOnce("port 587 speaks TLS at once")

    assert diagnose(error, SMTP, "gateways.securemail", NOW) == (
        "port 587 speaks TLS at once, it sends no plain-text greeting: set gateways.securemail.tls: implicit (or "
        "gateways.securemail.port to the server's STARTTLS port)")


def test_an_unreachable_network_and_a_dropped_connection() -> None:
    unreachable = OSError(errno.ENETUNREACH, "Network is unreachable")
    dropped = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

    assert diagnose(unreachable, IMAP, "imap", NOW) == ("imap.example.nl:993 cannot be reached (Network is "
                                                        "unreachable): check the network, its firewall and imap.host")
    assert diagnose(dropped, IMAP, "imap", NOW) == ("the server closed the connection (Connection reset by peer): "
                                                    "check imap.tls and imap.port")


def test_an_error_with_nothing_to_say_is_still_a_sentence_never_a_bare_name() -> None:
    assert diagnose(OSError(), IMAP, "imap", NOW) == ("the connection failed; check imap.host, imap.port, imap.tls "
                                                      "and imap.ca_file")


def test_the_ca_the_certificate_is_checked_against_is_named() -> None:
    error = refused_certificate(20, "unable to get local issuer certificate")

    assert diagnose(error, IMAP, "imap", NOW).startswith("the certificate is not from a CA in the system's CA store "
                                                         "(unable to get local issuer certificate)")
    assert diagnose(error, SMTP, "smtp", NOW).startswith("the certificate is not from a CA in smtp.ca_file "
                                                         "(/etc/ca.pem)")


def test_a_name_mismatch_without_the_certificate_still_names_the_host() -> None:
    error = refused_certificate(62, "Hostname mismatch, certificate is not valid for 'smtp.example.nl'.")

    assert diagnose(error, SMTP, "smtp", NOW) == ("the certificate is not for smtp.example.nl (host name mismatch): "
                                                  "fix smtp.host or the server's certificate")


def test_an_expiry_is_the_servers_own_certificate_only_when_its_dates_say_so() -> None:
    """OpenSSL says "expired" for any certificate of the chain: a valid leaf means an intermediate expired."""
    error = refused_certificate(10, "certificate has expired")
    expired = certificate("mail.example.nl", [], NOW - timedelta(days=400), NOW - timedelta(days=1))
    valid = certificate("mail.example.nl", [], NOW - timedelta(days=10), NOW + timedelta(days=80))

    assert diagnose(error, SMTP, "smtp", NOW, expired) == ("the certificate CN=mail.example.nl expired on 2026-02-28: "
                                                           "the server's certificate must be renewed")
    assert diagnose(error, SMTP, "smtp", NOW, valid) == ("a certificate in the server's chain has expired (certificate "
                                                         "has expired): the server's chain must be renewed")


def test_a_certificate_not_yet_valid_points_at_the_clock() -> None:
    error = refused_certificate(9, "certificate is not yet valid")
    early = certificate("mail.example.nl", [], NOW + timedelta(hours=5), NOW + timedelta(days=80))

    assert diagnose(error, IMAP, "imap", NOW, early) == (
        "the certificate CN=mail.example.nl is valid only from 2026-03-01 17:00 UTC: check this machine's clock, or "
        "the server's certificate")


def test_an_unlisted_verify_code_says_what_openssl_said() -> None:
    error = refused_certificate(26, "unsuitable certificate purpose")

    assert diagnose(error, IMAP, "imap", NOW) == ("the certificate was refused (unsuitable certificate purpose): check "
                                                  "the server's certificate and the system's CA store")


def test_a_certificate_is_described_by_its_common_name_and_the_names_it_is_for() -> None:
    parsed = certificate("mail.other.nl", ["mail.other.nl", "smtp.other.nl"], NOW, NOW + timedelta(days=90))

    assert parsed.subject == "CN=mail.other.nl" and parsed.names == ("mail.other.nl", "smtp.other.nl")
    assert Secured(TlsMode.starttls, "TLSv1.3", parsed).describe() == ("STARTTLS (TLSv1.3), certificate "
                                                                       "CN=mail.other.nl valid until 2026-05-30")
    assert Secured(TlsMode.implicit, None, None).describe() == "TLS at once"


def test_a_hostile_certificate_cannot_break_a_line_and_garbage_is_no_certificate() -> None:
    parsed = certificate("evil\r\nimap: ok", ["x" * 300], NOW, NOW + timedelta(days=1))

    assert parsed.subject == "CN=evil??imap: ok" and parsed.names == ("x" * 80,)
    assert PeerCertificate.from_der(b"\x30\x03not a certificate") is None


def test_a_certificate_the_parser_chokes_on_names_nobody_and_raises_nothing() -> None:
    """A hostile server's certificate with its subjectAltName twice: cryptography raises DuplicateExtension, which
    is no ValueError; the message then names no certificate instead of the daemon ending."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.nl")])
    placeholder = x509.ObjectIdentifier("2.5.29.99")           # encoded as long as subjectAltName's 2.5.29.17
    der = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
           .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.example.nl")]), critical=False)
           .add_extension(x509.UnrecognizedExtension(placeholder, b"\x30\x00"), critical=False)
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    twice = der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x11")
    assert twice != der
    with pytest.raises(x509.DuplicateExtension):
        _ = x509.load_der_x509_certificate(twice).extensions

    assert PeerCertificate.from_der(twice) is None
