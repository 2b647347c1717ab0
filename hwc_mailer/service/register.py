"""Importing the leerplicht administration's export into the pseudonymised register index.

The export arrives as CSV (`;` or `,`, UTF-8 or Windows-1252), from a file or a pipe,
so it never has to rest on the daemon's disk; nothing of it is copied anywhere. A row
that cannot be read is reported by its line number, never by its content, and left
out. A new index that lost more than `register.max_shrink` of the current one's pupils
is refused: a broken export must not empty the register.
"""

import csv
import io
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.register import NO_SCHOOL, Pupil, register_name
from ..domain.signal import parse_dutch_date
from ..domain.text import SCHOOL_CODE, collapse, normalise_code
from ..edges.register import IndexInfo, read_info, write_index
from ..errors import ConfigError, RegisterUnavailable
from ..settings.config import RegisterColumns, Settings

if TYPE_CHECKING:
    from _csv import Reader

MAX_EXPORT_BYTES = 256 * 1024 * 1024
MIN_KEY_LENGTH = 16
_FIELDS = ("given_names", "prefix", "surname", "call_name", "birth_date", "brin", "location")
# A multi-byte UTF-8 sequence: a file that has them is UTF-8, and a stray byte in it is an error, not a hint.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


class ExportError(ConfigError):
    """The export as a whole cannot be used (no header, a required column missing, too large)."""


@dataclass(frozen=True)
class ImportReport:
    pupils: int
    skipped: tuple[str, ...]          # "line 14: ...": what was wrong, never what was written
    info: IndexInfo | None            # None when the import was refused
    refused: str | None = None


def register_key(settings: Settings) -> bytes:
    if settings.lookup is None:
        raise ConfigError("no register: section in the service file; see docs/register.md")
    key = settings.lookup.key.read()
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"register.key is shorter than {MIN_KEY_LENGTH} characters; make one with "
                          "`openssl rand -base64 32`")
    return key.encode()


def decode_export(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark) or, failing that, Windows-1252 as Excel writes it."""
    if len(data) > MAX_EXPORT_BYTES:
        raise ExportError(f"the export is larger than {MAX_EXPORT_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if _UTF8_SEQUENCE.search(data):
            line = data.count(b"\n", 0, error.start) + 1
            raise ExportError(f"line {line}: a byte that is not UTF-8 in an export that is otherwise UTF-8; read as "
                              "Windows-1252 every accented name would be garbled. Export the file again as UTF-8; "
                              "nothing was imported") from None
        return data.decode("cp1252", errors="replace")


def _birth_date(value: str) -> date | None:
    """Dutch forms, plus the compact YYYYMMDD that administrations export."""
    text = collapse(value)
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    return parse_dutch_date(text)


def read_export(text: str, columns: RegisterColumns) -> tuple[list[Pupil], list[str]]:
    """The pupils in the export, and the line number and problem of every row left out."""
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    if not header_line:
        raise ExportError("the export is empty")
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)   # where `delimiter` came from
    if header is None:
        raise ExportError("the export is empty")
    positions = {register_name(name): index for index, name in enumerate(header)}
    wanted = {name: getattr(columns, name) for name in _FIELDS}
    missing = [column for column in wanted.values() if column is not None and register_name(column) not in positions]
    if missing:
        raise ExportError(f"the export has no column {', '.join(map(repr, missing))} (it has {len(header)} "
                          "columns); name the columns under register.columns in the service file, or set an "
                          "optional one (given_names, prefix, call_name, location) to null when the export has none")
    where = {name: positions[register_name(column)] if column is not None else None
             for name, column in wanted.items()}
    pupils: list[Pupil] = []
    skipped: list[str] = []
    for line, row in _rows(reader):
        if reader.line_num > line:              # names, dates and codes hold no line break: a quote never closed
            raise _unclosed(line)
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            skipped.append(f"line {line}: {len(row)} fields where the header has {len(header)}")
            continue
        value = {name: collapse(row[index]) if index is not None else "" for name, index in where.items()}
        pupil = _pupil(value)
        if isinstance(pupil, str):
            skipped.append(f"line {line}: {pupil}")
        else:
            pupils.append(pupil)
    return pupils, skipped


def _rows(reader: "Reader") -> Iterator[tuple[int, list[str]]]:
    """Each row with the line it starts on (a quoted field may hold line breaks). A row the csv module cannot
    read at all (a quote that never closes runs into its field size limit) stops the import: the rows after it
    would be lost unnoticed."""
    line = reader.line_num + 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error:
        raise _unclosed(line) from None


def _unclosed(line: int) -> ExportError:
    return ExportError(f"line {line}: this row cannot be read, probably a quote that is not closed; nothing was "
                       "imported")


def _pupil(value: dict[str, str]) -> Pupil | str:
    """The pupil a row describes, or what is wrong with it. A pupil without a usable school code (a school
    abroad, an exemption, a BRIN mistyped) is still indexed, under NO_SCHOOL, so a namesake's lookup stays
    ambiguous instead of finding the other child alone."""
    if not value["surname"]:
        return "no surname"
    if not (value["given_names"] or value["call_name"]):
        return "no given name and no call name"
    birth_date = _birth_date(value["birth_date"])
    if birth_date is None:
        return "date of birth not readable (DD-MM-YYYY, YYYY-MM-DD or YYYYMMDD)"
    location = value["location"]
    code = normalise_code(value["brin"]) + (location.zfill(2) if location.isdigit() and len(location) <= 2 else "")
    usable = SCHOOL_CODE.match(code) is not None and (not location or (location.isdigit() and len(location) <= 2))
    return Pupil(value["given_names"], value["prefix"], value["surname"], value["call_name"], birth_date,
                 code if usable else NO_SCHOOL)


def import_register(data: bytes, settings: Settings, now: datetime, *, force: bool = False) -> ImportReport:
    """Read the export and, unless it lost too many pupils, put a new index in place of the old one."""
    assert settings.lookup is not None
    key = register_key(settings)
    path = settings.register_index
    assert isinstance(path, Path)
    pupils, skipped = read_export(decode_export(data), settings.lookup.columns)
    if not pupils:
        return ImportReport(0, tuple(skipped), None, "the export has no readable pupil; the index is unchanged")
    try:
        current = read_info(path, key)
    except RegisterUnavailable:
        current = None                # a damaged index is what an import repairs: nothing to guard
    if current is not None and current.key_matches and not force:
        floor = current.pupils * (1 - settings.lookup.max_shrink)
        if len(pupils) < floor:
            return ImportReport(len(pupils), tuple(skipped), None,
                                f"the export has {len(pupils)} readable pupils where the index has {current.pupils} "
                                f"(more than {settings.lookup.max_shrink:.0%} fewer); the index is unchanged. "
                                "Check the export; if the drop is real, import it with --force")
    try:
        info = write_index(path, key, pupils, now)
    except (OSError, sqlite3.Error) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise ConfigError(f"cannot write the register index {path}: {reason}; check that the state dir is writable "
                          "by the service user and has room") from None
    return ImportReport(len(pupils), tuple(skipped), info)


def describe(info: IndexInfo, now: datetime) -> Sequence[str]:
    age = (now - info.imported_at).total_seconds() / 86400
    return (f"imported {info.imported_at:%Y-%m-%d %H:%M} UTC ({age:.1f} days ago)",
            f"{info.pupils} pupils, {info.entries} entries",
            "key matches" if info.key_matches else "KEY DOES NOT MATCH: this index was made with another key")
