"""The only state on disk: anonymous counters, a short-lived processing journal,
keyed hashes of processed signals (replay guard) and when alerts went out.

Counters are per month, municipality and outcome; nothing in them names a
child, a school or a day. The journal is keyed by where a message sits
(folder, UIDVALIDITY, UID) and holds outcome codes and our own opaque outgoing
Message-IDs, never a school code: read together with timestamps that would be
the HWC register the covenant forbids. A signal's journal rows are deleted
once its source and copies are purged.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, create_engine, delete, select

DONE = "outcome"
SENT_PREFIX = "sent:"


class Counter(SQLModel, table=True):
    month: str = Field(primary_key=True)          # YYYY-MM
    municipality: str = Field(primary_key=True)   # "" when unknown
    outcome: str = Field(primary_key=True)        # delivered, manual:<reason>, quarantined:<reason>, ...
    signals: int = 0
    children: int = 0
    schools: int = 0


class JournalEntry(SQLModel, table=True):
    source: str = Field(primary_key=True)         # FOLDER:UIDVALIDITY:UID
    step: str = Field(primary_key=True)           # "outcome" or "sent:<outgoing Message-ID>"
    value: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class SeenSignal(SQLModel, table=True):
    """A processed signal's keyed hash (signer, signature time, content): replays are refused."""

    digest: str = Field(primary_key=True)
    source: str
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class AlertSent(SQLModel, table=True):
    """When an alert about one event last went out: one alert per event, repeats only when due."""

    event: str = Field(primary_key=True)
    at: datetime


@dataclass(frozen=True)
class Tally:
    municipality: str
    signals: int
    children: int
    schools: int


class Store:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._engine: Engine = create_engine(url)
        SQLModel.metadata.create_all(self._engine)

    def journal(self, source: str) -> dict[str, str]:
        with Session(self._engine) as session:
            rows = session.exec(select(JournalEntry).where(JournalEntry.source == source)).all()
            return {row.step: row.value for row in rows}

    def finished_sources(self, prefix: str) -> dict[str, str]:
        """Sources under `prefix` that have an outcome, with that outcome."""
        with Session(self._engine) as session:
            rows = session.exec(select(JournalEntry).where(col(JournalEntry.source).startswith(prefix),
                                                           JournalEntry.step == DONE)).all()
            return {row.source: row.value for row in rows}

    def record_sent(self, source: str, message_id: str) -> None:
        with Session(self._engine) as session:
            session.merge(JournalEntry(source=source, step=SENT_PREFIX + message_id))
            session.commit()

    def record_outcome(self, source: str, outcome: str, month: str, tallies: list[Tally]) -> None:
        """The outcome and its counts in one transaction: a signal is counted exactly once."""
        with Session(self._engine) as session:
            session.merge(JournalEntry(source=source, step=DONE, value=outcome))
            for tally in tallies:
                counter = session.get(Counter, (month, tally.municipality, outcome)) or Counter(
                    month=month, municipality=tally.municipality, outcome=outcome)
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
            session.exec(delete(JournalEntry).where(col(JournalEntry.source).in_(sources)))
            session.commit()

    def claim_signal(self, digest: str, source: str) -> str:
        """The source that first processed this signal: `source` itself unless it is a replay."""
        with Session(self._engine) as session:
            seen = session.get(SeenSignal, digest)
            if seen is not None:
                return seen.source
            session.add(SeenSignal(digest=digest, source=source))
            session.commit()
            return source

    def forget_signals_before(self, moment: datetime) -> None:
        with Session(self._engine) as session:
            session.exec(delete(SeenSignal).where(col(SeenSignal.at) < moment))
            session.commit()

    def alert_due(self, event: str, now: datetime, repeat_after: timedelta | None) -> bool:
        with Session(self._engine) as session:
            sent = session.get(AlertSent, event)
        if sent is None:
            return True
        last = sent.at if sent.at.tzinfo else sent.at.replace(tzinfo=timezone.utc)
        return repeat_after is not None and now - last >= repeat_after

    def record_alert(self, event: str, now: datetime) -> None:
        with Session(self._engine) as session:
            session.merge(AlertSent(event=event, at=now))
            session.commit()

    def counters(self) -> list[Counter]:
        with Session(self._engine) as session:
            return list(session.exec(select(Counter).order_by(Counter.month, Counter.municipality, Counter.outcome)))

    def close(self) -> None:
        self._engine.dispose()
