"""The lab's OAuth2 provider and the XOAUTH2 logins it backs: if these fail, no OAuth2 login result can be trusted.

msal talks to the provider exactly as it talks to Entra ID; Dovecot and the relay ask the provider about every
token, so a token that is expired, revoked, for another mailbox or for a refused service fails on both sides.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import aiosmtplib
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from lab.dovecot import Dovecot
from lab.oauth import OAuthServer
from lab.smtp import XOAUTH2_REFUSED, XOAUTH2_UNCHECKED, RelaySmtp
from lab.tls import LabTls

MAILBOX = "leerplicht@gemeente.test"
OTHER = "andere@gemeente.test"
CLIENT = "hwc-mailer-app"
OTHER_CLIENT = "andere-app"
SECRET = "lab-client-secret"
SCOPE = "https://outlook.office365.com/.default"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class Certificate:
    """A throwaway self-signed RSA certificate, as an admin uploads to an app registration."""

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def make(cls) -> Certificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hwc-mailer lab app")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(certificate.public_bytes(serialization.Encoding.PEM), key_pem)

    def sha1_thumbprint(self) -> str:
        return x509.load_pem_x509_certificate(self.cert_pem).fingerprint(hashes.SHA1()).hex()


class Connections:
    """Where this process connects to: an audit hook cannot be removed, so it records only while asked to."""

    def __init__(self) -> None:
        self.recording = False
        self.hosts: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.recording and event == "socket.connect" and isinstance(args[1], tuple):  # IP, not a Unix socket
            self.hosts.append(ipaddress.ip_address(args[1][0]))

    def during(self, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """What `action` returns; the hosts it connected to are then in `hosts`."""
        self.hosts.clear()
        self.recording = True
        try:
            return action()
        finally:
            self.recording = False

    def only_loopback(self) -> bool:
        return bool(self.hosts) and all(host in LOOPBACK for host in self.hosts)


@pytest.fixture(scope="session")
def connections() -> Connections:
    return Connections()


@pytest.fixture(scope="session")
def certificate() -> Certificate:
    return Certificate.make()


@pytest.fixture
def msal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override msal's `verify` (set here: the system bundle,
    which does not hold the lab CA); MSAL_FORCE_REGION would send msal to a regional Microsoft host."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "MSAL_FORCE_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def accounts(mail: Dovecot, oauth: OAuthServer) -> Dovecot:
    """Two mailboxes, each with an app that may log in to it by client secret."""
    mail.add_user(MAILBOX, "unused-password-1")
    mail.add_user(OTHER, "unused-password-2")
    oauth.register_client(CLIENT, secret=SECRET, mailbox=MAILBOX)
    oauth.register_client(OTHER_CLIENT, secret=SECRET, mailbox=OTHER)
    return mail


def application(oauth: OAuthServer, lab_tls: LabTls, credential: str | dict[str, str],
                client_id: str = CLIENT) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=oauth.authority, instance_discovery=False,
        verify=str(lab_tls.ca_file), token_cache=msal.TokenCache(),
    )


def token_answer(oauth: OAuthServer, form: dict[str, str], headers: dict[str, str] | None = None,
                 url: str | None = None) -> tuple[int, dict[str, Any]]:
    """What a generic OAuth2 client gets from a token endpoint (the generic one by default): status and JSON."""
    request = urllib.request.Request(url or oauth.token_url, data=urlencode(form).encode(), headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=oauth.ssl_context(), timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def token(oauth: OAuthServer, client_id: str = CLIENT) -> str:
    status, body = token_answer(oauth, {"grant_type": "client_credentials", "client_id": client_id,
                                        "client_secret": SECRET, "scope": SCOPE})
    assert status == 200, body
    access_token = body["access_token"]
    assert isinstance(access_token, str)
    return access_token


def imap_login(dovecot: Dovecot, user: str, access_token: str, mechanism: str = "XOAUTH2") -> None:
    """XOAUTH2 (or OAUTHBEARER) over IMAPS; raises LoginError when refused. Selecting INBOX proves the session."""
    with IMAPClient(dovecot.host, dovecot.imaps_port, ssl=True, ssl_context=dovecot.ssl_context(),
                    timeout=10) as client:
        if mechanism == "OAUTHBEARER":
            client.oauthbearer_login(user, access_token)
        else:
            client.oauth2_login(user, access_token)
        client.select_folder("INBOX", readonly=True)


def smtp_login(relay: RelaySmtp, tls_context: ssl.SSLContext, user: str, access_token: str,
               message: EmailMessage | None = None) -> aiosmtplib.SMTPResponse:
    """XOAUTH2 after STARTTLS; raises SMTPAuthenticationError when refused; sends `message` when given."""
    async def session() -> aiosmtplib.SMTPResponse:
        client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, start_tls=True, tls_context=tls_context)
        async with client:
            response = await client.auth_xoauth2(user, access_token)
            if message is not None:
                await client.send_message(message)
            return response
    return asyncio.run(session())


def test_msal_gets_tokens_that_log_in_on_both_sides(
    accounts: Dovecot, oauth: OAuthServer, smtp_relay: RelaySmtp, lab_tls: LabTls, msal_env: None,
    connections: Connections,
) -> None:
    result = connections.during(lambda: application(oauth, lab_tls, SECRET).acquire_token_for_client(scopes=[SCOPE]))

    assert result.get("token_type") == "Bearer", result
    assert connections.only_loopback(), connections.hosts
    imap_login(accounts, MAILBOX, result["access_token"])
    assert smtp_login(smtp_relay, accounts.ssl_context(), MAILBOX, result["access_token"]).code == 235
    assert oauth.token_requests == 1
    assert oauth.introspections == [("imap", True), ("smtp", True)]


@pytest.mark.parametrize("kind", ["sha1-thumbprint", "public-certificate"])
def test_msal_gets_tokens_with_a_certificate(
    accounts: Dovecot, oauth: OAuthServer, lab_tls: LabTls, msal_env: None, certificate: Certificate,
    connections: Connections, kind: str,
) -> None:
    """msal signs RS256 naming the certificate by SHA-1 (x5t) when given a thumbprint, else PS256 by SHA-256."""
    client_id = "certificate-app"
    oauth.register_client(client_id, certificate_pem=certificate.cert_pem, mailbox=MAILBOX)
    credential = {"private_key": certificate.key_pem.decode()}
    if kind == "sha1-thumbprint":
        credential["thumbprint"] = certificate.sha1_thumbprint()
    else:
        credential["public_certificate"] = certificate.cert_pem.decode()

    result = connections.during(
        lambda: application(oauth, lab_tls, credential, client_id).acquire_token_for_client(scopes=[SCOPE])
    )

    assert "access_token" in result, result
    assert connections.only_loopback(), connections.hosts
    imap_login(accounts, MAILBOX, result["access_token"])


def test_an_unregistered_certificate_is_refused(
    oauth: OAuthServer, lab_tls: LabTls, msal_env: None, certificate: Certificate
) -> None:
    oauth.register_client("certificate-app", certificate_pem=Certificate.make().cert_pem, mailbox=MAILBOX)
    credential = {"private_key": certificate.key_pem.decode(), "public_certificate": certificate.cert_pem.decode()}

    result = application(oauth, lab_tls, credential, "certificate-app").acquire_token_for_client(scopes=[SCOPE])

    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    assert oauth.token_requests == 0


def test_a_wrong_secret_or_unknown_app_gets_invalid_client(oauth: OAuthServer, lab_tls: LabTls,
                                                            msal_env: None) -> None:
    oauth.register_client(CLIENT, secret=SECRET, mailbox=MAILBOX)

    wrong_secret = application(oauth, lab_tls, "the-secret-id-not-its-value").acquire_token_for_client(scopes=[SCOPE])
    unknown_app = application(oauth, lab_tls, SECRET, "no-such-app").acquire_token_for_client(scopes=[SCOPE])

    assert wrong_secret["error"] == "invalid_client" and wrong_secret["error_codes"] == [7000215]
    assert unknown_app["error"] == "invalid_client" and unknown_app["error_codes"] == [700016]
    assert oauth.token_requests == 0


def test_token_error_reaches_msal_as_entra_words_it(oauth: OAuthServer, lab_tls: LabTls, msal_env: None) -> None:
    oauth.register_client(CLIENT, secret=SECRET, mailbox=MAILBOX)
    oauth.token_error = f"AADSTS7000222: The provided client secret keys for app '{CLIENT}' are expired."

    result = application(oauth, lab_tls, SECRET).acquire_token_for_client(scopes=[SCOPE])

    assert result["error"] == "invalid_client"
    assert result["error_description"] == oauth.token_error and result["error_codes"] == [7000222]


def test_an_unknown_tenant_fails_msal_at_discovery(oauth: OAuthServer, lab_tls: LabTls, msal_env: None) -> None:
    """msal raises its own words; Entra's answer survives only as the exception's context."""
    with pytest.raises(ValueError, match="Unable to get authority configuration") as failed:
        msal.ConfidentialClientApplication(CLIENT, client_credential=SECRET, authority=f"{oauth.base_url}/elders",
                                           instance_discovery=False, verify=str(lab_tls.ca_file))

    assert "AADSTS90002: Tenant 'elders' not found" in str(failed.value.__context__)


def test_msal_asks_again_for_short_lived_tokens(oauth: OAuthServer, lab_tls: LabTls, msal_env: None) -> None:
    """msal serves a cached token only while it has 5 minutes left: a short `lifetime` forces a new one each time."""
    oauth.register_client(CLIENT, secret=SECRET, mailbox=MAILBOX)
    app = application(oauth, lab_tls, SECRET)

    oauth.lifetime = 3
    short = [app.acquire_token_for_client(scopes=[SCOPE]) for _ in range(2)]
    oauth.lifetime = 3600
    long = [app.acquire_token_for_client(scopes=[SCOPE]) for _ in range(2)]

    assert [result["expires_in"] for result in short] == [3, 3]
    assert [result["token_source"] for result in short + long] == ["identity_provider"] * 3 + ["cache"]
    assert oauth.token_requests == 3


def test_scopes_as_entra_wants_them_and_as_rfc_6749_allows_them(oauth: OAuthServer) -> None:
    oauth.register_client(CLIENT, secret=SECRET, mailbox=MAILBOX)
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}

    delegated = token_answer(oauth, form | {"scope": "IMAP.AccessAsUser.All"}, url=oauth.microsoft_token_url)
    without_scope = token_answer(oauth, form)

    assert delegated[0] == 400 and delegated[1]["error_codes"] == [1002012]
    assert without_scope[0] == 200 and without_scope[1]["token_type"] == "Bearer"


def test_client_secret_basic_is_accepted(oauth: OAuthServer) -> None:
    oauth.register_client(CLIENT, secret="with:colon&amp", mailbox=MAILBOX)
    form = {"grant_type": "client_credentials", "scope": SCOPE}

    def basic(secret: str) -> dict[str, str]:
        credentials = f"{CLIENT}:{urlencode({'': secret})[1:]}".encode()
        return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}

    assert token_answer(oauth, form, basic("with:colon&amp"))[0] == 200
    assert token_answer(oauth, form, basic("wrong"))[1]["error"] == "invalid_client"


def _expire_by_lifetime(oauth: OAuthServer) -> str:
    """A token whose own lifetime ran out (the provider's clock, not a shortcut)."""
    oauth.lifetime = 0.05
    issued = time.monotonic()
    access_token = token(oauth)
    while (left := issued + oauth.lifetime - time.monotonic()) > 0:
        time.sleep(left)
    return access_token


def _expire_now(oauth: OAuthServer) -> str:
    access_token = token(oauth)
    oauth.expire_all()
    return access_token


def _revoke(oauth: OAuthServer) -> str:
    access_token = token(oauth)
    oauth.revoke_all()
    return access_token


REFUSED_TOKENS: dict[str, Callable[[OAuthServer], str]] = {
    "expired": _expire_by_lifetime,
    "expired-early": _expire_now,
    "revoked": _revoke,
    "other-mailbox": lambda oauth: token(oauth, OTHER_CLIENT),
    "never-issued": lambda oauth: "bm90LWEtdG9rZW4",
}


@pytest.mark.parametrize("case", REFUSED_TOKENS)
def test_dovecot_refuses_tokens_the_provider_does_not_vouch_for(
    accounts: Dovecot, oauth: OAuthServer, case: str
) -> None:
    access_token = REFUSED_TOKENS[case](oauth)

    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        imap_login(accounts, MAILBOX, access_token)

    assert oauth.introspections == [("imap", case == "other-mailbox")]


@pytest.mark.parametrize("case", REFUSED_TOKENS)
def test_relay_refuses_tokens_the_provider_does_not_vouch_for(
    accounts: Dovecot, oauth: OAuthServer, smtp_relay: RelaySmtp, case: str
) -> None:
    access_token = REFUSED_TOKENS[case](oauth)

    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        smtp_login(smtp_relay, accounts.ssl_context(), MAILBOX, access_token)

    assert f"{refused.value.code} {refused.value.message}" == XOAUTH2_REFUSED
    assert oauth.introspections == [("smtp", case == "other-mailbox")]


def test_dovecot_takes_oauthbearer_too(accounts: Dovecot, oauth: OAuthServer) -> None:
    """RFC 7628, the standard successor of XOAUTH2: same passdb, same introspection."""
    imap_login(accounts, MAILBOX, token(oauth), "OAUTHBEARER")
    with pytest.raises(LoginError):
        imap_login(accounts, MAILBOX, token(oauth, OTHER_CLIENT), "OAUTHBEARER")

    assert oauth.introspections == [("imap", True), ("imap", True)]


def test_a_refused_service_fails_only_there(accounts: Dovecot, oauth: OAuthServer, smtp_relay: RelaySmtp) -> None:
    """SMTP.SendAsApp consent revoked while IMAP.AccessAsApp stays: the same token works for IMAP only."""
    access_token = token(oauth)
    oauth.refuse("smtp")

    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        smtp_login(smtp_relay, accounts.ssl_context(), MAILBOX, access_token)
    imap_login(accounts, MAILBOX, access_token)
    oauth.allow("smtp")
    smtp_login(smtp_relay, accounts.ssl_context(), MAILBOX, access_token)
    oauth.refuse("imap")
    with pytest.raises(LoginError):
        imap_login(accounts, MAILBOX, access_token)

    assert oauth.introspections == [("smtp", False), ("imap", True), ("smtp", True), ("imap", False)]


def test_xoauth2_mail_is_relayed_with_a_sent_copy_for_the_token_mailbox(
    accounts: Dovecot, oauth: OAuthServer, smtp_relay: RelaySmtp
) -> None:
    message = EmailMessage()
    message["From"] = MAILBOX
    message["To"] = OTHER
    message["Subject"] = "via xoauth2"
    message.set_content("Hallo.\n")

    smtp_login(smtp_relay, accounts.ssl_context(), MAILBOX, token(oauth), message)

    assert len(accounts.messages(OTHER)) == 1
    assert len(accounts.messages(MAILBOX, "Sent")) == 1


def test_the_relay_offers_xoauth2_only_with_a_provider(
    accounts: Dovecot, oauth: OAuthServer, smtp_relay: RelaySmtp, lab_tls: LabTls
) -> None:
    async def auth_methods(relay: RelaySmtp) -> set[str]:
        client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, start_tls=True,
                                 tls_context=accounts.ssl_context())
        async with client:
            await client.ehlo()
            return set(client.server_auth_methods)

    with RelaySmtp(accounts, lab_tls, {}) as password_only:
        assert asyncio.run(auth_methods(password_only)) == {"plain", "login"}
    assert asyncio.run(auth_methods(smtp_relay)) == {"plain", "login", "xoauth2"}


def test_a_provider_outage_is_a_temporary_failure_on_both_sides(
    accounts: Dovecot, oauth: OAuthServer, smtp_relay: RelaySmtp, lab_tls: LabTls, msal_env: None
) -> None:
    """A token that could not be checked is no verdict on the token: neither side says it was refused. msal,
    unlike for a refusal, raises (MsalServiceError) instead of returning the error."""
    app = application(oauth, lab_tls, SECRET)
    access_token = token(oauth)
    oauth.unavailable = True

    with pytest.raises(msal.exceptions.MsalServiceError, match="HTTP Error: 503"):
        app.acquire_token_for_client(scopes=[SCOPE])
    with pytest.raises(LoginError, match="UNAVAILABLE"):
        imap_login(accounts, MAILBOX, access_token)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        smtp_login(smtp_relay, accounts.ssl_context(), MAILBOX, access_token)

    assert f"{refused.value.code} {refused.value.message}" == XOAUTH2_UNCHECKED
    assert oauth.introspections == []
