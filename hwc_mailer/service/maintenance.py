"""Pass-level chores the daemon schedules: none of them is about one message.

    tidy        before every pass: send the alerts that wait (`send_pending_alerts`), forget replay-guard and
                poison hashes older than `trust.replay_days`, and journal rows of sources that left INBOX and
                have nothing left to resume
    send_pending_alerts
                part of tidy: genuine alerts that were over their hourly budget or that no officer's server
                accepted, oldest first within the budget, then the junk digest when due
    check_keys  daily: officers hear about keys that expire soon or cannot be used, and about the login's client
                secret or certificate expiring
"""

from datetime import timedelta

import structlog

from ..domain.outcomes import NotOurs
from .alerts import Alerter
from .keys import key_alerts, key_statuses
from .logins import secret_alerts
from .pipeline import Context, Edges, source_key

log = structlog.get_logger("hwc_mailer.maintenance")


class Maintenance:
    def __init__(self, edges: Edges, context: Context, alerter: Alerter) -> None:
        self.edges = edges
        self.context = context
        self.alerter = alerter

    def tidy(self) -> None:
        self.send_pending_alerts()
        store, settings = self.edges.store, self.context.settings
        store.forget_signals_before(self.context.now() - timedelta(days=settings.trust.replay_days))
        inbox = settings.folders.inbox
        uidvalidity, uids = self.edges.mailbox.uids(inbox)
        present = {source_key(inbox, uidvalidity, uid) for uid in uids}
        departed = [source for source, journal in store.journals(f"{inbox}:{uidvalidity}:").items()
                    if source not in present and not journal.delivered
                    and journal.outcome in (None, NotOurs().code)]
        store.forget(*departed)

    def send_pending_alerts(self) -> int:
        """First in tidy, so alerts go out even while the mailbox is unreachable; an SMTP outage only ends the
        round (the alerts keep waiting), it does not end the pass."""
        return self.alerter.send_pending()

    def check_keys(self) -> int:
        now = self.context.now()
        statuses = key_statuses(self.context.settings, self.context.rules, self.edges.inbound, self.edges.outbound,
                                now)
        settings = self.context.settings
        expiring = secret_alerts(settings.login, now, settings.alerts.key_expiry_days)
        for alert in expiring:
            log.warning("login-secret-expiring", reason=alert.code, step=alert.event)
        told = sum(self.alerter.tell(alert) for alert in key_alerts(statuses, now) + expiring)
        log.info("keys-checked", count=len(statuses), deliveries=told)
        return told
