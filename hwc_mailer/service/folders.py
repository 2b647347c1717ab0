"""The folders of the service file as the server has them, found once per start.

Sent and Trash are found by their role (RFC 6154 SPECIAL-USE: Exchange's "Verzonden items" and "Verwijderde
items" are marked \\Sent and \\Trash) unless the service file names them. A folder the service file names that
the server does not have is a configuration error at start and in `check`, never a pass that quietly purges
nothing. The folders the daemon creates itself (quarantine, manual, alerts) are exempt.
"""

from collections.abc import Sequence
from typing import Protocol

import structlog

from ..edges.protocols import Placed
from ..errors import FolderMissing
from ..settings.config import SENT_ROLE, TRASH_ROLE, Folders

log = structlog.get_logger("hwc_mailer.folders")


class FolderFinder(Protocol):
    """What finding the folders needs of a Mailbox."""

    def find_folder(self, name: str) -> str | None: ...


def resolve_folders(mailbox: FolderFinder, configured: Folders) -> tuple[Folders, list[str]]:
    """The folders with Sent and Trash by their real names, and warnings (a role no folder has); FolderMissing when
    a named folder does not exist."""
    missing = [f"folders.{key}: {name!r}" for key, name in (("inbox", configured.inbox), ("sent", configured.sent),
                                                             ("trash", configured.trash))
               if name is not None and name not in (SENT_ROLE, TRASH_ROLE) and mailbox.find_folder(name) is None]
    if missing:
        raise FolderMissing(f"{'; '.join(missing)}: no such folder on the IMAP server; write the name as the server "
                          "shows it, leave sent and trash out to find them by their role, or set them to null when "
                          "the server keeps no such folder")
    found: dict[str, str | None] = {}
    warnings = []
    for key, name in (("sent", configured.sent), ("trash", configured.trash)):
        if name in (SENT_ROLE, TRASH_ROLE):
            found[key] = mailbox.find_folder(name)
            if found[key] is None:
                warnings.append(f"folders.{key}: the IMAP server marks no folder {name}; copies the server may keep "
                                f"there are not purged: name the folder, or set folders.{key} to null")
    for warning in warnings:
        log.warning("folder-not-found", error=warning)
    return configured.model_copy(update=found), warnings


class HeldFolders(Protocol):
    """What purging a placed message needs of a Mailbox."""

    def find_by_message_id(self, folder: str, message_id: str) -> dict[int, int]: ...

    def delete(self, folder: str, uids: Sequence[int]) -> None: ...


def purge_placed(mailbox: HeldFolders, held: Placed, trash: str | None) -> bool:
    """The message the daemon placed, and its exact copies in Trash: by Message-ID and size, so nothing a person
    filed goes with it. False, and nothing deleted, when it has no Message-ID to be found by or its folder holds
    more than one such message (anyone can copy a Message-ID: another held signal may look the same); then it is
    left for a person."""
    if not held.message_id:
        return False
    found = {folder: [uid for uid, size in mailbox.find_by_message_id(folder, held.message_id).items()
                      if size == held.size]
             for folder in dict.fromkeys(folder for folder in (held.folder, trash) if folder is not None)}
    if len(found[held.folder]) > 1:
        return False
    for folder, uids in found.items():
        mailbox.delete(folder, sorted(uids))
    return True
