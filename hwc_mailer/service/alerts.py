"""Telling a Leerplicht officer, by mail, that a person is needed.

An alert says what happened (a reason and its Dutch explanation), where the
message now is and what to do: never anything from the message itself, so it
may go unencrypted to an officer without a key. Officers with a usable key get
it encrypted and signed. One alert per event: the store remembers which events
were told, and a repeating event (an expiring key) is told again only when due.
A cap per hour keeps a flood of forgeries from becoming a flood of alerts.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import structlog

from ..domain.reasons import Reason
from ..edges.protocols import Clock, Keyring, KeyState, Store, Transport
from ..errors import TransportRejected
from ..outbound.notice import ALERT, Notice, Templates, envelope, plain, protected
from ..outbound.sealing import PgpMimeSealer
from ..settings.config import Settings
from ..settings.rules import Officer, Rules

log = structlog.get_logger("hwc_mailer.alerts")

MAX_ALERTS_PER_HOUR = 30
# How often a standing problem (an unusable or expiring key) is told again.
REPEAT_EVERY = timedelta(days=7)


@dataclass(frozen=True)
class Alert:
    event: str                      # what makes two alerts the same one, e.g. "quarantined:INBOX:7:42"
    reason: Reason
    folder: str | None = None       # where the message now is
    detail: str = ""                # a school code or key fingerprint; never personal data
    repeat_after: timedelta | None = None

    @property
    def kind(self) -> str:
        """quarantined | manual | key: which opening the alert template uses."""
        return self.reason.disposition.value if self.reason.disposition else "key"

    @property
    def code(self) -> str:
        return self.reason.value


class Alerter:
    def __init__(self, settings: Settings, rules: Rules, templates: Templates, outbound: Keyring,
                 transport: Transport, store: Store, now: Clock) -> None:
        self._settings = settings
        self._rules = rules
        self._templates = templates
        self._outbound = outbound
        self._sealer = PgpMimeSealer(outbound, settings.gpg.key_fingerprint)
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
            log.error("alert-suppressed", reason=alert.code, outcome=alert.kind)
            return False
        sender = self._settings.sender
        subject, body = self._templates.render(ALERT, {"alert": alert, "explanation": alert.reason.explanation,
                                                       "action": alert.reason.action, "sender": sender})
        for officer in self._rules.officers:
            headers = envelope(sender, [(officer.name, officer.email)], subject,
                               message_id=make_msgid(domain=sender.id_domain), now=now)
            try:
                self._transport.send(self._protect(officer, headers, subject, body), [officer.email])
            except TransportRejected as error:
                log.error("alert-rejected", error=str(error))
        self._store.record_alert(alert.event, now)
        self._sent_this_hour.append(now)
        log.info("alert-sent", reason=alert.code, outcome=alert.kind, count=len(self._rules.officers))
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
        return self._sealer.seal(Notice((officer.email,), (officer.fingerprint,), headers,
                                        protected(headers, subject, body)))
