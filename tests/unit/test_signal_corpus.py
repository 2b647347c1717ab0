"""Every child accounted for: the corpus of signals as people write them, and properties both ways.

A delivered signal is a promise that the right school knows about every child written; a held
one is a promise that a person hears of it. Each corpus case says which of the two, exactly.
"""

from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwc_mailer.domain.html import split_html
from hwc_mailer.domain.outcomes import Held
from hwc_mailer.domain.reasons import Disposition, Reason
from hwc_mailer.domain.routing import Delivery, route
from hwc_mailer.domain.signal import Signal, parse_signal
from hwc_mailer.inbound.mime import readable_text
from hwc_mailer.settings.rules import Rules, School, load_rules
from lab.corpus import CASES, Case

TODAY = date(2026, 12, 1)
SAMPLE = Path(__file__).resolve().parents[2] / "rules" / "maastricht-heuvelland.yaml"
RULES = load_rules(SAMPLE)


def outcome(text: str, set_apart: str = "") -> tuple[Delivery[School], ...] | Held:
    signal = parse_signal(text, today=TODAY, set_apart=set_apart)
    if isinstance(signal, Held):
        return signal
    routed = route(signal, RULES)
    return routed if isinstance(routed, Held) else routed.deliveries


def of_case(case: Case) -> tuple[Delivery[School], ...] | Held:
    if case.html:
        html = split_html(case.text)
        return outcome(html.visible, html.set_apart)
    return outcome(case.text)


def received(result: tuple[Delivery[School], ...] | Held) -> dict[str, tuple[str, ...]]:
    assert isinstance(result, tuple), result
    return {delivery.school.code: tuple(child.name for child in delivery.children) for delivery in result}


def test_the_corpus_is_large_and_mixed() -> None:
    delivered = [case for case in CASES.values() if case.held is None]
    realistic = [case for case in delivered if "groet" in case.text.lower() or case.html]
    assert len(CASES) >= 60
    assert len(realistic) >= 10
    assert {case.held for case in CASES.values()} >= {Reason.UNPARSED_LINE, Reason.CORRECTION, Reason.QUOTED_SIGNAL,
                                                       Reason.OTHER_REGION, Reason.MUNICIPALITY_MISMATCH}


@pytest.mark.parametrize("name", list(CASES))
def test_each_signal_is_delivered_exactly_or_held_with_its_reason(name: str) -> None:
    case = CASES[name]
    result = of_case(case)
    if case.held is None:
        assert received(result) == case.delivered
    else:
        assert isinstance(result, Held), received(result)
        assert result.reason is case.held


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.held is Reason.UNPARSED_LINE])
def test_a_held_line_is_named_by_its_number_only(name: str) -> None:
    result = of_case(CASES[name])
    assert isinstance(result, Held) and result.detail.startswith("regel ")
    assert result.detail.removeprefix("regel ").isdigit()
    assert "Testkind" not in repr(result)


def test_a_forwarded_message_part_is_never_read_as_a_live_child() -> None:
    """message/rfc822, attached or inline, even as the whole signed content."""
    forwarded = EmailMessage()
    forwarded["Subject"] = "Melding"
    forwarded.set_content("Handle with Care\n\nNaam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n")
    for disposition in ("inline", "attachment"):
        outer = EmailMessage()
        outer.set_content("Handle with Care\n\nNaam: Sara Testkind\nGeboortedatum: 2 mei 2013\nSchool: 56EF00\n")
        outer.add_attachment(forwarded, disposition=disposition)
        readable = readable_text(outer)
        assert readable is not None and "Tim" not in readable.text
        result = outcome(readable.text, readable.set_apart)
        assert isinstance(result, Held) and result.reason is Reason.QUOTED_SIGNAL
    whole = EmailMessage()
    whole.set_content(forwarded)
    readable = readable_text(whole)
    assert readable is not None and readable.text == ""
    result = outcome(readable.text, readable.set_apart)
    assert isinstance(result, Held) and result.reason is Reason.QUOTED_SIGNAL


def test_rules_refuse_school_names_with_invisible_characters(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SAMPLE.read_text().replace("name: Basisschool Het Geuldal", "name: Basisschool Het\u200bGeuldal"))
    with pytest.raises(Exception, match="invisible character"):
        load_rules(rules)


# --- properties both ways ------------------------------------------------------------------------------------

SCHOOLS: list[tuple[str, str]] = [(school.code, written) for school in RULES.schools
                                  for written in (school.code, school.name) if school.code != "12AB01"]
NAMES = [f"{first} Testkind" for first in ("Tim", "Sara", "Sam", "Noor", "Daan", "Lotte", "Finn", "Evi")]
NAME_LABELS = ["Naam", "naam", "NAAM", "Naam kind", "Naam broertje", "Naam zusje", "Naam (2)", "Volledige naam"]
BIRTH_LABELS = ["Geboortedatum", "Geboren", "Geb. datum", "Geboortedatum kind", "geboren op"]
SCHOOL_LABELS = ["School", "school", "Naam school", "Basisschool", "School kind"]
COLONS = [":", " :", "\uff1a", ":\u200b"]
MARKERS = ["", "- ", "\u2022 ", "* ", "1. "]
DATES = [(date(2017, 3, 14), "14-03-2017"), (date(2013, 5, 2), "2 mei 2013"), (date(2019, 9, 1), "1/9/2019"),
         (date(2015, 12, 24), "2015-12-24"), (date(2011, 1, 31), "31 jan. 2011")]


@st.composite
def child_block(draw: st.DrawFn, name: str) -> tuple[str, str]:
    """One child in one of the forms people write; returns (the school code, the text)."""
    code, school = draw(st.sampled_from(SCHOOLS))
    _, written_date = draw(st.sampled_from(DATES))
    colon, marker = draw(st.sampled_from(COLONS)), draw(st.sampled_from(MARKERS))
    bold = draw(st.booleans())
    wrap = (lambda label: f"**{label}**") if bold else (lambda label: label)
    lines = [f"{marker}{wrap(draw(st.sampled_from(NAME_LABELS)))}{colon} {name}",
             f"{marker}{wrap(draw(st.sampled_from(BIRTH_LABELS)))}{colon} {written_date}",
             f"{marker}{wrap(draw(st.sampled_from(SCHOOL_LABELS)))}{colon} {school}"]
    return code, "\n".join(lines)


GREETINGS = ["Beste collega,", "Goedemorgen,", "Hoi Leerplicht,", "Maastricht, 1 december 2026",
             "Geachte heer/mevrouw,", "Naar aanleiding van ons telefoongesprek van 30-11-2026:", "Hierbij de gegevens."]
SIGNATURES = ["Met vriendelijke groet,", "Groet,", "Mvg,", "A. de Vries", "Veilig Thuis Zuid-Limburg",
              "T 088 - 000 00 00", "M 06-12345678", "Postbus 1234, 6201 AA Maastricht", "KvK 12345678",
              "a.devries@veiligthuis-zl.example.nl", "Dit bericht is uitsluitend bestemd voor de geadresseerde.",
              "Bereikbaar ma-do 8:30-17:00", "-- ", "www.veiligthuis-zl.example.nl",
              "Aan dit bericht kunnen geen rechten worden ontleend."]


@st.composite
def signal_text(draw: st.DrawFn) -> tuple[str, dict[str, set[str]]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    blocks: list[str] = []
    expected: dict[str, set[str]] = {}
    for name in names:
        code, block = draw(child_block(name))
        blocks.append(block)
        expected.setdefault(code, set()).add(name)
    greeting = draw(st.lists(st.sampled_from(GREETINGS), max_size=3))
    signature = draw(st.lists(st.sampled_from(SIGNATURES), max_size=8))
    separator = draw(st.sampled_from(["\n\n", "\n", "\n\n\n"]))
    rule = draw(st.sampled_from(["", "----------------", "________________", "==========", "--"]))
    text = "\n".join([*greeting, "", "Handle with Care", rule, "", separator.join(blocks), "",
                      "Met vriendelijke groet,", *signature])
    return text, expected


@settings(max_examples=300, deadline=None)
@given(signal_text())
def test_a_well_formed_signal_among_greetings_and_signatures_is_delivered(drawn: tuple[str, dict[str, set[str]]]
                                                                          ) -> None:
    text, expected = drawn
    result = outcome(text)
    assert {code: set(names) for code, names in received(result).items()} == expected


LOSSY_FORMS = ["{name}, {date}", "{name} (geboren {date})", "Broertje {name}, {date}", "{name}\n{date}",
               "Voornaam: {first}\nAchternaam: Testkind\nGeboortedatum: {date}", "Kind: {name} {date}",
               "Naam: {name}\nGeboortedatum: {date}\nRoepnaam: {first}", "> Naam: {name}\n> Geboortedatum: {date}",
               "{name} geboren op {date} zit ook op die school", "Zoon {name} zit op dezelfde school",
               "Ook halfzusje {name} (groep 3)", "{name}, {dashed}", "Kenmerk: VT-1 (ook zusje {name}, {date})",
               "PS: ook broertje {name} ({date})"]


@settings(max_examples=300, deadline=None)
@given(signal_text(), st.sampled_from(NAMES), st.sampled_from(LOSSY_FORMS), st.sampled_from(DATES),
       st.integers(min_value=0, max_value=40))
def test_every_child_written_is_delivered_to_its_school_or_the_signal_is_held(
        drawn: tuple[str, dict[str, set[str]]], extra: str, form: str, born: tuple[date, str], where: int) -> None:
    """A child written in a form the parser may not read, anywhere in the body: never silently dropped."""
    text, expected = drawn
    lines = text.split("\n")
    body_end = lines.index("Met vriendelijke groet,")
    position = len(lines) if form.startswith("PS:") else where % (body_end + 1)
    sibling = form.format(name=extra, first=extra.split()[0], date=born[1],
                          dashed=born[0].strftime("%d\u2013%m\u2013%Y"))
    result = outcome("\n".join([*lines[:position], sibling, *lines[position:]]))
    if isinstance(result, Held):
        assert result.disposition is Disposition.MANUAL
        return
    delivered = {code: set(names) for code, names in received(result).items()}
    assert any(extra in names for names in delivered.values()), "a child written was dropped"
    for code, names in expected.items():
        assert names <= delivered.get(code, set()), "a child lost its school"


def test_the_sample_rules_know_the_corpus_schools() -> None:
    assert isinstance(RULES, Rules)
    assert {"12AB00", "56EF00"} <= {school.code for school in RULES.schools}
    assert isinstance(parse_signal("Handle with Care\n" + CASES["plain-two-schools"].text, today=TODAY), Signal)


# --- what the mail carries besides its text ------------------------------------------------------------------

TIM_TEXT = "Handle with Care\n\nNaam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n"
SARA_TEXT = "Handle with Care\n\nNaam: Sara Testkind\nGeboortedatum: 2 mei 2013\nSchool: 56EF00\n"


def test_other_forwarded_message_kinds_are_set_apart_too() -> None:
    """message/global and message/partial, like message/rfc822, never give live children."""
    for subtype in ("global", "partial"):
        outer = EmailMessage()
        outer.set_content(SARA_TEXT)
        outer.add_attachment(TIM_TEXT.encode(), maintype="message", subtype=subtype, disposition="inline")
        readable = readable_text(outer)
        assert readable is not None and "Tim" not in readable.text
        result = outcome(readable.text, readable.set_apart)
        assert isinstance(result, Held) and result.reason is Reason.QUOTED_SIGNAL, subtype


def test_an_attached_or_named_text_part_is_never_read_as_live_children() -> None:
    for disposition in ("attachment", "inline"):
        outer = EmailMessage()
        outer.set_content(SARA_TEXT)
        outer.add_attachment(TIM_TEXT, subtype="plain", disposition=disposition, filename="oud-signaal.txt")
        readable = readable_text(outer)
        assert readable is not None and "Tim" not in readable.text
        result = outcome(readable.text, readable.set_apart)
        assert isinstance(result, Held) and result.reason is Reason.QUOTED_SIGNAL, disposition


def test_an_attached_document_is_a_doubt_and_a_logo_is_not() -> None:
    outer = EmailMessage()
    outer.set_content(SARA_TEXT)
    outer.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="signaal.pdf")
    readable = readable_text(outer)
    assert readable is not None and readable.doubt is Reason.UNREAD_ATTACHMENT
    logo = EmailMessage()
    logo.set_content(SARA_TEXT)
    logo.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="image001.png", disposition="inline")
    readable = readable_text(logo)
    assert readable is not None and readable.doubt is None and "Sara Testkind" in readable.text


def test_the_version_of_an_alternative_that_names_children_is_read() -> None:
    table = EmailMessage()
    table.set_content("Handle with Care\n\nNaam Tim Testkind\n")  # Outlook's plain rendering of a table
    table.add_alternative("<p>Handle with Care</p><table><tr><td>Naam</td><td>Tim Testkind</td></tr><tr><td>"
                          "Geboortedatum</td><td>14-03-2017</td></tr><tr><td>School</td><td>12AB00</td></tr></table>",
                          subtype="html")
    readable = readable_text(table)
    assert readable is not None and readable.doubt is None
    assert received(outcome(readable.text, readable.set_apart)) == {"12AB00": ("Tim Testkind",)}


def test_two_versions_naming_different_children_go_to_a_person() -> None:
    differ = EmailMessage()
    differ.set_content(TIM_TEXT)
    differ.add_alternative(f"<pre>{TIM_TEXT}\nNaam: Sara Testkind\nGeboortedatum: 2 mei 2013\n</pre>", subtype="html")
    readable = readable_text(differ)
    assert readable is not None and readable.doubt is Reason.VERSIONS_DIFFER


def test_a_correction_in_the_subject_holds_the_signal() -> None:
    message = EmailMessage()
    message["Subject"] = "Correctie HWC-signaal"
    message.set_content(TIM_TEXT)
    readable = readable_text(message)
    assert readable is not None and readable.subject == "Correctie HWC-signaal"
    signal = parse_signal(readable.text, today=TODAY, subject=readable.subject)
    assert signal == Held(Reason.CORRECTION)
