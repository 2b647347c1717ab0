"""How the daemon reaches its servers: verified TLS, a login strategy, and a pause after a refused login.

Login is a small strategy passed to the mailbox and the transport: a password per server, or an OAuth2
bearer token (SASL XOAUTH2) from a token source shared by both, since one application holds both
permissions. Microsoft 365 tokens come from msal (client secret or certificate, its own cache and early
refresh); any other provider's from its token endpoint with client credentials. A token the server refuses
is renewed once and tried again before the login counts as refused.

A refused login is a problem of the configuration, not of a signal, and trying again at once only risks a
lock-out: `LoginGate` keeps each edge from trying again for `login.retry_minutes`, doubling up to an hour,
and answers with the standing refusal meanwhile. Tokens and secrets live in memory only, never in a log,
an exception message or a file.
"""

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosmtplib
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from msal.exceptions import MsalServiceError

from ..domain.logins import LoginProblem, diagnose
from ..errors import ConfigError, LoginRefused, Outage
from ..settings.config import MAX_RETRY_MINUTES, LoginMethod, Secret, Server
from ..settings.config import Login as LoginSettings
from .files import check_secret

Failure = TypeVar("Failure", bound=Outage)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates and host names always verified; `ca_file` replaces the system store when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class TokenFailure(Exception):
    """No token: `refused` when the endpoint said no (a configuration problem), else it could not be reached.
    `answer` is the endpoint's own error text (never a secret); the edges turn it into their LoginRefused."""

    def __init__(self, answer: str, *, refused: bool) -> None:
        super().__init__(answer)
        self.answer = answer
        self.refused = refused


class TokenSource(Protocol):
    @property
    def where(self) -> str: ...

    def token(self) -> str: ...

    def renew(self) -> str: ...


class Login(Protocol):
    """Logs in on a connected, secured client; raises the library's own login error, or TokenFailure."""

    @property
    def uses_token(self) -> bool: ...

    def describe(self) -> str: ...

    def imap(self, client: IMAPClient) -> None: ...

    async def smtp(self, client: aiosmtplib.SMTP) -> None: ...


@dataclass(frozen=True)
class PasswordLogin:
    username: str
    password: str = field(repr=False)
    uses_token = False

    def describe(self) -> str:
        return "password"

    def imap(self, client: IMAPClient) -> None:
        client.login(self.username, self.password)

    async def smtp(self, client: aiosmtplib.SMTP) -> None:
        await client.login(self.username, self.password)


@dataclass(frozen=True)
class NoLogin:
    """For a relay that accepts the daemon by address (a local MTA), never for IMAP."""

    uses_token = False

    def describe(self) -> str:
        return "no login"

    def imap(self, client: IMAPClient) -> None:
        raise ConfigError("imap: username and password are required")

    async def smtp(self, client: aiosmtplib.SMTP) -> None:
        return None


@dataclass(frozen=True)
class TokenLogin:
    """SASL XOAUTH2 as `username` (the mailbox); a refused token is renewed and tried once more."""

    username: str
    tokens: TokenSource
    uses_token = True

    def describe(self) -> str:
        return f"token from {self.tokens.where}, XOAUTH2"

    def imap(self, client: IMAPClient) -> None:
        try:
            client.oauth2_login(self.username, self.tokens.token())
        except LoginError:
            client.oauth2_login(self.username, self.tokens.renew())

    async def smtp(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.auth_xoauth2(self.username, self.tokens.token())
        except aiosmtplib.SMTPAuthenticationError:
            await client.auth_xoauth2(self.username, self.tokens.renew())


class _Verifying(requests.Session):
    """A session that verifies the token endpoint with its own `verify` (login.ca_file, or the system store),
    whatever REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE say: requests lets those override a session's CA file, and
    msal sets nothing per request."""

    def __init__(self, ca_file: Path | None) -> None:
        super().__init__()
        self.verify = str(ca_file) if ca_file else True

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings


class MicrosoftTokens:
    """Entra ID client credentials through msal, which caches the token and renews it before it expires.

    The msal application is made at the first token, not before: making it already asks the authority for its
    configuration, and a daemon must start (and `check --offline` run) while the network is down.
    """

    def __init__(self, login: LoginSettings) -> None:
        assert login.tenant_id is not None and login.client_id is not None
        self.where = login.authority_host
        self._login = login
        self._app: msal.ConfidentialClientApplication | None = None

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            login = self._login
            credential: str | dict[str, str] = (read_secret(login.client_secret) if login.client_secret is not None
                                                else certificate_credential(_certificate_pem(login)))
            try:
                self._app = msal.ConfidentialClientApplication(
                    login.client_id, client_credential=credential,
                    authority=f"https://{login.authority_host}/{login.tenant_id}", instance_discovery=False,
                    http_client=_Verifying(login.ca_file), timeout=login.timeout_seconds,
                    token_cache=msal.TokenCache())
            except (requests.RequestException, MsalServiceError) as error:
                raise TokenFailure(f"{type(error).__name__} reaching {login.authority_host}", refused=False) from None
            except ValueError as error:
                # msal could not have the authority's configuration: its own words, and the endpoint's (AADSTS90002
                # for an unknown tenant) in the error it came from.
                cause = error.__context__
                raise TokenFailure(" ".join(f"{error} {cause or ''}".split())[:300], refused=True) from None
        return self._app

    def token(self) -> str:
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=self._login.scopes)
        except (requests.RequestException, MsalServiceError) as error:
            raise TokenFailure(f"{type(error).__name__} reaching {self.where}", refused=False) from None
        return _access_token(result)

    def renew(self) -> str:
        self._application().remove_tokens_for_client()
        return self.token()


class ClientCredentialTokens:
    """Any OAuth2 token endpoint with the client-credentials grant (RFC 6749, 4.4), client_secret_post.

    Kept in memory and renewed when a tenth of its lifetime (at most five minutes) is left.
    """

    def __init__(self, login: LoginSettings, clock: Callable[[], float] = time.monotonic) -> None:
        assert login.token_url is not None and login.client_id is not None and login.client_secret is not None
        self.where = login.token_url.split("/")[2]
        self._login = login
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        if self._token is None or self._clock() >= self._renew_at:
            self._token = self._fetch()
        return self._token

    def renew(self) -> str:
        self._token = None
        return self.token()

    def _fetch(self) -> str:
        login = self._login
        assert login.token_url is not None and login.client_secret is not None
        form = {"grant_type": "client_credentials", "client_id": login.client_id,
                "client_secret": read_secret(login.client_secret)}
        if login.scopes:
            form["scope"] = " ".join(login.scopes)
        asked = self._clock()
        try:
            with _Verifying(login.ca_file) as session:
                answer = session.post(login.token_url, data=form, timeout=login.timeout_seconds)
            result = answer.json()
        except requests.RequestException as error:
            raise TokenFailure(f"{type(error).__name__} reaching {self.where}", refused=False) from None
        except ValueError:
            raise TokenFailure(f"{self.where} answered {answer.status_code} without JSON",
                               refused=400 <= answer.status_code < 500) from None
        if answer.status_code >= 500:
            raise TokenFailure(f"{self.where} answered {answer.status_code}", refused=False)
        if not isinstance(result, dict):
            raise TokenFailure(f"{self.where} answered {answer.status_code} with no token", refused=True)
        token = _access_token(result)
        lifetime = float(result.get("expires_in") or 3600)
        self._renew_at = asked + lifetime - min(lifetime / 10, 300.0)
        return token


def _access_token(result: dict[str, Any] | None) -> str:
    """The token of a token endpoint's answer, or TokenFailure with its error (never the token) as the answer."""
    token = (result or {}).get("access_token")
    if isinstance(token, str) and token:
        return token
    error = (result or {}).get("error") or "no access_token"
    description = str((result or {}).get("error_description") or "").splitlines()
    raise TokenFailure(f"{error}: {description[0] if description else ''}"[:300], refused=True)


def read_secret(secret: Secret) -> str:
    return secret.read(check_secret)


def _certificate_pem(login: LoginSettings) -> bytes:
    assert login.certificate is not None
    return read_secret(login.certificate).encode()


def certificate_credential(pem: bytes) -> dict[str, str]:
    """msal's credential for a certificate: its private key and SHA-1 thumbprint, from one PEM with both."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"login.certificate: not a PEM with a certificate and its unencrypted private key "
                          f"({type(error).__name__})") from None
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {"private_key": key_pem, "thumbprint": certificate.fingerprint(hashes.SHA1()).hex()}


def secret_expiry(login: LoginSettings) -> datetime | None:
    """When the login's client secret (as configured) or certificate (as read from it) stops working."""
    if login.certificate is not None:
        try:
            return x509.load_pem_x509_certificate(_certificate_pem(login)).not_valid_after_utc
        except ValueError:
            raise ConfigError("login.certificate: no PEM certificate in it") from None
    if login.client_secret_expires is not None:
        return datetime.combine(login.client_secret_expires, datetime.min.time(), UTC)
    return None


def token_source(login: LoginSettings) -> TokenSource | None:
    if login.method is LoginMethod.microsoft:
        return MicrosoftTokens(login)
    if login.method is LoginMethod.oauth2:
        return ClientCredentialTokens(login)
    return None


def login_for(server: Server, tokens: TokenSource | None) -> Login:
    if tokens is not None:
        assert server.username is not None
        return TokenLogin(server.username, tokens)
    if server.username is None or server.password is None:
        return NoLogin()
    return PasswordLogin(server.username, server.password.read(check_secret))


class LoggingIn:
    """What an edge that logs in tells the rest about its login, in the same words for IMAP and SMTP."""

    _login: Login
    _gate: "LoginGate"

    def describe_login(self) -> str:
        return self._login.describe()

    @property
    def refusal(self) -> LoginRefused | None:
        """The login refusal that stands (its pause not over, or no login tried since), or None."""
        return self._gate.refusal

    @property
    def accepted(self) -> bool:
        """The last login was accepted."""
        return self._gate.accepted_login


class LoginGate:
    """After a refused login no new attempt for `first_pause` seconds, doubling up to an hour; until then the
    standing refusal is raised again (with the time left), so no pass, alert or probe knocks on the server."""

    def __init__(self, first_pause: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._first = first_pause
        self._clock = clock
        self._pause = 0.0
        self._until = 0.0
        self.refusal: LoginRefused | None = None
        self.accepted_login = False      # the last login was accepted

    def check(self) -> None:
        refusal = self.refusal
        if refusal is not None and self._clock() < self._until:
            standing = type(refusal)(str(refusal), refusal.problem)
            standing.retry_after = self._until - self._clock()
            raise standing

    def after(self, failure: Failure) -> Failure:
        """A refusal is remembered and starts (or doubles) the pause; any failure is returned for raising."""
        if isinstance(failure, LoginRefused):
            self._pause = self._first if self.refusal is None else min(self._pause * 2, MAX_RETRY_MINUTES * 60)
            self._until = self._clock() + self._pause
            failure.retry_after = self._pause
            self.refusal = failure
            self.accepted_login = False
        return failure

    def accepted(self) -> None:
        self.refusal = None
        self._pause = 0.0
        self.accepted_login = True


def login_failure(error: Exception, login: Login, where: str, refused_as: type[LoginRefused],
                  unavailable_as: type[Outage]) -> Outage:
    """What a failed login is to the edge: a refusal (with the admin's fix) or, for a token endpoint out of reach,
    a plain outage. `error` is the library's login error (the server's answer) or a TokenFailure."""
    if isinstance(error, TokenFailure):
        if not error.refused:
            return unavailable_as(f"{where}: no token: {error.answer}; check the network and the token endpoint")
        problem = diagnose(error.answer, LoginProblem.TOKEN_NOT_ISSUED)
        return refused_as(f"{where}: no token ({error.answer}); {problem.fix}", problem)
    answer = " ".join(str(error).split())[:200]
    problem = diagnose(answer, LoginProblem.TOKEN_REFUSED if login.uses_token else LoginProblem.PASSWORD_REFUSED)
    return refused_as(f"{where} refused the login ({login.describe()}: {answer}); {problem.fix}", problem)
