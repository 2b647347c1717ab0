"""Pass-level chores the daemon schedules: none of them is about one message.

    tidy        before every pass: forget replay-guard and poison hashes older than `trust.replay_days`,
                and journal rows of sources that left INBOX and have nothing left to resume
    check_keys  daily: officers hear about keys that expire soon or cannot be used
"""

from datetime import timedelta

import structlog

from ..domain.outcomes import NotOurs
from .alerts import Alerter
from .keys import key_alerts, key_statuses
from .pipeline import Context, Edges, source_key

log = structlog.get_logger("hwc_mailer.maintenance")


class Maintenance:
    def __init__(self, edges: Edges, context: Context, alerter: Alerter) -> None:
        self.edges = edges
        self.context = context
        self.alerter = alerter

    def tidy(self) -> None:
        store, settings = self.edges.store, self.context.settings
        store.forget_signals_before(self.context.now() - timedelta(days=settings.trust.replay_days))
        inbox = settings.folders.inbox
        uidvalidity, uids = self.edges.mailbox.uids(inbox)
        present = {source_key(inbox, uidvalidity, uid) for uid in uids}
        departed = [source for source, journal in store.journals(f"{inbox}:{uidvalidity}:").items()
                    if source not in present and not journal.delivered
                    and journal.outcome in (None, NotOurs().code)]
        store.forget(*departed)

    def check_keys(self) -> int:
        now = self.context.now()
        statuses = key_statuses(self.context.settings, self.context.rules, self.edges.inbound, self.edges.outbound,
                                now)
        told = sum(self.alerter.tell(alert) for alert in key_alerts(statuses, now))
        log.info("keys-checked", count=len(statuses), deliveries=told)
        return told
