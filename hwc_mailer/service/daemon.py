"""The thin loop around the pipeline: wait for mail, process it, keep systemd informed.

Scheduled jobs (the daily key check) only raise a flag that ends the current
wait, so every mail and gpg operation happens on this one thread. The
maintenance chores run before every pass.

IDLE when the server has it, in bounded periods that also serve as the polling
safety net; plain polling otherwise. The watchdog is pinged while waiting and
between messages, so a long pass of many messages never looks hung; within one
message every IMAP step has its deadline (imap.deadline_seconds), and a message
that kills the daemon is set aside after `limits.max_attempts`, never retried in
a loop. An outage (IMAP or SMTP down) closes the
connection and retries with growing pauses; nothing is lost because every
unfinished message simply stays in the inbox. SIGHUP reloads rules,
templates, the S/MIME CAs and CRLs and the gateways, keeping the old ones when
the new ones do not load. With `metrics`, the textfile is written after every
pass and after every failed one (service/metrics.py).
"""

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import FrameType

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from ..domain.outcomes import Outcome
from ..edges.systemd import Notifier
from ..errors import FolderMissing, HwcError, LoginRefused, Outage
from .pipeline import Context, Edges
from .setup import assemble, reopened

log = structlog.get_logger("hwc_mailer.daemon")

# The longest pause between reconnects in an outage: short, so waiting signals go out within seconds of its end
# (a refused login has its own pause of minutes, login.retry_minutes).
MAX_BACKOFF = 15.0
# The clock's chores (escalation, delays, retention) run at most this often, and at least once per wait: the
# longest wait is min(idle_seconds, poll_seconds).
TICK_SECONDS = 60.0


def idle_status(outcomes: list[Outcome], ended: float, now: float) -> str:
    """What systemd's STATUS says between passes: counts, when the last pass ended and how long ago, never anything
    from a message."""
    done = Counter(outcome.disposition.value for outcome in outcomes)
    summary = ", ".join(f"{count} {what}" for what, count in sorted(done.items())) or "nothing new"
    minutes = int((now - ended) // 60)
    ago = "just now" if minutes < 1 else f"{minutes} min ago"
    return f"watching the inbox; last pass {time.strftime('%H:%M:%S', time.localtime(ended))} ({ago}): {summary}"


class Daemon:
    def __init__(self, edges: Edges, context: Context, reload: Callable[[], Context], notifier: Notifier) -> None:
        self.edges = edges
        self.services = assemble(edges, context)
        self._reload = reload
        self._notify = notifier
        self._stop = threading.Event()
        self._reload_wanted = threading.Event()
        self._keys_due = threading.Event()
        self._keys_due.set()
        self._scheduler = BackgroundScheduler()
        self._failed_reload = ""         # what systemd's STATUS says while the old configuration runs on
        self._idle: tuple[list[Outcome], float] | None = None     # while waiting: the last pass and when it ended
        self._shown = ""

    def stop(self) -> None:
        self._stop.set()

    def _interrupted(self) -> bool:
        """Polled about once a second while waiting: pets the watchdog, keeps the idle STATUS's "N min ago" true,
        ends the wait on stop or reload."""
        self._notify.watchdog()
        self._show_idle()
        return self._stop.is_set() or self._reload_wanted.is_set() or self._keys_due.is_set()

    def _show_idle(self) -> None:
        """The idle STATUS, told to systemd when its text changed (once a minute at most)."""
        if self._idle is None or self._failed_reload:
            return
        status = idle_status(*self._idle, time.time())
        if status != self._shown:
            self._shown = status
            self._notify.status(status)

    def install_signal_handlers(self) -> None:
        def on_stop(_: int, __: FrameType | None) -> None:
            self._stop.set()

        def on_hup(_: int, __: FrameType | None) -> None:
            self._reload_wanted.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def run(self) -> None:
        settings = self.services.pipeline.context.settings
        wait_seconds = min(settings.imap.idle_seconds, settings.imap.poll_seconds)
        backoff = 1.0
        ready = False
        troubled = False
        next_tick = 0.0
        self._scheduler.add_job(self._keys_due.set, CronTrigger(hour=settings.alerts.key_check_hour),
                                id="key-check", coalesce=True, misfire_grace_time=3600)
        self._scheduler.start()
        self._notify.ready()
        while not self._stop.is_set():
            if self._reload_wanted.is_set():
                self._reload_now()
            try:
                if self._keys_due.is_set():
                    self._keys_due.clear()      # first: a check that fails must not keep every pause short
                    self.services.maintenance.check_keys()
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK_SECONDS
                    self.services.maintenance.on_time(between=self._notify.watchdog)
                self.services.maintenance.tidy()
                self._notify.status(self._failed_reload or "processing the inbox")
                # Pets the watchdog between messages too: a long pass is not a hung daemon.
                outcomes = self.services.pipeline.process_waiting(between=self._notify.watchdog)
                if outcomes:
                    log.info("pass-done", count=len(outcomes))
                self.services.logins.settle()
                self.services.metrics.passed()
                if self._failed_reload:
                    self._notify.status(self._failed_reload)
                self._idle, self._shown = (outcomes, time.time()), ""
                self._show_idle()
                if not ready or troubled:
                    log.info("ready", folder=settings.folders.inbox)
                    ready, troubled = True, False
                self._notify.watchdog()
                try:
                    self.edges.mailbox.wait_for_mail(settings.folders.inbox, wait_seconds, self._interrupted)
                finally:
                    self._idle = None
                backoff = 1.0
            except LoginRefused as error:
                told = self.services.logins.refused(error)
                self.services.metrics.failed(error)
                self._notify.status(told.status(error))
                self.edges.mailbox.close()
                troubled = True
                self._pause(error.retry_after)
            except FolderMissing:
                raise
            except HwcError as error:       # an outage, or a failure no message caused (sealing an alert)
                log.error("outage" if isinstance(error, Outage) else "pass-failed", error=str(error), seconds=backoff)
                self.services.metrics.failed(error)
                self._notify.status(f"reconnecting in {backoff:.0f}s: {error}")
                self.edges.mailbox.close()
                troubled = True
                self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self._notify.stopping()
        self._scheduler.shutdown(wait=False)
        self.edges.mailbox.close()
        log.info("stopped")

    def _reload_now(self) -> None:
        self._reload_wanted.clear()
        self._notify.reloading()
        try:
            context = self._reload()
            edges = reopened(self.edges, self.services.pipeline.context.settings, context.settings)
            self.services = assemble(edges, context)
            self.edges = edges
            self._failed_reload = ""
            log.info("reloaded")
        except HwcError as error:
            log.error("reload-failed", error=str(error))
            self._failed_reload = f"reload failed, still running the previous configuration: {error}"
        self._notify.ready(self._failed_reload or "watching the inbox")

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._interrupted() and time.monotonic() < deadline:
            self._stop.wait(min(1.0, deadline - time.monotonic()))
