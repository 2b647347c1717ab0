"""Fixtures for the mail lab: real Dovecot, SMTP relay, OAuth2 provider and TLS on loopback, once a session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.dovecot import Dovecot
from lab.gpg import kill_agents
from lab.oauth import OAuthServer
from lab.smtp import RelaySmtp
from lab.tls import LabTls, make_tls


@pytest.fixture(scope="session")
def lab_dir() -> Iterator[Path]:
    """A short path (gpg-agent sockets), traversable by Dovecot's unprivileged users."""
    directory = Path(tempfile.mkdtemp(prefix="hwc-"))
    directory.chmod(0o755)
    yield directory
    for keyring in directory.rglob("pubring.kbx"):
        kill_agents(keyring.parent)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def lab_tls(lab_dir: Path) -> LabTls:
    return make_tls(lab_dir / "tls")


@pytest.fixture(scope="session")
def oauth_server(lab_tls: LabTls) -> Iterator[OAuthServer]:
    """The OAuth2 provider the session Dovecot and relay ask about every XOAUTH2 login."""
    with OAuthServer(lab_tls) as server:
        yield server


@pytest.fixture
def oauth(oauth_server: OAuthServer) -> Iterator[OAuthServer]:
    """The session provider with no clients, tokens or refusals, before and after the test."""
    oauth_server.reset()
    yield oauth_server
    oauth_server.reset()


@pytest.fixture(scope="session")
def dovecot(lab_dir: Path, lab_tls: LabTls, oauth_server: OAuthServer) -> Iterator[Dovecot]:
    """Takes password (PLAIN, LOGIN) and OAuth2 (XOAUTH2, OAUTHBEARER) logins."""
    with Dovecot(lab_dir / "dovecot", lab_tls, oauth=oauth_server) as server:
        yield server


@pytest.fixture
def mail(dovecot: Dovecot) -> Dovecot:
    """The session Dovecot with every mailbox emptied, so each test starts from nothing."""
    dovecot.clear()
    return dovecot


@pytest.fixture(scope="session")
def smtp_relay(dovecot: Dovecot, lab_tls: LabTls, oauth_server: OAuthServer) -> Iterator[RelaySmtp]:
    """STARTTLS + AUTH relay; tests add logins with `smtp_relay.users[address] = password`, or register an
    OAuth2 client for the address with the `oauth` fixture (AUTH XOAUTH2)."""
    users: dict[str, str] = {}
    with RelaySmtp(dovecot, lab_tls, users, oauth=oauth_server) as relay:
        yield relay
