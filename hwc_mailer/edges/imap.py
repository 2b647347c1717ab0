"""The only module that talks IMAP.

Fetches never set \\Seen (the mailbox may be shared with people); deletion is
\\Deleted plus UID EXPUNGE of exactly our UIDs. A search by Message-ID only
nominates candidates (SEARCH HEADER is a case-insensitive substring match): each
is confirmed by its own Message-ID field. Waiting uses IDLE in bounded
periods: after a server drops the connection `idle_check()` can keep returning
nothing, so every period ends with DONE and a NOOP that fails loudly on a dead
connection. Every library or network error leaves this module as
MailboxUnavailable, with where and what to check (edges/reach.py: the sentence `check` prints too).

Two clocks bound every exchange. `timeout_seconds` is the longest wait for one
read; `deadline_seconds` is the longest one step may take in all (connect + TLS +
greeting + STARTTLS + login; or the few commands of one call, such as SELECT and
FETCH): a server that trickles a byte now and then never trips a per-read timeout,
so a timer shuts the socket down when the step's time is up, which ends the read
in progress. The TLS handshake itself is bounded in total by the socket timeout,
which is set to the time left before it starts.
"""

import imaplib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..domain.logins import LoginProblem, named
from ..domain.text import well_formed_message_id
from ..errors import MailboxLoginRefused, MailboxUnavailable
from ..settings.config import SENT_ROLE, TRASH_ROLE, Imap, TlsMode
from .login import LoggingIn, Login, LoginGate, TokenFailure, login_failure, tls_context
from .reach import (
    GREETING_PATIENCE,
    TLS_WORDS,
    Deadline,
    SpeaksTlsAtOnce,
    certificate_refused,
    diagnose,
    presented_certificate,
    secured,
    silent_but_tls,
)

CHECK_STOP_EVERY = 1.0
# imaplib refuses any line over 1 MB: a SEARCH answer for an inbox flooded with 150,000 mails is longer, and
# the daemon would stop at every pass before reaching a single signal. 64 MB is some millions of UIDs.
setattr(imaplib, "_MAXLINE", max(getattr(imaplib, "_MAXLINE", 0), 64 * 1024 * 1024))  # noqa: B010

MESSAGE_ID_FIELD = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_FOLDED = re.compile(r"\r?\n(?=[ \t])")


def message_ids_in(header: bytes) -> list[str]:
    """The value of every Message-ID field in a block of header lines, unfolded and stripped, in order.

    Read by hand: Python's header parser raises on hostile values such as "<>". Lines are split on LF
    only (str.splitlines also splits on U+2028 and friends).
    """
    values = []
    for line in _FOLDED.sub("", header.decode("latin-1")).split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.lower() == "message-id":
            values.append(value.strip(" \t\r"))
    return values


class _Plain(imaplib.IMAP4):
    """imaplib's connection, showing its socket to the connect step's deadline before the greeting is read. When
    `probing` (`check`), a server still silent after GREETING_PATIENCE that answers a TLS handshake wants TLS at
    once: said now, not when the greeting's timeout is up."""

    def __init__(self, host: str, port: int, timeout: float | None, deadline: Deadline, probing: bool) -> None:
        self._deadline = deadline
        self._probing = probing
        super().__init__(host, port, deadline.bounded(timeout))

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), self._deadline.bounded(timeout))
        self._deadline.watch(sock)
        left = self._deadline.bounded(timeout)
        wait = GREETING_PATIENCE if left is None else min(GREETING_PATIENCE, left)
        if self._probing and silent_but_tls(sock, self.host, self.port, wait):
            sock.close()
            raise SpeaksTlsAtOnce(f"port {self.port} speaks TLS at once")
        return sock


class _Tls(imaplib.IMAP4_SSL):
    """The same over implicit TLS: the handshake runs within the socket's timeout, which never outlasts the step."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float | None,
                 deadline: Deadline) -> None:
        self._deadline = deadline
        super().__init__(host, port, ssl_context=context, timeout=deadline.bounded(timeout))

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), self._deadline.bounded(timeout))
        context: ssl.SSLContext = self.ssl_context
        secure = context.wrap_socket(sock, server_hostname=self.host)
        self._deadline.watch(secure)
        return secure


if TYPE_CHECKING:
    class _ClientBase:
        """IMAPClient as far as this module needs it typed: imapclient ships no type information."""

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...
else:
    _ClientBase = IMAPClient


class _Client(_ClientBase):
    """IMAPClient whose connection shows each new socket to the connect step's deadline before anything is read.

    It replaces `IMAPClient._create_IMAP4` (the same in imapclient 2 to 4) with the stdlib classes it wraps.
    """

    def __init__(self, deadline: Deadline, host: str, probing: bool, **kwargs: Any) -> None:
        self._deadline = deadline
        self._probing = probing
        super().__init__(host, **kwargs)

    def _create_IMAP4(self) -> imaplib.IMAP4:
        timeout = self._timeout.connect
        if self.ssl:
            return _Tls(self.host, self.port, self.ssl_context, timeout, self._deadline)
        return _Plain(self.host, self.port, timeout, self._deadline, self._probing)


# The roles folders.sent and folders.trash may name instead of a folder, and imapclient's flag for each.
_ROLES = {SENT_ROLE: b"\\Sent", TRASH_ROLE: b"\\Trash"}


class ImapMailbox(LoggingIn):
    protocol = "IMAP"

    def __init__(self, server: Imap, login: Login, retry_seconds: float = 300.0, *, probing: bool = False) -> None:
        self._server = server
        self.probing = probing
        self._login = login
        self._gate = LoginGate(retry_seconds)
        self._client: IMAPClient | None = None
        self._selected: str | None = None
        self.uidvalidity: dict[str, int] = {}

    def __enter__(self) -> "ImapMailbox":
        self.connect()
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    @contextmanager
    def _translated(self, doing: str, deadline: Deadline) -> Iterator[None]:
        """One step within its deadline; every library or network error leaves it as MailboxUnavailable, and a
        server that took the login but keeps the mailbox shut (Exchange without the mailbox permission) as a
        refused login."""
        server = self._server
        try:
            with deadline:
                yield
        except (IMAPClientError, imaplib.IMAP4.error, OSError, ssl.SSLError) as error:
            self._drop()
            if named(str(error)) is LoginProblem.MAILBOX_NOT_GRANTED:
                problem = LoginProblem.MAILBOX_NOT_GRANTED
                refusal = MailboxLoginRefused(f"{self.where}, {doing}: the login was accepted but the mailbox is not "
                                              f"open to it; {problem.fix}", problem)
                raise self._gate.after(refusal) from None
            if deadline.passed:
                raise MailboxUnavailable(
                    f"IMAP server {server.host}:{server.port}, {doing}: no complete answer within "
                    f"{server.deadline_seconds:g}s (imap.deadline_seconds); the server or the network is stalled "
                    "or far too slow: check both, or raise the deadline") from None
            certificate = (presented_certificate(server, self.protocol)
                           if self.probing and certificate_refused(error) else None)
            raise MailboxUnavailable(f"{self.where}, {doing}: "
                                     f"{diagnose(error, server, 'imap', datetime.now(UTC), certificate)}") from None

    @contextmanager
    def _boundary(self, doing: str, *, limited: bool = True) -> Iterator[None]:
        """The commands of one call: connected first (connecting is a step of its own), then within
        imap.deadline_seconds unless `limited` is false (waiting in IDLE, bounded by its own clock)."""
        client = self._connected()
        with self._translated(doing, Deadline(self._server.deadline_seconds if limited else None,
                                               client.socket())):
            yield

    def connect(self) -> None:
        """Connect, TLS and log in: one step within imap.deadline_seconds, however slowly the server trickles."""
        server = self._server
        self._gate.check()
        context = tls_context(server.ca_file)
        deadline = Deadline(server.deadline_seconds)
        self.secured = None
        with self._translated(f"connecting with {TLS_WORDS[server.tls]}", deadline):
            implicit = server.tls is TlsMode.implicit
            client = _Client(deadline, server.host, self.probing, port=server.port, ssl=implicit,
                             ssl_context=context, timeout=server.timeout_seconds)
            try:
                if not implicit:
                    client.socket().settimeout(deadline.bounded(server.timeout_seconds))
                    client.starttls(context)
                    client.socket().settimeout(server.timeout_seconds)
                    deadline.watch(client.socket())
                try:
                    self._login.imap(client)
                except (LoginError, TokenFailure) as error:
                    raise self._gate.after(login_failure(error, self._login, self.where, MailboxLoginRefused,
                                                         MailboxUnavailable)) from None
                self._gate.accepted()
                self.secured = secured(client.socket(), server.tls)
            except BaseException:
                with suppress(OSError):
                    client.shutdown()
                raise
            self._client = client
            self._selected = None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                with Deadline(self._server.deadline_seconds, client.socket()):
                    client.logout()
            except (IMAPClientError, imaplib.IMAP4.error, OSError):
                with suppress(OSError):
                    client.shutdown()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with suppress(OSError):
                client.shutdown()

    def _connected(self) -> IMAPClient:
        if self._client is None:
            self.connect()
        assert self._client is not None
        return self._client

    def _select(self, folder: str) -> IMAPClient:
        client = self._connected()
        if self._selected != folder:
            status = client.select_folder(folder)
            self._selected = folder
            self.uidvalidity[folder] = int(status[b"UIDVALIDITY"])
        return client

    def uids(self, folder: str) -> tuple[int, list[int]]:
        """(UIDVALIDITY, every UID) of `folder`: together they name a message for good."""
        with self._boundary(f"listing {folder}"):
            client = self._select(folder)
            uids = sorted(client.search("ALL"))
            return self.uidvalidity[folder], uids

    def _fetch_one(self, folder: str, uid: int, item: str, key: bytes, doing: str) -> Any:
        with self._boundary(f"{doing} in {folder}"):
            return self._select(folder).fetch([uid], [item]).get(uid, {}).get(key)

    def fetch(self, folder: str, uid: int) -> bytes | None:
        """The whole message without touching its flags, or None if it is gone."""
        body = self._fetch_one(folder, uid, "BODY.PEEK[]", b"BODY[]", "fetching")
        return bytes(body) if body is not None else None

    def size(self, folder: str, uid: int) -> int | None:
        """The message's size as the server reports it, or None if it is gone: checked before any download."""
        size = self._fetch_one(folder, uid, "RFC822.SIZE", b"RFC822.SIZE", "sizing")
        return int(size) if size is not None else None

    def fetch_header(self, folder: str, uid: int) -> bytes | None:
        header = self._fetch_one(folder, uid, "BODY.PEEK[HEADER]", b"BODY[HEADER]", "fetching a header")
        return bytes(header) if header is not None else None

    def move(self, folder: str, uid: int, target: str) -> None:
        """Move one message, creating the target folder on first use."""
        with self._boundary(f"moving from {folder} to {target}"):
            client = self._connected()
            if not client.folder_exists(target):
                client.create_folder(target)
                client.subscribe_folder(target)
            client = self._select(folder)
            if client.has_capability("MOVE"):
                client.move([uid], target)
            else:
                client.copy([uid], target)
                _expunge(client, [uid])

    def append(self, folder: str, raw: bytes) -> None:
        """Put one message into `folder` (created and subscribed on first use), unread: where officers find an
        alert that could not be mailed."""
        with self._boundary(f"appending to {folder}"):
            client = self._connected()
            if not client.folder_exists(folder):
                client.create_folder(folder)
                client.subscribe_folder(folder)
            client.append(folder, raw)

    def find_folder(self, name: str) -> str | None:
        """The folder `name` names: itself when it exists, or for a role (\\Sent, \\Trash) the folder the server
        marks with it (RFC 6154), else one of the common names of that role; None when there is none."""
        with self._boundary(f"looking for {name}"):
            client = self._connected()
            if name in _ROLES:
                found = client.find_special_folder(_ROLES[name])
                return str(found) if found is not None else None
            return name if client.folder_exists(name) else None

    def delete(self, folder: str, uids: Sequence[int]) -> None:
        if not uids:
            return
        with self._boundary(f"deleting from {folder}"):
            _expunge(self._select(folder), uids)

    def find_by_message_id(self, folder: str, message_id: str) -> dict[int, int]:
        """The messages in `folder` whose one Message-ID field is exactly `message_id`: UID -> RFC822.SIZE.

        SEARCH HEADER is a case-insensitive substring match, so it only nominates candidates; each one's
        Message-ID field and size are fetched (nothing else, flags untouched) and it counts only when it has
        exactly one Message-ID, equal to this one byte for byte. An id that is not well formed finds nothing,
        and neither does a folder that does not exist.
        """
        if not well_formed_message_id(message_id):
            return {}
        with self._boundary(f"searching {folder}"):
            if not self._connected().folder_exists(folder):
                return {}
            client = self._select(folder)
            candidates = client.search(["HEADER", "Message-ID", message_id])
            fetched = client.fetch(candidates, [MESSAGE_ID_FIELD, b"RFC822.SIZE"]) if candidates else {}
        found = {}
        for uid, items in fetched.items():
            header = next((value for key, value in items.items() if key.startswith(b"BODY[HEADER.FIELDS")), None)
            size = items.get(b"RFC822.SIZE")
            if header is not None and size is not None and message_ids_in(bytes(header)) == [message_id]:
                found[int(uid)] = int(size)
        return dict(sorted(found.items()))

    def present(self, folder: str) -> set[tuple[str, int]]:
        """(Message-ID, RFC822.SIZE) of every message in `folder` with exactly one well-formed Message-ID, in one
        FETCH, flags untouched; empty for a folder that does not exist."""
        with self._boundary(f"listing {folder}"):
            if not self._connected().folder_exists(folder):
                return set()
            client = self._select(folder)
            uids = client.search("ALL")
            fetched = client.fetch(uids, [MESSAGE_ID_FIELD, b"RFC822.SIZE"]) if uids else {}
        found = set()
        for items in fetched.values():
            header = next((value for key, value in items.items() if key.startswith(b"BODY[HEADER.FIELDS")), None)
            size = items.get(b"RFC822.SIZE")
            ids = message_ids_in(bytes(header)) if header is not None else []
            if size is not None and len(ids) == 1 and well_formed_message_id(ids[0]):
                found.add((ids[0], int(size)))
        return found

    def wait_for_mail(self, folder: str, seconds: float, stop: Callable[[], bool]) -> None:
        """Return when mail may have arrived, `seconds` passed, or `stop()` is true.

        Without IDLE this is just the polling interval. Entering and leaving IDLE are commands within the
        deadline; the wait between is bounded by `seconds` (each check reads only what has arrived).
        """
        doing = f"waiting on {folder}"
        with self._boundary(doing):
            client = self._select(folder)
            idle = client.has_capability("IDLE")
            if idle:
                client.idle()
        if not idle:
            _sleep_until(time.monotonic() + seconds, stop)
            return
        try:
            with self._boundary(doing, limited=False):
                deadline = time.monotonic() + seconds
                while not stop() and time.monotonic() < deadline:
                    wait = min(CHECK_STOP_EVERY, max(0.0, deadline - time.monotonic()))
                    started = time.monotonic()
                    responses = client.idle_check(timeout=wait)
                    if any(_is_new_mail(response) for response in responses):
                        break
                    # The server said goodbye (a restart, a kicked session): noticed now, not at the end of the
                    # IDLE period, and the daemon reconnects at once.
                    if any(_is_goodbye(response) for response in responses):
                        self._drop()
                        raise MailboxUnavailable(f"{self.where}: the server closed the connection while waiting "
                                                 "for mail; reconnecting")
                    # An empty answer long before the timeout is imapclient's way of saying EOF, or a TLS record
                    # that has not fully arrived: leaving IDLE and a NOOP tell them apart (a dead connection
                    # fails them), and the wait goes on in a new IDLE.
                    if not responses and time.monotonic() - started < wait / 2:
                        client.idle_done()
                        client.noop()
                        client.idle()
        finally:
            current = self._client
            if current is not None and current is client:     # not dropped by an error: leave IDLE
                with self._boundary(doing):
                    current.idle_done()
                    current.noop()


def _expunge(client: IMAPClient, uids: Sequence[int]) -> None:
    """Exactly these messages, never others someone else flagged \\Deleted."""
    client.add_flags(list(uids), [b"\\Deleted"], silent=True)
    client.uid_expunge(list(uids))


def _is_goodbye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


def _is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _sleep_until(deadline: float, stop: Callable[[], bool]) -> None:
    while not stop() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(CHECK_STOP_EVERY, left))

