"""A real signal through real Dovecot, SMTP and gpg: what schools, officers and admins would see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Delivered, NotOurs
from lab.tls import make_tls
from lab.world import OFFICE, OTHER_SENDER, World, sample_signal
from tests.integration.helpers import (
    PERSONAL,
    SARA,
    TIM,
    InProcess,
    Run,
    assert_held_and_nothing_sent,
    assert_no_personal_data,
    counters,
    eventually,
    totals,
    wait_for_line,
)

HTML_SIGNAL = """<html><head><style>p.MsoNormal{margin:0}</style></head><body>
<p class=MsoNormal>Beste collega,</p><p class=MsoNormal>Hierbij een <b>Handle with Care</b>-signaal.</p>
<p class=MsoNormal><b>Naam:</b>&nbsp;Tim Testkind</p><p class=MsoNormal><b>Geboortedatum:</b> 14-03-2017</p>
<p class=MsoNormal><b>School:</b> 12AB00</p><p class=MsoNormal>&nbsp;</p>
<p class=MsoNormal><b>Naam:</b> Sara Testkind</p><p class=MsoNormal><b>Geboortedatum:</b> 2 mei 2013</p>
<p class=MsoNormal><b>School:</b> Basisschool Op de Heuvel</p>
<p class=MsoNormal>Met vriendelijke groet,<br>A. de Vries<br>Veilig Thuis Zuid-Limburg</p></body></html>"""


def clear_headers(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")


def two_children_signal(world: World, form: str) -> bytes:
    if form == "html-only":
        return world.signal_mail("", html=HTML_SIGNAL)
    text = sample_signal([TIM, SARA])
    return world.signal_mail(text, inline=form == "inline")


def assert_each_school_got_only_its_own_child_and_nothing_is_kept(run: Run) -> None:
    """Tim's school and Sara's school each hold one mail, readable by that school only; nothing stays behind."""
    world = run.world
    regenboog, heuvel = world.schools
    for school, own, sibling in ((regenboog, TIM, SARA), (heuvel, SARA, TIM)):
        (raw,) = world.school_mail(school)
        message, decrypted = world.open_as(school, raw)
        assert decrypted.ok and decrypted.valid
        assert decrypted.pubkey_fingerprint == world.office
        plain = decrypted.data.decode()
        assert own["Naam"] in plain and sibling["Naam"] not in plain
        assert "Handle with Care" in plain and TIM["Kenmerk"] not in plain
        assert message["Subject"] == "Bericht van Leerplicht"
        assert message.get_content_type() == "multipart/encrypted"
        for value in PERSONAL:
            assert value not in clear_headers(raw)
        other = heuvel if school is regenboog else regenboog
        _, foreign = world.open_as(other, raw)
        assert not foreign.ok
        assert not world.decrypt_as_office(raw).ok, "a copy kept in Sent must be unreadable even to us"
    assert "14-03-2017" in world.open_as(regenboog, world.school_mail(regenboog)[0])[1].data.decode()
    assert "02-05-2013" in world.open_as(heuvel, world.school_mail(heuvel)[0])[1].data.decode()
    assert world.dovecot.messages(OFFICE) == []
    assert world.dovecot.messages(OFFICE, "Sent") == []
    assert totals(run) == (1, 2, 2)


@pytest.mark.parametrize("form", ["pgp-mime", "inline", "html-only"])
def test_each_school_gets_only_its_own_child_encrypted_and_nothing_is_kept(run: Run, pipeline: InProcess,
                                                                           form: str) -> None:
    world = run.world
    world.deliver_signal(two_children_signal(world, form))

    outcomes = pipeline.once()

    assert outcomes == [Delivered(tuple(school.code for school in world.schools), 2)]
    assert_each_school_got_only_its_own_child_and_nothing_is_kept(run)
    assert_no_personal_data([repr(outcomes)], run.written)


def _unsigned(world: World) -> bytes:
    return world.signal_mail("", encrypted=world.armored(
        f"Content-Type: text/plain\r\n\r\n{sample_signal([TIM])}".encode(), signer=""))


def _unknown_key(world: World) -> bytes:
    outsider = world.schools[0]
    encrypted = world.armored(f"Content-Type: text/plain\r\n\r\n{sample_signal([TIM])}".encode(),
                              signer=outsider.fingerprint, signer_home=outsider.home)
    return world.signal_mail("", encrypted=encrypted)


def _other_senders_key(world: World) -> bytes:
    encrypted = world.armored(f"Content-Type: text/plain\r\n\r\n{sample_signal([TIM])}".encode(),
                              signer=world.other_sender, signer_home=world.other_sender_home)
    return world.signal_mail("", encrypted=encrypted)


def _not_encrypted(world: World) -> bytes:
    raw = world.signal_mail(sample_signal([TIM]), inline=True)
    head, _ = raw.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n" + sample_signal([TIM]).encode()


REFUSED = {
    "unsigned": (_unsigned, "quarantined:unsigned"),
    "unknown-key": (_unknown_key, "quarantined:unknown-key"),
    "another-senders-key": (_other_senders_key, "quarantined:wrong-signer"),
    "plaintext": (_not_encrypted, "quarantined:not-encrypted"),
    "unknown-school": (lambda world: world.signal_mail(sample_signal([{**TIM, "School": "99ZZ00"}])),
                       "manual:unknown-school"),
    "bad-date": (lambda world: world.signal_mail(sample_signal([{**TIM, "Geboortedatum": "31-02-2017"}])),
                 "manual:invalid-date"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_signal_that_is_not_safe_goes_to_a_person_and_nowhere_else(run: Run, pipeline: InProcess,
                                                                      case: str) -> None:
    world = run.world
    build, outcome = REFUSED[case]
    world.deliver_signal(build(world))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once()

    alert = assert_held_and_nothing_sent(run, outcomes, outcome, sent_before)
    assert pipeline.once() == []
    assert len(world.officer_mail()) == 1
    assert_no_personal_data([repr(outcomes), alert], run.written)


def test_mail_from_people_is_left_alone(run: Run, pipeline: InProcess) -> None:
    world = run.world
    world.deliver_signal(b"From: Collega <collega@maastricht.example.nl>\r\nTo: " + OFFICE.encode() +
                         b"\r\nSubject: Lunch\r\nMessage-ID: <lunch@example.nl>\r\n\r\nZullen we lunchen?\r\n")

    outcomes = pipeline.once()

    assert outcomes == [NotOurs()]
    (raw,) = world.dovecot.messages(OFFICE)
    assert b"Zullen we lunchen?" in raw
    assert counters(run) == []


def test_a_trusted_address_with_two_from_addresses_is_refused(run: Run, pipeline: InProcess) -> None:
    world = run.world
    raw = world.signal_mail(sample_signal([TIM]))
    raw = raw.replace(b"From: Veilig Thuis", f"From: <{OTHER_SENDER}>,".encode() + b" Veilig Thuis", 1)
    world.deliver_signal(raw)

    outcomes = pipeline.once()

    assert [outcome.code for outcome in outcomes] == ["quarantined:multiple-from"]
    assert all(world.school_mail(school) == [] for school in world.schools)


# ---- the command line itself: what `once` prints and how it exits -------------------------------------------------

def test_once_sums_up_a_delivered_signal_and_exits_0(run: Run) -> None:
    world = run.world
    world.deliver_signal(two_children_signal(world, "pgp-mime"))

    result = run.cli("once")

    assert result.returncode == 0, result.stderr
    regenboog, heuvel = world.schools
    assert result.stdout.splitlines() == [
        "processed 1 message(s): 1 delivered, 0 held for a person, 0 not ours (left alone)",
        f"  delivered to {regenboog.code}, {heuvel.code}"]
    assert_each_school_got_only_its_own_child_and_nothing_is_kept(run)
    assert_no_personal_data([result.stdout, result.stderr], run.written)


def test_stats_shows_small_counts_as_under_five_unless_exact_and_as_csv(run: Run) -> None:
    world = run.world
    world.deliver_signal(two_children_signal(world, "pgp-mime"))
    assert run.cli("once").returncode == 0

    table, exact, sheet = run.cli("stats"), run.cli("stats", "--exact"), run.cli("stats", "--csv")

    assert "delivered: <5 signal(s), <5 child(ren), <5 school(s); held for a person: 0" in table.stdout
    assert " 1 " not in table.stdout.splitlines()[1] + " "
    assert "delivered: 1 signal(s), 2 child(ren), 2 school(s); held for a person: 0" in exact.stdout
    lines = sheet.stdout.splitlines()
    assert lines[0] == "month,municipality,outcome,signals,children,schools"
    assert sorted(line.split(",", 1)[1] for line in lines[1:]) == ["Gulpen-Wittem,delivered,0,<5,<5",
                                                                    "Maastricht,delivered,<5,<5,<5"]


def test_once_sums_up_a_held_signal_and_exits_0(run: Run) -> None:
    world = run.world
    world.deliver_signal(_unsigned(world))
    sent_before = len(world.smtp.received)

    result = run.cli("once")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "processed 1 message(s): 0 delivered, 1 held for a person, 0 not ours (left alone)",
        "  held: quarantined:unsigned"]
    alert = assert_held_and_nothing_sent(run, result.stdout, "quarantined:unsigned", sent_before)
    assert_no_personal_data([result.stdout, result.stderr, alert], run.written)


def test_daemon_forwards_a_signal_that_arrives_while_it_waits(run: Run) -> None:
    world = run.world
    env = {**os.environ, "TMPDIR": str(run.directory / "tmp")}
    daemon = subprocess.Popen([sys.executable, "-m", "hwc_mailer", "-c", str(run.config), "run"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              stdin=subprocess.DEVNULL)
    try:
        assert wait_for_line(daemon, '"event": "ready"'), "daemon never became ready"
        world.deliver_signal(two_children_signal(world, "pgp-mime"))
        assert eventually(lambda: all(world.school_mail(school) for school in world.schools))
        assert eventually(lambda: world.dovecot.messages(OFFICE) == [])
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    assert '"event": "stopped"' in stderr
    assert_no_personal_data([stderr], run.written)


def test_an_unknown_certificate_authority_stops_everything_before_login(run: Run, lab_dir: Path) -> None:
    world = run.world
    stranger = make_tls(run.directory / "other-ca", ca_name="Another CA")
    config = world.write_config(run.directory / "etc2", state_dir=run.directory / "state", ca_file=stranger.ca_file)
    world.deliver_signal(two_children_signal(world, "pgp-mime"))

    result = run.cli("once", config=config)

    assert result.returncode == 1
    assert (f"IMAP server {world.dovecot.host}:{world.dovecot.imaps_port}, connecting with TLS at once: the "
            f"certificate is not from a CA in imap.ca_file ({stranger.ca_file})"
            in result.stderr), result.stderr
    assert len(world.dovecot.messages(OFFICE)) == 1
    assert all(world.school_mail(school) == [] for school in world.schools)
