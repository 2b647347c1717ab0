"""Hostile intake against the real servers: headers Python chokes on, IMAP servers that stall, a long pass.

- A genuine signal whose outer header Python 3.11's parser chokes on (`Message-ID: <>`, a 300 KB field,
  100-deep comments in From) is delivered or held with an officer told, never left in INBOX; someone
  else's mail with the same header is left alone. The privacy sweep runs after each.
- The mailbox gives up on a server that accepts and never answers, or trickles a byte at a time, within
  a small multiple of imap.deadline_seconds: a per-read timeout alone would wait for ever. The servers
  are written here and listen on 127.0.0.1 only.
- The watchdog is fed between messages: a pass over several messages, one of them slow, pings systemd
  before each one (a real notify socket for a `hwc-mailer run` child).
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Delivered, NotOurs
from hwc_mailer.edges.imap import ImapMailbox
from hwc_mailer.edges.login import PasswordLogin, login_for
from hwc_mailer.errors import MailboxUnavailable
from hwc_mailer.settings.config import Imap, load_settings
from lab.loopback import LOOPBACK, LoopbackServer
from lab.tls import LabTls
from lab.world import OFFICE, VEILIG_THUIS, World, sample_signal
from tests.integration.helpers import (
    SARA,
    TIM,
    InProcess,
    Run,
    assert_held_and_nothing_sent,
    assert_no_personal_data,
    daemon,
)

CRLF = b"\r\n"


# ---- headers the standard library chokes on -----------------------------------------------------------------

def with_header(raw: bytes, field: bytes, replacing: bytes | None = None) -> bytes:
    """`raw` with `field` in its outer header: instead of the field named `replacing`, or added after From."""
    head, blank, body = raw.partition(CRLF + CRLF)
    lines = head.split(CRLF)
    if replacing is None:
        index = next(number for number, line in enumerate(lines) if line.lower().startswith(b"from:")) + 1
        lines.insert(index, field)
    else:
        (index,) = [number for number, line in enumerate(lines) if line.lower().startswith(replacing.lower() + b":")]
        lines[index] = field
    return CRLF.join(lines) + blank + body


def folded(name: bytes, size: int) -> bytes:
    """One header field of about `size` bytes, folded into 78-byte lines as a mail client would."""
    chunks = [secrets.token_hex(37).encode() for _ in range(size // 77 + 1)]
    return name + b": " + b"\r\n ".join(chunks)


def comments(depth: int) -> bytes:
    return b"(" * depth + b"Veilig Thuis" + b")" * depth


@dataclass(frozen=True)
class Hostile:
    field: bytes
    replacing: bytes | None
    genuine: str                  # what becomes of a genuine signal: "delivered" or the held outcome's code


HOSTILE = {
    "empty-message-id": Hostile(b"Message-ID: <>", b"Message-ID", "delivered"),
    "300-kb-field": Hostile(folded(b"X-Archived-Trace", 300 * 1024), None, "quarantined:malformed-header"),
    "100-deep-comments-in-from": Hostile(b"From: Veilig Thuis " + comments(100) + b" <" + VEILIG_THUIS.encode()
                                         + b">", b"From", "delivered"),
    "1000-deep-comments-in-from": Hostile(b"From: Veilig Thuis " + comments(1000) + b" <" + VEILIG_THUIS.encode()
                                          + b">", b"From", "quarantined:malformed-header"),
}


def someone_elses_mail(hostile: Hostile) -> bytes:
    """A neighbour's ordinary mail in the shared mailbox, with the same hostile header (its own From, if that)."""
    raw = (b"From: Buurvrouw <buurvrouw@example.nl>\r\nTo: " + OFFICE.encode() + b"\r\nSubject: Koffie?\r\n"
           b"Message-ID: <koffie.1@example.nl>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Zin in koffie morgen?\r\n")
    field = hostile.field.replace(VEILIG_THUIS.encode(), b"buurvrouw@example.nl")
    return with_header(raw, field, hostile.replacing)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_genuine_signal_with_a_hostile_header_is_delivered_or_held_never_left(run: Run, pipeline: InProcess,
                                                                              name: str) -> None:
    world, hostile = run.world, HOSTILE[name]
    raw = with_header(world.signal_mail(sample_signal([TIM])), hostile.field, hostile.replacing)
    world.deliver_signal(raw)
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once()

    assert world.dovecot.messages(OFFICE) == [], "a genuine signal never sits in INBOX unseen"
    texts = [repr(outcomes)]
    if hostile.genuine == "delivered":
        regenboog = next(school for school in world.schools if school.code == "12AB00")
        assert outcomes == [Delivered(("12AB00",), 1)]
        assert len(world.school_mail(regenboog)) == 1
        assert world.officer_mail() == []
    else:
        texts.append(assert_held_and_nothing_sent(run, outcomes, hostile.genuine, sent_before))
    assert_no_personal_data(texts, run.written)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_someone_elses_mail_with_a_hostile_header_is_left_alone(run: Run, pipeline: InProcess, name: str) -> None:
    world = run.world
    world.deliver_signal(someone_elses_mail(HOSTILE[name]))
    sent_before = len(world.smtp.received)

    first = pipeline.once()
    second = pipeline.once()

    assert first == [NotOurs()]
    assert second == [], "journaled as not ours: never read again"
    assert len(world.dovecot.messages(OFFICE)) == 1
    (flags,) = world.dovecot.flags(OFFICE)
    assert b"\\Seen" not in flags
    assert world.smtp.received[sent_before:] == []
    assert world.dovecot.messages(OFFICE, "HWC-Quarantaine") == []
    assert_no_personal_data([repr(first)], run.written)


# ---- IMAP servers that stall --------------------------------------------------------------------------------

DEADLINE = 1.5
# Generous: the deadline, plus a read in flight, plus thread start-up on a busy test machine.
GIVE_UP_WITHIN = 3 * DEADLINE + 1.0


class StallingImap(LoopbackServer):
    """An IMAP "server" on loopback that misbehaves in one of a few ways, one connection at a time.

    silent          accept, then never send a byte
    trickle         send the greeting one byte every TRICKLE seconds, for ever
    stall-select    greet, answer CAPABILITY and LOGIN at once, then trickle the answer to SELECT
    """

    TRICKLE = 0.4

    def __init__(self, behaviour: str, tls: LabTls | None = None) -> None:
        super().__init__((tls.cert_file, tls.key_file) if tls is not None else None)
        self.behaviour = behaviour

    def talk(self, client: socket.socket) -> None:
        if self.context is not None and self.behaviour != "silent":
            client = self.context.wrap_socket(client, server_side=True)
        if self.behaviour == "silent":
            self.stopped.wait()
        elif self.behaviour == "trickle":
            self._trickle(client, b"* OK [CAPABILITY IMAP4rev1] nearly there" * 100 + CRLF)
        else:
            self._converse(client)

    def _trickle(self, client: socket.socket, data: bytes) -> None:
        for byte in data:
            if self.stopped.wait(self.TRICKLE):
                return
            client.sendall(bytes([byte]))

    def _converse(self, client: socket.socket) -> None:
        client.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] lab server ready\r\n")
        reader = client.makefile("rb")
        while not self.stopped.is_set():
            line = reader.readline()
            if not line:
                return
            tag, _, command = line.decode("ascii", "replace").partition(" ")
            verb = command.split(" ", 1)[0].strip().upper()
            if verb == "CAPABILITY":
                client.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE UIDPLUS\r\n" + tag.encode() + b" OK done\r\n")
            elif verb == "LOGIN":
                client.sendall(tag.encode() + b" OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] logged in\r\n")
            elif verb == "LOGOUT":
                client.sendall(b"* BYE\r\n" + tag.encode() + b" OK bye\r\n")
                return
            else:
                self._trickle(client, b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] so slow\r\n" * 50
                              + tag.encode() + b" OK [READ-WRITE] done\r\n")


def stalling_mailbox(server: StallingImap, tls: str, ca_file: Path) -> ImapMailbox:
    settings = Imap.model_validate({
        "host": LOOPBACK, "port": server.port, "tls": tls, "ca_file": ca_file, "username": OFFICE,
        "password": {"env": "HWC_TEST_UNUSED"}, "timeout_seconds": 120, "deadline_seconds": DEADLINE,
    })
    assert settings.timeout_seconds > 10 * GIVE_UP_WITHIN, "the per-read timeout alone must never be what ends it"
    return ImapMailbox(settings, PasswordLogin(OFFICE, "not-a-real-password"))


def gives_up(action: Callable[[], object]) -> tuple[float, str]:
    started = time.monotonic()
    with pytest.raises(MailboxUnavailable) as raised:
        action()
    return time.monotonic() - started, str(raised.value)


@pytest.mark.parametrize(("behaviour", "tls"), [("silent", "implicit"), ("silent", "starttls"),
                                                ("trickle", "implicit"), ("trickle", "starttls")])
def test_connecting_to_a_server_that_stalls_gives_up_within_the_deadline(lab_tls: LabTls, behaviour: str,
                                                                         tls: str) -> None:
    """Silent: the TLS handshake or the plaintext greeting waits. Trickle: each read gets a byte in time."""
    with StallingImap(behaviour, lab_tls if tls == "implicit" else None) as server:
        mailbox = stalling_mailbox(server, tls, lab_tls.ca_file)
        seconds, message = gives_up(mailbox.connect)
    assert DEADLINE * 0.9 <= seconds < GIVE_UP_WITHIN, seconds
    assert f"{LOOPBACK}:{server.port}, connecting" in message and "deadline_seconds" in message, message


def test_a_command_the_server_trickles_gives_up_within_the_deadline(lab_tls: LabTls) -> None:
    with StallingImap("stall-select", lab_tls) as server:
        mailbox = stalling_mailbox(server, "implicit", lab_tls.ca_file)
        mailbox.connect()
        seconds, message = gives_up(lambda: mailbox.uids("INBOX"))
        mailbox.close()
    assert DEADLINE * 0.9 <= seconds < GIVE_UP_WITHIN, seconds
    assert "listing INBOX" in message and "deadline_seconds" in message, message


def test_waiting_in_idle_may_outlast_the_deadline_which_bounds_each_step_not_the_wait(run: Run) -> None:
    """Against the real Dovecot with a deadline shorter than the IDLE period: the wait is not a command."""
    settings = load_settings(run.config).imap.model_copy(update={"deadline_seconds": 1.0})
    with ImapMailbox(settings, login_for(settings, None)) as mailbox:
        started = time.monotonic()
        mailbox.wait_for_mail("INBOX", 2.5, lambda: False)
        assert time.monotonic() - started >= 2.0
        assert mailbox.uids("INBOX")[1] == []
        signal = run.world.signal_mail(sample_signal([TIM]))
        later = threading.Timer(1.0, run.world.deliver_signal, (signal,))   # while IDLE is on
        later.start()
        started = time.monotonic()
        mailbox.wait_for_mail("INBOX", 20, lambda: False)
        later.join()
        assert time.monotonic() - started < 10, "IDLE still wakes on new mail"
        assert len(mailbox.uids("INBOX")[1]) == 1


# ---- the watchdog between messages ----------------------------------------------------------------------------

def slow_mail() -> bytes:
    """Someone else's large but allowed mail: it takes a while to fetch and look through."""
    text = (secrets.token_hex(38) + "\r\n") * 40_000          # about 3 MB of text
    return (b"From: Nieuwsbrief <nieuws@example.nl>\r\nTo: " + OFFICE.encode() + b"\r\nSubject: Nieuws\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text.encode())


def deliver_a_long_pass(world: World) -> int:
    """Two signals with a slow mail between them; returns how many messages wait."""
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))
    world.deliver_signal(slow_mail())
    world.deliver_signal(world.signal_mail(sample_signal([SARA])))
    return 3


def test_the_pass_calls_back_between_messages(run: Run, pipeline: InProcess) -> None:
    world = run.world
    waiting = deliver_a_long_pass(world)
    sent_when_called: list[int] = []
    edges, services = pipeline.open()
    try:
        outcomes = services.pipeline.process_waiting(
            between=lambda: sent_when_called.append(len(world.smtp.received)))
    finally:
        edges.mailbox.close()
        edges.store.close()

    assert [outcome.code for outcome in outcomes] == ["delivered", "not-ours", "delivered"]
    # Before each message: nothing sent yet, then the first signal's one school mail, then still that one.
    assert len(sent_when_called) == waiting
    assert sent_when_called[0] < sent_when_called[1] == sent_when_called[2]
    assert_no_personal_data([repr(outcomes)], run.written)


@contextmanager
def notify_socket(directory: Path) -> Iterator[tuple[str, list[tuple[float, str]]]]:
    """A datagram socket systemd would listen on; yields its address and the notices received, with times."""
    path = directory / "notify"
    if len(str(path)) > 100:                               # AF_UNIX paths are short
        path = Path(tempfile.mkdtemp(prefix="hwc-n")) / "notify"
    received: list[tuple[float, str]] = []
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            received.append((time.monotonic(), data.decode()))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        yield str(path), received
    finally:
        stop.set()
        listener.join(5)
        sock.close()
        path.unlink(missing_ok=True)


def test_the_daemon_pets_the_watchdog_between_messages(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY=1 comes once the configuration is loaded; until the status after the first pass, the daemon is in
    that pass: every WATCHDOG=1 then came between messages."""
    world = run.world
    waiting = deliver_a_long_pass(world)
    with notify_socket(run.directory) as (address, notices):
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        monkeypatch.setenv("WATCHDOG_USEC", "1000")          # ping on every call: the count is the evidence
        with daemon(run, run.config) as child:
            child.await_event("ready", timeout=120)
            code = child.terminate()
        deadline = time.monotonic() + 5
        while not any(text.startswith("STOPPING=1") for _, text in notices) and time.monotonic() < deadline:
            time.sleep(0.05)
    texts = [text for _, text in notices]
    ready = next(index for index, text in enumerate(texts) if text.startswith("READY=1"))
    passed = next(index for index, text in enumerate(texts)
                  if index > ready and text.startswith("STATUS=watching the inbox; last pass "))
    assert texts[ready:passed].count("WATCHDOG=1") >= waiting, texts[:passed + 1]
    assert code == 0 and "STOPPING=1" in texts
    assert len(world.dovecot.messages(OFFICE)) == 1, "the slow mail is someone else's: it stays"
    assert all(len(world.school_mail(school)) == 1 for school in world.schools)
    assert world.officer_mail() == []
    assert_no_personal_data([child.output, *texts], run.written)
