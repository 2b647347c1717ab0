"""The service file: paths anchored at its folder, secrets from outside it, errors with a line.

Hosts, addresses and keys are invented.
"""

import re
from pathlib import Path

import pytest

from hwc_mailer.errors import ConfigError
from hwc_mailer.outbound.notice import PACKAGED_TEMPLATES
from hwc_mailer.settings.config import Secret, Settings, load_settings

FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"

SERVICE_FILE = f"""\
imap:
  host: mail.example.nl
  port: 993
  tls: implicit
  ca_file: tls/ca.pem
  username: leerplicht@example.nl
  password: {{file: secrets/imap-password}}
  idle_seconds: 30
smtp:
  host: mail.example.nl
  port: 587
  tls: starttls
  ca_file: tls/ca.pem
  username: leerplicht@example.nl
  password: {{env: HWC_TEST_SMTP_PASSWORD}}
gpg:
  inbound_home: gnupg-in
  outbound_home: gnupg-out
  key_fingerprint: "{FINGERPRINT}"
  passphrase: {{credential: gpg-passphrase}}
sender:
  address: leerplicht@example.nl
  name: Leerplicht Maastricht-Heuvelland
rules: rules.yaml
templates: templates
state_dir: state
"""


def write(directory: Path, text: str = SERVICE_FILE) -> Path:
    """Write a service file as config.yaml in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert SERVICE_FILE.count(old) == 1, old
    return SERVICE_FILE.replace(old, new)


def line_of(text: str, needle: str) -> int:
    numbers = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(numbers) == 1, needle
    return numbers[0]


def config_error(tmp_path: Path, text: str) -> str:
    """The text of the ConfigError that loading `text` raises."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return str(caught.value)


def assert_points_at(message: str, path: Path, line: int) -> None:
    match = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): ", message)
    assert match, f"no file:line:column in {message!r}"
    assert int(match.group(1)) == line, message


# --- paths --------------------------------------------------------------------------------


def test_relative_paths_are_taken_from_the_service_files_folder(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the working directory, every relative path lands next to the service file."""
    etc = tmp_path / "etc" / "hwc-mailer"
    path = write(etc)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("etc/hwc-mailer/config.yaml"))
    assert path.resolve().parent == etc.resolve()
    base = etc.resolve()
    assert settings.rules == base / "rules.yaml"
    assert settings.templates == base / "templates"
    assert settings.state_dir == base / "state"
    assert settings.gpg.inbound_home == base / "gnupg-in"
    assert settings.gpg.outbound_home == base / "gnupg-out"
    assert settings.imap.ca_file == base / "tls" / "ca.pem"
    assert settings.smtp.ca_file == base / "tls" / "ca.pem"
    assert settings.imap.password is not None and settings.imap.password.file == base / "secrets" / "imap-password"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    text = edited("state_dir: state", "state_dir: /var/lib/hwc-mailer").replace(
        "  inbound_home: gnupg-in", "  inbound_home: /srv/gnupg-in")
    settings = load_settings(write(tmp_path, text))
    assert settings.state_dir == Path("/var/lib/hwc-mailer")
    assert settings.gpg.inbound_home == Path("/srv/gnupg-in")


def test_the_rules_default_to_beside_the_service_file_and_the_templates_to_the_packaged_ones(
        tmp_path: Path) -> None:
    text = edited("rules: rules.yaml\ntemplates: templates\n", "")
    settings = load_settings(write(tmp_path, text))
    assert settings.rules == tmp_path.resolve() / "rules.yaml"
    assert settings.templates is None
    assert {path.name for path in PACKAGED_TEMPLATES.iterdir()} >= {"school_notice.txt.j2", "officer_alert.txt.j2"}


def test_the_database_is_sqlite_in_the_state_dir_by_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path))
    assert settings.database == f"sqlite:///{tmp_path.resolve() / 'state' / 'hwc-mailer.db'}"


def test_a_database_url_replaces_the_default(tmp_path: Path) -> None:
    text = SERVICE_FILE + "database_url: postgresql://hwc@localhost/hwc\n"
    assert load_settings(write(tmp_path, text)).database == "postgresql://hwc@localhost/hwc"


def test_the_sample_service_file_loads() -> None:
    sample = Path(__file__).resolve().parents[2] / "config.example.yaml"
    settings = load_settings(sample)
    assert isinstance(settings, Settings)
    assert settings.imap.password is not None and settings.imap.password.credential == "imap-password"


# --- secrets ------------------------------------------------------------------------------


def test_a_secret_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path))
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "imap-password").write_text("geheim wachtwoord\n", encoding="utf-8")
    assert settings.imap.password is not None and settings.imap.password.read() == "geheim wachtwoord"


def test_a_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path))
    assert settings.imap.password is not None
    with pytest.raises(ConfigError) as caught:
        settings.imap.password.read()
    message = str(caught.value)
    assert "cannot read secret file" in message
    assert str(tmp_path.resolve() / "secrets" / "imap-password") in message


def test_a_secret_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWC_TEST_SMTP_PASSWORD", "ander wachtwoord")
    settings = load_settings(write(tmp_path))
    assert settings.smtp.password is not None
    assert settings.smtp.password.read() == "ander wachtwoord"


def test_a_missing_environment_variable_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HWC_TEST_SMTP_PASSWORD", raising=False)
    settings = load_settings(write(tmp_path))
    assert settings.smtp.password is not None
    with pytest.raises(ConfigError, match="environment variable HWC_TEST_SMTP_PASSWORD is not set"):
        settings.smtp.password.read()


def test_a_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "gpg-passphrase").write_text("zinnetje\r\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_settings(write(tmp_path / "etc"))
    assert settings.gpg.passphrase is not None
    assert settings.gpg.passphrase.read() == "zinnetje"


def test_a_credential_outside_systemd_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    secret = Secret(credential="gpg-passphrase")
    with pytest.raises(ConfigError) as caught:
        secret.read()
    assert "credential 'gpg-passphrase'" in str(caught.value)
    assert "CREDENTIALS_DIRECTORY is not set" in str(caught.value)


def test_a_missing_credential_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        Secret(credential="gpg-passphrase").read()
    assert "cannot read secret file" in str(caught.value)
    assert str(tmp_path / "gpg-passphrase") in str(caught.value)


@pytest.mark.parametrize("value", ["{}", "{env: HWC_TEST_SMTP_PASSWORD, file: secrets/smtp-password}",
                                   "{credential: smtp, env: HWC_TEST_SMTP_PASSWORD}"])
def test_a_secret_needs_exactly_one_source(tmp_path: Path, value: str) -> None:
    text = edited("password: {env: HWC_TEST_SMTP_PASSWORD}", f"password: {value}")
    message = config_error(tmp_path, text)
    assert "smtp.password" in message
    assert "give exactly one of file, env, credential" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, f"password: {value}"))


def test_a_password_written_in_the_service_file_is_refused(tmp_path: Path) -> None:
    text = edited("password: {env: HWC_TEST_SMTP_PASSWORD}", "password: hunter2")
    message = config_error(tmp_path, text)
    assert "smtp.password" in message
    assert "hunter2" not in message


def test_a_username_without_password_is_refused(tmp_path: Path) -> None:
    text = edited("  password: {env: HWC_TEST_SMTP_PASSWORD}\n", "")
    message = config_error(tmp_path, text)
    assert "username and password go together" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, "smtp:"))


def test_an_smtp_relay_without_login_is_allowed(tmp_path: Path) -> None:
    text = edited("  username: leerplicht@example.nl\n  password: {env: HWC_TEST_SMTP_PASSWORD}\n", "")
    settings = load_settings(write(tmp_path, text))
    assert settings.smtp.username is None and settings.smtp.password is None


# --- errors name the line -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "said"),
    [
        ("port: 587", "port: zeventig", "port: zeventig", "smtp.port: expected a whole number, got `zeventig`"),
        ("port: 993", "port: 99300", "port: 99300", "imap.port: must be at most 65535, got 99300"),
        ("tls: starttls", "tls: ssl", "tls: ssl", "smtp.tls: expected one of: implicit, starttls; got `ssl`"),
        ("idle_seconds: 30", "idle_seconds: 3600", "idle_seconds: 3600",
         "imap.idle_seconds: must be at most 1740, got 3600"),
        ("  tls: starttls", "  tsl: starttls", "tsl: starttls", "unknown key `tsl` under smtp; did you mean `tls`?"),
        (f'key_fingerprint: "{FINGERPRINT}"', 'key_fingerprint: "0123"', "key_fingerprint:",
         "gpg.key_fingerprint: not a 40-character fingerprint (40 hex digits, spaces allowed); got 4 characters: "
         "`0123`"),
    ],
)
def test_a_bad_value_names_file_line_and_key(tmp_path: Path, old: str, new: str, needle: str, said: str) -> None:
    text = edited(old, new)
    message = config_error(tmp_path, text)
    assert message.split(": ", 1)[1] == said
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, needle))


def test_an_unquoted_all_digit_fingerprint_tells_to_quote_it(tmp_path: Path) -> None:
    text = edited(f'key_fingerprint: "{FINGERPRINT}"', "key_fingerprint: 1234567890123456789012345678901234567890")
    message = config_error(tmp_path, text)
    assert "put the fingerprint in quotes" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, "key_fingerprint:"))


def test_a_missing_section_is_named(tmp_path: Path) -> None:
    text = edited("sender:\n  address: leerplicht@example.nl\n  name: Leerplicht Maastricht-Heuvelland\n", "")
    message = config_error(tmp_path, text)
    assert message == f"{tmp_path / 'config.yaml'}: missing key `sender` at top level"


def test_a_missing_service_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_settings(tmp_path / "config.yaml")


def test_broken_yaml_is_a_config_error_with_a_line(tmp_path: Path) -> None:
    text = edited("  port: 587\n", "  port: [587\n")
    message = config_error(tmp_path, text)
    assert "not valid YAML" in message
    assert re.match(rf"^{re.escape(str(tmp_path / 'config.yaml'))}:\d+:\d+: ", message)


def test_an_empty_age_range_is_refused_at_load(tmp_path: Path) -> None:
    text = SERVICE_FILE + "ages:\n  minimum: 18\n  maximum: 4\n"
    message = config_error(tmp_path, text)
    assert "ages" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, "ages:"))


@pytest.mark.parametrize("subject", ["HWC {{ school.name }}", "Bericht {% if x %}x{% endif %}"])
def test_an_outer_subject_with_template_fields_is_refused(tmp_path: Path, subject: str) -> None:
    """The outer subject travels in clear: it must be fixed text that cannot pick up personal data."""
    text = SERVICE_FILE.replace("  name: Leerplicht Maastricht-Heuvelland\n",
                                f"  name: Leerplicht Maastricht-Heuvelland\n  subject: \"{subject}\"\n")
    message = config_error(tmp_path, text)
    assert "sender.subject" in message and "fixed text" in message
    assert_points_at(message, tmp_path / "config.yaml", line_of(text, "subject:"))


def test_replay_days_shorter_than_the_signature_window_is_refused(tmp_path: Path) -> None:
    """A captured signal must not be replayable after its hash is forgotten but while its signature still counts."""
    message = config_error(tmp_path, SERVICE_FILE + "trust:\n  max_signature_age_days: 14\n  replay_days: 10\n")
    assert "replay_days (10) is shorter than the signature age window" in message


def test_replay_days_that_outlive_the_signature_window_are_accepted(tmp_path: Path) -> None:
    text = SERVICE_FILE + "trust:\n  max_signature_age_days: 14\n  replay_days: 15\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.trust.replay_days == 15


GATEWAY = """gateways:
  securemail:
    host: submission.securemail.example
    username: leerplicht
    password: {file: secrets/gateway}
    header: "X-Secure-Mail: encrypt"
    processor_agreement: "VO-2026-03"
smime:
  certificate: smime/leerplicht.pem
  key: {file: secrets/smime.key}
  ca_file: smime/cas.pem
  crl_files: [smime/ca.crl]
"""


def test_gateways_and_smime_take_their_paths_from_the_service_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, SERVICE_FILE + GATEWAY))
    gateway = settings.gateways["securemail"]
    assert (gateway.port, gateway.tls.value, gateway.password.file) == (587, "starttls", tmp_path / "secrets/gateway")
    assert settings.smime is not None and settings.smime.crl_files == (tmp_path / "smime/ca.crl",)
    assert settings.smime.certificate == tmp_path / "smime/leerplicht.pem"


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('    header: "X-Secure-Mail: encrypt"\n', "", "give header or subject_tag"),
    ('    processor_agreement: "VO-2026-03"\n', "", "processor_agreement"),
    ('"X-Secure-Mail: encrypt"', '"X-Secure-Mail: a\\r\\nBcc: x@evil.example"', "header"),
    ('"X-Secure-Mail: encrypt"', '"X-Secure-Mail: a\\rBcc: x@evil.example"', "header"),
    ('"X-Secure-Mail: encrypt"', '"Content-Class: secure"', "one the daemon writes itself"),
    ('"X-Secure-Mail: encrypt"', '"Bcc: x@evil.example"', "one the daemon writes itself"),
])
def test_a_gateway_says_how_it_is_marked_and_under_which_agreement(tmp_path: Path, old: str, new: str,
                                                                   problem: str) -> None:
    assert problem in config_error(tmp_path, SERVICE_FILE + GATEWAY.replace(old, new))
