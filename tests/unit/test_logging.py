"""The log cannot carry personal data, whatever a call site or a library passes to it.

Everything logged here goes through hwc_mailer.logging.configure into a StringIO; names are invented.
"""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from hwc_mailer import logging as hwc_logging
from hwc_mailer.errors import ConfigError


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Logging configured into a buffer; the previous stdlib and structlog state is restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    gnupg = logging.getLogger("gnupg")
    saved_gnupg_level = gnupg.level
    stream = io.StringIO()
    hwc_logging.configure(stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        gnupg.setLevel(saved_gnupg_level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written so far, as JSON objects."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def only_record(stream: io.StringIO) -> dict[str, Any]:
    found = records(stream)
    assert len(found) == 1, found
    return found[0]


def test_allowed_keys_are_kept(output: io.StringIO) -> None:
    structlog.get_logger().info("delivered", uid=42, school="34CD00", children=2, outcome="sent")
    record = only_record(output)
    assert record["event"] == "delivered"
    assert record["level"] == "info"
    assert record["uid"] == 42
    assert record["school"] == "34CD00"
    assert record["children"] == 2
    assert record["outcome"] == "sent"
    assert "timestamp" in record
    assert "dropped" not in record


def test_unknown_keys_are_dropped_and_listed(output: io.StringIO) -> None:
    structlog.get_logger().warning("parsed", uid=7, name="Jan Jansen", birth_date="14-03-2017", body="Naam: Jan")
    record = only_record(output)
    assert record["uid"] == 7
    assert record["dropped"] == "birth_date,body,name"
    assert "name" not in record and "birth_date" not in record and "body" not in record
    assert "Jan Jansen" not in output.getvalue()
    assert "14-03-2017" not in output.getvalue()


def test_bound_context_is_scrubbed_too(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(source="INBOX:1:42", child="Jan Jansen")
    structlog.get_logger().info("routed")
    record = only_record(output)
    assert record["source"] == "INBOX:1:42"
    assert record["dropped"] == "child"
    assert "Jan Jansen" not in output.getvalue()


def test_long_values_are_cut(output: io.StringIO) -> None:
    structlog.get_logger().info("long", error="x" * 5000)
    assert len(only_record(output)["error"]) == hwc_logging.MAX_VALUE


def foreign_failure() -> None:
    """Library code that echoes a line of the signal in its exception, with a name in a local."""
    child_name = "Jan Jansen"
    raise ValueError(f"Naam: {child_name}")


def test_a_foreign_exception_is_logged_without_message_or_locals(output: io.StringIO) -> None:
    try:
        foreign_failure()
    except ValueError:
        structlog.get_logger().exception("step-failed", step="parse")
    record = only_record(output)
    text = output.getvalue()
    assert "Jan Jansen" not in text
    assert "Naam" not in text
    assert record["exception"].startswith("ValueError at ")
    assert "in foreign_failure" in record["exception"]
    assert record["step"] == "parse"


def test_a_foreign_exception_passed_as_exc_info_is_rendered_the_same(output: io.StringIO) -> None:
    try:
        foreign_failure()
    except ValueError as error:
        structlog.get_logger().error("step-failed", exc_info=error)
    record = only_record(output)
    assert record["exception"].startswith("ValueError at ")
    assert "Jan Jansen" not in output.getvalue()


def test_our_own_error_keeps_its_message(output: io.StringIO) -> None:
    try:
        raise ConfigError("environment variable HWC_SMTP is not set; set it or use file: instead")
    except ConfigError:
        structlog.get_logger().exception("config")
    record = only_record(output)
    assert record["exception"].startswith(
        "ConfigError: environment variable HWC_SMTP is not set; set it or use file: instead")


def test_a_library_record_keeps_only_its_template(output: io.StringIO) -> None:
    logging.getLogger("gnupg").warning("could not decrypt message from %s: %r", "Jan Jansen", "14-03-2017")
    record = only_record(output)
    assert record["event"] == "could not decrypt message from %s: %r"
    assert record["logger"] == "gnupg"
    assert record["level"] == "warning"
    text = output.getvalue()
    assert "Jan Jansen" not in text
    assert "14-03-2017" not in text


def test_library_chatter_below_warning_is_not_logged(output: io.StringIO) -> None:
    logging.getLogger("gnupg").info("status line %s", "Jan Jansen")
    logging.getLogger("gnupg").debug("raw %s", "Jan Jansen")
    assert records(output) == []


def test_a_library_exception_record_carries_no_traceback_text(output: io.StringIO) -> None:
    try:
        foreign_failure()
    except ValueError:
        logging.getLogger("imapclient").exception("fetch failed")
    record = only_record(output)
    assert record["event"] == "fetch failed"
    assert "Jan Jansen" not in output.getvalue()


def test_under_systemd_each_line_carries_its_journald_priority() -> None:
    stream = io.StringIO()
    hwc_logging.configure(stream=stream, journal=True)
    try:
        log = structlog.get_logger("test")
        log.error("smtp-rejected", school="12AB00")
        log.warning("held")
        log.info("sent")
    finally:
        hwc_logging.configure()
    lines = stream.getvalue().splitlines()
    assert [line[:3] for line in lines] == ["<3>", "<4>", "<6>"]
    assert json.loads(lines[0][3:])["school"] == "12AB00"
