"""How a server was reached, and what went wrong on the way, in one sentence for the admin.

`check`, the log, the systemd STATUS and the officers' alerts all say what `diagnose` says: an exception from
name lookup, connecting, TLS or the connection itself becomes what it means and what to change in the service
file, never a traceback or a bare exception name. `diagnose` is pure. `check` alone (an edge made `probing`)
asks the network twice more, both times only when something is already wrong, never with a login or mail on the
wire, each within GREETING_PATIENCE in all and reading at most PEEK_BYTES whatever the server sends:

- a STARTTLS port that has not greeted within GREETING_PATIENCE is asked for a TLS handshake on a second
  connection (`speaks_tls_at_once`): a port for TLS at once says nothing until the client speaks, and waiting for
  its greeting would only end at timeout_seconds;
- a certificate that failed verification is fetched once more, unverified, to say whose it is, who issued it,
  for which names and when it is valid (`presented_certificate`).

The daemon does neither: a greeting that comes late is not a wrong port (servers delay it on purpose, and a client
that speaks first is marked as a spammer), and the names in a certificate nobody vouches for are the sender's to
choose, so they have no place in a log line, a STATUS or an officer's alert.
"""

import errno
import select
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from cryptography import x509

from ..settings.config import Server, TlsMode

# How long a STARTTLS server may keep silent after the connect before it is asked whether it speaks TLS at once;
# also the bound of that question and of fetching a refused certificate. Servers greet in milliseconds.
GREETING_PATIENCE = 3.0
# The most a probe reads of a server's answers before its handshake: a greeting, EHLO's lines, STARTTLS' answer.
PEEK_BYTES = 64 * 1024

TLS_WORDS = {TlsMode.implicit: "TLS at once", TlsMode.starttls: "STARTTLS"}

# OpenSSL's verify codes (X509_V_ERR_*): no trusted CA vouches for the certificate (unable to get the issuer's
# certificate, locally or at all; self-signed, or a self-signed CA in the chain; unable to verify the first
# certificate; not trusted); its dates; a name or address it is not for
_UNKNOWN_CA = {2, 18, 19, 20, 21, 27}
_SELF_SIGNED = 18
_NOT_YET_VALID = 9
_EXPIRED = 10
_NAME_MISMATCH = {62: "host name mismatch", 64: "address mismatch"}
# What OpenSSL says when the first bytes from the server are no TLS record: a plain-text greeting
_NOT_TLS = {"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL"}
_LOOKUP_FOR_NOW = {socket.EAI_AGAIN}


class SpeaksTlsAtOnce(ConnectionError):
    """A port configured for STARTTLS kept silent and answered a TLS handshake: it wants TLS at once."""


@dataclass(frozen=True)
class PeerCertificate:
    """What an admin needs to know of a server's certificate; every text printable and bounded (it is the
    server's to write)."""

    subject: str                # CN=imap.example.nl, or the whole subject when it has no common name
    issuer: str
    names: tuple[str, ...]      # the names and addresses it is for (subjectAltName; else its common name)
    not_before: datetime
    not_after: datetime

    @classmethod
    def from_der(cls, der: bytes) -> "PeerCertificate | None":
        try:
            certificate = x509.load_der_x509_certificate(der)
            subject = _name(certificate.subject)
            try:
                alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                names = [*alternative.get_values_for_type(x509.DNSName),
                         *(str(address) for address in alternative.get_values_for_type(x509.IPAddress))]
            except x509.ExtensionNotFound:
                names = [subject.removeprefix("CN=")]
            return cls(subject, _name(certificate.issuer), tuple(_printable(name, 80) for name in names[:8]),
                       certificate.not_valid_before_utc, certificate.not_valid_after_utc)
        except Exception:       # whatever a hostile certificate makes the parser raise: then no name
            return None

    def for_names(self) -> str:
        return ", ".join(self.names) or "no name"


@dataclass(frozen=True)
class Secured:
    """The TLS of a connection that was set up: how, which version, and the certificate the server showed."""

    mode: TlsMode
    version: str | None
    certificate: PeerCertificate | None

    def describe(self) -> str:
        """TLS at once (TLSv1.3), certificate CN=imap.example.nl valid until 2027-03-01"""
        tls = TLS_WORDS[self.mode] + (f" ({self.version})" if self.version else "")
        if self.certificate is None:
            return tls
        return f"{tls}, certificate {self.certificate.subject} valid until {self.certificate.not_after:%Y-%m-%d}"


def secured(connection: object, mode: TlsMode) -> Secured | None:
    """What the TLS of a connection (a socket, or asyncio's SSL object) is; None for one without TLS."""
    if not isinstance(connection, (ssl.SSLSocket, ssl.SSLObject)):
        return None
    der = connection.getpeercert(binary_form=True)
    return Secured(mode, connection.version(), PeerCertificate.from_der(der) if der else None)


def unverified() -> ssl.SSLContext:
    """For looking only: the probe of a silent port and the fetch of a certificate already refused. The handshake is
    all that ever passes over a connection made with it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def patience(server: Server) -> float:
    return min(GREETING_PATIENCE, server.timeout_seconds)


def presented_certificate(server: Server, protocol: str) -> PeerCertificate | None:
    """The certificate `server` shows, unverified, after STARTTLS in `protocol` (IMAP or SMTP) when it wants that:
    only to say why it was refused. None when it shows none in time."""
    der = _handshake(server.host, server.port, patience(server), protocol if server.tls is TlsMode.starttls else "")
    return PeerCertificate.from_der(der) if der else None


def speaks_tls_at_once(host: str, port: int, seconds: float) -> bool:
    """A TLS handshake on a new connection completes within `seconds`."""
    return _handshake(host, port, seconds, "") is not None


def silent_but_tls(sock: socket.socket, host: str, port: int, seconds: float) -> bool:
    """The server on `sock` says nothing for `seconds`, where a plain-text server greets at once, and its port
    answers a TLS handshake."""
    readable, _, _ = select.select([sock], [], [], seconds)
    return not readable and speaks_tls_at_once(host, port, seconds)


def _handshake(host: str, port: int, seconds: float, protocol: str) -> bytes | None:
    """The server's certificate (DER; b"" without one) once a TLS handshake on a new connection completed, at once
    or after `protocol`'s STARTTLS; None when it did not within `seconds` in all. Nothing is sent over the TLS."""
    try:
        with socket.create_connection((host, port), seconds) as plain, Deadline(seconds, plain):
            if protocol and not _starttls(plain, protocol):
                return None
            with unverified().wrap_socket(plain, server_hostname=host) as tls:
                return tls.getpeercert(binary_form=True) or b""
    except (OSError, ValueError):
        return None


def _starttls(sock: socket.socket, protocol: str) -> bool:
    """The plain-text steps to STARTTLS, done by hand: the least that gets a server to its handshake."""
    answers = _Answers(sock)
    if protocol == "IMAP":
        if not answers.line().startswith(b"* OK"):
            return False
        sock.sendall(b"h1 STARTTLS\r\n")
        while not (line := answers.line()).startswith(b"h1 "):
            pass
        return line.startswith(b"h1 OK")
    if answers.reply() != b"220":
        return False
    sock.sendall(b"EHLO hwc-mailer.invalid\r\n")
    if answers.reply() != b"250":
        return False
    sock.sendall(b"STARTTLS\r\n")
    return answers.reply() == b"220"


class _Answers:
    """A server's lines, at most PEEK_BYTES of them in all: ValueError beyond, OSError when it hangs up."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self._read = 0

    def line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(4096)
            self._read += len(chunk)
            if not chunk:
                raise ConnectionError("the server hung up")
            if self._read > PEEK_BYTES:
                raise ValueError("the server says too much")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def reply(self) -> bytes:
        """An SMTP reply's code, after its last line (`250-...` lines go before `250 ...`)."""
        while (line := self.line())[3:4] == b"-":
            pass
        return line[:3]


class Deadline:
    """The overall time limit of one step; `watch` names the socket to shut down when it is up (None: no limit)."""

    def __init__(self, seconds: float | None, sock: socket.socket | None = None) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = time.monotonic() + seconds if seconds is not None else None
        self._sock = sock
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire) if seconds is not None else None
        if self._timer is not None:
            self._timer.daemon = True

    @property
    def passed(self) -> bool:
        """The timer fired, or a read timed out at the very end (a per-read timeout is the time left)."""
        return self.expired or (self._ends is not None and time.monotonic() >= self._ends - 0.05)

    def bounded(self, timeout: float | None) -> float | None:
        """A per-read timeout that never outlasts the step."""
        if self._ends is None:
            return timeout
        left = max(self._ends - time.monotonic(), 0.001)
        return left if timeout is None else min(timeout, left)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                shut(self._sock)

    def __enter__(self) -> "Deadline":
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._sock = None


def shut(sock: socket.socket) -> None:
    """End whatever read or write is waiting on `sock`, in whichever thread (the socket's own shutdown, not TLS')."""
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def certificate_refused(error: BaseException) -> bool:
    """The server's certificate failed verification: worth fetching it to say why."""
    return isinstance(cause(error), ssl.SSLCertVerificationError)


def cause(error: BaseException) -> BaseException:
    """The network's own error that a library wrapped: aiosmtplib raises its own with the socket's error (or the
    timeout, itself caused by a cancellation) as the cause. The deepest OSError of the chain, else `error`."""
    found, seen = error, {id(error)}
    wrapped = error.__cause__
    while wrapped is not None and id(wrapped) not in seen:
        seen.add(id(wrapped))
        if isinstance(wrapped, OSError):
            found = wrapped
        wrapped = wrapped.__cause__
    return found


def diagnose(error: BaseException, server: Server, setting: str, now: datetime,
             certificate: PeerCertificate | None = None) -> str:
    """What went wrong reaching `server` (the service file's `setting`: imap, smtp, gateways.NAME) and what to fix,
    in one sentence; `certificate` is the one the server showed, when it was refused."""
    found = cause(error)
    host, port = server.host, server.port
    if isinstance(found, SpeaksTlsAtOnce):
        return (f"port {port} speaks TLS at once, it sends no plain-text greeting: set {setting}.tls: implicit "
                f"(or {setting}.port to the server's STARTTLS port)")
    if isinstance(found, ssl.SSLCertVerificationError):
        return _certificate_problem(found, server, setting, now, certificate)
    if isinstance(found, ssl.SSLError):
        reason = found.reason or ""
        if reason in _NOT_TLS and server.tls is TlsMode.implicit:
            return (f"port {port} answers in plain text, not with TLS ({reason}): set {setting}.tls: starttls "
                    f"(or {setting}.port to the server's port for TLS at once)")
        if isinstance(found, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return (f"the server closed the connection during the TLS handshake: check {setting}.tls and "
                    f"{setting}.port, and that the server accepts TLS 1.2 or newer")
        return (f"the TLS handshake failed ({reason or _one_line(str(found))}): the server may offer only TLS older "
                f"than 1.2 or no cipher in common; check {setting}.tls and {setting}.port, and the server's TLS")
    if isinstance(found, socket.gaierror):
        if found.errno in _LOOKUP_FOR_NOW:
            return (f"the host name {host} could not be looked up ({found.strerror}): no name server answered; "
                    f"check this machine's DNS, then {setting}.host")
        return f"the host name {host} does not resolve ({found.strerror}): fix {setting}.host"
    if isinstance(found, ConnectionRefusedError):
        return (f"nothing listens on {host}:{port} (connection refused): check {setting}.host and {setting}.port, "
                "and that the server runs")
    if isinstance(found, TimeoutError):
        return (f"no answer within {server.timeout_seconds:g}s ({setting}.timeout_seconds): the server or the network "
                "is stalled, or a firewall drops the connection; check both, or raise the timeout")
    if isinstance(found, OSError) and found.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{host}:{port} cannot be reached ({found.strerror}): check the network, its firewall and {setting}.host"
    if isinstance(found, ConnectionError):
        said = _one_line(found.strerror or str(found))
        return f"the server closed the connection{f' ({said})' if said else ''}: check {setting}.tls and {setting}.port"
    text = found.strerror if isinstance(found, OSError) and found.strerror else _one_line(str(found))
    return (f"{text or 'the connection failed'}; check {setting}.host, {setting}.port, {setting}.tls and "
            f"{setting}.ca_file")


def _certificate_problem(error: ssl.SSLCertVerificationError, server: Server, setting: str, now: datetime,
                         certificate: PeerCertificate | None) -> str:
    code = error.verify_code
    said = _one_line(error.verify_message or "") or f"verify code {code}"
    whose = f" {certificate.subject}" if certificate is not None else ""
    trusted = f"{setting}.ca_file ({server.ca_file})" if server.ca_file else "the system's CA store"
    if code == _SELF_SIGNED:
        return (f"the certificate{whose} is self-signed and not in {trusted}: put it (or its CA) in {setting}.ca_file, "
                "or give the server a certificate from a CA")
    if code in _UNKNOWN_CA:
        issuer = f", issued by {certificate.issuer}," if certificate is not None else ""
        return (f"the certificate{whose}{issuer} is not from a CA in {trusted} ({said}): set {setting}.ca_file to "
                "the CA that signed it, or have the server send its intermediate certificates")
    if code in _NAME_MISMATCH:
        names = f"for {certificate.for_names()}, not" if certificate is not None else "not for"
        return (f"the certificate is {names} {server.host} ({_NAME_MISMATCH[code]}): fix {setting}.host or the "
                "server's certificate")
    if code == _EXPIRED:
        if certificate is not None and certificate.not_after < now:
            return (f"the certificate{whose} expired on {certificate.not_after:%Y-%m-%d}: the server's certificate "
                    "must be renewed")
        return f"a certificate in the server's chain has expired ({said}): the server's chain must be renewed"
    if code == _NOT_YET_VALID:
        if certificate is not None and certificate.not_before > now:
            return (f"the certificate{whose} is valid only from {certificate.not_before:%Y-%m-%d %H:%M} UTC: check "
                    "this machine's clock, or the server's certificate")
        return f"a certificate in the server's chain is not valid yet ({said}): check this machine's clock"
    return f"the certificate{whose} was refused ({said}): check the server's certificate and {trusted}"


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    text = f"CN={common[0].value!s}" if common else name.rfc4514_string()
    return _printable(text, 120) or "an empty name"


def _printable(text: str, limit: int) -> str:
    return "".join(char if char.isprintable() else "?" for char in text)[:limit]


def _one_line(text: str) -> str:
    return _printable(" ".join(text.split()), 200)
