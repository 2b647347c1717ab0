"""The education-register lookup: the leerplicht administration's export, its pseudonymised index, and finding a
child's school by name and date of birth the way a Leerplicht officer does.

Every export is built here, in the encodings and with the separators municipalities produce. Every pupil, name and
date is invented. The index lives in tmp_path; no mail server is involved.
"""

import csv
import io
import json
import logging
import os
import pwd
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner

from hwc_mailer import logging as hwc_logging
from hwc_mailer.cli import main
from hwc_mailer.domain.outcomes import Held
from hwc_mailer.domain.reasons import Reason
from hwc_mailer.domain.register import NO_SCHOOL, Pupil, entry_key, indexed_names, register_name, written_names
from hwc_mailer.domain.routing import Routed, route
from hwc_mailer.domain.signal import Signal, parse_signal
from hwc_mailer.domain.text import collapse
from hwc_mailer.edges.register import RegisterIndex, read_info, write_index
from hwc_mailer.errors import ConfigError, RegisterUnavailable
from hwc_mailer.service.register import ExportError, decode_export, import_register, read_export
from hwc_mailer.settings.config import RegisterColumns, Settings, load_settings
from hwc_mailer.settings.rules import School, load_rules

REPO = Path(__file__).resolve().parents[2]
RULES_FILE = REPO / "rules" / "maastricht-heuvelland.yaml"
RULES = load_rules(RULES_FILE)
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)
KEY_TEXT = "bGVlcnBsaWNodC1yZWdpc3Rlci10ZXN0c2xldXRlbA=="
KEY = KEY_TEXT.encode()
OTHER_KEY = b"another-municipality-another-key-0000"


@dataclass(frozen=True)
class Row:
    """One row as the leerplicht administration exports it, in the default column order."""

    given_names: str
    prefix: str
    surname: str
    call_name: str
    birth_date: str
    brin: str
    location: str


HEADER = ("Voornamen", "Voorvoegsel", "Achternaam", "Roepnaam", "Geboortedatum", "BRIN", "Vestiging")

# Known by the call name, the first given name and all given names; "van 't" with a straight apostrophe.
TIM = Row("Timotheus Johannes", "van 't", "Testkind", "Tim", "14-03-2017", "12AB", "00")
# Written with the diaeresis in the export; Veilig Thuis' systems may drop it.
ZOE = Row("Zoë Anne", "de", "Wit", "", "2016-05-02", "34CD", "00")
# Written without the acute in the export; Veilig Thuis may add it. Excel dropped a zero of the location.
SARA = Row("Sara", "", "Bakkes", "", "20150930", "56EF", "0")
# Two words of prefix, a diaeresis in an official name, a call name.
DAAN = Row("Daniël Pieter", "van der", "Linden", "Daan", "19-8-2017", "34CD", "00")
# Siblings at two schools.
LIEKE = Row("Lieke Maria", "", "Hendriks", "", "09-01-2014", "78GH", "00")
BRAM = Row("Abraham", "", "Hendriks", "Bram", "23-11-2018", "90JK", "00")
# Two different children with the same name and date of birth, at two schools.
LOTTE_HEER = Row("Lotte", "", "Smeets", "", "07-07-2016", "12AB", "01")
LOTTE_GULPEN = Row("Lotte", "", "Smeets", "", "07-07-2016", "56EF", "00")
# At a school the rules do not list.
FINN = Row("Finn", "", "Vliegen", "", "28-02-2015", "99ZZ", "00")

EXPORT = (TIM, ZOE, SARA, DAAN, LIEKE, BRAM, LOTTE_HEER, LOTTE_GULPEN, FINN)
BIRTH_DATES = {TIM: date(2017, 3, 14), ZOE: date(2016, 5, 2), SARA: date(2015, 9, 30), DAAN: date(2017, 8, 19),
               LIEKE: date(2014, 1, 9), BRAM: date(2018, 11, 23), LOTTE_HEER: date(2016, 7, 7),
               LOTTE_GULPEN: date(2016, 7, 7), FINN: date(2015, 2, 28)}
DUTCH_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
                "november", "december")


def export(rows: Sequence[Row], *, separator: str = ";", encoding: str = "utf-8",
           header: Sequence[str] = HEADER) -> bytes:
    """The export as the administration writes it: CRLF lines, quotes only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(astuple(row) for row in rows)
    return buffer.getvalue().encode(encoding)


DEFAULT_COLUMNS = RegisterColumns()


def pupils_of(data: bytes, columns: RegisterColumns = DEFAULT_COLUMNS) -> list[Pupil]:
    pupils, skipped = read_export(decode_export(data), columns)
    assert skipped == []
    return pupils


def signal_text(*children: dict[str, str]) -> str:
    blocks = "\n\n".join("\n".join(f"{label}: {value}" for label, value in child.items()) for child in children)
    return (f"Beste collega,\n\nHierbij een Handle with Care-signaal.\n\n{blocks}\n\n"
            "Met vriendelijke groet,\nA. de Vries\nVeilig Thuis Zuid-Limburg\n")


def outcome(register: RegisterIndex, *children: dict[str, str]) -> Routed[School] | Held:
    signal = parse_signal(signal_text(*children), today=TODAY)
    assert isinstance(signal, Signal), signal
    return route(signal, RULES, register)


def received(result: Routed[School] | Held) -> dict[str, tuple[str, ...]]:
    assert isinstance(result, Routed), result
    return {delivery.school.code: tuple(child.name for child in delivery.children) for delivery in result.deliveries}


def child(name: str, born: str, school: str | None = None) -> dict[str, str]:
    return {"Naam": name, "Geboortedatum": born} | ({"School": school} if school else {})


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegisterIndex]:
    """The index of EXPORT, built once for the routing tests."""
    path = tmp_path_factory.mktemp("register") / "register.sqlite"
    write_index(path, KEY, pupils_of(export(EXPORT)), NOW)
    index = RegisterIndex(path, KEY)
    yield index
    index.close()


@dataclass(frozen=True)
class Office:
    """A service file with the register on: its key in etc/, its index in the (not yet existing) state dir."""

    config: Path
    key_file: Path
    state_dir: Path

    @property
    def settings(self) -> Settings:
        return load_settings(self.config)

    @property
    def index(self) -> Path:
        return self.state_dir / "register.sqlite"


def write_service_file(directory: Path, register: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(f"""\
imap: {{host: mail.example.nl, username: lp@example.nl, password: {{env: NOT_SET}}}}
smtp: {{host: mail.example.nl}}
gpg: {{inbound_home: {directory}/in, outbound_home: {directory}/out, key_fingerprint: "{'A' * 40}"}}
sender: {{address: leerplicht@maastricht.example.nl}}
rules: {RULES_FILE}
state_dir: {directory.parent}/state
{register}""", encoding="utf-8")
    return config


@pytest.fixture
def office(tmp_path: Path) -> Office:
    etc = tmp_path / "etc"
    config = write_service_file(etc, "register:\n  key: {file: register.key}\n")
    key_file = etc / "register.key"
    key_file.write_text(KEY_TEXT + "\n")
    key_file.chmod(0o600)
    return Office(config, key_file, tmp_path / "state")


# --- one normalisation for index and signal -------------------------------------------------


@pytest.mark.parametrize("written", [
    "Tim van 't Testkind",
    "Tim van ’t Testkind",
    "Tim van ‘t Testkind",
    "Tim van ´t Testkind",
    "Tim van `t Testkind",
    "  TIM  VAN 'T\tTESTKIND ",
    "Tim\u00a0van\u00a0't\u00a0Testkind",
    "Ti\u200bm van 't Testkind",
])
def test_a_name_is_normalised_the_same_however_the_apostrophe_and_spaces_are_typed(written: str) -> None:
    assert register_name(written) == "tim van 't testkind"


def test_a_name_is_looked_up_as_written_and_without_its_diacritics() -> None:
    assert written_names("Zoë de Wit") == {"zoë de wit", "zoe de wit"}
    assert written_names("Zoe\u0308 de Wit") == {"zoë de wit", "zoe de wit"}      # decomposed, as macOS writes it
    assert written_names("Zoe de Wit") == {"zoe de wit"}


def test_a_pupil_is_indexed_by_all_given_names_the_first_and_the_call_name() -> None:
    pupil = pupils_of(export([TIM]))[0]
    assert indexed_names(pupil) == {"timotheus johannes van 't testkind", "timotheus van 't testkind",
                                    "tim van 't testkind"}
    daan = pupils_of(export([DAAN]))[0]
    assert indexed_names(daan) == {"daniël pieter van der linden", "daniel pieter van der linden",
                                   "daniël van der linden", "daniel van der linden", "daan van der linden"}


def test_a_pupil_shows_no_name_or_date_in_its_repr() -> None:
    pupil = pupils_of(export([TIM]))[0]
    assert pupil.school == "12AB00"
    for personal in ("Timotheus", "Testkind", "Tim", "2017", "14"):
        assert personal not in repr(pupil)


def test_an_entry_depends_on_the_key_the_name_and_the_date() -> None:
    born = date(2017, 3, 14)
    first = entry_key(KEY, "tim van 't testkind", born)
    assert first == entry_key(KEY, "tim van 't testkind", born)
    assert first != entry_key(OTHER_KEY, "tim van 't testkind", born)
    assert first != entry_key(KEY, "tim van 't testkind", date(2017, 3, 15))
    assert first != entry_key(KEY, "tim testkind", born)


# --- routing by the register ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "born", "school"), [
    ("Tim van ’t Testkind", "14-03-2017", "12AB00"),                       # call name, curly apostrophe
    ("Tim van ´t Testkind", "14-03-2017", "12AB00"),                       # an acute accent typed as apostrophe
    ("Timotheus van 't Testkind", "14 maart 2017", "12AB00"),              # first given name
    ("Timotheus Johannes van ’t Testkind", "2017-03-14", "12AB00"),        # all given names
    ("TIM VAN 'T TESTKIND", "14/03/2017", "12AB00"),
    ("Zoe de Wit", "2 mei 2016", "34CD00"),                                # export "Zoë", signal without
    ("Zoë de Wit", "02-05-2016", "34CD00"),
    ("Zoë Anne de Wit", "2-5-2016", "34CD00"),
    ("Sára Bakkes", "30-09-2015", "56EF00"),                               # export "Sara", signal with an acute
    ("Sara Bakkes", "30 september 2015", "56EF00"),
    ("Daan van der Linden", "19-08-2017", "34CD00"),
    ("Daniel van der Linden", "19-08-2017", "34CD00"),                     # export "Daniël", signal without
    ("Daniël Pieter van der Linden", "19-08-2017", "34CD00"),
    ("Bram Hendriks", "23-11-2018", "90JK00"),
    ("Abraham Hendriks", "23-11-2018", "90JK00"),
])
def test_a_signal_with_only_name_and_date_of_birth_goes_to_the_school_in_the_register(
        register: RegisterIndex, name: str, born: str, school: str) -> None:
    result = outcome(register, child(name, born))
    assert received(result) == {school: (collapse(name),)}       # the name as the parser reads it
    assert isinstance(result, Routed) and result.register_gaps == 0


def test_siblings_in_one_signal_go_to_their_own_schools(register: RegisterIndex) -> None:
    result = outcome(register, child("Lieke Hendriks", "9 januari 2014"), child("Bram Hendriks", "23-11-2018"))
    assert received(result) == {"78GH00": ("Lieke Hendriks",), "90JK00": ("Bram Hendriks",)}


@pytest.mark.parametrize(("name", "born"), [
    ("Tim Testkind", "14-03-2017"),                 # prefix left out: another name, no guess
    ("Tim van 't Testkind", "15-03-2017"),          # another date of birth
    ("Johannes van 't Testkind", "14-03-2017"),     # a second given name alone is not indexed
    ("Mila Nieuwkomer", "10-10-2016"),              # not in the export at all (moved in last week)
])
def test_a_child_the_register_does_not_know_and_no_school_line_is_held_not_in_register(
        register: RegisterIndex, name: str, born: str) -> None:
    assert outcome(register, child(name, born)) == Held(Reason.NOT_IN_REGISTER, child=1)


def test_two_children_with_the_same_name_and_date_at_two_schools_are_held_and_the_officer_sees_both(
        register: RegisterIndex) -> None:
    result = outcome(register, child("Tim van 't Testkind", "14-03-2017"), child("Lotte Smeets", "7 juli 2016"))
    assert result == Held(Reason.AMBIGUOUS_REGISTER, "het register noemt 12AB01, 56EF00", child=2)


def test_a_school_line_settles_which_of_the_registers_schools_it_is(register: RegisterIndex) -> None:
    result = outcome(register, child("Lotte Smeets", "07-07-2016", "Op de Heuvel"))
    assert received(result) == {"56EF00": ("Lotte Smeets",)}


def test_a_child_whose_school_is_not_in_the_rules_is_held_school_not_participating(register: RegisterIndex) -> None:
    result = outcome(register, child("Finn Vliegen", "28-02-2015"))
    assert result == Held(Reason.SCHOOL_NOT_PARTICIPATING, "school 99ZZ00", child=1)


@pytest.mark.parametrize("school", ["12AB00", "12ab00", "Basisschool De Regenboog", "Regenboog Maastricht"])
def test_a_school_line_that_agrees_with_the_register_is_delivered(register: RegisterIndex, school: str) -> None:
    result = outcome(register, child("Tim van 't Testkind", "14-03-2017", school))
    assert received(result) == {"12AB00": ("Tim van 't Testkind",)}
    assert isinstance(result, Routed) and result.register_gaps == 0


@pytest.mark.parametrize("school", ["56EF00", "12AB01", "Kindcentrum De Maasbrug"])
def test_a_school_line_that_contradicts_the_register_is_held_register_mismatch(
        register: RegisterIndex, school: str) -> None:
    result = outcome(register, child("Tim van 't Testkind", "14-03-2017", school))
    assert result == Held(Reason.REGISTER_MISMATCH, "het register noemt 12AB00", child=1)


def test_a_school_line_for_a_child_the_register_does_not_know_is_delivered_and_counted_as_a_gap(
        register: RegisterIndex) -> None:
    result = outcome(register, child("Mila Nieuwkomer", "10-10-2016", "34CD00"),
                     child("Zoe de Wit", "2 mei 2016"))
    assert received(result) == {"34CD00": ("Mila Nieuwkomer", "Zoe de Wit")}
    assert isinstance(result, Routed) and result.register_gaps == 1


def test_without_a_register_a_child_without_school_line_is_held_as_before() -> None:
    signal = parse_signal(signal_text(child("Tim van 't Testkind", "14-03-2017")), today=TODAY)
    assert isinstance(signal, Signal)
    assert route(signal, RULES) == Held(Reason.NO_SCHOOL, child=1)
    with_line = parse_signal(signal_text(child("Tim van 't Testkind", "14-03-2017", "56EF00")), today=TODAY)
    assert isinstance(with_line, Signal)
    routed = route(with_line, RULES)
    assert received(routed) == {"56EF00": ("Tim van 't Testkind",)}
    assert isinstance(routed, Routed) and routed.register_gaps == 0


# --- reading the export -----------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "separator"), [
    ("utf-8", ";"), ("utf-8", ","), ("utf-8-sig", ";"), ("utf-8-sig", ","), ("cp1252", ";"), ("cp1252", ","),
], ids=["utf8-semicolon", "utf8-comma", "utf8-bom-semicolon", "utf8-bom-comma", "cp1252-semicolon", "cp1252-comma"])
def test_every_encoding_and_separator_gives_the_same_pupils(encoding: str, separator: str) -> None:
    data = export(EXPORT, separator=separator, encoding=encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    assert (b"Zo\xeb" in data) == (encoding == "cp1252")
    assert pupils_of(data) == pupils_of(export(EXPORT))
    zoe = pupils_of(data)[1]
    assert (zoe.given_names, zoe.prefix, zoe.surname, zoe.birth_date, zoe.school) == (
        "Zoë Anne", "de", "Wit", date(2016, 5, 2), "34CD00")


def test_every_date_form_of_the_export_is_read() -> None:
    assert [pupil.birth_date for pupil in pupils_of(export(EXPORT))] == [BIRTH_DATES[row] for row in EXPORT]


def test_columns_can_be_renamed_and_reordered_and_their_case_and_spacing_do_not_matter() -> None:
    columns = RegisterColumns(given_names="Voornamen kind", prefix="Tussenvoegsel", surname="Geslachtsnaam",
                              call_name="Roepnaam", birth_date="Geb.datum", brin="BRIN-nummer",
                              location="Vestigingsnummer")
    header = ("GESLACHTSNAAM", "voornamen  kind", "Tussenvoegsel", "geb.datum", "brin-nummer", "Vestigingsnummer",
              "Roepnaam", "Postcode")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in EXPORT:
        writer.writerow((row.surname, row.given_names, row.prefix, row.birth_date, row.brin, row.location,
                         row.call_name, "6211 AB"))
    assert pupils_of(buffer.getvalue().encode(), columns) == pupils_of(export(EXPORT))


def test_columns_renamed_in_the_service_file_are_used_by_the_import(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    config = write_service_file(etc, "register:\n  key: {file: register.key}\n"
                                     "  columns: {surname: familienaam, brin: brinnummer}\n")
    (etc / "register.key").write_text(KEY_TEXT)
    header = ("Voornamen", "Voorvoegsel", "Familienaam", "Roepnaam", "Geboortedatum", "Brinnummer", "Vestiging")
    report = import_register(export(EXPORT, header=header), load_settings(config), NOW)
    assert report.info is not None and report.info.pupils == len(EXPORT)
    with pytest.raises(ExportError, match="'familienaam'"):
        import_register(export(EXPORT), load_settings(config), NOW)


@pytest.mark.parametrize(("columns", "header", "missing"), [
    (RegisterColumns(), HEADER[:4] + HEADER[5:], "'geboortedatum'"),
    (RegisterColumns(), ("Voornamen", "Voorvoegsel", "Roepnaam", "Geboortedatum", "Vestiging"), "'achternaam', 'brin'"),
    (RegisterColumns(surname="Geslachtsnaam"), HEADER, "'Geslachtsnaam'"),
])
def test_an_export_without_a_required_column_is_refused_naming_the_configured_column(
        columns: RegisterColumns, header: Sequence[str], missing: str) -> None:
    text = ";".join(header) + "\r\n" + ";".join(["x"] * len(header)) + "\r\n"
    with pytest.raises(ExportError) as raised:
        read_export(text, columns)
    assert f"the export has no column {missing} " in str(raised.value)
    assert "register.columns" in str(raised.value)


def test_an_export_without_the_optional_columns_is_read_when_the_columns_say_so() -> None:
    text = "Achternaam;Voornamen;Geboortedatum;BRIN\r\nTestkind;Tim;14-03-2017;12AB\r\n"
    columns = RegisterColumns(prefix=None, call_name=None, location=None)
    pupils, skipped = read_export(text, columns)
    assert skipped == []
    assert [(pupil.call_name, pupil.prefix, pupil.school) for pupil in pupils] == [("", "", "12AB")]


def test_a_configured_column_missing_from_the_export_is_an_error_not_an_empty_value() -> None:
    """A renamed Vestiging column would otherwise make every pupil a bare BRIN, unnoticed."""
    text = "Voornamen;Voorvoegsel;Achternaam;Roepnaam;Geboortedatum;BRIN;Vestigingsnummer\r\n"
    with pytest.raises(ExportError, match=r"no column 'vestiging'.*set an optional one"):
        read_export(text + "Tim;;Testkind;;14-03-2017;12AB;01\r\n", RegisterColumns())


def test_a_blank_line_before_the_header_does_not_hide_the_columns() -> None:
    pupils, skipped = read_export("\r\n" + decode_export(export([TIM])), RegisterColumns())
    assert skipped == []
    assert len(pupils) == 1


def test_an_empty_export_is_an_error() -> None:
    with pytest.raises(ExportError, match="empty"):
        read_export("\r\n \r\n", RegisterColumns())


MALFORMED = [
    (3, "Anna;;;;14-03-2017;12AB;00", "no surname"),
    (5, "Anna;;Geheimnaam;;31-02-2017;12AB;00", "date of birth not readable"),
    (6, "Anna;;Geheimnaam;;14-03-2017;12AB", "6 fields where the header has 7"),
    (7, ";;Geheimnaam;;14-03-2017;12AB;00", "no given name and no call name"),
    (8, "Anna;;Geheimnaam;;14-03-2017;12AB;00;extra", "8 fields where the header has 7"),
]
MALFORMED_CONTENT = ("Anna", "Geheimnaam", "geheimnaam", "31-02-2017", "14-03-2017", "extra")


def malformed_export() -> str:
    lines = [";".join(HEADER), ";".join(astuple(TIM)), "", "", ";".join(astuple(ZOE))]
    for number, text, _ in MALFORMED:
        lines.insert(number - 1, text)
    lines[3] = ""                       # line 4 stays blank: blank lines are skipped but counted
    return "\r\n".join(lines) + "\r\n"


def test_a_malformed_row_is_reported_by_its_line_number_and_never_by_its_content() -> None:
    text = malformed_export()
    assert [text.split("\r\n")[number - 1] for number, _, _ in MALFORMED] == [row for _, row, _ in MALFORMED]
    pupils, skipped = read_export(text, RegisterColumns())
    assert len(pupils) == 2
    assert [message.split(":")[0] for message in skipped] == [f"line {number}" for number, _, _ in MALFORMED]
    for message, (_, _, problem) in zip(skipped, MALFORMED, strict=True):
        assert problem in message
        for content in MALFORMED_CONTENT:
            assert content not in message


def test_a_row_with_a_line_break_inside_quotes_stops_the_import() -> None:
    """Names, dates and codes hold no line break: a quote that spans lines is one never closed."""
    text = (";".join(HEADER) + "\r\n" + '"Tim\r\nJohannes";;Testkind;;14-03-2017;12AB;00\r\n'
            + ";;Testkind;;14-03-2017;12AB;00\r\n")
    with pytest.raises(ExportError, match=r"line 2: .*quote that is not closed"):
        read_export(text, RegisterColumns())


@pytest.mark.parametrize("school", [("XYZ", "00"), ("12AB", "A1"), ("", "")], ids=["bad-brin", "bad-location",
                                                                                    "none"])
def test_a_pupil_without_a_usable_school_code_is_indexed_without_a_school(school: tuple[str, str]) -> None:
    """So a namesake's lookup stays ambiguous instead of finding the other child alone."""
    text = ";".join(HEADER) + f"\r\nAnna;;Testkind;;14-03-2017;{school[0]};{school[1]}\r\n"
    pupils, skipped = read_export(text, RegisterColumns())
    assert skipped == [] and [pupil.school for pupil in pupils] == [NO_SCHOOL]


def test_an_unclosed_quote_is_reported_at_the_line_it_opens_and_nothing_is_imported(office: Office) -> None:
    rows = [replace(TIM, surname=f"Testkind{number}") for number in range(4000)]
    text = decode_export(export(rows)).split("\r\n")
    text[3] = text[3].replace("Timotheus", '"Timotheus', 1)
    data = "\r\n".join(text).encode()
    import_register(export(EXPORT), office.settings, NOW)
    before = office.index.read_bytes()

    with pytest.raises(ExportError) as raised:
        import_register(data, office.settings, NOW + timedelta(days=1))

    assert str(raised.value).startswith("line 4: ")
    assert "Timotheus" not in str(raised.value) and "Testkind" not in str(raised.value)
    assert office.index.read_bytes() == before


def test_an_unclosed_quote_near_the_end_does_not_swallow_the_last_rows_unnoticed() -> None:
    lines = decode_export(export(EXPORT)).split("\r\n")
    lines[7] = lines[7].replace("Lotte", '"Lotte', 1)
    with pytest.raises(ExportError) as raised:
        read_export("\r\n".join(lines), RegisterColumns())
    assert str(raised.value) == ("line 8: this row cannot be read, probably a quote that is not closed; nothing was "
                                 "imported")


def test_a_windows_1252_export_keeps_its_diacritics() -> None:
    assert decode_export("Zoë;Daniël".encode("cp1252")) == "Zoë;Daniël"
    assert decode_export("\ufeffZoë;Daniël".encode()) == "Zoë;Daniël"


# --- the index on disk -------------------------------------------------------------------------


def date_forms(born: date) -> set[str]:
    day, month, year = born.day, born.month, born.year
    return {f"{day:02}-{month:02}-{year}", f"{day}-{month}-{year}", f"{day:02}/{month:02}/{year}",
            f"{day:02}.{month:02}.{year}", f"{year}-{month:02}-{day:02}", f"{year}{month:02}{day:02}",
            f"{day:02}{month:02}{year}", f"{year}/{month:02}/{day:02}", f"{day} {DUTCH_MONTHS[month - 1]} {year}",
            born.isoformat(), str(born.toordinal())}


def name_forms(row: Row) -> set[str]:
    """Every name and name part of the row as written, folded and cased, that cannot occur in a hex digest."""
    pupil = pupils_of(export([row]))[0]
    written = {row.given_names, row.prefix, row.surname, row.call_name, *row.given_names.split(),
               f"{row.given_names} {row.prefix} {row.surname}", *indexed_names(pupil)}
    forms = {form for text in written for form in (text, text.lower(), text.upper(), register_name(text))}
    forms |= {"".join(ch for ch in form if ch.isascii()) for form in forms}
    return {form for form in forms if len(form) >= 3 and not set(form.lower()) <= set("0123456789abcdef")}


def test_the_index_holds_no_name_and_no_date_of_birth_in_any_form(office: Office) -> None:
    report = import_register(export(EXPORT), office.settings, NOW)
    assert report.info is not None and report.info.pupils == len(EXPORT)
    connection = sqlite3.connect(office.index)
    try:
        schema = [sql.encode() for (sql,) in connection.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
    finally:
        connection.close()
    stored = office.index.read_bytes()
    for sql in schema:                                          # "WITHOUT ROWID" is not the surname "Wit"
        assert sql in stored
        stored = stored.replace(sql, b"")

    assert b"12AB00" in stored and b"99ZZ00" in stored        # what is in clear is found: the search works
    for row in EXPORT:
        for form in name_forms(row) | date_forms(BIRTH_DATES[row]):
            for encoding in ("utf-8", "utf-16-le", "cp1252"):
                needle = form.encode(encoding, errors="ignore")
                assert needle not in stored, (form, encoding)
                assert needle.lower() not in stored.lower(), (form, encoding)


def test_the_index_records_only_its_import_time_and_counts(office: Office) -> None:
    import_register(export(EXPORT), office.settings, NOW)
    connection = sqlite3.connect(office.index)
    try:
        tables = sorted(name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
        schools = sorted({school for (school,) in connection.execute("SELECT school FROM entry")})
        entries = connection.execute("SELECT count(*) FROM entry").fetchone()[0]
    finally:
        connection.close()
    assert tables == ["entry", "meta"]
    assert set(meta) == {"format", "imported_at", "pupils", "entries", "key_check"}
    assert (meta["imported_at"], meta["pupils"], meta["entries"]) == (NOW.isoformat(), "9", str(entries))
    assert schools == ["12AB00", "12AB01", "34CD00", "56EF00", "78GH00", "90JK00", "99ZZ00"]
    info = read_info(office.index, KEY)
    assert info is not None and (info.imported_at, info.pupils, info.entries) == (NOW, 9, entries)


def test_an_import_leaves_nothing_but_the_index_in_its_folder(office: Office, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(export(EXPORT))
    import_register(source.read_bytes(), office.settings, NOW)
    import_register(export(EXPORT[:-1]), office.settings, NOW + timedelta(days=1))
    import_register(export(EXPORT[:1]), office.settings, NOW + timedelta(days=2))    # refused: too few
    assert sorted(os.listdir(office.state_dir)) == ["register.sqlite"]
    assert sorted(os.listdir(tmp_path)) == ["etc", "export.csv", "state"]
    assert source.read_bytes() == export(EXPORT)
    assert office.index.stat().st_mode & 0o077 == 0


def test_an_import_that_fails_while_writing_leaves_the_old_index_and_no_scratch_file(
        office: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    import_register(export(EXPORT), office.settings, NOW)
    before = office.index.read_bytes()

    def full_disk(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hwc_mailer.edges.register.os.replace", full_disk)
    with pytest.raises(ConfigError, match=r"cannot write the register index .*No space left on device"):
        import_register(export(EXPORT), office.settings, NOW + timedelta(days=1))
    assert sorted(os.listdir(office.state_dir)) == ["register.sqlite"]
    assert office.index.read_bytes() == before


def test_an_open_index_sees_a_new_import_at_its_next_lookup_and_the_old_file_is_never_overwritten(
        office: Office) -> None:
    import_register(export(EXPORT), office.settings, NOW)
    index = RegisterIndex(office.index, KEY)
    try:
        assert index.schools_of("Tim van 't Testkind", date(2017, 3, 14)) == {"12AB00"}
        assert index.schools_of("Mila Nieuwkomer", date(2016, 10, 10)) == set()
        old_bytes, old_inode = office.index.read_bytes(), office.index.stat().st_ino
        with office.index.open("rb") as old:
            moved = (replace(TIM, brin="34CD"), *EXPORT[1:], Row("Mila", "", "Nieuwkomer", "", "10-10-2016", "78GH",
                                                                 "00"))
            assert import_register(export(moved), office.settings, NOW + timedelta(days=1)).info is not None

            assert index.schools_of("Tim van 't Testkind", date(2017, 3, 14)) == {"34CD00"}
            assert index.schools_of("Mila Nieuwkomer", date(2016, 10, 10)) == {"78GH00"}
            assert old.read() == old_bytes          # a reader in the middle of a lookup keeps a whole old index
        assert office.index.stat().st_ino != old_inode
    finally:
        index.close()


def test_a_missing_index_makes_the_register_unavailable_not_empty(tmp_path: Path) -> None:
    index = RegisterIndex(tmp_path / "register.sqlite", KEY)
    with pytest.raises(RegisterUnavailable, match="does not exist"):
        index.schools_of("Tim van 't Testkind", date(2017, 3, 14))
    assert read_info(tmp_path / "register.sqlite", KEY) is None


def test_a_damaged_index_makes_the_register_unavailable_and_an_import_replaces_it(office: Office) -> None:
    office.state_dir.mkdir()
    office.index.write_bytes(b"this is not an index" * 100)
    with pytest.raises(RegisterUnavailable, match="cannot be read"):
        RegisterIndex(office.index, KEY).schools_of("Tim van 't Testkind", date(2017, 3, 14))
    with pytest.raises(RegisterUnavailable, match="register import"):
        read_info(office.index, KEY)

    report = import_register(export(EXPORT), office.settings, NOW)

    assert report.info is not None and report.info.pupils == len(EXPORT)
    assert RegisterIndex(office.index, KEY).schools_of("Zoe de Wit", date(2016, 5, 2)) == {"34CD00"}


# --- the key -----------------------------------------------------------------------------------


def test_without_its_key_the_index_answers_nothing(tmp_path: Path) -> None:
    path = tmp_path / "register.sqlite"
    pupils = pupils_of(export(EXPORT))
    write_index(path, KEY, pupils, NOW)
    connection = sqlite3.connect(path)
    try:
        stored = {key for (key,) in connection.execute("SELECT key FROM entry")}
    finally:
        connection.close()

    for pupil in pupils:
        for name in indexed_names(pupil):
            assert entry_key(KEY, name, pupil.birth_date) in stored
            assert entry_key(OTHER_KEY, name, pupil.birth_date) not in stored
    other = read_info(path, OTHER_KEY)
    assert other is not None and other.key_matches is False
    right = read_info(path, KEY)
    assert right is not None and right.key_matches is True


def test_an_index_made_with_another_key_makes_the_register_unavailable_instead_of_silently_knowing_nobody(
        tmp_path: Path) -> None:
    path = tmp_path / "register.sqlite"
    write_index(path, KEY, pupils_of(export(EXPORT)), NOW)
    signal = parse_signal(signal_text(child("Tim van 't Testkind", "14-03-2017", "12AB00")), today=TODAY)
    assert isinstance(signal, Signal)
    with pytest.raises(RegisterUnavailable, match="another key"):
        route(signal, RULES, RegisterIndex(path, OTHER_KEY))
    assert received(route(signal, RULES, RegisterIndex(path, KEY))) == {"12AB00": ("Tim van 't Testkind",)}


def test_the_service_file_refuses_a_register_key_inside_the_state_dir(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    config = write_service_file(etc, f"register:\n  key: {{file: {tmp_path}/state/keys/register.key}}\n")
    with pytest.raises(ConfigError, match=r"register\.key: the key must not live in state_dir"):
        load_settings(config)


def test_the_service_file_refuses_a_register_key_that_reaches_the_state_dir_by_a_link_or_dots(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "register.key").write_text(KEY_TEXT)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "register.key").symlink_to(tmp_path / "state" / "register.key")
    linked = write_service_file(etc, "register:\n  key: {file: register.key}\n")
    with pytest.raises(ConfigError, match="must not live in state_dir"):
        load_settings(linked)
    dotted = write_service_file(etc, "register:\n  key: {file: ../etc/../state/register.key}\n")
    with pytest.raises(ConfigError, match="must not live in state_dir"):
        load_settings(dotted)


def test_the_service_file_accepts_a_register_key_beside_it_and_puts_the_index_in_the_state_dir(
        office: Office) -> None:
    settings = office.settings
    assert settings.lookup is not None and settings.lookup.key.file == office.key_file
    assert settings.register_index == office.index
    assert settings.lookup.max_age_days == 8 and settings.lookup.max_shrink == 0.2


# --- the shrink guard -----------------------------------------------------------------------------


def children(count: int) -> list[Row]:
    return [Row(f"Kind{number}", "", "Testkind", "", "14-03-2017", "12AB", "00") for number in range(count)]


def test_an_export_that_lost_too_many_pupils_is_refused_and_the_index_stays_byte_for_byte(office: Office) -> None:
    assert import_register(export(children(10)), office.settings, NOW).info is not None
    before = office.index.read_bytes()

    report = import_register(export(children(7)), office.settings, NOW + timedelta(days=1))

    assert report.info is None and report.pupils == 7
    assert report.refused is not None
    assert "7 readable pupils where the index has 10" in report.refused and "--force" in report.refused
    assert office.index.read_bytes() == before


def test_an_export_that_lost_no_more_than_the_allowed_share_replaces_the_index(office: Office) -> None:
    import_register(export(children(10)), office.settings, NOW)
    report = import_register(export(children(8)), office.settings, NOW + timedelta(days=1))
    assert report.info is not None and report.info.pupils == 8


def test_force_replaces_the_index_with_a_much_smaller_export(office: Office) -> None:
    import_register(export(children(10)), office.settings, NOW)
    report = import_register(export(children(1)), office.settings, NOW + timedelta(days=1), force=True)
    assert report.info is not None and report.info.pupils == 1
    info = read_info(office.index, KEY)
    assert info is not None and (info.pupils, info.imported_at) == (1, NOW + timedelta(days=1))


def test_an_export_with_no_readable_pupil_is_refused_even_with_force(office: Office) -> None:
    import_register(export(children(10)), office.settings, NOW)
    before = office.index.read_bytes()
    broken = [replace(row, birth_date="gisteren") for row in children(10)]
    report = import_register(export(broken), office.settings, NOW, force=True)
    assert report.info is None and report.refused is not None and "no readable pupil" in report.refused
    assert len(report.skipped) == 10
    assert office.index.read_bytes() == before


def test_the_guard_counts_only_readable_rows(office: Office) -> None:
    import_register(export(children(10)), office.settings, NOW)
    half_broken = children(5) + [replace(row, birth_date="??") for row in children(10)[5:]]
    report = import_register(export(half_broken), office.settings, NOW + timedelta(days=1))
    assert report.info is None and len(report.skipped) == 5


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The CLI's log, which it configures itself, into a buffer; the logging set-up is restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure = hwc_logging.configure
    monkeypatch.setattr(hwc_logging, "configure", lambda *args, **kwargs: configure(stream))
    try:
        yield stream
    finally:
        monkeypatch.undo()
        hwc_logging.configure()
        structlog.reset_defaults()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def cli(office: Office, *args: str, stdin: bytes | str | None = None) -> Ran:
    result = CliRunner().invoke(main, ["-c", str(office.config), *args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def assert_nothing_personal(text: str) -> None:
    """No name, name part or date of the export as a word of `text`, in any case."""
    for row in EXPORT:
        for form in name_forms(row) | date_forms(BIRTH_DATES[row]):
            assert not re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text, re.IGNORECASE), form


def test_register_import_reads_the_export_from_standard_input(office: Office, log_lines: io.StringIO) -> None:
    ran = cli(office, "register", "import", "-", stdin=export(EXPORT, encoding="cp1252"))

    assert ran.code == 0, ran
    info = read_info(office.index, KEY)
    assert info is not None
    assert ran.stdout == (f"imported 9 pupil(s) into {office.index} ({info.entries} entries; 0 row(s) skipped)\n")
    assert sorted(os.listdir(office.state_dir)) == ["register.sqlite"]
    assert RegisterIndex(office.index, KEY).schools_of("Zoe de Wit", date(2016, 5, 2)) == {"34CD00"}
    imported = [record for record in records(log_lines) if record["event"] == "register-imported"]
    assert [(record["count"], record["skipped"]) for record in imported] == [(9, 0)]
    assert_nothing_personal(ran.stdout + ran.stderr + log_lines.getvalue())


def test_register_import_from_a_file_leaves_the_file_alone(office: Office, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(export(EXPORT, separator=","))
    ran = cli(office, "register", "import", str(source))
    assert ran.code == 0, ran
    assert source.read_bytes() == export(EXPORT, separator=",")
    assert sorted(os.listdir(office.state_dir)) == ["register.sqlite"]


def test_register_import_names_skipped_rows_by_line_and_exits_3(office: Office) -> None:
    ran = cli(office, "register", "import", "-", stdin=malformed_export())

    assert ran.code == 3
    assert ran.stdout.startswith(f"imported 2 pupil(s) into {office.index} (")
    assert "5 row(s) skipped" in ran.stdout
    skipped = [line for line in ran.stderr.splitlines() if line.startswith("skipped ")]
    assert [line.split(":")[0] for line in skipped] == [f"skipped line {number}" for number, _, _ in MALFORMED]
    for content in MALFORMED_CONTENT:
        assert content not in ran.stdout + ran.stderr


def test_register_import_refuses_a_shrunken_export_unless_forced(office: Office, log_lines: io.StringIO) -> None:
    assert cli(office, "register", "import", "-", stdin=export(children(10))).code == 0
    before = office.index.read_bytes()

    refused = cli(office, "register", "import", "-", stdin=export(children(3)))
    assert refused.code == 1
    assert "refused: the export has 3 readable pupils where the index has 10" in refused.stderr
    assert office.index.read_bytes() == before
    assert any(record["event"] == "register-import-refused" for record in records(log_lines))

    forced = cli(office, "register", "import", "--force", "-", stdin=export(children(3)))
    assert forced.code == 0, forced
    info = read_info(office.index, KEY)
    assert info is not None and info.pupils == 3


def test_register_import_of_an_export_without_a_required_column_exits_2_naming_it(office: Office) -> None:
    ran = cli(office, "register", "import", "-", stdin=export(EXPORT, header=(*HEADER[:5], "School", "Vestiging")))
    assert ran.code == 2
    assert "the export has no column 'brin'" in ran.stderr
    assert not office.index.exists()


def test_register_import_without_a_register_section_exits_2(tmp_path: Path) -> None:
    config = write_service_file(tmp_path / "etc", "")
    result = CliRunner().invoke(main, ["-c", str(config), "register", "import", "-"], input=export(EXPORT))
    assert result.exit_code == 2
    assert "no register: section" in result.stderr


def test_register_shows_when_the_index_was_imported_and_how_large_it_is(office: Office) -> None:
    missing = cli(office, "register")
    assert missing.code == 1
    assert missing.stdout == f"no index yet at {office.index}; import the export with `hwc-mailer register import`\n"

    assert cli(office, "register", "import", "-", stdin=export(EXPORT)).code == 0
    ran = cli(office, "register")

    assert ran.code == 0, ran
    info = read_info(office.index, KEY)
    assert info is not None
    lines = ran.stdout.splitlines()
    assert lines[0].startswith(f"imported {info.imported_at:%Y-%m-%d %H:%M} UTC (")
    assert lines[1:] == [f"9 pupils, {info.entries} entries", "key matches"]


def test_register_says_when_the_key_does_not_match_the_index(office: Office) -> None:
    assert cli(office, "register", "import", "-", stdin=export(EXPORT)).code == 0
    office.key_file.write_text(OTHER_KEY.decode())
    ran = cli(office, "register")
    assert ran.code == 1
    assert "KEY DOES NOT MATCH" in ran.stdout


def test_register_with_a_key_too_short_exits_2(office: Office) -> None:
    office.key_file.write_text("kort")
    ran = cli(office, "register", "import", "-", stdin=export(EXPORT))
    assert ran.code == 2
    assert "openssl rand -base64 32" in ran.stderr
    assert not office.state_dir.exists()


def test_route_looks_in_the_register_only_with_the_flag_and_logs_each_lookup_without_content(
        office: Office, log_lines: io.StringIO) -> None:
    assert cli(office, "register", "import", "-", stdin=export(EXPORT)).code == 0
    text = signal_text(child("Tim van ’t Testkind", "14-03-2017"), child("Zoe de Wit", "2 mei 2016"))

    without = cli(office, "route", "-", stdin=text)
    assert without.code == 1
    assert "would be held: manual:no-school (child 1)" in without.stdout
    assert not [record for record in records(log_lines) if record["event"] == "register-lookup"]

    ran = cli(office, "route", "--register", "-", stdin=text)

    assert ran.code == 0, ran
    assert "would deliver to 12AB00 Basisschool De Regenboog (Maastricht): child(ren) 1" in ran.stdout
    assert "would deliver to 34CD00 Kindcentrum De Maasbrug (Maastricht): child(ren) 2" in ran.stdout
    lookups = [record for record in records(log_lines) if record["event"] == "register-lookup"]
    done = [record for record in records(log_lines) if record["event"] == "register-lookup-done"]
    assert len(lookups) == 1 and len(done) == 1
    assert lookups[0]["user"] == pwd.getpwuid(os.getuid()).pw_name and lookups[0]["count"] == 2
    assert done[0]["user"] == lookups[0]["user"] and done[0]["outcome"] == "routed"
    assert lookups[0]["command"] == "route"
    assert "dropped" not in lookups[0] and "dropped" not in done[0]
    assert_nothing_personal(ran.stdout + ran.stderr + log_lines.getvalue())
    for personal in ("Tim", "Zoe", "Testkind", "2 mei 2016"):
        assert personal not in ran.stdout + log_lines.getvalue()


def test_route_with_the_register_shows_an_ambiguous_child_as_held_and_logs_the_outcome(
        office: Office, log_lines: io.StringIO) -> None:
    assert cli(office, "register", "import", "-", stdin=export(EXPORT)).code == 0

    ran = cli(office, "route", "--register", "-", stdin=signal_text(child("Lotte Smeets", "07-07-2016")))

    assert ran.code == 1
    assert "would be held: manual:ambiguous-register (child 1)" in ran.stdout
    lookups = [record for record in records(log_lines) if record["event"] == "register-lookup"]
    done = [record for record in records(log_lines) if record["event"] == "register-lookup-done"]
    assert [record["count"] for record in lookups] == [1]
    assert [record["outcome"] for record in done] == ["manual:ambiguous-register"]
    assert "Lotte" not in log_lines.getvalue() and "Smeets" not in log_lines.getvalue()


def test_route_with_the_register_counts_a_school_line_the_register_does_not_confirm(office: Office) -> None:
    assert cli(office, "register", "import", "-", stdin=export(EXPORT)).code == 0
    ran = cli(office, "route", "--register", "-", stdin=signal_text(child("Mila Nieuwkomer", "10-10-2016", "34CD00")))
    assert ran.code == 0, ran
    assert "1 child(ren) routed by the School: line only: not in the register" in ran.stdout


def test_route_with_the_register_but_no_index_exits_2(office: Office) -> None:
    ran = cli(office, "route", "--register", "-", stdin=signal_text(child("Tim van 't Testkind", "14-03-2017")))
    assert ran.code == 2
    assert "does not exist" in ran.stderr


def test_route_with_the_flag_but_no_register_section_exits_2(tmp_path: Path) -> None:
    config = write_service_file(tmp_path / "etc", "")
    text = signal_text(child("Tim van 't Testkind", "14-03-2017"))
    result = CliRunner().invoke(main, ["-c", str(config), "route", "--register", "-"], input=text)
    assert result.exit_code == 2
    assert "no register: section" in result.stderr


# --- found by a review: staleness, copies in place, stray bytes, marks --------------------------------------


def test_an_index_older_than_the_refusal_age_answers_no_more(office: Office) -> None:
    """A child who changed school at the start of the year must not go to the old one from a stale index."""
    import_register(export(EXPORT), office.settings, NOW)
    fresh = RegisterIndex(office.index, KEY, refuse_after=timedelta(days=14), now=lambda: NOW + timedelta(days=13))
    assert fresh.schools_of("Tim van 't Testkind", date(2017, 3, 14)) == {"12AB00"}
    stale = RegisterIndex(office.index, KEY, refuse_after=timedelta(days=14), now=lambda: NOW + timedelta(days=15))
    with pytest.raises(RegisterUnavailable, match="15 days old"):
        stale.schools_of("Tim van 't Testkind", date(2017, 3, 14))


def test_an_index_copied_over_in_place_with_its_old_times_is_still_noticed(office: Office, tmp_path: Path) -> None:
    import_register(export(EXPORT), office.settings, NOW)
    index = RegisterIndex(office.index, KEY)
    assert index.schools_of("Tim van 't Testkind", date(2017, 3, 14)) == {"12AB00"}
    moved = tmp_path / "moved.sqlite"
    write_index(moved, KEY, [replace(pupil, school="34CD00") for pupil in read_export(
        decode_export(export(EXPORT)), RegisterColumns())[0]], NOW)
    times = office.index.stat()
    with office.index.open("r+b") as handle:          # as `cp -p` or `rsync --inplace -t` would
        handle.write(moved.read_bytes())
        handle.truncate()
    os.utime(office.index, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert index.schools_of("Tim van 't Testkind", date(2017, 3, 14)) == {"34CD00"}


def test_a_stray_byte_in_a_utf8_export_is_refused_not_read_as_windows_1252() -> None:
    data = ((";".join(HEADER) + "\r\nZoë;de;Wit;;14-03-2017;34CD;00\r\nRen").encode()
            + b"\xe9;;Wit;;1-1-2016;34CD;00\r\n")
    with pytest.raises(ExportError, match="line 3: a byte that is not UTF-8"):
        decode_export(data)


def test_a_dotted_capital_i_matches_the_plain_one() -> None:
    """Turkish names are common here: "İ" casefolds to "i" and a combining dot, which is no word break."""
    assert register_name("İlker Testkind") == register_name("Ilker Testkind") == "ilker testkind"
