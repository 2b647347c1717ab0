"""Pass-level chores the daemon schedules: none of them is about one message.

    tidy        before every pass: send the alerts that wait (`send_pending_alerts`), forget replay-guard, poison
                and sent-mail hashes and records of alerts sent older than `trust.replay_days`, and journal rows
                of sources that left INBOX and have nothing left to resume
    send_pending_alerts
                part of tidy: genuine alerts that were over their hourly budget or that no officer's server
                accepted, oldest first within the budget, then the junk digest when due
    check_keys  daily: officers hear about keys that expire soon or cannot be used, and about the login's client
                secret or certificate expiring; what it found is kept for the metrics (`key_health`)
    on_time     every pass, also in an outage, driven by the injected clock and the times the journal keeps
                (never the server's dates), in this order:
                  escalate   authentic signals not at their school (held for a person, or waiting on an outage)
                             once the school day is near: one digest ("nog niet bij de school") to the officers
                             and the on-call addresses; each signal is named once
                  delays     a signal an outage keeps waiting longer than retention.delay_minutes: one alert
                             ("vertraagd"); the pipeline says "alsnog verzonden" when it goes out
                  retain     what the daemon placed in the manual and quarantine folders: forgotten when a
                             person took it out, warned about retention.warning_hours before the end, purged
                             (with its copies in Trash) after retention.held_hours, counted as `expired`; one
                             an officer's reply finished is purged at once (the reply usually did it already)
"""

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog

from ..domain.outcomes import NotOurs, parse_outcome_code
from ..domain.reasons import Reason
from ..domain.schoolday import SchoolCalendar
from ..edges.login import secret_expiry
from ..edges.protocols import Placed
from ..errors import ConfigError, Outage
from ..settings.config import Folders, SchoolDay, Weekday
from .alerts import Alert, Alerter
from .folders import purge_placed
from .keys import KeyHealth, KeyStatus, key_alerts, key_health, key_statuses
from .logins import secret_alerts
from .pipeline import Context, Edges, delayed_event, source_key

WEEKDAYS = tuple(Weekday)
# How often the clock's chores look into the mailbox (what left the held folders, what to purge): a listing of
# each held folder, so not every minute.
MAILBOX_EVERY = timedelta(minutes=10)


def school_calendar(school_day: SchoolDay) -> SchoolCalendar:
    hours, minutes = (int(part) for part in school_day.start.split(":"))
    return SchoolCalendar(time(hours, minutes), ZoneInfo(school_day.timezone),
                          frozenset(WEEKDAYS.index(day) for day in school_day.days), frozenset(school_day.holidays),
                          timedelta(minutes=school_day.margin_minutes))


def not_at_school_event(source: str) -> str:
    return f"not-at-school:{source}"


def _explained(outcome: str) -> str:
    """The Dutch explanation of a recorded outcome's reason."""
    _, reason = parse_outcome_code(outcome)
    return reason.explanation if reason is not None else outcome

log = structlog.get_logger("hwc_mailer.maintenance")


class Maintenance:
    def __init__(self, edges: Edges, context: Context, alerter: Alerter, folders: Callable[[], Folders]) -> None:
        self.edges = edges
        self.context = context
        self.alerter = alerter
        self._folders = folders
        self._calendar = school_calendar(context.settings.school_day)
        self._looked_at: datetime | None = None
        self._keys: KeyHealth | None = None

    def tidy(self) -> None:
        self.send_pending_alerts()
        store, settings = self.edges.store, self.context.settings
        store.forget_signals_before(self.context.now() - timedelta(days=settings.trust.replay_days))
        inbox = settings.folders.inbox
        uidvalidity, uids = self.edges.mailbox.uids(inbox)
        present = {source_key(inbox, uidvalidity, uid) for uid in uids}
        departed = [source for source, journal in store.journals(f"{inbox}:{uidvalidity}:").items()
                    if source not in present and not journal.delivered
                    and journal.outcome in (None, NotOurs().code)]
        store.forget(*departed)

    def send_pending_alerts(self) -> int:
        """First in tidy, so alerts go out even while the mailbox is unreachable; an SMTP outage only ends the
        round (the alerts keep waiting), it does not end the pass."""
        return self.alerter.send_pending()

    def check_keys(self) -> int:
        now = self.context.now()
        statuses = self._key_statuses(now)
        settings = self.context.settings
        self._keys = key_health(statuses, self._secret_expiry())
        expiring = secret_alerts(settings.login, now, settings.alerts.key_expiry_days)
        for alert in expiring:
            log.warning("login-secret-expiring", reason=alert.code, step=alert.event)
        told = sum(self.alerter.tell(alert) for alert in key_alerts(statuses, now) + expiring)
        log.info("keys-checked", count=len(statuses), deliveries=told)
        return told

    def key_health(self) -> KeyHealth:
        """As the last key check found it; checked now (without telling anyone) when none ran yet, as in `once`."""
        if self._keys is None:
            self._keys = key_health(self._key_statuses(self.context.now()), self._secret_expiry())
        return self._keys

    def _key_statuses(self, now: datetime) -> list[KeyStatus]:
        return key_statuses(self.context.settings, self.context.rules, self.edges.inbound, self.edges.outbound, now,
                            self.edges.certificates)

    def _secret_expiry(self) -> datetime | None:
        """An unreadable certificate is told by the login it breaks and by `check`, not here."""
        try:
            return secret_expiry(self.context.settings.login)
        except ConfigError:
            return None

    def on_time(self, between: Callable[[], None] | None = None) -> None:
        """The clock's chores. The mailbox is looked at (one listing per folder, `between` called before each, so
        the daemon pets its watchdog) at most every MAILBOX_EVERY: to see what people took out of the held folders
        and to purge. An IMAP outage never stops the escalation: it then names every signal still recorded."""
        heartbeat = between or (lambda: None)
        now = self.context.now()
        placed = self.edges.store.placed()
        if self._looked_at is not None and now - self._looked_at < MAILBOX_EVERY:
            self._tell_the_time(now, placed)
            return
        try:
            placed = self._still_there(placed, heartbeat)
        except Outage as error:
            log.warning("held-not-checked", error=str(error))
            self._tell_the_time(now, placed)
            raise
        self._looked_at = now
        self._tell_the_time(now, placed)
        self._retain(now, placed, heartbeat)

    def _tell_the_time(self, now: datetime, placed: list[Placed]) -> None:
        """The escalation and the delay alerts: from the store alone, so they go out in any outage."""
        waiting = self.edges.store.waiting_since(f"{self.context.settings.folders.inbox}:")
        self._escalate(now, placed, waiting)
        self._tell_delays(now, waiting)

    def _still_there(self, placed: list[Placed], heartbeat: Callable[[], None]) -> list[Placed]:
        """The placed messages still in their folder. One a person deleted into Trash is followed there (it still
        holds the signal) until the retention purges it; one a person took anywhere else is finished and
        forgotten. A message without a Message-ID cannot be looked for and counts as there."""
        trash = self._folders().trash
        listed: dict[str, set[tuple[str, int]]] = {}

        def present(folder: str) -> set[tuple[str, int]]:
            if folder not in listed:
                heartbeat()
                listed[folder] = self.edges.mailbox.present(folder)
            return listed[folder]

        there = []
        for held in placed:
            if not held.message_id or (held.message_id, held.size) in present(held.folder):
                there.append(held)
            elif trash is not None and held.folder != trash and (held.message_id, held.size) in present(trash):
                self.edges.store.move_placed(held.source, trash)
                there.append(replace(held, folder=trash))
            else:
                self.edges.store.forget_placed(held.source)
                log.info("held-finished", outcome=held.outcome)
        return there

    def _escalate(self, now: datetime, placed: list[Placed], waiting: dict[str, datetime]) -> None:
        manual = self.context.settings.folders.manual
        due = [(held.source, f"{held.ref}: {_explained(held.outcome)} (map {held.folder}, code {held.outcome})",
                held.arrived) for held in placed if held.folder == manual and not held.finished_by]
        due += [(source, f"een signaal wacht sinds {self._local(since)} in de inbox door een storing", since)
                for source, since in waiting.items()]
        store = self.edges.store
        named = [(source, line) for source, line, arrived in due if self._calendar.due(arrived, now)
                 and store.alert_due(not_at_school_event(source), now, None)]
        if not named:
            return
        events = [not_at_school_event(source) for source, _ in named]
        digest = Alert(f"not-at-school:{hashlib.sha256(' '.join(sorted(events)).encode()).hexdigest()[:16]}",
                       Reason.NOT_AT_SCHOOL,
                       detail=f"schooldag begint {self._local(self._calendar.deadline(now - self._calendar.margin))}",
                       count=len(named), items=tuple(line for _, line in named))
        # Never kept waiting as it is: the next tick makes it anew from what is still not at school. When mail
        # cannot go out, it goes into the officers' folder of the mailbox instead.
        told = self.alerter.tell(digest, covers=events, wait=False) or self.alerter.file(
            digest, self.edges.mailbox, self.context.settings.folders.alerts, covers=events)
        log.warning("escalated", count=len(named), step="told" if told else "not-yet")

    def _tell_delays(self, now: datetime, waiting: dict[str, datetime]) -> None:
        delay = timedelta(minutes=self.context.settings.retention.delay_minutes)
        for source, since in waiting.items():
            if now - since >= delay:
                self.alerter.tell(Alert(delayed_event(source), Reason.DELAYED,
                                        detail=f"wacht sinds {self._local(since)}"))

    def _retain(self, now: datetime, placed: list[Placed], heartbeat: Callable[[], None]) -> None:
        retention = self.context.settings.retention
        keep = timedelta(hours=retention.held_hours)
        warn = keep - timedelta(hours=retention.warning_hours)
        manual = self.context.settings.folders.manual
        for held in placed:
            if self._finished(held) or now - held.placed >= keep:
                heartbeat()
                self._purge(held, now)
            elif now - held.placed >= warn and held.folder == manual:     # junk and forgeries go unannounced
                self.alerter.tell(Alert(f"held-expiring:{held.source}", Reason.HELD_EXPIRING, held.folder,
                                        detail=f"{held.ref}, verwijderd na {self._local(held.placed + keep)}"))

    def _finished(self, held: Placed) -> bool:
        """Finished by an officer's reply whose outcome is recorded (or that is gone): a reply still in flight after
        a crash must find its signal again."""
        if not held.finished_by:
            return False
        journal = self.edges.store.journal(held.finished_by)
        return journal.outcome is not None or journal.attempts == 0

    def _purge(self, held: Placed, now: datetime) -> None:
        """The held message and its exact copies in Trash; forgotten after, and counted as `expired` in that step
        unless an officer's reply finished it."""
        if not purge_placed(self.edges.mailbox, held, self._folders().trash):
            log.warning("held-not-found", outcome=held.outcome, folder=held.folder)     # left for a person
            self.edges.store.forget_placed(held.source)
            return
        self.edges.store.forget_placed(held.source, expired_in=None if held.finished_by else f"{now:%Y-%m}")
        log.info("held-finished" if held.finished_by else "held-expired", outcome=held.outcome, folder=held.folder)

    def _local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self._calendar.zone):%d-%m-%Y %H:%M}"
