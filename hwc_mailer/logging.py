"""Structured JSON logs on stderr that cannot carry personal data.

The last processor is an allow-list: only keys this code is known to fill with
ids, codes and counts survive, whatever a call site passes. Exceptions are
rendered as type and frames only, never locals and never the message of a
foreign exception (a library may echo a line of the signal in it). Library log
records keep only their unformatted message template, never its arguments.

Under systemd (JOURNAL_STREAM set, stderr going to the journal) each line starts
with its syslog priority as sd-daemon(3) prescribes (`<3>` for an error), so
`journalctl -p err` shows the errors.
"""

import logging
import os
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TextIO

import structlog

from .errors import HwcError

ALLOWED_KEYS = frozenset({
    "event", "level", "timestamp", "logger",
    "uid", "message_id", "source", "school", "schools", "outcome", "reason", "child_number",
    "children", "count", "deliveries", "folder", "host", "port", "step", "seconds",
    "fingerprint", "path", "command", "error", "exception", "dropped", "user", "entries", "skipped", "service",
    "reference",
})
MAX_VALUE = 300

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def describe_exception(exc_info: ExcInfo) -> str:
    """Type and frames; the message only for our own errors, whose texts we wrote."""
    kind, value, trace = exc_info
    frames = "; ".join(f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(trace))
    head = f"{kind.__name__}: {value}" if isinstance(value, HwcError) else kind.__name__
    return f"{head} at {frames}" if frames else head


def _render_exception(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info and exc_info[0] is not None:
        event["exception"] = describe_exception(exc_info)
    return event


def scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop every key not on the allow-list and bound every value's length."""
    dropped = sorted(key for key in event if key not in ALLOWED_KEYS)
    for key in dropped:
        del event[key]
    for key, value in event.items():
        if not isinstance(value, (int, float, bool, type(None))):
            text = value if isinstance(value, str) else str(value)
            event[key] = text[:MAX_VALUE]
    if dropped:
        event["dropped"] = ",".join(dropped)
    return event


def processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _render_exception,
        scrub,
    ]


class _TemplateOnly(logging.Handler):
    """Library records into our log stream as their message template, without arguments."""

    def emit(self, record: logging.LogRecord) -> None:
        structlog.get_logger(record.name).log(record.levelno, str(record.msg), logger=record.name)


# sd-daemon(3) priorities by structlog method name.
PRIORITIES = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7}


_JSON = structlog.processors.JSONRenderer()


def _with_priority(logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
    line = _JSON(logger, method, event)
    return f"<{PRIORITIES.get(method, 6)}>{line.decode() if isinstance(line, bytes) else line}"


def to_journal() -> bool:
    """Whether stderr is the journal's stream: systemd sets JOURNAL_STREAM to its device and inode."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        found = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{found.st_dev}:{found.st_ino}"


def configure(stream: TextIO | None = None, level: int = logging.INFO, journal: bool | None = None) -> None:
    """`journal`: prefix each line with its priority; by default when stderr is the journal's stream."""
    prefixed = to_journal() if journal is None and stream is None else bool(journal)
    structlog.configure(
        processors=[*processors(), _with_priority if prefixed else _JSON],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers[:] = [_TemplateOnly()]
    root.setLevel(logging.WARNING)
    logging.getLogger("gnupg").setLevel(logging.WARNING)
