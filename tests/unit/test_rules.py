"""Loading the routing rules: a good file loads, a bad one says exactly where and why.

Every school, address and key is invented (see rules/maastricht-heuvelland.yaml).
"""

import re
from pathlib import Path

import pytest

from hwc_mailer.errors import RulesError
from hwc_mailer.settings.rules import Rules, load_rules

SAMPLE = Path(__file__).resolve().parents[2] / "rules" / "maastricht-heuvelland.yaml"


def sample_text() -> str:
    """The shipped sample rules, as an admin would start from them."""
    return SAMPLE.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    """Write `text` as rules.yaml in tmp_path."""
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    """The sample with exactly one occurrence of `old` replaced by `new`."""
    text = sample_text()
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line that contains `needle`."""
    numbers = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(numbers) == 1, needle
    return numbers[0]


def load_error(tmp_path: Path, text: str) -> RulesError:
    """The RulesError that loading `text` raises."""
    path = write(tmp_path, text)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    return caught.value


def assert_points_at(error: RulesError, path: Path, line: int) -> None:
    """The error's text starts with file:line:column, with the expected line."""
    match = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): ", str(error))
    assert match, f"no file:line:column in {str(error)!r}"
    assert int(match.group(1)) == line, str(error)
    assert error.line == line


# --- a good file --------------------------------------------------------------------------


def test_the_sample_rules_load(tmp_path: Path) -> None:
    """The shipped sample is valid, copied anywhere."""
    rules = load_rules(write(tmp_path, sample_text()))
    assert isinstance(rules, Rules)
    assert [school.code for school in rules.schools] == ["12AB00", "12AB01", "34CD00", "56EF00", "78GH00", "90JK00"]
    maasbrug = rules.school_by_code("34CD00")
    assert maasbrug is not None
    assert [contact.email for contact in maasbrug.contacts] == ["hwc@maasbrug.example.nl", "ib@maasbrug.example.nl"]
    assert rules.trusted_senders[0].signs_with("1111111111111111111111111111111111111111")


def test_fingerprints_written_in_gpg_groups_are_accepted(tmp_path: Path) -> None:
    """`gpg --fingerprint` prints groups of four; lower case and spaces are normalised."""
    text = edited('"5555555555555555555555555555555555555555"',
                  '"ABCD ef01 2345 6789 ABCD  EF01 2345 6789 ABCD EF01"')
    rules = load_rules(write(tmp_path, text))
    school = rules.school_by_code("56EF00")
    assert school is not None
    assert school.contacts[0].fingerprint == "ABCDEF0123456789ABCDEF0123456789ABCDEF01"


def test_a_missing_file_is_a_rules_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RulesError) as caught:
        load_rules(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read file")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    text = edited("    aliases: [De Maasbrug]", "    aliases: [De Maasbrug")
    error = load_error(tmp_path, text)
    assert "not valid YAML" in str(error)
    assert error.line is not None


# --- ambiguity is refused -------------------------------------------------------------------


def test_a_duplicate_school_code_is_refused(tmp_path: Path) -> None:
    text = edited("  - code: 12AB01", "  - code: 12AB00")
    error = load_error(tmp_path, text)
    assert "12AB00" in str(error)


def test_a_name_used_by_two_schools_is_refused(tmp_path: Path) -> None:
    """An alias of one school equal to another school's name, up to case and spacing."""
    text = edited("aliases: [De Maasbrug]", "aliases: [De Maasbrug, basisschool  DE regenboog]")
    error = load_error(tmp_path, text)
    assert "is used by schools 12AB00 and 34CD00" in str(error)


def test_an_alias_used_by_two_schools_is_refused(tmp_path: Path) -> None:
    text = edited("aliases: [Op de Heuvel]", "aliases: [Op de Heuvel, Regenboog Heer]")
    error = load_error(tmp_path, text)
    assert "is used by schools 12AB01 and 56EF00" in str(error)


def test_one_school_may_repeat_its_own_name_as_alias(tmp_path: Path) -> None:
    """Not ambiguous: both spellings lead to the same school."""
    text = edited("aliases: [Op de Heuvel]", "aliases: [Op de Heuvel, BASISSCHOOL op de heuvel]")
    rules = load_rules(write(tmp_path, text))
    assert rules.school_by_name("Basisschool Op de Heuvel") is not None


def test_a_duplicate_alias_error_points_at_its_line(tmp_path: Path) -> None:
    text = edited("aliases: [Op de Heuvel]", "aliases: [Op de Heuvel, Regenboog Heer]")
    error = load_error(tmp_path, text)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "Op de Heuvel, Regenboog Heer"))


def test_an_address_listed_for_two_senders_is_refused(tmp_path: Path) -> None:
    first = '      - "1111111111111111111111111111111111111111"\n'
    text = edited(first, first + """\
  - name: Veilig Thuis Limburg-Noord
    addresses: [HWC@veiligthuis-zl.example.nl]
    fingerprints: ["9999999999999999999999999999999999999999"]
""")
    error = load_error(tmp_path, text)
    assert "listed for both 'Veilig Thuis Zuid-Limburg' and 'Veilig Thuis Limburg-Noord'" in str(error)


def test_an_officer_address_that_is_a_trusted_senders_is_refused_at_its_line(tmp_path: Path) -> None:
    text = edited("    email: leerplicht-team@maastricht.example.nl", "    email: HWC@veiligthuis-zl.example.nl")
    error = load_error(tmp_path, text)
    assert "officer address 'HWC@veiligthuis-zl.example.nl' is also a trusted sender's" in str(error)
    assert error.line == line_of(text, "email: HWC@veiligthuis-zl.example.nl")


# --- shapes, each pointing at its line ----------------------------------------------------


@pytest.mark.parametrize("code", ["56EF0", "56EF000", "5EF00", "56-EF-00", "56ef00"])
def test_a_bad_school_code_is_refused_at_its_line(tmp_path: Path, code: str) -> None:
    text = edited("  - code: 56EF00", f"  - code: {code}")
    error = load_error(tmp_path, text)
    assert "is not a BRIN code like 12AB or 12AB00" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, f"code: {code}"))


def test_a_bad_school_code_points_at_the_code_line_wherever_it_is(tmp_path: Path) -> None:
    text = edited("  - code: 56EF00\n    name: Basisschool Op de Heuvel\n",
                  "  - name: Basisschool Op de Heuvel\n    code: 56EF0\n")
    error = load_error(tmp_path, text)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "code: 56EF0"))


def test_a_bad_contact_email_is_refused_at_its_line(tmp_path: Path) -> None:
    text = edited("email: hwc@geuldal.example.nl", "email: hwc-geuldal.example.nl")
    error = load_error(tmp_path, text)
    assert "schools[4].contacts[0].email" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "hwc-geuldal.example.nl"))


def test_a_bad_sender_address_is_refused(tmp_path: Path) -> None:
    text = edited("- hwc@veiligthuis-zl.example.nl", "- veiligthuis-zl.example.nl")
    error = load_error(tmp_path, text)
    assert "not an e-mail address: 'veiligthuis-zl.example.nl'" in str(error)
    assert error.line is not None


def test_a_bad_sender_address_points_at_its_line(tmp_path: Path) -> None:
    text = edited("- hwc@veiligthuis-zl.example.nl", "- veiligthuis-zl.example.nl")
    error = load_error(tmp_path, text)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "- veiligthuis-zl.example.nl"))


def test_an_unquoted_all_digit_fingerprint_tells_to_quote_it(tmp_path: Path) -> None:
    text = edited('fingerprint: "5555555555555555555555555555555555555555"',
                  "fingerprint: 5555555555555555555555555555555555555555")
    error = load_error(tmp_path, text)
    assert "schools[3].contacts[0].fingerprint" in str(error)
    assert "put the fingerprint in quotes" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "fingerprint: 5555"))


def test_an_unquoted_sender_fingerprint_tells_to_quote_it(tmp_path: Path) -> None:
    text = edited('- "1111111111111111111111111111111111111111"', "- 1111111111111111111111111111111111111111")
    error = load_error(tmp_path, text)
    assert "put the fingerprint in quotes" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "- 1111"))


def test_a_short_fingerprint_is_refused(tmp_path: Path) -> None:
    text = edited('"7777777777777777777777777777777777777777"', '"77777777"')
    error = load_error(tmp_path, text)
    assert "schools[5].contacts[0].fingerprint" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, '"77777777"'))


def test_a_typo_in_an_optional_key_is_refused_at_its_line(tmp_path: Path) -> None:
    """`alias:` instead of `aliases:` must not silently mean "no aliases"."""
    text = edited("    aliases: [Het Geuldal]", "    alias: [Het Geuldal]")
    error = load_error(tmp_path, text)
    assert str(error).endswith(": unknown key `alias` under schools[4]; did you mean `aliases`?")
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "alias: [Het Geuldal]"))


def test_a_typo_in_a_required_key_names_the_typo_and_its_line(tmp_path: Path) -> None:
    text = edited("    municipality: Vaals", "    municipalty: Vaals")
    error = load_error(tmp_path, text)
    assert "municipalty" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "municipalty: Vaals"))


def test_a_school_without_contacts_is_refused(tmp_path: Path) -> None:
    text = edited("""\
    contacts:
      - name: S. Vliegen
        email: hwc@drielanden.example.nl
        fingerprint: "7777777777777777777777777777777777777777"
""", "    contacts: []\n")
    error = load_error(tmp_path, text)
    assert "schools[5].contacts" in str(error)
    assert_points_at(error, tmp_path / "rules.yaml", line_of(text, "contacts: []"))


def test_rules_without_trusted_senders_are_refused(tmp_path: Path) -> None:
    error = load_error(tmp_path, "schools: []\n")
    assert "trusted_senders" in str(error)
