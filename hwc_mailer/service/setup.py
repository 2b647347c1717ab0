"""Wiring: the real edges and the loaded configuration, put together once for the CLI and the daemon."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from ..domain.reasons import Reason
from ..domain.routing import Delivery
from ..domain.signal import Child
from ..edges import files
from ..edges.certificates import CertificateBook
from ..edges.gpg import GpgKeyring
from ..edges.imap import ImapMailbox
from ..edges.login import login_for, token_source
from ..edges.protocols import Clock
from ..edges.register import RegisterIndex
from ..edges.smtp import SmtpTransport
from ..edges.store import SqlStore
from ..errors import ConfigError, TemplateError
from ..outbound.notice import PACKAGED_TEMPLATES, Templates
from ..settings.config import Secret, Sender, Settings
from ..settings.rules import Profile, Rules, load_rules
from .alerts import Alert, Alerter, render_alert
from .logins import LoginWatch
from .maintenance import Maintenance
from .metrics import MetricsFile
from .pipeline import Context, Edges, Pipeline
from .register import register_key


def state_secret(state_dir: Path) -> bytes:
    """The key for outgoing Message-IDs and keyed hashes: made once, kept with the state, readable by us only."""
    files.private_directory(state_dir, "state dir")
    return files.secret_key(state_dir / "secret.key", "secret key")


def sqlite_file(settings: Settings) -> Path | None:
    """The database's file when it is SQLite on disk."""
    url = make_url(settings.database)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(name)


def service_secrets(settings: Settings) -> list[Secret]:
    """Every secret of the service file that is read from a file (a secret file or a systemd credential)."""
    every = (settings.imap.password, settings.smtp.password, settings.gpg.passphrase,
             settings.lookup.key if settings.lookup else None, settings.smime.key if settings.smime else None,
             *settings.login.secrets, *(gateway.password for gateway in settings.gateways.values()))
    return [secret for secret in every if secret is not None and secret.env is None]


def file_problems(settings: Settings, secrets: Sequence[Secret] | None = None) -> list[str]:
    """What is wrong with the files the daemon trusts, one line each; nothing is made or changed here.

    The state dir, the secret key, the gpg homes, the database (with its journal, WAL and shared-memory files)
    and the register index must be the daemon's own and private when they exist (what is missing is made
    owner-only when first needed); the files of `secrets` (by default every secret file and credential of the
    service file) must exist and be the daemon's own.
    """
    trusted = [("state dir", settings.state_dir, True),
               ("secret key", settings.state_dir / "secret.key", False),
               ("gpg inbound_home", settings.gpg.inbound_home, True),
               ("gpg outbound_home", settings.gpg.outbound_home, True)]
    database = sqlite_file(settings)
    if database is not None:
        if database.parent != settings.state_dir:
            trusted.append(("database directory", database.parent, True))
        trusted += [("database", Path(f"{database}{suffix}"), False) for suffix in ("", "-journal", "-wal", "-shm")]
    if settings.register_index is not None:
        trusted.append(("register index", settings.register_index, False))
    problems = [found for what, path, directory in trusted
                if (found := files.problem(path, what, directory=directory, required=False)) is not None]
    for secret in service_secrets(settings) if secrets is None else secrets:
        try:
            secret.read(files.check_secret)
        except ConfigError as error:
            problems.append(str(error))
    return list(dict.fromkeys(problems))     # two secrets in one file: one line


def ca_problems(settings: Settings) -> list[str]:
    """The servers' CA bundles that cannot be read: every connection would fail on them, so the daemon does not
    start without them."""
    connections = [("imap", settings.imap), ("smtp", settings.smtp),
                   *((f"gateways.{name}", gateway) for name, gateway in settings.gateways.items())]
    return [found for name, server in connections if server.ca_file is not None
            and (found := files.unreadable(server.ca_file, f"{name}.ca_file")) is not None]


def trust_files(settings: Settings, secrets: Sequence[Secret] | None = None) -> None:
    """Raise ConfigError with every `file_problems` line, if there is one."""
    problems = file_problems(settings, secrets)
    if problems:
        raise ConfigError("\n".join(problems))


def register_of(settings: Settings, now: Clock) -> RegisterIndex | None:
    """The embedded register index when the service file configures one; not used once it is too old."""
    path = settings.register_index
    if path is None or settings.lookup is None:
        return None
    return RegisterIndex(path, register_key(settings), refuse_after=timedelta(days=settings.lookup.refuse_after_days),
                         now=now)


def profile_problems(settings: Settings, rules: Rules) -> list[str]:
    """Contacts and officers whose profile the service file cannot serve: smime without an smime section, an unknown
    gateway."""
    problems = []
    for school in rules.schools:
        for contact in school.contacts:
            if contact.profile is Profile.smime and settings.smime is None:
                problems.append(f"school {school.code}, contact {contact.email}: profile smime needs an smime section "
                                "in the service file (the Leerplicht certificate and key, the CAs)")
            if contact.gateway is not None and contact.gateway not in settings.gateways:
                problems.append(f"school {school.code}, contact {contact.email}: gateway {contact.gateway!r} is not "
                                f"in the service file's gateways ({', '.join(settings.gateways) or 'none'})")
    problems += [f"officer {officer.email}: profile smime needs an smime section in the service file"
                 for officer in rules.officers if officer.profile is Profile.smime and settings.smime is None]
    return problems


# Invented: every template is rendered with these at load, so a typo fails the start (or the reload keeps the old
# templates), never a signal that would then wait with no mail to tell anyone. As signals come: with a School:
# line, without one (the register found the school), and siblings.
SAMPLE_CHILD = Child(name="Voorbeeld Kind", birth_date=date(2018, 5, 1), school="00XX00", municipality="Voorbeeld",
                     reference=None)
SAMPLE_SIBLING = Child(name="Voorbeeld Zus", birth_date=date(2015, 9, 30), school=None, municipality=None,
                       reference=None)
SAMPLE_CHILDREN = ((SAMPLE_CHILD,), (SAMPLE_SIBLING,), (SAMPLE_CHILD, SAMPLE_SIBLING))
SAMPLE_PERSONAL = tuple(f"kind {number}: {child.name}, geboren {child.birth_date:%d-%m-%Y}"
                        for number, child in enumerate((SAMPLE_CHILD, SAMPLE_SIBLING), start=1))


def rendered(templates: Templates, rules: Rules, sender: Sender) -> Templates:
    """`templates`, once each has rendered for every school and every kind of alert, sealed and not, with one child
    and with two; TemplateError naming the template and what failed otherwise, or when an alert would carry a
    child's name or date of birth where it travels unencrypted (any subject, the text of an alert not sealed)."""
    for school in rules.schools:
        for children in SAMPLE_CHILDREN:
            templates.render_notice(Delivery(school, children), sender, detailed=True)
    personal = [value for child in (SAMPLE_CHILD, SAMPLE_SIBLING)
                for value in (child.name, f"{child.birth_date:%d-%m-%Y}", f"{child.birth_date:%Y-%m-%d}")]
    for reason in Reason:
        for count in (1, 2):
            alert = Alert(f"check:{reason.value}", reason, folder="HWC-Handmatig", detail="00XX00", count=count,
                          items=("HWC-000000", "HWC-000001")[:count], reference="HWC-000000",
                          personal=SAMPLE_PERSONAL[:count])
            for sealed in (False, True):
                subject, body = render_alert(templates, alert, sender, sealed=sealed, detailed=True)
                exposed = subject if sealed else subject + body
                if any(value in exposed for value in personal):
                    where = "the subject, which travels unencrypted" if sealed else "an alert that is not encrypted"
                    raise TemplateError(f"template officer_alert in {templates.directory} puts a child's name or "
                                        f"date of birth in {where}; only the text of a sealed alert may hold them")
    return templates


def load_context(settings: Settings, now: Clock) -> Context:
    trust_files(settings)
    rules = load_rules(settings.rules)
    if problems := profile_problems(settings, rules):
        raise ConfigError("\n".join(f"{settings.rules}: {problem}" for problem in problems))
    templates = rendered(Templates(settings.templates or PACKAGED_TEMPLATES), rules, settings.sender)
    return Context(settings=settings, rules=rules, templates=templates, secret=state_secret(settings.state_dir),
                   now=now, register=register_of(settings, now))


def keyrings(settings: Settings) -> tuple[GpgKeyring, GpgKeyring]:
    """The inbound and the outbound gpg home."""
    passphrase = settings.gpg.passphrase.read(files.check_secret) if settings.gpg.passphrase else None
    return (GpgKeyring(settings.gpg.inbound_home, binary=settings.gpg.binary, passphrase=passphrase,
                       max_plaintext_bytes=settings.limits.max_plaintext_bytes),
            GpgKeyring(settings.gpg.outbound_home, binary=settings.gpg.binary, passphrase=passphrase))


def servers(settings: Settings, *, probing: bool = False) -> tuple[ImapMailbox, SmtpTransport]:
    """The mailbox and the transport, logging in the configured way: with OAuth2 they share one token source.
    `probing`: for `check`, whose diagnoses may ask a server more than the daemon ever does (edges/reach.py)."""
    tokens = token_source(settings.login)
    retry = settings.login.retry_minutes * 60
    return (ImapMailbox(settings.imap, login_for(settings.imap, tokens), retry, probing=probing),
            SmtpTransport(settings.smtp, login_for(settings.smtp, tokens), settings.sender.address, retry,
                          probing=probing))


def open_store(settings: Settings) -> SqlStore:
    """The store; a SQLite file is made owner-only first, so neither it nor its journal (which SQLite gives the
    file's mode) is ever made with the mode of an admin's umask."""
    database = sqlite_file(settings)
    if database is not None:
        files.private_directory(database.parent, "state dir" if database.parent == settings.state_dir
                                else "database directory")
        files.private_file(database, "database")
    return SqlStore(settings.database)


def gateways(settings: Settings, *, probing: bool = False) -> dict[str, SmtpTransport]:
    """A transport per secure-mail gateway: the SMTP edge with the gateway's own server, TLS and password login."""
    retry = settings.login.retry_minutes * 60
    return {name: SmtpTransport(gateway, login_for(gateway, None), settings.sender.address, retry,
                                setting=f"gateways.{name}", probing=probing)
            for name, gateway in settings.gateways.items()}


def open_edges(settings: Settings) -> Edges:
    trust_files(settings)
    if problems := ca_problems(settings):
        raise ConfigError("\n".join(problems))
    inbound, outbound = keyrings(settings)
    mailbox, transport = servers(settings)
    return with_profiles(Edges(mailbox=mailbox, inbound=inbound, outbound=outbound, transport=transport,
                               store=open_store(settings)), settings)


def reopened(edges: Edges, old: Settings, new: Settings) -> Edges:
    """The edges for reloaded settings: new connections when a server or its login changed (the old mailbox is
    closed), the S/MIME certificates and gateways read again in any case. ConfigError, the old edges untouched, when
    a CA bundle cannot be read."""
    if problems := ca_problems(new):
        raise ConfigError("\n".join(problems))
    if (old.imap, old.smtp, old.login) != (new.imap, new.smtp, new.login):
        edges.mailbox.close()
        mailbox, transport = servers(new)
        edges = replace(edges, mailbox=mailbox, transport=transport)
    return with_profiles(edges, new)


def with_profiles(edges: Edges, settings: Settings) -> Edges:
    """The edges with the S/MIME certificates (CAs, CRLs) and the gateways of `settings`: read again on SIGHUP, so a
    new CRL or gateway is used without a restart."""
    return replace(edges, certificates=CertificateBook(settings.smime) if settings.smime is not None else None,
                   gateways=gateways(settings))


@dataclass(frozen=True)
class Services:
    """What runs on a pass: the pipeline and the chores around it, sharing one alerter (and its hourly cap), what
    tells people when a server refuses the login, and the metrics textfile written after each pass."""

    pipeline: Pipeline
    maintenance: Maintenance
    logins: LoginWatch
    metrics: MetricsFile


def assemble(edges: Edges, context: Context) -> Services:
    alerter = Alerter(context.settings, context.rules, context.templates, edges.outbound, edges.transport,
                      edges.store, context.now, edges.certificates)
    pipeline = Pipeline(edges, context, alerter)
    maintenance = Maintenance(edges, context, alerter, pipeline.folders)
    return Services(pipeline, maintenance, LoginWatch(edges, alerter, context.settings.folders.alerts),
                    MetricsFile(context.settings, edges.store, context.now, maintenance.key_health))
