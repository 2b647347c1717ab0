"""Only keys the rules list, in a usable state, ever receive a signal; a person hears about every bad key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from hwc_mailer.domain.outcomes import Delivered, Held
from hwc_mailer.domain.reasons import Reason
from hwc_mailer.service.keys import ImportOutcome
from hwc_mailer.service.keys import import_keys as import_listed_keys
from hwc_mailer.service.setup import keyrings
from hwc_mailer.settings.config import load_settings
from hwc_mailer.settings.rules import load_rules
from lab.gpg import export_public, generate_key, import_keys, new_home
from lab.keystates import make_partner_key
from lab.world import OFFICE, OFFICER, sample_signal
from tests.integration.helpers import TIM, InProcess, Run, eventually, wait_for_line

BAD_CONTACT = "ib@regenboog.example.nl"

# kind of key the contact has -> what `hwc-mailer keys` says about it
CONTACT_KEYS = {
    "expired": "expired",
    "revoked": "revoked",
    "sign-only": "cannot-encrypt",
    "not-certified": "not-certified",
    "wrong-address": "wrong-address",
    "missing": "missing",
}


def with_bad_contact(run: Run, kind: str, *, keep_good: bool) -> str:
    """Rules where 12AB00 has a contact with a key of `kind`, brought in the way such a key gets there."""
    generated = {"not-certified": "ok", "wrong-address": "ok", "missing": "ok"}.get(kind, kind)
    address = "iemand@elders.example.nl" if kind == "wrong-address" else BAD_CONTACT
    _, fingerprint, public = make_partner_key(run.directory, "k", generated, f"IB Regenboog <{address}>")
    regenboog = run.world.schools[0]
    good = [(regenboog.address, regenboog.fingerprint)] if keep_good else []
    configure(run, [*good, (BAD_CONTACT, fingerprint)])
    if kind == "not-certified":
        import_keys(run.world.outbound_home, public)
    elif kind != "missing":
        imported = import_as_admin(run, public)
        assert imported.refused == []
        assert fingerprint in {ref.fingerprint for ref in [*imported.imported, *imported.uncertified,
                                                           *(ref for ref, _ in imported.unusable)]}
    return fingerprint


def import_as_admin(run: Run, public: bytes) -> ImportOutcome:
    """What `hwc-mailer keys import` does with a key file, in this process (the command has its own test)."""
    settings = load_settings(run.config)
    inbound, outbound = keyrings(settings)
    return import_listed_keys(public, settings, load_rules(settings.rules), inbound, outbound)


def configure(run: Run, contacts: list[tuple[str, str]]) -> None:
    run.config = run.world.write_config(run.directory / "etc-keys", state_dir=run.directory / "state",
                                        contacts={"12AB00": contacts})


@pytest.mark.parametrize("kind", list(CONTACT_KEYS))
def test_a_contact_with_an_unusable_key_is_skipped_and_the_others_get_the_mail(run: Run, pipeline: InProcess,
                                                                               kind: str) -> None:
    world = run.world
    regenboog = world.schools[0]
    bad = with_bad_contact(run, kind, keep_good=True)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))
    sent_before = len(world.smtp.received)

    outcomes = pipeline.once()

    assert outcomes == [Delivered((regenboog.code,), 1)]
    to_school = [received.rcpt_tos for received in world.smtp.received[sent_before:]
                 if received.rcpt_tos != (OFFICER,)]
    assert to_school == [(regenboog.address,)]
    (raw,) = world.school_mail(regenboog)
    _, decrypted = world.open_as(regenboog, raw)
    assert TIM["Naam"] in decrypted.data.decode()
    (alert,) = world.officer_mail()
    text = world.read_alert(alert)
    assert "contact-key-unusable" in text and bad in text and CONTACT_KEYS[kind] in text
    keys = run.cli("keys")
    assert keys.returncode == 1
    assert any(line.startswith(CONTACT_KEYS[kind]) and bad in line for line in keys.stdout.splitlines())


@pytest.mark.parametrize("kind", ["expired", "revoked", "missing"])
def test_a_school_without_a_usable_key_gets_nothing_and_a_person_takes_over(run: Run, pipeline: InProcess,
                                                                             kind: str) -> None:
    world = run.world
    with_bad_contact(run, kind, keep_good=False)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    outcomes = pipeline.once()

    assert outcomes == [Held(Reason.NO_VALID_KEY, f"school {world.schools[0].code}")]
    assert all(world.school_mail(school) == [] for school in world.schools)
    assert len(world.dovecot.messages(OFFICE, "HWC-Handmatig")) == 1
    reasons = " ".join(world.read_alert(raw) for raw in world.officer_mail())
    assert "no-valid-key" in reasons


def test_keys_import_takes_only_the_keys_the_rules_list(run: Run) -> None:
    world = run.world
    _, listed, listed_public = make_partner_key(run.directory, "l", "ok", f"IB <{BAD_CONTACT}>")
    stranger_home = new_home(run.directory, "s")
    stranger = generate_key(stranger_home, "Onbekend <onbekend@elders.example.nl>")
    configure(run, [(BAD_CONTACT, listed)])
    key_file = run.directory / "keys.asc"
    key_file.write_bytes(listed_public + export_public(stranger_home, stranger))

    result = run.cli("keys", "import", str(key_file))

    assert result.returncode == 1
    assert f"imported and certified {listed}" in result.stdout
    assert f"refused {stranger}: the rules do not list this key" in result.stderr
    for home in (world.inbound_home, world.outbound_home):
        listing = subprocess.run(["gpg", "--homedir", str(home), "--list-keys", "--with-colons"],
                                 capture_output=True, text=True, check=True).stdout
        assert stranger not in listing
    keys = run.cli("keys")
    assert any(line.startswith("ok") and listed in line for line in keys.stdout.splitlines())


@pytest.mark.parametrize(("kind", "state"), [("sign-only", "cannot-encrypt"), ("wrong-address", "wrong-address")])
def test_keys_import_says_when_a_certified_key_still_cannot_be_used(run: Run, kind: str, state: str) -> None:
    address = "iemand@elders.example.nl" if kind == "wrong-address" else BAD_CONTACT
    _, fingerprint, public = make_partner_key(run.directory, "k", "ok" if kind == "wrong-address" else kind,
                                              f"IB Regenboog <{address}>")
    configure(run, [(BAD_CONTACT, fingerprint)])
    key_file = run.directory / "keys.asc"
    key_file.write_bytes(public)

    result = run.cli("keys", "import", str(key_file))

    assert result.returncode == 1
    assert f"imported and certified {fingerprint}" not in result.stdout
    assert f"but NOT usable: {state}; it will not be used" in result.stderr


def test_an_expiring_key_is_told_once_a_week_not_at_every_start(run: Run) -> None:
    world = run.world
    regenboog = world.schools[0]
    _, expiring, public = make_partner_key(run.directory, "e", "expiring-10", f"IB <{BAD_CONTACT}>")
    configure(run, [(regenboog.address, regenboog.fingerprint), (BAD_CONTACT, expiring)])
    (run.directory / "expiring.asc").write_bytes(public)
    run.cli("keys", "import", str(run.directory / "expiring.asc"))

    for start in (1, 2):
        daemon = subprocess.Popen([sys.executable, "-m", "hwc_mailer", "-c", str(run.config), "run"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "TMPDIR": str(run.directory / "tmp")})
        try:
            assert wait_for_line(daemon, '"event": "keys-checked"'), f"start {start}: no key check"
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.communicate(timeout=30)
        assert eventually(lambda: len(world.officer_mail()) == 1)

    text = world.read_alert(world.officer_mail()[0])
    assert "key-expiring" in text and expiring in text and "expires in 9 days" in text
