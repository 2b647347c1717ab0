"""One school's notice: Dutch text from templates, then the PGP/MIME envelope.

Pure: the caller encrypts `Notice.inner` and hands the armored result to
`pgp_mime`. Outside the encryption there is nothing but routing headers and a
generic Subject; the real subject travels inside as a protected header
(RFC 9788), where Thunderbird shows it.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from .config import Sender
from .errors import TemplateError
from .routing import Delivery

NOTICE_BODY = "school_notice.txt.j2"
NOTICE_SUBJECT = "school_notice.subject.j2"


@dataclass(frozen=True)
class Notice:
    school_code: str
    recipients: tuple[str, ...]
    fingerprints: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]   # outer headers, none with personal data
    inner: bytes                           # the MIME entity that gets encrypted


def dutch_date(value: date) -> str:
    return value.strftime("%d-%m-%Y")


class Templates:
    """The sandboxed Jinja2 templates an admin may edit; a broken one fails at load, not at 23:40."""

    def __init__(self, directory: Path) -> None:
        self._env = SandboxedEnvironment(loader=FileSystemLoader(directory), undefined=StrictUndefined,
                                         autoescape=False, keep_trailing_newline=True)
        self._env.filters["datum"] = dutch_date
        try:
            self._body = self._env.get_template(NOTICE_BODY)
            self._subject = self._env.get_template(NOTICE_SUBJECT)
        except JinjaError as error:
            raise TemplateError(f"template in {directory} cannot be loaded: {type(error).__name__}: "
                                f"{getattr(error, 'message', '')}") from None
        self.directory = directory

    def render_notice(self, delivery: Delivery, sender: Sender) -> tuple[str, str]:
        """(subject, body) for one school. Errors name the template, never the data."""
        values = {"school": delivery.school, "children": delivery.children, "sender": sender,
                  "contacts": delivery.school.contacts}
        try:
            subject = " ".join(self._subject.render(values).split())
            body = self._body.render(values)
        except JinjaError as error:
            raise TemplateError(f"template in {self.directory} failed to render: {type(error).__name__}") from None
        return subject, body


def outgoing_message_id(secret: bytes, source_id: str, school_code: str, domain: str) -> str:
    """The same source and school always give the same id, so a resend after a crash is one visible duplicate."""
    digest = hmac.new(secret, f"{source_id}\x00{school_code}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"<hwc.{digest}@{domain}>"


def compose_notice(delivery: Delivery, sender: Sender, templates: Templates, *, message_id: str,
                   now: datetime) -> Notice:
    subject, body = templates.render_notice(delivery, sender)
    school = delivery.school
    from_header = str(Address(sender.name, addr_spec=sender.address))
    to_header = ", ".join(str(Address(contact.name, addr_spec=contact.email)) for contact in school.contacts)
    outer = (("From", from_header), ("To", to_header), ("Subject", sender.subject),
             ("Date", format_datetime(now)), ("Message-ID", message_id))
    inner = EmailMessage(policy=SMTP)
    for name, value in outer:
        inner[name] = subject if name == "Subject" else value
    inner["HP-Outer"] = f"Subject: {sender.subject}"
    inner.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    inner.set_param("protected-headers", "v1")
    return Notice(school.code, tuple(contact.email for contact in school.contacts),
                  tuple(contact.fingerprint for contact in school.contacts), outer, inner.as_bytes())


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
