"""The only module that talks SMTP.

Always TLS with a verified certificate: aiosmtplib's default STARTTLS is
opportunistic (it stays in plaintext when the server offers none), so the mode
is set explicitly and a server without STARTTLS is an error. Answers map onto
our errors in two stages. Until the server has taken the login, nothing is about
the mail: network trouble and any answer are an outage (TransportUnavailable),
and a refused login, token or sender a refusal of the configuration
(TransportLoginRefused, after which no login is tried for login.retry_minutes).
Then, for the mail itself, 4xx is transient (retry later) and 5xx to the
recipients or the content permanent (TransportRejected).
"""

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib

from ..domain.logins import LoginProblem, account_problem
from ..errors import TransportLoginRefused, TransportRejected, TransportUnavailable
from ..settings.config import Server, TlsMode
from .login import LoggingIn, Login, LoginGate, NoLoginMethod, TokenFailure, login_failure, tls_context
from .reach import (
    TLS_WORDS,
    SpeaksTlsAtOnce,
    certificate_refused,
    diagnose,
    patience,
    presented_certificate,
    secured,
    speaks_tls_at_once,
)


class SmtpTransport(LoggingIn):
    protocol = "SMTP"

    def __init__(self, server: Server, login: Login, envelope_sender: str, retry_seconds: float = 300.0,
                 setting: str = "smtp", *, probing: bool = False) -> None:
        """`setting` is where the service file configures this server (smtp, gateways.NAME), for the diagnoses."""
        self._server = server
        self.probing = probing
        self._login = login
        self._sender = envelope_sender
        self._setting = setting
        self._tls = tls_context(server.ca_file)
        self._gate = LoginGate(retry_seconds)

    def send(self, message: EmailMessage, recipients: Sequence[str], reports: bool = False) -> int:
        """Send one message; return how many recipients the server accepted (at least one). With `reports`, ask a
        server that offers DSN to report a failure with the headers only: the report comes to the mailbox, where
        the pipeline reads it."""
        return asyncio.run(self._session(message, recipients, reports))

    def probe(self) -> None:
        """Connect, secure and log in, send nothing: for `hwc-mailer check`."""
        asyncio.run(self._session(None, ()))

    async def _session(self, message: EmailMessage | None, recipients: Sequence[str], reports: bool = False) -> int:
        self._gate.check()
        server = self._server
        implicit = server.tls is TlsMode.implicit
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, use_tls=implicit, start_tls=not implicit,
                                 tls_context=self._tls, timeout=server.timeout_seconds)
        where = self.where
        logged_in = False
        self.secured = None
        try:
            await self._connect(client)
            async with client:
                await self._logged_in(client)
                logged_in = True
                if message is None:
                    return 0
                dsn = reports and client.supports_extension("dsn")
                refused, _ = await client.send_message(
                    message, sender=self._sender, recipients=list(recipients),
                    mail_options=["RET=HDRS"] if dsn else None, rcpt_options=["NOTIFY=FAILURE"] if dsn else None)
        except aiosmtplib.SMTPSenderRefused as error:     # never about the mail: any 5xx is about the account
            raise self._account_refused([error], LoginProblem.SEND_AS_DENIED) or TransportUnavailable(
                f"{where} answered {error.code} to the sender; will retry") from None
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            raise self._account_refused(error.recipients) or _by_codes(
                codes, f"{where} refused every recipient ({_answers(error.recipients)})") from None
        except aiosmtplib.SMTPResponseException as error:
            if not logged_in:       # the greeting, EHLO or STARTTLS: about the server, never about the mail
                raise TransportUnavailable(f"{where} answered {error.code} ({_short(error.message)}) before the "
                                           "login; will retry") from None
            raise self._account_refused([error]) or _by_codes(
                [error.code], f"{where} answered {_answers([error])}") from None
        except (aiosmtplib.SMTPException, OSError) as error:       # OSError: ssl's errors too
            certificate = (await asyncio.to_thread(presented_certificate, server, self.protocol)
                           if self.probing and certificate_refused(error) else None)
            doing = "sending" if logged_in else f"connecting with {TLS_WORDS[server.tls]}"
            raise TransportUnavailable(
                f"{where}, {doing}: {diagnose(error, server, self._setting, datetime.now(UTC), certificate)}") from None
        return len(recipients) - len(refused)

    async def _connect(self, client: aiosmtplib.SMTP) -> None:
        """Connect, greeting and TLS. A STARTTLS server still busy with that after GREETING_PATIENCE is asked on a
        second connection whether it speaks TLS at once (then it never greets in plain text): said now, not when
        smtp.timeout_seconds is up."""
        server = self._server
        connecting = asyncio.ensure_future(client.connect())
        if server.tls is TlsMode.starttls and self.probing:
            done, _ = await asyncio.wait({connecting}, timeout=patience(server))
            if not done and await asyncio.to_thread(speaks_tls_at_once, server.host, server.port, patience(server)):
                connecting.cancel()
                with suppress(asyncio.CancelledError, aiosmtplib.SMTPException, OSError):
                    await connecting
                raise SpeaksTlsAtOnce(f"port {server.port} speaks TLS at once")
        await connecting
        self.secured = secured(client.get_transport_info("ssl_object"), server.tls)

    def _account_refused(self, answers: Sequence[aiosmtplib.SMTPResponseException],
                         fallback: LoginProblem | None = None) -> TransportLoginRefused | None:
        """A 5xx after the login that is about the account we send as, not the mail (Exchange's SendAsDenied after
        DATA, a relay that no longer relays for us), or `fallback` for a 5xx that can only be about the account:
        a refusal of the configuration, through the gate."""
        for answer in answers:
            problem = (account_problem(f"{answer.code} {answer.message}") or fallback) if answer.code >= 500 else None
            if problem is not None:
                return self._gate.after(TransportLoginRefused(
                    f"{self.where} refuses what the daemon sends as {self._sender} ({_answers([answer])}); "
                    f"{problem.fix}", problem))
        return None

    async def _logged_in(self, client: aiosmtplib.SMTP) -> None:
        """The login on a secured session: refused is the gate's refusal, any other answer an outage."""
        try:
            await self._login.smtp(client)
        except (aiosmtplib.SMTPAuthenticationError, TokenFailure, NoLoginMethod) as error:
            raise self._gate.after(login_failure(error, self._login, self.where, TransportLoginRefused,
                                                 TransportUnavailable)) from None
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600 and error.code != 502:
                failure = login_failure(error, self._login, self.where, TransportLoginRefused, TransportUnavailable)
                raise self._gate.after(failure) from None
            raise TransportUnavailable(f"{self.where} answered {error.code} to the login; will retry") from None
        self._gate.accepted()


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


def _answers(answers: Sequence[aiosmtplib.SMTPResponseException]) -> str:
    return ", ".join(f"{answer.code} {_short(answer.message)}" for answer in answers)[:300]


def _by_codes(codes: Sequence[int], text: str) -> TransportUnavailable | TransportRejected:
    if codes and all(500 <= code < 600 for code in codes):
        return TransportRejected(f"{text}; the mail will not be retried, a person must look")
    return TransportUnavailable(f"{text}; will retry")
