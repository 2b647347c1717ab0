"""`hwc-mailer check` says how it reached each server, and why it could not, as the admin reads it.

Every diagnosis is reproduced against a real server on loopback: the lab Dovecot and relay where they can play
the part, a tiny loopback server where they cannot (a certificate that has expired or is for another name served
at once, a server that accepts and never answers). A host name that does not resolve is looked up inside a
network namespace with only loopback, so no DNS query ever leaves the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from ruamel.yaml import YAML

from hwc_mailer.edges.reach import GREETING_PATIENCE, presented_certificate
from hwc_mailer.settings.config import Smtp, TlsMode
from lab.dovecot import Dovecot
from lab.loopback import LOOPBACK, LoopbackServer
from lab.smtp import RelaySmtp
from lab.tls import LabTls, make_tls, reissue
from lab.world import OFFICE
from tests.integration.helpers import Run

# The configured wait for one answer in the wrong-TLS-mode tests: the check must say what is wrong well before it.
PATIENT = 60.0
# The configured wait in the tests of a server that never answers.
IMPATIENT = 2.0


class Loopback(LoopbackServer):
    """Plays one part: TLS at once with the certificate and key given (then `greeting`, if any), or only `greeting`
    in plain text, or nothing at all (accepts and never answers)."""

    def __init__(self, certificate: tuple[Path, Path] | None = None, greeting: bytes | None = None) -> None:
        super().__init__(certificate)
        self._greeting = greeting

    def talk(self, client: socket.socket) -> None:
        client.settimeout(30)
        if self.context is not None:
            client = self.context.wrap_socket(client, server_side=True)
        if self._greeting is not None:
            client.sendall(self._greeting)
        self.stopped.wait()


def unused_port() -> int:
    """A loopback port nothing listens on (bound for a moment, then released)."""
    with socket.create_server((LOOPBACK, 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


def configured(run: Run, imap: Mapping[str, object] = {}, smtp: Mapping[str, object] = {}) -> Path:
    """The run's service file with these imap and smtp keys replaced, beside it (its relative paths still hold)."""
    yaml = YAML()
    settings = yaml.load(run.config.read_text())
    settings["imap"].update({key: str(value) if isinstance(value, Path) else value for key, value in imap.items()})
    settings["smtp"].update({key: str(value) if isinstance(value, Path) else value for key, value in smtp.items()})
    path = run.config.with_name("diagnosis.yaml")
    with path.open("w") as handle:
        yaml.dump(settings, handle)
    return path


def server_lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The `imap: ...` and `smtp: ...` lines of a check, by service; never a traceback."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = {line.partition(":")[0]: line for line in result.stdout.splitlines()
             if line.startswith(("imap: ", "smtp: "))}
    assert set(lines) == {"imap", "smtp"}, result.stdout + result.stderr
    return lines


def checked(run: Run, config: Path) -> tuple[dict[str, str], float]:
    started = time.monotonic()
    result = run.cli("check", config=config)
    seconds = time.monotonic() - started
    lines = server_lines(result)
    assert result.returncode == (0 if all(": ok (" in line for line in lines.values()) else 2), result.stdout
    return lines, seconds


def expiry(certificate: Path) -> str:
    return f"{x509.load_pem_x509_certificate(certificate.read_bytes()).not_valid_after_utc:%Y-%m-%d}"


def self_signed(tls: LabTls) -> tuple[Path, Path]:
    """A CA's own certificate and key: a certificate nobody but itself vouches for."""
    return tls.ca_file, tls.ca_file.parent / "ca.key"


@pytest.fixture
def tls_dir(run: Run) -> Path:
    return run.directory / "tls"


def test_a_working_check_says_where_how_secured_whose_certificate_and_which_login(run: Run, dovecot: Dovecot,
                                                                                 relay: RelaySmtp,
                                                                                 lab_tls: LabTls) -> None:
    lines, _ = checked(run, run.config)

    until = expiry(lab_tls.cert_file)
    assert lines["imap"] == (f"imap: ok ({LOOPBACK}:{dovecot.imaps_port}, TLS at once (TLSv1.3), certificate "
                             f"CN=localhost valid until {until}; login as {OFFICE} (password) accepted; "
                             'Sent: "Sent", Trash: "Trash")')
    assert lines["smtp"] == (f"smtp: ok ({LOOPBACK}:{relay.port}, STARTTLS (TLSv1.3), certificate CN=localhost valid "
                             f"until {until}; login as {OFFICE} (password) accepted)")


def test_a_certificate_from_no_trusted_ca_names_whose_it_is_and_who_issued_it(run: Run, relay: RelaySmtp,
                                                                               lab_tls: LabTls, tls_dir: Path) -> None:
    other = make_tls(tls_dir / "other", ca_name="Another CA")
    with Loopback(self_signed(other)) as imap:
        lines, _ = checked(run, configured(run, imap={"port": imap.port}, smtp={"ca_file": other.ca_file}))

    assert lines["imap"] == (
        f"imap: problem: IMAP server {LOOPBACK}:{imap.port}, connecting with TLS at once: the certificate CN=Another "
        f"CA is self-signed and not in imap.ca_file ({lab_tls.ca_file}): put it (or its CA) in imap.ca_file, or give "
        "the server a certificate from a CA")
    assert lines["smtp"] == (
        f"smtp: problem: SMTP server {LOOPBACK}:{relay.port}, connecting with STARTTLS: the certificate CN=localhost, "
        f"issued by CN=hwc-lab CA, is not from a CA in smtp.ca_file ({other.ca_file}) (unable to get local issuer "
        "certificate): set smtp.ca_file to the CA that signed it, or have the server send its intermediate "
        "certificates")


def test_a_certificate_for_another_name_says_which_names_it_is_for(run: Run, dovecot: Dovecot,
                                                                    tls_dir: Path) -> None:
    elsewhere = make_tls(tls_dir / "elsewhere", hostnames=("mail.elders.example", "smtp.elders.example"))
    with Loopback((elsewhere.cert_file, elsewhere.key_file)) as imap, \
            RelaySmtp(dovecot, elsewhere, {}) as relay:
        config = configured(run, imap={"host": "localhost", "port": imap.port, "ca_file": elsewhere.ca_file},
                            smtp={"port": relay.port, "ca_file": elsewhere.ca_file})
        lines, _ = checked(run, config)

    assert lines["imap"] == (
        f"imap: problem: IMAP server localhost:{imap.port}, connecting with TLS at once: the certificate is for "
        "mail.elders.example, smtp.elders.example, not localhost (host name mismatch): fix imap.host or the "
        "server's certificate")
    assert lines["smtp"] == (
        f"smtp: problem: SMTP server {LOOPBACK}:{relay.port}, connecting with STARTTLS: the certificate is for "
        f"mail.elders.example, smtp.elders.example, not {LOOPBACK} (address mismatch): fix smtp.host or the "
        "server's certificate")


def test_an_expired_and_a_not_yet_valid_certificate_say_since_and_from_when(run: Run, dovecot: Dovecot,
                                                                             lab_tls: LabTls, tls_dir: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    expired = reissue(lab_tls, tls_dir / "expired", not_before=now - timedelta(days=60),
                      not_after=now - timedelta(days=3))
    early = reissue(lab_tls, tls_dir / "early", not_before=now + timedelta(days=2), not_after=now + timedelta(days=90))
    with Loopback((expired.cert_file, expired.key_file)) as imap, RelaySmtp(dovecot, early, {}) as relay:
        lines, _ = checked(run, configured(run, imap={"port": imap.port}, smtp={"port": relay.port}))

    assert lines["imap"] == (
        f"imap: problem: IMAP server {LOOPBACK}:{imap.port}, connecting with TLS at once: the certificate "
        f"CN=localhost expired on {now - timedelta(days=3):%Y-%m-%d}: the server's certificate must be renewed")
    assert lines["smtp"] == (
        f"smtp: problem: SMTP server {LOOPBACK}:{relay.port}, connecting with STARTTLS: the certificate CN=localhost "
        f"is valid only from {now + timedelta(days=2):%Y-%m-%d %H:%M} UTC: check this machine's clock, or the "
        "server's certificate")


@pytest.mark.parametrize("imap_mode", ["implicit", "starttls"])
def test_the_wrong_tls_mode_for_a_port_is_named_within_seconds(run: Run, dovecot: Dovecot, relay: RelaySmtp,
                                                                lab_tls: LabTls, imap_mode: str) -> None:
    """TLS at once against a port that greets in plain text fails at the first bytes; STARTTLS against a port for
    TLS at once would wait for a greeting until timeout_seconds, were the silent port not asked for TLS."""
    users = {OFFICE: run.world.office_password}
    with RelaySmtp(dovecot, lab_tls, users, implicit_tls=True) as tls_relay:
        if imap_mode == "implicit":     # imap: TLS at once on the STARTTLS port; smtp: STARTTLS on a TLS port
            imap_port, smtp_port, smtp_mode = dovecot.imap_port, tls_relay.port, "starttls"
        else:                           # and the other way round
            imap_port, smtp_port, smtp_mode = dovecot.imaps_port, relay.port, "implicit"
        config = configured(run, imap={"port": imap_port, "tls": imap_mode, "timeout_seconds": PATIENT},
                            smtp={"port": smtp_port, "tls": smtp_mode, "timeout_seconds": PATIENT})
        lines, seconds = checked(run, config)

    assert seconds < PATIENT, "either server waiting for its timeout alone would take this long"
    plain_text = "answers in plain text, not with TLS (WRONG_VERSION_NUMBER): set {0}.tls: starttls " \
                 "(or {0}.port to the server's port for TLS at once)"
    at_once = "speaks TLS at once, it sends no plain-text greeting: set {0}.tls: implicit " \
              "(or {0}.port to the server's STARTTLS port)"
    imap_words, smtp_words = ("TLS at once", "STARTTLS") if imap_mode == "implicit" else ("STARTTLS", "TLS at once")
    imap_says, smtp_says = (plain_text, at_once) if imap_mode == "implicit" else (at_once, plain_text)
    assert lines["imap"] == (f"imap: problem: IMAP server {LOOPBACK}:{imap_port}, connecting with {imap_words}: "
                             f"port {imap_port} {imap_says.format('imap')}")
    assert lines["smtp"] == (f"smtp: problem: SMTP server {LOOPBACK}:{smtp_port}, connecting with {smtp_words}: "
                             f"port {smtp_port} {smtp_says.format('smtp')}")


class Trickling(LoopbackServer):
    """A greeting that never ends: a byte every half second, never a line."""

    def talk(self, client: socket.socket) -> None:
        while not self.stopped.wait(0.5):
            client.sendall(b"*")


@pytest.mark.parametrize("protocol", ["IMAP", "SMTP"])
def test_fetching_a_refused_certificate_from_a_server_that_trickles_ends_within_its_patience(protocol: str) -> None:
    """After a refused certificate, check fetches it once more to name it; a server that then never finishes its
    greeting (each byte well inside the per-read timeout) cannot hold the check."""
    with Trickling() as trickling:
        server = Smtp(host=LOOPBACK, port=trickling.port, tls=TlsMode.starttls)
        started = time.monotonic()
        assert presented_certificate(server, protocol) is None
        assert time.monotonic() - started < 10 * GREETING_PATIENCE


@pytest.mark.parametrize("silent", ["imap", "smtp"])
def test_nothing_listening_and_a_server_that_never_answers_are_told_apart(run: Run, silent: str) -> None:
    """The silent server accepts the connection and says nothing: IMAP waits for the TLS handshake (TLS at once),
    SMTP for the greeting (STARTTLS), each for its timeout_seconds."""
    closed = unused_port()
    with Loopback() as quiet:
        ports = {"imap": quiet.port, "smtp": closed} if silent == "imap" else {"imap": closed, "smtp": quiet.port}
        config = configured(run, imap={"port": ports["imap"], "timeout_seconds": IMPATIENT},
                            smtp={"port": ports["smtp"], "timeout_seconds": IMPATIENT})
        lines, _ = checked(run, config)

    words = {"imap": ("IMAP", "TLS at once"), "smtp": ("SMTP", "STARTTLS")}
    for service, (protocol, mode) in words.items():
        start = f"{service}: problem: {protocol} server {LOOPBACK}:{ports[service]}, connecting with {mode}: "
        if service == silent:
            assert lines[service] == (f"{start}no answer within {IMPATIENT:g}s ({service}.timeout_seconds): the server "
                                      "or the network is stalled, or a firewall drops the connection; check both, or "
                                      "raise the timeout")
        else:
            assert lines[service] == (f"{start}nothing listens on {LOOPBACK}:{closed} (connection refused): check "
                                      f"{service}.host and {service}.port, and that the server runs")


def test_a_host_name_that_does_not_resolve_is_named(run: Run) -> None:
    """In a network namespace with only loopback (the name server is out of reach, as when this machine's DNS is
    down): nothing leaves the machine. A name the DNS does not know is the unit tests' (tests/unit/test_reach.py)."""
    host = "mail.nowhere.example"
    config = configured(run, imap={"host": host}, smtp={"host": host})
    command = [sys.executable, "-m", "hwc_mailer", "-c", str(config), "check"]
    result = subprocess.run(["unshare", "--net", "--map-root-user", "sh", "-c", 'ip link set lo up && exec "$@"',
                             "isolated", *command], capture_output=True, text=True, timeout=120, check=False,
                            stdin=subprocess.DEVNULL, env={**os.environ, "TMPDIR": str(run.directory / "tmp")})

    lines = server_lines(result)
    assert result.returncode == 2
    settings = YAML().load(config.read_text())
    for service, protocol, mode in (("imap", "IMAP", "TLS at once"), ("smtp", "SMTP", "STARTTLS")):
        assert lines[service] == (
            f"{service}: problem: {protocol} server {host}:{settings[service]['port']}, connecting with {mode}: the "
            f"host name {host} could not be looked up (Temporary failure in name resolution): no name server "
            f"answered; check this machine's DNS, then {service}.host")


def test_a_refused_password_is_the_login_not_the_connection(run: Run, relay: RelaySmtp) -> None:
    wrong = run.config.with_name("wrong-password")
    wrong.write_text("not-the-password")
    wrong.chmod(0o600)
    lines, _ = checked(run, configured(run, imap={"password": {"file": str(wrong)}}))

    assert lines["imap"].startswith(f"imap: problem: IMAP server {LOOPBACK}:{run.world.dovecot.imaps_port} refused "
                                    "the login (password: ")
    assert "not-the-password" not in lines["imap"]
    assert lines["smtp"].startswith(f"smtp: ok ({LOOPBACK}:{relay.port}, STARTTLS (TLSv1.3), certificate ")

