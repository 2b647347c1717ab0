"""The school notice: Dutch text with only that school's children, inside a PGP/MIME envelope
whose outside carries nothing personal. Names, dates and addresses are invented.
"""

import email
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from hwc_mailer.domain.routing import Delivery
from hwc_mailer.domain.signal import Child
from hwc_mailer.errors import TemplateError
from hwc_mailer.outbound.notice import PACKAGED_TEMPLATES, DeliveryKey, Templates, compose_notice, outgoing_message_id
from hwc_mailer.outbound.sealing import pgp_mime
from hwc_mailer.settings.config import Sender
from hwc_mailer.settings.rules import Contact, School

TEMPLATES = PACKAGED_TEMPLATES
NOW = datetime(2024, 9, 16, 23, 40, tzinfo=UTC)
ARMORED = b"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA0xxxxxxxxxx\r\n-----END PGP MESSAGE-----\r\n"

JAN = Child("Jan Jansen", date(2017, 3, 14), "De Maasbrug", "Maastricht", "VT-2024-0001")
PIET = Child("Piet Jansen", date(2015, 11, 2), "De Maasbrug", "Maastricht", "VT-2024-0001")
KEES = Child("Kees Jansen", date(2013, 1, 9), "Op de Heuvel", "Gulpen-Wittem", "VT-2024-0001")

MAASBRUG = School(
    code="34CD00", name="Kindcentrum De Maasbrug", aliases=("De Maasbrug",), municipality="Maastricht",
    contacts=(Contact(name="L. Hermans", email="hwc@maasbrug.example.nl",
                      fingerprint="3333333333333333333333333333333333333333"),
              Contact(name="P. Willems", email="ib@maasbrug.example.nl",
                      fingerprint="4444444444444444444444444444444444444444")))
HEUVEL = School(
    code="56EF00", name="Basisschool Op de Heuvel", municipality="Gulpen-Wittem",
    contacts=(Contact(name="A. Ramakers", email="hwc@opdeheuvel.example.nl",
                      fingerprint="5555555555555555555555555555555555555555"),))
SENDER = Sender(address="leerplicht@maastricht.example.nl", name="Leerplicht Maastricht-Heuvelland")

PERSONAL = ("Jan", "Jansen", "Piet", "Kees", "14-03-2017", "2017-03-14", "14 maart", "02-11-2015", "2015-11-02",
            "VT-2024")


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(TEMPLATES)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=SMTP)
    assert isinstance(message, EmailMessage)
    return message


def notice_for(templates: Templates, delivery: Delivery[School]) -> tuple[bytes, EmailMessage]:
    """(serialized outer message, parsed inner entity) for one delivery."""
    notice = compose_notice(delivery, SENDER, templates, message_id="<hwc.test@maastricht.example.nl>", now=NOW)
    outer = pgp_mime(notice, ARMORED).as_bytes()
    return outer, parsed(notice.inner)


# --- the Dutch text -----------------------------------------------------------------------


def test_the_notice_names_the_school_and_only_its_children(templates: Templates) -> None:
    subject, body = templates.render_notice(Delivery(MAASBRUG, (JAN, PIET)), SENDER)
    assert subject == "Handle with Care-signaal voor Kindcentrum De Maasbrug"
    assert "Beste HWC-contactpersoon van Kindcentrum De Maasbrug," in body
    assert "deze leerlingen van uw school" in body
    assert "- Jan Jansen, geboren op 14-03-2017" in body
    assert "- Piet Jansen, geboren op 02-11-2015" in body
    assert "Code: Handle with Care" in body
    assert "Kees" not in body and "09-01-2013" not in body
    assert body.rstrip().endswith("persoonsgegevens.")
    assert "Leerplicht Maastricht-Heuvelland" in body


def test_one_child_is_addressed_in_the_singular(templates: Templates) -> None:
    _, body = templates.render_notice(Delivery(HEUVEL, (KEES,)), SENDER)
    assert "deze leerling van uw school" in body
    assert "- Kees Jansen, geboren op 09-01-2013" in body
    assert "Jan Jansen" not in body and "Piet Jansen" not in body
    assert "VT-2024-0001" not in body, "the Veilig Thuis reference is not shared with schools"


# --- the envelope -------------------------------------------------------------------------


def test_the_outer_message_is_pgp_mime(templates: Templates) -> None:
    outer, _ = notice_for(templates, Delivery(MAASBRUG, (JAN, PIET)))
    message = parsed(outer)
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    parts = list(message.iter_parts())
    assert len(parts) == 2
    assert parts[0].get_content_type() == "application/pgp-encrypted"
    control = parts[0].get_payload(decode=True)
    assert isinstance(control, bytes) and control.strip() == b"Version: 1"
    assert parts[1].get_content_type() == "application/octet-stream"
    assert parts[1].get_payload(decode=True) == ARMORED


def test_the_outer_headers_carry_no_child_data(templates: Templates) -> None:
    outer, _ = notice_for(templates, Delivery(MAASBRUG, (JAN, PIET)))
    message = parsed(outer)
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    for part in message.iter_parts():
        headers += "\n" + "\n".join(f"{name}: {value}" for name, value in part.items())
    for value in PERSONAL:
        assert value not in headers, value
    assert "Kindcentrum De Maasbrug" not in headers, "not even the school name is outside the encryption"
    assert message["Subject"] == "Bericht van Leerplicht"
    assert [address.addr_spec for address in message["To"].addresses] == ["hwc@maasbrug.example.nl",
                                                                         "ib@maasbrug.example.nl"]
    assert message["From"].addresses[0].addr_spec == "leerplicht@maastricht.example.nl"
    assert message["Message-ID"] == "<hwc.test@maastricht.example.nl>"
    head = outer.split(b"\r\n\r\n", 1)[0]
    for value in PERSONAL:
        assert value.encode() not in head, value
    assert b"Jan Jansen" not in outer


def test_the_inner_entity_has_the_real_subject_as_a_protected_header(templates: Templates) -> None:
    _, inner = notice_for(templates, Delivery(MAASBRUG, (JAN,)))
    assert inner.get_content_type() == "text/plain"
    assert inner.get_param("protected-headers") == "v1"
    assert inner.get_param("hp") == "cipher"
    assert inner["Subject"] == "Handle with Care-signaal voor Kindcentrum De Maasbrug"
    assert inner["HP-Outer"] == "Subject: Bericht van Leerplicht"
    assert inner["Message-ID"] == "<hwc.test@maastricht.example.nl>"
    body = inner.get_content()
    assert "- Jan Jansen, geboren op 14-03-2017" in body
    assert "vóór de volgende schooldag" in body


def test_the_notice_lists_every_contact_and_key(templates: Templates) -> None:
    notice = compose_notice(Delivery(MAASBRUG, (JAN,)), SENDER, templates, message_id="<a@b.nl>", now=NOW)
    assert notice.recipients == ("hwc@maasbrug.example.nl", "ib@maasbrug.example.nl")
    assert notice.fingerprints == ("3333333333333333333333333333333333333333",
                                   "4444444444444444444444444444444444444444")


# --- Message-IDs --------------------------------------------------------------------------


def test_the_outgoing_message_id_is_stable_per_source_and_school() -> None:
    def message_id(key: bytes, source: str, school: str) -> str:
        return outgoing_message_id(key, source, DeliveryKey(school), "maastricht.example.nl")

    first = message_id(b"sleutel-1", "INBOX:1700000000:42", "34CD00")
    assert message_id(b"sleutel-1", "INBOX:1700000000:42", "34CD00") == first
    assert first.startswith("<hwc.") and first.endswith("@maastricht.example.nl>")
    assert message_id(b"sleutel-1", "INBOX:1700000000:42", "56EF00") != first
    assert message_id(b"sleutel-2", "INBOX:1700000000:42", "34CD00") != first
    assert message_id(b"sleutel-1", "INBOX:1700000000:43", "34CD00") != first


# --- broken templates ---------------------------------------------------------------------


def copy_templates(target: Path) -> Path:
    target.mkdir()
    for source in TEMPLATES.iterdir():
        (target / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def test_a_template_with_a_syntax_error_fails_at_load(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path / "templates")
    body = directory / "school_notice.txt.j2"
    body.write_text(body.read_text(encoding="utf-8").replace("{% endfor %}", "{% endfro %}"), encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        Templates(directory)
    message = str(caught.value)
    assert str(directory) in message
    assert "TemplateSyntaxError" in message
    assert "child.name" not in message and "geboren op" not in message


def test_a_missing_template_fails_at_load(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path / "templates")
    (directory / "school_notice.subject.j2").unlink()
    with pytest.raises(TemplateError, match="cannot be loaded"):
        Templates(directory)


@pytest.mark.parametrize("typo", ["{{ child.adres }}", "{{ {}[child.name] }}"])
def test_a_render_error_names_no_child_data(tmp_path: Path, typo: str) -> None:
    """A field that does not exist fails loudly (StrictUndefined), and the error says nothing about the child, also
    when Jinja's own message would hold the value it looked up."""
    directory = copy_templates(tmp_path / "templates")
    (directory / "school_notice.txt.j2").write_text("{% for child in children %}{{ child.name }} "
                                                    f"{typo}{{% endfor %}}\n", encoding="utf-8")
    templates = Templates(directory)
    with pytest.raises(TemplateError) as caught:
        templates.render_notice(Delivery(MAASBRUG, (JAN,)), SENDER)
    message = str(caught.value)
    assert "failed to render" in message
    for value in PERSONAL:
        assert value not in message, value


def test_the_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path / "templates")
    (directory / "school_notice.subject.j2").write_text("{{ sender.__class__.__mro__ }}", encoding="utf-8")
    templates = Templates(directory)
    with pytest.raises(TemplateError, match="SecurityError"):
        templates.render_notice(Delivery(MAASBRUG, (JAN,)), SENDER)
