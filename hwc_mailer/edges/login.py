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

import json
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiosmtplib
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from msal.exceptions import MsalServiceError

from ..domain.logins import LoginProblem, diagnose, temporary
from ..errors import ConfigError, LoginRefused, Outage
from ..settings.config import MAX_RETRY_MINUTES, LoginMethod, Secret, Server
from ..settings.config import Login as LoginSettings
from .files import check_secret
from .reach import TLS_WORDS, Secured

Failure = TypeVar("Failure", bound=Outage)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates and host names always verified; `ca_file` replaces the system store when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class TokenFailure(Exception):
    """No token: `refused` when the endpoint said no (a configuration problem), else it could not be reached.
    `answer` is the endpoint's own error text with any secret of ours masked; `problem` names the cause when it
    is known without reading the answer. The edges turn it into their LoginRefused or outage."""

    def __init__(self, answer: str, *, refused: bool, problem: LoginProblem | None = None) -> None:
        super().__init__(answer)
        self.answer = answer
        self.refused = refused
        self.problem = problem


class NoLoginMethod(aiosmtplib.SMTPException):
    """The SMTP server offers no AUTH mechanism the login can use."""


async def _auth_methods(client: aiosmtplib.SMTP) -> list[str]:
    """The AUTH mechanisms the server offers on the secured session (EHLO is said again after STARTTLS)."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    return list(client.server_auth_methods)


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
        """One mechanism, not aiosmtplib's every-one-in-turn: each refused attempt counts towards a lock-out."""
        methods = await _auth_methods(client)
        if "plain" in methods:
            await client.auth_plain(self.username, self.password)
        elif "login" in methods:
            await client.auth_login(self.username, self.password)
        else:
            raise NoLoginMethod("the server offers no AUTH PLAIN or LOGIN")


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
    """SASL XOAUTH2 as `username` (the mailbox). A token the server refuses is renewed and tried once more; a
    refusal that is only for now (a 4xx, [UNAVAILABLE]) is not, and a server that hangs up after the first
    refusal leaves that refusal standing."""

    username: str
    tokens: TokenSource
    uses_token = True

    def describe(self) -> str:
        return f"token from {self.tokens.where}, XOAUTH2"

    def imap(self, client: IMAPClient) -> None:
        try:
            client.oauth2_login(self.username, self.tokens.token())
        except LoginError as refused:
            if temporary(str(refused)):
                raise
            try:
                client.oauth2_login(self.username, self.tokens.renew())
            except LoginError as again:
                raise (refused if temporary(str(again)) else again) from None

    async def smtp(self, client: aiosmtplib.SMTP) -> None:
        if "xoauth2" not in await _auth_methods(client):
            raise NoLoginMethod("the server offers no AUTH XOAUTH2")
        try:
            await client.auth_xoauth2(self.username, self.tokens.token())
        except aiosmtplib.SMTPAuthenticationError as refused:
            if refused.code < 500:
                raise
            try:
                await client.auth_xoauth2(self.username, self.tokens.renew())
            except aiosmtplib.SMTPServerDisconnected:
                raise refused from None


class _Verifying(requests.Session):
    """A session that verifies the token endpoint with its own `verify` (login.ca_file, or the system store),
    whatever REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE say: requests lets those override a session's CA file, and
    msal sets nothing per request."""

    def __init__(self, ca_file: Path | None) -> None:
        super().__init__()
        self.verify = str(ca_file) if ca_file else True
        self.max_redirects = 0      # a redirect would carry the client secret elsewhere: refused, never followed

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
        self._secrets: tuple[str, ...] = ()

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            login = self._login
            with _token_failures(self.where, ()):
                credential: str | dict[str, str] = (read_secret(login.client_secret) if login.client_secret
                                                    else certificate_credential(_certificate_pem(login)))
            self._secrets = (credential,) if isinstance(credential, str) else ()
            with _token_failures(self.where, self._secrets):
                try:
                    self._app = msal.ConfidentialClientApplication(
                        login.client_id, client_credential=credential,
                        authority=f"https://{login.authority_host}/{login.tenant_id}", instance_discovery=False,
                        http_client=_Verifying(login.ca_file), timeout=login.timeout_seconds,
                        token_cache=msal.TokenCache())
                except ValueError as error:
                    if isinstance(error, json.JSONDecodeError):
                        raise
                    # msal could not have the authority's configuration: its own words, and the endpoint's
                    # (AADSTS90002 for an unknown tenant) in the error it came from.
                    raise TokenFailure(_masked(f"{error} {error.__context__ or ''}", self._secrets),
                                       refused=True) from None
        return self._app

    def token(self) -> str:
        app = self._application()
        with _token_failures(self.where, self._secrets):
            return _access_token(app.acquire_token_for_client(scopes=self._login.scopes), self._secrets)

    def renew(self) -> str:
        self._application().remove_tokens_for_client()
        return self.token()


class ClientCredentialTokens:
    """Any OAuth2 token endpoint with the client-credentials grant (RFC 6749, 4.4), client_secret_post.

    Kept in memory and renewed when a tenth of its lifetime (at most five minutes) is left.
    """

    def __init__(self, login: LoginSettings, clock: Callable[[], float] = time.monotonic) -> None:
        assert login.token_url is not None and login.client_id is not None and login.client_secret is not None
        self.where = urlsplit(login.token_url).netloc
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
        with _token_failures(self.where, ()):
            secret = read_secret(login.client_secret)
        form = {"grant_type": "client_credentials", "client_id": login.client_id, "client_secret": secret}
        if login.scopes:
            form["scope"] = " ".join(login.scopes)
        asked = self._clock()
        with _token_failures(self.where, (secret,)):
            with _Verifying(login.ca_file) as session:
                answer = session.post(login.token_url, data=form, timeout=login.timeout_seconds,
                                      allow_redirects=False)
            if answer.status_code >= 500 or 300 <= answer.status_code < 400:
                raise TokenFailure(f"{self.where} answered {answer.status_code}", refused=False)
            try:
                result = json.loads(answer.content)
            except ValueError:
                raise TokenFailure(f"{self.where} answered {answer.status_code} without JSON",
                                   refused=400 <= answer.status_code < 500) from None
            token = _access_token(result if isinstance(result, dict) else None, (secret,))
            lifetime = _seconds(result.get("expires_in"))
        self._renew_at = asked + lifetime - min(lifetime / 10, 300.0)
        return token


@contextmanager
def _token_failures(where: str, secrets: Sequence[str]) -> Iterator[None]:
    """Whatever goes wrong on the way to a token ends as a TokenFailure: a secret that cannot be read is a refusal
    (the admin must fix it), anything else from the network, the endpoint or the libraries an outage. Nothing
    else may escape: a login must never crash a pass or the daemon."""
    try:
        yield
    except TokenFailure:
        raise
    except ConfigError as error:
        raise TokenFailure(str(error), refused=True, problem=LoginProblem.SECRET_UNREADABLE) from None
    except Exception as error:      # the one place every library error of getting a token ends
        detail = f"{type(error).__name__} reaching {where}"
        if isinstance(error, (requests.HTTPError, MsalServiceError)) and (text := str(error)):
            detail += f": {text}"
        raise TokenFailure(_masked(detail, secrets), refused=False) from None


def _seconds(value: object) -> float:
    """A token's lifetime (`expires_in`) as the endpoint wrote it, an hour when it is missing or not a number."""
    try:
        seconds = float(value) if isinstance(value, (int, float, str)) else 3600.0
    except ValueError:
        return 3600.0
    return seconds if 0 < seconds < 10**7 else 3600.0


def _masked(text: str, secrets: Sequence[str]) -> str:
    """The text on one line and bounded, with any secret of ours in it (an endpoint may echo it) masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:300]


def _access_token(result: dict[str, Any] | None, secrets: Sequence[str]) -> str:
    """The token of a token endpoint's answer, or TokenFailure with its error (never the token) as the answer."""
    token = (result or {}).get("access_token")
    if isinstance(token, str) and token:
        return token
    error = (result or {}).get("error") or "no access_token"
    description = str((result or {}).get("error_description") or "").splitlines()
    raise TokenFailure(_masked(f"{error}: {description[0] if description else ''}", secrets), refused=True)


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
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"login.certificate: a {type(key).__name__.removesuffix('PrivateKey')} key; Entra ID "
                          "client certificates must be RSA (openssl req -newkey rsa:2048 ...)")
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
    """A token login as the server's username; without a username (an SMTP relay that takes the daemon by its
    address, such as a Microsoft 365 connector) no login at all."""
    if server.username is None:
        return NoLogin()
    if tokens is not None:
        return TokenLogin(server.username, tokens)
    if server.password is None:
        return NoLogin()
    return PasswordLogin(server.username, server.password.read(check_secret))


class LoggingIn:
    """What an edge that logs in tells the rest about its login, in the same words for IMAP and SMTP."""

    protocol = ""               # "IMAP" or "SMTP"
    secured: Secured | None = None     # the TLS of the last connection that got through, for `check`
    # `check`'s connections: a silent STARTTLS port is asked whether it speaks TLS at once, and a refused certificate
    # is fetched to name it (edges/reach.py); the daemon's never do either.
    probing = False
    _server: Server
    _login: Login
    _gate: "LoginGate"

    @property
    def where(self) -> str:
        return f"{self.protocol} server {self._server.host}:{self._server.port}"

    def describe_session(self) -> str:
        """What the last connection did, for `check`: where to, the TLS with the server's certificate, the login."""
        server = self._server
        tls = self.secured.describe() if self.secured is not None else TLS_WORDS[server.tls]
        login = ("no login (the server takes the daemon by its address)" if isinstance(self._login, NoLogin)
                 else f"login as {server.username} ({self._login.describe()}) accepted")
        return f"{server.host}:{server.port}, {tls}; {login}"

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
    standing refusal is raised again (with the time left), so no pass, alert or probe knocks on the server.

    The pause doubles for every refusal that comes soon after the last one's pause ended, also when the login
    itself went through in between (a sender or mailbox refused after it); a refusal long after starts afresh.
    """

    def __init__(self, first_pause: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._first = first_pause
        self._clock = clock
        self._pause = 0.0
        self._until = float("-inf")
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
            now = self._clock()
            again = now - self._until <= max(self._pause, self._first)
            self._pause = min(self._pause * 2, MAX_RETRY_MINUTES * 60) if again and self._pause else self._first
            self._until = now + self._pause
            failure.retry_after = self._pause
            self.refusal = failure
            self.accepted_login = False
        return failure

    def accepted(self) -> None:
        self.refusal = None
        self.accepted_login = True


def login_failure(error: Exception, login: Login, where: str, refused_as: type[LoginRefused],
                  unavailable_as: type[Outage]) -> Outage:
    """What a failed login is to the edge: a refusal (with the admin's fix), or an outage when it is only for now
    (a token endpoint out of reach, a 4xx, an IMAP [UNAVAILABLE] or a dropped connection). `error` is the
    library's login error (the server's answer), a TokenFailure, or aiosmtplib's word that the server offers no
    login the daemon can use."""
    if isinstance(error, TokenFailure):
        if not error.refused:
            return unavailable_as(f"{where}: no token: {error.answer}; check the network and the token endpoint")
        problem = error.problem or diagnose(error.answer, LoginProblem.TOKEN_NOT_ISSUED)
        return refused_as(f"{where}: no token ({error.answer}); {problem.fix}", problem)
    answer = " ".join(str(error).split())[:200]
    code = getattr(error, "code", None)
    if (isinstance(code, int) and code < 500) or temporary(answer):
        return unavailable_as(f"{where}: the login failed for now ({answer}); will retry")
    if isinstance(error, NoLoginMethod):
        problem = LoginProblem.NO_LOGIN_METHOD
    else:
        problem = diagnose(answer, LoginProblem.TOKEN_REFUSED if login.uses_token else LoginProblem.PASSWORD_REFUSED)
    return refused_as(f"{where} refused the login ({login.describe()}: {answer}); {problem.fix}", problem)
