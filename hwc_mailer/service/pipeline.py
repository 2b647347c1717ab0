"""One message through every step, to exactly one outcome.

    count the attempt -> size -> decide -> carry out -> record -> dispose

    decide     read (header only when over the size cap); a delivery report on one of our own mails is
               Bounced; an officer's reply to an alert is read and checked against the held signal it names
               (service.replies); else authenticate, replay guard, parse, route (a copy of an unfinished
               signal whose first source left INBOX takes over its claim)
    carry out  per delivery: usable contact keys, compose, remember a keyed hash of what goes to which
               school (for reports), seal, send, journal the delivery
    record     when held: record where it goes (reference, Message-ID, size, times) and tell the officers,
               naming the child only to an officer with a key; a reply: mark the held signal finished and
               answer; outcome and counters in one transaction
    dispose    the mailbox action DISPOSE names for the outcome's disposition, then the copies that are
               provably ours or the source's, then the claim settles on where the signal went; a finished
               held signal is purged last

The journal records each step before and after it happens, so a restart resumes
instead of repeating or skipping: deliveries already journaled are skipped, and a
source whose outcome is recorded gets only its mailbox action again (`_resume`
reads the same DISPOSE table), or, when it already left INBOX, only the purge of
its copies and journal. Nothing is counted twice. A crash between "accepted
by SMTP" and "journaled" resends that one delivery with the same Message-ID: a
visible duplicate, never a loss. Attempts are counted before a message is touched,
so one that kills the process counts too; after `limits.max_attempts` it is set
aside for a person (or, when it is not ours, skipped from then on).

Expected results are values; exceptions mean an outage (the message stays and is
retried on the next pass) or a bug (logged without content, the message stays and
the pass goes on).
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from typing import TypeVar

import structlog

from ..domain.outcomes import Bounced, Delivered, Held, NotOurs, Outcome, Replied, parse_outcome_code
from ..domain.reasons import Disposition, Reason
from ..domain.register import Register
from ..domain.replies import REFERENCE_ALPHABET, Instruction, Refusal
from ..domain.routing import Delivery, Routed, route, suggestions
from ..domain.signal import AgeRange, Signal, parse_signal
from ..edges.protocols import Certificates, Clock, Keyring, KeyState, Mailbox, Placed, Store, Tally, Transport
from ..errors import (
    GatewayUnavailable,
    Outage,
    RegisterUnavailable,
    TransportRejected,
    TransportUnavailable,
)
from ..inbound.authenticate import Authentic, authenticate, header_sender, oversized, replying_officer
from ..inbound.bounces import bounce_of
from ..inbound.mime import Readable, message_id_of
from ..outbound.notice import DeliveryKey, Templates, compose_notice, dutch_date, outgoing_message_id
from ..outbound.sealing import GatewaySealer, PgpMimeSealer, Sealer
from ..settings.config import Folders, Settings
from ..settings.rules import Contact, Officer, Profile, Rules, School
from .alerts import REPEAT_EVERY, Alert, Alerter, smime_signer
from .folders import purge_placed, resolve_folders
from .replies import Finish, answer_alert, officer_schools, read_answer

log = structlog.get_logger("hwc_mailer.pipeline")
T = TypeVar("T")

# The counter of children sent by their School: line whom the register does not know (moved in, stale export).
REGISTER_GAP = "register-gap"


class MailboxAction(Enum):
    PURGE = "purge"                          # source out of INBOX, copies out of Sent and Trash, journal forgotten
    MOVE_TO_MANUAL = "move-to-manual"        # into the manual folder, copies of anything sent removed
    MOVE_TO_QUARANTINE = "move-to-quarantine"
    LEAVE = "leave"                          # someone else's mail: untouched, journaled so it is not read again


# The one place that says what happens in the mailbox after an outcome, on the first pass and on resume.
DISPOSE: dict[Disposition, MailboxAction] = {
    Disposition.DELIVERED: MailboxAction.PURGE,
    Disposition.BOUNCED: MailboxAction.PURGE,             # a report on our mail: it may carry the encrypted original
    Disposition.MANUAL: MailboxAction.MOVE_TO_MANUAL,
    Disposition.QUARANTINED: MailboxAction.MOVE_TO_QUARANTINE,
    Disposition.NOT_OURS: MailboxAction.LEAVE,
    Disposition.REPLY: MailboxAction.PURGE,               # the officer's signed reply, carried out or refused
}


@dataclass
class Edges:
    """Everything that does I/O, passed in so tests and benchmarks hand in real servers on loopback."""

    mailbox: Mailbox
    inbound: Keyring
    outbound: Keyring
    transport: Transport
    store: Store
    certificates: Certificates | None = None                            # when the service file configures smime
    gateways: Mapping[str, Transport] = field(default_factory=dict)     # secure-mail gateways by name


@dataclass(frozen=True)
class Context:
    settings: Settings
    rules: Rules
    templates: Templates
    secret: bytes
    now: Clock
    register: Register | None = None


# A plan is what routing gives: one delivery per school, and how many children the register did not confirm.
Plan = Routed[School]


def read_signal(readable: Readable, context: Context, now: datetime) -> Signal | Held:
    """The signal in an authentic text, or why a person must read it."""
    if readable.doubt is not None:
        return Held(readable.doubt)
    ages = context.settings.ages
    return parse_signal(readable.text, today=now.date(), ages=AgeRange(ages.minimum, ages.maximum),
                        set_apart=readable.set_apart, subject=readable.subject)


def plan(signal: Signal, context: Context, decided: dict[int, School] | None = None) -> Plan | Held:
    """One delivery per school, or why a person must do it; `decided` are the schools an officer named."""
    try:
        return route(signal, context.rules, context.register, decided)
    except RegisterUnavailable as error:
        log.error("register-unavailable", error=str(error))
        return Held(Reason.REGISTER_UNAVAILABLE)


# What a replay alert says about the signal's first copy.
ORIGINAL_DELIVERED = "het origineel is afgeleverd"
ORIGINAL_NOT_DELIVERED = "het origineel is niet (volledig) afgeleverd"
_SOURCE_KEY = re.compile(r"(?P<folder>.*):(?P<uidvalidity>[0-9]+):(?P<uid>[0-9]+)")
_SETTLED = {disposition.value: disposition for disposition in Disposition}


@dataclass(frozen=True)
class SourceCopy:
    """What finds the source again elsewhere (a copy in Trash, the message placed in a held folder): its exact
    Message-ID and the size it had in INBOX."""

    message_id: str
    size: int


def source_key(folder: str, uidvalidity: int, uid: int) -> str:
    return f"{folder}:{uidvalidity}:{uid}"


# How often officers hear again of a gateway that stays unavailable.
GATEWAY_REPEAT = timedelta(hours=6)


def gateway_event(name: str) -> str:
    return f"gateway-unavailable:{name}"


def delayed_event(source: str) -> str:
    """The event of the one "vertraagd" alert about a source an outage keeps waiting."""
    return f"delayed:{source}"


def new_reference() -> str:
    """Short and random, and nothing else: it names a held message in alerts, never its content."""
    return "HWC-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def keyed_digest(secret: bytes, purpose: str, data: bytes) -> str:
    """A hash only this installation can compute: what the store keeps instead of content."""
    return hmac.new(secret, purpose.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def sent_digest(secret: bytes, message_id: str, school: str) -> str:
    """What is kept of a mail sent to a school: neither its id nor the school can be read back from it."""
    return keyed_digest(secret, "sent", f"{message_id}\0{school}".encode())


class Pipeline:
    def __init__(self, edges: Edges, context: Context, alerter: Alerter) -> None:
        self.edges = edges
        self.context = context
        self.alerter = alerter
        self._sealers: dict[str, Sealer] = {
            Profile.openpgp.value: PgpMimeSealer(edges.outbound, context.settings.gpg.key_fingerprint)}
        self._folders: Folders | None = None

    @property
    def _inbox(self) -> str:
        return self.context.settings.folders.inbox

    def folders(self) -> Folders:
        """The configured folders with Sent and Trash as the server names them: found at the first pass, so a
        folder that does not exist stops the daemon before it touches a message (FolderMissing)."""
        if self._folders is None:
            self._folders, _ = resolve_folders(self.edges.mailbox, self.context.settings.folders)
        return self._folders

    def process_waiting(self, between: Callable[[], None] | None = None) -> list[Outcome]:
        """Every INBOX message without an outcome yet, each isolated from the others.

        An outage ends the pass (everything stays for the next one); any other
        exception is a bug: logged without content, that message stays, the rest go on.
        `between` is called before each message (the daemon pets the watchdog with it),
        so a long pass of many messages never looks like a hung daemon.
        """
        heartbeat = between or (lambda: None)
        store = self.edges.store
        self.folders()       # found (or refused) before any message is touched
        uidvalidity, uids = self.edges.mailbox.uids(self._inbox)
        journals = store.journals(f"{self._inbox}:{uidvalidity}:")
        present = {source_key(self._inbox, uidvalidity, uid) for uid in uids}
        for source in sorted(journals.keys() - present):
            if journals[source].outcome is not None:
                heartbeat()
                self._isolated(source, partial(self._finish_departed, source))
        outcomes: list[Outcome] = []
        for uid in uids:
            heartbeat()
            source = source_key(self._inbox, uidvalidity, uid)
            recorded = journals[source].outcome if source in journals else None
            if recorded is not None:
                self._isolated(source, partial(self._resume, uid, source, recorded))
            elif (outcome := self._isolated(source, partial(self._attempt, uid, source))) is not None:
                outcomes.append(outcome)
        return outcomes

    def _isolated(self, source: str, work: Callable[[], T]) -> T | None:
        """One message's work: an outage ends the pass, any other exception is a bug logged without content."""
        try:
            return work()
        except GatewayUnavailable as error:       # only this signal waits: the others may not need that gateway
            log.warning("gateway-unavailable", source=source, service=error.gateway, error=str(error))
            self.alerter.tell(Alert(gateway_event(error.gateway), Reason.GATEWAY_UNAVAILABLE,
                                    detail=f"gateway {error.gateway}: {error}", repeat_after=GATEWAY_REPEAT))
            return None
        except Outage:
            raise
        except Exception:
            log.exception("message-failed", source=source)
            return None

    def _finish_departed(self, source: str) -> None:
        """A crash after the source left INBOX (purged or moved) but before its copies, claim and journal were: finish.

        Only our own copies are found now: the source's size left with it, so a copy of the source in Trash
        can no longer be told from someone else's mail and stays.
        """
        store = self.edges.store
        recorded = store.journal(source).outcome
        copies = self._delete_copies(source, None)
        if recorded is not None:
            store.settle_claim(source, parse_outcome_code(recorded)[0].value)
        store.forget(source)
        log.info("disposed", step="resumed", count=copies)

    def _resume(self, uid: int, source: str, recorded: str) -> None:
        """Finish what a crash cut short: the outcome is recorded, its mailbox action may not be done yet."""
        disposition, _ = parse_outcome_code(recorded)
        self._dispose(disposition, uid, source, "", recorded)

    def _attempt(self, uid: int, source: str) -> Outcome | None:
        """Count the attempt first, so a message that kills the process is counted too."""
        store, now = self.edges.store, self.context.now()
        attempts = store.begin_attempt(source, now)
        try:
            if attempts > self.context.settings.limits.max_attempts:
                return self._set_aside(uid, source)
            if attempts == 1 and self._poisoned(uid):
                return self._conclude(NotOurs(), uid, source, "", None)
            return self.process(uid, source)
        except Outage:
            store.uncount_attempt(source)
            raise

    def process(self, uid: int, source: str) -> Outcome | None:
        """Drive one INBOX message to its outcome; None when it vanished meanwhile."""
        mailbox, settings = self.edges.mailbox, self.context.settings
        size = mailbox.size(self._inbox, uid)
        if size is None:
            return None
        now = self.context.now()
        signal: Signal | None = None
        if size > settings.limits.max_message_bytes:
            header = mailbox.fetch_header(self._inbox, uid) or b""
            message_id = message_id_of(header)
            decision: Plan | Finish | Outcome = oversized(header, self.context.rules, settings.limits)
        else:
            raw = mailbox.fetch(self._inbox, uid)
            if raw is None:
                return None
            message_id = message_id_of(raw)
            decision, signal = self._decide(raw, source, now)
            del raw
        structlog.contextvars.bind_contextvars(source=source, message_id=message_id)
        try:
            outcome = self._carry_out(decision, source, message_id or source, now)
            return self._conclude(outcome, uid, source, message_id, _planned(decision), signal)
        finally:
            structlog.contextvars.unbind_contextvars("source", "message_id")

    def _decide(self, raw: bytes, source: str, now: datetime) -> tuple[Plan | Finish | Outcome, Signal | None]:
        """A report on one of our mails first, then an officer's reply, else authenticate, refuse a replay, and plan;
        nothing here sends or moves anything. The signal comes along once it is read from an authentic message."""
        settings = self.context.settings
        bounce = bounce_of(raw, settings.limits)
        returned = self._returned(bounce.message_ids) if bounce is not None else None
        if bounce is not None and returned is not None:
            return Bounced(returned, bounce.status), None
        officer = replying_officer(raw, self.context.rules, settings.limits)
        if officer is not None:
            return self._answer(raw, officer, source, now), None
        authentic = authenticate(raw, self.context.rules, self.edges.inbound, limits=settings.limits,
                                 trust=settings.trust, office=settings.sender.address, now=now)
        if isinstance(authentic, (NotOurs, Held)):
            return authentic, None
        replay = keyed_digest(self.context.secret, "replay", authentic.digest.encode())
        refused = self._claim(replay, source, now)
        if refused is not None:
            return refused, None
        signal = read_signal(authentic.readable, self.context, now)
        if isinstance(signal, Held):
            return signal, None
        return plan(signal, self.context), signal

    def _answer(self, raw: bytes, officer: Officer, source: str, now: datetime) -> Finish | Replied:
        """What an officer's reply asks, checked against the held message it names (see service.replies)."""
        answer = read_answer(raw, officer, self.context.settings, self.edges.outbound, self.edges.certificates, now)
        if isinstance(answer, Replied):
            return answer
        read = answer.instruction
        # A signed reply is carried out once: a copy of it (sent again, or replayed) is purged without a word.
        replay = keyed_digest(self.context.secret, "reply", answer.digest.encode())
        if self.edges.store.claim_signal(replay, source, now) != source:
            return self._refuse(officer, read, Refusal(Reason.REPLY_REPEATED))
        held = self.edges.store.placed_by_reference(read.reference)
        if held is None or held.finished_by not in ("", source):
            return self._refuse(officer, read, Refusal(Reason.REPLY_UNKNOWN_REFERENCE))
        uid = self._held_uid(held)
        if uid is None:
            return self._refuse(officer, read, Refusal(Reason.REPLY_SIGNAL_GONE))
        if read.discard:
            return Finish(officer, held, None)
        if parse_outcome_code(held.outcome)[0] is not Disposition.MANUAL:
            return self._refuse(officer, read, Refusal(Reason.REPLY_SIGNAL_UNREADABLE))
        if held.folder != self.folders().manual:       # a person deleted it: it may have been finished by hand
            return self._refuse(officer, read, Refusal(Reason.REPLY_SIGNAL_GONE))
        raw_held = self.edges.mailbox.fetch(held.folder, uid)
        if raw_held is None:
            return self._refuse(officer, read, Refusal(Reason.REPLY_SIGNAL_GONE))
        settings = self.context.settings
        # As of its first receipt: the signature's age then, and no replay guard (this is the signal itself).
        authentic = authenticate(raw_held, self.context.rules, self.edges.inbound, limits=settings.limits,
                                 trust=settings.trust, office=settings.sender.address, now=held.arrived)
        del raw_held
        signal = read_signal(authentic.readable, self.context, held.arrived) if isinstance(authentic, Authentic) \
            else None
        if not isinstance(signal, Signal):
            return self._refuse(officer, read, Refusal(Reason.REPLY_SIGNAL_UNREADABLE))
        schools = officer_schools(read, len(signal.children), self.context.rules)
        if isinstance(schools, Refusal):
            return self._refuse(officer, read, schools)
        return Finish(officer, held, plan(signal, self.context, schools))

    @staticmethod
    def _refuse(officer: Officer, read: Instruction, refusal: Refusal) -> Replied:
        return Replied(officer.email, refusal.reason, read.reference, refusal.detail)

    def _held_uid(self, held: Placed) -> int | None:
        """The held message as the daemon placed it: the one message in its folder with the recorded Message-ID and
        size. None when there is none, or more than one (anyone can copy an outer Message-ID, and padding makes the
        size: never guess which child's signal is meant)."""
        if not held.message_id:
            return None
        found = [uid for uid, size in self.edges.mailbox.find_by_message_id(held.folder, held.message_id).items()
                 if size == held.size]
        return found[0] if len(found) == 1 else None

    def _claim(self, replay: str, source: str, now: datetime) -> Held | None:
        """The replay guard: None when this source may deliver the signal, else why it is a replay.

        The first source to carry a signal claims it. A later copy is a replay, with one exception: when the
        claimant never reached an outcome and has left INBOX (a person moved it out and back, the folder was
        rebuilt), this copy takes the claim over with the deliveries already accepted, and sends only the rest.
        Outgoing Message-IDs derive from the outer Message-ID, so a moved message, which keeps it, finds the
        schools already served under the same ids. A copy with another outer Message-ID (or none: the id then
        derives from its place) gets new ids, and a school already served gets its mail again: a visible
        duplicate, never a loss. The replay alert says what became of the original.
        """
        store = self.edges.store
        claimant = store.claim_signal(replay, source, now)
        if claimant == source:
            return None
        settled = _SETTLED.get(claimant)
        if settled is not None:
            return Held(Reason.REPLAY, self._original_went(settled))
        journal = store.journals(claimant).get(claimant)
        if journal is not None and journal.outcome is not None:
            return Held(Reason.REPLAY, self._original_went(parse_outcome_code(journal.outcome)[0]))
        if not self._departed(claimant, source):
            return Held(Reason.REPLAY, f"{ORIGINAL_NOT_DELIVERED}; hwc-mailer maakt het origineel nog af")
        if not store.take_over_claim(replay, claimant, source):
            return Held(Reason.REPLAY, ORIGINAL_NOT_DELIVERED)
        log.warning("claim-taken-over", previous=claimant, delivered=len(journal.delivered) if journal else 0)
        return None

    def _original_went(self, disposition: Disposition) -> str:
        if disposition is Disposition.DELIVERED:
            return ORIGINAL_DELIVERED
        if disposition is Disposition.NOT_OURS:
            return ORIGINAL_NOT_DELIVERED
        return f"{ORIGINAL_NOT_DELIVERED}; het is eerder aan u voorgelegd in de map {self._folder(disposition)}"

    def _departed(self, claimant: str, source: str) -> bool:
        """Whether the claimant left INBOX: its UID names nothing in this folder and UIDVALIDITY any more."""
        there, here = _SOURCE_KEY.fullmatch(claimant), _SOURCE_KEY.fullmatch(source)
        if there is None or here is None:
            return False
        if (there["folder"], there["uidvalidity"]) != (here["folder"], here["uidvalidity"]):
            return True
        return self.edges.mailbox.size(there["folder"], int(there["uid"])) is None

    def _returned(self, message_ids: Sequence[str]) -> tuple[str, ...] | None:
        """The school codes of the mails of ours a report names, or None when it names none of ours.

        What was sent is kept as keyed hashes of (Message-ID, school), so the school comes from our own record,
        never from the report's recipient lines, which anyone can write. Each mail is reported once: its record
        goes with the first report, so a forged second report on it is someone else's mail.
        """
        store, secret = self.edges.store, self.context.secret
        schools = []
        for message_id in message_ids:
            for school in self.context.rules.schools:
                digest = sent_digest(secret, message_id, school.code)
                if store.is_sent(digest):
                    store.forget_sent(digest)
                    schools.append(school.code)
        return tuple(dict.fromkeys(schools)) or None

    def _carry_out(self, decision: Plan | Finish | Outcome, source: str, source_id: str, now: datetime) -> Outcome:
        """Send a plan, or carry out an officer's reply; any other decision is already final."""
        if isinstance(decision, Finish):
            return self._finish(decision, source, now)
        if isinstance(decision, Routed):
            return self._deliver(decision, source, source_id, now)
        return decision

    def _finish(self, finish: Finish, source: str, now: datetime) -> Replied:
        """An officer's reply: the held signal sent with their schools, discarded, or still held and why."""
        answer = partial(Replied, finish.officer.email, reference=finish.held.ref)
        if finish.routed is None:
            return answer(Reason.REPLY_DISCARDED)
        # The Message-IDs of the signal's first attempt: a school served then (smtp-rejected after others) gets the
        # same mail under the same id, which its client shows as one.
        sent = finish.routed if isinstance(finish.routed, Held) else self._deliver(
            finish.routed, source, finish.held.message_id or finish.held.source, now)
        if isinstance(sent, Held):
            child = f"kind {sent.child}: " if sent.child else ""
            detail = f"{child}{sent.reason.explanation}" + (f" ({sent.detail})" if sent.detail else "")
            return answer(Reason.REPLY_STILL_HELD, detail=detail)
        return answer(Reason.REPLY_SENT, schools=sent.schools)

    def _deliver(self, decision: Plan, source: str, source_id: str, now: datetime) -> Delivered | Held:
        """Send every delivery of a plan that has not been accepted yet: one mail per school and profile (and
        gateway), each with only that school's children and a Message-ID of its own."""
        edges, settings, secret = self.edges, self.context.settings, self.context.secret
        deliveries = []
        for delivery in decision.deliveries:
            usable = self._usable(delivery, now)
            if not usable:
                return Held(Reason.NO_VALID_KEY, f"school {delivery.school.code}")
            deliveries += usable
        accepted = edges.store.journal(source).delivered
        sent: list[str] = []
        waiting: GatewayUnavailable | None = None
        for key, delivery in deliveries:
            message_id = outgoing_message_id(secret, source_id, key, settings.sender.id_domain)
            if message_id not in accepted:
                notice = compose_notice(delivery, settings.sender, self.context.templates, message_id=message_id,
                                        now=now, reply_to=[(officer.name, officer.email)
                                                           for officer in self.context.rules.officers])
                edges.store.remember_sent(sent_digest(secret, message_id, delivery.school.code), now)
                transport = edges.gateways[key.transport] if key.profile == Profile.gateway else edges.transport
                try:
                    count = transport.send(self._sealer(key).seal(notice), notice.recipients, reports=True)
                except TransportRejected as error:
                    log.error("smtp-rejected", school=delivery.school.code, step=key.token, error=str(error))
                    done = (f"al verstuurd naar {', '.join(dict.fromkeys(sent))}" if sent
                            else "aan geen enkele school verstuurd")
                    return Held(Reason.SMTP_REJECTED, f"geweigerd voor school {delivery.school.code}, {done}")
                except TransportUnavailable as error:
                    if key.profile != Profile.gateway:
                        raise
                    # The other deliveries go first: only what this gateway carries waits.
                    waiting = waiting or GatewayUnavailable(key.transport, str(error))
                    continue
                if key.profile == Profile.gateway:
                    edges.store.retire_alert(gateway_event(key.transport))     # told again when it fails again
                edges.store.record_delivery(source, message_id, now)
                log.info("sent", school=delivery.school.code, step=key.profile, count=count,
                         children=len(delivery.children))
            sent.append(delivery.school.code)
        if waiting is not None:
            raise waiting
        return Delivered(tuple(dict.fromkeys(sent)), sum(len(delivery.children) for delivery in decision.deliveries))

    def _sealer(self, key: DeliveryKey) -> Sealer:
        """The sealing of a delivery's profile; made once per pipeline."""
        name = key.profile if key.profile != Profile.gateway else f"{key.profile}:{key.transport}"
        if name not in self._sealers:
            gateway = self.context.settings.gateways[key.transport]
            self._sealers[name] = GatewaySealer(gateway.header, gateway.subject_tag)
        return self._sealers[name]

    def _can_sign(self) -> bool:
        """Whether S/MIME can be signed: the Leerplicht certificate and its key are readable and belong together.
        When not, S/MIME contacts count as unusable (officers are told) rather than failing every signal."""
        if Profile.smime.value not in self._sealers and self.edges.certificates is not None:
            signer = smime_signer(self.edges.certificates)
            if isinstance(signer, str):
                return False
            self._sealers[Profile.smime.value] = signer
        return Profile.smime.value in self._sealers

    def _usable(self, delivery: Delivery[School], now: datetime) -> list[tuple[DeliveryKey, Delivery[School]]]:
        """The school's deliveries by profile (and gateway), each with only the contacts whose key, certificate or
        gateway may be used; [] when none is left.

        A contact that cannot be used is skipped, and officers hear about it once a week.
        """
        school = delivery.school
        usable: dict[DeliveryKey, list[Contact]] = {}
        for contact in school.contacts:
            state = self._contact_state(contact, now)
            if state is KeyState.ok:
                key = DeliveryKey(school.code, contact.profile.value, contact.gateway or "smtp")
                usable.setdefault(key, []).append(contact)
                continue
            log.warning("contact-key-unusable", school=school.code, fingerprint=contact.key, reason=state.value)
            self.alerter.tell(Alert(f"contact-key:{contact.key}:{state.value}", Reason.CONTACT_KEY_UNUSABLE,
                                    detail=f"school {school.code}, {contact.profile.value} {contact.key}, "
                                           f"status {state.value}", repeat_after=REPEAT_EVERY))
        return [(key, Delivery(school.model_copy(update={"contacts": tuple(contacts)}), delivery.children))
                for key, contacts in usable.items()]

    def _contact_state(self, contact: Contact, now: datetime) -> KeyState:
        if contact.profile is Profile.smime:
            certificates = self.edges.certificates
            if certificates is None or contact.certificate is None or not self._can_sign():
                return KeyState.missing
            return certificates.inspect(contact.certificate, contact.email, now).state
        if contact.profile is Profile.gateway:
            return KeyState.ok if contact.gateway in self.edges.gateways else KeyState.missing
        assert contact.fingerprint is not None
        return self.edges.outbound.key_state(contact.fingerprint, contact.email)

    def _conclude(self, outcome: Outcome, uid: int, source: str, message_id: str, planned: Plan | None,
                  signal: Signal | None = None) -> Outcome:
        """Record the outcome (telling an officer when held), then carry out its mailbox action."""
        now = self.context.now()
        month = f"{now:%Y-%m}"
        store = self.edges.store
        if isinstance(outcome, Held):
            folder = self._folder(outcome.disposition)
            reference = self._record_placement(uid, source, message_id, outcome.code, folder)
            personal = held_details(signal, outcome, self.context.rules) if signal is not None else ()
            # Never raises for an outage: an alert no officer's server accepted waits in the store (without the
            # personal lines) and goes out on a later pass, so the outcome is recorded and the message moved.
            self.alerter.tell(Alert(f"{outcome.code}:{source}", outcome.reason, folder, outcome.detail,
                                    reference=reference, personal=personal))
            self._purge_alert_copies()
            store.record_outcome(source, outcome.code, month, [Tally("", 1, 0, 0)])
            log.warning("held", outcome=outcome.code, reason=outcome.reason.value, folder=folder,
                        child_number=outcome.child)
        elif isinstance(outcome, Bounced):
            schools = ", ".join(outcome.schools)
            self.alerter.tell(Alert(f"bounced:{source}", Reason.BOUNCED,
                                    detail=f"school {schools}" + (f", status {outcome.status}" if outcome.status
                                                                  else "")))
            store.record_outcome(source, outcome.code, month, [Tally("", 1, 0, 0)])
            log.warning("bounced", schools=schools, reason=outcome.status)
        elif isinstance(outcome, Replied):
            self._record_answer(outcome, source, month, planned)
        elif isinstance(outcome, Delivered):
            gaps = [(REGISTER_GAP, Tally("", 0, planned.register_gaps, 0))] if planned and planned.register_gaps else []
            store.record_outcome(source, outcome.code, month, _tallies(planned.deliveries if planned else ()), gaps)
            log.info("delivered", schools=",".join(outcome.schools), children=outcome.children)
        else:
            store.record_outcome(source, outcome.code, month, [])
            log.info("not-ours")
        if isinstance(outcome, Delivered) and not store.alert_due(delayed_event(source), now, None):
            self.alerter.tell(Alert(f"delivered-late:{source}", Reason.DELIVERED_LATE,
                                    detail=f"{len(outcome.schools)} school/scholen"))
        self._dispose(outcome.disposition, uid, source, message_id, outcome.code)
        if isinstance(outcome, Replied) and outcome.done:
            self._purge_finished(outcome.reference)
        return outcome

    def _record_answer(self, outcome: Replied, source: str, month: str, planned: Plan | None) -> None:
        """A finished signal waits only for its purge from then on; the reply is counted (a signal sent by it with
        its children and schools) and answered."""
        store = self.edges.store
        officer = self.context.rules.officer_for_address(outcome.officer)
        # Told first (once per reply): a crash before the outcome is recorded carries the reply out again, and
        # the answer is not repeated.
        answer = answer_alert(outcome, source, officer.name if officer else outcome.officer)
        if answer is not None:
            self.alerter.tell(answer)
            self._purge_alert_copies()
        held = store.placed_by_reference(outcome.reference) if outcome.done else None
        if held is not None:
            store.finish_placed(held.source, source)
        sent = planned.deliveries if planned is not None and outcome.reason is Reason.REPLY_SENT else ()
        store.record_outcome(source, outcome.code, month, _tallies(sent) if sent else [Tally("", 1, 0, 0)])
        log.info("replied", outcome=outcome.code, reference=outcome.reference, schools=",".join(outcome.schools))

    def _purge_finished(self, reference: str) -> None:
        """The held message an officer's reply finished, and its copy in Trash; the clock's chores do it when a
        crash comes first."""
        held = self.edges.store.placed_by_reference(reference)
        if held is not None and held.finished_by and purge_placed(self.edges.mailbox, held, self.folders().trash):
            self.edges.store.forget_placed(held.source)

    def _folder(self, disposition: Disposition) -> str:
        folders = self.context.settings.folders
        return folders.quarantine if DISPOSE[disposition] is MailboxAction.MOVE_TO_QUARANTINE else folders.manual

    def _dispose(self, disposition: Disposition, uid: int, source: str, message_id: str, outcome: str) -> None:
        action = DISPOSE[disposition]
        if action is MailboxAction.LEAVE:
            return
        original = None
        if action is MailboxAction.PURGE:
            original = self._source_copy(uid, message_id)
            self.edges.mailbox.delete(self._inbox, [uid])
        else:
            self._record_placement(uid, source, message_id, outcome, self._folder(disposition))
            self.edges.mailbox.move(self._inbox, uid, self._folder(disposition))
        copies = self._delete_copies(source, original)
        self.edges.store.settle_claim(source, disposition.value)
        self.edges.store.forget(source)
        log.info("disposed", step=action.value, count=copies)

    def _record_placement(self, uid: int, source: str, message_id: str, outcome: str, folder: str) -> str:
        """Before the alert and the move, what finds the message in `folder` again (its exact Message-ID and size)
        and when it came, under a new reference: for the officer, the escalation before the school day and the
        purge after the retention. A resumed move keeps the first record. Returns the reference ("" when the
        message is gone)."""
        found = self._identity(uid, message_id)
        if found is None:
            return ""
        store, now = self.edges.store, self.context.now()
        return store.record_placed(Placed(source, new_reference(), folder, found.message_id, found.size, outcome,
                                          store.journal(source).since or now, now))

    def _purge_alert_copies(self) -> None:
        """Copies the server kept of alerts that named a child (encrypted, but personal data all the same) or answered
        an officer's reply."""
        folders, mailbox = self.folders(), self.edges.mailbox
        copies = self.alerter.take_copies_to_purge()
        try:
            for message_id in list(copies):
                for folder in (folders.sent, folders.trash):
                    if folder is not None:
                        mailbox.delete(folder, sorted(mailbox.find_by_message_id(folder, message_id)))
                copies.remove(message_id)
        finally:
            self.alerter.keep_copies_to_purge(copies)     # an outage midway: tried again after the next alert

    def _source_copy(self, uid: int, message_id: str) -> SourceCopy | None:
        """The source's Message-ID and size, taken before it is deleted; None when there is no Trash to purge, the
        source has no well-formed Message-ID to find a copy by, or it is gone."""
        if self.folders().trash is None:
            return None
        found = self._identity(uid, message_id)
        return found if found is not None and found.message_id else None

    def _identity(self, uid: int, message_id: str) -> SourceCopy | None:
        """What tells the INBOX message `uid` from others: its well-formed Message-ID ("" when it has none; read
        again when a resume does not know it) and its size; None when it is gone."""
        mailbox = self.edges.mailbox
        if not message_id:
            header = mailbox.fetch_header(self._inbox, uid)
            message_id = message_id_of(header) if header is not None else ""
        size = mailbox.size(self._inbox, uid)
        return SourceCopy(message_id, size) if size is not None else None

    def _delete_copies(self, source: str, original: SourceCopy | None) -> int:
        """Copies of our sent mails in Sent and Trash, and of the source in Trash: only what is provably one.

        IMAP header search is a substring match; `find_by_message_id` keeps only exact matches of a well-formed
        id, so an id that is not well-formed deletes nothing. Our own mails carry ids only we make; a copy of the
        source must also have the size the source had in INBOX, since anyone can write its Message-ID.
        """
        folders, mailbox = self.folders(), self.edges.mailbox
        sent_ids = sorted(self.edges.store.journal(source).delivered)
        copies = 0
        for folder in (folders.sent, folders.trash):
            if folder is None:
                continue
            found = {uid for mid in sent_ids for uid in mailbox.find_by_message_id(folder, mid)}
            if folder == folders.trash and original is not None:
                found |= {uid for uid, size in mailbox.find_by_message_id(folder, original.message_id).items()
                          if size == original.size}
            mailbox.delete(folder, sorted(found))
            copies += len(found)
        return copies

    def _poisoned(self, uid: int) -> bool:
        """Someone else's message that failed every attempt before, now under a new UID."""
        header = self.edges.mailbox.fetch_header(self._inbox, uid)
        return header is not None and self.edges.store.is_poisoned(keyed_digest(self.context.secret, "poison",
                                                                                header))

    def _set_aside(self, uid: int, source: str) -> Outcome | None:
        """A message that failed every attempt: a trusted sender's goes to a person, anyone else's is skipped."""
        header = self.edges.mailbox.fetch_header(self._inbox, uid)
        if header is None:
            return None
        log.error("attempts-exhausted", source=source, count=self.context.settings.limits.max_attempts)
        if self._claims_trusted_sender(header):
            sent = len(self.edges.store.journal(source).delivered)
            detail = f"al verstuurd aan {sent} school/scholen" if sent else "aan geen enkele school verstuurd"
            return self._conclude(Held(Reason.INTERNAL_ERROR, detail), uid, source, "", None)
        self.edges.store.mark_poisoned(keyed_digest(self.context.secret, "poison", header), self.context.now())
        return self._conclude(NotOurs(), uid, source, "", None)

    def _claims_trusted_sender(self, header: bytes) -> bool:
        """From the header alone; over a cap or unparsable, any trusted address in its raw From counts (fail closed).
        An officer's reply counts too: the officer hears of it."""
        rules, limits = self.context.rules, self.context.settings.limits
        return (not isinstance(header_sender(header, rules, limits), NotOurs)
                or replying_officer(header, rules, limits) is not None)


# Reasons about where a child goes: the officer gets close school names as hints.
ROUTING = frozenset({Reason.UNKNOWN_SCHOOL, Reason.AMBIGUOUS_SCHOOL, Reason.MUNICIPALITY_MISMATCH,
                     Reason.SCHOOL_NOT_PARTICIPATING, Reason.REGISTER_MISMATCH, Reason.NO_VALID_KEY})


def held_details(signal: Signal, held: Held, rules: Rules) -> tuple[str, ...]:
    """What an officer with a key needs to finish a held signal: who, born when, the school as written, and for
    a routing problem up to three close schools from the rules as hints. Only ever sealed to that officer."""
    schools = [(school.code, school.name, school.aliases) for school in rules.schools]
    lines = []
    for number, child in enumerate(signal.children, start=1):
        written = f", school in het signaal: {child.school}" if child.school else ", geen school in het signaal"
        place = f", gemeente {child.municipality}" if child.municipality else ""
        lines.append(f"kind {number}: {child.name}, geboren {dutch_date(child.birth_date)}{written}{place}")
        if held.reason in ROUTING and child.school and held.child in (None, number):
            hints = suggestions(child.school, schools)
            if hints:
                lines.append(f"   lijkt op: {'; '.join(hints)} (alleen een suggestie: controleer het zelf)")
    return tuple(lines)


def _planned(decision: Plan | Finish | Outcome) -> Plan | None:
    """The routing a decision sends by, for the counters."""
    if isinstance(decision, Finish):
        return decision.routed if isinstance(decision.routed, Routed) else None
    return decision if isinstance(decision, Routed) else None


def _tallies(deliveries: tuple[Delivery[School], ...]) -> list[Tally]:
    """Children and schools per municipality; the signal itself under its first school's municipality."""
    by_municipality: dict[str, Tally] = {}
    for index, delivery in enumerate(deliveries):
        name = delivery.school.municipality
        previous = by_municipality.get(name, Tally(name, 0, 0, 0))
        by_municipality[name] = Tally(name, previous.signals + (index == 0), previous.children + len(delivery.children),
                                      previous.schools + 1)
    return list(by_municipality.values())
