"""When a server refuses the daemon's login: tell a person by the way that still works, once.

    IMAP refused, SMTP works     an alert by mail, as any other
    SMTP refused, IMAP works     the same alert put into folders.alerts of the Leerplicht mailbox
    both refused                 the daemon can tell nobody: it says so at error priority, in the systemd
                                 STATUS and in `check`

A refusal is never a verdict on a signal: every signal stays in INBOX and goes out once the login works.
Each server's refusal is told once; when that server takes the login again, its event is retired, so the
next refusal is told again. Also here: the warning that the login's client secret or certificate expires.
"""

from dataclasses import dataclass
from datetime import datetime

import structlog

from ..domain.reasons import Reason
from ..edges.login import secret_expiry
from ..errors import ConfigError, LoginRefused
from ..settings.config import Login
from .alerts import REPEAT_EVERY, Alert, Alerter
from .pipeline import Edges

log = structlog.get_logger("hwc_mailer.logins")

SERVICES = ("imap", "smtp")


def refused_event(service: str) -> str:
    return f"login-refused:{service}"


@dataclass(frozen=True)
class Told:
    """What a refusal came to: how officers were told, and whether the daemon can still tell anyone at all."""

    how: str | None     # "by mail", "in folder NAME", "before" (told already), None: not yet (it is tried again)
    stranded: bool      # both servers refuse the login: the daemon can tell nobody

    def status(self, refusal: LoginRefused) -> str:
        """The systemd STATUS line: no secret, no content; the admin's fix is in the journal and `check`."""
        minutes = max(refusal.retry_after / 60, 1 / 60)
        if self.stranded:
            return (f"CRITICAL: imap and smtp refuse the login ({refusal.problem.value}); officers cannot be told; "
                    f"next try in {minutes:.0f} min; run hwc-mailer check")
        told = "officers not told yet" if self.how is None else f"officers told {self.how}"
        return (f"{refusal.service} refuses the login ({refusal.problem.value}); {told}; signals wait in the inbox; "
                f"next try in {minutes:.0f} min")


class LoginWatch:
    def __init__(self, edges: Edges, alerter: Alerter, alerts_folder: str) -> None:
        self._edges = edges
        self._alerter = alerter
        self._folder = alerts_folder
        self._unsettled = set(SERVICES)     # a refusal from before this start may still be on record

    def refused(self, refusal: LoginRefused) -> Told:
        """Tell the officers about `refusal`, by the other server; logs at error (or critical when stranded)."""
        alert = Alert(refused_event(refusal.service), Reason.LOGIN_REFUSED,
                      detail=f"{refusal.service}: {refusal.problem.dutch} ({refusal.problem.value})")
        self._unsettled.add(refusal.service)
        how: str | None
        if not self._alerter.due(alert):
            how = "before"
        elif refusal.service == "imap":         # held when mail cannot go out either: it goes when it can
            how = "by mail" if self._alerter.tell(alert) else None
        else:                                   # not filed when the mailbox is out of reach: tried again next time
            how = f"in folder {self._folder}" if self._alerter.file(alert, self._edges.mailbox, self._folder) \
                else None
        stranded = self._edges.mailbox.refusal is not None and self._edges.transport.refusal is not None
        if stranded:
            log.critical("login-refused-everywhere", service=refusal.service, reason=refusal.problem.value,
                         error=str(refusal))
        else:
            log.error("login-refused", service=refusal.service, reason=refusal.problem.value, step=how,
                      error=str(refusal))
        return Told(how, stranded)

    def settle(self) -> None:
        """After a pass: a server that took the login again ends its refusal; told again when it comes back."""
        for service, edge in (("imap", self._edges.mailbox), ("smtp", self._edges.transport)):
            if service in self._unsettled and edge.accepted:
                self._edges.store.retire_alert(refused_event(service))
                self._unsettled.discard(service)
                log.info("login-accepted", service=service)


def secret_alerts(login: Login, now: datetime, days: int) -> list[Alert]:
    """The login's client secret or certificate expires within `days` (or has): told weekly until replaced. A
    certificate that cannot be read is told by the login it breaks, not here."""
    try:
        expires = secret_expiry(login)
    except ConfigError as error:
        log.warning("login-secret-unreadable", error=str(error))
        return []
    if expires is None or (expires - now).total_seconds() >= days * 86400:
        return []
    left = (expires - now).days
    when = f"verloopt op {expires:%d-%m-%Y}" if left >= 0 else f"is verlopen op {expires:%d-%m-%Y}"
    what = "certificaat" if login.certificate is not None else "geheim"
    return [Alert(f"login-secret:{expires:%Y-%m-%d}", Reason.LOGIN_SECRET_EXPIRING,
                  detail=f"het {what} van de applicatie {login.client_id} {when}", repeat_after=REPEAT_EVERY)]
