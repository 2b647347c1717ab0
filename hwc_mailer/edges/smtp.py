"""The only module that talks SMTP.

Always TLS with a verified certificate: aiosmtplib's default STARTTLS is
opportunistic (it stays in plaintext when the server offers none), so the mode
is set explicitly and a server without STARTTLS is an error. Answers map onto
our errors: 4xx and network trouble are transient (TransportUnavailable, retry
later), 5xx is permanent (TransportRejected).
"""

import asyncio
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from ..errors import TransportRejected, TransportUnavailable
from ..settings.config import Smtp, TlsMode
from .login import Login, tls_context


class SmtpTransport:
    def __init__(self, server: Smtp, login: Login, envelope_sender: str) -> None:
        self._server = server
        self._login = login
        self._sender = envelope_sender
        self._tls = tls_context(server.ca_file)

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> int:
        """Send one message; return how many recipients the server accepted (at least one)."""
        return asyncio.run(self._session(message, recipients))

    def probe(self) -> None:
        """Connect, secure and log in, send nothing: for `hwc-mailer check`."""
        asyncio.run(self._session(None, ()))

    async def _session(self, message: EmailMessage | None, recipients: Sequence[str]) -> int:
        server = self._server
        implicit = server.tls is TlsMode.implicit
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, use_tls=implicit, start_tls=not implicit,
                                 tls_context=self._tls, timeout=server.timeout_seconds)
        where = f"SMTP server {server.host}:{server.port}"
        try:
            async with client:
                await self._login.smtp(client)
                if message is None:
                    return 0
                refused, _ = await client.send_message(message, sender=self._sender, recipients=list(recipients))
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            raise _by_codes(codes, f"{where} refused every recipient ({_codes(codes)})") from None
        except aiosmtplib.SMTPResponseException as error:
            raise _by_codes([error.code], f"{where} answered {error.code}") from None
        except aiosmtplib.SMTPException as error:
            raise TransportUnavailable(f"{where}: {type(error).__name__}: {error}; "
                                       "check host, port, tls mode and that the server offers TLS") from None
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise TransportUnavailable(f"{where}: TLS failed ({error.__class__.__name__}); "
                                       "check the certificate, ca_file and host name") from None
        except OSError as error:
            raise TransportUnavailable(f"{where} unreachable: {error.strerror or type(error).__name__}") from None
        return len(recipients) - len(refused)


def _codes(codes: Sequence[int]) -> str:
    return ", ".join(str(code) for code in codes)


def _by_codes(codes: Sequence[int], text: str) -> TransportUnavailable | TransportRejected:
    if codes and all(500 <= code < 600 for code in codes):
        return TransportRejected(f"{text}; the mail will not be retried, a person must look")
    return TransportUnavailable(f"{text}; will retry")
