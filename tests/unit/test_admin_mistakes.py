"""What an admin is told for the mistakes admins make: one row per mistake in the service file or the rules, each
starting from the shipped sample with one thing changed, and the exact lines `hwc-mailer check` (service file) or
`hwc-mailer rules check` (rules) prints, file:line:column first.

The same rows check the JSON Schemas an editor uses: where the schema can tell (the last column), it refuses what
the loader refuses; True says the schema sees the mistake too, False that only the loader does (a check across
keys or files), None that the file is not YAML an editor could check at all.

Every school, address and key is invented.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator
from ruamel.yaml import YAML

from hwc_mailer.cli import main
from hwc_mailer.errors import ConfigError, RulesError
from hwc_mailer.settings.base import json_data
from hwc_mailer.settings.config import load_settings
from hwc_mailer.settings.rules import load_rules
from hwc_mailer.settings.schema import json_text, schema_file

REPO = Path(__file__).resolve().parents[2]
CONFIG = "config"
RULES = "rules"
SAMPLES = {CONFIG: REPO / "config.example.yaml", RULES: REPO / "rules" / "maastricht-heuvelland.yaml"}
# The sample's commented gateway, switched on: a contact's gateway name is checked against it.
GATEWAYS = """gateways:
  securemail:
    host: submission.securemail.example
    username: leerplicht-maastricht
    password: {credential: securemail-password}
    header: "X-Secure-Mail: encrypt"
    processor_agreement: "Verwerkersovereenkomst SecureMail 2026-03"
"""
FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"


def sample(kind: str) -> str:
    return SAMPLES[kind].read_text(encoding="utf-8")


# A Windows editor's "ANSI": the é of café is one byte that UTF-8 cannot read.
LATIN_1_CONFIG = sample(CONFIG).replace("name: Leerplicht Maastricht-Heuvelland\n",
                                        "name: Leerplicht Maastricht-Heuvelland café\n").encode("latin-1")


def changed(kind: str, old: str | None, new: str | bytes) -> bytes:
    """The sample of `kind` with its only `old` replaced by `new`; with `old` None, `new` is the whole file."""
    if old is None:
        return new if isinstance(new, bytes) else new.encode("utf-8")
    text = sample(kind)
    assert text.count(old) == 1, old
    assert isinstance(new, str)
    return text.replace(old, new).encode("utf-8")


MISTAKES = [
    pytest.param(CONFIG,
                 "  username: leerplicht@maastricht.example.nl\n  password: {credential: imap-password}\nsmtp:",
                 "  user: leerplicht@maastricht.example.nl\n  password: {credential: imap-password}\nsmtp:",
                 True, [
        "config.yaml:8:3: unknown key `user` under imap; did you mean `username`?",
        "config.yaml:4:1: missing key `username` under imap",
    ], id="typo-in-a-key"),
    pytest.param(CONFIG,
                 "state_dir: /var/lib/hwc-mailer\n",
                 "state_dir: /var/lib/hwc-mailer\nregistry:\n  key: {credential: register-key}\n",
                 True, [
        "config.yaml:58:1: unknown key `registry` at top level; did you mean `register`?",
    ], id="typo-in-a-section-name"),
    pytest.param(CONFIG, "  port: 993\n", "   port: 993\n", None, [
        "config.yaml:6:8: not valid YAML: a `key:` where none can start; check the indentation, the space after the "
        "colon of the key above, or quote a value that holds `: `",
    ], id="key-indented-too-deep"),
    pytest.param(CONFIG, "  subject: Bericht van Leerplicht\n", "subject: Bericht van Leerplicht\n", True, [
        "config.yaml:38:1: unknown key `subject` at top level; it is a key under sender: check its indentation",
    ], id="last-key-of-a-section-not-indented"),
    pytest.param(CONFIG, "  port: 993\n", "\tport: 993\n", None, [
        "config.yaml:6:1: not valid YAML: a tab character; indent with spaces only",
    ], id="tab-for-indentation"),
    pytest.param(CONFIG,
                 "  host: mail.maastricht.example.nl\n  port: 993\n",
                 "  host:mail.maastricht.example.nl\n  port: 993\n",
                 None, [
        "config.yaml:6:7: not valid YAML: a `key:` where none can start; check the indentation, the space after the "
        "colon of the key above, or quote a value that holds `: `",
    ], id="no-space-after-the-colon"),
    pytest.param(CONFIG, "  port: 993\n", "  port: 993\n  port: 143\n", None, [
        "config.yaml:7:3: not valid YAML: key `port` is given twice in the same section; keep one",
    ], id="key-given-twice"),
    pytest.param(CONFIG, "  port: 993\n", '  port: "993"\n', True, [
        "config.yaml:6:3: imap.port: expected a whole number, got `993` in quotes; write it without quotes",
    ], id="port-in-quotes"),
    pytest.param(CONFIG, "  port: 993\n", "  port: imaps\n", True, [
        "config.yaml:6:3: imap.port: expected a whole number, got `imaps`",
    ], id="port-as-text"),
    pytest.param(CONFIG, "  port: 993\n", "  port: 99300\n", True, [
        "config.yaml:6:3: imap.port: must be at most 65535, got 99300",
    ], id="port-out-of-range"),
    pytest.param(CONFIG, "  port: 993\n", "  port: 993\n  idle_seconds: -60\n", True, [
        "config.yaml:7:3: imap.idle_seconds: must be more than 0, got -60",
    ], id="negative-period"),
    pytest.param(CONFIG,
                 "state_dir: /var/lib/hwc-mailer\n",
                 "state_dir: /var/lib/hwc-mailer\ntrust:\n  replay_days: 90 days\n",
                 True, [
        "config.yaml:59:3: trust.replay_days: expected a whole number, got `90 days`",
    ], id="unit-after-a-number"),
    pytest.param(CONFIG,
                 "  username: leerplicht@maastricht.example.nl\n  password: {credential: imap-password}\nsmtp:",
                 "  username: 100234\n  password: {credential: imap-password}\nsmtp:",
                 True, [
        "config.yaml:8:3: imap.username: expected text, got the number `100234`; put it in quotes",
    ], id="username-of-digits"),
    pytest.param(CONFIG,
                 "  tls: implicit                 # implicit (port 993) or starttls (port 143)\n",
                 "  tls: ssl\n",
                 True, [
        "config.yaml:7:3: imap.tls: expected one of: implicit, starttls; got `ssl`",
    ], id="unknown-tls-mode"),
    pytest.param(CONFIG,
                 "state_dir: /var/lib/hwc-mailer\n",
                 "state_dir: /var/lib/hwc-mailer\nlogin:\n  method: microsft\n",
                 True, [
        "config.yaml:59:3: login.method: expected one of: password, microsoft, oauth2; got `microsft`",
    ], id="unknown-login-method"),
    pytest.param(CONFIG,
                 '  key_fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567"',
                 '  key_fingerprint: "0123456789ABCDEF0123456789ABCDEF0123456"',
                 True, [
        "config.yaml:34:3: gpg.key_fingerprint: not a 40-character fingerprint (40 hex digits, spaces allowed); got "
        "39 characters: `0123456789ABCDEF0123456789ABCDEF0123456`",
    ], id="fingerprint-of-39-digits"),
    pytest.param(CONFIG,
                 '  key_fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567"',
                 "  key_fingerprint: 1234567890123456789012345678901234567890",
                 True, [
        "config.yaml:34:3: gpg.key_fingerprint: put the fingerprint in quotes: YAML read it as a number",
    ], id="all-digit-fingerprint-unquoted"),
    pytest.param(CONFIG, "imap:\n  host: mail.maastricht.example.nl\n", "imap:\n", True, [
        "config.yaml:4:1: missing key `host` under imap",
    ], id="missing-required-key"),
    pytest.param(CONFIG,
                 "gpg:\n  inbound_home: /var/lib/hwc-mailer/gnupg-in\n  outbound_home: /var/lib/hwc-mailer/gnupg-out\n"
                 '  key_fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567"\n',
                 "",
                 True, [
        "config.yaml: missing key `gpg` at top level",
    ], id="missing-section"),
    pytest.param(CONFIG, "gpg:\n  inbound_home:", "  inbound_home:", True, [
        "config.yaml:31:3: unknown key `inbound_home` under folders; it is a key under gpg: check its indentation",
        "config.yaml:32:3: unknown key `outbound_home` under folders; it is a key under gpg: check its indentation",
        "config.yaml:33:3: unknown key `key_fingerprint` under folders; it is a key under gpg: check its indentation",
        "config.yaml: missing key `gpg` at top level",
    ], id="section-name-deleted"),
    pytest.param(CONFIG, "imap:\n  host: mail.maastricht.example.nl\n", "imap:\n  host:\n", True, [
        "config.yaml:5:3: imap.host: expected text, got nothing (the value is empty)",
    ], id="empty-value"),
    pytest.param(CONFIG,
                 "  password: {credential: imap-password}\n# Microsoft",
                 "  password: hunter2\n# Microsoft",
                 True, [
        "config.yaml:15:3: smtp.password: expected {file: PATH}, {env: VARIABLE} or {credential: NAME} (where the "
        "secret is read from, never the secret); got text",
    ], id="password-written-in-the-file"),
    pytest.param(CONFIG,
                 "  password: {credential: imap-password}\n# Microsoft",
                 "  password: {credential: imap-password, file: /etc/hwc-mailer/smtp-password}\n# Microsoft",
                 True, [
        "config.yaml:15:3: smtp.password: give exactly one of file, env, credential",
    ], id="secret-with-two-sources"),
    pytest.param(CONFIG,
                 "  address: leerplicht@maastricht.example.nl\n",
                 "  address: leerplicht.maastricht.example.nl\n",
                 True, [
        "config.yaml:36:3: sender.address: not an e-mail address (name@domain); got `leerplicht.maastricht.example.nl`",
    ], id="bad-sender-address"),
    pytest.param(CONFIG,
                 "  address: leerplicht@maastricht.example.nl\n  name: Leerplicht Maastricht-Heuvelland\n  subject: "
                 "Bericht van Leerplicht\n",
                 "  - address: leerplicht@maastricht.example.nl\n  - name: Leerplicht Maastricht-Heuvelland\n  - "
                 "subject: Bericht van Leerplicht\n",
                 True, [
        "config.yaml:35:1: sender: expected a section with keys under it (address, ...); got a list",
    ], id="list-where-a-section-belongs"),
    pytest.param(CONFIG,
                 "state_dir: /var/lib/hwc-mailer\n",
                 "state_dir: /var/lib/hwc-mailer\nschool_day:\n  holidays: [25-12-2026]\n",
                 True, [
        "config.yaml:59:14: school_day.holidays[0]: expected a date as YYYY-MM-DD, got `25-12-2026`",
    ], id="date-written-the-dutch-way"),
    pytest.param(CONFIG,
                 "state_dir: /var/lib/hwc-mailer\n",
                 "state_dir: /var/lib/hwc-mailer\nschool_day:\n  days: [mon, tue, wed, thu, vr]\n",
                 True, [
        "config.yaml:59:30: school_day.days[4]: expected one of: mon, tue, wed, thu, fri, sat, sun; got `vr`",
    ], id="weekday-in-dutch"),
    pytest.param(CONFIG,
                 "state_dir: /var/lib/hwc-mailer\n",
                 "state_dir: /var/lib/hwc-mailer\nschool_day:\n  timezone: Europe/Maastricht\n",
                 False, [
        "config.yaml:59:3: school_day.timezone: unknown time zone 'Europe/Maastricht'; e.g. Europe/Amsterdam",
    ], id="unknown-time-zone"),
    pytest.param(CONFIG, None, "# to do\n", None, [
        "config.yaml: the file is empty (or holds only comments)",
    ], id="empty-file"),
    pytest.param(CONFIG, None, "- imap\n- smtp\n", True, [
        "config.yaml:1:1: expected a section with keys under it (imap, smtp, gpg, sender, ...); got a list",
    ], id="list-as-the-whole-file"),
    pytest.param(CONFIG, None, LATIN_1_CONFIG, None, [
        "config.yaml:37:45: not UTF-8 text; save the file as UTF-8",
    ], id="saved-as-latin-1"),
    pytest.param(RULES,
                 '    fingerprints:\n      - "1111111111111111111111111111111111111111"',
                 '    fingerprint:\n      - "1111111111111111111111111111111111111111"',
                 True, [
        "rules.yaml:21:5: unknown key `fingerprint` under trusted_senders[0]; did you mean `fingerprints`?",
        "rules.yaml:18:5: missing key `fingerprints` under trusted_senders[0]",
    ], id="typo-in-a-required-key"),
    pytest.param(RULES,
                 "        email: hwc@opdeheuvel.example.nl\n",
                 "        email: hwc@opdeheuvel.example.nl\n        profile: pgp\n",
                 True, [
        "rules.yaml:77:9: schools[3].contacts[0].profile: expected one of: openpgp, smime, gateway; got `pgp`",
    ], id="unknown-profile"),
    pytest.param(RULES,
                 '        fingerprint: "5555555555555555555555555555555555555555"',
                 "        profile: smime",
                 True, [
        "rules.yaml:75:9: schools[3].contacts[0]: profile smime needs certificate",
    ], id="profile-without-its-key"),
    pytest.param(RULES,
                 "        email: hwc@opdeheuvel.example.nl\n",
                 "        email: hwc@opdeheuvel.example.nl\n        profile: smime\n",
                 True, [
        "rules.yaml:75:9: schools[3].contacts[0]: fingerprint belongs to profile openpgp, not smime: remove it or set "
        "the profile",
    ], id="profile-changed-but-the-old-key-kept"),
    pytest.param(RULES,
                 "        email: hwc@opdeheuvel.example.nl\n        fingerprint: "
                 '"5555555555555555555555555555555555555555"',
                 "        email: hwc@opdeheuvel.example.nl\n        profile: gateway\n        gateway: securemial",
                 False, [
        "rules.yaml: school 56EF00, contact hwc@opdeheuvel.example.nl: gateway 'securemial' is not in the service "
        "file's gateways (securemail)",
    ], id="unknown-gateway-name"),
    pytest.param(RULES, "  - code: 12AB01\n", "  - code: 12AB00\n", False, [
        "rules.yaml:49:5: schools[1].code: code '12AB00' is given to two schools, 'Basisschool De Regenboog' and "
        "'Basisschool De Regenboog, locatie Heer'; each code must name one school",
    ], id="school-code-given-twice"),
    pytest.param(RULES, "  - code: 56EF00\n", "  - code: 56-EF-00\n", True, [
        "rules.yaml:70:5: schools[3].code: school code '56-EF-00' is not a BRIN code like 12AB or 12AB00",
    ], id="bad-school-code"),
    pytest.param(RULES, "        email: hwc@geuldal.example.nl\n", "        email: hwc-geuldal.example.nl\n", True, [
        "rules.yaml:85:9: schools[4].contacts[0].email: not an e-mail address: 'hwc-geuldal.example.nl'",
    ], id="bad-contact-address"),
    pytest.param(RULES,
                 '"5555555555555555555555555555555555555555"',
                 '"555555555555555555555555555555555555555"',
                 True, [
        "rules.yaml:77:9: schools[3].contacts[0].fingerprint: not a 40-character fingerprint (40 hex digits, spaces "
        "allowed); got 39 characters: `555555555555555555555555555555555555555`",
    ], id="fingerprint-of-39-digits"),
    pytest.param(RULES,
                 'fingerprint: "5555555555555555555555555555555555555555"',
                 "fingerprint: 5555555555555555555555555555555555555555",
                 True, [
        "rules.yaml:77:9: schools[3].contacts[0].fingerprint: put the fingerprint in quotes: YAML read it as a number",
    ], id="all-digit-fingerprint-unquoted"),
    pytest.param(RULES,
                 "    addresses:\n      - hwc@veiligthuis-zl.example.nl\n",
                 "    addresses: hwc@veiligthuis-zl.example.nl\n",
                 True, [
        "rules.yaml:19:5: trusted_senders[0].addresses: expected a list (`[a, b]`, or lines starting with `- `), got "
        "`hwc@veiligthuis-zl.example.nl`",
    ], id="one-address-where-a-list-belongs"),
    pytest.param(RULES,
                 "municipalities: [Maastricht, Eijsden-Margraten, Gulpen-Wittem, Meerssen, Vaals, Valkenburg aan de "
                 "Geul]",
                 "municipalities: Maastricht, Eijsden-Margraten, Gulpen-Wittem, Meerssen, Vaals, Valkenburg aan de "
                 "Geul",
                 True, [
        "rules.yaml:37:1: municipalities: expected a list (`[a, b]`, or lines starting with `- `), got `Maastricht, "
        "Eijsden-Margraten, Gulpen-Wittem, Meerssen, Vaal...`",
    ], id="list-without-its-brackets"),
    pytest.param(RULES,
                 "    contacts:\n      - name: S. Vliegen\n        email: hwc@drielanden.example.nl\n        "
                 'fingerprint: "7777777777777777777777777777777777777777"\n',
                 "    contacts:\n      name: S. Vliegen\n      email: hwc@drielanden.example.nl\n      fingerprint: "
                 '"7777777777777777777777777777777777777777"\n',
                 True, [
        "rules.yaml:92:5: schools[5].contacts: expected a list (`[a, b]`, or lines starting with `- `), got a mapping "
        "(keys under it)",
    ], id="contact-without-its-dash"),
    pytest.param(RULES,
                 '        fingerprint: "7777777777777777777777777777777777777777"\n',
                 '    fingerprint: "7777777777777777777777777777777777777777"\n',
                 True, [
        "rules.yaml:95:5: unknown key `fingerprint` under schools[5]; it is a key under officers[n] or "
        "schools[n].contacts[n]: check its indentation",
        "rules.yaml:93:9: schools[5].contacts[0]: profile openpgp needs fingerprint",
    ], id="contact-key-not-indented"),
    pytest.param(RULES,
                 "    municipality: Vaals\n    contacts:\n      - name: S. Vliegen\n        email: "
                 'hwc@drielanden.example.nl\n        fingerprint: "7777777777777777777777777777777777777777"\n',
                 "    municipality: Vaals\n",
                 True, [
        "rules.yaml:88:5: missing key `contacts` under schools[5]",
    ], id="school-without-contacts"),
    pytest.param(RULES, "    name: Basisschool De Drielanden\n", "    name: Basisschool: De Drielanden\n", None, [
        "rules.yaml:89:22: not valid YAML: a `key:` where none can start; check the indentation, the space after the "
        "colon of the key above, or quote a value that holds `: `",
    ], id="colon-in-an-unquoted-name"),
    pytest.param(RULES, "    aliases: [De Drielanden]\n", "    aliases: [De Drielanden\n", None, [
        "rules.yaml:91:17: not valid YAML: a list started with `[` is not closed with `]` (opened at line 90)",
    ], id="list-not-closed"),
    pytest.param(RULES, "    name: Basisschool De Drielanden\n", '    name: "Basisschool De Drielanden\n', None, [
        "rules.yaml:95:23: not valid YAML: this line does not fit the lines above; check its indentation (the keys of "
        "one section start in the same column) and that every quote above is closed",
    ], id="quote-not-closed"),
    pytest.param(RULES, None, "", None, [
        "rules.yaml: the file is empty (or holds only comments)",
    ], id="empty-file"),
]


def admin_sees(tmp_path: Path, kind: str, data: bytes) -> tuple[int, list[str]]:
    """Exit code and lines of `check --offline` for a service file, of `rules check` for rules (with the sample
    service file, with a gateway, that names them), paths shown relative to the files' folder."""
    config, rules = tmp_path / "config.yaml", tmp_path / "rules.yaml"
    config.write_bytes(data if kind == CONFIG else (sample(CONFIG) + GATEWAYS).encode("utf-8"))
    rules.write_bytes(data if kind == RULES else sample(RULES).encode("utf-8"))
    command = ["check", "--offline"] if kind == CONFIG else ["rules", "check"]
    result = CliRunner().invoke(main, ["-c", str(config), *command])
    output = result.output
    for folder in (tmp_path.resolve(), tmp_path):
        output = output.replace(f"{folder}/", "")
    return result.exit_code, output.splitlines()


@pytest.mark.parametrize(("kind", "old", "new", "schema_sees_it", "said"), MISTAKES)
def test_each_mistake_is_told_in_admin_words_at_its_place(tmp_path: Path, kind: str, old: str | None,
                                                          new: str | bytes, schema_sees_it: bool | None,
                                                          said: list[str]) -> None:
    code, lines = admin_sees(tmp_path, kind, changed(kind, old, new))
    if kind == CONFIG:
        assert code == 2, lines
        assert lines[0].startswith(f"hwc-mailer CRITICAL: {len(said)} problem(s), 0 warning(s): "), lines
        assert lines[1:] == [f"problem: {line}" for line in said]
    else:
        assert code == 1, lines
        assert lines == [*said, f"{len(said)} problem(s)"]


# --- the JSON Schemas ---------------------------------------------------------------------------------------------


def schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_file(kind).read_text(encoding="utf-8"))
    return loaded


def schema_problems(kind: str, data: bytes) -> list[str]:
    """What the shipped schema says about a YAML file, read as an editor reads it (dates are text), formats
    (dates) checked as editors do."""
    document = YAML(typ="rt").load(data.decode("utf-8"))
    validator = Draft7Validator(schema(kind), format_checker=Draft7Validator.FORMAT_CHECKER)
    return [error.message for error in validator.iter_errors(json_data(document))]


@pytest.mark.parametrize("kind", [CONFIG, RULES])
def test_the_shipped_schemas_are_the_ones_the_models_make(kind: str) -> None:
    assert schema_file(kind).read_text(encoding="utf-8") == json_text(kind), (
        f"the models changed since {schema_file(kind).name} was written: run "
        "`.venv/bin/python -m hwc_mailer.settings.schema` and commit the schemas")


@pytest.mark.parametrize("kind", [CONFIG, RULES])
def test_the_schemas_are_valid_draft_7(kind: str) -> None:
    Draft7Validator.check_schema(schema(kind))


@pytest.mark.parametrize("kind", [CONFIG, RULES])
def test_the_samples_name_their_schema_in_their_first_line_and_pass_it(kind: str) -> None:
    first = sample(kind).splitlines()[0]
    modeline = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert modeline, first
    assert (SAMPLES[kind].parent / modeline.group(1)).resolve() == schema_file(kind)
    assert schema_problems(kind, sample(kind).encode("utf-8")) == []


@pytest.mark.parametrize("kind", [CONFIG, RULES])
def test_hwc_mailer_schema_prints_the_shipped_schema(kind: str) -> None:
    result = CliRunner().invoke(main, ["schema", kind])
    assert result.exit_code == 0, result.output
    assert result.output == schema_file(kind).read_text(encoding="utf-8")


@pytest.mark.parametrize(("kind", "old", "new", "schema_sees_it", "said"),
                         [row for row in MISTAKES if row.values[3] is not None])
def test_the_schema_refuses_what_the_loader_refuses_where_it_can_tell(kind: str, old: str | None, new: str | bytes,
                                                                      schema_sees_it: bool, said: list[str]) -> None:
    assert bool(schema_problems(kind, changed(kind, old, new))) is schema_sees_it


SMIME_CERTIFICATE = """|
          -----BEGIN CERTIFICATE-----
          MIIBszCCAVmgAwIBAgIUY29udGFjdA==
          -----END CERTIFICATE-----"""
OPTIONAL_SECTIONS = """smime:
  certificate: /etc/hwc-mailer/leerplicht-smime.pem
  key: {credential: smime-key}
  ca_file: /etc/hwc-mailer/smime-cas.pem
  crl_files: [/etc/hwc-mailer/pkioverheid.crl]
register:
  key: {credential: register-key}
  max_age_days: 8
  columns: {location: null}
school_day:
  start: "08:15"
  holidays: [2026-12-25, "2026-12-28"]
  on_call: [piket@maastricht.example.nl]
"""


@pytest.mark.parametrize(("kind", "old", "new"), [
    pytest.param(CONFIG, f'"{FINGERPRINT}"', '"0123 4567 89ab CDEF 0123  4567 89AB CDEF 0123 4567"',
                 id="fingerprint-in-gpg-groups"),
    pytest.param(CONFIG, "  port: 993\n", "  port: 993\n  idle_seconds: 29.5\n  poll_seconds: 60\n",
                 id="whole-and-broken-numbers-for-periods"),
    pytest.param(CONFIG, "state_dir: /var/lib/hwc-mailer\n", "state_dir: /var/lib/hwc-mailer\n" + GATEWAYS
                 + OPTIONAL_SECTIONS, id="optional-sections"),
    pytest.param(CONFIG, "  quarantine: HWC-Quarantaine\n", "  quarantine: HWC-Quarantaine\n  sent: null\n",
                 id="a-folder-set-to-null"),
    pytest.param(RULES, '"5555555555555555555555555555555555555555"', '"5555 5555 5555 5555 5555  5555 5555 5555 '
                 '5555 5555"', id="contact-fingerprint-in-gpg-groups"),
    pytest.param(RULES, '        fingerprint: "5555555555555555555555555555555555555555"',
                 f"        profile: smime\n        certificate: {SMIME_CERTIFICATE}", id="smime-contact"),
    pytest.param(RULES, '        fingerprint: "5555555555555555555555555555555555555555"',
                 "        profile: gateway\n        gateway: securemail", id="gateway-contact"),
    pytest.param(RULES, '    fingerprint: "8888888888888888888888888888888888888888"\n', "", id="officer-without-key"),
])
def test_what_the_loader_accepts_the_schema_accepts(tmp_path: Path, kind: str, old: str, new: str) -> None:
    data = changed(kind, old, new)
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(data)
    if kind == CONFIG:
        load_settings(path)
    else:
        load_rules(path)
    assert schema_problems(kind, data) == []


@pytest.mark.parametrize(("kind", "old", "new"), [
    pytest.param(CONFIG, "  inbox: INBOX\n", "  inbox: INBOX\n  spam: Junk\n", id="unknown-key"),
    pytest.param(RULES, '"5555555555555555555555555555555555555555"', '"5555555555555555555555555555555555555555 5"',
                 id="fingerprint-of-41-digits"),
])
def test_a_broken_file_is_refused_by_loader_and_schema(tmp_path: Path, kind: str, old: str, new: str) -> None:
    data = changed(kind, old, new)
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(data)
    with pytest.raises((ConfigError, RulesError)):
        (load_settings if kind == CONFIG else load_rules)(path)
    assert schema_problems(kind, data)
