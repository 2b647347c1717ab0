"""Service settings: where the servers, keys, rules and state are.

One YAML file, every key documented in docs/config.md. Secrets (passwords, the
key passphrase) never live in it: each is read from a file (a systemd credential
or a file only the service user can read) or from an environment variable named in the YAML.
Relative paths are taken relative to the service file's directory.
"""

import errno
import os
import re
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..errors import ConfigError
from .base import Fingerprint, Strict, YamlProblem, load_model
from .wording import Form

Model = TypeVar("Model", bound=BaseModel)

# Texts with a pattern, and what the admin is told when a value does not fit it (instead of the pattern).
HeaderText = Annotated[str, Form('not a header "Name: value" on one line')]
OneLine = Annotated[str, Form("must be one line")]
HostName = Annotated[str, Form("not a host name (with an optional :port)")]
HttpsUrl = Annotated[str, Form("not an https:// address without a user or password in it")]
MailAddress = Annotated[str, Form("not an e-mail address (name@domain)")]
ClockTime = Annotated[str, Form("not a time as HH:MM (00:00 to 23:59)")]


class TlsMode(StrEnum):
    implicit = "implicit"
    starttls = "starttls"


class Secret(Strict):
    """Where a secret is read from: exactly one of `file`, `env`, `credential`."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": [source], "properties": {source: {
        "type": "string"}}} for source in ("file", "env", "credential")]})
    admin_form = "{file: PATH}, {env: VARIABLE} or {credential: NAME} (where the secret is read from, never the secret)"

    file: Path | None = None
    env: str | None = None
    credential: str | None = Field(None, description="name of a systemd credential ($CREDENTIALS_DIRECTORY/NAME)")

    @model_validator(mode="after")
    def _exactly_one(self) -> "Secret":
        given = [value for value in (self.file, self.env, self.credential) if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of file, env, credential")
        return self

    def read(self, check: Callable[[Path, int, bool], None] | None = None) -> str:
        """The secret; a file is opened without following a symbolic link, and handed to `check` (path, open
        descriptor, whether it is a credential) before it is read: the service's check that it is the daemon's own."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"environment variable {self.env} is not set; set it or use file: instead")
            return value
        if self.credential is not None:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if directory is None:
                raise ConfigError(f"credential {self.credential!r} asked for, but CREDENTIALS_DIRECTORY is not set "
                                  "(run under systemd with LoadCredential=, or use file:)")
            path = Path(directory) / self.credential
        else:
            assert self.file is not None
            path = self.file
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise ConfigError(f"secret file {path} is a symbolic link, and links are not followed: point the "
                                  "service file at the real file") from None
            raise ConfigError(f"cannot read secret file {path}: {error.strerror}") from None
        with os.fdopen(descriptor, "rb") as handle:
            if check is not None:
                check(path, handle.fileno(), self.credential is not None)
            try:
                return handle.read().decode("utf-8").rstrip("\r\n")
            except OSError as error:
                raise ConfigError(f"cannot read secret file {path}: {error.strerror}") from None


class Server(Strict):
    host: str
    port: int = Field(ge=1, le=65535)
    tls: TlsMode = TlsMode.implicit
    ca_file: Path | None = Field(None, description="CA bundle to verify the server with, instead of the system store")
    username: str | None = None
    password: Secret | None = None
    timeout_seconds: float = Field(30.0, gt=0, description="the longest wait for one answer from the server")
    deadline_seconds: float = Field(120.0, gt=0, description="the longest a connect, a login or one command may "
                                                             "take in all, however slowly the server trickles")



class Imap(Server):
    port: int = Field(993, ge=1, le=65535)
    username: str
    idle_seconds: float = Field(60.0, gt=0, le=1740,
                                description="length of one IDLE period; the server drops IDLE after 29 minutes")
    poll_seconds: float = Field(60.0, gt=0, description="polling interval when the server has no IDLE")


class Smtp(Server):
    port: int = Field(465, ge=1, le=65535)


# Headers the mail is made of: a gateway marker may not be one of them (nor any Content-*).
STRUCTURAL_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to", "sender",
                                "mime-version", "received", "return-path", "in-reply-to", "references"})


class Gateway(Server):
    """A secure-mail gateway (Zivver's Mail Submission and the like) that takes a notice in clear over verified TLS
    and encrypts and delivers it itself: trusted with the content, so only under a processor agreement."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": [marker], "properties": {marker: {
        "type": "string"}}} for marker in ("header", "subject_tag")]})

    port: int = Field(587, ge=1, le=65535)
    tls: TlsMode = TlsMode.starttls
    username: str
    password: Secret
    header: HeaderText | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,76}: ?[\x21-\x7e][\x20-\x7e]{0,200}$",
                                      description='"Name: value": the header the gateway reads as "send securely"')
    subject_tag: OneLine | None = Field(None, min_length=1, max_length=40, pattern=r"^[^\r\n]+$",
                                        description="put before the subject, where the gateway looks for it instead")
    processor_agreement: str = Field(min_length=1, description="the processor agreement (verwerkersovereenkomst) "
                                                               "under which the gateway sees the notices in clear")

    @model_validator(mode="after")
    def _marked(self) -> "Gateway":
        if self.header is None and self.subject_tag is None:
            raise ValueError("give header or subject_tag: how the gateway knows to send the mail securely")
        name = (self.header or "").partition(":")[0].lower()
        if name in STRUCTURAL_HEADERS or name.startswith("content-"):
            raise ValueError(f"header {name!r} is one the daemon writes itself; the marker must be a header of its "
                             "own, such as X-Secure-Mail")
        return self


class Smime(Strict):
    """The Leerplicht certificate that signs S/MIME notices, and the CAs a contact's certificate must chain to."""

    certificate: Path = Field(description="PEM: the Leerplicht certificate, then any intermediate certificates")
    key: Secret = Field(description="PEM: its private key, unencrypted; a systemd credential")
    ca_file: Path = Field(description="PEM: the CA certificates contacts' certificates must chain to "
                                      "(PKIoverheid, or a CA the admin chose)")
    crl_files: tuple[Path, ...] = Field((), description="CRLs (PEM or DER) of those CAs: a revoked certificate is "
                                                        "never used")


class LoginMethod(StrEnum):
    password = "password"      # username and password per server (on-premises servers)
    microsoft = "microsoft"    # Entra ID client credentials through msal, XOAUTH2 on both servers
    oauth2 = "oauth2"          # any token endpoint with client credentials, XOAUTH2 on both servers


MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
# The longest pause after a refused login: the first is login.retry_minutes, each refusal doubles it up to this.
MAX_RETRY_MINUTES = 60.0


class Login(Strict):
    """How the daemon logs in to both servers: a password per server, or OAuth2 tokens from one application."""

    method: LoginMethod = LoginMethod.password
    tenant_id: str | None = Field(None, description="microsoft: the Directory (tenant) ID")
    client_id: str | None = Field(None, description="microsoft, oauth2: the Application (client) ID")
    client_secret: Secret | None = Field(None, description="microsoft (or certificate), oauth2: the client secret")
    client_secret_expires: date | None = Field(None, description="when the client secret expires (Entra shows it): "
                                                                 "officers and admin are warned before")
    certificate: Secret | None = Field(None, description="microsoft: PEM with the certificate and its private key, "
                                                         "instead of a client secret")
    authority_host: HostName = Field("login.microsoftonline.com", pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?$",
                                     description="microsoft: the Entra sign-in host (other clouds differ)")
    token_url: HttpsUrl | None = Field(None, pattern=r"^https://[^/@\s]+(/\S*)?$",
                                       description="oauth2: the token endpoint (https, no credentials in it)")
    scope: str | None = Field(None, description=f"space-separated scopes; microsoft: {MICROSOFT_SCOPE}")
    ca_file: Path | None = Field(None, description="CA bundle to verify the token endpoint with, instead of the "
                                                   "system store")
    timeout_seconds: float = Field(30.0, gt=0, description="the longest wait for the token endpoint")
    retry_minutes: float = Field(5.0, gt=0, le=MAX_RETRY_MINUTES,
                                 description="the pause after a refused login, doubling up to 60 minutes: never "
                                             "seconds, since Exchange throttles and locks out")

    @model_validator(mode="after")
    def _fits_method(self) -> "Login":
        oauth = {"tenant_id": self.tenant_id, "client_id": self.client_id, "client_secret": self.client_secret,
                 "client_secret_expires": self.client_secret_expires, "certificate": self.certificate,
                 "token_url": self.token_url, "scope": self.scope}
        allowed = {LoginMethod.password: set(),
                   LoginMethod.microsoft: set(oauth) - {"token_url"},
                   LoginMethod.oauth2: set(oauth) - {"tenant_id", "certificate"}}[self.method]
        stray = [name for name, value in oauth.items() if value is not None and name not in allowed]
        if stray:
            raise ValueError(f"{', '.join(stray)}: not used with method {self.method.value}")
        needed = {LoginMethod.password: (), LoginMethod.microsoft: ("tenant_id", "client_id"),
                  LoginMethod.oauth2: ("token_url", "client_id", "client_secret")}[self.method]
        missing = [name for name in needed if oauth[name] is None]
        if missing:
            raise ValueError(f"method {self.method.value} needs {', '.join(missing)}")
        if self.method is LoginMethod.microsoft and (self.client_secret is None) == (self.certificate is None):
            raise ValueError("method microsoft needs exactly one of client_secret and certificate")
        if self.client_secret_expires is not None and self.client_secret is None:
            raise ValueError("client_secret_expires goes with client_secret (a certificate's expiry is read from it)")
        return self

    @property
    def uses_tokens(self) -> bool:
        return self.method is not LoginMethod.password

    @property
    def scopes(self) -> list[str]:
        return (self.scope or MICROSOFT_SCOPE).split() if self.method is LoginMethod.microsoft else \
            (self.scope or "").split()

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(secret for secret in (self.client_secret, self.certificate) if secret is not None)


# The value of folders.sent and folders.trash that means "the folder the server marks with this role" (RFC 6154).
SENT_ROLE = "\\Sent"
TRASH_ROLE = "\\Trash"


class Folders(Strict):
    inbox: str = "INBOX"
    sent: str | None = Field(SENT_ROLE, description="where the server keeps sent copies: found by its role \\Sent "
                                                    "by default, or named; null if it keeps none")
    trash: str | None = Field(TRASH_ROLE, description="where the server moves deleted mail: found by its role "
                                                      "\\Trash by default, or named; null if it does not")
    quarantine: str = Field("HWC-Quarantaine", description="mail that claims a trusted sender but is not authentic")
    manual: str = Field("HWC-Handmatig", description="signals a person must finish")
    alerts: str = Field("HWC-Meldingen", description="where an alert is put when it cannot be mailed (the SMTP "
                                                     "login is refused); officers read it")

    @model_validator(mode="after")
    def _alerts_apart(self) -> "Folders":
        if self.alerts.casefold() in ("inbox", self.inbox.casefold()):
            raise ValueError("alerts must not be the inbox: the daemon reads everything there as possible signals")
        if self.alerts in (self.quarantine, self.manual, self.sent, self.trash):
            raise ValueError("alerts must be a folder of its own, not the quarantine, manual, sent or trash folder")
        return self


class Gpg(Strict):
    binary: str = "gpg"
    inbound_home: Path = Field(description="the daemon's secret key and the trusted senders' public keys, nothing else")
    outbound_home: Path = Field(description="the daemon's secret key and the school contacts' public keys")
    key_fingerprint: Fingerprint
    passphrase: Secret | None = None


class Sender(Strict):
    address: MailAddress = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = "Leerplicht"
    message_id_domain: str | None = Field(None, description="domain of outgoing Message-IDs; the address's by default")
    subject: str = Field("Bericht van Leerplicht", description="the only subject outside the encryption: generic")

    @field_validator("subject")
    @classmethod
    def _no_template_fields(cls, value: str) -> str:
        if any(marker in value for marker in ("{{", "{%", "{#", "}}")):
            raise ValueError("the outer subject is fixed text: template fields could put personal data in clear")
        return value

    @property
    def id_domain(self) -> str:
        return self.message_id_domain or self.address.rsplit("@", 1)[1]


class Ages(Strict):
    minimum: int = Field(2, ge=0)
    maximum: int = Field(20, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> "Ages":
        if self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is above maximum {self.maximum}: no child would ever be sent on")
        return self


class Limits(Strict):
    """Caps on what one message may cost; over a cap a trusted sender's mail is quarantined."""

    max_message_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_mime_depth: int = Field(8, gt=0)
    max_mime_parts: int = Field(50, gt=0)
    max_attempts: int = Field(3, gt=0, description="passes a message may fail (or crash) before a person gets it")
    max_plaintext_bytes: int = Field(2 * 1024 * 1024, gt=0, description="decrypted content; more is a "
                                                                         "decompression bomb and is quarantined")
    max_header_bytes: int = Field(256 * 1024, gt=0, description="the whole header block, checked before parsing")
    max_header_count: int = Field(500, gt=0, description="header fields, checked before parsing")
    max_header_field_bytes: int = Field(16 * 1024, gt=0, description="one header field, checked before parsing")


class Trust(Strict):
    max_signature_age_days: float = Field(14, gt=0, description="older signatures are quarantined")
    max_clock_skew_minutes: float = Field(60, ge=0, description="how far in the future a signature may be")
    replay_days: int = Field(90, gt=0, description="how long a processed signal's fingerprint is remembered")
    recipient_aliases: tuple[str, ...] = Field((), description="other addresses of this office a signal may be "
                                                              "signed for, beside sender.address")

    @model_validator(mode="after")
    def _replays_outlive_signatures(self) -> "Trust":
        window = self.max_signature_age_days + self.max_clock_skew_minutes / 1440
        if self.replay_days < window:
            raise ValueError(f"replay_days ({self.replay_days}) is shorter than the signature age window "
                             f"({window:g} days): a captured signal could be replayed after its hash is forgotten")
        return self


class Alerts(Strict):
    key_expiry_days: int = Field(30, ge=0, description="warn about keys that expire within this many days")
    key_check_hour: int = Field(7, ge=0, le=23, description="hour of the daily key check (local time)")
    max_per_hour: int = Field(30, gt=0, description="alerts about authentic signals and keys per hour; more wait "
                                                    "and go out later, none is dropped")
    junk_per_hour: int = Field(5, ge=0, description="alerts about signal-like mail from untrusted senders per hour; "
                                                    "they never use up the budget of genuine alerts")


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


class SchoolDay(Strict):
    """When the school must know: the start of the next school day after a signal arrives is its deadline."""

    start: ClockTime = Field("07:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local time")
    timezone: str = Field("Europe/Amsterdam", description="IANA time zone; daylight saving included")
    days: tuple[Weekday, ...] = Field((Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri),
                                      min_length=1, description="the weekdays schools are open")
    holidays: tuple[date, ...] = Field((), description="dates schools are closed (holidays, study days)")
    margin_minutes: int = Field(60, ge=0, le=24 * 60, description="escalate this long before the deadline")
    on_call: tuple[str, ...] = Field((), description="addresses that also get the escalation (no key needed: it "
                                                     "holds no personal data)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; e.g. Europe/Amsterdam") from None
        return value

    @field_validator("on_call")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
                raise ValueError(f"{address!r} is not a mail address")
        return value


class Retention(Strict):
    """How long what the daemon placed in the manual and quarantine folders may stay there."""

    held_hours: float = Field(72, gt=0, le=14 * 24, description="purged after this long (at most 14 days)")
    warning_hours: float = Field(24, ge=0, description="officers are warned this long before")
    delay_minutes: float = Field(15, gt=0, description="a signal an outage keeps waiting longer is told as delayed")

    @model_validator(mode="after")
    def _warned_in_time(self) -> "Retention":
        if self.warning_hours >= self.held_hours:
            raise ValueError(f"warning_hours ({self.warning_hours:g}) must be less than held_hours "
                             f"({self.held_hours:g}): the warning comes before the purge")
        return self


class RegisterColumns(Strict):
    """Column names in the leerplicht administration's export (case and spacing ignored)."""

    given_names: str | None = Field("voornamen", description="null when the export has no such column")
    prefix: str | None = Field("voorvoegsel", description="null when the export has no such column")
    surname: str = "achternaam"
    call_name: str | None = Field("roepnaam", description="null when the export has no such column")
    birth_date: str = "geboortedatum"
    brin: str = "brin"
    location: str | None = Field("vestiging", description="the BRIN location number (two digits); null when the "
                                                          "export has no such column")


class Register(Strict):
    """The education-register lookup: a pseudonymised index of the leerplicht administration's export."""

    index: Path | None = Field(None, description="the index file; register.sqlite in state_dir by default")
    key: Secret = Field(description="the index's own key: never in state_dir, so the index alone answers nothing")
    max_age_days: float = Field(8, gt=0, description="`check` and `register` warn when the index is older")
    refuse_after_days: float = Field(14, gt=0, description="an older index is not used: signals that need it are "
                                                           "held (register-unavailable)")
    max_shrink: float = Field(0.2, ge=0, le=1, description="refuse an export that has lost more than this share "
                                                          "of the current index's pupils")
    columns: RegisterColumns = RegisterColumns()


class Metrics(Strict):
    """Prometheus metrics through node_exporter's textfile collector: a file, no listening socket."""

    textfile: Path = Field(description="the .prom file the daemon writes after every pass, in the directory "
                                       "node_exporter's --collector.textfile.directory names")

    @field_validator("textfile")
    @classmethod
    def _prom_file(cls, value: Path) -> Path:
        if value.suffix != ".prom":
            raise ValueError("the name must end in .prom: node_exporter's textfile collector reads only those")
        return value


class Settings(Strict):
    login: Login = Login()          # first: the servers are checked against it
    school_day: SchoolDay = SchoolDay()
    retention: Retention = Retention()
    imap: Imap
    smtp: Smtp
    folders: Folders = Folders()
    gpg: Gpg
    sender: Sender
    rules: Path = Path("rules.yaml")
    templates: Path | None = Field(None, description="a directory with the admin's own templates; the Dutch ones "
                                                     "shipped in the package by default")
    state_dir: Path = Path("/var/lib/hwc-mailer")
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite in state_dir by default")
    ages: Ages = Ages()
    limits: Limits = Limits()
    trust: Trust = Trust()
    alerts: Alerts = Alerts()
    smime: Smime | None = Field(None, description="S/MIME for contacts and officers whose profile is smime")
    gateways: dict[str, Gateway] = Field({}, description="secure-mail gateways by name, for contacts whose profile "
                                                          "is gateway")
    lookup: Register | None = Field(None, alias="register", description="the education-register lookup; "
                                    "without it a child's school comes from the School: line alone")
    metrics: Metrics | None = Field(None, description="Prometheus metrics in a textfile; none without it")

    @field_validator("imap", "smtp")
    @classmethod
    def _server_fits_login(cls, server: Server, info: ValidationInfo) -> Server:
        login = info.data.get("login")
        if login is None:                   # the login section is wrong itself, and says so
            return server
        if login.uses_tokens:
            if server.password is not None:
                raise ValueError(f"no password with login method {login.method.value} (the token is the password): "
                                 "remove it")
        elif isinstance(server, Imap) and server.password is None:
            raise ValueError("password is required with login method password")
        elif (server.username is None) != (server.password is None):
            raise ValueError("username and password go together")
        return server

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'hwc-mailer.db'}"

    @property
    def register_index(self) -> Path | None:
        if self.lookup is None:
            return None
        return self.lookup.index or self.state_dir / "register.sqlite"


def load_settings(path: Path) -> Settings:
    """Read the service file; raise ConfigError that names the line on any problem."""
    try:
        settings = load_model(path, Settings)
    except YamlProblem as problem:
        raise ConfigError("\n".join(f"{item.where(path)}: {item.message}" for item in problem.problems)) from None
    settings = _anchored(settings, path.resolve().parent)
    key = settings.lookup.key.file if settings.lookup else None
    index = settings.register_index
    if key is not None and (key.resolve().is_relative_to(settings.state_dir.resolve())
                            or (index is not None and key.resolve().parent == index.resolve().parent)):
        raise ConfigError(f"{path}: register.key: the key must not live in state_dir ({settings.state_dir}) nor "
                          "beside the index: the index and its key together would be a readable register; use a "
                          "systemd credential or a file elsewhere")
    return settings


def _anchored(model: Model, base: Path) -> Model:
    """The same settings with every relative path taken from the service file's directory."""
    updates: dict[str, object] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path) and not value.is_absolute():
            updates[name] = base / value
        elif isinstance(value, BaseModel):
            updates[name] = _anchored(value, base)
        elif isinstance(value, tuple) and value and all(isinstance(item, Path) for item in value):
            updates[name] = tuple(item if item.is_absolute() else base / item for item in value)
        elif isinstance(value, dict):
            updates[name] = {key: _anchored(item, base) if isinstance(item, BaseModel) else item
                             for key, item in value.items()}
    return model.model_copy(update=updates)
