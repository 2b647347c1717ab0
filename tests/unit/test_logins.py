"""Logging in without passwords, in-process: the `login:` section, what a refusal means, the pause after one,
the folders found by role, and the expiry of the login's secret. Servers are in tests/integration/test_oauth.py.

Tenants, applications and hosts are invented.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from imapclient.exceptions import LoginError

from hwc_mailer.domain.logins import LoginProblem, account_problem, diagnose
from hwc_mailer.edges.login import (
    LoginGate,
    NoLogin,
    NoLoginMethod,
    PasswordLogin,
    TokenFailure,
    TokenLogin,
    certificate_credential,
    login_failure,
    login_for,
    secret_expiry,
    token_source,
)
from hwc_mailer.errors import (
    ConfigError,
    LoginRefused,
    MailboxLoginRefused,
    MailboxUnavailable,
    TransportLoginRefused,
)
from hwc_mailer.service.folders import resolve_folders
from hwc_mailer.service.logins import Told, secret_alerts
from hwc_mailer.settings.config import Folders, Login, LoginMethod, load_settings
from tests.unit.test_config import SERVICE_FILE, assert_points_at, config_error, line_of, write

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
MICROSOFT = f"""\
login:
  method: microsoft
  tenant_id: {TENANT}
  client_id: {CLIENT}
  client_secret: {{credential: entra-client-secret}}
  client_secret_expires: 2027-06-30
"""


def without_passwords(text: str = SERVICE_FILE) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "password:" not in line)


# --- the login: section ------------------------------------------------------------------------


def test_a_microsoft_login_needs_no_password_and_uses_the_exchange_scope(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MICROSOFT + without_passwords()))
    assert settings.login.method is LoginMethod.microsoft
    assert settings.login.scopes == ["https://outlook.office365.com/.default"]
    assert settings.imap.password is None and settings.smtp.password is None
    assert settings.login.retry_minutes == 5


def test_without_a_login_section_it_is_a_password_per_server_as_before(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path))
    assert settings.login.method is LoginMethod.password and not settings.login.uses_tokens


@pytest.mark.parametrize(("section", "expected", "at"), [
    ("login:\n  method: microsoft\n  client_id: x\n  client_secret: {env: S}\n", "needs tenant_id", "login:"),
    (f"login:\n  method: microsoft\n  tenant_id: {TENANT}\n  client_id: x\n",
     "exactly one of client_secret and certificate", "login:"),
    (f"login:\n  method: microsoft\n  tenant_id: {TENANT}\n  client_id: x\n  client_secret: {{env: S}}\n"
     "  certificate: {env: C}\n", "exactly one of client_secret and certificate", "login:"),
    ("login:\n  method: oauth2\n  token_url: http://idp.example.nl/token\n  client_id: x\n"
     "  client_secret: {env: S}\n", "token_url", "token_url"),
    ("login:\n  method: oauth2\n  token_url: https://idp.example.nl/token\n  client_id: x\n"
     f"  client_secret: {{env: S}}\n  tenant_id: {TENANT}\n", "tenant_id: not used with method oauth2", "login:"),
    ("login:\n  client_id: x\n", "client_id: not used with method password", "login:"),
    ("login:\n  method: kerberos\n", "method", "kerberos"),
    ("login:\n  method: microsoft\n  retry_minutes: 0\n", "retry_minutes", "retry_minutes"),
])
def test_a_login_section_that_does_not_fit_its_method_is_refused_with_its_line(tmp_path: Path, section: str,
                                                                              expected: str, at: str) -> None:
    text = section + without_passwords()
    message = config_error(tmp_path, text)
    assert expected in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, at))


def test_a_password_beside_a_token_login_is_refused_at_its_server(tmp_path: Path) -> None:
    text = MICROSOFT + without_passwords().replace("  username: leerplicht@example.nl\n  idle",
                                                   "  username: leerplicht@example.nl\n  password: {env: P}\n  idle")
    message = config_error(tmp_path, text)
    assert "no password with login method microsoft" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, "imap:"))


def test_a_token_login_may_send_through_a_relay_that_takes_the_daemon_by_its_address(tmp_path: Path) -> None:
    """Microsoft 365's connector relay: IMAP with a token, SMTP with no login at all."""
    text = MICROSOFT + without_passwords().replace("  tls: starttls\n  ca_file: tls/ca.pem\n  username: "
                                                   "leerplicht@example.nl\n", "  tls: starttls\n")
    settings = load_settings(write(tmp_path, text))
    assert settings.smtp.username is None and settings.imap.username == "leerplicht@example.nl"
    tokens = token_source(settings.login)
    assert isinstance(login_for(settings.smtp, tokens), NoLogin)
    assert isinstance(login_for(settings.imap, tokens), TokenLogin)


def test_a_password_login_still_needs_the_imap_password(tmp_path: Path) -> None:
    text = SERVICE_FILE.replace("  password: {file: secrets/imap-password}\n", "")
    message = config_error(tmp_path, text)
    assert "password is required with login method password" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, "imap:"))


def test_the_alerts_folder_is_never_the_inbox(tmp_path: Path) -> None:
    message = config_error(tmp_path, SERVICE_FILE + "folders:\n  alerts: inbox\n")
    assert "alerts must not be the inbox" in message


# --- what a refusal means ------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "problem"), [
    ("invalid_client: AADSTS7000215: Invalid client secret provided.", LoginProblem.SECRET_INVALID),
    ("invalid_client: AADSTS7000222: The provided client secret keys for app are expired.",
     LoginProblem.SECRET_EXPIRED),
    ("unauthorized_client: AADSTS700016: Application with identifier was not found in the directory",
     LoginProblem.APP_NOT_FOUND),
    ("invalid_request: AADSTS90002: Tenant not found.", LoginProblem.TENANT_NOT_FOUND),
    ("invalid_client: AADSTS700027: Client assertion failed signature validation.",
     LoginProblem.CERTIFICATE_REFUSED),
    ("invalid_scope: AADSTS1002012: The provided value for scope is not valid.", LoginProblem.SCOPE_INVALID),
    ("AADSTS53003: Access has been blocked by Conditional Access policies.", LoginProblem.ACCESS_POLICY),
    ("b'AUTHENTICATE failed.'", LoginProblem.TOKEN_REFUSED),
    ("User is authenticated but not connected.", LoginProblem.MAILBOX_NOT_GRANTED),
    ("(535, '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.')",
     LoginProblem.SMTP_AUTH_DISABLED),
    ("(535, '5.7.139 Authentication unsuccessful, basic authentication is disabled.')",
     LoginProblem.BASIC_AUTH_ENDED),
    ("(550, '5.7.30 Basic authentication is not supported for Client Submission.')", LoginProblem.BASIC_AUTH_ENDED),
    ("550 5.7.60 SMTP; Client does not have permissions to send as this sender", LoginProblem.SEND_AS_DENIED),
    ("530 5.7.0 Authentication required", LoginProblem.LOGIN_REQUIRED),
    ("554 5.2.252 SendAsDenied; leerplicht@example.nl not allowed to send as x; STOREDRV.Submission.Exception:"
     "SendAsDeniedException.MapiExceptionSendAsDenied", LoginProblem.SEND_AS_DENIED),
    ("554 5.2.0 STOREDRV.Submission.Exception:QuotaExceededException", LoginProblem.SENDER_MAILBOX_FULL),
    ("554 5.7.1 <hwc@school.example.nl>: Relay access denied", LoginProblem.RELAY_DENIED),
])
def test_a_refusal_is_read_for_what_the_admin_must_fix(answer: str, problem: LoginProblem) -> None:
    assert diagnose(answer, LoginProblem.TOKEN_REFUSED) is problem


def test_a_refusal_that_says_nothing_known_is_what_the_step_means() -> None:
    assert diagnose("b'[AUTHENTICATIONFAILED] Authentication failed.'",
                    LoginProblem.PASSWORD_REFUSED) is LoginProblem.PASSWORD_REFUSED


@pytest.mark.parametrize(("answer", "account"), [
    ("554 5.2.252 SendAsDenied; not allowed to send as", True),
    ("554 5.7.1 Relay access denied", True),
    ("550 5.1.1 <hwc@school.example.nl>: mailbox unknown", False),
    ("552 5.2.2 mailbox full", False),
    ("554 5.7.1 message rejected as spam", False),
])
def test_only_a_refusal_of_the_sending_account_is_taken_from_a_5xx_after_the_login(answer: str,
                                                                                   account: bool) -> None:
    assert (account_problem(answer) is not None) is account


def test_every_problem_has_an_admin_fix_and_dutch_words_for_officers() -> None:
    for problem in LoginProblem:
        assert problem.fix and problem.dutch.startswith(("de ", "het ", "hwc-mailer", "inloggen", "Microsoft",
                                                         "een "))
        assert "beheerder" in problem.dutch


# --- the pause after a refusal --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_after_a_refused_login_nothing_knocks_on_the_server_until_the_pause_is_over() -> None:
    clock = Clock()
    gate = LoginGate(300.0, clock)
    gate.check()
    refusal = gate.after(TransportLoginRefused("smtp refused", LoginProblem.SMTP_AUTH_DISABLED))
    assert refusal.retry_after == 300.0 and gate.refusal is refusal and not gate.accepted_login
    clock.now += 299
    with pytest.raises(TransportLoginRefused) as standing:
        gate.check()
    assert standing.value.problem is LoginProblem.SMTP_AUTH_DISABLED and standing.value.retry_after == 1.0
    clock.now += 1
    gate.check()


def test_each_refusal_doubles_the_pause_up_to_an_hour_and_one_long_after_starts_afresh() -> None:
    clock = Clock()
    gate = LoginGate(300.0, clock)
    pauses = []
    for _ in range(6):
        pauses.append(gate.after(MailboxLoginRefused("imap refused", LoginProblem.TOKEN_REFUSED)).retry_after)
        clock.now += pauses[-1]
    assert pauses == [300, 600, 1200, 2400, 3600, 3600]
    gate.accepted()
    assert gate.refusal is None and gate.accepted_login
    clock.now += 2 * 3600
    assert gate.after(MailboxLoginRefused("imap refused", LoginProblem.TOKEN_REFUSED)).retry_after == 300


def test_a_refusal_right_after_an_accepted_login_still_doubles_the_pause() -> None:
    """Exchange takes the login and then refuses the sender or the mailbox: the pause must grow all the same."""
    clock = Clock()
    gate = LoginGate(300.0, clock)
    pauses = []
    for _ in range(3):
        gate.accepted()
        pauses.append(gate.after(TransportLoginRefused("sender refused", LoginProblem.SEND_AS_DENIED)).retry_after)
        clock.now += pauses[-1]
    assert pauses == [300, 600, 1200]


def test_a_failure_that_is_no_refusal_leaves_the_gate_open() -> None:
    gate = LoginGate(300.0, Clock())
    outage = gate.after(MailboxUnavailable("imap down"))
    assert isinstance(outage, MailboxUnavailable) and gate.refusal is None
    gate.check()


PASSWORD = PasswordLogin("leerplicht@example.nl", "geheim")


@pytest.mark.parametrize(("error", "refused", "problem"), [
    (aiosmtplib.SMTPAuthenticationError(535, "5.7.3 Authentication unsuccessful"), True,
     LoginProblem.PASSWORD_REFUSED),
    (aiosmtplib.SMTPAuthenticationError(454, "4.7.0 Temporary authentication failure"), False, None),
    (LoginError("b'[UNAVAILABLE] Temporary authentication failure.'"), False, None),
    (LoginError("socket error: EOF occurred in violation of protocol"), False, None),
    (LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"), True, LoginProblem.PASSWORD_REFUSED),
    (NoLoginMethod("the server offers no AUTH PLAIN or LOGIN"), True, LoginProblem.NO_LOGIN_METHOD),
    (TokenFailure("ConnectionError reaching login.microsoftonline.com", refused=False), False, None),
    (TokenFailure("invalid_client: AADSTS7000222: expired", refused=True), True, LoginProblem.SECRET_EXPIRED),
    (TokenFailure("cannot read secret file /etc/x: Permission denied", refused=True,
                  problem=LoginProblem.SECRET_UNREADABLE), True, LoginProblem.SECRET_UNREADABLE),
])
def test_a_failed_login_is_a_refusal_only_when_the_server_or_endpoint_said_no(
        error: Exception, refused: bool, problem: LoginProblem | None) -> None:
    failure = login_failure(error, PASSWORD, "IMAP server x:993", MailboxLoginRefused, MailboxUnavailable)
    assert isinstance(failure, LoginRefused) is refused
    assert not refused or (isinstance(failure, LoginRefused) and failure.problem is problem)
    assert "geheim" not in str(failure)


def test_the_status_line_says_who_refuses_and_who_was_told_and_never_more() -> None:
    refusal: LoginRefused = TransportLoginRefused("SMTP server x refused the login (secret)",
                                                  LoginProblem.SMTP_AUTH_DISABLED)
    refusal.retry_after = 600
    told = Told("in folder HWC-Meldingen", stranded=False).status(refusal)
    assert told == ("smtp refuses the login (smtp-auth-disabled); officers told in folder HWC-Meldingen; signals "
                    "wait in the inbox; next try in 10 min")
    assert "officers not told yet" in Told(None, stranded=False).status(refusal)
    stranded = Told(None, stranded=True).status(refusal)
    assert stranded.startswith("CRITICAL: imap and smtp refuse the login") and "secret" not in stranded


# --- folders by role --------------------------------------------------------------------------------


class Folders365:
    """The folders of a Dutch Exchange mailbox, as `Mailbox.find_folder` answers for them."""

    def __init__(self) -> None:
        self.roles = {"\\Sent": "Verzonden items", "\\Trash": "Verwijderde items"}
        self.names = {"INBOX", "Verzonden items", "Verwijderde items", "Archief"}

    def find_folder(self, name: str) -> str | None:
        return self.roles.get(name) if name in self.roles else (name if name in self.names else None)


def test_sent_and_trash_are_found_by_their_role_in_a_dutch_mailbox() -> None:
    folders, warnings = resolve_folders(Folders365(), Folders())
    assert (folders.sent, folders.trash, warnings) == ("Verzonden items", "Verwijderde items", [])


def test_a_named_folder_the_server_does_not_have_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_folders(Folders365(), Folders(sent="Sent", trash="Verwijderde items"))
    assert "folders.sent: 'Sent': no such folder on the IMAP server" in str(caught.value)


def test_a_role_no_folder_has_is_a_warning_and_null_means_none() -> None:
    mailbox = Folders365()
    mailbox.roles = {"\\Sent": "Verzonden items"}
    folders, warnings = resolve_folders(mailbox, Folders(trash="\\Trash"))
    assert folders.trash is None and len(warnings) == 1 and "marks no folder \\Trash" in warnings[0]
    folders, warnings = resolve_folders(mailbox, Folders(sent=None, trash=None))
    assert (folders.sent, folders.trash, warnings) == (None, None, [])


# --- the secret's expiry ------------------------------------------------------------------------------


def certificate(tmp_path: Path, days: int) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hwc-mailer test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    path = tmp_path / "entra.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def microsoft(**fields: object) -> Login:
    return Login.model_validate({"method": "microsoft", "tenant_id": TENANT, "client_id": CLIENT, **fields})


def test_a_certificate_gives_msal_its_key_and_thumbprint_and_its_expiry(tmp_path: Path) -> None:
    path = certificate(tmp_path, days=10)
    credential = certificate_credential(path.read_bytes())
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert len(credential["thumbprint"]) == 40
    login = microsoft(certificate={"file": path})
    expires = secret_expiry(login)
    assert expires is not None and timedelta(days=9) < expires - datetime.now(UTC) < timedelta(days=11)


def test_a_certificate_with_an_ec_key_is_refused_as_entra_takes_rsa(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hwc-mailer test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=9))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ConfigError) as caught:
        certificate_credential(pem)
    assert "must be RSA" in str(caught.value)


def test_a_certificate_without_its_key_is_a_clear_error(tmp_path: Path) -> None:
    path = certificate(tmp_path, days=10)
    path.write_bytes(path.read_bytes().split(b"-----BEGIN RSA PRIVATE KEY-----")[0])
    with pytest.raises(ConfigError) as caught:
        certificate_credential(path.read_bytes())
    assert "login.certificate: not a PEM with a certificate and its unencrypted private key" in str(caught.value)


@pytest.mark.parametrize(("days_left", "told"), [(40, False), (20, True), (-1, True)])
def test_officers_are_warned_before_the_client_secret_expires(days_left: int, told: bool) -> None:
    now = datetime(2027, 6, 1, 9, tzinfo=UTC)
    login = microsoft(client_secret={"env": "S"}, client_secret_expires=(now + timedelta(days=days_left)).date())
    alerts = secret_alerts(login, now, days=30)
    assert bool(alerts) is told
    if alerts:
        (alert,) = alerts
        assert alert.repeat_after == timedelta(days=7) and CLIENT in alert.detail
        assert ("is verlopen op" if days_left < 0 else "verloopt op") in alert.detail


def test_nothing_is_told_about_a_password_login() -> None:
    assert secret_alerts(Login(), datetime(2027, 6, 1, tzinfo=UTC), days=30) == []
