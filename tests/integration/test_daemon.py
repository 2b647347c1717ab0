"""The daemon against the servers it meets: no MOVE and no IDLE, STARTTLS, a prompt IDLE wake-up, SIGHUP reloads."""

from __future__ import annotations

import io
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from hwc_mailer.domain.outcomes import Delivered, Held
from hwc_mailer.domain.reasons import Reason
from hwc_mailer.edges.files import instance_lock
from hwc_mailer.settings.config import TlsMode, load_settings
from lab.dovecot import Dovecot
from lab.tls import LabTls
from lab.world import OFFICE, LabSchool, World, sample_signal
from tests.integration.helpers import (
    SARA,
    TIM,
    InProcess,
    Run,
    assert_no_personal_data,
    daemon,
    eventually,
    notified_daemon,
)

# Dovecot 2.3's own post-login CAPABILITY with IDLE and MOVE taken out, so the lone difference from the
# session server is the two extensions under test. UIDPLUS stays: UID EXPUNGE is how the daemon deletes.
WITHOUT_MOVE_AND_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
    "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY SNIPPET=FUZZY "
    "PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)
MANUAL = "HWC-Handmatig"
IDLE_SECONDS = 30.0


@pytest.fixture(scope="module")
def bare_server(lab_dir: Path, lab_tls: LabTls, world: World) -> Iterator[Dovecot]:
    """A second Dovecot that advertises neither MOVE nor IDLE, with the office's account only."""
    with Dovecot(lab_dir / "dovecot-bare", lab_tls, capabilities=WITHOUT_MOVE_AND_IDLE) as server:
        server.add_user(OFFICE, world.office_password)
        capabilities = server.capabilities_after_login(OFFICE)
        assert b"MOVE" not in capabilities and b"IDLE" not in capabilities, capabilities
        assert b"UIDPLUS" in capabilities
        yield server


@pytest.fixture
def bare(bare_server: Dovecot) -> Dovecot:
    """The bare server emptied; the relay still delivers into the session Dovecot, so schools read mail there."""
    bare_server.clear()
    return bare_server


def school(world: World, code: str) -> LabSchool:
    return next(candidate for candidate in world.schools if candidate.code == code)


def rules_without(world: World, code: str) -> str:
    """The lab's rules with one school left out."""
    yaml = YAML(typ="safe")
    rules = yaml.load(world.rules_yaml())
    rules["schools"] = [entry for entry in rules["schools"] if entry["code"] != code]
    assert rules["schools"], "the other school must stay"
    text = io.StringIO()
    yaml.dump(rules, text)
    return text.getvalue()


def every_school_has_mail(world: World) -> bool:
    return all(world.school_mail(each) for each in world.schools)


def test_without_move_a_held_signal_is_copied_and_expunged_and_a_good_one_delivered(run: Run, bare: Dovecot) -> None:
    world = run.world
    config = world.write_config(run.directory / "etc-bare", state_dir=run.directory / "state", imap=bare)
    bare.deliver(OFFICE, world.signal_mail(sample_signal([TIM, SARA])))
    bare.deliver(OFFICE, world.signal_mail(sample_signal([{**TIM, "School": "99ZZ00"}])))

    outcomes = InProcess(run).once(config)

    delivered, held_outcome = outcomes
    assert delivered == Delivered(("12AB00", "56EF00"), 2)
    assert isinstance(held_outcome, Held) and held_outcome.reason is Reason.UNKNOWN_SCHOOL
    assert bare.messages(OFFICE) == []
    # imapclient refuses MOVE on a server that does not offer it: this copy came by COPY, \Deleted, UID EXPUNGE.
    (held,) = bare.messages(OFFICE, MANUAL)
    assert b"99ZZ00" not in held, "the held copy is still the encrypted original"
    (flags,) = bare.flags(OFFICE, MANUAL)
    assert not {b"\\Deleted", b"\\Seen"} & set(flags), flags
    assert all(len(world.school_mail(each)) == 1 for each in world.schools)
    assert len(world.officer_mail()) == 1
    log = (run.directory / "daemon.log").read_text()
    assert '"event": "outage"' not in log
    assert_no_personal_data([log], run.written)


def test_without_idle_the_daemon_polls_and_forwards_a_signal_that_arrives(run: Run, bare: Dovecot) -> None:
    world = run.world
    config = world.write_config(run.directory / "etc-bare", state_dir=run.directory / "state", imap=bare,
                                idle_seconds=IDLE_SECONDS, poll_seconds=1)
    with daemon(run, config) as child:
        child.await_event("ready")
        bare.deliver(OFFICE, world.signal_mail(sample_signal([TIM, SARA])))
        # Well inside one IDLE period: only the polling interval can have found it this soon.
        assert eventually(lambda: every_school_has_mail(world), timeout=IDLE_SECONDS / 3)
        assert eventually(lambda: bare.messages(OFFICE) == [])
        assert child.process.poll() is None
        code = child.terminate()
    assert code == 0
    assert child.events("stopped")
    assert not child.events("outage"), "asking a server without IDLE for IDLE is an error, not a wait"
    assert_no_personal_data([child.output], run.written)


def test_imap_over_starttls_delivers_a_signal(run: Run) -> None:
    world = run.world
    config = world.write_config(run.directory / "etc-starttls", state_dir=run.directory / "state",
                                imap_tls="starttls")
    settings = load_settings(config)
    assert (settings.imap.port, settings.imap.tls) == (world.dovecot.imap_port, TlsMode.starttls)
    logins_before = len(world.dovecot.logins(OFFICE))
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))

    outcomes = InProcess(run).once(config)

    assert outcomes == [Delivered(("12AB00", "56EF00"), 2)]
    assert all(len(world.school_mail(each)) == 1 for each in world.schools)
    assert world.dovecot.messages(OFFICE) == []
    assert world.dovecot.messages(OFFICE, "Sent") == []
    # Dovecot says "secured" for a plaintext login on loopback and "TLS" once STARTTLS is done.
    product_logins = [security for listener, security in world.dovecot.logins(OFFICE)[logins_before:]
                      if listener == "imap"]
    assert product_logins and set(product_logins) == {"TLS"}, product_logins
    assert_no_personal_data([(run.directory / "daemon.log").read_text()], run.written)


def test_idle_wakes_the_daemon_well_inside_one_idle_period(run: Run) -> None:
    world = run.world
    config = world.write_config(run.directory / "etc-idle", state_dir=run.directory / "state",
                                idle_seconds=IDLE_SECONDS, poll_seconds=IDLE_SECONDS)
    with daemon(run, config) as child:
        child.await_event("ready")
        world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
        assert eventually(lambda: every_school_has_mail(world), timeout=IDLE_SECONDS / 3), \
            "the signal waited for the IDLE period to run out instead of waking the daemon"
        assert eventually(lambda: world.dovecot.messages(OFFICE) == [])
        code = child.terminate()
    assert code == 0
    assert child.events("stopped")
    assert_no_personal_data([child.output], run.written)


def test_a_kicked_session_is_noticed_at_once_and_a_signal_after_it_goes_out_well_inside_one_idle_period(
        run: Run) -> None:
    """A Dovecot restart or a kicked session says BYE and closes: the daemon reconnects at once instead of finding
    out when the IDLE period runs out, so a signal that arrives then is not kept waiting."""
    world = run.world
    config = world.write_config(run.directory / "etc-kick", state_dir=run.directory / "state",
                                idle_seconds=IDLE_SECONDS, poll_seconds=IDLE_SECONDS)
    with daemon(run, config) as child:
        child.await_event("ready")
        world.dovecot.kick(OFFICE)
        child.await_event("outage", timeout=IDLE_SECONDS / 3)
        world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
        assert eventually(lambda: every_school_has_mail(world), timeout=IDLE_SECONDS / 2), \
            "the dropped connection was noticed only when the IDLE period ran out"
        assert child.terminate() == 0


def test_after_a_dovecot_restart_the_daemon_reconnects_and_a_signal_goes_out_well_inside_one_idle_period(
        run: Run) -> None:
    world = run.world
    config = world.write_config(run.directory / "etc-restart", state_dir=run.directory / "state",
                                idle_seconds=IDLE_SECONDS, poll_seconds=IDLE_SECONDS)
    with daemon(run, config) as child:
        ready = child.await_event("ready")
        world.dovecot.restart()
        child.await_event("outage", after=ready, timeout=IDLE_SECONDS / 3)
        world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
        assert eventually(lambda: every_school_has_mail(world), timeout=IDLE_SECONDS / 2), \
            "the restart was noticed only when the IDLE period ran out"
        assert child.terminate() == 0
    assert_no_personal_data([child.output], run.written)


def test_sighup_loads_rules_that_know_a_new_school(run: Run) -> None:
    world = run.world
    rules = run.directory / "etc" / "rules.yaml"
    rules.write_text(rules_without(world, "56EF00"))
    heuvel = school(world, "56EF00")
    with daemon(run, run.config) as child:
        ready = child.await_event("ready")
        rules.write_text(world.rules_yaml())
        child.send(signal.SIGHUP)
        child.await_event("reloaded", after=ready)
        world.deliver_signal(world.signal_mail(sample_signal([SARA])))
        assert eventually(lambda: len(world.school_mail(heuvel)) == 1)
        assert eventually(lambda: world.dovecot.messages(OFFICE) == [])
        code = child.terminate()
    assert code == 0
    assert world.dovecot.messages(OFFICE, MANUAL) == []
    assert not child.events("reload-failed")
    assert_no_personal_data([child.output], run.written)


def test_sighup_with_broken_rules_keeps_the_old_ones_and_the_daemon_running(run: Run) -> None:
    world = run.world
    rules = run.directory / "etc" / "rules.yaml"
    good = rules.read_text()
    with notified_daemon(run, run.config) as (child, notify):
        ready = child.await_event("ready")
        idle = r"watching the inbox; last pass \d\d:\d\d:\d\d \(just now\): nothing new"
        assert eventually(lambda: re.fullmatch(idle, notify.statuses()[-1]) is not None)
        rules.write_text("schools: [\n  - code: 12AB00\n    name: {unclosed\n")
        child.send(signal.SIGHUP)
        failed = child.await_event("reload-failed", after=ready)
        notify.await_message(lambda message: "READY=1" in message and "STATUS=reload failed, still running the "
                             "previous configuration: " in message and "rules.yaml" in message)
        world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
        assert eventually(lambda: every_school_has_mail(world))
        assert eventually(lambda: world.dovecot.messages(OFFICE) == [])
        assert child.process.poll() is None, "a bad rules file must not end the daemon"
        assert notify.statuses()[-1].startswith("reload failed"), "said until a reload succeeds"
        rules.write_text(good)
        child.send(signal.SIGHUP)
        child.await_event("reloaded", after=failed)
        assert eventually(lambda: notify.statuses()[-1].startswith("watching the inbox; last pass "))
        code = child.terminate()
    assert code == 0
    assert "rules.yaml" in child.lines[failed]
    assert child.events("stopped")
    assert_no_personal_data([child.output], run.written)


def test_a_second_instance_on_the_same_state_dir_refuses_to_start(run: Run) -> None:
    world = run.world
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))
    state = load_settings(run.config).state_dir
    with instance_lock(state):
        refused = run.cli("once")
    assert refused.returncode == 1
    assert f"another hwc-mailer run or once is using {state}" in refused.stderr
    assert not (state / "hwc-mailer.db").exists(), "refused before the store was opened (or migrated)"
    assert len(world.dovecot.messages(OFFICE)) == 1, "the refused one touched nothing"
    done = run.cli("once")
    assert done.returncode == 0, done.stderr
    assert world.dovecot.messages(OFFICE) == []


def test_ready_comes_at_once_when_the_mail_server_is_down_and_the_watchdog_is_fed_through_the_outage(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """systemd would otherwise time the start out and restart the daemon in a loop, or kill it in the outage."""
    with socket.socket() as probe:                      # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = run.directory / "etc" / "config-down.yaml"
    text = run.config.read_text()
    port = f"  port: {run.world.dovecot.imaps_port}\n"
    assert text.count(port) == 1
    config.write_text(text.replace(port, f"  port: {closed}\n"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")      # a ping at least every second
    with notified_daemon(run, config) as (child, notify):
        notify.await_message(lambda message: message.startswith("STATUS=reconnecting in "))
        pings = len([message for message in notify.messages if message == "WATCHDOG=1"])
        notify.await_message(lambda message: len([text for text in notify.messages if text == "WATCHDOG=1"])
                             >= pings + 2)
        assert child.process.poll() is None
        assert any(f"127.0.0.1:{closed}" in status for status in notify.statuses())
        assert child.terminate() == 0
        notify.await_message(lambda message: message == "STOPPING=1")
