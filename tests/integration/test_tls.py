"""TLS always, certificates verified: a server we cannot trust gets no credentials and no signal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.dovecot import Dovecot
from lab.smtp import RelaySmtp
from lab.tls import LabTls, make_tls
from lab.world import OFFICE, World, sample_signal
from tests.integration.helpers import TIM, Run


BadRelay = tuple[RelaySmtp, Path, str]


def untrusted_relays(directory: Path, dovecot: Dovecot, lab_tls: LabTls) -> dict[str, BadRelay]:
    """Each relay with the CA file the daemon will be given for it and what the admin must read."""
    other_ca = make_tls(directory / "other-ca", ca_name="Another CA")
    wrong_name = make_tls(directory / "wrong-name", hostnames=("mail.elders.example",))
    return {
        "no-starttls": (RelaySmtp(dovecot, None, {}), lab_tls.ca_file, "STARTTLS extension not supported"),
        "unknown-ca": (RelaySmtp(dovecot, other_ca, {}), lab_tls.ca_file, "TLS failed (SSLCertVerificationError)"),
        "wrong-host-name": (RelaySmtp(dovecot, wrong_name, {}), wrong_name.ca_file,
                            "TLS failed (SSLCertVerificationError)"),
    }


@pytest.fixture(params=["no-starttls", "unknown-ca", "wrong-host-name"])
def bad_relay(request: pytest.FixtureRequest, run: Run, dovecot: Dovecot,
              lab_tls: LabTls) -> Iterator[BadRelay]:
    relay, ca_file, message = untrusted_relays(run.directory, dovecot, lab_tls)[request.param]
    relay.users[OFFICE] = run.world.office_password
    with relay:
        yield relay, ca_file, message


def test_smtp_server_that_cannot_be_trusted_gets_nothing(run: Run, bad_relay: BadRelay) -> None:
    world: World = run.world
    relay, ca_file, message = bad_relay
    config = world.write_config(run.directory / "etc-tls", state_dir=run.directory / "state", smtp=relay,
                                smtp_ca_file=ca_file)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    result = subprocess.run([sys.executable, "-m", "hwc_mailer", "-c", str(config), "once"], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)

    assert result.returncode == 1
    assert f"error: SMTP server {relay.host}:{relay.port}" in result.stderr and message in result.stderr
    assert relay.received == []
    assert len(world.dovecot.messages(OFFICE)) == 1
    assert all(world.school_mail(school) == [] for school in world.schools)
