"""How a contact's mail is protected: one Protocol, one implementation per delivery profile.

compose builds the inner notice once per school; the contact's profile seals it.
PGP/MIME (RFC 3156) is the profile today; S/MIME and a secure-mail gateway are
each one more class here.
"""

from email.message import EmailMessage
from email.policy import SMTP
from typing import Protocol

from ..edges.protocols import Keyring
from .notice import Notice


class Sealer(Protocol):
    profile: str

    def seal(self, notice: Notice) -> EmailMessage: ...


class PgpMimeSealer:
    """Encrypted to every recipient key and signed with the daemon's key, as RFC 3156 section 4 draws it."""

    profile = "openpgp"

    def __init__(self, keyring: Keyring, signer: str) -> None:
        self._keyring = keyring
        self._signer = signer

    def seal(self, notice: Notice) -> EmailMessage:
        return pgp_mime(notice, self._keyring.encrypt_signed(notice.inner, notice.fingerprints, self._signer))


def pgp_mime(notice: Notice, armored: bytes) -> EmailMessage:
    """RFC 3156 section 4: the control part, then the ciphertext."""
    message = EmailMessage(policy=SMTP)
    for name, value in notice.headers:
        message[name] = value
    message["MIME-Version"] = "1.0"
    message.set_type("multipart/encrypted")
    message.set_param("protocol", "application/pgp-encrypted")
    control = EmailMessage(policy=SMTP)
    control.set_content(b"Version: 1\r\n", maintype="application", subtype="pgp-encrypted", cte="7bit")
    control["Content-Description"] = "PGP/MIME version identification"
    payload = EmailMessage(policy=SMTP)
    payload.set_content(armored, maintype="application", subtype="octet-stream", cte="7bit",
                        disposition="inline", filename="encrypted.asc")
    payload["Content-Description"] = "OpenPGP encrypted message"
    message.attach(control)
    message.attach(payload)
    return message
