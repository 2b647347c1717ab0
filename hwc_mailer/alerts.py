"""Telling a Leerplicht officer, by mail, that a person is needed.

An alert says what happened (a reason code and its Dutch explanation), where
the message now is and what to do: never anything from the message itself, so
it may go unencrypted to an officer without a key. Officers with a usable key
get it encrypted and signed. One alert per event: the store remembers which
events were told, and a repeating event (an expiring key) is told again only
when due. A cap per hour keeps a flood of forgeries from becoming a flood of
alerts.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import structlog

from .compose import ALERT, Notice, Templates, envelope, pgp_mime, plain, protected
from .config import Settings
from .crypto import Keyring, KeyState
from .reasons import ACTIONS, explain
from .errors import TransportRejected
from .rules import Officer, Rules
from .store import Store
from .transport import SmtpTransport

log = structlog.get_logger("hwc_mailer.alerts")

MAX_ALERTS_PER_HOUR = 30


@dataclass(frozen=True)
class Alert:
    event: str                      # what makes two alerts the same one, e.g. "quarantined:INBOX:7:42"
    kind: str                       # quarantined | manual | key
    reason: str                     # a reason code (reasons.py)
    folder: str | None = None       # where the message now is
    detail: str = ""                # a school code or key fingerprint; never personal data
    repeat_after: timedelta | None = None


class Alerter:
    def __init__(self, settings: Settings, rules: Rules, templates: Templates, outbound: Keyring,
                 transport: SmtpTransport, store: Store, now: Callable[[], datetime]) -> None:
        self._settings = settings
        self._rules = rules
        self._templates = templates
        self._outbound = outbound
        self._transport = transport
        self._store = store
        self._now = now
        self._sent_this_hour: list[datetime] = []

    def tell(self, alert: Alert) -> bool:
        """Send the alert to every officer unless this event was told already; True when sent."""
        now = self._now()
        if not self._store.alert_due(alert.event, now, alert.repeat_after):
            return False
        self._sent_this_hour = [moment for moment in self._sent_this_hour if now - moment < timedelta(hours=1)]
        if len(self._sent_this_hour) >= MAX_ALERTS_PER_HOUR:
            log.error("alert-suppressed", reason=alert.reason, outcome=alert.kind)
            return False
        sender = self._settings.sender
        subject, body = self._templates.render(ALERT, {"alert": alert, "explanation": explain(alert.reason),
                                                       "action": ACTIONS[alert.kind], "sender": sender})
        for officer in self._rules.officers:
            headers = envelope(sender, [(officer.name, officer.email)], subject,
                               message_id=make_msgid(domain=sender.id_domain), now=now)
            try:
                self._transport.send(self._protect(officer, headers, subject, body), [officer.email])
            except TransportRejected as error:
                log.error("alert-rejected", error=str(error))
        self._store.record_alert(alert.event, now)
        self._sent_this_hour.append(now)
        log.info("alert-sent", reason=alert.reason, outcome=alert.kind, count=len(self._rules.officers))
        return True

    def _protect(self, officer: Officer, headers: tuple[tuple[str, str], ...], subject: str,
                 body: str) -> EmailMessage:
        """Encrypted and signed when the officer has a usable key; plain otherwise (alerts hold no personal data)."""
        if officer.fingerprint is None:
            return plain(headers, body)
        state = self._outbound.key_state(officer.fingerprint, officer.email)
        if state is not KeyState.ok:
            log.warning("officer-key-unusable", fingerprint=officer.fingerprint, reason=state.value)
            return plain(headers, body)
        notice = Notice((officer.email,), (officer.fingerprint,), headers, protected(headers, subject, body))
        armored = self._outbound.encrypt_signed(notice.inner, notice.fingerprints, self._settings.gpg.key_fingerprint)
        return pgp_mime(notice, armored)
