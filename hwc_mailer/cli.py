"""Command line: run, once, check, show-config, stats, keys, keys import, rules check, route, register, register
import, schema.
English for admins; exit codes for scripts.

Exit codes: 0 fine, 1 problems found (keys, rules check, register), a pass that hit an outage
(once), a signal that would be held (route) or an import refused (register import), 2 the
configuration, rules, templates or export cannot be used, 3 an import with rows skipped. `check`
has the monitoring plugins' codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""

import csv
import json
import os
import pwd
import resource
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO
from urllib.parse import urlsplit

import click
import structlog
from ruamel.yaml import YAML
from sqlalchemy.engine import make_url

from . import logging as hwc_logging
from .domain.outcomes import Bounced, Delivered, Held, NotOurs, Outcome
from .domain.reasons import Disposition
from .domain.routing import Delivery
from .domain.routing import route as route_signal
from .domain.signal import AgeRange, Signal, age_on, parse_signal
from .edges.files import instance_lock
from .edges.register import read_info
from .edges.systemd import Notifier
from .errors import AlreadyRunning, ConfigError, FolderMissing, HwcError, LoginRefused, Outage, RulesError
from .service.checks import Findings, Measure, Severity, check_offline
from .service.daemon import Daemon
from .service.folders import resolve_folders
from .service.keys import import_keys, key_statuses, keyring_problems
from .service.pipeline import REGISTER_GAP, Context, Edges
from .service.register import describe, import_register, register_key
from .service.setup import (
    assemble,
    ca_problems,
    file_problems,
    gateways,
    load_context,
    open_edges,
    open_store,
    profile_problems,
    register_of,
    servers,
    trust_files,
)
from .settings.config import Settings, load_settings
from .settings.rules import School, load_rules

log = structlog.get_logger("hwc_mailer.cli")

DEFAULT_CONFIG = "/etc/hwc-mailer/config.yaml"
# `register import`: the index was replaced, but some rows of the export could not be read (exit 1 is a refusal).
SKIPPED_ROWS = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        context = load_context(settings, utc_now)
        edges = open_edges(settings)
    except HwcError as error:
        _fail(error)
    try:
        yield settings, context, edges
    finally:
        edges.store.close()


@click.group()
@click.version_option(package_name="hwc-mailer", message="hwc-mailer %(version)s")
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
    with alone(invocation), opened(invocation) as (_, context, edges):
        services = assemble(edges, context)
        try:
            services.maintenance.on_time()
            services.maintenance.tidy()
            outcomes = services.pipeline.process_waiting()
            services.logins.settle()
            services.metrics.passed()
        except LoginRefused as error:
            told = services.logins.refused(error)
            services.metrics.failed(error)
            click.echo(f"error: {error}\n{told.status(error)}", err=True)
            sys.exit(1)
        except Outage as error:
            log.error("outage", error=str(error))
            services.metrics.failed(error)
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except HwcError as error:
            services.metrics.failed(error)
            _fail(error)
        finally:
            edges.mailbox.close()
    click.echo(_summary(outcomes))


def _summary(outcomes: Sequence[Outcome]) -> str:
    delivered = [outcome for outcome in outcomes if isinstance(outcome, Delivered)]
    held = [outcome for outcome in outcomes if isinstance(outcome, Held)]
    others = sum(isinstance(outcome, NotOurs) for outcome in outcomes)
    bounced = [outcome for outcome in outcomes if isinstance(outcome, Bounced)]
    lines = [f"processed {len(outcomes)} message(s): {len(delivered)} delivered, {len(held)} held for a person, "
             f"{others} not ours (left alone)" + (f", {len(bounced)} report(s) of mail a school did not get"
                                                  if bounced else "")]
    lines += [f"  delivered to {', '.join(outcome.schools)}" for outcome in delivered]
    lines += [f"  held: {outcome.code}" for outcome in held]
    lines += [f"  bounced: {', '.join(outcome.schools) or 'unknown school'}" for outcome in bounced]
    return "\n".join(lines)


@main.command()
@click.pass_obj
def run(invocation: Invocation) -> None:
    """The daemon: wait with IDLE (polling as a safety net) and process mail as it arrives."""
    with alone(invocation), opened(invocation) as (_, context, edges):
        daemon = Daemon(edges, context, reload=lambda: load_context(_settings(invocation), utc_now),
                        notifier=Notifier())
        daemon.install_signal_handlers()
        try:
            daemon.run()
        except FolderMissing as error:      # the admin must fix it: systemd does not restart on exit 2
            log.error("stopped", error=str(error))
            _fail(error)


@contextmanager
def alone(invocation: Invocation) -> Iterator[None]:
    """The one instance on this state dir, taken before anything opens the store (which may migrate it), or exit 1
    (a second one is not a broken configuration: it may be a `once` that is about to end, and systemd restarts a
    daemon that exits 1); exit 2 when the settings or the lock file itself are unusable."""
    with ExitStack() as held:
        try:
            held.enter_context(instance_lock(_settings(invocation).state_dir))
        except AlreadyRunning as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except HwcError as error:
            _fail(error)
        yield


@main.command()
@click.option("--offline", is_flag=True, help="skip the connections to the IMAP and SMTP servers")
@click.option("--pre-start", is_flag=True, help="for the unit's ExecStartPre (implies --offline): exit 2 only when the "
                                                "daemon could not work at all (its files, configuration or own key), "
                                                "0 otherwise")
@click.option("--addresses", is_flag=True, help="print the unit's IPAddressAllow= drop-in for the configured servers "
                                                "and exit")
@click.pass_obj
def check(invocation: Invocation, offline: bool, pre_start: bool, addresses: bool) -> None:
    """Validate config, rules, templates and keys, and try the servers. A monitoring plugin too: the first line is
    the summary with performance data after the |, the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    if addresses:
        try:
            click.echo(address_drop_in(_settings(invocation)), nl=False)
        except HwcError as error:
            _fail(error)
        return
    try:
        found = _checked(invocation, online=not (offline or pre_start))
    except Exception as error:      # a monitoring plugin answers UNKNOWN; it does not crash with a traceback
        click.echo(_plugin_text(f"hwc-mailer UNKNOWN: the check itself failed: {type(error).__name__}: {error}"))
        # Before a start, a check that cannot finish is no reason to keep the daemon down: it checks for itself.
        sys.exit(Severity.OK if pre_start else Severity.UNKNOWN)
    click.echo(_summary_line(found))
    for line in found.lines:
        click.echo(_plugin_text(line))
    if pre_start:
        sys.exit(Severity.CRITICAL if found.stopping else Severity.OK)
    sys.exit(found.severity)


def _plugin_text(text: str) -> str:
    """One line without `|`: a monitoring system takes what follows a | as performance data, and only the first
    line as the summary. Server answers and file names are quoted in these lines, so either may hold both."""
    return " ".join(text.replace("|", "/").split())


def _checked(invocation: Invocation, *, online: bool) -> Findings:
    """Everything `check` looks at, in order; what cannot load stops the rest (nothing else could be trusted)."""
    found = Findings()
    try:
        settings = _settings(invocation)
        unsafe = file_problems(settings) + ca_problems(settings)
    except HwcError as error:
        for line in str(error).splitlines():
            found.problem(line, stops=True)
        return found
    if unsafe:
        for problem in unsafe:
            found.problem(problem, stops=True)
        found.note("nothing else was checked: the daemon's files must be usable and its own first")
        return found
    try:
        context = load_context(settings, utc_now)
        edges = open_edges(settings)
    except HwcError as error:
        for line in str(error).splitlines():
            found.problem(line, stops=True)
        return found
    try:
        check_offline(found, settings, context, edges)
    finally:
        edges.store.close()
    for name, gateway in settings.gateways.items():
        found.note(f"gateway {name}: {gateway.host}:{gateway.port} sees the notices of its contacts in clear, under "
                   f"processor agreement: {gateway.processor_agreement}")
    if online:
        server_problems(settings, found)
    return found


def _summary_line(found: Findings) -> str:
    """The plugin's first line: the state, what it is about in a few words, and the performance data."""
    severity = found.severity
    if severity is Severity.OK:
        text = "config, rules, templates and keys are usable"
    else:
        first = (found.problems or found.warnings)[0]
        text = (f"{len(found.problems)} problem(s), {len(found.warnings)} warning(s): "
                f"{first if len(first) <= 160 else first[:157] + '...'}")
    measures = [Measure("problems", len(found.problems)), Measure("warnings", len(found.warnings)), *found.measures]
    return f"{_plugin_text(f'hwc-mailer {severity.name}: {text}')} | {' '.join(map(str, measures))}"


def address_drop_in(settings: Settings) -> str:
    """A systemd drop-in that lets the daemon reach exactly its servers (the unit denies every other address): the
    addresses the host names resolve to now. Microsoft 365 and other OAuth2 providers serve from changing ranges:
    then list the provider's published ranges instead (docs/install.md)."""
    hosts = [settings.imap.host, settings.smtp.host, *(gateway.host for gateway in settings.gateways.values())]
    if settings.login.token_url is not None:
        hosts.append(urlsplit(settings.login.token_url).hostname or "")
    elif settings.login.uses_tokens:
        hosts.append(settings.login.authority_host.split(":")[0])
    found: dict[str, None] = {}
    for host in hosts:
        try:
            for *_, address in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP):
                found[str(address[0])] = None
        except (OSError, UnicodeError) as error:
            raise ConfigError(f"{host} does not resolve ({error}); fix the host name first") from None
    lines = ["# hwc-mailer check --addresses: the configured servers, as they resolve now", "[Service]",
             *(f"IPAddressAllow={address}" for address in found)]
    return "\n".join(lines) + "\n"


def server_problems(settings: Settings, found: Findings) -> None:
    """One line per server: `imap: ok (...)` or `imap: problem: ...` with what to fix. The IMAP line also says
    where Sent and Trash were found."""
    mailbox, transport = servers(settings, probing=True)
    problems: dict[str, str] = {}
    try:
        with mailbox:
            folders, warnings = resolve_folders(mailbox, settings.folders)
        found.note(f"imap: ok ({mailbox.describe_session()}; Sent: {_folder(folders.sent)}, "
                   f"Trash: {_folder(folders.trash)})")
        for warning in warnings:
            found.warning(warning)
    except HwcError as error:
        problems["imap"] = str(error)
    try:
        transport.probe()
        found.note(f"smtp: ok ({transport.describe_session()})")
    except HwcError as error:
        problems["smtp"] = str(error)
    for name, gateway in gateways(settings, probing=True).items():
        try:
            gateway.probe()
            found.note(f"gateway {name}: ok ({gateway.describe_session()})")
        except HwcError as error:
            problems[f"gateway {name}"] = str(error)
    for service, problem in problems.items():
        found.problem(f"{service}: {problem}", line=f"{service}: problem: {problem}")
    if isinstance(mailbox.refusal, LoginRefused) and isinstance(transport.refusal, LoginRefused):
        found.note("CRITICAL: both servers refuse the login: the daemon can neither send signals nor tell the "
                   "officers; fix the login first")


def _folder(name: str | None) -> str:
    return f'"{name}"' if name is not None else "none"


@main.command("show-config")
@click.pass_obj
def show_config(invocation: Invocation) -> None:
    """The effective service file, every default filled in (as `postconf -n` and `doveconf -n` show theirs).
    Secrets appear as where they are read from (a file, a variable, a credential), never as their value."""
    try:
        settings = _settings(invocation)
    except HwcError as error:
        _fail(error)
    shown = settings.model_dump(mode="json", by_alias=True)
    if settings.database_url is not None:       # a database URL may carry a password
        shown["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(shown, sys.stdout)


# Counts from 1 to this number less are shown as "<5": on their own they could point at a child.
SMALL = 5


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output, every count exact")
@click.option("--csv", "as_csv", is_flag=True, help="comma-separated, for a spreadsheet")
@click.option("--exact", is_flag=True, help=f"show counts under {SMALL} as they are, not as <{SMALL}")
@click.pass_obj
def stats(invocation: Invocation, as_json: bool, as_csv: bool, exact: bool) -> None:
    """The anonymous counters: signals, children and schools per month, municipality and outcome. Counts from 1 to
    4 are shown as <5 (they could single out a child in a small municipality) unless --exact."""
    try:
        settings = _settings(invocation)
        trust_files(settings, secrets=())
        store = open_store(settings)
    except HwcError as error:
        _fail(error)
    rows = [asdict(counter) for counter in store.counters()]
    store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return

    def shown(value: int) -> str:
        return f"<{SMALL}" if not exact and 0 < value < SMALL else str(value)

    def total(values: list[int]) -> str:
        """A sum of rows: exact only when every row in it is, or the rows shown would give away a small one."""
        whole = sum(values)
        if exact or not any(0 < value < SMALL for value in values):
            return str(whole)
        return shown(whole) if whole < SMALL else f">={SMALL}"

    header = ("month", "municipality", "outcome", "signals", "children", "schools")
    table = [header] + [tuple(str(row[key] or "-") if key == "municipality" else
                              shown(row[key]) if key in ("signals", "children", "schools") else str(row[key])
                              for key in header) for row in rows]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows(table)
        return
    widths = [max(len(line[index]) for line in table) for index in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    delivered = [row for row in rows if row["outcome"] == Disposition.DELIVERED.value]
    totals = {key: total([row[key] for row in delivered]) for key in ("signals", "children", "schools")}
    held_prefixes = tuple(f"{disposition.value}:" for disposition in (Disposition.MANUAL, Disposition.QUARANTINED))
    held = total([row["signals"] for row in rows if str(row["outcome"]).startswith(held_prefixes)])
    gap_rows = [row["children"] for row in rows if row["outcome"] == REGISTER_GAP]
    click.echo(f"delivered: {totals['signals']} signal(s), {totals['children']} child(ren), "
               f"{totals['schools']} school(s); held for a person: {held}"
               + (f"; {total(gap_rows)} child(ren) sent by the School: line but not in the register"
                  if sum(gap_rows) else ""))


@main.group(invoke_without_command=True)
@click.pass_context
def keys(ctx: click.Context) -> None:
    """Every key the config and rules reference, with its state; exit 1 on any problem."""
    if ctx.invoked_subcommand is not None:
        return
    with opened(ctx.obj) as (settings, context, edges):
        now = context.now()
        statuses = key_statuses(settings, context.rules, edges.inbound, edges.outbound, now, edges.certificates)
        extra = keyring_problems(settings, context.rules, edges.inbound, edges.outbound)
    for status in statuses:
        ref = status.ref
        click.echo(f"{status.describe(now):<22} {ref.role.value:<8} {ref.fingerprint}  {ref.owner}")
    for problem in extra:
        click.echo(f"problem: {problem}")
    sys.exit(1 if extra or any(status.problem for status in statuses) else 0)


@keys.command("import")
# `-` reads standard input as it was handed over: run through runuser or systemd-run, the service user cannot
# reopen root's pipe as /dev/stdin.
@click.argument("key_file", type=click.File("rb"))
@click.pass_obj
def keys_import(invocation: Invocation, key_file: BinaryIO) -> None:
    """Import the keys in KEY_FILE (- for standard input) that the rules list (and certify them); refuse all others."""
    with opened(invocation) as (settings, context, edges):
        try:
            outcome = import_keys(key_file.read(), settings, context.rules, edges.inbound, edges.outbound)
        except HwcError as error:
            _fail(error)
    for ref in outcome.imported:
        click.echo(f"imported and certified {ref.fingerprint} ({ref.role.value} {ref.owner})")
    for ref in outcome.uncertified:
        click.echo(f"imported but NOT certified {ref.fingerprint} ({ref.role.value} {ref.owner}): gpg refused to "
                   "certify it (expired or revoked?); it will not be used. See `hwc-mailer keys`.", err=True)
    for ref, state in outcome.unusable:
        click.echo(f"imported and certified {ref.fingerprint} ({ref.role.value} {ref.owner}), but NOT usable: "
                   f"{state.value}; it will not be used. See `hwc-mailer keys`.", err=True)
    for fingerprint in outcome.refused:
        click.echo(f"refused {fingerprint}: the rules do not list this key; add it to the rules first", err=True)
    if not (outcome.imported or outcome.uncertified or outcome.refused or outcome.unusable):
        click.echo("no keys found in the file", err=True)
    sys.exit(1 if outcome.refused or outcome.uncertified or outcome.unusable or not outcome.imported else 0)


@main.group("rules")
def rules_group() -> None:
    """The routing rules."""


@rules_group.command("check")
@click.argument("rules_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def rules_check(invocation: Invocation, rules_file: Path | None) -> None:
    """Every problem in RULES_FILE (the configured rules by default), each with file:line:column; with the
    configured rules also the contact profiles the service file cannot serve (smime, gateways)."""
    try:
        settings: Settings | None = None
        if rules_file is None:
            settings = _settings(invocation)
            rules_file = settings.rules
        path = rules_file
        rules = load_rules(path)
    except RulesError as error:
        for line in error.lines:
            click.echo(line)
        click.echo(f"{len(error.lines)} problem(s)")
        sys.exit(1)
    except HwcError as error:
        _fail(error)
    problems = [f"{path}: {problem}" for problem in profile_problems(settings, rules)] if settings else []
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"{len(problems)} problem(s)")
        sys.exit(1)
    click.echo(f"ok: {path}: {len(rules.trusted_senders)} trusted sender(s), {len(rules.officers)} officer(s), "
               f"{len(rules.schools)} school(s)")


@main.command()
@click.argument("signal_file", type=click.File("r", encoding="utf-8"))
@click.option("--register", "use_register", is_flag=True,
              help="also look the children up in the register index (each lookup is logged, without content)")
@click.pass_obj
def route(invocation: Invocation, signal_file: TextIO, use_register: bool) -> None:
    """Dry run on a plaintext signal (FILE, or - for standard input): what is parsed, where each child would go.

    Sends nothing and writes nothing; names and dates are not repeated in the output. The register is
    consulted only with --register, and each lookup is logged (to standard error, the journal under systemd);
    what really guards the register is that only the service user can read its key.
    """
    try:
        settings = _settings(invocation)
        rules = load_rules(settings.rules)
        if use_register and settings.lookup is not None:
            trust_files(settings, secrets=(settings.lookup.key,))
        register = register_of(settings, utc_now) if use_register else None
    except HwcError as error:
        _fail(error)
    if use_register and register is None:
        _fail(ConfigError("--register: the service file has no register: section"))
    text = signal_file.read()
    today = utc_now().date()
    signal = parse_signal(text, today=today, ages=AgeRange(settings.ages.minimum, settings.ages.maximum))
    if isinstance(signal, Held):
        _print_held(signal)
        sys.exit(1)
    for number, child in enumerate(signal.children, start=1):
        written = f"School: {child.school!r}" if child.school else "no School: line"
        click.echo(f"child {number}: name and date of birth read (age {age_on(child.birth_date, today)}), {written}")
    try:
        if register is not None:
            log.warning("register-lookup", command="route", user=_account(), count=len(signal.children))
        routed = route_signal(signal, rules, register)
    except HwcError as error:
        _fail(error)
    if register is not None:
        log.warning("register-lookup-done", command="route", user=_account(),
                    outcome=routed.code if isinstance(routed, Held) else "routed")
    if isinstance(routed, Held):
        _print_held(routed)
        sys.exit(1)
    _print_deliveries(signal, routed.deliveries)
    if routed.register_gaps:
        click.echo(f"{routed.register_gaps} child(ren) routed by the School: line only: not in the register")


def _account() -> str:
    """Who ran the command, by the process's real uid (not $USER, which anyone can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _print_held(held: Held) -> None:
    child = f" (child {held.child})" if held.child else ""
    detail = f" [{held.detail}]" if held.detail else ""
    click.echo(f"would be held: {held.code}{child}{detail}: {held.reason.explanation}")
    click.echo(f"  the officer would be told: {held.reason.action}")


def _print_deliveries(signal: Signal, deliveries: Sequence[Delivery[School]]) -> None:
    numbers = {id(child): number for number, child in enumerate(signal.children, start=1)}
    for delivery in deliveries:
        school = delivery.school
        children = ", ".join(str(numbers[id(child)]) for child in delivery.children)
        click.echo(f"would deliver to {school.code} {school.name} ({school.municipality}): child(ren) {children}")
        for contact in school.contacts:
            click.echo(f"  contact {contact.email} key {contact.fingerprint}")


@main.group("register", invoke_without_command=True)
@click.pass_context
def register_group(ctx: click.Context) -> None:
    """The register index: when it was imported, how many pupils, whether its key matches."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        settings = _settings(ctx.obj)
        path = settings.register_index
        if path is None or settings.lookup is None:
            raise ConfigError("the service file has no register: section; see docs/register.md")
        trust_files(settings, secrets=(settings.lookup.key,))
        info = read_info(path, register_key(settings))
    except HwcError as error:
        _fail(error)
    if info is None:
        click.echo(f"no index yet at {path}; import the export with `hwc-mailer register import`")
        sys.exit(1)
    now = utc_now()
    for line in describe(info, now):
        click.echo(line)
    assert settings.lookup is not None
    stale = (now - info.imported_at).total_seconds() / 86400 > settings.lookup.max_age_days
    if stale:
        click.echo(f"STALE: older than register.max_age_days ({settings.lookup.max_age_days:g}); signals that need "
                   f"the register are held once it is older than {settings.lookup.refuse_after_days:g} days")
    sys.exit(0 if info.key_matches and not stale else 1)


@register_group.command("import")
@click.argument("export", type=click.File("rb"))
@click.option("--force", is_flag=True, help="replace the index even when the export lost many pupils")
@click.pass_obj
def register_import(invocation: Invocation, export: BinaryIO, force: bool) -> None:
    """Build the index from the leerplicht administration's export (FILE, or - for standard input).

    The export is read once and kept nowhere; rows that cannot be read are named by line number only.
    Exit 0 imported, 1 refused (the index is unchanged), 2 the configuration or the export is unusable,
    3 imported but some rows were skipped.
    """
    try:
        settings = _settings(invocation)
        if settings.lookup is None:
            raise ConfigError("the service file has no register: section; see docs/register.md")
        trust_files(settings, secrets=(settings.lookup.key,))
        report = import_register(export.read(), settings, utc_now(), force=force)
    except HwcError as error:
        _fail(error)
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)
    if report.info is None:
        click.echo(f"refused: {report.refused}", err=True)
        log.error("register-import-refused", count=report.pupils)
        sys.exit(1)
    log.info("register-imported", count=report.info.pupils, entries=report.info.entries, skipped=len(report.skipped))
    click.echo(f"imported {report.info.pupils} pupil(s) into {settings.register_index} "
               f"({report.info.entries} entries; {len(report.skipped)} row(s) skipped)")
    sys.exit(SKIPPED_ROWS if report.skipped else 0)


@main.command("schema")
@click.argument("kind", type=click.Choice(["config", "rules"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of the service file (config) or of the routing rules (rules), for an editor that
    checks the YAML as it is typed.

    Save it beside the file and name it in the file's first line:
    `hwc-mailer schema config > /etc/hwc-mailer/config.schema.json`, then
    `# yaml-language-server: $schema=config.schema.json` at the top of config.yaml.
    """
    from .settings.schema import schema_file  # here, so the command is one block at the end of this module
    try:
        text = schema_file(kind).read_text(encoding="utf-8")
    except OSError as error:
        _fail(HwcError(f"cannot read the shipped schema {schema_file(kind)}: {error.strerror}; reinstall hwc-mailer"))
    click.echo(text, nl=False)
