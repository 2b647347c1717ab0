"""The only module that talks IMAP.

Fetches never set \\Seen (the mailbox may be shared with people); deletion is
\\Deleted plus UID EXPUNGE of exactly our UIDs. Waiting uses IDLE in bounded
periods: after a server drops the connection `idle_check()` can keep returning
nothing, so every period ends with DONE and a NOOP that fails loudly on a dead
connection. Every library or network error leaves this module as
MailboxUnavailable, with where and what to check.
"""

import imaplib
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from ..errors import MailboxUnavailable
from ..settings.config import Imap, TlsMode
from .login import Login, tls_context

CHECK_STOP_EVERY = 1.0


class ImapMailbox:
    def __init__(self, server: Imap, login: Login) -> None:
        self._server = server
        self._login = login
        self._client: IMAPClient | None = None
        self._selected: str | None = None
        self.uidvalidity: dict[str, int] = {}

    def __enter__(self) -> "ImapMailbox":
        self.connect()
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    @contextmanager
    def _boundary(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (IMAPClientError, imaplib.IMAP4.error, OSError, ssl.SSLError) as error:
            self._drop()
            detail = type(error).__name__ if isinstance(error, (OSError, ssl.SSLError)) else str(error)[:200]
            raise MailboxUnavailable(f"IMAP server {self._server.host}:{self._server.port}, {doing}: {detail}; "
                                     "check host, port, tls mode, CA file and credentials") from None

    def connect(self) -> None:
        server = self._server
        context = tls_context(server.ca_file)
        with self._boundary("connecting"):
            implicit = server.tls is TlsMode.implicit
            client = IMAPClient(server.host, port=server.port, ssl=implicit, ssl_context=context,
                                timeout=server.timeout_seconds)
            if not implicit:
                client.starttls(context)
            self._login.imap(client)
            self._client = client
            self._selected = None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except (IMAPClientError, imaplib.IMAP4.error, OSError):
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

    def delete(self, folder: str, uids: Sequence[int]) -> None:
        if not uids:
            return
        with self._boundary(f"deleting from {folder}"):
            _expunge(self._select(folder), uids)

    def find_by_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs in `folder` with this Message-ID; [] when the folder does not exist."""
        with self._boundary(f"searching {folder}"):
            if not self._connected().folder_exists(folder):
                return []
            return sorted(self._select(folder).search(["HEADER", "Message-ID", message_id]))

    def wait_for_mail(self, folder: str, seconds: float, stop: Callable[[], bool]) -> None:
        """Return when mail may have arrived, `seconds` passed, or `stop()` is true.

        Without IDLE this is just the polling interval.
        """
        with self._boundary(f"waiting on {folder}"):
            client = self._select(folder)
            if not client.has_capability("IDLE"):
                _sleep_until(time.monotonic() + seconds, stop)
                return
            client.idle()
            deadline = time.monotonic() + seconds
            try:
                while not stop() and time.monotonic() < deadline:
                    responses = client.idle_check(timeout=min(CHECK_STOP_EVERY, max(0.0, deadline - time.monotonic())))
                    if any(_is_new_mail(response) for response in responses):
                        break
            finally:
                client.idle_done()
            client.noop()


def _expunge(client: IMAPClient, uids: Sequence[int]) -> None:
    """Exactly these messages, never others someone else flagged \\Deleted."""
    client.add_flags(list(uids), [b"\\Deleted"], silent=True)
    client.uid_expunge(list(uids))


def _is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _sleep_until(deadline: float, stop: Callable[[], bool]) -> None:
    while not stop() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(CHECK_STOP_EVERY, left))

