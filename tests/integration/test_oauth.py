"""Logging in without passwords, against the lab's OAuth2 provider on loopback: Dovecot's oauth2 passdb and the
relay introspect every XOAUTH2 token there, msal (or a plain token endpoint) gets the tokens.

And what a refused login means to a user: never a refused signal. The signal stays in INBOX, nothing goes to
the manual folder, officers hear of it by the server that still works, the daemon waits minutes before it
knocks again, and everything goes out once the login works.
"""

from __future__ import annotations

import email
import email.policy
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hwc_mailer.domain.outcomes import Delivered
from hwc_mailer.edges.login import MicrosoftTokens
from hwc_mailer.settings.config import load_settings
from lab.oauth import OAuthServer
from lab.smtp import RelaySmtp
from lab.world import OFFICE, sample_signal
from tests.integration.helpers import (
    SARA,
    TIM,
    InProcess,
    Run,
    assert_no_personal_data,
    daemon,
    eventually,
    notified_daemon,
    totals,
)

ALERTS = "HWC-Meldingen"
MANUAL = "HWC-Handmatig"
Method = Literal["microsoft", "microsoft-certificate", "oauth2"]


class TokenLogin:
    """A client registered with the lab provider, and the run's service file logging in with its tokens."""

    def __init__(self, run: Run, oauth: OAuthServer, method: Method = "microsoft", *, retry_minutes: float = 5,
                 idle_seconds: float = 30) -> None:
        self.client_id = secrets.token_hex(8)
        self.secret = secrets.token_urlsafe(24)
        etc = run.config.parent
        credential = etc / "entra-credential"
        if method == "microsoft-certificate":
            pem = certificate_pem()
            credential.write_bytes(pem)
            oauth.register_client(self.client_id, certificate_pem=pem, mailbox=OFFICE)
            self.secret = pem.decode().split("-----BEGIN PRIVATE KEY-----")[1][:60]
        else:
            credential.write_text(self.secret)
            oauth.register_client(self.client_id, secret=self.secret, mailbox=OFFICE)
        credential.chmod(0o600)
        key = "certificate" if method == "microsoft-certificate" else "client_secret"
        where = (f"  tenant_id: {oauth.tenant}\n  authority_host: {oauth.host}:{oauth.port}\n"
                 if method.startswith("microsoft") else f"  token_url: {oauth.token_url}\n")
        login = (f"login:\n  method: {'oauth2' if method == 'oauth2' else 'microsoft'}\n{where}"
                 f"  client_id: {self.client_id}\n  {key}: {{file: entra-credential}}\n"
                 f"  ca_file: {oauth.tls.ca_file}\n  retry_minutes: {retry_minutes}\n")
        text = run.config.read_text().replace("  idle_seconds: 30\n", f"  idle_seconds: {idle_seconds}\n")
        self.config = etc / "config-oauth.yaml"
        self.config.write_text(login + "".join(line for line in text.splitlines(keepends=True)
                                               if "password:" not in line))


def certificate_pem() -> bytes:
    """A self-signed certificate and its key, as an admin makes one with openssl for the app registration."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hwc-mailer lab")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def assert_no_secrets(run: Run, oauth: OAuthServer, login: TokenLogin, texts: list[str]) -> None:
    """No token, client secret or Authorization header in any log line or file the run wrote."""
    tokens = oauth.issued_tokens()
    assert tokens, "the test should have issued tokens"
    for text in texts:
        assert login.secret not in text and "Bearer" not in text and "auth=" not in text
        assert not any(token in text for token in tokens)
    for path in run.written:
        content = path.read_bytes()
        assert login.secret.encode() not in content or path.name == "entra-credential", path
        assert not any(token.encode() in content for token in tokens), path


def read_plain(raw: bytes) -> str:
    """An unencrypted alert as a mail client shows it: subject and decoded body."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return f"Subject: {message['Subject']}\n\n{message.get_content()}"


def signal_waiting(run: Run) -> None:
    run.world.deliver_signal(run.world.signal_mail(sample_signal([TIM, SARA])))


def delivered_everywhere(run: Run) -> bool:
    return all(len(run.world.school_mail(school)) == 1 for school in run.world.schools)


# --- logging in with tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["microsoft", "microsoft-certificate", "oauth2"])
def test_a_signal_goes_through_with_tokens_on_both_servers(run: Run, oauth: OAuthServer, method: Method) -> None:
    login = TokenLogin(run, oauth, method)
    signal_waiting(run)

    outcomes = InProcess(run).once(login.config)

    assert outcomes == [Delivered(tuple(school.code for school in run.world.schools), 2)]
    assert delivered_everywhere(run) and run.world.dovecot.messages(OFFICE) == []
    assert run.world.dovecot.messages(OFFICE, "Sent") == [], "the copies in Sent, found by its role, are purged"
    assert oauth.token_requests == 1, "one token serves both servers"
    assert {("imap", True), ("smtp", True)} <= set(oauth.introspections)
    assert_no_secrets(run, oauth, login, [(run.directory / "daemon.log").read_text()])
    assert_no_personal_data([], run.written)


def test_the_microsoft_provider_talks_to_its_authority_and_to_nothing_else(run: Run, oauth: OAuthServer) -> None:
    """msal is made without instance discovery: with a loopback authority no connection leaves loopback."""
    login = TokenLogin(run, oauth)
    settings = load_settings(login.config)
    connected: list[str] = []

    def record(event: str, args: tuple[object, ...]) -> None:
        if event == "socket.connect" and recording:
            address = args[1]
            connected.append(str(address[0]) if isinstance(address, tuple) else str(address))

    recording = True
    sys.addaudithook(record)
    try:
        token = MicrosoftTokens(settings.login).token()
    finally:
        recording = False
    assert token in oauth.issued_tokens()
    assert connected and all(address.startswith("127.") for address in connected), connected


def test_check_says_per_server_that_a_token_was_had_and_the_login_accepted(run: Run, oauth: OAuthServer) -> None:
    login = TokenLogin(run, oauth)

    result = run.cli("check", config=login.config)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    accepted = f"login as {OFFICE} (token from {oauth.host}:{oauth.port}, XOAUTH2) accepted"
    assert any(line.startswith("imap: ok (") and line.endswith(f'; {accepted}; Sent: "Sent", Trash: "Trash")')
               for line in lines), lines
    assert any(line.startswith("smtp: ok (") and line.endswith(f"; {accepted})") for line in lines), lines
    assert_no_secrets(run, oauth, login, [result.stdout, result.stderr])


def test_a_token_that_expires_while_the_daemon_idles_is_renewed_without_losing_a_signal(
        run: Run, oauth: OAuthServer) -> None:
    """Exchange ends an IMAP session when its token expires; the daemon logs in again with a fresh one."""
    oauth.lifetime = 2
    login = TokenLogin(run, oauth, idle_seconds=5)
    world = run.world
    with daemon(run, login.config) as child:
        child.await_event("ready")
        signal_waiting(run)
        assert eventually(lambda: delivered_everywhere(run))
        first = oauth.token_requests
        oauth.expire_all()
        world.dovecot.kick(OFFICE)
        world.deliver_signal(world.signal_mail(sample_signal([SARA])))
        assert eventually(lambda: len(world.school_mail(world.schools[1])) == 2)
        assert eventually(lambda: world.dovecot.messages(OFFICE) == [])
        assert oauth.token_requests > first, "the expired token was renewed"
        code = child.terminate()
    assert code == 0
    assert not child.events("login-refused") and not child.events("login-refused-everywhere")
    assert world.dovecot.messages(OFFICE, MANUAL) == []
    assert_no_secrets(run, oauth, login, [child.output])
    assert_no_personal_data([child.output], run.written)


# --- a refused login is never a refused signal ------------------------------------------------------------


def test_smtp_refusing_the_token_keeps_the_signal_and_tells_officers_in_the_mailbox(run: Run,
                                                                                   oauth: OAuthServer) -> None:
    """Consent for SMTP.SendAsApp revoked while IMAP still works: the outage path, told through IMAP."""
    login = TokenLogin(run, oauth)
    world = run.world
    signal_waiting(run)
    oauth.refuse("smtp")
    sent_before = len(world.smtp.received)

    failed = run.cli("once", config=login.config)

    assert failed.returncode == 1
    assert "refused the login" in failed.stderr and "Traceback" not in failed.stderr
    assert len(world.dovecot.messages(OFFICE)) == 1, "the signal stays in INBOX"
    assert world.dovecot.messages(OFFICE, MANUAL) == []
    assert len(world.smtp.received) == sent_before and world.officer_mail() == []
    (alert,) = world.dovecot.messages(OFFICE, ALERTS)
    text = read_plain(alert)
    assert "Inloggen bij de mailserver" in text and "login-refused" in text and "smtp: " in text
    assert "toestemming of postbusrechten ontbreken" in text
    assert not any(value in text for value in (TIM["Naam"], SARA["Naam"]))

    again = run.cli("once", config=login.config)
    assert again.returncode == 1 and "officers told before" in again.stderr
    assert len(world.dovecot.messages(OFFICE, ALERTS)) == 1, "told once"

    oauth.allow("smtp")
    healed = InProcess(run).once(login.config)
    assert healed == [Delivered(tuple(school.code for school in world.schools), 2)]
    assert delivered_everywhere(run) and world.dovecot.messages(OFFICE) == []
    assert totals(run) == (1, 2, 2)
    assert_no_secrets(run, oauth, login, [failed.stderr, again.stderr])


def test_imap_refusing_the_token_is_told_by_mail(run: Run, oauth: OAuthServer) -> None:
    login = TokenLogin(run, oauth)
    oauth.refuse("imap")

    failed = run.cli("once", config=login.config)

    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    (alert,) = run.world.officer_mail()
    text = run.world.read_alert(alert)
    assert "login-refused" in text and "imap: " in text and "Geef deze melding direct door aan de beheerder" in text


def test_both_servers_refusing_is_critical_in_once_and_check_and_nobody_is_told(run: Run,
                                                                                oauth: OAuthServer) -> None:
    login = TokenLogin(run, oauth)
    signal_waiting(run)
    oauth.refuse("imap")
    oauth.refuse("smtp")

    failed = run.cli("once", config=login.config)
    checked = run.cli("check", config=login.config)

    assert failed.returncode == 1 and "CRITICAL: imap and smtp refuse the login" in failed.stderr
    assert '"event": "login-refused-everywhere"' in failed.stderr
    assert checked.returncode == 2 and "Traceback" not in checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert any(line.startswith("imap: problem: ") and "refused the login" in line for line in lines), lines
    assert any(line.startswith("smtp: problem: ") and "refused the login" in line for line in lines), lines
    assert any(line.startswith("CRITICAL: both servers refuse the login") for line in lines), lines
    assert run.world.officer_mail() == [] and run.world.dovecot.messages(OFFICE, ALERTS) == []
    assert len(run.world.dovecot.messages(OFFICE)) == 1
    assert_no_secrets(run, oauth, login, [failed.stderr, checked.stdout, checked.stderr])


def test_a_token_the_endpoint_will_not_issue_is_diagnosed_without_the_secret(run: Run, oauth: OAuthServer) -> None:
    login = TokenLogin(run, oauth)
    oauth.token_error = "AADSTS7000222: The provided client secret keys for app are expired."

    checked = run.cli("check", config=login.config)

    assert checked.returncode == 2 and "Traceback" not in checked.stdout + checked.stderr
    (imap,) = [line for line in checked.stdout.splitlines() if line.startswith("imap: ")]
    assert imap.startswith("imap: problem: ") and "no token" in imap and "the client secret has expired" in imap
    assert login.secret not in checked.stdout + checked.stderr


def test_an_smtp_server_that_refuses_the_password_never_parks_the_signal(run: Run, relay: RelaySmtp) -> None:
    """Exchange after MC786329: 535 to a password login. Before, this parked every signal in the manual folder."""
    world = run.world
    signal_waiting(run)
    relay.users[OFFICE] = "changed-by-someone"
    try:
        failed = run.cli("once")
        checked = run.cli("check")
    finally:
        relay.users[OFFICE] = world.office_password

    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert len(world.dovecot.messages(OFFICE)) == 1 and world.dovecot.messages(OFFICE, MANUAL) == []
    (alert,) = world.dovecot.messages(OFFICE, ALERTS)
    assert "password-refused" in read_plain(alert)
    (smtp,) = [line for line in checked.stdout.splitlines() if line.startswith("smtp: ")]
    assert smtp.startswith("smtp: problem: ") and "refused the login (password: " in smtp
    assert "535" in smtp and "check both" in smtp and world.office_password not in checked.stdout

    healed = InProcess(run).once()
    assert healed == [Delivered(tuple(school.code for school in world.schools), 2)]
    assert world.officer_mail() == [], "the refusal was told in the mailbox, not again by mail"


def test_the_daemon_waits_minutes_after_a_refusal_says_so_to_systemd_and_sends_once_it_is_fixed(
        run: Run, oauth: OAuthServer) -> None:
    """retry_minutes is 0.05 here (3 s): the pause between two tries is a property of that setting."""
    retry_seconds = 0.05 * 60
    login = TokenLogin(run, oauth, retry_minutes=0.05)
    oauth.refuse("smtp")
    signal_waiting(run)
    with notified_daemon(run, login.config) as (child, notify):
        first = child.await_event("login-refused")
        first_at = time.monotonic()
        second = child.await_event("login-refused", after=first + 1)
        waited = time.monotonic() - first_at
        assert any(status.startswith("smtp refuses the login (token-refused); officers told in folder "
                                     f"{ALERTS}; signals wait in the inbox") for status in notify.statuses())
        notify.await_message(lambda message: "officers told before" in message)
        assert len(run.world.dovecot.messages(OFFICE)) == 1
        oauth.allow("smtp")
        assert eventually(lambda: delivered_everywhere(run))
        assert eventually(lambda: run.world.dovecot.messages(OFFICE) == [])
        assert eventually(lambda: notify.statuses()[-1].startswith("watching the inbox; last pass "))
        code = child.terminate()
    assert code == 0
    assert waited >= retry_seconds * 0.9, f"tried again after {waited:.1f}s, not after login.retry_minutes"
    assert second > first
    assert run.world.dovecot.messages(OFFICE, MANUAL) == []
    assert len(run.world.dovecot.messages(OFFICE, ALERTS)) == 1, "told once"
    assert child.events("login-accepted")
    assert_no_secrets(run, oauth, login, [child.output])


def test_exchange_refusing_to_send_as_the_office_after_data_never_parks_the_signal(run: Run,
                                                                                   relay: RelaySmtp) -> None:
    """Exchange says SendAsDenied only after DATA: about the account we send as, not about this signal."""
    world = run.world
    signal_waiting(run)
    relay.handler.data_reply = ("554 5.2.252 SendAsDenied; leerplicht@maastricht.example.nl not allowed to send as "
                                "leerplicht@maastricht.example.nl; STOREDRV.Submission.Exception:SendAsDeniedException")

    failed = run.cli("once")

    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "SendAsDenied" in failed.stderr
    assert len(world.dovecot.messages(OFFICE)) == 1 and world.dovecot.messages(OFFICE, MANUAL) == []
    (alert,) = world.dovecot.messages(OFFICE, ALERTS)
    assert "send-as-denied" in read_plain(alert)
    relay.handler.data_reply = None
    assert InProcess(run).once() == [Delivered(tuple(school.code for school in world.schools), 2)]


def test_a_token_endpoint_out_of_order_is_an_outage_not_a_refusal(run: Run, oauth: OAuthServer) -> None:
    """503 from the token endpoint: retried soon, nobody is told that the configuration is wrong."""
    login = TokenLogin(run, oauth)
    signal_waiting(run)
    oauth.unavailable = True

    failed = run.cli("once", config=login.config)

    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "no token" in failed.stderr and "check the network and the token endpoint" in failed.stderr
    assert '"event": "outage"' in failed.stderr and "login-refused" not in failed.stderr
    assert run.world.officer_mail() == [] and run.world.dovecot.messages(OFFICE, ALERTS) == []
    assert len(run.world.dovecot.messages(OFFICE)) == 1
    oauth.unavailable = False
    assert InProcess(run).once(login.config) == [Delivered(tuple(school.code for school in run.world.schools), 2)]


def test_with_both_servers_refusing_the_daemon_says_critical_to_systemd_and_the_journal(
        run: Run, oauth: OAuthServer) -> None:
    login = TokenLogin(run, oauth, retry_minutes=0.05)
    oauth.refuse("imap")
    oauth.refuse("smtp")
    signal_waiting(run)
    with notified_daemon(run, login.config) as (child, notify):
        status = notify.await_message(lambda message: "STATUS=CRITICAL: imap and smtp refuse the login" in message)
        child.await_event("login-refused-everywhere")
        code = child.terminate()
    assert code == 0
    assert "officers cannot be told" in status and "hwc-mailer check" in status
    assert '"level": "critical"' in child.events("login-refused-everywhere")[0]
    assert len(run.world.dovecot.messages(OFFICE)) == 1 and run.world.dovecot.messages(OFFICE, MANUAL) == []
    assert_no_secrets(run, oauth, login, [child.output, *notify.messages])
