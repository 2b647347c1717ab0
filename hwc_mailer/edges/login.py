"""How the daemon reaches its servers: verified TLS, and a login strategy.

Login is a small strategy object passed to the mailbox and the transport, so an
OAuth2 bearer-token login (Microsoft 365 has no password login for IMAP) is one
new class beside `PasswordLogin`, not a rewrite.
"""

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib
from imapclient import IMAPClient

from ..errors import ConfigError
from ..settings.config import Server


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates and host names always verified; `ca_file` replaces the system store when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Login(Protocol):
    def imap(self, client: IMAPClient) -> None: ...

    async def smtp(self, client: aiosmtplib.SMTP) -> None: ...


@dataclass(frozen=True)
class PasswordLogin:
    username: str
    password: str

    def imap(self, client: IMAPClient) -> None:
        client.login(self.username, self.password)

    async def smtp(self, client: aiosmtplib.SMTP) -> None:
        await client.login(self.username, self.password)

    def __repr__(self) -> str:
        return f"PasswordLogin(username={self.username!r})"


@dataclass(frozen=True)
class NoLogin:
    """For a relay that accepts the daemon by address (a local MTA), never for IMAP."""

    def imap(self, client: IMAPClient) -> None:
        raise ConfigError("imap: username and password are required")

    async def smtp(self, client: aiosmtplib.SMTP) -> None:
        return None


def login_for(server: Server) -> Login:
    if server.username is None or server.password is None:
        return NoLogin()
    return PasswordLogin(server.username, server.password.read())
