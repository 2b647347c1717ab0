"""A whole small region on loopback: Veilig Thuis, a Leerplicht office, two schools.

Shared by the demo and the end-to-end tests. It makes throwaway keys in separate
gpg homes (Veilig Thuis signs, the daemon decrypts and signs, each school reads
only its own mail), writes the daemon's service file and rules, and crafts
signals the way a Veilig Thuis employee's mail client would.
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Literal

import gnupg

from lab.cli import hwc_mailer
from lab.dovecot import Dovecot
from lab.gpg import export_public, export_secret, generate_key, import_keys, new_home
from lab.smtp import RelaySmtp
from lab.tls import LabTls

REPO = Path(__file__).resolve().parent.parent
OFFICE = "leerplicht@maastricht.example.nl"
VEILIG_THUIS = "hwc@veiligthuis-zl.example.nl"
OTHER_SENDER = "hwc@veiligthuis-ln.example.nl"
OFFICER = "team@maastricht.example.nl"


@dataclass(frozen=True)
class LabSchool:
    code: str
    name: str
    municipality: str
    address: str
    home: Path
    fingerprint: str


SCHOOLS = (
    ("12AB00", "Basisschool De Regenboog", "Maastricht", "hwc@regenboog.example.nl"),
    ("56EF00", "Basisschool Op de Heuvel", "Gulpen-Wittem", "hwc@opdeheuvel.example.nl"),
)


def sample_signal(children: list[dict[str, str]]) -> str:
    """The plain text a Veilig Thuis employee types: greeting, data blocks, signature."""
    blocks = "\n\n".join("\n".join(f"{label}: {value}" for label, value in child.items()) for child in children)
    return (f"Beste collega van Leerplicht,\n\nHierbij een Handle with Care-signaal.\n\n{blocks}\n\n"
            "Met vriendelijke groet,\n\nA. de Vries\nVeilig Thuis Zuid-Limburg\nTel. 088 - 000 00 00\n")


class World:
    def __init__(self, directory: Path, dovecot: Dovecot, smtp: RelaySmtp, tls: LabTls) -> None:
        self.directory = directory
        self.dovecot = dovecot
        self.smtp = smtp
        self.tls = tls
        keys = directory / "g"
        keys.mkdir(parents=True, exist_ok=True)
        self.veilig_thuis_home = new_home(keys, "vt")
        self.veilig_thuis = generate_key(self.veilig_thuis_home, f"Veilig Thuis Zuid-Limburg <{VEILIG_THUIS}>")
        self.office_home = new_home(keys, "lp")
        self.office = generate_key(self.office_home, f"Leerplicht Maastricht-Heuvelland <{OFFICE}>")
        self.inbound_home = new_home(keys, "in")
        self.outbound_home = new_home(keys, "out")
        for home in (self.inbound_home, self.outbound_home):
            import_keys(home, export_secret(self.office_home, self.office))
        self.other_sender_home = new_home(keys, "vt2")
        self.other_sender = generate_key(self.other_sender_home, f"Veilig Thuis Limburg-Noord <{OTHER_SENDER}>")
        import_keys(self.other_sender_home, export_public(self.office_home, self.office))
        self.officer_home = new_home(keys, "of")
        self.officer = generate_key(self.officer_home, f"Team Leerplicht <{OFFICER}>")
        import_keys(self.officer_home, export_public(self.office_home, self.office))
        import_keys(self.veilig_thuis_home, export_public(self.office_home, self.office))
        self.schools: list[LabSchool] = []
        for index, (code, name, municipality, address) in enumerate(SCHOOLS):
            home = new_home(keys, f"s{index}")
            fingerprint = generate_key(home, f"HWC {name} <{address}>")
            import_keys(home, export_public(self.office_home, self.office))
            self.schools.append(LabSchool(code, name, municipality, address, home, fingerprint))
        self.office_password = secrets.token_urlsafe(12)
        dovecot.add_user(OFFICE, self.office_password)
        smtp.users[OFFICE] = self.office_password
        for address in [OFFICER, *(school.address for school in self.schools)]:
            dovecot.add_user(address, secrets.token_urlsafe(12))
        self.config_path = self.write_config(directory / "etc")
        self.import_partner_keys()

    def partner_keys(self) -> bytes:
        """One key file with every partner's public key, as an admin would collect them."""
        homes = [(self.veilig_thuis_home, self.veilig_thuis), (self.other_sender_home, self.other_sender),
                 (self.officer_home, self.officer), *((school.home, school.fingerprint) for school in self.schools)]
        return b"".join(export_public(home, fingerprint) for home, fingerprint in homes)

    def import_partner_keys(self) -> None:
        """Through the product's own `keys import`: listed keys only, certified by the daemon's key."""
        key_file = self.directory / "partners.asc"
        key_file.write_bytes(self.partner_keys())
        result = hwc_mailer(self.config_path, "keys", "import", str(key_file))
        if result.returncode != 0:
            raise RuntimeError(f"keys import failed: {result.stdout}{result.stderr}")

    def write_config(self, etc: Path, *, state_dir: Path | None = None, ca_file: Path | None = None,
                     smtp: RelaySmtp | None = None, smtp_ca_file: Path | None = None,
                     contacts: Mapping[str, Sequence[tuple[str, str]]] | None = None, imap: Dovecot | None = None,
                     imap_tls: Literal["implicit", "starttls"] = "implicit", idle_seconds: float = 30,
                     poll_seconds: float = 60, register: bool = False) -> Path:
        """A service file for the daemon; the keywords replace the lab CA, relay and IMAP server (for TLS refusals).

        With `register`, the register lookup is on, its key a file beside the service file (not in the state dir).
        """
        ca = ca_file or self.tls.ca_file
        smtp_ca = smtp_ca_file or ca
        relay = smtp or self.smtp
        mailbox = imap or self.dovecot
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "password").write_text(self.office_password)
        (etc / "password").chmod(0o600)
        (etc / "rules.yaml").write_text(self.rules_yaml(contacts))
        config = etc / "config.yaml"
        config.write_text(f"""\
imap:
  host: {mailbox.host}
  port: {mailbox.imaps_port if imap_tls == "implicit" else mailbox.imap_port}
  tls: {imap_tls}
  ca_file: {ca}
  username: {OFFICE}
  password: {{file: password}}
  idle_seconds: {idle_seconds}
  poll_seconds: {poll_seconds}
smtp:
  host: {relay.host}
  port: {relay.port}
  tls: starttls
  ca_file: {smtp_ca}
  username: {OFFICE}
  password: {{file: password}}
gpg:
  inbound_home: {self.inbound_home}
  outbound_home: {self.outbound_home}
  key_fingerprint: "{self.office}"
sender:
  address: {OFFICE}
  name: Leerplicht Maastricht-Heuvelland
rules: rules.yaml
state_dir: {state_dir or etc.parent / 'state'}
""")
        if register:
            key = etc / "register.key"
            key.write_text(secrets.token_urlsafe(32))
            key.chmod(0o600)
            with config.open("a") as handle:
                handle.write("register:\n  key: {file: register.key}\n")
        return config

    def rules_yaml(self, contacts: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> str:
        """The rules; `contacts` replaces a school's contacts by (address, fingerprint) pairs."""
        def contact_lines(school: LabSchool) -> str:
            pairs = (contacts or {}).get(school.code, [(school.address, school.fingerprint)])
            return "".join(f"""\
      - name: HWC-contactpersoon
        email: {address}
        fingerprint: "{fingerprint}"
""" for address, fingerprint in pairs)

        schools = "".join(f"""\
  - code: {school.code}
    name: {school.name}
    municipality: {school.municipality}
    contacts:
{contact_lines(school)}""" for school in self.schools)
        return f"""\
trusted_senders:
  - name: Veilig Thuis Zuid-Limburg
    addresses: [{VEILIG_THUIS}]
    fingerprints: ["{self.veilig_thuis}"]
  - name: Veilig Thuis Limburg-Noord
    addresses: [{OTHER_SENDER}]
    fingerprints: ["{self.other_sender}"]
officers:
  - name: Team Leerplicht
    email: {OFFICER}
    fingerprint: "{self.officer}"
schools:
{schools}"""

    def _gpg(self, home: Path) -> gnupg.GPG:
        return gnupg.GPG(gnupghome=str(home))

    def armored(self, plaintext: bytes, *, signer: str | None = None, signer_home: Path | None = None,
                recipient: str | None = None) -> bytes:
        """Encrypted to the office key and signed by Veilig Thuis, unless told otherwise."""
        result = self._gpg(signer_home or self.veilig_thuis_home).encrypt(
            plaintext, [recipient or self.office], sign=signer if signer is not None else self.veilig_thuis,
            always_trust=True, armor=True)
        assert result.ok, result.status
        return bytes(result.data)

    def signal_mail(self, text: str, *, html: str | None = None, inline: bool = False, sender: str = VEILIG_THUIS,
                    encrypted: bytes | None = None) -> bytes:
        """A signal as Thunderbird sends it: PGP/MIME by default, or one inline armored block."""
        return self._mail(text, html=html, inline=inline, sender=f"Veilig Thuis Zuid-Limburg <{sender}>",
                          subject="Melding", id_domain="veiligthuis-zl.example.nl", encrypted=encrypted)

    def reply_mail(self, alert: bytes, answer: str, *, client: Literal["thunderbird", "outlook"] = "thunderbird",
                   signer: str | None = None, signer_home: Path | None = None, encrypted: bool = True,
                   sender: str = OFFICER, threaded: bool = True, quoting: bool = True) -> bytes:
        """An officer's answer to an alert as their mail client sends it: Thunderbird quotes with "> " below "Op ...
        schreef" in PGP/MIME; Outlook with GpgOL puts the alert below its "Van:" block and encrypts inline. Signed
        with the officer's key unless told otherwise; `encrypted=False` sends it in clear, `threaded=False` without
        In-Reply-To and References, `quoting=False` without the alert."""
        message = email.message_from_bytes(alert, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        shown = self.read_alert(alert)
        subject, _, body = shown.partition("\n\n")
        subject = subject.removeprefix("Subject: ")
        if client == "thunderbird":
            quoted = "Op 07-12-2026 om 23:41 schreef Leerplicht Maastricht-Heuvelland:\n" + "".join(
                f"> {line}\n" if line else ">\n" for line in body.splitlines())
        else:
            quoted = (f"-----Oorspronkelijk bericht-----\nVan: Leerplicht Maastricht-Heuvelland <{OFFICE}>\n"
                      f"Verzonden: maandag 7 december 2026 23:41\nAan: Team Leerplicht <{OFFICER}>\n"
                      f"Onderwerp: {subject}\n\n{body}")
        text = f"{answer}\n\n{quoted}" if quoting else answer
        armored = None
        if encrypted:
            plaintext = text.encode() if client == "outlook" else _text_entity(text, subject=f"Re: {subject}")
            armored = self.armored(plaintext, signer=signer or self.officer,
                                   signer_home=signer_home or self.officer_home)
        return self._mail(text, inline=client == "outlook", sender=f"Team Leerplicht <{sender}>",
                          subject=f"Re: {subject}", id_domain="maastricht.example.nl", encrypted=armored,
                          answers=str(message["Message-ID"]) if threaded else None, clear=not encrypted)

    def _mail(self, text: str, *, sender: str, subject: str, id_domain: str, html: str | None = None,
              inline: bool = False, encrypted: bytes | None = None, answers: str | None = None,
              clear: bool = False) -> bytes:
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = sender
        message["To"] = OFFICE
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=id_domain)
        if answers:
            message["In-Reply-To"] = answers
            message["References"] = answers
        if clear:
            message.set_content(text)
            return message.as_bytes()
        if inline:
            message.set_content((encrypted or self.armored(text.encode())).decode("ascii"), cte="7bit")
            return message.as_bytes()
        inner = EmailMessage(policy=email.policy.SMTP)
        if html is None or text:
            inner.set_content(text)
        if html is not None:
            if text:
                inner.add_alternative(html, subtype="html")
            else:
                inner.set_content(html, subtype="html")
        message.set_type("multipart/encrypted")
        message.set_param("protocol", "application/pgp-encrypted")
        control = EmailMessage(policy=email.policy.SMTP)
        control.set_content(b"Version: 1\r\n", maintype="application", subtype="pgp-encrypted", cte="7bit")
        body = EmailMessage(policy=email.policy.SMTP)
        body.set_content(encrypted or self.armored(inner.as_bytes()), maintype="application",
                         subtype="octet-stream", cte="7bit", filename="encrypted.asc")
        message.attach(control)
        message.attach(body)
        return message.as_bytes()

    def deliver_signal(self, raw: bytes) -> None:
        self.dovecot.deliver(OFFICE, raw)

    def decrypt_as_office(self, raw: bytes) -> gnupg.Crypt:
        return self._decrypt(self.office_home, raw)[1]

    def officer_mail(self) -> list[bytes]:
        return self.dovecot.messages(OFFICER)

    def read_alert(self, raw: bytes) -> str:
        """An alert as the officer reads it, decrypted with the officer's key."""
        _, decrypted = self._decrypt(self.officer_home, raw)
        assert decrypted.ok and decrypted.pubkey_fingerprint == self.office, decrypted.status
        inner = email.message_from_bytes(decrypted.data, policy=email.policy.default)
        assert isinstance(inner, EmailMessage)
        return f"Subject: {inner['Subject']}\n\n{inner.get_content()}"

    def school_mail(self, school: LabSchool) -> list[bytes]:
        return self.dovecot.messages(school.address)

    def open_as(self, school: LabSchool, raw: bytes) -> tuple[EmailMessage, gnupg.Crypt]:
        """What the school's contact sees: the outer message and gpg's decryption of its payload."""
        return self._decrypt(school.home, raw)

    def _decrypt(self, home: Path, raw: bytes) -> tuple[EmailMessage, gnupg.Crypt]:
        """The outer message and the decryption of its PGP/MIME payload with the keys in `home`."""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        parts = message.get_payload()
        assert isinstance(parts, list) and len(parts) == 2, "expected PGP/MIME: control part and payload"
        payload = parts[1]
        assert isinstance(payload, EmailMessage)
        return message, self._gpg(home).decrypt(payload.get_payload(decode=True))


def _text_entity(text: str, *, subject: str) -> bytes:
    """The signed and encrypted part as Thunderbird makes it: text with the protected headers From, To, Subject."""
    entity = EmailMessage(policy=email.policy.SMTP)
    entity["From"] = f"Team Leerplicht <{OFFICER}>"
    entity["To"] = OFFICE
    entity["Subject"] = subject
    entity.set_content(text)
    return entity.as_bytes()
