"""One message through every step, to exactly one outcome.

    fetch -> authenticate (intake) -> parse (signal) -> route -> for each school:
    compose -> encrypt + sign -> send -> journal "sent" -> outcome + counters
    -> purge source and copies -> forget the journal rows

`decide` is the part before any mail leaves: it needs only the rules and the
inbound keyring. `process` adds the edges and the journal, so a restart after a
crash resumes: schools already journaled as sent are skipped, a delivered signal
whose purge was cut short is purged again, and nothing is counted twice. A crash
between "accepted by SMTP" and "journaled" resends that one school's mail with
the same Message-ID: a visible duplicate, never a loss.

Expected results are values; exceptions mean an outage (the message stays and is
retried on the next pass) or a bug (logged, the message stays for a person).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from .compose import Templates, compose_notice, outgoing_message_id, pgp_mime
from .config import Settings
from .crypto import Keyring, KeyState
from .errors import MailboxUnavailable, TransportRejected, TransportUnavailable
from .intake import Authentic, NotOurs, Rejected, authenticate, read_message
from .mailbox import ImapMailbox
from .routing import Delivery, Unroutable, route
from .rules import Rules
from .signal import AgeRange, Invalid, parse_signal
from .store import DONE, SENT_PREFIX, Store, Tally
from .transport import SmtpTransport

log = structlog.get_logger("hwc_mailer.pipeline")


@dataclass(frozen=True)
class Delivered:
    schools: tuple[str, ...]
    children: int

    @property
    def code(self) -> str:
        return "delivered"


@dataclass(frozen=True)
class Manual:
    """A person must finish this one (for now it stays in the inbox)."""

    reason: str

    @property
    def code(self) -> str:
        return f"manual:{self.reason}"


@dataclass(frozen=True)
class Quarantined:
    """Claims to be a signal but is not authentic (for now it stays in the inbox)."""

    reason: str

    @property
    def code(self) -> str:
        return f"quarantined:{self.reason}"


NOT_OURS = "not-ours"
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
    id_secret: bytes
    now: Callable[[], datetime]


def decide(raw: bytes, rules: Rules, inbound: Keyring, *, today: datetime, ages: AgeRange) -> Plan | Outcome:
    authentic = authenticate(raw, rules, inbound)
    if isinstance(authentic, NotOurs):
        return authentic
    if isinstance(authentic, Rejected):
        return Quarantined(authentic.reason)
    assert isinstance(authentic, Authentic)
    signal = parse_signal(authentic.text, today=today.date(), ages=ages)
    if isinstance(signal, Invalid):
        return Manual(signal.reason)
    routed = route(signal, rules)
    if isinstance(routed, Unroutable):
        return Manual(routed.reason)
    return Plan(routed)


def usable_contacts(delivery: Delivery, outbound: Keyring) -> Delivery | None:
    """The school with only the contacts whose key can be used; None when no contact is left."""
    contacts = tuple(contact for contact in delivery.school.contacts
                     if outbound.key_state(contact.fingerprint) is KeyState.ok)
    if len(contacts) < len(delivery.school.contacts):
        log.warning("contact-key-unusable", school=delivery.school.code,
                    count=len(delivery.school.contacts) - len(contacts))
    if not contacts:
        return None
    return Delivery(delivery.school.model_copy(update={"contacts": contacts}), delivery.children)


def source_key(folder: str, uidvalidity: int, uid: int) -> str:
    return f"{folder}:{uidvalidity}:{uid}"


def process(uid: int, edges: Edges, context: Context) -> Outcome | None:
    """Drive one INBOX message to its outcome; None when it vanished meanwhile."""
    folder = context.settings.folders.inbox
    source = source_key(folder, edges.mailbox.uidvalidity[folder], uid)
    raw = edges.mailbox.fetch(folder, uid)
    if raw is None:
        return None
    message_id = str(read_message(raw).get("Message-ID", "")).strip()
    structlog.contextvars.bind_contextvars(source=source, message_id=message_id)
    try:
        now = context.now()
        ages = AgeRange(context.settings.ages.minimum, context.settings.ages.maximum)
        decision = decide(raw, context.rules, edges.inbound, today=now, ages=ages)
        del raw
        if isinstance(decision, NotOurs):
            edges.store.record_outcome(source, NOT_OURS, f"{now:%Y-%m}", [])
            log.info("not-ours")
            return decision
        if not isinstance(decision, Plan):
            edges.store.record_outcome(source, decision.code, f"{now:%Y-%m}", [Tally("", 1, 0, 0)])
            log.warning("held", outcome=decision.code, reason=decision.reason)
            return decision
        outcome = _deliver(decision, source, message_id or source, edges, context, now)
        if isinstance(outcome, Delivered):
            _purge(uid, source, edges, context, message_id)
        return outcome
    finally:
        structlog.contextvars.unbind_contextvars("source", "message_id")


def _deliver(plan: Plan, source: str, source_id: str, edges: Edges, context: Context,
             now: datetime) -> Delivered | Manual:
    settings = context.settings
    deliveries = []
    for delivery in plan.deliveries:
        usable = usable_contacts(delivery, edges.outbound)
        if usable is None:
            outcome = Manual("no-valid-key")
            edges.store.record_outcome(source, outcome.code, f"{now:%Y-%m}", [Tally("", 1, 0, 0)])
            log.warning("held", outcome=outcome.code, reason=outcome.reason, school=delivery.school.code)
            return outcome
        deliveries.append(usable)
    already = edges.store.journal(source)
    for delivery in deliveries:
        message_id = outgoing_message_id(context.id_secret, source_id, delivery.school.code,
                                         settings.sender.id_domain)
        if SENT_PREFIX + message_id in already:
            continue
        notice = compose_notice(delivery, settings.sender, context.templates, message_id=message_id, now=now)
        armored = edges.outbound.encrypt_signed(notice.inner, notice.fingerprints, settings.gpg.key_fingerprint)
        try:
            accepted = edges.transport.send(pgp_mime(notice, armored), notice.recipients)
        except TransportRejected as error:
            outcome = Manual("smtp-rejected")
            edges.store.record_outcome(source, outcome.code, f"{now:%Y-%m}", [Tally("", 1, 0, 0)])
            log.error("held", outcome=outcome.code, reason=outcome.reason, school=delivery.school.code,
                      error=str(error))
            return outcome
        edges.store.record_sent(source, message_id)
        log.info("sent", school=delivery.school.code, count=accepted, children=len(delivery.children))
    tallies = _tallies(deliveries)
    outcome = Delivered(tuple(delivery.school.code for delivery in deliveries),
                        sum(len(delivery.children) for delivery in deliveries))
    if DONE not in already:
        edges.store.record_outcome(source, outcome.code, f"{now:%Y-%m}", tallies)
    log.info("delivered", schools=",".join(outcome.schools), children=outcome.children)
    return outcome


def _tallies(deliveries: list[Delivery]) -> list[Tally]:
    """Children and schools per municipality; the signal itself under its first school's municipality."""
    by_municipality: dict[str, Tally] = {}
    for index, delivery in enumerate(deliveries):
        name = delivery.school.municipality
        previous = by_municipality.get(name, Tally(name, 0, 0, 0))
        by_municipality[name] = Tally(name, previous.signals + (index == 0), previous.children + len(delivery.children),
                                      previous.schools + 1)
    return list(by_municipality.values())


def _purge(uid: int, source: str, edges: Edges, context: Context, message_id: str) -> None:
    """Source out of the inbox, then every copy the server kept of what we sent, then the journal rows."""
    folders = context.settings.folders
    sent_ids = [step.removeprefix(SENT_PREFIX) for step in edges.store.journal(source) if step.startswith(SENT_PREFIX)]
    edges.mailbox.delete(folders.inbox, [uid])
    copies = 0
    for folder, wanted in ((folders.sent, sent_ids), (folders.trash, [*sent_ids, message_id])):
        if folder is None:
            continue
        found = sorted({uid for mid in wanted if mid for uid in edges.mailbox.find_by_message_id(folder, mid)})
        edges.mailbox.delete(folder, found)
        copies += len(found)
    edges.store.forget(source)
    log.info("purged", count=copies)


def process_waiting(edges: Edges, context: Context) -> list[Outcome]:
    """Every INBOX message without an outcome yet, each isolated from the others.

    An outage ends the pass (everything stays for the next one); any other
    exception is a bug: logged without content, that message stays, the rest go on.
    """
    folder = context.settings.folders.inbox
    uidvalidity, uids = edges.mailbox.uids(folder)
    finished = edges.store.finished_sources(f"{folder}:{uidvalidity}:")
    outcomes: list[Outcome] = []
    for uid in uids:
        source = source_key(folder, uidvalidity, uid)
        if finished.get(source) == "delivered":
            _purge(uid, source, edges, context, "")
            continue
        if source in finished:
            continue
        try:
            outcome = process(uid, edges, context)
        except (MailboxUnavailable, TransportUnavailable):
            raise
        except Exception:
            log.exception("message-failed", source=source)
            continue
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
