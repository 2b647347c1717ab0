"""Structured JSON logs on stderr that cannot carry personal data.

The last processor is an allow-list: only keys this code is known to fill with
ids, codes and counts survive, whatever a call site passes. Exceptions are
rendered as type and frames only, never locals and never the message of a
foreign exception (a library may echo a line of the signal in it). Library log
records keep only their unformatted message template, never its arguments.
"""

import logging
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


def configure(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[*processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers[:] = [_TemplateOnly()]
    root.setLevel(logging.WARNING)
    logging.getLogger("gnupg").setLevel(logging.WARNING)
