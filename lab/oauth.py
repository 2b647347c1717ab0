"""A real OAuth2 provider on loopback, shaped like Microsoft Entra ID, so OAuth2 logins are tested end to end.

It issues client-credentials tokens (client secret, or a certificate-signed assertion as msal sends it) and
answers RFC 7662 introspection: the lab Dovecot and relay ask it about every XOAUTH2 login, so a test can
refuse a service, revoke or expire tokens, or break the token endpoint, and watch the client under test cope.
Tokens live only in this process's memory.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from lab.service import Service
from lab.tls import LabTls

HOST = "127.0.0.1"
TENANT = "lab-tenant"
SERVICES = ("imap", "smtp")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05  # how long stop() may wait for the serving thread to notice (the stdlib default is 0.5 s)
_DEFAULT_LIFETIME = 3600.0  # seconds, as Entra's access tokens (60 to 90 minutes)
_ASSERTION_ALGORITHMS = ["RS256", "PS256"]  # msal signs RS256 with a SHA-1 thumbprint, PS256 with SHA-256
_AADSTS = re.compile(r"AADSTS(\d+)")

JsonReply = tuple[int, dict[str, Any]]
_UNAVAILABLE: JsonReply = (503, {"error": "temporarily_unavailable",
                                 "error_description": "The lab provider is switched off (unavailable)."})


@dataclass(frozen=True)
class _Certificate:
    """What Entra keeps of an uploaded certificate: its key, and the thumbprints an assertion names it by."""

    public_key: RSAPublicKey
    thumbprints: dict[str, bytes]  # JWT header name (x5t, x5t#S256) -> fingerprint

    @classmethod
    def from_pem(cls, pem: bytes) -> _Certificate:
        certificate = x509.load_pem_x509_certificate(pem)
        public_key = certificate.public_key()
        if not isinstance(public_key, RSAPublicKey):
            raise ValueError("Entra takes RSA certificates only")
        return cls(public_key, {"x5t": certificate.fingerprint(hashes.SHA1()),
                                "x5t#S256": certificate.fingerprint(hashes.SHA256())})


@dataclass(frozen=True)
class _Client:
    secret: str | None
    certificate: _Certificate | None
    mailbox: str


@dataclass
class _Token:
    client_id: str
    mailbox: str
    scope: str
    expires: float  # time.monotonic()
    revoked: bool = False


class OAuthServer(Service):
    """Entra-style token endpoint and OIDC discovery for msal, plus one introspection endpoint per mail service.

    `lifetime` (seconds) applies to tokens issued from then on; `token_error` makes the token endpoint refuse
    every client with that Entra error description; `refuse(service)` makes introspection for that service call
    every token inactive (consent for that permission revoked) until `allow(service)`; `unavailable` makes every
    endpoint answer 503, a provider outage (Dovecot and the relay then answer a temporary failure).
    """

    def __init__(self, tls: LabTls, *, tenant: str = TENANT) -> None:
        self.tls = tls
        self.host = HOST
        self.port = 0
        self.tenant = tenant
        self.lifetime = _DEFAULT_LIFETIME
        self.token_error: str | None = None
        self.unavailable = False
        self.token_requests = 0
        self.introspections: list[tuple[str, bool]] = []
        self._clients: dict[str, _Client] = {}
        self._tokens: dict[str, _Token] = {}
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._server: _HttpsServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        """What msal's ConfidentialClientApplication takes as `authority` (with instance_discovery=False)."""
        return f"{self.base_url}/{self.tenant}"

    @property
    def microsoft_token_url(self) -> str:
        """Entra's v2.0 token endpoint, which msal finds through discovery; scopes must end in /.default."""
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def token_url(self) -> str:
        """A generic OAuth2 token endpoint (RFC 6749): the same clients and tokens, any scope or none."""
        return f"{self.base_url}/oauth2/token"

    def introspection_url(self, service: str) -> str:
        return f"{self.base_url}/introspect/{service}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the lab CA and checks host names."""
        return ssl.create_default_context(cafile=self.tls.ca_file)

    def start(self) -> None:
        """Serve HTTPS on a free loopback port; return once a real HTTPS request got its answer."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        server = _HttpsServer(self, context)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(_POLL_INTERVAL,), name="lab-oauth", daemon=True
        )
        self._thread.start()
        try:
            with urllib.request.urlopen(self.base_url + self._discovery_paths()[0], context=self.ssl_context(),
                                        timeout=_TIMEOUT) as answer:
                json.load(answer)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(_TIMEOUT)

    def reset(self) -> None:
        """Forget clients, tokens, counters and every refusal, so a session-scoped provider serves each test."""
        with self._lock:
            self._clients.clear()
            self._tokens.clear()
            self._refused.clear()
            self.introspections.clear()
            self.token_requests = 0
            self.token_error = None
            self.unavailable = False
            self.lifetime = _DEFAULT_LIFETIME

    def register_client(
        self, client_id: str, *, secret: str | None = None, certificate_pem: bytes | None = None, mailbox: str
    ) -> None:
        """A confidential client that may get tokens with its secret or its certificate; they name `mailbox`."""
        if secret is None and certificate_pem is None:
            raise ValueError("a client needs a secret or a certificate")
        certificate = None if certificate_pem is None else _Certificate.from_pem(certificate_pem)
        with self._lock:
            self._clients[client_id] = _Client(secret, certificate, mailbox)

    def refuse(self, service: str) -> None:
        with self._lock:
            self._refused.add(_known_service(service))

    def allow(self, service: str) -> None:
        with self._lock:
            self._refused.discard(_known_service(service))

    def revoke_all(self) -> None:
        """Every token issued so far becomes inactive; tokens issued later are not affected."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def expire_all(self) -> None:
        """Every token issued so far expires now, without waiting for its lifetime (the client still trusts it)."""
        now = time.monotonic()
        with self._lock:
            for token in self._tokens.values():
                token.expires = min(token.expires, now)

    def issued_tokens(self) -> list[str]:
        """Every access token issued since the last reset, for tests that prove none leaked into logs or files."""
        with self._lock:
            return list(self._tokens)

    def _discovery_paths(self) -> tuple[str, ...]:
        """Where msal looks for the tenant's configuration: with `authority` (v2.0) and with `oidc_authority`."""
        return (f"/{self.tenant}/v2.0/.well-known/openid-configuration",
                f"/{self.tenant}/.well-known/openid-configuration")

    def _get(self, path: str) -> JsonReply:
        if self.unavailable:
            return _UNAVAILABLE
        if path in self._discovery_paths():
            return 200, self._openid_configuration()
        if path.endswith("/.well-known/openid-configuration"):
            return _tenant_not_found("invalid_tenant", path.split("/")[1])
        return 404, {"error": "not_found"}

    def _post(self, path: str, form: dict[str, str], authorization: str | None) -> JsonReply:
        if self.unavailable:
            return _UNAVAILABLE
        if path == f"/{self.tenant}/oauth2/v2.0/token":
            return self._token(form, authorization, self.microsoft_token_url, microsoft=True)
        if path == "/oauth2/token":
            return self._token(form, authorization, self.token_url, microsoft=False)
        if path.endswith("/oauth2/v2.0/token"):
            return _tenant_not_found("invalid_request", path.split("/")[1])
        service = path.removeprefix("/introspect/")
        if service in SERVICES:
            return 200, self._introspect(service, form.get("token", ""))
        return 404, {"error": "not_found"}

    def _openid_configuration(self) -> dict[str, Any]:
        """The fields msal reads (and a few more an OIDC client expects), Entra v2.0 style."""
        return {
            "issuer": f"{self.authority}/v2.0",
            "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
            "token_endpoint": self.microsoft_token_url,
            "device_authorization_endpoint": f"{self.authority}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    def _token(self, form: dict[str, str], authorization: str | None, endpoint: str, *, microsoft: bool) -> JsonReply:
        """Client credentials grant, checked as Entra does; refusals carry Entra's AADSTS codes."""
        if self.token_error is not None:
            return _invalid_client(self.token_error)
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type",
                          "AADSTS70003: The app requested an unsupported grant type.")
        scope = form.get("scope", "")
        if microsoft and not any(part.endswith("/.default") for part in scope.split()):
            return _error(400, "invalid_scope",
                          f"AADSTS1002012: The provided value for scope {scope} is not valid. Client credential "
                          "flows must have a scope value with /.default suffixed to the resource identifier.")
        client_id, secret = _basic_credentials(authorization) or (form.get("client_id", ""), form.get("client_secret"))
        lifetime = self.lifetime
        with self._lock:
            client = self._clients.get(client_id)
            if client is None:
                return _invalid_client(f"AADSTS700016: Application with identifier '{client_id}' was not found in "
                                       f"the directory '{self.tenant}'.")
            if refusal := self._refuse_credentials(client_id, client, secret, form, endpoint):
                return refusal
            token = secrets.token_urlsafe(32)
            self._tokens[token] = _Token(client_id, client.mailbox, scope, time.monotonic() + lifetime)
            self.token_requests += 1
        expires_in = math.ceil(lifetime)
        return 200, {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                     "access_token": token}

    def _refuse_credentials(
        self, client_id: str, client: _Client, secret: str | None, form: dict[str, str], endpoint: str
    ) -> JsonReply | None:
        if secret is not None:
            if client.secret is None or not secrets.compare_digest(secret, client.secret):
                return _invalid_client(f"AADSTS7000215: Invalid client secret provided. Ensure the secret being "
                                       f"sent in the request is the client secret value, not the client secret ID, "
                                       f"for a secret added to app '{client_id}'.")
            return None
        if form.get("client_assertion_type") == ASSERTION_TYPE and "client_assertion" in form:
            if client.certificate is None or not _assertion_holds(form["client_assertion"], client_id,
                                                                   client.certificate, endpoint):
                return _invalid_client(f"AADSTS700027: Client assertion failed signature validation, or the "
                                       f"certificate it names is not registered on application '{client_id}'.")
            return None
        return _invalid_client("AADSTS7000218: The request body must contain the following parameter: "
                               "'client_assertion' or 'client_secret'.")

    def _introspect(self, service: str, token: str) -> dict[str, Any]:
        with self._lock:
            found = self._tokens.get(token)
            remaining = -1.0 if found is None else found.expires - time.monotonic()
            active = (found is not None and not found.revoked and remaining > 0
                      and service not in self._refused)
            self.introspections.append((service, active))
        if not active or found is None:
            return {"active": False}
        return {"active": True, "username": found.mailbox, "client_id": found.client_id, "scope": found.scope,
                "token_type": "Bearer", "exp": int(time.time() + remaining)}


class _HttpsServer(ThreadingHTTPServer):
    """Each connection's TLS handshake runs in its own thread, so one stalled client cannot block the others."""

    daemon_threads = True

    def __init__(self, provider: OAuthServer, context: ssl.SSLContext) -> None:
        super().__init__((HOST, 0), _Handler)
        self.provider = provider
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        assert isinstance(request, socket.socket)
        with self.context.wrap_socket(request, server_side=True) as connection:
            super().finish_request(connection, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or distrusts the lab CA is its own test's business, not noise on stderr."""
        if not isinstance(sys.exception(), OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpsServer

    def do_GET(self) -> None:
        self._reply(*self.server.provider._get(urlsplit(self.path).path))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("ascii", "replace")
        form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
        self._reply(*self.server.provider._post(urlsplit(self.path).path, form, self.headers.get("Authorization")))

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines are noise in test output."""


def _assertion_holds(assertion: str, client_id: str, certificate: _Certificate, endpoint: str) -> bool:
    """Signed by the registered certificate's key for this endpoint (RFC 7523), by and about the client (Entra:
    iss == sub == client_id), naming that certificate by thumbprint if it names one."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, certificate.public_key, algorithms=_ASSERTION_ALGORITHMS,
                            audience=endpoint, options={"require": ["exp", "iss", "sub", "aud"]})
    except jwt.PyJWTError:
        return False
    return (claims["iss"] == claims["sub"] == client_id
            and all(_thumbprint(header[name]) == value for name, value in certificate.thumbprints.items()
                    if name in header))


def _known_service(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; the lab knows {SERVICES}")
    return service


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_secret_basic (RFC 6749 2.3.1): both parts form-encoded, then base64."""
    if authorization is None or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except ValueError:
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _thumbprint(encoded: Any) -> bytes | None:
    """RFC 7515 says base64url without padding; msal pads it (Entra takes that), some clients use plain base64."""
    if not isinstance(encoded, str):
        return None
    unpadded = encoded.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except ValueError:
        return None


def _error(status: int, error: str, description: str) -> JsonReply:
    codes = [int(code) for code in _AADSTS.findall(description)]
    return status, {"error": error, "error_description": description, "error_codes": codes,
                    "trace_id": secrets.token_hex(16), "correlation_id": secrets.token_hex(16)}


def _invalid_client(description: str) -> JsonReply:
    return _error(401, "invalid_client", description)


def _tenant_not_found(error: str, tenant: str) -> JsonReply:
    return _error(400, error, f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                              "correct tenant ID and are signing into the correct cloud.")
