"""Schools read it in the mail they already have: S/MIME for Outlook, a secure-mail gateway, PGP/MIME.

Each contact's profile decides how its mail is protected. The S/MIME mail a school receives is opened
by `openssl cms` with the school's own key and verified against the lab CA, an independent reader; a
gateway is a second SMTP server on loopback that insists on STARTTLS and a login. A certificate or
gateway that cannot be used gets nothing, the other contacts still get theirs, and officers are told.
"""

from __future__ import annotations

import email
import email.policy
import secrets
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Delivered
from lab.smime import Issued, SmimeLab
from lab.smtp import RelaySmtp
from lab.world import OFFICE, OFFICER, World, sample_signal
from tests.integration.helpers import SARA, TIM, InProcess, Run, assert_no_personal_data, counters

SECOND_CONTACT = "ib@regenboog.example.nl"
AGREEMENT = "Verwerkersovereenkomst SecureMail 2026-03"


@pytest.fixture(scope="session")
def smime(lab_dir: Path) -> SmimeLab:
    return SmimeLab(lab_dir / "smime")


@pytest.fixture(scope="session")
def office_certificate(smime: SmimeLab) -> Issued:
    return smime.issue(OFFICE, name="Leerplicht Maastricht-Heuvelland")


@pytest.fixture(scope="session")
def second_contact(world: World) -> str:
    """A second contact at De Regenboog, with a mailbox of their own."""
    world.dovecot.add_user(SECOND_CONTACT, secrets.token_urlsafe(12))
    return SECOND_CONTACT


@pytest.fixture
def gateway(world: World) -> Iterator[RelaySmtp]:
    """A secure-mail gateway on loopback: STARTTLS, a login of its own, delivering into the lab mailboxes."""
    with RelaySmtp(world.dovecot, world.tls, {"leerplicht-gw": "gw-" + secrets.token_urlsafe(8)},
                   save_sent_copy=False) as server:
        yield server


def contact_lines(address: str, profile: str, value: str) -> str:
    key = {"openpgp": "fingerprint", "smime": "certificate", "gateway": "gateway"}[profile]
    return (f"      - name: HWC-contactpersoon\n        email: {address}\n        profile: {profile}\n"
            f"        {key}: \"{value}\"\n")


def configure(run: Run, office: Issued, smime: SmimeLab, contacts: str, *, crl: Path | None = None,
              gateway: RelaySmtp | None = None, gateway_ca: Path | None = None,
              gateway_password: str | None = None) -> None:
    """School 12AB00 gets `contacts` (contact_lines) instead of its one OpenPGP contact; smime (and a gateway)
    join the service file."""
    world = run.world
    regenboog = world.schools[0]
    rules = run.config.parent / "rules.yaml"
    own = (f"      - name: HWC-contactpersoon\n        email: {regenboog.address}\n"
           f"        fingerprint: \"{regenboog.fingerprint}\"\n")
    text = rules.read_text()
    assert text.count(own) == 1, "the lab's rules changed shape"
    rules.write_text(text.replace(own, contacts))
    extra = (f"smime:\n  certificate: {office.certificate_file}\n  key: {{file: {office.key_file}}}\n"
             f"  ca_file: {smime.ca_file}\n" + (f"  crl_files: [{crl}]\n" if crl else ""))
    if gateway is not None:
        password = run.config.parent / "gateway-password"
        password.write_text(gateway_password or next(iter(gateway.users.values())))
        password.chmod(0o600)
        extra += (f"gateways:\n  securemail:\n    host: {gateway.host}\n    port: {gateway.port}\n"
                  f"    ca_file: {gateway_ca or world.tls.ca_file}\n    username: leerplicht-gw\n"
                  f"    password: {{file: {password}}}\n    header: \"X-Secure-Mail: encrypt\"\n"
                  f"    subject_tag: \"[beveiligd]\"\n    processor_agreement: \"{AGREEMENT}\"\n")
    run.config.write_text(run.config.read_text() + extra)


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_school_on_outlook_gets_smime_it_opens_and_verifies(run: Run, pipeline: InProcess, smime: SmimeLab,
                                                               office_certificate: Issued) -> None:
    world = run.world
    regenboog = world.schools[0]
    reader = smime.issue(regenboog.address)
    configure(run, office_certificate, smime, contact_lines(regenboog.address, "smime", str(reader.certificate_file)))
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))

    (outcome,) = pipeline.once()

    assert outcome.code == "delivered"
    (raw,) = world.school_mail(regenboog)
    outer = parsed(raw)
    assert outer.get_content_type() == "application/pkcs7-mime"
    assert outer.get_param("smime-type") == "enveloped-data"
    notice = smime.read(raw, reader)
    assert TIM["Naam"].encode() in notice and b"Handle with Care" in notice
    assert SARA["Naam"].encode() not in notice, "only this school's pupils"
    (other,) = world.school_mail(world.schools[1])
    assert world.open_as(world.schools[1], other)[1].ok, "the other school, on OpenPGP, reads its own"
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert_no_personal_data([header], run.written)
    assert world.dovecot.messages(OFFICE) == []


def test_a_school_with_contacts_on_two_profiles_gets_one_mail_per_profile(
        run: Run, pipeline: InProcess, smime: SmimeLab, office_certificate: Issued, second_contact: str) -> None:
    world = run.world
    regenboog = world.schools[0]
    reader = smime.issue(SECOND_CONTACT)
    configure(run, office_certificate, smime,
              contact_lines(regenboog.address, "openpgp", regenboog.fingerprint)
              + contact_lines(SECOND_CONTACT, "smime", reader.certificate.decode().replace("\n", "\\n")))
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    (outcome,) = pipeline.once()

    assert outcome.code == "delivered"
    (pgp,) = world.school_mail(regenboog)
    (cms,) = world.dovecot.messages(SECOND_CONTACT)
    _, decrypted = world.open_as(regenboog, pgp)
    assert decrypted.ok and TIM["Naam"].encode() in decrypted.data
    assert TIM["Naam"].encode() in smime.read(cms, reader)
    assert parsed(pgp)["Message-ID"] != parsed(cms)["Message-ID"]
    assert [(row.outcome, row.signals, row.children, row.schools) for row in counters(run)] == [
        ("delivered", 1, 1, 1)], "one school, one child, however many mails"


@pytest.mark.parametrize(("problem", "state"), [
    ("expired", "expired"), ("not-yet-valid", "not-yet-valid"), ("wrong-address", "wrong-address"),
    ("revoked", "revoked"), ("elliptic", "unsupported"), ("no-encipherment", "cannot-encrypt"),
])
def test_a_certificate_that_cannot_be_used_gets_nothing_and_the_others_still_do(
        run: Run, pipeline: InProcess, smime: SmimeLab, office_certificate: Issued, second_contact: str,
        problem: str, state: str) -> None:
    world = run.world
    regenboog = world.schools[0]
    bad = {
        "expired": lambda: smime.issue(SECOND_CONTACT, valid_from=-timedelta(days=400)),
        "not-yet-valid": lambda: smime.issue(SECOND_CONTACT, valid_from=timedelta(days=3)),
        "wrong-address": lambda: smime.issue("someone@elsewhere.example.nl"),
        "revoked": lambda: smime.issue(SECOND_CONTACT),
        "elliptic": lambda: smime.issue(SECOND_CONTACT, elliptic=True),
        "no-encipherment": lambda: smime.issue(SECOND_CONTACT, encipherment=False),
    }[problem]()
    crl = smime.crl([bad]) if problem == "revoked" else None
    configure(run, office_certificate, smime, contact_lines(regenboog.address, "openpgp", regenboog.fingerprint)
              + contact_lines(SECOND_CONTACT, "smime", str(bad.certificate_file)), crl=crl)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    (outcome,) = pipeline.once()

    assert outcome.code == "delivered"
    assert len(world.school_mail(regenboog)) == 1
    assert world.dovecot.messages(SECOND_CONTACT) == []
    (alert,) = world.officer_mail()
    told = world.read_alert(alert)
    assert "contact-key-unusable" in told and f"status {state}" in told
    listed = run.cli("keys")
    assert listed.returncode == 1 and f"{state} " in listed.stdout and "12AB00 " + SECOND_CONTACT in listed.stdout


def test_a_gateway_contact_gets_the_notice_through_the_gateway_only(
        run: Run, pipeline: InProcess, smime: SmimeLab, office_certificate: Issued, gateway: RelaySmtp) -> None:
    world = run.world
    regenboog = world.schools[0]
    configure(run, office_certificate, smime, contact_lines(regenboog.address, "gateway", "securemail"),
              gateway=gateway)
    world.deliver_signal(world.signal_mail(sample_signal([TIM])))

    relayed = len(world.smtp.received)

    (outcome,) = pipeline.once()

    assert outcome.code == "delivered"
    (received,) = gateway.received
    assert received.rcpt_tos == (regenboog.address,)
    assert all(regenboog.address not in sent.rcpt_tos for sent in world.smtp.received[relayed:]), "never the relay"
    (raw,) = world.school_mail(regenboog)
    message = parsed(raw)
    assert message["X-Secure-Mail"] == "encrypt" and str(message["Subject"]).startswith("[beveiligd] ")
    assert TIM["Naam"] in message.get_content()
    checked = run.cli("check", "--offline")
    assert AGREEMENT in checked.stdout


@pytest.mark.parametrize("fault", ["untrusted-certificate", "refused-login"])
def test_a_gateway_that_cannot_be_trusted_or_refuses_the_login_gets_nothing_and_only_its_signal_waits(
        run: Run, pipeline: InProcess, smime: SmimeLab, office_certificate: Issued, gateway: RelaySmtp,
        fault: str) -> None:
    world = run.world
    regenboog = world.schools[0]
    configure(run, office_certificate, smime, contact_lines(regenboog.address, "gateway", "securemail"),
              gateway=gateway, gateway_ca=smime.ca_file if fault == "untrusted-certificate" else None,
              gateway_password="wrong" if fault == "refused-login" else None)
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    world.deliver_signal(world.signal_mail(sample_signal([{**TIM, "School": "56EF00"}])))

    (outcome,) = pipeline.once()

    assert outcome == Delivered(("56EF00",), 1), "the second signal, behind it, got through"
    assert gateway.received == []
    assert world.school_mail(regenboog) == []
    assert len(world.school_mail(world.schools[1])) == 2, "the other school of the waiting signal has its mail too"
    assert len(world.dovecot.messages(OFFICE)) == 1, "the signal for the gateway's contact waits in the inbox"
    (alert,) = world.officer_mail()
    told = world.read_alert(alert)
    assert "gateway-unavailable" in told and f"gateway securemail: SMTP server 127.0.0.1:{gateway.port}" in told
    if fault == "untrusted-certificate":
        assert "is not from a CA in gateways.securemail.ca_file" in " ".join(told.split()), told


def test_an_officer_on_outlook_reads_the_alert_in_smime_and_finishes_it_by_an_smime_reply(
        run: Run, pipeline: InProcess, smime: SmimeLab, office_certificate: Issued) -> None:
    world = run.world
    officer = smime.issue(OFFICER, name="Team Leerplicht")
    configure(run, office_certificate, smime, contact_lines(world.schools[0].address, "openpgp",
                                                            world.schools[0].fingerprint))
    rules = run.config.parent / "rules.yaml"
    pgp = f'    fingerprint: "{world.officer}"\n'
    smime_lines = f'    profile: smime\n    certificate: "{officer.certificate_file}"\n'
    rules.write_text(rules.read_text().replace(pgp, smime_lines))
    world.deliver_signal(world.signal_mail(sample_signal([{**TIM, "School": "Basisschool De Regenbog"}])))

    (held,) = pipeline.once()

    assert held.code == "manual:unknown-school"
    (alert_raw,) = world.officer_mail()
    assert parsed(alert_raw).get_content_type() == "application/pkcs7-mime"
    alert = parsed(smime.read(alert_raw, officer)).get_content()
    assert f"kind 1: {TIM['Naam']}" in alert and "School: <BRIN-code>" in alert
    quoted = "".join(f"> {line}\n" for line in alert.splitlines())

    world.deliver_signal(smime.reply(f"School: 12AB00\n\nOp 7 dec. schreef Leerplicht:\n{quoted}", signer=officer,
                                     to=office_certificate.certificate, sender=f"Team Leerplicht <{OFFICER}>",
                                     recipient=OFFICE, subject="RE: [hwc-mailer] Signaal",
                                     answers=str(parsed(alert_raw)["Message-ID"])))
    (finished,) = pipeline.once()

    assert finished.code == "reply:sent-by-officer"
    assert len(world.school_mail(world.schools[0])) == 1
    confirmation = parsed(smime.read(world.officer_mail()[1], officer)).get_content()
    assert "afgehandeld" in confirmation
    assert world.dovecot.messages(OFFICE, "HWC-Handmatig") == []

    # Signed with another certificate of the same CA: not the officer's, so refused and set aside.
    impostor = smime.issue(OFFICER)
    # Another signal: the same text signed within the same second would be a replay of the first.
    world.deliver_signal(world.signal_mail(sample_signal([{**SARA, "School": "Basisschool De Regenbog"}])))
    (held_again,) = pipeline.once()
    assert held_again.code == "manual:unknown-school"
    world.deliver_signal(smime.reply("Verwijderen", signer=impostor, to=office_certificate.certificate,
                                     sender=f"Team Leerplicht <{OFFICER}>", recipient=OFFICE, subject="RE: x"))
    (refused,) = pipeline.once()
    assert refused.code == "quarantined:reply-unauthentic"
    assert len(world.dovecot.messages(OFFICE, "HWC-Handmatig")) == 1
