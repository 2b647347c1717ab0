"""What an officer reads when a signal is held: who it is about, only when the alert is sealed to their own key.

An officer with a key gets the child's name, date of birth, the school as written and close schools from the
rules as hints (never used to send), and a reference; an officer without a key gets the same alert with nobody
named and how to get the details. Neither copy stays in the Leerplicht mailbox's Sent folder.
"""

from __future__ import annotations

import email
import email.policy
import secrets
from email.message import EmailMessage

from lab.world import OFFICE, OFFICER, sample_signal
from tests.integration.helpers import TIM, InProcess, Run, assert_no_personal_data, without_personal

PLAIN_OFFICER = "bureau@maastricht.example.nl"


def test_a_held_signal_names_the_child_only_to_the_officer_with_a_key(run: Run, pipeline: InProcess) -> None:
    world = run.world
    world.dovecot.add_user(PLAIN_OFFICER, secrets.token_urlsafe(12))
    rules = run.config.parent / "rules.yaml"
    without_key = f"  - name: Bureau Leerplicht\n    email: {PLAIN_OFFICER}\n"
    rules.write_text(rules.read_text().replace("schools:\n", f"{without_key}schools:\n", 1))
    world.deliver_signal(world.signal_mail(sample_signal([{**TIM, "School": "Basisschool De Regenbog"}])))

    (held,) = pipeline.once()

    assert held.code == "manual:unknown-school"
    (sealed_raw,) = world.officer_mail()
    sealed = world.read_alert(sealed_raw)
    assert "Om wie het gaat (alleen in deze versleutelde melding):" in sealed
    assert f"kind 1: {TIM['Naam']}, geboren {TIM['Geboortedatum']}, school in het signaal: Basisschool De Regenbog" \
        in sealed
    assert "lijkt op: 12AB00 Basisschool De Regenboog (alleen een suggestie: controleer het zelf)" in sealed
    assert "Referentie: HWC-" in sealed and "Verwijder haar, en uw antwoord" in sealed

    (plain_raw,) = world.dovecot.messages(PLAIN_OFFICER)
    message = email.message_from_bytes(plain_raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    plain = message.get_content()
    assert "Deze melding is niet versleuteld en noemt daarom niemand" in plain and "Referentie: HWC-" in plain
    assert "Dit bericht bevat bewust geen namen" in plain

    assert world.dovecot.messages(OFFICE, "Sent") == [
        raw for raw in world.dovecot.messages(OFFICE, "Sent") if OFFICER.encode() not in raw.split(b"\r\n\r\n")[0]
    ], "the sealed alert's copy, which names the child, is gone from Sent"
    assert_no_personal_data([plain, plain_raw.decode("latin-1"), sealed_raw.decode("latin-1"),
                             without_personal(sealed)], run.written)
