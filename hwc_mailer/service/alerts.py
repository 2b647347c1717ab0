"""Telling a Leerplicht officer, by mail, that a person is needed.

An alert says what happened (a reason and its Dutch explanation), where the
message now is and what to do: never anything from the message itself, so it
may go unencrypted to an officer without a key. Officers with a usable key get
it encrypted and signed. One alert per event: the store remembers which events
were told, and a repeating event (an expiring key) is told again only when due.

Two budgets per rolling hour keep a flood of mail from becoming a flood of alerts.
Both are counted from the store's record of alerts sent, so a restart keeps them:

    genuine  alerts.max_per_hour  every alert except junk. Over budget, or when no
                                  officer's server accepted it, it waits in the store;
                                  `send_pending` sends it on a later pass, oldest
                                  first, within the budget, once.
    junk     alerts.junk_per_hour signal-like mail from an untrusted sender, which
                                  anyone can send. Over budget, or not accepted, it is
                                  folded into the digest: one alert "N such mails are
                                  in quarantine", at most once an hour, outside both
                                  budgets. Junk never uses up what genuine alerts need.

An alert counts as sent only when at least one officer's server accepted it. An
outage never escapes `tell`: the alert waits and the caller goes on (a held message
is still recorded and moved). Until the next `send_pending` the alerter then tries
no more sends, so one outage costs one wait, not one per alert. Holding an event
that already waits changes nothing, and recording it as sent drops its waiting copy
in the same transaction: told once. A crash between "accepted" and "recorded" may
send that one alert again, never lose it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import make_msgid

import structlog
from cryptography.exceptions import UnsupportedAlgorithm

from ..domain.reasons import Disposition, Reason
from ..domain.text import normalise_address
from ..edges.protocols import (
    AlertKind,
    Certificates,
    Clock,
    Keyring,
    KeyState,
    Mailbox,
    PendingAlert,
    Store,
    Transport,
)
from ..errors import HwcError, MailboxUnavailable, TransportRejected, TransportUnavailable
from ..outbound.notice import ALERT, Notice, Templates, envelope, plain, protected
from ..outbound.sealing import PgpMimeSealer, Sealer, SmimeSealer
from ..settings.config import Sender, Settings
from ..settings.rules import Officer, Profile, Rules

log = structlog.get_logger("hwc_mailer.alerts")

# How often a standing problem (an unusable or expiring key) is told again.
REPEAT_EVERY = timedelta(days=7)
# What the budgets count over; also how often the junk digest may go out.
BUDGET_WINDOW = timedelta(hours=1)
# The reasons anyone can trigger from outside: their alerts are junk, with a budget of their own.
# Anyone can make mail that is quarantined (a forged From needs no key), so every quarantine alert counts in the
# junk budget; alerts about authentic signals (the manual folder) and about keys can never wait behind them.
JUNK = frozenset(reason for reason in Reason if reason.disposition is Disposition.QUARANTINED)
# The digest's event: told again at most once per BUDGET_WINDOW.
DIGEST = "junk-digest"
# Notices the alert template opens in their own words: about the login, about time, about an officer's reply.
KINDS = {Reason.LOGIN_REFUSED: "login", Reason.LOGIN_SECRET_EXPIRING: "login", Reason.NOT_AT_SCHOOL: "escalation",
         Reason.DELAYED: "delay", Reason.DELIVERED_LATE: "delay", Reason.HELD_EXPIRING: "retention",
         Reason.BOUNCED: "bounce", Reason.REPLY_SENT: "finished", Reason.REPLY_DISCARDED: "finished",
         Reason.REPLY_UNAUTHENTIC: "reply", Reason.REPLY_NO_KEY: "reply", Reason.REPLY_NO_REFERENCE: "reply"}


def smime_signer(certificates: Certificates) -> SmimeSealer | str:
    """S/MIME sealing with the Leerplicht certificate, or why it cannot be made (logged): then S/MIME contacts and
    officers count as unusable, and officers are told, rather than every signal failing."""
    try:
        return SmimeSealer(*certificates.signer())
    except (HwcError, ValueError, TypeError, UnsupportedAlgorithm) as error:
        log.error("smime-signer-unusable", error=str(error))
        return f"smime: the Leerplicht certificate and key cannot sign: {error}"


@dataclass(frozen=True)
class Alert:
    event: str                      # what makes two alerts the same one, e.g. "quarantined:INBOX:7:42"
    reason: Reason
    folder: str | None = None       # where the message now is
    detail: str = ""                # a school code or key fingerprint; never personal data
    repeat_after: timedelta | None = None
    count: int = 1                  # how many messages it is about: more than one only for the junk digest
    items: tuple[str, ...] = ()     # one line each (a reference, a reason, a folder): a digest's list
    reference: str = ""             # the held message's short reference (HWC-...): how officers name it
    recipient: str = ""             # the one officer it is for (the answer to their reply); "" for every officer
    # Who a held authentic signal is about (names, dates of birth): only ever in an alert sealed to an officer's
    # key, never in a plain one, never kept while the alert waits, never in a repr.
    personal: tuple[str, ...] = field(default=(), repr=False)

    @property
    def kind(self) -> str:
        """quarantined | manual | key | login | escalation | delay | retention | bounce | finished | reply: which
        opening the template uses."""
        if self.reason in KINDS:
            return KINDS[self.reason]
        return self.reason.disposition.value if self.reason.disposition else "key"

    @property
    def budget(self) -> AlertKind:
        """The hourly budget it is counted in: junk or genuine; the escalation before the school day is a digest,
        outside both, so no flood of mail can make it wait."""
        if self.reason is Reason.NOT_AT_SCHOOL:
            return AlertKind.digest
        return AlertKind.junk if self.reason in JUNK else AlertKind.genuine

    @property
    def code(self) -> str:
        return self.reason.value


def render_alert(templates: Templates, alert: Alert, sender: Sender, *, sealed: bool,
                 detailed: bool = False) -> tuple[str, str]:
    """The alert's subject and text; the personal lines only as `personal`, and only when it will be `sealed` to the
    officer's key (the template never sees them through `alert`)."""
    return templates.render(ALERT, {"alert": replace(alert, personal=()), "explanation": alert.reason.explanation,
                                    "action": alert.reason.action, "sender": sender, "sealed": sealed,
                                    "personal": alert.personal if sealed else ()}, detailed=detailed)


class Alerter:
    def __init__(self, settings: Settings, rules: Rules, templates: Templates, outbound: Keyring,
                 transport: Transport, store: Store, now: Clock, certificates: Certificates | None = None) -> None:
        self._settings = settings
        self._rules = rules
        self._templates = templates
        self._outbound = outbound
        self._certificates = certificates
        self._sealers: dict[Profile, Sealer] = {Profile.openpgp: PgpMimeSealer(outbound, settings.gpg.key_fingerprint)}
        self._transport = transport
        self._store = store
        self._now = now
        self._transport_down = False
        self._copies: list[str] = []

    def tell(self, alert: Alert, covers: Sequence[str] = (), *, wait: bool = True) -> bool:
        """Send the alert to every officer unless this event was told already; True when it went out now, and
        then the events it `covers` (a digest's items) count as told too.

        False when it was told before, or when it could not go out now: then it waits in the store, for
        `send_pending` (a genuine alert) or for the digest (junk), unless `wait` is false (a digest the caller
        makes anew from the state of the moment, such as the escalation).
        """
        now = self._now()
        if not self._store.alert_due(alert.event, now, alert.repeat_after):
            return False
        if self._transport_down:
            return self._later(alert, "outage", wait)
        if alert.budget is not AlertKind.digest and not self._within_budget(alert.budget, now):
            return self._later(alert, "over-budget", wait)
        if not self._send(alert, alert.budget, now, covers):
            return self._later(alert, "not-accepted", wait)
        return True

    def take_copies_to_purge(self) -> list[str]:
        """The Message-IDs of the alerts sent since the last call that named a child or answered an officer's reply:
        their copies in Sent and Trash must go, like the copies of a school's mail."""
        taken, self._copies = self._copies, []
        return taken

    def keep_copies_to_purge(self, message_ids: Sequence[str]) -> None:
        """Copies not purged yet (the mailbox went away midway): handed out again with the next ones."""
        self._copies.extend(message_ids)

    def due(self, alert: Alert) -> bool:
        """Whether this event is still to be told (never told, or a repeating one due again)."""
        return self._store.alert_due(alert.event, self._now(), alert.repeat_after)

    def file(self, alert: Alert, mailbox: Mailbox, folder: str, covers: Sequence[str] = ()) -> bool:
        """Put the alert into `folder` of the Leerplicht mailbox instead of mailing it, for when mail cannot go out
        (the SMTP login is refused); unless this event was told already. True when it was put there now, False
        when it was told before or the mailbox is out of reach too."""
        now = self._now()
        if not self._store.alert_due(alert.event, now, alert.repeat_after):
            return False
        subject, body = self._render(alert, sealed=False)
        sender = self._settings.sender
        officers = [(officer.name, officer.email) for officer in self._rules.officers]
        headers = envelope(sender, officers or [(sender.name, sender.address)], subject,
                           message_id=make_msgid(domain=sender.id_domain), now=now)
        try:
            mailbox.append(folder, plain(headers, body).as_bytes())
        except MailboxUnavailable as error:
            log.error("alert-not-filed", reason=alert.code, folder=folder, error=str(error))
            return False
        self._store.record_alert(alert.event, now, alert.budget, covers)
        log.info("alert-filed", reason=alert.code, folder=folder)
        return True

    def _render(self, alert: Alert, *, sealed: bool) -> tuple[str, str]:
        return render_alert(self._templates, alert, self._settings.sender, sealed=sealed)

    def send_pending(self) -> int:
        """A pass-level chore: waiting genuine alerts, oldest first within their budget, then the junk digest when
        due. The first alert that does not go out ends the round; the rest keep their place. Returns how many went
        out."""
        self._transport_down = False
        now = self._now()
        waiting = self._store.pending_alerts(AlertKind.genuine)
        sent = 0
        for pending in waiting:
            if not self._within_budget(AlertKind.genuine, now) or not self._send(
                    Alert(pending.event, pending.reason, pending.folder, pending.detail, items=pending.items,
                          reference=pending.reference, recipient=pending.recipient),
                    AlertKind.genuine, now):
                break
            sent += 1
        if waiting:
            log.info("alerts-pending-sent", count=sent, skipped=len(waiting) - sent)
        if not self._transport_down:
            sent += self._send_digest(now)
        return sent

    def _send_digest(self, now: datetime) -> int:
        """All junk that was not told on its own, in one alert; at most once per BUDGET_WINDOW."""
        folded = self._store.pending_alerts(AlertKind.junk)
        if not folded or not self._store.alert_due(DIGEST, now, BUDGET_WINDOW):
            return 0
        digest = Alert(DIGEST, Reason.UNTRUSTED_SENDER, folded[0].folder or self._settings.folders.quarantine,
                       f"{len(folded)} berichten van onbekende afzenders zonder eigen melding", count=len(folded))
        return int(self._send(digest, AlertKind.digest, now, covers=[pending.event for pending in folded]))

    def _within_budget(self, kind: AlertKind, now: datetime) -> bool:
        budgets = self._settings.alerts
        limit = budgets.junk_per_hour if kind is AlertKind.junk else budgets.max_per_hour
        return self._store.alerts_sent_after(kind, now - BUDGET_WINDOW) < limit

    def _later(self, alert: Alert, why: str, wait: bool) -> bool:
        """Not now: kept to go out later when the caller lets it `wait`. Always False."""
        if wait:
            self._hold(alert, why)
        return False

    def _hold(self, alert: Alert, why: str) -> bool:
        """Keep the alert for later: genuine ones are sent on their own, junk by the digest. Always False."""
        self._store.hold_alert(PendingAlert(alert.event, alert.budget, alert.reason, alert.folder, alert.detail,
                                            alert.items, alert.reference, alert.recipient))
        log.warning("alert-pending", reason=alert.code, outcome=alert.kind, step=why)
        return False

    def _send(self, alert: Alert, kind: AlertKind, now: datetime, covers: Sequence[str] = ()) -> bool:
        """One mail per officer; recorded as sent (with the events it `covers`) when at least one was accepted."""
        sender = self._settings.sender
        accepted, unavailable = 0, False
        # The escalation also goes to the on-call addresses, unencrypted: like every alert it holds no personal data.
        on_call = self._settings.school_day.on_call if alert.reason is Reason.NOT_AT_SCHOOL else ()
        recipients = [*self._rules.officers, *(Officer(name="Bereikbaarheidsdienst", email=address)
                                               for address in on_call)]
        if alert.recipient:
            recipients = [officer for officer in recipients
                          if normalise_address(officer.email) == normalise_address(alert.recipient)]
            if not recipients:      # no longer in the rules: nobody left to tell, and nothing may wait for them
                log.warning("alert-recipient-gone", reason=alert.code)
                self._store.record_alert(alert.event, now, kind, covers)
                return True
        for officer in recipients:
            sealed = self._usable_key(officer)
            subject, body = self._render(alert, sealed=sealed)
            # The reference in the Message-ID comes back in a reply's In-Reply-To, where it can only agree.
            message_id = make_msgid(idstring=alert.reference or None, domain=sender.id_domain)
            headers = envelope(sender, [(officer.name, officer.email)], subject, message_id=message_id, now=now)
            message = (self._sealer(officer.profile).seal(Notice(
                (officer.email,), tuple(filter(None, (officer.fingerprint,))), headers,
                protected(headers, subject, body), tuple(filter(None, (officer.certificate,)))))
                if sealed else plain(headers, body))
            try:
                self._transport.send(message, [officer.email])
                accepted += 1
                if (sealed and alert.personal) or alert.kind in ("finished", "reply"):
                    self._copies.append(message_id)
            except TransportRejected as error:
                log.error("alert-rejected", reason=alert.code, error=str(error))
            except TransportUnavailable as error:
                unavailable = True
                log.error("alert-unavailable", reason=alert.code, error=str(error))
        if not accepted:
            self._transport_down = unavailable
            log.error("alert-not-accepted", reason=alert.code, outcome=alert.kind, count=len(recipients))
            return False
        self._store.record_alert(alert.event, now, kind, covers)
        log.info("alert-sent", reason=alert.code, outcome=alert.kind, count=accepted)
        return True

    def _usable_key(self, officer: Officer) -> bool:
        """Whether the alert is sealed to the officer: encrypted and signed, to a usable key or certificate; plain
        otherwise, and then it holds no personal data."""
        if officer.certificate is not None:
            state = (self._certificates.inspect(officer.certificate, officer.email, self._now()).state
                     if self._certificates is not None and self._can_sign() else KeyState.missing)
        elif officer.fingerprint is not None:
            state = self._outbound.key_state(officer.fingerprint, officer.email)
        else:
            return False
        if state is not KeyState.ok:
            log.warning("officer-key-unusable", fingerprint=officer.key, reason=state.value)
            return False
        return True

    def _sealer(self, profile: Profile) -> Sealer:
        """PGP/MIME, or S/MIME with the Leerplicht certificate (made by `_can_sign` before any S/MIME officer is
        counted as usable)."""
        return self._sealers[profile]

    def _can_sign(self) -> bool:
        """Whether S/MIME alerts can be signed: otherwise an S/MIME officer gets the plain alert, naming no one."""
        if Profile.smime not in self._sealers and self._certificates is not None:
            signer = smime_signer(self._certificates)
            if isinstance(signer, str):
                return False
            self._sealers[Profile.smime] = signer
        return Profile.smime in self._sealers
