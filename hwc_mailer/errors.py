"""The project's exceptions: real failures only, never an expected outcome.

    HwcError
     ├── ConfigError           the service file or a secret is unusable
     ├── RulesError            the routing rules are unusable (file, line, column)
     ├── TemplateError         a template cannot be loaded or rendered
     ├── MailboxUnavailable    IMAP server unreachable, TLS or login failed
     ├── TransportUnavailable  SMTP server unreachable, TLS or login failed, or a 4xx answer
     ├── TransportRejected     SMTP answered 5xx: retrying the same mail will not help
     └── CryptoError           gpg failed where it should not (missing key, broken home)

A signal with a bad date or an unknown school is not an error: it is an outcome
(see pipeline.py). Messages here say what happened, where, and what to do; they
never carry message content or child data.
"""


class HwcError(Exception):
    """Base of every failure this project raises on purpose."""


class ConfigError(HwcError):
    pass


class RulesError(HwcError):
    def __init__(self, message: str, *, path: str, line: int | None = None, column: int | None = None) -> None:
        where = path if line is None else f"{path}:{line}:{column or 1}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.column = column


class TemplateError(HwcError):
    pass


class MailboxUnavailable(HwcError):
    pass


class TransportUnavailable(HwcError):
    pass


class TransportRejected(HwcError):
    pass


class CryptoError(HwcError):
    pass
