"""Delivery reports, read in-process: what names the returned mail, its recipient and the status; and what is
no report at all. Addresses and ids are invented."""

from email.message import EmailMessage
from email.policy import SMTP

import pytest

from hwc_mailer.inbound.bounces import MAX_IDS, Bounce, bounce_of
from hwc_mailer.settings.config import Limits
from lab.reports import delivery_report

OURS = "<hwc.4f2a9c@maastricht.example.nl>"


def dsn(status: str = "5.1.1", returned: str = "headers") -> bytes:
    return delivery_report(OURS, "hwc@regenboog.example.nl", status=status, whole=returned != "headers")


def test_a_dsn_names_the_returned_mail_its_recipient_and_the_status() -> None:
    assert bounce_of(dsn(), Limits()) == Bounce((OURS,), ("hwc@regenboog.example.nl",), "5.1.1")


def test_a_classic_bounce_with_the_original_quoted_as_text_names_it_too() -> None:
    bounce = EmailMessage(policy=SMTP)
    bounce["From"] = "Mail Delivery Subsystem <MAILER-DAEMON@mx.opdeheuvel.example.nl>"
    bounce["Subject"] = "Returned mail: see transcript for details"
    bounce.set_content(f"The original message was received.\n\n----- Original message -----\nMessage-ID: {OURS}\n"
                       "From: leerplicht@maastricht.example.nl\n")
    found = bounce_of(bounce.as_bytes(), Limits())
    assert found is not None and found.message_ids == (OURS,) and found.status == ""


def test_a_report_of_a_delay_or_a_success_is_no_bounce() -> None:
    assert bounce_of(dsn(status="4.4.7"), Limits()) is None
    assert bounce_of(dsn(status="2.0.0"), Limits()) is None


def test_a_report_naming_thousands_of_ids_is_read_for_the_first_few_only() -> None:
    many = "".join(f"Message-ID: <id{number}@flood.example>\n" for number in range(5000))
    raw = f"From: MAILER-DAEMON@mx.example.nl\nSubject: bounce\n\n{many}".encode()
    found = bounce_of(raw, Limits())
    assert found is not None and len(found.message_ids) == MAX_IDS


def test_the_returned_whole_message_is_read_the_same_way() -> None:
    found = bounce_of(dsn(returned="message"), Limits())
    assert found is not None and found.message_ids == (OURS,)


@pytest.mark.parametrize("raw", [
    b"From: Veilig Thuis <hwc@veiligthuis-zl.example.nl>\r\nSubject: Melding\r\n\r\nMessage-ID: <x@y.nl>\r\n",
    b"From: MAILER-DAEMON@mx.example.nl\r\nSubject: bounce\r\n\r\nno id in here\r\n",
    b"From: MAILER-DAEMON@mx.example.nl\r\nContent-Type: multipart/report; boundary=\"\r\n\r\n--\r\n",
    b"",
])
def test_what_is_no_report_or_names_nothing_is_none(raw: bytes) -> None:
    assert bounce_of(raw, Limits()) is None
