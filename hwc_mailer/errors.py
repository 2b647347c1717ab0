"""The project's exceptions: real failures only, never an expected outcome.

    HwcError
     ├── ConfigError           the service file or a secret is unusable
     │    └── FolderMissing    a folder it names is not on the IMAP server
     ├── RulesError            the routing rules are unusable (file, line, column)
     ├── TemplateError         a template cannot be loaded or rendered
     ├── AlreadyRunning        another run or once holds the state dir
     ├── Outage                retry later: the message stays where it is, nothing is lost
     │    ├── MailboxUnavailable    IMAP server unreachable or TLS failed
     │    │    └── MailboxLoginRefused    ... and LoginRefused: the IMAP login or its token was refused
     │    ├── TransportUnavailable  SMTP server unreachable, TLS failed, or a 4xx answer
     │    │    ├── TransportLoginRefused  ... and LoginRefused: the SMTP login, its token or the sender was refused
     │    │    └── GatewayUnavailable     a secure-mail gateway, for any of these: only its signals wait
     │    └── LoginRefused          an outage of the configuration: retried after minutes, never seconds
     ├── TransportRejected     SMTP answered 5xx: retrying the same mail will not help
     ├── RegisterUnavailable   the configured register index is missing, damaged or of another key
     └── CryptoError           gpg failed where it should not (missing key, broken home)

A signal with a bad date or an unknown school is not an error: it is an outcome
(see domain/outcomes.py). Messages here say what happened, where, and what to do; they
never carry message content or child data.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .domain.logins import LoginProblem


class HwcError(Exception):
    """Base of every failure this project raises on purpose."""


class ConfigError(HwcError):
    pass


class FolderMissing(ConfigError):
    """A folder the service file names is not on the IMAP server: found at start, the admin must fix it."""


class RulesError(HwcError):
    """The first problem's position in `path`/`line`/`column`; `lines` holds every problem, one per line."""

    def __init__(self, message: str, *, path: str, line: int | None = None, column: int | None = None,
                 more: tuple[str, ...] = ()) -> None:
        where = path if line is None else f"{path}:{line}:{column or 1}"
        self.lines = (f"{where}: {message}", *more)
        super().__init__("\n".join(self.lines))
        self.path = path
        self.line = line
        self.column = column


class TemplateError(HwcError):
    pass


class Outage(HwcError):
    """A server is out of reach: the pass ends, everything stays for the next one."""


class MailboxUnavailable(Outage):
    pass


class AlreadyRunning(HwcError):
    """Another `run` or `once` holds this state dir: two passes over one mailbox would race for the same mail."""


class TransportUnavailable(Outage):
    pass


class GatewayUnavailable(TransportUnavailable):
    """A secure-mail gateway is out of reach, fails TLS or refuses the login: only the signals for its contacts
    wait (the pass goes on with the others), and officers are told."""

    def __init__(self, gateway: str, message: str) -> None:
        super().__init__(message)
        self.gateway = gateway


class LoginRefused(Outage):
    """A server (or the token endpoint before it) refused who we are: no signal is at fault, and retrying soon only
    risks a lock-out. `service` is "imap" or "smtp"; `problem` says what the admin must fix (domain/logins.py)."""

    service = ""

    def __init__(self, message: str, problem: "LoginProblem") -> None:
        super().__init__(message)
        self.problem = problem
        self.retry_after = 0.0      # seconds until the next login may be tried (edges/login.py, LoginGate)


class MailboxLoginRefused(MailboxUnavailable, LoginRefused):
    service = "imap"


class TransportLoginRefused(TransportUnavailable, LoginRefused):
    service = "smtp"


class TransportRejected(HwcError):
    pass


class RegisterUnavailable(HwcError):
    """The configured register index cannot be read: missing, damaged, or made with another key."""


class CryptoError(HwcError):
    pass
