"""Command line: run, once, check, stats. English for admins; exit codes for scripts.

Exit codes: 0 fine, 1 problems found (check) or a pass that hit an outage (once),
2 the configuration, rules or templates cannot be used.
"""

import json
import os
import resource
import secrets
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

import click
import structlog

from . import logging as hwc_logging
from .access import login_for
from .compose import Templates
from .config import Settings, load_settings
from .crypto import Keyring, KeyState
from .daemon import Daemon
from .errors import HwcError, MailboxUnavailable, TransportUnavailable
from .intake import NotOurs
from .keys import import_keys, key_statuses, keyring_problems
from .mailbox import ImapMailbox
from .pipeline import Context, Delivered, Edges, Manual, Outcome, Pipeline, Quarantined
from .rules import load_rules
from .store import Store
from .systemd import Notifier
from .transport import SmtpTransport

log = structlog.get_logger("hwc_mailer.cli")

DEFAULT_CONFIG = "/etc/hwc-mailer/config.yaml"


def state_secret(state_dir: Path) -> bytes:
    """The key for outgoing Message-IDs and replay hashes: made once, kept with the state, readable by us only."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / "secret.key"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def load_context(settings: Settings) -> Context:
    return Context(settings=settings, rules=load_rules(settings.rules), templates=Templates(settings.templates),
                   secret=state_secret(settings.state_dir), now=lambda: datetime.now(timezone.utc))


def open_edges(settings: Settings) -> Edges:
    passphrase = settings.gpg.passphrase.read() if settings.gpg.passphrase else None
    return Edges(
        mailbox=ImapMailbox(settings.imap, login_for(settings.imap)),
        inbound=Keyring(settings.gpg.inbound_home, binary=settings.gpg.binary, passphrase=passphrase),
        outbound=Keyring(settings.gpg.outbound_home, binary=settings.gpg.binary, passphrase=passphrase),
        transport=SmtpTransport(settings.smtp, login_for(settings.smtp), settings.sender.address),
        store=Store(settings.database),
    )


@dataclass
class Invocation:
    config: Path


def _settings(invocation: Invocation) -> Settings:
    return load_settings(invocation.config)


@contextmanager
def opened(invocation: Invocation) -> Iterator[tuple[Settings, Context, Edges]]:
    """Settings, rules, templates and the edges, or exit 2 with what is wrong; the store is closed after."""
    try:
        settings = _settings(invocation)
        context = load_context(settings)
        edges = open_edges(settings)
    except HwcError as error:
        _fail(error)
    try:
        yield settings, context, edges
    finally:
        edges.store.close()


@click.group()
@click.option("--config", "-c", "config", type=click.Path(path_type=Path), envvar="HWC_MAILER_CONFIG",
              default=DEFAULT_CONFIG, show_default=True, help="service file (env HWC_MAILER_CONFIG)")
@click.pass_context
def main(ctx: click.Context, config: Path) -> None:
    """Forward Handle with Care signals to schools, encrypted, and keep nothing."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    hwc_logging.configure()
    ctx.obj = Invocation(config)


def _fail(error: HwcError) -> NoReturn:
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


@main.command()
@click.pass_obj
def once(invocation: Invocation) -> None:
    """Process what is waiting in the inbox, then exit."""
    with opened(invocation) as (_, context, edges):
        try:
            with edges.mailbox:
                outcomes = Pipeline(edges, context).process_waiting()
        except (MailboxUnavailable, TransportUnavailable) as error:
            log.error("outage", error=str(error))
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
    click.echo(_summary(outcomes))


def _summary(outcomes: Sequence[Outcome]) -> str:
    delivered = [outcome for outcome in outcomes if isinstance(outcome, Delivered)]
    held = [outcome for outcome in outcomes if isinstance(outcome, (Manual, Quarantined))]
    others = sum(isinstance(outcome, NotOurs) for outcome in outcomes)
    lines = [f"processed {len(outcomes)} message(s): {len(delivered)} delivered, {len(held)} held for a person, "
             f"{others} not ours (left alone)"]
    lines += [f"  delivered to {', '.join(outcome.schools)}" for outcome in delivered]
    lines += [f"  held: {outcome.code}" for outcome in held]
    return "\n".join(lines)


@main.command()
@click.pass_obj
def run(invocation: Invocation) -> None:
    """The daemon: wait with IDLE (polling as a safety net) and process mail as it arrives."""
    with opened(invocation) as (_, context, edges):
        daemon = Daemon(edges, context, reload=lambda: load_context(_settings(invocation)), notifier=Notifier())
        daemon.install_signal_handlers()
        daemon.run()


@main.command()
@click.option("--offline", is_flag=True, help="skip the connections to the IMAP and SMTP servers")
@click.pass_obj
def check(invocation: Invocation, offline: bool) -> None:
    """Validate config, rules, templates and keys, and try the servers."""
    with opened(invocation) as (settings, context, edges):
        problems = key_problems(settings, context, edges)
        if not offline:
            problems += connection_problems(edges)
    for problem in problems:
        click.echo(f"problem: {problem}")
    click.echo(f"{len(problems)} problem(s)" if problems else "ok: config, rules, templates and keys are usable")
    sys.exit(1 if problems else 0)


def key_problems(settings: Settings, context: Context, edges: Edges) -> list[str]:
    """Unusable keys and mixed-up keyrings; a key that merely expires soon is a warning, printed here."""
    now = context.now()
    problems = []
    for status in key_statuses(settings, context.rules, edges.inbound, edges.outbound, now):
        line = f"{status.ref.role.value} {status.ref.owner}: key {status.ref.fingerprint} is {status.describe(now)}"
        if status.info.state is not KeyState.ok:
            problems.append(line)
        elif status.expiring:
            click.echo(f"warning: {line}")
    return problems + keyring_problems(settings, context.rules, edges.inbound, edges.outbound)


def connection_problems(edges: Edges) -> list[str]:
    problems = []
    try:
        with edges.mailbox:
            pass
    except MailboxUnavailable as error:
        problems.append(str(error))
    try:
        edges.transport.probe()
    except TransportUnavailable as error:
        problems.append(str(error))
    return problems


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_obj
def stats(invocation: Invocation, as_json: bool) -> None:
    """The anonymous counters: signals, children and schools per month, municipality and outcome."""
    try:
        settings = _settings(invocation)
    except HwcError as error:
        _fail(error)
    store = Store(settings.database)
    rows = [counter.model_dump() for counter in store.counters()]
    store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("month", "municipality", "outcome", "signals", "children", "schools")
    table = [header] + [tuple(str(row[key] or "-") if key == "municipality" else str(row[key]) for key in header)
                        for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    delivered = [row for row in rows if row["outcome"] == "delivered"]
    totals = {key: sum(row[key] for row in delivered) for key in ("signals", "children", "schools")}
    held = sum(row["signals"] for row in rows if row["outcome"] != "delivered")
    click.echo(f"delivered: {totals['signals']} signal(s), {totals['children']} child(ren), "
               f"{totals['schools']} school(s); held for a person: {held}")


@main.group(invoke_without_command=True)
@click.pass_context
def keys(ctx: click.Context) -> None:
    """Every key the config and rules reference, with its state; exit 1 on any problem."""
    if ctx.invoked_subcommand is not None:
        return
    with opened(ctx.obj) as (settings, context, edges):
        now = context.now()
        statuses = key_statuses(settings, context.rules, edges.inbound, edges.outbound, now)
        extra = keyring_problems(settings, context.rules, edges.inbound, edges.outbound)
    for status in statuses:
        ref = status.ref
        click.echo(f"{status.describe(now):<22} {ref.role.value:<8} {ref.fingerprint}  {ref.owner}")
    for problem in extra:
        click.echo(f"problem: {problem}")
    sys.exit(1 if extra or any(status.problem for status in statuses) else 0)


@keys.command("import")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def keys_import(invocation: Invocation, key_file: Path) -> None:
    """Import the keys in KEY_FILE that the rules list (and certify them); refuse all others."""
    with opened(invocation) as (settings, context, edges):
        try:
            outcome = import_keys(key_file.read_bytes(), settings, context.rules, edges.inbound, edges.outbound)
        except HwcError as error:
            _fail(error)
    for ref in outcome.imported:
        click.echo(f"imported and certified {ref.fingerprint} ({ref.role.value} {ref.owner})")
    for ref in outcome.uncertified:
        click.echo(f"imported but NOT certified {ref.fingerprint} ({ref.role.value} {ref.owner}): gpg refused to "
                   "certify it (expired or revoked?); it will not be used. See `hwc-mailer keys`.", err=True)
    for fingerprint in outcome.refused:
        click.echo(f"refused {fingerprint}: the rules do not list this key; add it to the rules first", err=True)
    if not (outcome.imported or outcome.uncertified or outcome.refused):
        click.echo("no keys found in the file", err=True)
    sys.exit(1 if outcome.refused or outcome.uncertified or not outcome.imported else 0)
