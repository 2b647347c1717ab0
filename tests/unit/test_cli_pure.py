"""The two pure commands: `rules check` and the `route` dry run. They send nothing and write nothing."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwc_mailer.cli import main
from hwc_mailer.edges.protocols import Tally
from hwc_mailer.service.setup import open_store
from hwc_mailer.settings.config import load_settings

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules" / "maastricht-heuvelland.yaml"

SIGNAL = """Beste collega,

Hierbij een Handle with Care-signaal.

Naam: Noor Janssen
Geboortedatum: 14-03-2017
School: 12AB00

Naam: Daan Janssen
Geboortedatum: 2 mei 2013
School: Basisschool Op de Heuvel

Met vriendelijke groet,
A. de Vries
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A service file whose state dir does not exist: a pure command must not create it."""
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
imap: {{host: mail.example.nl, username: lp@example.nl, password: {{env: NOT_SET}}}}
smtp: {{host: mail.example.nl}}
gpg: {{inbound_home: {tmp_path}/in, outbound_home: {tmp_path}/out, key_fingerprint: "{'A' * 40}"}}
sender: {{address: leerplicht@maastricht.example.nl}}
rules: {RULES}
state_dir: {tmp_path}/state
""")
    return path


def invoke(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-c", str(config), *args], input=stdin)
    return result.exit_code, result.output


def test_rules_check_accepts_the_sample_rules(config: Path) -> None:
    code, output = invoke(config, "rules", "check")
    assert code == 0, output
    assert output.startswith(f"ok: {RULES}: 1 trusted sender(s)")


def test_rules_check_lists_every_problem_with_its_position(config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = RULES.read_text()
    text = text.replace("email: hwc@regenboog.example.nl", "email: not-an-address", 1)
    text = text.replace("code: 90JK00", "code: 9JK", 1)
    text = text.replace("name: Basisschool Het Geuldal", "name: Basisschool Op de Heuvel", 1)
    broken.write_text(text)
    lines = text.splitlines()

    code, output = invoke(config, "rules", "check", str(broken))

    assert code == 1
    problems = output.splitlines()
    assert problems[-1] == "2 problem(s)"
    email_line = next(n for n, line in enumerate(lines, 1) if "not-an-address" in line)
    code_line = next(n for n, line in enumerate(lines, 1) if "code: 9JK" in line)
    assert problems[0].startswith(f"{broken}:{email_line}:")
    assert "not an e-mail address" in problems[0]
    assert problems[1].startswith(f"{broken}:{code_line}:")
    assert "not a BRIN code" in problems[1]


def test_rules_check_reports_every_ambiguous_name(config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "ambiguous.yaml"
    text = RULES.read_text().replace("name: Basisschool Het Geuldal", "name: Basisschool Op de Heuvel", 1)
    text = text.replace("name: Basisschool De Drielanden", "name: Kindcentrum De Maasbrug", 1)
    broken.write_text(text)

    code, output = invoke(config, "rules", "check", str(broken))

    assert code == 1
    assert output.count("must name one school") == 2
    assert output.splitlines()[-1] == "2 problem(s)"


def test_route_shows_where_each_child_would_go_without_repeating_names(config: Path, tmp_path: Path) -> None:
    code, output = invoke(config, "route", "-", stdin=SIGNAL)

    assert code == 0, output
    assert "child 1: name and date of birth read" in output
    assert "would deliver to 12AB00 Basisschool De Regenboog (Maastricht): child(ren) 1" in output
    assert "would deliver to 56EF00 Basisschool Op de Heuvel (Gulpen-Wittem): child(ren) 2" in output
    assert "contact hwc@regenboog.example.nl" in output
    for personal in ("Noor", "Daan", "Janssen", "14-03-2017", "2 mei 2013"):
        assert personal not in output
    assert not (tmp_path / "state").exists()


def test_route_says_why_a_signal_would_be_held(config: Path, tmp_path: Path) -> None:
    signal_file = tmp_path / "signal.txt"
    signal_file.write_text(SIGNAL.replace("School: 12AB00", "School: 12AB"))

    code, output = invoke(config, "route", str(signal_file))

    assert code == 1
    assert "would be held: manual:ambiguous-school (child 1)" in output
    assert "the officer would be told:" in output
    assert not (tmp_path / "state").exists()


def test_route_of_a_signal_without_the_code_words(config: Path) -> None:
    code, output = invoke(config, "route", "-", stdin="Naam: Noor Janssen\nGeboortedatum: 14-03-2017\n")
    assert code == 1
    assert "would be held: manual:not-hwc" in output


def test_version_names_the_installed_release(config: Path) -> None:
    code, output = invoke(config, "--version")
    assert code == 0 and re.fullmatch(r"hwc-mailer \d+\.\d+\.\d+\S*\n", output), output


def test_check_addresses_writes_the_units_allow_list_for_the_configured_servers(tmp_path: Path) -> None:
    """Address literals only: nothing here may ask a name server."""
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
imap: {{host: 127.0.0.1, username: lp@example.nl, password: {{env: NOT_SET}}}}
smtp: {{host: 127.0.0.2}}
gpg: {{inbound_home: {tmp_path}/in, outbound_home: {tmp_path}/out, key_fingerprint: "{'A' * 40}"}}
sender: {{address: leerplicht@maastricht.example.nl}}
rules: {RULES}
state_dir: {tmp_path}/state
gateways:
  securemail: {{host: "::1", username: lp, password: {{env: NOT_SET}}, header: "X-Secure: yes",
               processor_agreement: VO-1}}
""")
    code, output = invoke(path, "check", "--addresses")
    assert code == 0, output
    assert output.splitlines()[1:] == ["[Service]", "IPAddressAllow=127.0.0.1", "IPAddressAllow=127.0.0.2",
                                       "IPAddressAllow=::1"]
    assert not (tmp_path / "state").exists()


def test_show_config_prints_the_effective_file_that_loads_back_the_same_and_never_a_secret(tmp_path: Path) -> None:
    secret = tmp_path / "imap-password"
    secret.write_text("geheim-wachtwoord-123")
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
imap: {{host: 127.0.0.1, username: lp@example.nl, password: {{file: {secret}}}}}
smtp: {{host: 127.0.0.1}}
gpg: {{inbound_home: {tmp_path}/in, outbound_home: {tmp_path}/out, key_fingerprint: "{'A' * 40}"}}
sender: {{address: leerplicht@maastricht.example.nl}}
rules: {RULES}
state_dir: {tmp_path}/state
""")
    code, output = invoke(path, "show-config")
    assert code == 0, output
    assert "margin_minutes: 60" in output and "max_attempts: 3" in output and str(secret) in output
    assert "geheim-wachtwoord-123" not in output
    shown = tmp_path / "shown.yaml"
    shown.write_text(output)
    assert load_settings(shown) == load_settings(path)


def test_show_config_hides_a_password_in_the_database_url(config: Path) -> None:
    config.write_text(config.read_text() + "database_url: postgresql://hwc:S3cretPW@db.invalid/hwc\n")
    code, output = invoke(config, "show-config")
    assert code == 0, output
    assert "S3cretPW" not in output and "database_url: postgresql://hwc:***@db.invalid/hwc" in output


def test_stats_totals_never_give_away_a_small_row(config: Path, tmp_path: Path) -> None:
    """Maastricht 9 signals, Eijsden-Margraten 1: a total of 10 beside a shown 9 would tell the 1."""
    store = open_store(load_settings(config))
    for index, (municipality, count) in enumerate((("Maastricht", 9), ("Eijsden-Margraten", 1))):
        store.begin_attempt(f"INBOX:1:{index}", datetime.now(UTC))
        store.record_outcome(f"INBOX:1:{index}", "delivered", "2026-12", [Tally(municipality, count, count, count)])
    store.close()
    code, output = invoke(config, "stats")
    assert code == 0, output
    assert "delivered: >=5 signal(s), >=5 child(ren), >=5 school(s); held for a person: 0" in output
    code, exact = invoke(config, "stats", "--exact")
    assert "delivered: 10 signal(s), 10 child(ren), 10 school(s)" in exact
