"""The metrics textfile (`metrics.textfile`): what node_exporter's textfile collector serves to Prometheus.

Written after every pass of `run` and after `once`, and after a pass that failed (an outage, a refused login) too:
then `hwc_mailer_up` is 0 and the last success keeps its old time. The counts come from the store, the key figures
from the last key check (`once` checks the keys itself), the register's age from its index. The two times the store
does not keep, the last success and the last refused login, are read back from the file at start, so a restart and
every `once` carry them on. A file that cannot be written is logged at error once, and again only after a write
worked in between; it never ends a pass.
"""

from collections import Counter
from collections.abc import Callable
from datetime import datetime

import structlog

from ..domain.metrics import Snapshot, recorded_times, render
from ..edges import files
from ..edges.protocols import Clock, Store
from ..edges.register import read_info
from ..errors import HwcError, LoginRefused
from ..settings.config import Settings
from .keys import KeyHealth
from .register import register_key

log = structlog.get_logger("hwc_mailer.metrics")


class MetricsFile:
    def __init__(self, settings: Settings, store: Store, now: Clock, keys: Callable[[], KeyHealth]) -> None:
        self._settings = settings
        self._store = store
        self._now = now
        self._keys = keys
        self._path = settings.metrics.textfile if settings.metrics is not None else None
        self._failing = False
        self._last_success: datetime | None = None
        self._last_login_failure: datetime | None = None
        if self._path is not None:
            previous = files.read_public(self._path)
            if previous is not None:
                self._last_success, self._last_login_failure = recorded_times(previous.decode("utf-8", "replace"))

    def passed(self) -> None:
        """After a pass that ended well."""
        if self._path is not None:
            self._last_success = self._now()
            self._write(up=True)

    def failed(self, error: HwcError) -> None:
        """After a pass that an outage, a refused login or another failure ended."""
        if self._path is not None:
            if isinstance(error, LoginRefused):
                self._last_login_failure = self._now()
            self._write(up=False)

    def _write(self, *, up: bool) -> None:
        assert self._path is not None
        try:
            files.write_public(self._path, render(self._snapshot(up)).encode(), "metrics textfile")
        except HwcError as error:
            if not self._failing:
                log.error("metrics-not-written", path=str(self._path), error=str(error))
            self._failing = True
            return
        if self._failing:
            log.info("metrics-written", path=str(self._path))
        self._failing = False

    def _snapshot(self, up: bool) -> Snapshot:
        folders = self._settings.folders
        signals: Counter[str] = Counter()
        children: Counter[str] = Counter()
        for row in self._store.counters():
            signals[row.outcome] += row.signals
            children[row.outcome] += row.children
        held = Counter(placed.outcome.partition(":")[0] for placed in self._store.placed()
                       if not placed.finished_by and placed.folder in (folders.manual, folders.quarantine))
        try:
            keys: KeyHealth | None = self._keys()
        except HwcError as error:
            log.warning("metrics-keys-unchecked", error=str(error))
            keys = None
        return Snapshot(at=self._now(), up=up, last_success=self._last_success,
                        last_login_failure=self._last_login_failure, signals=signals, children=children, held=held,
                        inbox_waiting=len(self._store.waiting_since(f"{folders.inbox}:")),
                        first_expiry=keys.first_expiry if keys is not None else None,
                        keys_unusable=keys.unusable if keys is not None else None,
                        register_imported=self._register_imported())

    def _register_imported(self) -> datetime | None:
        """When the register index was imported; None without a register or a readable index (`check` says why)."""
        path = self._settings.register_index
        if path is None:
            return None
        try:
            info = read_info(path, register_key(self._settings))
        except HwcError:
            return None
        return info.imported_at if info is not None else None
