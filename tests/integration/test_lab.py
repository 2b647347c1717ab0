"""Smoke tests of the mail lab itself: if these fail, no integration result can be trusted."""

from __future__ import annotations

import asyncio
import base64
import email
import imaplib
import socket
import subprocess
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from lab import gpg
from lab.dovecot import Dovecot
from lab.smtp import RelaySmtp
from lab.tls import LabTls

SENDER = "sender@lab.test"
ALICE = "alice@school.test"
BOB = "bob@school.test"
PASSWORD = "secret-1"


@pytest.fixture
def accounts(mail: Dovecot, smtp_relay: RelaySmtp) -> Dovecot:
    for address in (SENDER, ALICE, BOB):
        mail.add_user(address, PASSWORD)
    smtp_relay.users[SENDER] = PASSWORD
    return mail


def _message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = f"{ALICE}, {BOB}"
    message["Subject"] = subject
    message.set_content("Hallo.\n")
    return message


def _subjects(raw_messages: list[bytes]) -> list[str]:
    return [email.message_from_bytes(raw)["Subject"] for raw in raw_messages]


def test_mail_lands_once_per_recipient_and_in_sent(
    accounts: Dovecot, smtp_relay: RelaySmtp, lab_tls: LabTls
) -> None:
    asyncio.run(
        aiosmtplib.send(
            _message("two recipients"),
            hostname=smtp_relay.host,
            port=smtp_relay.port,
            start_tls=True,
            tls_context=accounts.ssl_context(),
            username=SENDER,
            password=PASSWORD,
        )
    )

    assert _subjects(accounts.messages(ALICE)) == ["two recipients"]
    assert _subjects(accounts.messages(BOB)) == ["two recipients"]
    assert _subjects(accounts.messages(SENDER, "Sent")) == ["two recipients"]
    assert accounts.messages(SENDER) == []
    assert smtp_relay.received[-1].rcpt_tos == (ALICE, BOB)


def test_implicit_tls_relay_delivers(accounts: Dovecot, lab_tls: LabTls) -> None:
    with RelaySmtp(accounts, lab_tls, {SENDER: PASSWORD}, implicit_tls=True) as relay:
        asyncio.run(
            aiosmtplib.send(
                _message("implicit tls"),
                recipients=[ALICE],
                hostname=relay.host,
                port=relay.port,
                use_tls=True,
                tls_context=accounts.ssl_context(),
                username=SENDER,
                password=PASSWORD,
            )
        )

    assert _subjects(accounts.messages(ALICE)) == ["implicit tls"]


def test_smtp_refuses_auth_before_starttls(accounts: Dovecot, smtp_relay: RelaySmtp) -> None:
    async def auth_in_plaintext() -> tuple[str, aiosmtplib.SMTPResponse]:
        client = aiosmtplib.SMTP(
            hostname=smtp_relay.host, port=smtp_relay.port, start_tls=False
        )
        async with client:
            ehlo = await client.ehlo()
            token = base64.b64encode(f"\0{SENDER}\0{PASSWORD}".encode()).decode()
            return ehlo.message, await client.execute_command(b"AUTH", b"PLAIN", token.encode())

    ehlo, reply = asyncio.run(auth_in_plaintext())

    assert "STARTTLS" in ehlo and "AUTH" not in ehlo
    assert reply.code == 530


class _FromOtherLoopback(imaplib.IMAP4):
    """Connects from 127.0.0.2: Dovecot counts a client whose address equals its own
    (127.0.0.1 -> 127.0.0.1) as secured and lets it log in without TLS."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection(
            (self.host, self.port), timeout, source_address=("127.0.0.2", 0)
        )


def test_dovecot_refuses_login_without_tls(accounts: Dovecot) -> None:
    with _FromOtherLoopback(accounts.host, accounts.imap_port) as imap:
        assert "LOGINDISABLED" in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error, match=r"PRIVACYREQUIRED|Plaintext"):
            imap.login(ALICE, PASSWORD)
        imap.starttls(accounts.ssl_context())
        assert imap.login(ALICE, PASSWORD)[0] == "OK"


def test_generated_key_encrypts_to_itself(lab_dir: Path) -> None:
    home = gpg.new_home(lab_dir, "gpg-self")
    try:
        fingerprint = gpg.generate_key(home, "Lab Self <self@lab.test>")
        assert len(fingerprint) == 40 and fingerprint == fingerprint.upper()
        ciphertext = _gpg(home, "--armor", "--encrypt", "--recipient", fingerprint, b"geheim\n")
        assert b"geheim" not in ciphertext
        assert _gpg(home, "--decrypt", ciphertext) == b"geheim\n"
    finally:
        gpg.kill_agents(home)


def _gpg(home: Path, *args: str | bytes) -> bytes:
    *options, data = args
    assert isinstance(data, bytes)
    command = ["gpg", "--batch", "--homedir", str(home), *map(str, options)]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout
