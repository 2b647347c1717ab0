"""The pseudonymised register index on disk: one SQLite file of keyed hashes and school codes.

It holds no name, no date of birth and nothing readable: only `entry_key` hashes (the
key is a secret kept outside the state dir), the school code each points at, when it
was imported and how many pupils and entries it has. It says nothing about who had a
signal: lookups only read it. A new index is written beside the old one and moved over
it in one rename, so a reader sees the old index or the new one, never half of one;
a running daemon notices the new file at its next lookup.
"""

import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from ..domain.register import Pupil, entry_key, indexed_names, written_names
from ..errors import RegisterUnavailable

FORMAT = "1"


@dataclass(frozen=True)
class IndexInfo:
    imported_at: datetime
    pupils: int
    entries: int
    key_matches: bool


def _read_only(path: Path) -> str:
    """The index opened read-only, whatever characters its path holds."""
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _key_check(secret: bytes) -> str:
    """Lets `check` tell a wrong key from an empty register, and tells nothing about any pupil."""
    return hmac.new(secret, b"hwc-register-key-check", hashlib.sha256).hexdigest()


def write_index(path: Path, secret: bytes, pupils: Iterable[Pupil], now: datetime) -> IndexInfo:
    """Build a new index from `pupils` and put it in place of the old one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for leftover in path.parent.glob(f".{path.name}.*.new"):    # of an import that was killed (hashes only)
        leftover.unlink(missing_ok=True)
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}.new")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    try:
        connection = sqlite3.connect(scratch)
        try:
            connection.executescript("""
                PRAGMA journal_mode = OFF;
                CREATE TABLE entry (key TEXT NOT NULL, school TEXT NOT NULL, PRIMARY KEY (key, school)) WITHOUT ROWID;
                CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            """)
            count = 0
            rows: set[tuple[str, str]] = set()
            for pupil in pupils:
                count += 1
                rows.update((entry_key(secret, name, pupil.birth_date), pupil.school)
                            for name in indexed_names(pupil))
            connection.executemany("INSERT INTO entry (key, school) VALUES (?, ?)", sorted(rows))
            connection.executemany("INSERT INTO meta (name, value) VALUES (?, ?)", [
                ("format", FORMAT), ("imported_at", now.isoformat()), ("pupils", str(count)),
                ("entries", str(len(rows))), ("key_check", _key_check(secret))])
            connection.commit()
        finally:
            connection.close()
        with open(scratch, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return IndexInfo(now, count, len(rows), True)


def read_info(path: Path, secret: bytes) -> IndexInfo | None:
    """What the index says about itself; None when there is none yet."""
    if not path.exists():
        return None
    try:
        connection = sqlite3.connect(_read_only(path), uri=True)
        try:
            meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
        finally:
            connection.close()
        return IndexInfo(datetime.fromisoformat(meta["imported_at"]), int(meta["pupils"]), int(meta["entries"]),
                         hmac.compare_digest(meta["key_check"], _key_check(secret)))
    except (sqlite3.Error, KeyError, ValueError) as error:
        raise RegisterUnavailable(f"register index {path} cannot be read ({type(error).__name__}); "
                                  "import the export again with `hwc-mailer register import`") from None


class RegisterIndex:
    """The embedded `Register`: looks a signal's name and date of birth up by keyed hash."""

    def __init__(self, path: Path, secret: bytes, *, refuse_after: timedelta | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self._path = path
        self._secret = secret
        self._refuse_after = refuse_after
        self._now = now
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, ...] | None = None
        self._imported_at: datetime | None = None

    def _current(self) -> sqlite3.Connection:
        """The open index, reopened when a new import replaced the file."""
        try:
            status = self._path.stat()
        except OSError:
            raise RegisterUnavailable(f"register index {self._path} does not exist; import the export with "
                                      "`hwc-mailer register import`") from None
        # ctime and size too: a copy over the file in place that keeps its mtime (cp -p) is still noticed.
        identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        if self._connection is None or identity != self._identity:
            self.close()
            try:
                connection = sqlite3.connect(_read_only(self._path), uri=True)
            except sqlite3.Error as error:
                raise RegisterUnavailable(f"register index {self._path} cannot be opened "
                                          f"({type(error).__name__})") from None
            try:
                meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
                check = meta.get("key_check")
                imported_at = datetime.fromisoformat(meta["imported_at"])
            except (sqlite3.Error, KeyError, ValueError) as error:
                connection.close()
                raise RegisterUnavailable(f"register index {self._path} cannot be read "
                                          f"({type(error).__name__})") from None
            # Another key finds no child at all: that must not pass for "not in the register".
            if check is None or not hmac.compare_digest(str(check), _key_check(self._secret)):
                connection.close()
                raise RegisterUnavailable(f"register index {self._path} was made with another key than register.key; "
                                          "import the export again with `hwc-mailer register import`")
            self._connection, self._identity, self._imported_at = connection, identity, imported_at
        self._refuse_stale()
        return self._connection

    def _refuse_stale(self) -> None:
        """An index older than register.refuse_after_days would send a child who changed school to the old one."""
        if self._refuse_after is None or self._now is None or self._imported_at is None:
            return
        age = self._now() - self._imported_at
        if age > self._refuse_after:
            raise RegisterUnavailable(f"register index {self._path} is {age.total_seconds() / 86400:.0f} days old "
                                      f"(more than register.refuse_after_days); is the export timer running? "
                                      "(systemctl status hwc-mailer-register.timer)")

    def schools_of(self, name: str, birth_date: date) -> frozenset[str]:
        keys = sorted(entry_key(self._secret, variant, birth_date) for variant in written_names(name))
        if not keys:
            return frozenset()
        try:
            rows = self._current().execute(
                f"SELECT DISTINCT school FROM entry WHERE key IN ({', '.join('?' * len(keys))})", keys).fetchall()
        except sqlite3.Error as error:
            raise RegisterUnavailable(f"register index {self._path} cannot be read ({type(error).__name__})") from None
        return frozenset(school for (school,) in rows)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
