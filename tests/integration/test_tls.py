"""TLS always, certificates verified: a server we cannot trust gets no credentials and no signal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hwc_mailer.errors import MailboxUnavailable, TransportUnavailable
from lab.dovecot import Dovecot
from lab.smtp import RelaySmtp
from lab.tls import LabTls, make_tls
from lab.world import OFFICE, World, sample_signal
from tests.integration.helpers import TIM, InProcess, Run

BadRelay = tuple[RelaySmtp, Path, str]


def untrusted_relays(directory: Path, dovecot: Dovecot, lab_tls: LabTls) -> dict[str, BadRelay]:
    """Each relay with the CA file the daemon will be given for it and what the admin must read: never a name from the
    certificate, which is the sender's to choose (only `check` names it)."""
    other_ca = make_tls(directory / "other-ca", ca_name="Another CA")
    wrong_name = make_tls(directory / "wrong-name", hostnames=("mail.elders.example",))
    return {
        "no-starttls": (RelaySmtp(dovecot, None, {}), lab_tls.ca_file, "STARTTLS extension not supported"),
        "unknown-ca": (RelaySmtp(dovecot, other_ca, {}), lab_tls.ca_file,
                       f"the certificate is not from a CA in smtp.ca_file ({lab_tls.ca_file})"),
        "wrong-host-name": (RelaySmtp(dovecot, wrong_name, {}), wrong_name.ca_file,
                            "the certificate is not for 127.0.0.1 (address mismatch): fix smtp.host or the server's "
                            "certificate"),
    }


@pytest.fixture(params=["no-starttls", "unknown-ca", "wrong-host-name"])
def bad_relay(request: pytest.FixtureRequest, run: Run, dovecot: Dovecot,
              lab_tls: LabTls) -> Iterator[BadRelay]:
    relay, ca_file, message = untrusted_relays(run.directory, dovecot, lab_tls)[request.param]
    relay.users[OFFICE] = run.world.office_password
    with relay:
        yield relay, ca_file, message


def test_smtp_server_that_cannot_be_trusted_gets_nothing(run: Run, pipeline: InProcess, bad_relay: BadRelay) -> None:
    """An outage for the pass, which the CLI turns into exit 1 and `error: <this text>` (tested with the IMAP CA):
    the same diagnosis `check` prints (tests/integration/test_check_diagnosis.py)."""
    world: World = run.world
    relay, ca_file, message = bad_relay
    config = world.write_config(run.directory / "etc-tls", state_dir=run.directory / "state", smtp=relay,
                                smtp_ca_file=ca_file)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    with pytest.raises(TransportUnavailable) as raised:
        pipeline.once(config=config)

    assert str(raised.value).startswith(f"SMTP server {relay.host}:{relay.port}") and message in str(raised.value)
    assert relay.received == []
    assert len(world.dovecot.messages(OFFICE)) == 1
    assert all(world.school_mail(school) == [] for school in world.schools)


def test_imap_server_that_cannot_be_trusted_is_an_outage_that_says_why(run: Run, pipeline: InProcess,
                                                                       lab_tls: LabTls) -> None:
    """The daemon's pass ends with the diagnosis `check` prints: its log, STATUS and alerts carry this text."""
    world: World = run.world
    other_ca = make_tls(run.directory / "other-ca", ca_name="Another CA")
    config = world.write_config(run.directory / "etc-tls", state_dir=run.directory / "state",
                                ca_file=other_ca.ca_file, smtp_ca_file=lab_tls.ca_file)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    with pytest.raises(MailboxUnavailable) as raised:
        pipeline.once(config=config)

    assert str(raised.value) == (
        f"IMAP server {world.dovecot.host}:{world.dovecot.imaps_port}, connecting with TLS at once: the certificate "
        f"is not from a CA in imap.ca_file ({other_ca.ca_file}) (unable to get local issuer certificate): set "
        "imap.ca_file to the CA that signed it, or have the server send its intermediate certificates")
    assert len(world.dovecot.messages(OFFICE)) == 1
