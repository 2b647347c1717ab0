"""What `check` finds before anything fails, each finding with the severity monitoring sees.

The severities are the Nagios/Icinga plugin convention, so `check` doubles as a monitoring plugin: OK, WARNING (a
key or secret expiring soon, a stale register, held signals waiting for a person), CRITICAL (a server, login, key,
register or file the daemon cannot use), UNKNOWN (the check itself could not finish). A CRITICAL finding that
`stops` the daemon (its own files, configuration or key) is what the unit's pre-start check fails the start on: an
expired school key is critical for monitoring, but the daemon must run to hold that school's signals and say so.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from ..edges import files
from ..edges.login import secret_expiry
from ..edges.protocols import AlertKind, KeyState, Store
from ..edges.register import read_info
from ..errors import HwcError
from ..settings.config import Settings
from .alerts import smime_signer
from .keys import Role, first_expiry, key_statuses, keyring_problems
from .pipeline import Context, Edges
from .register import register_key

DAY = 86400.0


class Severity(IntEnum):
    """The exit code of a monitoring plugin."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Measure:
    """One value of the performance data, with its thresholds in the plugin range syntax ("30:" warns below 30)."""

    label: str
    value: float
    warn: str = ""
    crit: str = ""

    def __str__(self) -> str:
        value = f"{self.value:.1f}".removesuffix(".0")
        return f"{self.label}={value};{self.warn};{self.crit}".rstrip(";")


@dataclass
class Findings:
    """What a check found, in the order it was found: the lines to print, the problems and warnings among them, and
    the measures."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopping: list[str] = field(default_factory=list)      # the problems that keep the daemon from working at all
    measures: list[Measure] = field(default_factory=list)

    def problem(self, text: str, *, stops: bool = False, line: str | None = None) -> None:
        self.problems.append(text)
        if stops:
            self.stopping.append(text)
        self.lines.append(line or f"problem: {text}")

    def warning(self, text: str) -> None:
        self.warnings.append(text)
        self.lines.append(f"warning: {text}")

    def note(self, line: str) -> None:
        self.lines.append(line)

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL if self.problems else Severity.WARNING if self.warnings else Severity.OK


def check_offline(found: Findings, settings: Settings, context: Context, edges: Edges) -> None:
    """Everything `check --offline` looks at once the configuration has loaded: keys, the login's secret, the
    register index, what waits for a person, and whether the metrics textfile can be written."""
    now = context.now()
    _keys(found, settings, context, edges, now)
    _secret(found, settings, now)
    _register(found, settings, now)
    _waiting(found, settings, edges.store)
    if settings.metrics is not None and (unwritable := files.public_unwritable(settings.metrics.textfile,
                                                                               "metrics textfile")) is not None:
        found.warning(unwritable)


def _keys(found: Findings, settings: Settings, context: Context, edges: Edges, now: datetime) -> None:
    """Unusable keys and certificates are problems (the daemon's own one stops it), expiring ones warnings."""
    statuses = key_statuses(settings, context.rules, edges.inbound, edges.outbound, now, edges.certificates)
    for status in statuses:
        what = "certificate" if status.ref.certificate is not None else "key"
        line = f"{status.ref.role.value} {status.ref.owner}: {what} {status.ref.fingerprint} is {status.describe(now)}"
        if status.info.state is not KeyState.ok:
            found.problem(line, stops=status.ref.role is Role.daemon)
        elif status.expiring:
            found.warning(line)
    if edges.certificates is not None and isinstance(signer := smime_signer(edges.certificates), str):
        found.problem(signer, stops=True)
    for problem in keyring_problems(settings, context.rules, edges.inbound, edges.outbound):
        found.problem(problem, stops=True)
    if (expires := first_expiry(statuses)) is not None:
        found.measures.append(Measure("key_expiry_days", round((expires - now).total_seconds() / DAY, 1),
                                      f"{settings.alerts.key_expiry_days}:", "0:"))


def _secret(found: Findings, settings: Settings, now: datetime) -> None:
    """The login's client secret or certificate: expired or unreadable is a problem, expiring soon a warning."""
    try:
        expires = secret_expiry(settings.login)
    except HwcError as error:
        found.problem(str(error))
        return
    if expires is None:
        return
    days = (expires - now).total_seconds() / DAY
    line = f"login: the {'certificate' if settings.login.certificate else 'client secret'} expires {expires:%Y-%m-%d}"
    found.measures.append(Measure("secret_expiry_days", round(days, 1), f"{settings.alerts.key_expiry_days}:", "0:"))
    if days < 0:
        found.problem(f"{line}, it has expired: make a new one and replace the credential")
    elif days < settings.alerts.key_expiry_days:
        found.warning(f"{line}, in {days:.0f} day(s): make a new one before then")


def _register(found: Findings, settings: Settings, now: datetime) -> None:
    """A register index that is missing, unreadable or of another key is a problem; a stale one a warning."""
    path, lookup = settings.register_index, settings.lookup
    if path is None or lookup is None:
        return
    try:
        info = read_info(path, register_key(settings))
    except HwcError as error:
        found.problem(str(error))
        return
    if info is None:
        found.problem(f"register index {path} does not exist yet; import the export with `hwc-mailer register import`")
        return
    if not info.key_matches:
        found.problem(f"register index {path} was made with another key than register.key; import the export again")
    age = (now - info.imported_at).total_seconds() / DAY
    found.measures.append(Measure("register_age_days", round(age, 1), f"{lookup.max_age_days:g}",
                                  f"{lookup.refuse_after_days:g}"))
    if age > lookup.refuse_after_days:
        found.problem(f"register index {path} is {age:.1f} days old (more than register.refuse_after_days, "
                      f"{lookup.refuse_after_days:g}): it is not used, signals that need it are held; is the export "
                      "timer running? (systemctl status hwc-mailer-register.timer)")
    elif age > lookup.max_age_days:
        found.warning(f"register index {path} is {age:.1f} days old (more than {lookup.max_age_days:g}); is the "
                      "export timer running? (systemctl status hwc-mailer-register.timer)")


def _waiting(found: Findings, settings: Settings, store: Store) -> None:
    """Held signals no officer has finished yet, and alerts that could not be sent yet: someone should look."""
    held = [placed for placed in store.placed() if placed.folder == settings.folders.manual and not placed.finished_by]
    alerts = len(store.pending_alerts(AlertKind.genuine))
    found.measures += [Measure("held", len(held), "0"), Measure("alerts_waiting", alerts, "0")]
    if held:
        found.warning(f"{len(held)} held signal(s) wait for a person in folder {settings.folders.manual!r}, the "
                      f"oldest since {held[0].placed:%Y-%m-%d %H:%M} UTC (references: "
                      f"{', '.join(placed.ref for placed in held[:5])}{', ...' if len(held) > 5 else ''})")
    if alerts:
        found.warning(f"{alerts} alert(s) to the officers could not be sent yet; they go out when the SMTP server "
                      "takes them (see the log: alert-pending)")
