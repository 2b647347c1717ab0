"""A submission server on loopback that behaves like the provider's: TLS, AUTH, Sent copy.

It relays every accepted message into the lab Dovecot over LMTP, so a test can send with
the real SMTP client and then read what each recipient (and the sender's Sent) received.
Given the lab OAuth2 provider it also takes AUTH XOAUTH2, checking each token with the
provider as the lab Dovecot does, as Microsoft 365 takes OAuth2 logins for SMTP.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import smtplib
import ssl
import urllib.request
import warnings
from collections.abc import Awaitable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from lab.dovecot import HOST, Dovecot
from lab.service import Service
from lab.tls import LabTls

if TYPE_CHECKING:
    from lab.oauth import OAuthServer

_READY_TIMEOUT = 5.0
_INTROSPECTION_TIMEOUT = 10.0
# What Exchange Online answers to a token it does not take, whatever the reason; and RFC 4954's answer when
# the token could not be checked (Dovecot's temporary failure, for the same cause).
XOAUTH2_REFUSED = "535 5.7.3 Authentication unsuccessful"
XOAUTH2_UNCHECKED = "454 4.7.0 Temporary authentication failure"


@dataclass(frozen=True)
class BearerLogin:
    """A session's auth_data after XOAUTH2: the mailbox the token was good for, never the token itself."""

    login: bytes


@dataclass(frozen=True)
class Received:
    """What the relay accepted, for assertions on the envelope rather than the headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


# aiosmtpd warns on every login that its own Session.login_data is deprecated: noise in every demo and test.
logging.getLogger("mail.log").addFilter(lambda record: "login_data is deprecated" not in record.getMessage())


class RelayHandler:
    """aiosmtpd handler: relays to Dovecot; `rcpt_reply`/`data_reply` inject failures.

    Set either to an SMTP reply such as "451 4.3.0 try later" and that command answers
    with it instead of proceeding; set it back to None to heal. `recipient_replies`
    does the same for RCPT of single addresses.
    """

    def __init__(self, dovecot: Dovecot, save_sent_copy: bool, oauth: OAuthServer | None = None) -> None:
        self.dovecot = dovecot
        self.save_sent_copy = save_sent_copy
        self.oauth = oauth
        self.rcpt_reply: str | None = None
        self.recipient_replies: dict[str, str] = {}
        self.data_reply: str | None = None
        self.received: list[Received] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.recipient_replies.get(address, self.rcpt_reply)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content or b""
        try:
            await asyncio.to_thread(self._relay, envelope.rcpt_tos, _login(session), content)
        except smtplib.SMTPException as error:
            return f"451 4.3.0 lab relay to LMTP failed: {error}"
        self.received.append(
            Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), content)
        )
        return "250 OK"

    def _relay(self, recipients: list[str], sender_login: str, content: bytes) -> None:
        """One LMTP transaction per recipient; then the sender's copy, as Microsoft 365 does."""
        for recipient in recipients:
            self.dovecot.deliver(recipient, content)
        if self.save_sent_copy:
            self.dovecot.deliver(sender_login, content, folder="Sent")

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """AUTH XOAUTH2 (offered only with an OAuth2 provider): the token must be active for the user it names."""
        if len(args) == 1:
            response = await server.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
            assert isinstance(response, bytes)
        else:
            try:
                response = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Can't decode base64")
        user, token = _xoauth2_fields(response)
        if user is None or token is None:
            return AuthResult(success=False, handled=False, message=XOAUTH2_REFUSED)
        if refusal := await asyncio.to_thread(self._refusal, user, token):
            return AuthResult(success=False, handled=False, message=refusal)
        return AuthResult(success=True, auth_data=BearerLogin(user.encode()))

    def _refusal(self, user: str, token: str) -> str | None:
        """Introspection at the provider, as Dovecot's oauth2 passdb does it (POST token=..., the lab CA trusted):
        None when the token is active for `user`."""
        assert self.oauth is not None
        request = urllib.request.Request(
            self.oauth.introspection_url("smtp"), data=urlencode({"token": token}).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(
                request, context=self.oauth.ssl_context(), timeout=_INTROSPECTION_TIMEOUT
            ) as answer:
                verdict = json.load(answer)
        except (OSError, ValueError):
            return XOAUTH2_UNCHECKED
        if isinstance(verdict, dict) and verdict.get("active") is True and verdict.get("username") == user:
            return None
        return XOAUTH2_REFUSED


class RelaySmtp(Service):
    """The relay server in a background thread; `users` maps address to password, live."""

    def __init__(
        self,
        dovecot: Dovecot,
        tls: LabTls | None,
        users: MutableMapping[str, str],
        *,
        implicit_tls: bool = False,
        save_sent_copy: bool = True,
        oauth: OAuthServer | None = None,
    ) -> None:
        self.host = HOST
        self.port = 0
        self.users = users
        self.implicit_tls = implicit_tls
        self.oauth = oauth
        self.handler = RelayHandler(dovecot, save_sent_copy, oauth)
        self._tls = tls
        self._controller: _LoopbackController | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        """Listen on a free port; returns once a real connection got the banner.

        Without `tls` the relay offers no TLS at all: a server a careful client must refuse.
        """
        options: dict[str, Any]
        if self._tls is None:
            options = self._smtp_options(tls_on_connect=True)
        else:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._tls.cert_file, self._tls.key_file)
            if self.implicit_tls:
                options = {"ssl_context": context, **self._smtp_options(tls_on_connect=True)}
            else:
                options = {"tls_context": context, "require_starttls": True,
                           **self._smtp_options(tls_on_connect=False)}
        controller = _LoopbackController(self.handler, **options)
        controller.start()
        self._controller = controller
        self.port = controller.port

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _smtp_options(self, *, tls_on_connect: bool) -> dict[str, Any]:
        """aiosmtpd only counts STARTTLS as TLS for AUTH; with TLS on connect, allow AUTH."""
        return {
            "server_hostname": "localhost",
            "auth_required": True,
            "auth_require_tls": not tls_on_connect,
            "authenticator": self._authenticate,
            "auth_exclude_mechanism": ["XOAUTH2"] if self.oauth is None else [],
        }

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        # handled=False: aiosmtpd then sends the 535 itself (True would leave the client hanging).
        return AuthResult(
            success=self.users.get(login) == password, handled=False, auth_data=auth_data
        )


class _LoopbackController(Controller):
    """Binds 127.0.0.1 port 0 and learns the port, so parallel labs never collide."""

    def __init__(self, handler: RelayHandler, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=0, ready_timeout=_READY_TIMEOUT, **kwargs)

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # Expected for TLS on connect, where auth_require_tls must be off (see above).
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server


def _login(session: Session) -> str:
    auth_data = session.auth_data
    assert isinstance(auth_data, LoginPassword | BearerLogin), "auth_required guarantees a login"
    return auth_data.login.decode()


def _xoauth2_fields(response: bytes) -> tuple[str | None, str | None]:
    """user and bearer token from "user=U^Aauth=Bearer T^A^A" (None for what is missing or malformed)."""
    fields: dict[str, str] = {}
    for part in response.decode("utf-8", "replace").split("\x01"):
        name, _, value = part.partition("=")
        fields[name] = value
    scheme, _, token = fields.get("auth", "").partition(" ")
    return fields.get("user"), token if scheme.lower() == "bearer" and token else None
