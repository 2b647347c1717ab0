"""The store on disk: an upgrade keeps the journal of signals in flight, and the journal's bookkeeping holds."""

import hashlib
import hmac
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hwc_mailer.domain.reasons import Reason
from hwc_mailer.edges.protocols import AlertKind, CounterRow, Journal, PendingAlert, Tally
from hwc_mailer.edges.store import LATEST, SqlStore
from hwc_mailer.errors import ConfigError
from hwc_mailer.outbound.notice import DeliveryKey, outgoing_message_id
from hwc_mailer.outbound.sealing import PgpMimeSealer

AT = datetime(2026, 11, 24, 23, 40, tzinfo=UTC)
IN_FLIGHT = "INBOX:1796164074:7"     # one school accepted its mail, then the old release stopped
FINISHED = "INBOX:1796164074:8"      # both accepted and the outcome recorded, the purge not yet done
ELSEWHERE = "INBOX:42:3"             # the same folder under an older UIDVALIDITY
SENT_FIRST = "<hwc.0a1b@maastricht.example.nl>"
SENT_SECOND = "<hwc.2c3d@maastricht.example.nl>"
SENT_THIRD = "<hwc.4e5f@maastricht.example.nl>"

# The tables exactly as the first landed release's SQLModel definitions made them (19158a1:hwc_mailer/store.py).
VERSION_1 = """
CREATE TABLE counter (
    month VARCHAR NOT NULL,
    municipality VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    signals INTEGER NOT NULL,
    children INTEGER NOT NULL,
    schools INTEGER NOT NULL,
    PRIMARY KEY (month, municipality, outcome)
);
CREATE TABLE journalentry (
    source VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (source, step)
);
CREATE TABLE seensignal (
    digest VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (digest)
);
CREATE TABLE alertsent (
    event VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (event)
);
"""


# The tables as version 2 (the journal split into sources and deliveries) made them, before the alert budgets.
VERSION_2 = """
CREATE TABLE alertsent (
    event VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (event)
);
CREATE TABLE counter (
    month VARCHAR NOT NULL,
    municipality VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    signals INTEGER NOT NULL,
    children INTEGER NOT NULL,
    schools INTEGER NOT NULL,
    PRIMARY KEY (month, municipality, outcome)
);
CREATE TABLE journaldelivery (
    source VARCHAR NOT NULL,
    delivery VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (source, delivery)
);
CREATE TABLE journalsource (
    source VARCHAR NOT NULL,
    outcome VARCHAR,
    attempts INTEGER NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (source)
);
CREATE TABLE poisoned (
    digest VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (digest)
);
CREATE TABLE schemaversion (
    version INTEGER NOT NULL,
    PRIMARY KEY (version)
);
CREATE TABLE seensignal (
    digest VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    at DATETIME NOT NULL,
    PRIMARY KEY (digest)
);
INSERT INTO schemaversion (version) VALUES (2);
"""
GENUINE_EVENT = "manual:unknown-school:INBOX:1796164074:5"
JUNK_EVENT = "quarantined:untrusted-sender:INBOX:1796164074:6"


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def version_1_database(path: Path) -> None:
    """What the first release left behind: one signal in flight, one finished, its counters, a replay hash, an alert."""
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1)
        stamp = "2026-11-24 23:40:00.000000"     # how SQLAlchemy writes a DATETIME in SQLite
        db.executemany("INSERT INTO journalentry (source, step, value, at) VALUES (?, ?, ?, ?)", [
            (IN_FLIGHT, f"sent:{SENT_FIRST}", "", stamp),
            (FINISHED, f"sent:{SENT_SECOND}", "", stamp),
            (FINISHED, f"sent:{SENT_THIRD}", "", stamp),
            (FINISHED, "outcome", "delivered", stamp),
        ])
        db.executemany("INSERT INTO counter VALUES (?, ?, ?, ?, ?, ?)", [
            ("2026-11", "Maastricht", "delivered", 1, 1, 1),
            ("2026-11", "Gulpen-Wittem", "delivered", 0, 1, 1),
        ])
        db.execute("INSERT INTO seensignal VALUES (?, ?, ?)", ("d" * 64, FINISHED, stamp))
        db.execute("INSERT INTO alertsent VALUES (?, ?)", ("manual:unknown-school:INBOX:1796164074:5", stamp))
    db.close()


def version_2_database(path: Path) -> None:
    """What version 2 left behind: a signal in flight, counters, a replay and a poison hash, two alerts sent."""
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_2)
        stamp = "2026-11-24 23:40:00.000000"
        db.execute("INSERT INTO journalsource VALUES (?, ?, ?, ?)", (IN_FLIGHT, None, 1, stamp))
        db.execute("INSERT INTO journaldelivery VALUES (?, ?, ?)", (IN_FLIGHT, SENT_FIRST, stamp))
        db.execute("INSERT INTO counter VALUES (?, ?, ?, ?, ?, ?)", ("2026-11", "Maastricht", "delivered", 1, 1, 1))
        db.execute("INSERT INTO seensignal VALUES (?, ?, ?)", ("d" * 64, FINISHED, stamp))
        db.execute("INSERT INTO poisoned VALUES (?, ?)", ("p" * 64, stamp))
        db.executemany("INSERT INTO alertsent VALUES (?, ?)", [(GENUINE_EVENT, stamp), (JUNK_EVENT, stamp)])
    db.close()


def columns(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        found = list(db.execute(f"PRAGMA table_info({table})"))
    db.close()
    return found


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    return names


def versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        found = [row[0] for row in db.execute("SELECT version FROM schemaversion")]
    db.close()
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore(url(tmp_path / "state" / "hwc-mailer.db"))
    yield opened
    opened.close()


# ---- the schema migration --------------------------------------------------------------------------------------

def test_an_upgrade_from_the_first_release_keeps_the_journal_of_signals_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "hwc-mailer.db"
    version_1_database(path)

    store = SqlStore(url(path))
    try:
        assert store.journals("INBOX:1796164074:") == {
            IN_FLIGHT: Journal(None, frozenset({SENT_FIRST}), 0),
            FINISHED: Journal("delivered", frozenset({SENT_SECOND, SENT_THIRD}), 0),
        }
        assert store.journal(IN_FLIGHT) == Journal(None, frozenset({SENT_FIRST}), 0)
        assert store.counters() == [CounterRow("2026-11", "Gulpen-Wittem", "delivered", 0, 1, 1),
                                    CounterRow("2026-11", "Maastricht", "delivered", 1, 1, 1)]
        assert store.claim_signal("d" * 64, "INBOX:1796164074:9", AT) == FINISHED, "the replay guard survives"
        assert not store.alert_due("manual:unknown-school:INBOX:1796164074:5", AT, None), "so does the alert record"
        assert store.begin_attempt(IN_FLIGHT, AT) == 1, "the migrated source resumes like any other"
    finally:
        store.close()
    assert versions(path) == [LATEST]
    assert "journalentry" not in tables(path)


def test_a_delivery_journaled_by_the_first_release_is_recognised_after_the_upgrade() -> None:
    """The first release named a delivery hmac(secret, source id NUL school code); a resume after the upgrade must
    compute the same Message-ID, or the school that already has its mail would get a second one under a new id."""
    secret, source_id, domain = b"k" * 32, "<melding-1@veiligthuis-zl.example.nl>", "maastricht.example.nl"
    first_release = hmac.new(secret, f"{source_id}\x0012AB00".encode(), hashlib.sha256).hexdigest()[:32]

    now = outgoing_message_id(secret, source_id, DeliveryKey("12AB00", PgpMimeSealer.profile), domain)

    assert now == f"<hwc.{first_release}@{domain}>"


def test_an_upgrade_from_version_2_keeps_every_row_and_counts_its_alerts_in_their_budgets(tmp_path: Path) -> None:
    path = tmp_path / "hwc-mailer.db"
    version_2_database(path)

    store = SqlStore(url(path))
    try:
        assert store.journals("") == {IN_FLIGHT: Journal(None, frozenset({SENT_FIRST}), 1)}
        assert store.counters() == [CounterRow("2026-11", "Maastricht", "delivered", 1, 1, 1)]
        assert store.claim_signal("d" * 64, IN_FLIGHT, AT) == FINISHED, "the replay guard survives"
        assert store.is_poisoned("p" * 64)
        assert not store.alert_due(GENUINE_EVENT, AT, None) and not store.alert_due(JUNK_EVENT, AT, None)
        an_hour_before = AT - timedelta(minutes=59)
        assert store.alerts_sent_after(AlertKind.genuine, an_hour_before) == 1
        assert store.alerts_sent_after(AlertKind.junk, an_hour_before) == 1, "untrusted-sender alerts are junk"
        assert store.pending_alerts(AlertKind.genuine) == []
        waiting = PendingAlert("manual:no-school:INBOX:1796164074:9", AlertKind.genuine, Reason.NO_SCHOOL,
                               "HWC-Handmatig", "")
        store.hold_alert(waiting)
        assert store.pending_alerts(AlertKind.genuine) == [waiting]
    finally:
        store.close()
    assert versions(path) == [LATEST]
    fresh = tmp_path / "fresh.db"
    SqlStore(url(fresh)).close()
    for table in ("alertsent", "alertpending"):
        assert columns(path, table) == columns(fresh, table), f"{table} as a new database has it"


def test_alerts_sent_count_by_kind_within_the_window_and_a_digest_covers_its_junk(store: SqlStore) -> None:
    held = [PendingAlert(f"quarantined:untrusted-sender:INBOX:1:{uid}", AlertKind.junk, Reason.UNTRUSTED_SENDER,
                         "HWC-Quarantaine", "") for uid in (9, 3, 5)]
    for pending in [*held, held[0]]:
        store.hold_alert(pending)
    assert store.pending_alerts(AlertKind.junk) == held, "in the order they came, each once"
    assert store.pending_alerts(AlertKind.genuine) == []
    store.record_alert("key:X:key-expiring", AT, AlertKind.genuine)
    store.record_alert("junk-digest", AT, AlertKind.digest, covers=[pending.event for pending in held])

    assert store.pending_alerts(AlertKind.junk) == []
    assert all(not store.alert_due(pending.event, AT, None) for pending in held)
    assert [store.alerts_sent_after(kind, AT - timedelta(hours=1)) for kind in AlertKind] == [1, 0, 1, 3]
    assert store.alerts_sent_after(AlertKind.genuine, AT) == 0, "the window is open at its start"


def test_opening_a_migrated_database_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hwc-mailer.db"
    version_1_database(path)
    SqlStore(url(path)).close()
    with sqlite3.connect(path) as db:
        before = list(db.iterdump())
    db.close()

    again = SqlStore(url(path))
    again.close()

    with sqlite3.connect(path) as db:
        assert list(db.iterdump()) == before
    db.close()
    assert versions(path) == [LATEST]


def test_a_new_database_starts_at_the_latest_version(store: SqlStore, tmp_path: Path) -> None:
    assert versions(tmp_path / "state" / "hwc-mailer.db") == [LATEST]
    assert store.journals("") == {} and store.counters() == []


def test_a_database_newer_than_this_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hwc-mailer.db"
    SqlStore(url(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schemaversion SET version = ?", (LATEST + 1,))
    db.close()

    with pytest.raises(ConfigError, match=f"schema version {LATEST + 1}, newer"):
        SqlStore(url(path))
    assert versions(path) == [LATEST + 1], "left as it was"


# ---- the journal's bookkeeping --------------------------------------------------------------------------------

def test_every_attempt_is_counted_before_it_starts(store: SqlStore) -> None:
    assert [store.begin_attempt(IN_FLIGHT, AT) for _ in range(3)] == [1, 2, 3]
    assert store.journal(IN_FLIGHT) == Journal(None, frozenset(), 3)
    assert store.journal(FINISHED) == Journal(None, frozenset(), 0), "a source never tried has no attempts"


def test_an_outage_takes_its_attempt_back_but_never_below_zero(store: SqlStore) -> None:
    store.begin_attempt(IN_FLIGHT, AT)
    store.begin_attempt(IN_FLIGHT, AT)
    store.uncount_attempt(IN_FLIGHT)
    assert store.journal(IN_FLIGHT).attempts == 1
    store.uncount_attempt(IN_FLIGHT)
    store.uncount_attempt(IN_FLIGHT)
    assert store.journal(IN_FLIGHT).attempts == 0
    store.uncount_attempt(FINISHED)
    assert FINISHED not in store.journals(""), "uncounting a source never tried creates nothing"
    assert store.begin_attempt(IN_FLIGHT, AT) == 1


def test_an_outcome_and_its_counts_land_together_and_add_up(store: SqlStore) -> None:
    store.begin_attempt(IN_FLIGHT, AT)
    store.record_delivery(IN_FLIGHT, SENT_FIRST, AT)
    store.record_delivery(IN_FLIGHT, SENT_FIRST, AT)            # a resend after a crash: journaled once
    store.record_outcome(IN_FLIGHT, "delivered", "2026-11", [Tally("Maastricht", 1, 2, 1)])
    store.begin_attempt(FINISHED, AT)
    store.record_outcome(FINISHED, "delivered", "2026-11", [Tally("Maastricht", 1, 1, 1), Tally("Vaals", 0, 1, 1)])

    assert store.journal(IN_FLIGHT) == Journal("delivered", frozenset({SENT_FIRST}), 1)
    assert store.counters() == [CounterRow("2026-11", "Maastricht", "delivered", 2, 3, 2),
                                CounterRow("2026-11", "Vaals", "delivered", 0, 1, 1)]


def test_an_outcome_is_recorded_only_for_a_counted_attempt(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="attempt was counted"):
        store.record_outcome(IN_FLIGHT, "delivered", "2026-11", [Tally("Maastricht", 1, 1, 1)])
    assert store.counters() == [], "nothing counted either"


def test_forget_drops_exactly_the_sources_named(store: SqlStore) -> None:
    for source in (IN_FLIGHT, FINISHED, ELSEWHERE):
        store.begin_attempt(source, AT)
        store.record_delivery(source, f"<hwc.{source.rsplit(':', 1)[1]}@maastricht.example.nl>", AT)
    store.record_outcome(FINISHED, "delivered", "2026-11", [Tally("Maastricht", 1, 1, 1)])

    store.forget()
    assert set(store.journals("")) == {IN_FLIGHT, FINISHED, ELSEWHERE}
    store.forget(FINISHED, ELSEWHERE)

    assert store.journals("") == {IN_FLIGHT: Journal(None, frozenset({"<hwc.7@maastricht.example.nl>"}), 1)}
    assert store.journal(FINISHED) == Journal(None, frozenset(), 0), "its deliveries went with it"
    assert [row.signals for row in store.counters()] == [1], "the counters are not the journal"


def test_journals_reads_one_folder_and_uidvalidity(store: SqlStore) -> None:
    for source in (IN_FLIGHT, FINISHED, ELSEWHERE, "INBOX:17961640741:1"):
        store.begin_attempt(source, AT)
    assert set(store.journals("INBOX:1796164074:")) == {IN_FLIGHT, FINISHED}
    assert set(store.journals("INBOX:42:")) == {ELSEWHERE}


def test_what_was_sent_is_remembered_by_its_hash_until_the_replay_window_ends(store: SqlStore) -> None:
    sent = datetime(2026, 12, 1, tzinfo=UTC)
    store.remember_sent("a" * 64, sent)
    store.remember_sent("b" * 64, sent + timedelta(days=30))
    store.record_alert("manual:unknown-school:INBOX:1:7", sent, AlertKind.genuine)
    store.record_alert("manual:unknown-school:INBOX:1:8", sent + timedelta(days=30), AlertKind.genuine)
    store.forget_signals_before(sent + timedelta(days=1))
    assert not store.is_sent("a" * 64) and store.is_sent("b" * 64)
    assert store.alert_due("manual:unknown-school:INBOX:1:7", sent + timedelta(days=31), None)
    assert not store.alert_due("manual:unknown-school:INBOX:1:8", sent + timedelta(days=31), None)
    store.forget_sent("b" * 64)
    assert not store.is_sent("b" * 64)
