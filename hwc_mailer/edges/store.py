"""The only state on disk: anonymous counters, a short-lived processing journal,
keyed hashes of processed signals (replay guard), when alerts went out and
the alerts still waiting to go out.

Counters are per month, municipality and outcome; nothing in them names a
child, a school or a day. The journal is keyed by where a message sits
(folder, UIDVALIDITY, UID): one row per source with its outcome and attempts,
and one row per delivery accepted, named by our own opaque outgoing Message-ID,
never by a school code: read together with timestamps that would be the HWC
register the covenant forbids. A signal's journal rows are deleted once its
source and copies are purged. Every time comes from the injected clock.

The schema is versioned: `MIGRATIONS` lists each step from the first landed
schema on, and opening a store runs the steps it has not had yet in one
transaction, so an upgrade keeps the journal of signals in flight.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, func, inspect, text
from sqlmodel import Field, Session, SQLModel, col, create_engine, delete, select

from ..domain.reasons import Reason
from ..errors import ConfigError
from .protocols import EXPIRED, AlertKind, CounterRow, Journal, PendingAlert, Placed, Tally


class Counter(SQLModel, table=True):
    month: str = Field(primary_key=True)          # YYYY-MM
    municipality: str = Field(primary_key=True)   # "" when unknown
    outcome: str = Field(primary_key=True)        # delivered, manual:<reason>, quarantined:<reason>, ...
    signals: int = 0
    children: int = 0
    schools: int = 0


class JournalSource(SQLModel, table=True):
    """One message in flight: counted before each attempt, so one that kills the process counts too."""

    source: str = Field(primary_key=True)         # FOLDER:UIDVALIDITY:UID
    outcome: str | None = None                    # set once, in the same transaction as the counters
    attempts: int = 0
    at: datetime


class JournalDelivery(SQLModel, table=True):
    """One delivery of a source that its server accepted, by our own outgoing Message-ID."""

    source: str = Field(primary_key=True)
    delivery: str = Field(primary_key=True)
    at: datetime


class SeenSignal(SQLModel, table=True):
    """A processed signal's keyed hash (signer, signature time, content): replays are refused."""

    digest: str = Field(primary_key=True)
    source: str                                   # FOLDER:UIDVALIDITY:UID in flight; settled: delivered, manual, ...
    at: datetime


class Poisoned(SQLModel, table=True):
    """Keyed hash of the header of someone else's message that failed every attempt: skipped from then on."""

    digest: str = Field(primary_key=True)
    at: datetime


class AlertSent(SQLModel, table=True):
    """When an alert about one event last went out: one alert per event, repeats only when due.

    The rows of the last hour, by kind, are the hourly alert budgets: counted here, they survive a restart.
    """

    event: str = Field(primary_key=True)
    at: datetime
    kind: str = Field(default=AlertKind.genuine.value, sa_column_kwargs={"server_default": AlertKind.genuine.value})


class AlertPending(SQLModel, table=True):
    """An alert that could not go out yet (over its budget, or no officer's server accepted it), until it does.

    No time is kept: the detail may name a school, and schools with times are the register the covenant forbids.
    The order they came in is the order of `number`.
    """

    number: int | None = Field(default=None, primary_key=True)
    event: str = Field(unique=True)
    kind: str                                     # genuine or junk
    reason: str                                   # a Reason code
    folder: str | None = None
    detail: str = ""                              # a school code or key fingerprint; never personal data
    items: str = Field(default="", sa_column_kwargs={"server_default": ""})  # a digest's lines, one per line
    reference: str = Field(default="", sa_column_kwargs={"server_default": ""})  # the held message's HWC-...
    recipient: str = Field(default="", sa_column_kwargs={"server_default": ""})  # one officer's address, or all


class PlacedMessage(SQLModel, table=True):
    """A message the daemon placed in the manual or quarantine folder: found there again by its exact Message-ID
    and size (never anything else a person filed), escalated before the school day, purged after the retention.
    No school, no name: the outcome's reason code and times."""

    source: str = Field(primary_key=True)         # FOLDER:UIDVALIDITY:UID where it came from
    ref: str = Field(unique=True)                 # short and random: how officers name it
    folder: str
    message_id: str                               # "" when it has no well-formed one: then it cannot be found again
    size: int
    outcome: str                                  # manual:<reason> or quarantined:<reason>
    arrived: datetime                             # when the daemon first saw it in INBOX
    placed: datetime
    finished_by: str = Field(default="", sa_column_kwargs={"server_default": ""})  # the officer's reply's source


class SentMail(SQLModel, table=True):
    """A keyed hash of the Message-ID of a mail we sent a school together with that school's code, and when: a
    delivery report that names it is provably about our mail to that school. Neither can be read back."""

    digest: str = Field(primary_key=True)
    at: datetime


class SchemaVersion(SQLModel, table=True):
    version: int = Field(primary_key=True)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _placed(row: PlacedMessage) -> Placed:
    return Placed(row.source, row.ref, row.folder, row.message_id, row.size, row.outcome, _aware(row.arrived),
                  _aware(row.placed), row.finished_by)


# --- migrations ------------------------------------------------------------------------------

def _journal_by_delivery(connection: Connection) -> None:
    """Version 2: the one-table journal (steps "outcome" and "sent:<id>") split into sources and deliveries."""
    tables = SQLModel.metadata.tables
    SQLModel.metadata.create_all(connection, tables=[tables[name] for name in
                                                     ("journalsource", "journaldelivery", "poisoned")])
    if "journalentry" not in inspect(connection).get_table_names():
        return
    connection.execute(text(
        "INSERT INTO journalsource (source, outcome, attempts, at) "
        "SELECT source, MAX(CASE WHEN step = 'outcome' THEN value END), 0, MIN(at) FROM journalentry GROUP BY source"))
    connection.execute(text(
        "INSERT INTO journaldelivery (source, delivery, at) "
        "SELECT source, SUBSTR(step, 6), at FROM journalentry WHERE step LIKE 'sent:%'"))
    connection.execute(text("DROP TABLE journalentry"))


def _alert_budgets(connection: Connection) -> None:
    """Version 3: alerts sent are counted by kind (two hourly budgets), and alerts that could not go out wait."""
    connection.execute(text(f"ALTER TABLE alertsent ADD COLUMN kind VARCHAR NOT NULL "
                            f"DEFAULT '{AlertKind.genuine.value}'"))
    connection.execute(text("UPDATE alertsent SET kind = :junk WHERE event LIKE :untrusted"),
                       {"junk": AlertKind.junk.value, "untrusted": f"quarantined:{Reason.UNTRUSTED_SENDER.value}:%"})
    SQLModel.metadata.create_all(connection, tables=[SQLModel.metadata.tables["alertpending"]])


def _placed_messages(connection: Connection) -> None:
    """Version 4: what the daemon placed in the manual and quarantine folders, for escalation and retention; the
    mails it sent, for delivery reports; a waiting alert keeps its digest's lines."""
    SQLModel.metadata.create_all(connection, tables=[SQLModel.metadata.tables[name]
                                                     for name in ("placedmessage", "sentmail")])
    _add_text_columns(connection, "alertpending", "items", "reference")


def _officer_replies(connection: Connection) -> None:
    """Version 5: a held message an officer's reply finished waits for its purge; an answer to one officer's reply
    waits for that officer alone."""
    _add_text_columns(connection, "placedmessage", "finished_by")
    _add_text_columns(connection, "alertpending", "recipient")


def _add_text_columns(connection: Connection, table: str, *columns: str) -> None:
    """Adds the columns the table lacks: one an earlier step of the same upgrade made has them already (it was made
    with today's model)."""
    present = {column["name"] for column in inspect(connection).get_columns(table)}
    for column in columns:
        if column not in present:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR NOT NULL DEFAULT ''"))


# Each step brings the schema from version N to N+1; version 1 is the first landed schema.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_journal_by_delivery, _alert_budgets, _placed_messages,
                                                        _officer_replies)
LATEST = 1 + len(MIGRATIONS)


def _version(connection: Connection) -> int | None:
    """The schema version of this database; None when it is empty."""
    tables = set(inspect(connection).get_table_names())
    if "schemaversion" in tables:
        return int(connection.execute(text("SELECT MAX(version) FROM schemaversion")).scalar_one())
    return 1 if "counter" in tables else None


def migrate(engine: Engine) -> int:
    """Bring the database to LATEST; returns the version it had. Refuses one newer than this code."""
    with engine.begin() as connection:
        found = _version(connection)
        if found is None:
            SQLModel.metadata.create_all(connection)
            connection.execute(text("INSERT INTO schemaversion (version) VALUES (:v)"), {"v": LATEST})
            return LATEST
        if found > LATEST:
            raise ConfigError(f"the database has schema version {found}, newer than this hwc-mailer knows "
                              f"({LATEST}); install the newer version again or restore a backup")
        for step in MIGRATIONS[found - 1:]:
            step(connection)
        SQLModel.metadata.create_all(connection)
        connection.execute(text("DELETE FROM schemaversion"))
        connection.execute(text("INSERT INTO schemaversion (version) VALUES (:v)"), {"v": LATEST})
        return found


class SqlStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._engine: Engine = create_engine(url)
        migrate(self._engine)

    def begin_attempt(self, source: str, at: datetime) -> int:
        with Session(self._engine) as session:
            row = session.get(JournalSource, source) or JournalSource(source=source, at=at)
            row.attempts += 1
            session.add(row)
            session.commit()
            return row.attempts

    def uncount_attempt(self, source: str) -> None:
        """An outage is not the message's fault: that attempt does not count."""
        with Session(self._engine) as session:
            row = session.get(JournalSource, source)
            if row is not None and row.attempts > 0:
                row.attempts -= 1
                session.add(row)
                session.commit()

    def journal(self, source: str) -> Journal:
        with Session(self._engine) as session:
            row = session.get(JournalSource, source)
            deliveries = session.exec(select(JournalDelivery.delivery).where(JournalDelivery.source == source)).all()
            return Journal(row.outcome if row else None, frozenset(deliveries), row.attempts if row else 0,
                           _aware(row.at) if row else None)

    def journals(self, prefix: str) -> dict[str, Journal]:
        """The journal of every source under `prefix` (one folder and UIDVALIDITY), read in one go per pass."""
        with Session(self._engine) as session:
            rows = session.exec(select(JournalSource).where(col(JournalSource.source).startswith(prefix))).all()
            deliveries: dict[str, set[str]] = {}
            for source, delivery in session.exec(select(JournalDelivery.source, JournalDelivery.delivery).where(
                    col(JournalDelivery.source).startswith(prefix))).all():
                deliveries.setdefault(source, set()).add(delivery)
            return {row.source: Journal(row.outcome, frozenset(deliveries.get(row.source, ())), row.attempts,
                                        _aware(row.at)) for row in rows}

    def record_delivery(self, source: str, delivery: str, at: datetime) -> None:
        with Session(self._engine) as session:
            session.merge(JournalDelivery(source=source, delivery=delivery, at=at))
            session.commit()

    def record_outcome(self, source: str, outcome: str, month: str, tallies: Sequence[Tally],
                       also: Sequence[tuple[str, Tally]] = ()) -> None:
        """The outcome and its counts (and `also` counts under other outcomes) in one transaction: a signal is
        counted exactly once."""
        with Session(self._engine) as session:
            row = session.get(JournalSource, source)
            if row is None:
                raise ValueError("an outcome is recorded only for a source whose attempt was counted")
            row.outcome = outcome
            session.add(row)
            for counted, tally in [*((outcome, tally) for tally in tallies), *also]:
                counter = session.get(Counter, (month, tally.municipality, counted)) or Counter(
                    month=month, municipality=tally.municipality, outcome=counted)
                counter.signals += tally.signals
                counter.children += tally.children
                counter.schools += tally.schools
                session.add(counter)
            session.commit()

    def forget(self, *sources: str) -> None:
        """Drop the journal rows of these sources: nothing of them is left to resume."""
        if not sources:
            return
        with Session(self._engine) as session:
            session.exec(delete(JournalDelivery).where(col(JournalDelivery.source).in_(sources)))
            session.exec(delete(JournalSource).where(col(JournalSource.source).in_(sources)))
            session.commit()

    def claim_signal(self, digest: str, source: str, at: datetime) -> str:
        """Who holds this signal: `source` itself unless it is a replay; then the source that claimed it first,
        or, once that one is done (`settle_claim`), where it went."""
        with Session(self._engine) as session:
            seen = session.get(SeenSignal, digest)
            if seen is not None:
                return seen.source
            session.add(SeenSignal(digest=digest, source=source, at=at))
            session.commit()
            return source

    def take_over_claim(self, digest: str, claimant: str, source: str) -> bool:
        """`source` carries on for `claimant`, an unfinished source that left INBOX: the claim, the deliveries its
        server accepted and its attempts move over, in one transaction. False, with nothing changed, unless
        `claimant` still holds the claim and has no outcome recorded."""
        with Session(self._engine) as session:
            seen = session.get(SeenSignal, digest)
            before = session.get(JournalSource, claimant)
            if seen is None or seen.source != claimant or (before is not None and before.outcome is not None):
                return False
            for row in session.exec(select(JournalDelivery).where(JournalDelivery.source == claimant)).all():
                session.merge(JournalDelivery(source=source, delivery=row.delivery, at=row.at))
                session.delete(row)
            if before is not None:
                after = session.get(JournalSource, source) or JournalSource(source=source, at=before.at)
                after.attempts += before.attempts
                session.add(after)
                session.delete(before)
            seen.source = source
            session.add(seen)
            session.commit()
            return True

    def settle_claim(self, source: str, disposition: str) -> None:
        """The signal `source` claimed is done: its claim keeps only where it went (a Disposition value such as
        "delivered" or "manual"), so a replay can tell an officer; the source's own key is no longer needed."""
        with Session(self._engine) as session:
            for seen in session.exec(select(SeenSignal).where(SeenSignal.source == source)).all():
                seen.source = disposition
                session.add(seen)
            session.commit()

    def forget_signals_before(self, moment: datetime) -> None:
        """Replay-guard, poison and sent-mail hashes older than `moment` (trust.replay_days) go, and so do the
        records of alerts sent before it: their messages are long gone, and anyone can make more of them."""
        with Session(self._engine) as session:
            session.exec(delete(SeenSignal).where(col(SeenSignal.at) < moment))
            session.exec(delete(Poisoned).where(col(Poisoned.at) < moment))
            session.exec(delete(SentMail).where(col(SentMail.at) < moment))
            session.exec(delete(AlertSent).where(col(AlertSent.at) < moment))
            session.commit()

    def mark_poisoned(self, digest: str, at: datetime) -> None:
        with Session(self._engine) as session:
            session.merge(Poisoned(digest=digest, at=at))
            session.commit()

    def is_poisoned(self, digest: str) -> bool:
        with Session(self._engine) as session:
            return session.get(Poisoned, digest) is not None

    def alert_due(self, event: str, now: datetime, repeat_after: timedelta | None) -> bool:
        with Session(self._engine) as session:
            sent = session.get(AlertSent, event)
        if sent is None:
            return True
        return repeat_after is not None and now - _aware(sent.at) >= repeat_after

    def record_alert(self, event: str, now: datetime, kind: AlertKind, covers: Sequence[str] = ()) -> None:
        """The alert about `event` went out (and told the events `covers`, for a digest): recorded, no longer
        pending, in one transaction."""
        with Session(self._engine) as session:
            session.merge(AlertSent(event=event, at=now, kind=kind.value))
            for covered in covers:
                session.merge(AlertSent(event=covered, at=now, kind=AlertKind.digested.value))
            session.exec(delete(AlertPending).where(col(AlertPending.event).in_([event, *covers])))
            session.commit()

    def alerts_sent_after(self, kind: AlertKind, moment: datetime) -> int:
        """How many alerts of this kind went out after `moment`: what an hourly budget has used."""
        with Session(self._engine) as session:
            return session.exec(select(func.count()).select_from(AlertSent).where(
                AlertSent.kind == kind.value, col(AlertSent.at) > moment)).one()

    def hold_alert(self, pending: PendingAlert) -> None:
        """Kept until it goes out; holding an event that already waits changes nothing (it keeps its place)."""
        with Session(self._engine) as session:
            if session.exec(select(AlertPending.number).where(AlertPending.event == pending.event)).first() is None:
                session.add(AlertPending(event=pending.event, kind=pending.kind.value, reason=pending.reason.value,
                                         folder=pending.folder, detail=pending.detail, items="\n".join(pending.items),
                                         reference=pending.reference, recipient=pending.recipient))
                session.commit()

    def pending_alerts(self, kind: AlertKind) -> list[PendingAlert]:
        """Oldest first."""
        with Session(self._engine) as session:
            rows = session.exec(select(AlertPending).where(AlertPending.kind == kind.value)
                                .order_by(col(AlertPending.number))).all()
            return [PendingAlert(row.event, AlertKind(row.kind), Reason(row.reason), row.folder, row.detail,
                                 tuple(filter(None, row.items.split("\n"))), row.reference, row.recipient)
                    for row in rows]

    def retire_alert(self, event: str) -> None:
        """A standing problem is over: the event may be told again when it comes back, and a copy still waiting is
        dropped. Its row stays, renamed, since it counts in the hour's budget."""
        with Session(self._engine) as session:
            sent = session.get(AlertSent, event)
            if sent is not None:
                session.add(AlertSent(event=f"{event}@{_aware(sent.at).isoformat()}", at=sent.at, kind=sent.kind))
                session.delete(sent)
            session.exec(delete(AlertPending).where(col(AlertPending.event) == event))
            session.commit()

    def record_placed(self, placed: Placed) -> str:
        """Before the move: a resumed move finds the row it already has (the first placement and reference stay).
        Returns the reference on record."""
        with Session(self._engine) as session:
            existing = session.get(PlacedMessage, placed.source)
            if existing is not None:
                return existing.ref
            session.add(PlacedMessage(**asdict(placed)))
            session.commit()
            return placed.ref

    def placed(self) -> list[Placed]:
        """Every message the daemon placed that is still recorded, oldest first."""
        with Session(self._engine) as session:
            rows = session.exec(select(PlacedMessage).order_by(col(PlacedMessage.placed))).all()
            return [_placed(row) for row in rows]

    def placed_by_reference(self, ref: str) -> Placed | None:
        with Session(self._engine) as session:
            row = session.exec(select(PlacedMessage).where(PlacedMessage.ref == ref)).first()
            return _placed(row) if row is not None else None

    def finish_placed(self, source: str, by: str) -> None:
        """An officer's reply (`by`, its source) finished the placed message: it waits only for its purge."""
        self._update_placed(source, finished_by=by)

    def _update_placed(self, source: str, **changes: str) -> None:
        """Set fields of the placed message's row, when it is still recorded."""
        with Session(self._engine) as session:
            row = session.get(PlacedMessage, source)
            if row is not None:
                for name, value in changes.items():
                    setattr(row, name, value)
                session.add(row)
                session.commit()

    def forget_placed(self, source: str, *, expired_in: str | None = None) -> None:
        """The message left its folder (a person finished it): its row goes. `expired_in` (a month) when the
        daemon purged it after the retention: then the `expired` counter goes up in the same transaction."""
        with Session(self._engine) as session:
            row = session.get(PlacedMessage, source)
            if row is None:
                return
            session.delete(row)
            if expired_in is not None:
                counter = session.get(Counter, (expired_in, "", EXPIRED)) or Counter(
                    month=expired_in, municipality="", outcome=EXPIRED)
                counter.signals += 1
                session.add(counter)
            session.commit()

    def move_placed(self, source: str, folder: str) -> None:
        """A person moved the placed message (to Trash): it is followed there until the retention purges it."""
        self._update_placed(source, folder=folder)

    def waiting_since(self, prefix: str) -> dict[str, datetime]:
        """Sources under `prefix` without an outcome yet (an outage keeps them), with when they were first seen."""
        with Session(self._engine) as session:
            rows = session.exec(select(JournalSource).where(col(JournalSource.source).startswith(prefix),
                                                            col(JournalSource.outcome).is_(None))).all()
            return {row.source: _aware(row.at) for row in rows}

    def remember_sent(self, digest: str, at: datetime) -> None:
        with Session(self._engine) as session:
            session.merge(SentMail(digest=digest, at=at))
            session.commit()

    def is_sent(self, digest: str) -> bool:
        with Session(self._engine) as session:
            return session.get(SentMail, digest) is not None

    def forget_sent(self, digest: str) -> None:
        with Session(self._engine) as session:
            session.exec(delete(SentMail).where(col(SentMail.digest) == digest))
            session.commit()

    def counters(self) -> list[CounterRow]:
        with Session(self._engine) as session:
            rows = session.exec(select(Counter).order_by(col(Counter.month), col(Counter.municipality),
                                                         col(Counter.outcome)))
            return [CounterRow(row.month, row.municipality, row.outcome, row.signals, row.children, row.schools)
                    for row in rows]

    def close(self) -> None:
        self._engine.dispose()
