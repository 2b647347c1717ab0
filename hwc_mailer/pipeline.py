"""One message through every step, to exactly one outcome.

    size check -> fetch -> authenticate (intake) -> parse (signal) -> route
    -> replay guard -> usable contact keys -> for each school:
       compose -> encrypt + sign -> send -> journal "sent"
    -> outcome + counters -> purge source and copies -> forget the journal rows

    not ours            -> left alone, journaled so it is not read again
    quarantined/manual  -> officer alert -> outcome + counters -> moved to its folder

`plan` is the pure part: from authentic text to deliveries. `process` adds the
edges and the journal, so a restart after a crash resumes: schools already
journaled as sent are skipped, a delivered signal whose purge was cut short is
purged again, a held one is moved again, and nothing is counted twice. A crash between "accepted by SMTP" and
"journaled" resends that one school's mail with the same Message-ID: a visible
duplicate, never a loss.

Expected results are values; exceptions mean an outage (the message stays and is
retried on the next pass) or a bug (logged, the message stays and the pass goes on).
"""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from .alerts import Alert, Alerter
from .compose import Templates, compose_notice, outgoing_message_id, pgp_mime
from .config import Folders, Settings
from .crypto import Keyring, KeyState
from .errors import MailboxUnavailable, TransportRejected, TransportUnavailable
from .keys import key_alerts, key_statuses
from .intake import NotOurs, Rejected, authenticate, message_id_of, oversized
from .mailbox import ImapMailbox
from .routing import Delivery, Unroutable, route
from .rules import Rules
from .signal import AgeRange, Invalid, parse_signal
from .store import DONE, SENT_PREFIX, Store, Tally
from .transport import SmtpTransport

log = structlog.get_logger("hwc_mailer.pipeline")

NOT_OURS = "not-ours"
DELIVERED = "delivered"
CONTACT_ALERT_EVERY = timedelta(days=7)


@dataclass(frozen=True)
class Delivered:
    schools: tuple[str, ...]
    children: int

    @property
    def code(self) -> str:
        return DELIVERED


@dataclass(frozen=True)
class Manual:
    """A person must finish this signal: it goes to the manual folder."""

    reason: str
    detail: str = ""     # for the officer: which schools already have their mail; never personal data
    kind = "manual"

    @property
    def code(self) -> str:
        return f"manual:{self.reason}"


@dataclass(frozen=True)
class Quarantined:
    """Claims to be a signal but is not an authentic one: it goes to the quarantine folder."""

    reason: str
    kind = "quarantined"

    @property
    def code(self) -> str:
        return f"quarantined:{self.reason}"


Held = Manual | Quarantined
Outcome = Delivered | Manual | Quarantined | NotOurs


@dataclass(frozen=True)
class Plan:
    deliveries: tuple[Delivery, ...]


@dataclass
class Edges:
    """Everything that does I/O, passed in so tests and benchmarks hand in real servers on loopback."""

    mailbox: ImapMailbox
    inbound: Keyring
    outbound: Keyring
    transport: SmtpTransport
    store: Store


@dataclass(frozen=True)
class Context:
    settings: Settings
    rules: Rules
    templates: Templates
    secret: bytes
    now: Callable[[], datetime]


def plan(text: str, rules: Rules, settings: Settings, now: datetime) -> Plan | Manual:
    """From the authentic text to one delivery per school, or why a person must do it."""
    ages = AgeRange(settings.ages.minimum, settings.ages.maximum)
    signal = parse_signal(text, today=now.date(), ages=ages)
    if isinstance(signal, Invalid):
        return Manual(signal.reason)
    routed = route(signal, rules)
    if isinstance(routed, Unroutable):
        return Manual(routed.reason)
    return Plan(routed)


def source_key(folder: str, uidvalidity: int, uid: int) -> str:
    return f"{folder}:{uidvalidity}:{uid}"


class Pipeline:
    def __init__(self, edges: Edges, context: Context) -> None:
        self.edges = edges
        self.context = context
        self.alerter = Alerter(context.settings, context.rules, context.templates, edges.outbound,
                               edges.transport, edges.store, context.now)

    @property
    def _folders(self) -> Folders:
        return self.context.settings.folders

    def process_waiting(self) -> list[Outcome]:
        """Every INBOX message without an outcome yet, each isolated from the others.

        An outage ends the pass (everything stays for the next one); any other
        exception is a bug: logged without content, that message stays, the rest go on.
        """
        edges, folder = self.edges, self._folders.inbox
        now = self.context.now()
        edges.store.forget_signals_before(now - timedelta(days=self.context.settings.trust.replay_days))
        uidvalidity, uids = edges.mailbox.uids(folder)
        finished = edges.store.finished_sources(f"{folder}:{uidvalidity}:")
        present = {source_key(folder, uidvalidity, uid) for uid in uids}
        edges.store.forget(*(source for source, outcome in finished.items()
                             if outcome == NOT_OURS and source not in present))
        outcomes: list[Outcome] = []
        for uid in uids:
            source = source_key(folder, uidvalidity, uid)
            try:
                if source in finished:
                    self._resume(uid, source, finished[source])
                    continue
                outcome = self.process(uid, source)
            except (MailboxUnavailable, TransportUnavailable):
                raise
            except Exception:
                log.exception("message-failed", source=source)
                continue
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def check_keys(self) -> int:
        """The daily key check: officers hear about keys that expire soon or cannot be used."""
        now = self.context.now()
        statuses = key_statuses(self.context.settings, self.context.rules, self.edges.inbound, self.edges.outbound,
                                now)
        told = sum(self.alerter.tell(alert) for alert in key_alerts(statuses, now))
        log.info("keys-checked", count=len(statuses), deliveries=told)
        return told

    def _resume(self, uid: int, source: str, outcome: str) -> None:
        """Finish what a crash cut short: the outcome is recorded, the mailbox work is not done yet."""
        if outcome == DELIVERED:
            self._purge(uid, source, "")
        elif outcome.startswith("manual:"):
            self._move(uid, source, self._folders.manual)
        elif outcome.startswith("quarantined:"):
            self._move(uid, source, self._folders.quarantine)

    def process(self, uid: int, source: str) -> Outcome | None:
        """Drive one INBOX message to its outcome; None when it vanished meanwhile."""
        edges, settings = self.edges, self.context.settings
        folder = self._folders.inbox
        size = edges.mailbox.size(folder, uid)
        if size is None:
            return None
        now = self.context.now()
        if size > settings.limits.max_message_bytes:
            header = edges.mailbox.fetch_header(folder, uid) or b""
            message_id = message_id_of(header)
            verdict = oversized(header, self.context.rules)
            decision: Plan | Outcome = verdict if isinstance(verdict, NotOurs) else Quarantined(verdict.reason)
        else:
            raw = edges.mailbox.fetch(folder, uid)
            if raw is None:
                return None
            message_id = message_id_of(raw)
            decision = self._decide(raw, source, now)
            del raw
        structlog.contextvars.bind_contextvars(source=source, message_id=message_id)
        try:
            if isinstance(decision, NotOurs):
                edges.store.record_outcome(source, NOT_OURS, f"{now:%Y-%m}", [])
                log.info("not-ours")
                return decision
            if isinstance(decision, Plan):
                decision = self._deliver(decision, uid, source, message_id or source, now)
            if isinstance(decision, (Manual, Quarantined)):
                self._hold(decision, uid, source, now)
            return decision
        finally:
            structlog.contextvars.unbind_contextvars("source", "message_id")

    def _decide(self, raw: bytes, source: str, now: datetime) -> Plan | Outcome:
        """Authenticate, refuse a replay, then plan; nothing here sends or moves anything."""
        settings = self.context.settings
        authentic = authenticate(raw, self.context.rules, self.edges.inbound, limits=settings.limits,
                                 trust=settings.trust, now=now)
        if isinstance(authentic, NotOurs):
            return authentic
        if isinstance(authentic, Rejected):
            return Quarantined(authentic.reason)
        replay_key = hmac.new(self.context.secret, f"replay\0{authentic.digest}".encode(), hashlib.sha256).hexdigest()
        if self.edges.store.claim_signal(replay_key, source) != source:
            return Quarantined("replay")
        return plan(authentic.text, self.context.rules, settings, now)

    def _hold(self, outcome: Held, uid: int, source: str, now: datetime) -> None:
        folder = self._folders.manual if isinstance(outcome, Manual) else self._folders.quarantine
        detail = outcome.detail if isinstance(outcome, Manual) else ""
        self.alerter.tell(Alert(f"{outcome.code}:{source}", outcome.kind, outcome.reason, folder, detail))
        self.edges.store.record_outcome(source, outcome.code, f"{now:%Y-%m}", [Tally("", 1, 0, 0)])
        log.warning("held", outcome=outcome.code, reason=outcome.reason, folder=folder)
        self._move(uid, source, folder)

    def _move(self, uid: int, source: str, folder: str) -> None:
        """Into the manual or quarantine folder; copies of anything already sent still go."""
        self.edges.mailbox.move(self._folders.inbox, uid, folder)
        self._delete_copies(source, "")
        self.edges.store.forget(source)

    def _usable(self, delivery: Delivery) -> Delivery | None:
        """The school with only the contacts whose key may be used; None when none is left.

        A contact with an unusable key is skipped, and officers hear about it once a week.
        """
        usable = []
        for contact in delivery.school.contacts:
            state = self.edges.outbound.key_state(contact.fingerprint, contact.email)
            if state is KeyState.ok:
                usable.append(contact)
                continue
            log.warning("contact-key-unusable", school=delivery.school.code, fingerprint=contact.fingerprint,
                        reason=state.value)
            self.alerter.tell(Alert(f"contact-key:{contact.fingerprint}:{state.value}", "key", "contact-key-unusable",
                                    detail=f"school {delivery.school.code}, sleutel {contact.fingerprint}, "
                                           f"status {state.value}", repeat_after=CONTACT_ALERT_EVERY))
        if not usable:
            return None
        return Delivery(delivery.school.model_copy(update={"contacts": tuple(usable)}), delivery.children)

    def _deliver(self, planned: Plan, uid: int, source: str, source_id: str, now: datetime) -> Outcome:
        edges, settings, secret = self.edges, self.context.settings, self.context.secret
        deliveries = []
        for delivery in planned.deliveries:
            usable = self._usable(delivery)
            if usable is None:
                return Manual("no-valid-key")
            deliveries.append(usable)
        already = edges.store.journal(source)
        sent: list[str] = []
        for delivery in deliveries:
            message_id = outgoing_message_id(secret, source_id, delivery.school.code, settings.sender.id_domain)
            if SENT_PREFIX + message_id in already:
                sent.append(delivery.school.code)
                continue
            notice = compose_notice(delivery, settings.sender, self.context.templates, message_id=message_id, now=now)
            armored = edges.outbound.encrypt_signed(notice.inner, notice.fingerprints, settings.gpg.key_fingerprint)
            try:
                accepted = edges.transport.send(pgp_mime(notice, armored), notice.recipients)
            except TransportRejected as error:
                log.error("smtp-rejected", school=delivery.school.code, error=str(error))
                done = f"al verstuurd naar {', '.join(sent)}" if sent else "aan geen enkele school verstuurd"
                return Manual("smtp-rejected", f"geweigerd voor school {delivery.school.code}, {done}")
            edges.store.record_sent(source, message_id)
            sent.append(delivery.school.code)
            log.info("sent", school=delivery.school.code, count=accepted, children=len(delivery.children))
        outcome = Delivered(tuple(delivery.school.code for delivery in deliveries),
                            sum(len(delivery.children) for delivery in deliveries))
        if DONE not in already:
            edges.store.record_outcome(source, outcome.code, f"{now:%Y-%m}", _tallies(deliveries))
        log.info("delivered", schools=",".join(outcome.schools), children=outcome.children)
        self._purge(uid, source, source_id)
        return outcome

    def _purge(self, uid: int, source: str, message_id: str) -> None:
        """Source out of the inbox, then every copy the server kept of it and of what we sent, then the journal."""
        self.edges.mailbox.delete(self._folders.inbox, [uid])
        copies = self._delete_copies(source, message_id)
        self.edges.store.forget(source)
        log.info("purged", count=copies)

    def _delete_copies(self, source: str, message_id: str) -> int:
        """Copies of our sent mails in Sent and Trash, and of the source in Trash, found by Message-ID."""
        folders, mailbox = self._folders, self.edges.mailbox
        sent_ids = [step.removeprefix(SENT_PREFIX) for step in self.edges.store.journal(source)
                    if step.startswith(SENT_PREFIX)]
        copies = 0
        for folder, wanted in ((folders.sent, sent_ids), (folders.trash, [*sent_ids, message_id])):
            if folder is None:
                continue
            found = sorted({uid for mid in wanted if mid.startswith("<")
                            for uid in mailbox.find_by_message_id(folder, mid)})
            mailbox.delete(folder, found)
            copies += len(found)
        return copies


def _tallies(deliveries: list[Delivery]) -> list[Tally]:
    """Children and schools per municipality; the signal itself under its first school's municipality."""
    by_municipality: dict[str, Tally] = {}
    for index, delivery in enumerate(deliveries):
        name = delivery.school.municipality
        previous = by_municipality.get(name, Tally(name, 0, 0, 0))
        by_municipality[name] = Tally(name, previous.signals + (index == 0), previous.children + len(delivery.children),
                                      previous.schools + 1)
    return list(by_municipality.values())
