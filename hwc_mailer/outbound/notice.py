"""One school's notice: Dutch text from templates, built once per school, sealed per contact profile.

Pure: a `Sealer` (sealing.py) turns `Notice.inner` into the mail that travels.
Outside the encryption there is nothing but routing headers and a generic
Subject; the real subject travels inside as a protected header (RFC 9788),
where Thunderbird shows it.
"""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from ..domain.routing import Delivery
from ..errors import TemplateError
from ..settings.config import Sender
from ..settings.rules import School

# The Dutch templates shipped in the package: used unless the service file names a directory of its own.
PACKAGED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NOTICE = "school_notice"
ALERT = "officer_alert"


@dataclass(frozen=True)
class Notice:
    """A mail ready for encryption: outer headers hold nothing personal, `inner` holds the rest."""

    recipients: tuple[str, ...]
    fingerprints: tuple[str, ...]                  # openpgp: the recipients' keys
    headers: tuple[tuple[str, str], ...]
    inner: bytes
    certificates: tuple[str, ...] = ()             # smime: the recipients' certificates (PEM)


def dutch_date(value: date) -> str:
    return value.strftime("%d-%m-%Y")


class Templates:
    """The sandboxed Jinja2 templates an admin may edit; a broken one fails at load, not at 23:40.

    Each mail is a pair: NAME.subject.j2 (one line) and NAME.txt.j2 (the body).
    """

    def __init__(self, directory: Path) -> None:
        self._env = SandboxedEnvironment(loader=FileSystemLoader(directory), undefined=StrictUndefined,
                                         autoescape=False, keep_trailing_newline=True)
        self._env.filters["datum"] = dutch_date
        self.directory = directory
        try:
            self._pairs = {name: (self._env.get_template(f"{name}.subject.j2"),
                                  self._env.get_template(f"{name}.txt.j2")) for name in (NOTICE, ALERT)}
        except JinjaError as error:
            raise TemplateError(f"template in {directory} cannot be loaded: {type(error).__name__}: "
                                f"{getattr(error, 'message', '')}") from None

    def render(self, name: str, values: dict[str, object], *, detailed: bool = False) -> tuple[str, str]:
        """(subject, body). Errors name the template and the kind of error, never the data: Jinja's own message can
        hold a value (`x[child.name]` is undefined: "has no attribute 'Tim'"), so it is said only when `detailed`,
        for the invented data the templates are tried with at load."""
        subject_template, body_template = self._pairs[name]
        try:
            return " ".join(subject_template.render(values).split()), body_template.render(values)
        except JinjaError as error:
            said = f": {error.message}" if detailed and error.message else ""
            raise TemplateError(f"template {name} in {self.directory} failed to render: "
                                f"{type(error).__name__}{said}") from None

    def render_notice(self, delivery: Delivery[School], sender: Sender, *, detailed: bool = False) -> tuple[str, str]:
        return self.render(NOTICE, {"school": delivery.school, "children": delivery.children, "sender": sender,
                                    "contacts": delivery.school.contacts}, detailed=detailed)


@dataclass(frozen=True)
class DeliveryKey:
    """What makes one delivery of a signal: the school, how the mail is protected, and which server takes it."""

    school: str
    profile: str = "openpgp"
    transport: str = "smtp"

    @property
    def token(self) -> str:
        """The default delivery is named by its school code alone, as before deliveries had profiles, so the
        Message-IDs of signals in flight survive an upgrade."""
        if (self.profile, self.transport) == ("openpgp", "smtp"):
            return self.school
        return f"{self.school}/{self.profile}/{self.transport}"


def outgoing_message_id(secret: bytes, source_id: str, delivery: DeliveryKey, domain: str) -> str:
    """The same source and delivery always give the same id, so a resend after a crash is one visible duplicate."""
    digest = hmac.new(secret, f"{source_id}\x00{delivery.token}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"<hwc.{digest}@{domain}>"


def envelope(sender: Sender, recipients: list[tuple[str, str]], subject: str, *, message_id: str,
             now: datetime) -> tuple[tuple[str, str], ...]:
    to_header = ", ".join(str(Address(name, addr_spec=address)) for name, address in recipients)
    return (("From", str(Address(sender.name, addr_spec=sender.address))), ("To", to_header),
            ("Subject", subject), ("Date", format_datetime(now)), ("Message-ID", message_id))


def protected(headers: tuple[tuple[str, str], ...], real_subject: str, body: str) -> bytes:
    """The entity to encrypt: the real subject inside, the outer one recorded as HP-Outer.

    hp="cipher" is RFC 9788; protected-headers="v1" is the older draft that Thunderbird reads.
    """
    inner = EmailMessage(policy=SMTP)
    outer_subject = dict(headers)["Subject"]
    for name, value in headers:
        inner[name] = real_subject if name == "Subject" else value
    inner["HP-Outer"] = f"Subject: {outer_subject}"
    inner.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    inner.set_param("hp", "cipher")
    inner.set_param("protected-headers", "v1")
    return inner.as_bytes()


def plain(headers: tuple[tuple[str, str], ...], body: str) -> EmailMessage:
    """Unencrypted mail: only for officer alerts to an officer without a key, which carry no personal data."""
    message = EmailMessage(policy=SMTP)
    for name, value in headers:
        message[name] = value
    message.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    return message


def compose_notice(delivery: Delivery[School], sender: Sender, templates: Templates, *, message_id: str,
                   now: datetime, reply_to: Sequence[tuple[str, str]] = ()) -> Notice:
    """`reply_to`: the officers (name, address), so a school's answer reaches a person, not the daemon's inbox."""
    subject, body = templates.render_notice(delivery, sender)
    contacts = delivery.school.contacts
    headers = envelope(sender, [(contact.name, contact.email) for contact in contacts], sender.subject,
                       message_id=message_id, now=now)
    if reply_to:
        headers += (("Reply-To", ", ".join(str(Address(name, addr_spec=address)) for name, address in reply_to)),)
    return Notice(tuple(contact.email for contact in contacts),
                  tuple(contact.fingerprint for contact in contacts if contact.fingerprint), headers,
                  protected(headers, subject, body),
                  tuple(contact.certificate for contact in contacts if contact.certificate))
