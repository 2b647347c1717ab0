"""`check` against the lab: every mistake that used to fail only at run time (some silently) is now caught before the
daemon runs, with a message that says what to fix; and `check` answers monitoring as a Nagios/Icinga plugin.

Each row of the table is one mistake an admin made, made in this test's own copy of the installation; the row
holds the exit code and the line `check` now prints.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hwc_mailer.service.register import import_register
from hwc_mailer.settings.config import load_settings
from lab.children import REGISTER_EXPORT
from lab.gpg import gpg
from lab.keystates import make_partner_key
from lab.world import sample_signal
from tests.integration.helpers import TIM, Run, assert_no_personal_data


def edit(run: Run, old: str, new: str, *, file: str = "config.yaml") -> None:
    path = run.config.parent / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))


def own_homes(run: Run) -> tuple[Path, Path]:
    """Copies of the lab's gpg homes for this test alone, named in its service file."""
    homes = []
    for shared, name in ((run.world.inbound_home, "gin"), (run.world.outbound_home, "gout")):
        home = run.directory / name
        if not home.exists():
            shutil.copytree(shared, home, ignore=shutil.ignore_patterns("S.*", "*.lock", ".#*"))
            edit(run, f": {shared}\n", f": {home}\n")
        homes.append(home)
    return homes[0], homes[1]


def folder(key: str, name: str) -> Callable[[Run], None]:
    def made(run: Run) -> None:
        run.config.write_text(run.config.read_text() + f"folders:\n  {key}: {name}\n")
    return made


def broken_template(name: str, typo: str) -> Callable[[Run], None]:
    def made(run: Run) -> None:
        templates = run.directory / "templates"
        shutil.copytree(Path(__file__).resolve().parents[2] / "hwc_mailer" / "templates", templates)
        with (templates / name).open("a") as handle:
            handle.write(typo)
        run.config.write_text(run.config.read_text() + f"templates: {templates}\n")
    return made


def missing_ca_file(run: Run) -> None:
    edit(run, f"ca_file: {run.world.tls.ca_file}", f"ca_file: {run.directory / 'ca.pem'}")


def readable_secret(run: Run) -> None:
    (run.config.parent / "password").chmod(0o644)


def readable_gpg_home(run: Run) -> None:
    inbound, _ = own_homes(run)
    inbound.chmod(0o755)


def protected_daemon_key(run: Run) -> None:
    """The daemon's key given a passphrase in both homes, as an admin who imports it with one does."""
    for home in own_homes(run):
        gpg(home, "--passphrase", "geheim", "--passwd", run.world.office)


def expired_contact_key(run: Run) -> None:
    """A school contact's key that expired: `keys import` takes it in (and says it cannot be used)."""
    _, outbound = own_homes(run)
    school = run.world.schools[0]
    _, fingerprint, public = make_partner_key(run.directory, "exp", "expired", f"HWC <{school.address}>")
    key_file = run.directory / "expired.asc"
    key_file.write_bytes(public)
    (run.config.parent / "rules.yaml").write_text(run.world.rules_yaml({school.code: [(school.address, fingerprint)]}))
    imported = run.cli("keys", "import", str(key_file))
    assert imported.returncode == 1 and "NOT" in imported.stderr, imported.stdout + imported.stderr
    assert outbound.is_dir()


def unreadable_register(run: Run) -> None:
    run.config.write_text(run.config.read_text() + "register:\n  key: {file: register.key}\n")
    (run.config.parent / "register.key").write_text("k" * 43)
    (run.config.parent / "register.key").chmod(0o600)
    index = run.directory / "state" / "register.sqlite"
    index.parent.mkdir(mode=0o700, exist_ok=True)
    index.write_bytes(b"this is not an index")
    index.chmod(0o600)


def wrong_password(run: Run) -> None:
    (run.config.parent / "password").write_text("not-the-password")


MISTAKES: dict[str, tuple[Callable[[Run], None], int, str]] = {
    "inbox folder that does not exist": (
        folder("inbox", "Postvak IN"), 2,
        "imap: problem: folders.inbox: 'Postvak IN': no such folder on the IMAP server"),
    "sent folder that does not exist": (
        folder("sent", "Verzonden items"), 2,
        "imap: problem: folders.sent: 'Verzonden items': no such folder on the IMAP server"),
    "trash folder that does not exist": (
        folder("trash", "Prullenbak"), 2,
        "imap: problem: folders.trash: 'Prullenbak': no such folder on the IMAP server"),
    "school notice template with a typo": (
        broken_template("school_notice.txt.j2", "{{ school.nmae }}\n"), 2,
        "problem: template school_notice in {run}/templates failed to render: "
        "UndefinedError: 'hwc_mailer.settings.rules.School object' has no attribute 'nmae'"),
    "typo where only siblings go": (
        broken_template("school_notice.txt.j2", "{% if children|length > 1 %}{{ children[1].nme }}{% endif %}\n"), 2,
        "problem: template school_notice in {run}/templates failed to render: "
        "UndefinedError: 'hwc_mailer.domain.signal.Child object' has no attribute 'nme'"),
    "a signal without a School: line": (
        broken_template("school_notice.txt.j2", "{{ children[0].school.upper() }}\n"), 2,
        "problem: template school_notice in {run}/templates failed to render: "
        "UndefinedError: 'None' has no attribute 'upper'"),
    "alert subject that names the child": (
        broken_template("officer_alert.subject.j2", " {{ personal|join }}"), 2,
        "problem: template officer_alert in {run}/templates puts a child's name or date of birth in the subject, "
        "which travels unencrypted; only the text of a sealed alert may hold them"),
    "officer alert template with a typo": (
        broken_template("officer_alert.txt.j2", "{{ alert.refrence }}\n"), 2,
        "problem: template officer_alert in {run}/templates failed to render: "
        "UndefinedError: 'hwc_mailer.service.alerts.Alert object' has no attribute 'refrence'"),
    "template with a syntax error": (
        broken_template("officer_alert.subject.j2", "{% if %}\n"), 2,
        "problem: template in {run}/templates cannot be loaded: TemplateSyntaxError"),
    "ca_file that does not exist": (
        missing_ca_file, 2, "problem: imap.ca_file {run}/ca.pem cannot be read: No such file or directory"),
    "secret file readable by others": (
        readable_secret, 2, "problem: secret file {etc}/password has mode 0644, which lets its group and others at it"),
    "gpg home readable by others": (
        readable_gpg_home, 2, "problem: gpg inbound_home {run}/gin has mode 0755, which lets its group and others"),
    "daemon key with a passphrase that is not configured": (
        protected_daemon_key, 2, "cannot be used: it is protected by a passphrase that gpg.passphrase does not give "
                                 "(it is not set)"),
    "school key that expired (imported all the same)": (
        expired_contact_key, 2, "is expired"),
    "register index that is not an index": (
        unreadable_register, 2, "problem: register index {run}/state/register.sqlite"),
    "wrong password": (
        wrong_password, 2, "imap: problem: "),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_check_catches_the_mistake_before_the_daemon_runs(run: Run, mistake: str) -> None:
    make, code, expected = MISTAKES[mistake]
    make(run)

    checked = run.cli("check")

    output = checked.stdout + checked.stderr
    assert checked.returncode == code, output
    first = checked.stdout.splitlines()[0]
    assert first.startswith("hwc-mailer CRITICAL: ") and " | problems=" in first, first
    assert expected.format(run=run.directory, etc=run.config.parent) in output, output
    assert "Traceback" not in output


def test_a_healthy_installation_is_ok_with_its_performance_data(run: Run) -> None:
    checked = run.cli("check")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    first, *rest = checked.stdout.splitlines()
    summary, perfdata = first.split(" | ")
    assert summary == "hwc-mailer OK: config, rules, templates and keys are usable"
    measures = dict(item.split("=") for item in perfdata.split())
    assert measures["problems"] == "0" and measures["warnings"] == "0" and measures["held"] == "0;0"
    days = float(measures["key_expiry_days"].split(";")[0])
    assert 300 < days <= 366, "the lab's keys expire in a year"
    assert any(line.startswith("imap: ok (") for line in rest) and any(line.startswith("smtp: ok (") for line in rest)


def test_a_held_signal_is_a_warning_until_an_officer_finishes_it(run: Run) -> None:
    run.world.deliver_signal(run.world.signal_mail(sample_signal([{**TIM, "School": "Basisschool De Regenbog"}])))
    assert run.cli("once").returncode == 0

    checked = run.cli("check")

    assert checked.returncode == 1, checked.stdout + checked.stderr
    first = checked.stdout.splitlines()[0]
    assert first.startswith("hwc-mailer WARNING: 0 problem(s), 1 warning(s): 1 held signal(s) wait for a person in "
                            "folder 'HWC-Handmatig'"), first
    assert " held=1;0 " in first
    assert_no_personal_data([checked.stdout, checked.stderr], run.written)


def test_the_pre_start_check_fails_only_when_the_daemon_could_not_work(run: Run) -> None:
    expired_contact_key(run)
    critical = run.cli("check", "--pre-start")
    protected_daemon_key(run)
    stopping = run.cli("check", "--pre-start")

    assert critical.returncode == 0, "an expired school key: the daemon must run to hold that school's signals"
    assert critical.stdout.startswith("hwc-mailer CRITICAL: ")
    assert stopping.returncode == 2 and "gpg.passphrase" in stopping.stdout


@pytest.mark.parametrize(("age_days", "code", "state"), [(10, 1, "WARNING"), (20, 2, "CRITICAL")])
def test_a_stale_register_index_is_a_warning_and_one_too_old_to_use_is_critical(run: Run, age_days: int, code: int,
                                                                             state: str) -> None:
    config = run.world.write_config(run.config.parent, state_dir=run.directory / "state", register=True)
    imported = import_register(REGISTER_EXPORT.encode(), load_settings(config),
                               datetime.now(UTC) - timedelta(days=age_days))
    assert imported.info is not None

    checked = run.cli("check", "--offline")

    assert checked.returncode == code, checked.stdout + checked.stderr
    first = checked.stdout.splitlines()[0]
    assert first.startswith(f"hwc-mailer {state}: ") and f"register_age_days={age_days}" in first, first
    assert f"register index {run.directory / 'state' / 'register.sqlite'} is {age_days}.0 days old" in checked.stdout


def test_a_metrics_textfile_that_cannot_be_written_is_a_warning(run: Run) -> None:
    folder = run.directory / "node-exporter"          # not made yet: the tests run as root, whom no mode stops
    run.config.write_text(run.config.read_text() + f"metrics:\n  textfile: {folder}/hwc-mailer.prom\n")

    checked = run.cli("check", "--offline")

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (f"warning: metrics textfile {folder}/hwc-mailer.prom cannot be written: No such file or directory; "
            f"create the directory {folder} first") in checked.stdout
