"""What the integration tests share: invented children, one daemon installation per test, the privacy check."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hwc_mailer import logging as hwc_logging
from hwc_mailer.domain.outcomes import Outcome
from hwc_mailer.edges.protocols import CounterRow
from hwc_mailer.edges.store import SqlStore
from hwc_mailer.service.pipeline import Edges
from hwc_mailer.service.setup import Services, assemble, load_context, open_edges
from hwc_mailer.settings.config import load_settings
from lab.children import PERSONAL as PERSONAL  # re-exported: the tests take the children from here
from lab.children import SARA as SARA
from lab.children import TIM as TIM
from lab.cli import hwc_mailer
from lab.world import OFFICE, OFFICER, World


@dataclass
class Run:
    """One daemon installation: its own service file, state dir and temp dir."""

    world: World
    directory: Path
    config: Path

    @property
    def written(self) -> list[Path]:
        """Every file the daemon could have written: state, config dir, temp dir, both gpg homes."""
        roots = [self.directory, self.world.inbound_home, self.world.outbound_home]
        return [path for root in roots for path in root.rglob("*") if path.is_file()]

    def cli(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        return hwc_mailer(config or self.config, *args, env={**os.environ, "TMPDIR": str(self.directory / "tmp")})

    def counters(self) -> list[dict[str, object]]:
        """`stats --json`: one row per month, municipality and outcome."""
        result = self.cli("stats", "--json")
        assert result.returncode == 0, result.stderr
        rows: list[dict[str, object]] = json.loads(result.stdout)
        return rows

    def totals(self) -> tuple[int, int, int]:
        """Signals, children and schools counted over all rows."""
        rows = self.counters()
        return (sum(_count(row["signals"]) for row in rows), sum(_count(row["children"]) for row in rows),
                sum(_count(row["schools"]) for row in rows))


def _count(value: object) -> int:
    assert isinstance(value, int), value
    return value


class Crash(BaseException):
    """Stands in for the process dying (out of memory, the watchdog, power): nothing in the pipeline catches it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class InProcess:
    """The real pipeline built in this process against the session's Dovecot, relay and gpg: no CLI start-up.

    Each `once` is a fresh start on the same state dir, as a restarted daemon would be; `wrap` hands the real
    edges to a fault-injecting double first. Logs go to a file in the run's directory, so the privacy sweep reads
    them too.
    """

    run: Run
    clock: Callable[[], datetime] = utc_now

    def open(self, config: Path | None = None, wrap: Callable[[Edges], Edges] | None = None) -> tuple[Edges, Services]:
        settings = load_settings(config or self.run.config)
        edges = open_edges(settings)
        if wrap is not None:
            edges = wrap(edges)
        return edges, assemble(edges, load_context(settings, self.clock))

    def once(self, config: Path | None = None, wrap: Callable[[Edges], Edges] | None = None) -> list[Outcome]:
        """One pass, as `hwc-mailer once` makes it; a Crash escapes, as the death of the process would.

        Temporary files (Python's and gpg's) go to the run's tmp dir, as with the CLI launcher, so the privacy
        sweep reads them too.
        """
        scratch = str(self.run.directory / "tmp")
        saved = os.environ.get("TMPDIR"), tempfile.tempdir
        os.environ["TMPDIR"], tempfile.tempdir = scratch, scratch
        try:
            with (self.run.directory / "daemon.log").open("a") as log:
                hwc_logging.configure(log)
                edges, services = self.open(config, wrap)
                try:
                    services.maintenance.on_time()
                    services.maintenance.tidy()
                    return services.pipeline.process_waiting()
                finally:
                    edges.mailbox.close()
                    edges.store.close()
                    hwc_logging.configure()
        finally:
            if saved[0] is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved[0]
            tempfile.tempdir = saved[1]


def counters(run: Run) -> list[CounterRow]:
    """The anonymous counters, read in-process from the run's database: `stats --json` without a CLI start-up."""
    store = SqlStore(load_settings(run.config).database)
    try:
        return store.counters()
    finally:
        store.close()


def totals(run: Run) -> tuple[int, int, int]:
    """Signals, children and schools counted over all rows, read in-process."""
    rows = counters(run)
    return (sum(row.signals for row in rows), sum(row.children for row in rows), sum(row.schools for row in rows))


def assert_held_and_nothing_sent(run: Run, reported: str | Sequence[Outcome], outcome: str, sent_before: int) -> str:
    """What officers and schools see after a signal a person must take: returns the alert, decrypted and raw.

    `reported` is what the pass said: the stdout of `hwc-mailer once`, or the outcomes `InProcess.once` returned
    (then exactly this one held outcome). `outcome` is the counter's outcome, e.g. "quarantined:unsigned" or
    "manual:unknown-school".
    """
    world = run.world
    kind, reason = outcome.split(":", 1)
    folder = "HWC-Quarantaine" if kind == "quarantined" else "HWC-Handmatig"
    if isinstance(reported, str):
        assert f"held: {outcome}" in reported
    else:
        assert [held.code for held in reported] == [outcome]
    assert world.dovecot.messages(OFFICE) == []
    assert len(world.dovecot.messages(OFFICE, folder)) == 1
    assert all(world.school_mail(school) == [] for school in world.schools)
    assert [received.rcpt_tos for received in world.smtp.received[sent_before:]] == [(OFFICER,)]
    (alert_mail,) = world.officer_mail()
    alert = world.read_alert(alert_mail)
    assert reason in alert and folder in alert
    assert [(row.municipality, row.outcome, row.signals, row.children, row.schools)
            for row in counters(run)] == [("", outcome, 1, 0, 0)]
    return without_personal(alert) + alert_mail.decode("latin-1")


def without_personal(alert: str) -> str:
    """An officer's decrypted alert without the block that names the children (tests/integration/test_officers.py
    reads that block): what must never hold personal data."""
    head, marker, rest = alert.partition("Om wie het gaat")
    return head + rest[rest.index("Wat u kunt doen:"):] if marker else alert


def assert_no_personal_data(texts: list[str], files: list[Path]) -> None:
    for text in texts:
        for value in PERSONAL:
            assert value not in text
    for path in files:
        content = path.read_bytes()
        for value in PERSONAL:
            assert value.encode() not in content, f"{value!r} found in {path}"


def wait_for_line(process: subprocess.Popen[str], marker: str, timeout: float = 30.0) -> bool:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if marker in line:
            return True
        if not line and process.poll() is not None:
            return False
    return False


def eventually(condition: object, timeout: float = 30.0) -> bool:
    """Await a condition on the servers; the bound only keeps a broken build from hanging."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class DaemonProcess:
    """`hwc-mailer run` as a child; a thread keeps every log line, so a test awaits events and scans them all."""

    def __init__(self, run: Run, config: Path, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "TMPDIR": str(run.directory / "tmp"), **(env or {})}
        with (run.directory / "daemon.stdout").open("w") as stdout:
            self.process = subprocess.Popen([sys.executable, "-m", "hwc_mailer", "-c", str(config), "run"],
                                            stdout=stdout, stderr=subprocess.PIPE, text=True, env=env,
                                            stdin=subprocess.DEVNULL)
        self.lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def await_event(self, event: str, after: int = 0, timeout: float = 30.0) -> int:
        """The index of the first log line from `after` on with this event; fails once the daemon ends without it."""
        marker = f'"event": "{event}"'
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(after, len(self.lines)):
                    if marker in self.lines[index]:
                        return index
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    pytest.fail(f"no {event!r} from the daemon; its log:\n{self.output}")
                self._changed.wait(left)

    def events(self, event: str) -> list[str]:
        with self._changed:
            return [line for line in self.lines if f'"event": "{event}"' in line]

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code once the process and its log have ended."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(5.0)


@contextmanager
def daemon(run: Run, config: Path, env: dict[str, str] | None = None) -> Iterator[DaemonProcess]:
    """A running daemon that is killed on the way out, whatever the test did."""
    child = DaemonProcess(run, config, env)
    try:
        yield child
    finally:
        child.kill()


class NotifySocket:
    """A real sd_notify socket made by the test: what the daemon tells systemd (READY, STATUS, WATCHDOG, ...),
    one datagram a message, as systemd would read them."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        self._socket.settimeout(0.2)
        self.messages: list[str] = []
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path)}

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            with self._changed:
                self.messages.append(data.decode())
                self._changed.notify_all()

    def await_message(self, wanted: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The first message so far or to come for which `wanted` holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((message for message in self.messages if wanted(message)), None)
                left = deadline - time.monotonic()
                if found is not None:
                    return found
                if left <= 0:
                    pytest.fail(f"no such notify message; got: {self.messages}")
                self._changed.wait(left)

    def statuses(self) -> list[str]:
        with self._changed:
            return [line.removeprefix("STATUS=") for message in self.messages for line in message.splitlines()
                    if line.startswith("STATUS=")]

    def close(self) -> None:
        self._closed.set()
        self._reader.join(5.0)
        self._socket.close()


@contextmanager
def notified_daemon(run: Run, config: Path) -> Iterator[tuple[DaemonProcess, NotifySocket]]:
    """A running daemon that tells a notify socket of the test's what it tells systemd; READY=1 already came."""
    notify = NotifySocket(run.directory)
    try:
        with daemon(run, config, env=notify.env) as child:
            notify.await_message(lambda message: "READY=1" in message)
            yield child, notify
    finally:
        notify.close()
