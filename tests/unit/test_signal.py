"""Tests for reading Handle with Care signals as Veilig Thuis staff actually type them.

All names, schools and references are invented.
"""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwc_mailer.domain.html import text_from_html
from hwc_mailer.domain.outcomes import Held
from hwc_mailer.domain.reasons import Disposition, Reason
from hwc_mailer.domain.signal import (
    AgeRange,
    Child,
    Signal,
    parse_dutch_date,
    parse_signal,
)

TODAY = date(2024, 9, 16)

SIGNATURE = (
    "Met vriendelijke groet,\n"
    "A. de Vries\n"
    "Veilig Thuis Zuid-Limburg\n"
    "Tel: 043-0000000\n"
    "E-mail: a.devries@veiligthuis.example.nl\n"
)


def signal(body: str) -> str:
    """A realistic mail around the data: greeting, HWC phrase, data, signature."""
    return f"Beste collega,\n\nHierbij een Handle with Care melding.\n\n{body}\n\n{SIGNATURE}"


def children(text: str) -> tuple[Child, ...]:
    result = parse_signal(text, today=TODAY)
    assert isinstance(result, Signal), result
    return result.children


# --- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("14-03-2017", date(2017, 3, 14)),
        ("4-3-2017", date(2017, 3, 4)),
        ("04-03-2017", date(2017, 3, 4)),
        ("14/03/2017", date(2017, 3, 14)),
        ("14.03.2017", date(2017, 3, 14)),
        ("2017-03-14", date(2017, 3, 14)),
        ("14 maart 2017", date(2017, 3, 14)),
        ("4 mrt 2017", date(2017, 3, 4)),
        ("4 mrt. 2017", date(2017, 3, 4)),
        ("4 maa 2017", date(2017, 3, 4)),
        ("14 MAART 2017", date(2017, 3, 14)),
        ("  14\u00a0Maart   2017 ", date(2017, 3, 14)),
        ("29-02-2016", date(2016, 2, 29)),
    ],
)
def test_parse_dutch_date_accepts_common_forms(written: str, expected: date) -> None:
    assert parse_dutch_date(written) == expected


@pytest.mark.parametrize(
    ("month_word", "month"),
    [
        ("januari", 1), ("jan", 1), ("februari", 2), ("feb", 2), ("maart", 3), ("mrt", 3),
        ("april", 4), ("apr", 4), ("mei", 5), ("juni", 6), ("jun", 6), ("juli", 7), ("jul", 7),
        ("augustus", 8), ("aug", 8), ("september", 9), ("sep", 9), ("sept", 9),
        ("oktober", 10), ("okt", 10), ("november", 11), ("nov", 11), ("december", 12),
        ("dec", 12), ("Sept.", 9), ("OKT.", 10),
    ],
)  # fmt: skip
def test_parse_dutch_date_knows_every_month_name(month_word: str, month: int) -> None:
    assert parse_dutch_date(f"9 {month_word} 2015") == date(2015, month, 9)


@pytest.mark.parametrize(
    "written",
    [
        "14-03-17",  # two-digit year: which century is a guess
        "14 maart 17",
        "31-02-2017",  # impossible
        "29-02-2017",  # not a leap year
        "14-13-2017",  # US order 03/14 would land here too
        "00-03-2017",
        "14-03-2017 (groep 3)",  # trailing junk
        "ca. 14-03-2017",
        "14-03/2017",  # mixed separators
        "2017/03/14",
        "14 march 2017",  # English month
        "14 maartt 2017",
        "14maart2017",
        "\u0661\u0664-\u0660\u0663-\u0662\u0660\u0661\u0667",  # Arabic-Indic digits
        "",
    ],
)
def test_parse_dutch_date_rejects_doubtful_input(written: str) -> None:
    assert parse_dutch_date(written) is None


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_every_calendar_date_reads_back_in_every_numeric_form(day: date) -> None:
    forms = [
        f"{day.day}-{day.month}-{day.year}",
        f"{day.day:02}/{day.month:02}/{day.year}",
        f"{day.day:02}.{day.month:02}.{day.year}",
        day.isoformat(),
    ]
    assert {parse_dutch_date(form) for form in forms} == {day}


# --- signals that work -----------------------------------------------------------------


def test_single_child_with_all_fields() -> None:
    text = signal(
        "Naam: Noor Janssen\nGeboortedatum: 14-03-2017\nSchool: 12AB00\nGemeente: Maastricht\nKenmerk: VT-2024-0815"
    )
    assert children(text) == (
        Child(
            name="Noor Janssen",
            birth_date=date(2017, 3, 14),
            school="12AB00",
            municipality="Maastricht",
            reference="VT-2024-0815",
        ),
    )


def test_optional_fields_may_be_missing_and_the_signature_is_not_data() -> None:
    (child,) = children(signal("Naam: Noor Janssen\nGeboortedatum: 14-03-2017"))
    assert child == Child("Noor Janssen", date(2017, 3, 14), school=None, municipality=None, reference=None)


def test_two_siblings_at_the_same_school() -> None:
    text = signal(
        "Naam: Daan Smeets\nGeboortedatum: 2-5-2015\nSchool: Basisschool De Regenboog\n\n"
        "Naam: Lotte Smeets\nGeboortedatum: 21-11-2017\nSchool: Basisschool De Regenboog"
    )
    assert [(c.name, c.birth_date, c.school) for c in children(text)] == [
        ("Daan Smeets", date(2015, 5, 2), "Basisschool De Regenboog"),
        ("Lotte Smeets", date(2017, 11, 21), "Basisschool De Regenboog"),
    ]


def test_three_siblings_at_different_schools_share_the_defaults() -> None:
    text = signal(
        "Gemeente: Heerlen\n"
        "Kenmerk: VT-2024-1234\n\n"
        "Naam: Sem Hermans\nGeboortedatum: 3 januari 2009\nSchool: 34CD\n\n"
        "Naam: Fleur Hermans\nGeboortedatum: 17 okt 2013\nSchool: 56EF01\n\n"
        "Naam: Mila Hermans\nGeboortedatum: 2020-06-30\nSchool: Kindcentrum Het Anker"
    )
    assert [(c.name, c.school, c.municipality, c.reference) for c in children(text)] == [
        ("Sem Hermans", "34CD", "Heerlen", "VT-2024-1234"),
        ("Fleur Hermans", "56EF01", "Heerlen", "VT-2024-1234"),
        ("Mila Hermans", "Kindcentrum Het Anker", "Heerlen", "VT-2024-1234"),
    ]


def test_a_childs_own_gemeente_and_kenmerk_win_over_the_defaults() -> None:
    text = signal(
        "Gemeente: Kerkrade\nKenmerk: VT-1\n\n"
        "Naam: Sem Hermans\nGeboortedatum: 3-1-2009\nGemeente: Landgraaf\nKenmerk: VT-2\n\n"
        "Naam: Fleur Hermans\nGeboortedatum: 17-10-2013"
    )
    assert [(c.municipality, c.reference) for c in children(text)] == [
        ("Landgraaf", "VT-2"),
        ("Kerkrade", "VT-1"),
    ]


def test_value_on_the_line_below_its_label() -> None:
    text = signal(
        "Naam:\nNoor Janssen\nGeboortedatum:\n\n14 maart 2017\nSchool:\n   12AB\nGemeente:\nMaastricht"
    )
    assert children(text) == (
        Child(
            name="Noor Janssen",
            birth_date=date(2017, 3, 14),
            school="12AB",
            municipality="Maastricht",
            reference=None,
        ),
    )


def test_empty_optional_label_does_not_swallow_the_next_label() -> None:
    (child,) = children(signal("Naam: Noor Janssen\nSchool:\nGeboortedatum: 14-03-2017"))
    assert (child.school, child.birth_date) == (None, date(2017, 3, 14))


@pytest.mark.parametrize(
    "naam_line",
    [
        "NAAM: Noor Janssen",
        "naam : Noor Janssen",
        "Naam:Noor Janssen",
        "   Naam:   Noor    Janssen   ",
        "- Naam: Noor Janssen",
        "-Naam: Noor Janssen",
        "* Naam: Noor Janssen",
        "\u2022 Naam: Noor Janssen",
        "\u2022\tNaam:\tNoor Janssen",
        "Naam:\u00a0Noor\u00a0Janssen",
        "*Naam:* Noor Janssen",  # Thunderbird's plain text for bold
        "*Naam*: Noor Janssen",
    ],
)
def test_label_variations(naam_line: str) -> None:
    (child,) = children(signal(f"{naam_line}\nGeboortedatum: 14-03-2017"))
    assert child.name == "Noor Janssen"


@pytest.mark.parametrize(
    "phrase",
    ["Handle with Care", "handle with care", "HANDLE  WITH\nCARE", "Handle-with-Care", "Handle\u00a0with\u00a0Care"],
)
def test_hwc_phrase_variations(phrase: str) -> None:
    text = f"{phrase}\nNaam: Noor Janssen\nGeboortedatum: 14-03-2017"
    assert len(children(text)) == 1


@pytest.mark.parametrize(
    ("birth_date", "ages", "allowed"),
    [
        (date(2022, 9, 16), AgeRange(), True),  # second birthday today
        (date(2022, 9, 17), AgeRange(), False),  # second birthday tomorrow
        (date(2003, 9, 17), AgeRange(), True),  # 20, turns 21 tomorrow
        (date(2003, 9, 16), AgeRange(), False),  # 21 today
        (TODAY, AgeRange(minimum=0), True),
        (TODAY + timedelta(days=1), AgeRange(minimum=0), False),  # not born yet
        (date(2014, 1, 1), AgeRange(minimum=4, maximum=12), True),
        (date(2010, 1, 1), AgeRange(minimum=4, maximum=12), False),
    ],
)
def test_age_range_is_inclusive_and_future_dates_are_refused(
    birth_date: date, ages: AgeRange, allowed: bool
) -> None:
    text = signal(f"Naam: Noor Janssen\nGeboortedatum: {birth_date:%d-%m-%Y}")
    result = parse_signal(text, today=TODAY, ages=ages)
    if allowed:
        assert isinstance(result, Signal)
    else:
        assert result == Held(Reason.AGE_OUT_OF_RANGE, child=1)


def test_age_range_must_not_be_empty() -> None:
    with pytest.raises(ValueError):
        AgeRange(minimum=12, maximum=4)


# --- HTML ------------------------------------------------------------------------------

OUTLOOK_HTML = """\
<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv=Content-Type content="text/html; charset=utf-8">
<style><!-- p.MsoNormal {margin:0cm; font-family:"Calibri"} Naam: Verstopt --></style>
<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head><body lang=NL link="#0563C1"><div class=WordSection1>
<p class=MsoNormal>Beste collega,<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>Hierbij een <b>Handle with
Care</b> melding.<o:p></o:p></p>
<p class=MsoNormal><b>Naam:</b>&nbsp;Sanne&nbsp;Op&nbsp;de&nbsp;Kamp<o:p></o:p></p>
<p class=MsoNormal><b>Geboortedatum:</b> 14&nbsp;maart 2017<o:p></o:p></p>
<p class=MsoNormal><b>School</b>: <span style='color:#1F497D'>12AB00</span><o:p></o:p></p>
<p class=MsoListParagraph style='text-indent:-18.0pt;mso-list:l0 level1 lfo1'><![if !supportLists]>\
<span style='font-family:Symbol'>&middot;<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp;\
</span></span><![endif]><b>Naam:</b> Thijs Op de Kamp<o:p></o:p></p>
<p class=MsoNormal><b>Geboortedatum:</b><br>4-3-2015<o:p></o:p></p>
<p class=MsoNormal><b>School:</b> Basisschool St.&nbsp;Jozef &amp; Maria<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>Met vriendelijke groet,<o:p></o:p></p>
<p class=MsoNormal>A. de Vries<br>Veilig Thuis Zuid-Limburg<br>Tel: 043-0000000<o:p></o:p></p>
<script>document.write("Naam: Script")</script>
</div></body></html>
"""


def test_outlook_html_body_through_text_from_html() -> None:
    text = text_from_html(OUTLOOK_HTML)
    assert "Naam: Sanne Op de Kamp" in text.splitlines()
    assert [(c.name, c.birth_date, c.school) for c in children(text)] == [
        ("Sanne Op de Kamp", date(2017, 3, 14), "12AB00"),
        ("Thijs Op de Kamp", date(2015, 3, 4), "Basisschool St. Jozef & Maria"),
    ]


def test_text_from_html_minimal_outlook_paragraph() -> None:
    assert text_from_html("<p class=MsoNormal><b>Naam:</b>&nbsp;Jan</p>") == "Naam: Jan"


def test_text_from_html_table_cells_become_one_line_per_row() -> None:
    html = (
        "<table><tr><td><b>Naam:</b></td><td>Noor Janssen</td></tr>"
        "<tr><th>Geboortedatum:</th><td>14-03-2017</td></tr></table>"
    )
    assert text_from_html(html) == "Naam:\tNoor Janssen\nGeboortedatum:\t14-03-2017"
    assert children(signal(text_from_html(html)))[0].name == "Noor Janssen"


def test_text_from_html_breaks_blocks_and_drops_script_and_style() -> None:
    html = (
        "<style>td {color: red}</style><h1>Handle with Care</h1><div>een</div>twee<br/>drie"
        "<ul><li>vier</li><li>vijf</li></ul><script>alert('zes')</script>zeven &lt;8&gt;"
    )
    assert text_from_html(html) == "Handle with Care\neen\ntwee\ndrie\nvier\nvijf\nzeven <8>"


def test_text_from_html_joins_source_line_breaks_inside_a_paragraph() -> None:
    assert text_from_html("<p>Naam:\r\n   Noor\n Janssen</p>") == "Naam: Noor Janssen"


# --- Held ------------------------------------------------------------------------------

INVALID_CASES = [
    pytest.param("Naam: Noor Janssen\nGeboortedatum: 14-03-2017", Held(Reason.NOT_HWC), id="not-hwc"),
    pytest.param(
        "Handle with\nNaam: Noor Janssen\nGeboortedatum: 14-03-2017", Held(Reason.NOT_HWC), id="half-phrase"
    ),
    pytest.param(signal("Er is vandaag een incident geweest."), Held(Reason.NO_CHILDREN), id="no-children"),
    pytest.param(signal("Naam kind: Noor Janssen"), Held(Reason.MISSING_BIRTH_DATE, child=1), id="relation-label"),
    pytest.param(
        signal("Naam:\nGeboortedatum: 14-03-2017"), Held(Reason.MISSING_NAME, child=1), id="missing-name"
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum: 14-03-2017\n\nNaam: Daan Janssen\nSchool: 12AB"),
        Held(Reason.MISSING_BIRTH_DATE, child=2),
        id="missing-birth-date",
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum:\nSchool: 12AB"),
        Held(Reason.MISSING_BIRTH_DATE, child=1),
        id="empty-birth-date",
    ),
    pytest.param(  # the value-below-label rule reads the greeting as the date: still refused
        signal("Naam: Noor Janssen\nGeboortedatum:\n"),
        Held(Reason.INVALID_DATE, child=1),
        id="empty-birth-date-before-signature",
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum: 31-02-2017"), Held(Reason.INVALID_DATE, child=1), id="invalid-date"
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum: 14-03-17"), Held(Reason.INVALID_DATE, child=1), id="two-digit-year"
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum: 14-03-2027"),
        Held(Reason.AGE_OUT_OF_RANGE, child=1),
        id="future-birth-date",
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum: 14-03-1990"),
        Held(Reason.AGE_OUT_OF_RANGE, child=1),
        id="too-old",
    ),
    pytest.param(
        signal(
            "Naam: Noor Janssen\nGeboortedatum: 14-03-2017\n\n"
            "Naam: Daan Janssen\nGeboortedatum: 2-5-2015\nSchool: 12AB\nschool : 34CD"
        ),
        Held(Reason.DUPLICATE_FIELD, child=2),
        id="duplicate-field",
    ),
    pytest.param(
        signal("Naam: Noor Janssen\nGeboortedatum: 14-03-2017\nGeboortedatum: 15-03-2017"),
        Held(Reason.DUPLICATE_FIELD, child=1),
        id="duplicate-birth-date",
    ),
    pytest.param(
        signal("Gemeente: Vaals\nGemeente: Gulpen-Wittem\nNaam: Noor Janssen\nGeboortedatum: 14-03-2017"),
        Held(Reason.DUPLICATE_FIELD),
        id="duplicate-default",
    ),
    pytest.param(
        signal("School: 12AB\nNaam: Noor Janssen\nGeboortedatum: 14-03-2017"),
        Held(Reason.FIELD_OUTSIDE_CHILD),
        id="school-before-naam",
    ),
    pytest.param(
        signal("Geboortedatum: 14-03-2017\nNaam: Noor Janssen"),
        Held(Reason.FIELD_OUTSIDE_CHILD),
        id="birth-date-before-naam",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INVALID_CASES)
def test_invalid_reasons(text: str, expected: Held) -> None:
    assert parse_signal(text, today=TODAY) == expected


def test_the_first_problem_in_document_order_is_reported() -> None:
    text = signal(
        "Naam: Noor Janssen\nGeboortedatum: 14-03-2017\n\n"
        "Naam: Daan Janssen\nGeboortedatum: 99-99-2015\n\n"
        "Naam:\nGeboortedatum: 1-1-2016"
    )
    assert parse_signal(text, today=TODAY) == Held(Reason.INVALID_DATE, child=2)


PERSONAL = ["Noor", "Janssen", "Daan", "14-03", "2017", "14", "03", "1990", "2027", "31-02", "Vaals", "12AB"]


@pytest.mark.parametrize(("text", "expected"), INVALID_CASES)
def test_invalid_carries_no_names_or_dates(text: str, expected: Held) -> None:
    result = parse_signal(text, today=TODAY)
    assert isinstance(result, Held)
    shown = repr(result) + str(result)
    assert [word for word in PERSONAL if word in shown] == []


def test_child_repr_hides_name_birth_date_and_reference() -> None:
    (child,) = children(signal("Naam: Noor Janssen\nGeboortedatum: 14-03-2017\nKenmerk: VT-2024-0815"))
    shown = repr(child) + str(child) + repr(Signal((child,)))
    assert [word for word in ["Noor", "Janssen", "2017", "VT-2024"] if word in shown] == []


@given(st.text())
def test_arbitrary_text_gives_a_signal_or_a_known_reason(noise: str) -> None:
    result = parse_signal(f"Handle with Care\n{noise}", today=TODAY)
    assert isinstance(result, Signal) or result.disposition is Disposition.MANUAL


@given(st.lists(st.sampled_from(["Naam:", "Geboortedatum:", "School:", "Gemeente:", "Kenmerk:", "", "x", "1-1-2015"])))
def test_label_soup_never_crashes_and_children_are_complete(lines: list[str]) -> None:
    result = parse_signal("Handle with Care\n" + "\n".join(lines), today=TODAY)
    if isinstance(result, Signal):
        assert result.children
        assert all(child.name and child.birth_date for child in result.children)
    else:
        assert result.disposition is Disposition.MANUAL
