"""Reading an officer's reply: only their own lines instruct, the reference comes from the signed text."""

import pytest

from hwc_mailer.domain.reasons import Reason
from hwc_mailer.domain.replies import Instruction, Refusal, by_child, own_text, read_reply

ALERT = """Beste collega,

hwc-mailer kon een Handle with Care-signaal niet veilig afhandelen.
  in de map "HWC-Handmatig" van de Leerplicht-mailbox. Referentie: HWC-7K2M9P.
Of handel het af door te antwoorden:
      School: <BRIN-code>
      Verwijderen
"""
THUNDERBIRD = "Op 07-12-2026 om 23:41 schreef Leerplicht Maastricht-Heuvelland:\n" + "".join(
    f"> {line}\n" for line in ALERT.splitlines())
OUTLOOK = ("-----Oorspronkelijk bericht-----\nVan: Leerplicht <leerplicht@maastricht.example.nl>\n"
           "Verzonden: maandag 7 december 2026 23:41\nOnderwerp: [hwc-mailer] Signaal\n\n" + ALERT)
OUTLOOK_ENGLISH = ("________________________________\nFrom: Leerplicht <leerplicht@maastricht.example.nl>\n"
                   "Sent: Monday, December 7, 2026 11:41 PM\n\n" + ALERT)


@pytest.mark.parametrize("quoted", [THUNDERBIRD, OUTLOOK, OUTLOOK_ENGLISH, ALERT],
                         ids=["thunderbird", "outlook", "outlook-english", "unmarked"])
def test_a_school_line_above_the_quoted_alert_names_the_school(quoted: str) -> None:
    assert read_reply(f"School: 12ab00\n\nGroet,\nJan\n\n{quoted}") == Instruction("HWC-7K2M9P", {None: "12AB00"})


@pytest.mark.parametrize("quoted", [THUNDERBIRD, OUTLOOK, ALERT], ids=["thunderbird", "outlook", "unmarked"])
def test_the_quoted_examples_are_never_instructions(quoted: str) -> None:
    assert read_reply(f"Dank je.\n\n{quoted}") == Refusal(Reason.REPLY_NO_INSTRUCTION, "", "HWC-7K2M9P")


def test_children_by_number_and_discard() -> None:
    assert read_reply(f"Kind 1: School: 12AB00\nkind 2 school: 56EF00.\n{THUNDERBIRD}") == Instruction(
        "HWC-7K2M9P", {1: "12AB00", 2: "56EF00"})
    assert read_reply(f"Verwijderen.\n{THUNDERBIRD}") == Instruction("HWC-7K2M9P", discard=True)
    assert by_child(Instruction("HWC-7K2M9P", {None: "12AB00"}), 1) == {1: "12AB00"}
    assert by_child(Instruction("HWC-7K2M9P", {2: "12AB00"}), 3) == {2: "12AB00"}


@pytest.mark.parametrize(("text", "reason"), [
    (f"Verwijderen\nSchool: 12AB00\n{THUNDERBIRD}", Reason.REPLY_NO_INSTRUCTION),
    (f"School: De Regenboog\n{THUNDERBIRD}", Reason.REPLY_UNKNOWN_CODE),
    (f"Kind 1: School: 12AB00\nKind 1: School: 56EF00\n{THUNDERBIRD}", Reason.REPLY_UNCLEAR_CHILD),
    (f"School: 12AB00\nKind 2: School: 56EF00\n{THUNDERBIRD}", Reason.REPLY_UNCLEAR_CHILD),
    ("School: 12AB00", Reason.REPLY_NO_REFERENCE),
    ("School: 12AB00\nHWC-7K2M9P en HWC-AAAAAA", Reason.REPLY_NO_REFERENCE),
], ids=["both", "a-name", "two-schools-one-child", "bare-and-numbered", "no-reference", "two-references"])
def test_what_cannot_be_carried_out_is_refused(text: str, reason: Reason) -> None:
    refused = read_reply(text)
    assert isinstance(refused, Refusal) and refused.reason is reason


def test_the_reference_typed_wins_over_the_quoted_one_and_the_header_must_agree() -> None:
    digest = "Beste collega,\n  - HWC-AAAAAA: ...\n  - HWC-BBBBBB: ...\n"
    assert read_reply(f"HWC-bbbbbb\nSchool: 12AB00\n> {digest}") == Instruction("HWC-BBBBBB", {None: "12AB00"})
    threaded = ["<1.2.HWC-7K2M9P@maastricht.example.nl>"]
    assert read_reply(f"School: 12AB00\n{THUNDERBIRD}", threaded) == Instruction("HWC-7K2M9P", {None: "12AB00"})
    refused = read_reply(f"School: 12AB00\n{THUNDERBIRD}", ["<1.2.HWC-AAAAAA@maastricht.example.nl>"])
    assert isinstance(refused, Refusal) and refused.reason is Reason.REPLY_NO_REFERENCE


def test_a_child_the_signal_does_not_have_or_a_bare_line_for_several() -> None:
    assert by_child(Instruction("HWC-7K2M9P", {3: "12AB00"}), 2) == Refusal(
        Reason.REPLY_UNCLEAR_CHILD, "het signaal noemt 2 kind(eren), geen kind 3")
    refused = by_child(Instruction("HWC-7K2M9P", {None: "12AB00"}), 2)
    assert isinstance(refused, Refusal) and refused.reason is Reason.REPLY_UNCLEAR_CHILD


def test_own_text_ends_at_the_first_quote() -> None:
    assert own_text("School: 12AB00\n\nOp maandag schreef x:\n> School: 56EF00") == ["School: 12AB00", ""]
    assert own_text("On Mon, Dec 7, 2026 at 23:41 Leerplicht wrote:\n> x") == []
