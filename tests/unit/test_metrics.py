"""The metrics textfile: Prometheus text format 0.0.4 as node_exporter reads it, written whole or not at all.

The format is checked with prometheus_client's own parser (a test dependency only: the reference reader of the
format, so the test does not check the renderer against a second copy of the same understanding), and, for what that
parser lets pass but node_exporter's refuses, the order of HELP, TYPE and samples here.
"""

import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from hwc_mailer.domain.logins import LoginProblem
from hwc_mailer.domain.metrics import Snapshot, recorded_times, render
from hwc_mailer.edges import files
from hwc_mailer.edges.protocols import KeyInfo, KeyState, Placed, Tally
from hwc_mailer.edges.store import SqlStore
from hwc_mailer.errors import ConfigError, MailboxLoginRefused, MailboxUnavailable
from hwc_mailer.service.keys import KeyHealth, KeyRef, KeyStatus, Role, key_health
from hwc_mailer.service.metrics import MetricsFile
from hwc_mailer.settings.config import Settings

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
FULL = Snapshot(at=NOW, up=True, last_success=NOW - timedelta(seconds=30), last_login_failure=NOW - timedelta(days=2),
                signals={"delivered": 3, "manual:unknown-school": 1, "quarantined:unsigned": 2, "register-gap": 0},
                children={"delivered": 5, "register-gap": 2}, held={"manual": 1}, inbox_waiting=4,
                first_expiry=NOW + timedelta(days=20, hours=12), keys_unusable=1,
                register_imported=NOW - timedelta(days=1, hours=6))


def parsed(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> labels -> value, as Prometheus reads the file; fails on what node_exporter would refuse."""
    seen: list[str] = []
    expected = "HELP"
    for line in text.splitlines():
        kind, name = line.split()[1:3] if line.startswith("# ") else ("sample", re.split(r"[{ ]", line, maxsplit=1)[0])
        family = name.removesuffix("_total")
        assert name.startswith("hwc_mailer_"), line
        if kind == "HELP":
            assert family not in seen, f"a second HELP for {name}: a family is whole and told once"
            assert expected in ("HELP", "sample or HELP"), f"{line!r}: the family before it has no samples"
            seen.append(family)
            expected = "TYPE"
        else:
            assert family == seen[-1], f"{line!r} outside its family"
            assert kind == expected or (kind == "sample" and expected == "sample or HELP"), f"{line!r} out of order"
            expected = "sample" if kind == "TYPE" else "sample or HELP"
    assert text.endswith("\n")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation and family.type in ("counter", "gauge")
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_the_textfile_parses_as_prometheus_reads_it_and_says_what_the_snapshot_holds() -> None:
    samples = parsed(render(FULL))

    assert samples == {
        "hwc_mailer_up": {(): 1},
        "hwc_mailer_last_success_timestamp_seconds": {(): (NOW - timedelta(seconds=30)).timestamp()},
        "hwc_mailer_last_login_failure_timestamp_seconds": {(): (NOW - timedelta(days=2)).timestamp()},
        "hwc_mailer_signals_total": {(("outcome", "delivered"),): 3, (("outcome", "manual:unknown-school"),): 1,
                                     (("outcome", "quarantined:unsigned"),): 2},
        "hwc_mailer_children_total": {(("outcome", "delivered"),): 5, (("outcome", "register-gap"),): 2},
        "hwc_mailer_held_waiting": {(("disposition", "manual"),): 1, (("disposition", "quarantined"),): 0},
        "hwc_mailer_inbox_waiting": {(): 4},
        "hwc_mailer_key_expiry_days": {(): 20.5},
        "hwc_mailer_keys_unusable": {(): 1},
        "hwc_mailer_register_age_days": {(): 1.25},
    }


def test_what_is_not_known_is_left_out_and_delivered_and_both_held_folders_start_at_zero() -> None:
    empty = Snapshot(at=NOW, up=False, last_success=None, last_login_failure=None, signals={}, children={}, held={},
                     inbox_waiting=0, first_expiry=None, keys_unusable=None, register_imported=None)

    samples = parsed(render(empty))

    assert samples == {
        "hwc_mailer_up": {(): 0},
        "hwc_mailer_last_success_timestamp_seconds": {(): 0},
        "hwc_mailer_last_login_failure_timestamp_seconds": {(): 0},
        "hwc_mailer_signals_total": {(("outcome", "delivered"),): 0},
        "hwc_mailer_children_total": {(("outcome", "delivered"),): 0},
        "hwc_mailer_held_waiting": {(("disposition", "manual"),): 0, (("disposition", "quarantined"),): 0},
        "hwc_mailer_inbox_waiting": {(): 0},
    }


def test_an_expired_key_shows_as_negative_days() -> None:
    expired = Snapshot(**{**FULL.__dict__, "first_expiry": NOW - timedelta(days=3)})

    assert parsed(render(expired))["hwc_mailer_key_expiry_days"] == {(): -3}


def test_a_label_value_the_format_must_escape_comes_back_as_it_was() -> None:
    strange = 'manual:"quoted", a backslash and n: \\n, then a newline:\nnext'
    snapshot = Snapshot(**{**FULL.__dict__, "signals": {strange: 1}})

    text = render(snapshot)

    assert len(text.splitlines()) == len(render(Snapshot(**{**FULL.__dict__, "signals": {"x": 1}})).splitlines())
    assert parsed(text)["hwc_mailer_signals_total"][(("outcome", strange),)] == 1


def test_the_times_read_back_are_the_times_written_and_anything_else_is_none() -> None:
    assert recorded_times(render(FULL)) == (NOW - timedelta(seconds=30), NOW - timedelta(days=2))
    never = Snapshot(**{**FULL.__dict__, "last_success": None, "last_login_failure": None})
    assert recorded_times(render(never)) == (None, None)
    assert recorded_times("hwc_mailer_last_success_timestamp_seconds -5\nrubbish\n") == (None, None)
    assert recorded_times("hwc_mailer_last_success_timestamp_seconds " + "9" * 400 + "\n") == (None, None)
    assert recorded_times("") == (None, None)


# ---- the file on disk --------------------------------------------------------------------------------------------

@pytest.fixture
def tight_umask() -> Iterator[None]:
    """As the unit sets it (UMask=0077): what the daemon makes is private unless it says otherwise."""
    before = os.umask(0o077)
    yield
    os.umask(before)


def test_a_public_file_is_readable_by_all_and_replaced_whole(tmp_path: Path, tight_umask: None) -> None:
    path = tmp_path / "hwc-mailer.prom"
    path.write_text("old\n")
    leftover = tmp_path / ".hwc-mailer.prom.0badc0ffee00.tmp"
    leftover.write_text("half of a killed write")
    other = tmp_path / "node.prom"
    other.write_text("someone else's\n")
    inode = path.stat().st_ino

    files.write_public(path, b"new\n", "metrics textfile")

    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.stat().st_ino != inode, "renamed into place, not written in place"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["hwc-mailer.prom", "node.prom"]
    assert other.read_text() == "someone else's\n"


def test_a_link_in_the_files_place_is_replaced_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("not ours\n")
    path = tmp_path / "hwc-mailer.prom"
    path.symlink_to(target)

    assert files.read_public(path) is None
    files.write_public(path, b"new\n", "metrics textfile")

    assert not path.is_symlink() and path.read_text() == "new\n"
    assert target.read_text() == "not ours\n"


def test_a_file_that_cannot_be_written_says_where_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "hwc-mailer.prom"

    with pytest.raises(ConfigError) as raised:
        files.write_public(path, b"new\n", "metrics textfile")

    assert str(raised.value) == (f"metrics textfile {path} cannot be written: No such file or directory; create the "
                                 f"directory {path.parent} first")
    assert files.read_public(path) is None


# ---- after each pass ---------------------------------------------------------------------------------------------

def settings(tmp_path: Path, textfile: Path | None) -> Settings:
    return Settings.model_validate({
        "imap": {"host": "mail.example.nl", "username": "lp@example.nl", "password": {"env": "X"}},
        "smtp": {"host": "mail.example.nl"},
        "gpg": {"inbound_home": tmp_path, "outbound_home": tmp_path, "key_fingerprint": "A" * 40},
        "sender": {"address": "leerplicht@maastricht.example.nl"},
        **({"metrics": {"textfile": textfile}} if textfile is not None else {}),
    })


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore(f"sqlite:///{tmp_path / 'state' / 'hwc-mailer.db'}")
    yield opened
    opened.close()


def held(store: SqlStore, source: str, folder: str, outcome: str, finished_by: str = "") -> None:
    store.record_placed(Placed(source, f"HWC-{source[-1]}", folder, f"<{source}@example.nl>", 100, outcome, NOW, NOW))
    if finished_by:
        store.finish_placed(source, finished_by)


def test_a_failed_pass_sets_up_to_0_keeps_the_last_success_and_a_restart_carries_both_times_on(
        tmp_path: Path, store: SqlStore) -> None:
    path = tmp_path / "hwc-mailer.prom"
    clock = Clock()
    for source, outcome, tally in (("INBOX:1:1", "delivered", Tally("Maastricht", 1, 2, 2)),
                                   ("INBOX:1:2", "manual:unknown-school", Tally("", 1, 0, 0))):
        store.begin_attempt(source, NOW)
        store.record_outcome(source, outcome, "2026-05", [tally])
    held(store, "INBOX:1:2", "HWC-Handmatig", "manual:unknown-school")
    held(store, "INBOX:1:3", "HWC-Handmatig", "manual:invalid-date", finished_by="INBOX:1:9")
    held(store, "INBOX:1:4", "Trash", "quarantined:unsigned")
    store.begin_attempt("INBOX:1:5", NOW)
    metrics = MetricsFile(settings(tmp_path, path), store, clock, lambda: KeyHealth(NOW + timedelta(days=10), 0))

    metrics.passed()
    first = parsed(path.read_text())
    clock.now = NOW + timedelta(minutes=5)
    metrics.failed(MailboxLoginRefused("imap refuses the login", LoginProblem.SECRET_INVALID))
    clock.now = NOW + timedelta(minutes=6)
    restarted = MetricsFile(settings(tmp_path, path), store, clock, lambda: KeyHealth(None, 2))
    restarted.failed(MailboxUnavailable("imap is out of reach"))
    second = parsed(path.read_text())

    assert first["hwc_mailer_up"] == {(): 1}
    assert first["hwc_mailer_last_success_timestamp_seconds"] == {(): NOW.timestamp()}
    assert first["hwc_mailer_last_login_failure_timestamp_seconds"] == {(): 0}
    assert first["hwc_mailer_signals_total"] == {(("outcome", "delivered"),): 1,
                                                 (("outcome", "manual:unknown-school"),): 1}
    assert first["hwc_mailer_children_total"] == {(("outcome", "delivered"),): 2}
    assert first["hwc_mailer_held_waiting"] == {(("disposition", "manual"),): 1, (("disposition", "quarantined"),): 0}
    assert first["hwc_mailer_inbox_waiting"] == {(): 1}
    assert first["hwc_mailer_key_expiry_days"] == {(): 10}
    assert "hwc_mailer_register_age_days" not in first
    assert second["hwc_mailer_up"] == {(): 0}
    assert second["hwc_mailer_last_success_timestamp_seconds"] == {(): NOW.timestamp()}
    assert second["hwc_mailer_last_login_failure_timestamp_seconds"] == {(): (NOW + timedelta(minutes=5)).timestamp()}
    assert second["hwc_mailer_keys_unusable"] == {(): 2}
    assert "hwc_mailer_key_expiry_days" not in second


def test_a_write_that_fails_is_logged_once_until_one_works_and_never_raises(tmp_path: Path, store: SqlStore) -> None:
    directory = tmp_path / "textfiles"
    metrics = MetricsFile(settings(tmp_path, directory / "hwc-mailer.prom"), store, Clock(), lambda: KeyHealth(None, 0))

    with capture_logs() as logs:
        metrics.passed()
        metrics.failed(MailboxUnavailable("imap is out of reach"))
        directory.mkdir()
        metrics.passed()
        metrics.passed()
        (directory / "hwc-mailer.prom").unlink()
        directory.rmdir()
        metrics.passed()

    assert [(entry["event"], entry["log_level"]) for entry in logs] == [
        ("metrics-not-written", "error"), ("metrics-written", "info"), ("metrics-not-written", "error")]
    assert "create the directory" in logs[0]["error"]


def test_without_a_metrics_section_nothing_is_read_or_written(tmp_path: Path, store: SqlStore) -> None:
    def never() -> KeyHealth:
        raise AssertionError("no key check for metrics nobody asked for")

    metrics = MetricsFile(settings(tmp_path, None), store, Clock(), never)
    metrics.passed()
    metrics.failed(MailboxUnavailable("imap is out of reach"))

    assert not list(tmp_path.rglob("*.prom"))


def test_a_textfile_not_named_prom_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("must end in .prom")):
        settings(tmp_path, tmp_path / "hwc-mailer.txt")


def status(role: Role, state: KeyState, expires: datetime | None) -> KeyStatus:
    return KeyStatus(KeyRef(role, "owner", "F" * 40, None), KeyInfo("F" * 40, state, expires), False)


def test_key_health_is_the_first_expiry_of_a_usable_key_or_the_login_secret_and_the_unusable_count() -> None:
    """An expired key counts as unusable; as an expiry it would hide the next key running out for good."""
    statuses = [status(Role.daemon, KeyState.ok, NOW + timedelta(days=300)),
                status(Role.contact, KeyState.ok, NOW + timedelta(days=40)),
                status(Role.contact, KeyState.missing, None),
                status(Role.officer, KeyState.expired, NOW - timedelta(days=1))]

    assert key_health(statuses, None) == KeyHealth(NOW + timedelta(days=40), 2)
    assert key_health(statuses[:2], NOW + timedelta(days=20)) == KeyHealth(NOW + timedelta(days=20), 0)
    assert key_health(statuses[2:3], None) == KeyHealth(None, 1)
