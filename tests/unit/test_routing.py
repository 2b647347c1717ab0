"""Routing: which school gets which child. Exact code, name or alias; every doubt goes to a person.

Schools come from the shipped sample rules; children are invented.
"""

from datetime import date
from pathlib import Path

import pytest

from hwc_mailer.domain.outcomes import Held
from hwc_mailer.domain.reasons import Reason
from hwc_mailer.domain.routing import Delivery, Routed, find_school, route, suggestions
from hwc_mailer.domain.signal import Child, Signal
from hwc_mailer.settings.rules import Rules, School, load_rules

SAMPLE = Path(__file__).resolve().parents[2] / "rules" / "maastricht-heuvelland.yaml"


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Rules:
    """The sample rules, loaded from a copy in a temporary folder."""
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return load_rules(path)


def child(name: str, school: str | None, born: date = date(2017, 3, 14), municipality: str | None = None) -> Child:
    """One invented child as the parser would deliver it."""
    return Child(name, born, school, municipality, None)


def deliveries(routed: Routed[School] | Held) -> tuple[Delivery[School], ...] | Held:
    return routed if isinstance(routed, Held) else routed.deliveries


def code_of(found: School | Reason) -> str:
    assert isinstance(found, School), found
    return found.code


# --- find_school --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("12AB00", "12AB00"),
        ("12ab00", "12AB00"),
        (" 12 AB 01 ", "12AB01"),
        ("34cd00", "34CD00"),
        ("Basisschool De Regenboog", "12AB00"),
        ("basisschool  de   REGENBOOG", "12AB00"),
        ("Basisschool De Regenboog, locatie Heer", "12AB01"),
        ("regenboog heer", "12AB01"),
        ("Regenboog Maastricht", "12AB00"),
        ("  De Maasbrug  ", "34CD00"),
        ("HET\tGEULDAL", "78GH00"),
    ],
)
def test_exact_code_name_or_alias_finds_the_school(rules: Rules, written: str, code: str) -> None:
    assert code_of(find_school(written, rules)) == code


@pytest.mark.parametrize("written", ["12AB", "12ab", "34CD"])
def test_a_bare_brin_is_ambiguous_whatever_the_number_of_locations(rules: Rules, written: str) -> None:
    """12AB has two locations, 34CD one: neither is resolved by guessing the location."""
    assert find_school(written, rules) == Reason.AMBIGUOUS_SCHOOL


@pytest.mark.parametrize(
    "written",
    [
        "99ZZ00",
        "99ZZ",
        "Regenboog",                   # part of a name is not the name
        "Basisschool De Regenboog Heer",
        "De Regenbog",                  # a typo is never corrected
        "Maasbrug",
    ],
)
def test_anything_else_is_an_unknown_school(rules: Rules, written: str) -> None:
    assert find_school(written, rules) == Reason.UNKNOWN_SCHOOL


# --- route --------------------------------------------------------------------------------


def test_one_child_goes_to_its_school(rules: Rules) -> None:
    jan = child("Jan Jansen", "De Maasbrug")
    result = deliveries(route(Signal((jan,)), rules))
    assert isinstance(result, tuple)
    assert len(result) == 1
    assert result[0].school.code == "34CD00"
    assert result[0].children == (jan,)


@pytest.mark.parametrize("school", [None, ""])
def test_a_child_without_school_is_unroutable_with_its_number(rules: Rules, school: str | None) -> None:
    signal = Signal((child("Jan Jansen", "De Maasbrug"), child("Piet Jansen", school)))
    assert route(signal, rules) == Held(Reason.NO_SCHOOL, child=2)


def test_an_unknown_school_names_the_child_number(rules: Rules) -> None:
    signal = Signal((child("Jan Jansen", "Op de Heuvel"), child("Piet Jansen", "De Maasbrug"),
                     child("Kees Jansen", "Onbekende School")))
    assert route(signal, rules) == Held(Reason.UNKNOWN_SCHOOL, child=3)


def test_an_ambiguous_school_names_the_child_number(rules: Rules) -> None:
    signal = Signal((child("Jan Jansen", "12AB"), child("Piet Jansen", "De Maasbrug")))
    assert route(signal, rules) == Held(Reason.AMBIGUOUS_SCHOOL, child=1)


def test_one_doubtful_child_stops_the_whole_signal(rules: Rules) -> None:
    """No partial delivery: siblings at known schools are not sent when one child is unroutable."""
    signal = Signal((child("Jan Jansen", "De Maasbrug"), child("Piet Jansen", "Regenboog")))
    result = deliveries(route(signal, rules))
    assert result == Held(Reason.UNKNOWN_SCHOOL, child=2)


def test_siblings_at_two_schools_give_two_deliveries_in_order_of_first_appearance(rules: Rules) -> None:
    jan = child("Jan Jansen", "Op de Heuvel", date(2015, 5, 2))
    piet = child("Piet Jansen", "12ab00", date(2017, 3, 14))
    kees = child("Kees Jansen", "Basisschool Op de Heuvel", date(2013, 1, 9))
    result = deliveries(route(Signal((jan, piet, kees)), rules))
    assert isinstance(result, tuple)
    assert [delivery.school.code for delivery in result] == ["56EF00", "12AB00"]
    assert result[0].children == (jan, kees)
    assert result[1].children == (piet,)


def test_two_siblings_at_one_school_give_one_delivery_with_both(rules: Rules) -> None:
    """Written once by code and once by alias: still the same school, so one mail."""
    jan = child("Jan Jansen", "78GH00", date(2015, 5, 2))
    piet = child("Piet Jansen", "Het Geuldal", date(2017, 3, 14))
    result = deliveries(route(Signal((jan, piet)), rules))
    assert isinstance(result, tuple)
    assert len(result) == 1
    assert isinstance(result[0], Delivery)
    assert result[0].school.code == "78GH00"
    assert result[0].children == (jan, piet)


def test_two_locations_of_one_brin_are_two_schools(rules: Rules) -> None:
    jan = child("Jan Jansen", "12AB00")
    piet = child("Piet Jansen", "12AB01")
    result = deliveries(route(Signal((jan, piet)), rules))
    assert isinstance(result, tuple)
    assert [(delivery.school.code, delivery.children) for delivery in result] == [("12AB00", (jan,)),
                                                                                    ("12AB01", (piet,))]


def test_an_unknown_location_of_a_known_brin_is_unknown_not_ambiguous(rules: Rules) -> None:
    """34CD01 does not exist while 34CD00 does: the officer must look the school up, not pick between two."""
    assert find_school("34CD01", rules) == Reason.UNKNOWN_SCHOOL


# --- Gemeente: where the child lives -----------------------------------------------------------


def test_a_child_from_outside_the_sub_region_is_held(rules: Rules) -> None:
    signal = Signal((child("Jan Jansen", "12AB00", municipality="Maastricht"),
                     child("Piet Jansen", "12AB00", municipality="Heerlen")))
    assert route(signal, rules) == Held(Reason.OTHER_REGION, child=2)


def test_the_municipality_is_compared_as_people_write_it(rules: Rules) -> None:
    signal = Signal((child("Jan Jansen", "56EF00", municipality="gulpen-WITTEM"),
                     child("Piet Jansen", "De Maasbrug", municipality="  Maastricht\u200b")))
    result = deliveries(route(signal, rules))
    assert isinstance(result, tuple) and [delivery.school.code for delivery in result] == ["56EF00", "34CD00"]


def test_a_school_found_by_name_in_another_municipality_is_held(rules: Rules) -> None:
    """A same-named school elsewhere must not get the child without a question."""
    signal = Signal((child("Jan Jansen", "Basisschool Op de Heuvel", municipality="Vaals"),))
    assert route(signal, rules) == Held(Reason.MUNICIPALITY_MISMATCH, child=1)


def test_a_school_found_by_code_may_lie_in_another_municipality(rules: Rules) -> None:
    """Heuvelland children often go to school in Maastricht: the code is exact, so no question."""
    signal = Signal((child("Jan Jansen", "12AB00", municipality="Vaals"),))
    result = deliveries(route(signal, rules))
    assert isinstance(result, tuple) and result[0].school.code == "12AB00"


def test_a_school_that_serves_the_municipality_is_found_by_name(rules: Rules) -> None:
    dumped = rules.model_dump()
    for school in dumped["schools"]:
        if school["code"] == "56EF00":
            school["serves"] = ("Vaals",)
    serving = Rules.model_validate(dumped)
    signal = Signal((child("Jan Jansen", "Basisschool Op de Heuvel", municipality="Vaals"),))
    result = deliveries(route(signal, serving))
    assert isinstance(result, tuple) and result[0].school.code == "56EF00"


# --- a register that names a bare BRIN -------------------------------------------------------------------------


class OneSchoolRegister:
    """Stands in for the register index: every child is listed at one school code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def schools_of(self, name: str, birth_date: date) -> frozenset[str]:
        return frozenset({self.code})


def test_a_bare_brin_in_the_register_with_several_locations_in_the_rules_is_ambiguous(rules: Rules) -> None:
    result = route(Signal((child("Jan Jansen", None),)), rules, OneSchoolRegister("12AB"))
    assert result == Held(Reason.AMBIGUOUS_REGISTER, "het register noemt 12AB zonder vestiging; de regels kennen "
                          "12AB00, 12AB01", child=1)


def test_a_bare_brin_in_the_register_never_picks_the_one_location_the_rules_list(rules: Rules) -> None:
    """The child may be at a location that does not take part: the same as a School: line with a bare BRIN."""
    result = route(Signal((child("Jan Jansen", None),)), rules, OneSchoolRegister("56EF"))
    assert result == Held(Reason.AMBIGUOUS_REGISTER, "het register noemt 56EF zonder vestiging; de regels kennen "
                          "56EF00", child=1)


def test_a_pupil_the_register_lists_without_a_school_is_not_sent_anywhere(rules: Rules) -> None:
    result = route(Signal((child("Jan Jansen", None),)), rules, OneSchoolRegister("-"))
    assert result == Held(Reason.SCHOOL_NOT_PARTICIPATING, "het register noemt geen school met een BRIN-code",
                          child=1)


def test_a_school_line_agrees_with_the_bare_brin_of_the_register(rules: Rules) -> None:
    result = deliveries(route(Signal((child("Jan Jansen", "12AB01"),)), rules, OneSchoolRegister("12AB")))
    assert isinstance(result, tuple) and result[0].school.code == "12AB01"
    other = route(Signal((child("Jan Jansen", "12AB01"),)), rules, OneSchoolRegister("12AB00"))
    assert other == Held(Reason.REGISTER_MISMATCH, "het register noemt 12AB00", child=1)


SUGGESTED = [("12AB00", "Basisschool De Regenboog", ("De Regenboog",)), ("56EF00", "Basisschool Op de Heuvel", ()),
             ("34CD00", "Kindcentrum Sint Jozef", ())]


@pytest.mark.parametrize(("written", "hints"), [
    ("Basisschool De Regenbog", ["12AB00 Basisschool De Regenboog"]),
    ("Heuvel", ["56EF00 Basisschool Op de Heuvel"]),
    ("34CD0", ["34CD00 Kindcentrum Sint Jozef"]),
    ("Montessorischool Maastricht", []),
])
def test_an_officer_gets_close_schools_from_the_rules_as_hints(written: str, hints: list[str]) -> None:
    assert suggestions(written, SUGGESTED) == hints
