"""Wiring: the real edges and the loaded configuration, put together once for the CLI and the daemon."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..edges.gpg import GpgKeyring
from ..edges.imap import ImapMailbox
from ..edges.login import login_for
from ..edges.protocols import Clock
from ..edges.register import RegisterIndex
from ..edges.smtp import SmtpTransport
from ..edges.store import SqlStore
from ..outbound.notice import Templates
from ..settings.config import Settings
from ..settings.rules import load_rules
from .alerts import Alerter
from .maintenance import Maintenance
from .pipeline import Context, Edges, Pipeline
from .register import register_key


def state_secret(state_dir: Path) -> bytes:
    """The key for outgoing Message-IDs and keyed hashes: made once, kept with the state, readable by us only."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / "secret.key"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def register_of(settings: Settings) -> RegisterIndex | None:
    """The embedded register index when the service file configures one."""
    path = settings.register_index
    return RegisterIndex(path, register_key(settings)) if path is not None else None


def load_context(settings: Settings, now: Clock) -> Context:
    return Context(settings=settings, rules=load_rules(settings.rules), templates=Templates(settings.templates),
                   secret=state_secret(settings.state_dir), now=now, register=register_of(settings))


def keyrings(settings: Settings) -> tuple[GpgKeyring, GpgKeyring]:
    """The inbound and the outbound gpg home."""
    passphrase = settings.gpg.passphrase.read() if settings.gpg.passphrase else None
    return (GpgKeyring(settings.gpg.inbound_home, binary=settings.gpg.binary, passphrase=passphrase),
            GpgKeyring(settings.gpg.outbound_home, binary=settings.gpg.binary, passphrase=passphrase))


def mailbox(settings: Settings) -> ImapMailbox:
    return ImapMailbox(settings.imap, login_for(settings.imap))


def transport(settings: Settings) -> SmtpTransport:
    return SmtpTransport(settings.smtp, login_for(settings.smtp), settings.sender.address)


def open_edges(settings: Settings) -> Edges:
    inbound, outbound = keyrings(settings)
    return Edges(mailbox=mailbox(settings), inbound=inbound, outbound=outbound, transport=transport(settings),
                 store=SqlStore(settings.database))


@dataclass(frozen=True)
class Services:
    """What runs on a pass: the pipeline and the chores around it, sharing one alerter (and its hourly cap)."""

    pipeline: Pipeline
    maintenance: Maintenance


def assemble(edges: Edges, context: Context) -> Services:
    alerter = Alerter(context.settings, context.rules, context.templates, edges.outbound, edges.transport,
                      edges.store, context.now)
    return Services(Pipeline(edges, context, alerter), Maintenance(edges, context, alerter))
