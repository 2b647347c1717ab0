"""Delivery reports as a school's mail server writes them (RFC 3464 DSN, Postfix's wording), for bounce tests."""

from __future__ import annotations


def delivery_report(message_id: str, recipient: str, *, status: str = "5.1.1", whole: bool = False,
                    sender: str = "leerplicht@maastricht.example.nl") -> bytes:
    """A DSN for the mail `message_id` to `recipient`: a human part, the delivery status, and the returned
    headers (RET=HDRS), or with `whole` the returned message with its encrypted body."""
    headers = f"From: Leerplicht <{sender}>\r\nSubject: Bericht van Leerplicht\r\nMessage-ID: {message_id}\r\n"
    returned = (f"Content-Type: message/rfc822\r\n\r\n{headers}\r\n-----BEGIN PGP MESSAGE-----\r\nhQ\r\n"
                "-----END PGP MESSAGE-----\r\n" if whole else f"Content-Type: text/rfc822-headers\r\n\r\n{headers}")
    server = recipient.rsplit("@", 1)[1]
    return f"""\
From: MAILER-DAEMON@mail.{server} (Mail Delivery System)\r
To: {sender}\r
Subject: Undelivered Mail Returned to Sender\r
Message-ID: <20261207.report.{status}@mail.{server}>\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
\r
--B\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mail.{server}\r
\r
Final-Recipient: rfc822; {recipient}\r
Original-Recipient: rfc822;{recipient}\r
Action: failed\r
Status: {status}\r
Diagnostic-Code: smtp; 550 {status} unknown user\r
\r
--B\r
{returned}\r
--B--\r
""".encode()
