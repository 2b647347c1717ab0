"""The metrics textfile as node_exporter would find it after `once` and while the daemon runs: counts and times,
never a name, a date of birth, a school or an address."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lab.smtp import RelaySmtp
from lab.world import OFFICE, World, sample_signal
from tests.integration.helpers import SARA, TIM, Run, assert_no_personal_data, daemon, eventually

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def with_metrics(run: Run) -> Path:
    """The run's service file with a metrics section; returns the textfile, in a directory of its own."""
    directory = run.directory / "node-exporter"
    directory.mkdir()
    textfile = directory / "hwc-mailer.prom"
    with run.config.open("a") as handle:
        handle.write(f"metrics:\n  textfile: {textfile}\n")
    return textfile


def read(textfile: Path) -> Samples:
    """Sample name -> labels -> value, as Prometheus reads the file."""
    samples: Samples = {}
    for family in text_string_to_metric_families(textfile.read_text()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def assert_nothing_about_anyone(run: Run, textfile: Path) -> None:
    text = textfile.read_text()
    world: World = run.world
    for school in world.schools:
        for value in (school.code, school.name, school.municipality, school.address):
            assert value not in text
    assert "@" not in text and OFFICE not in text
    assert_no_personal_data([text], run.written)


def test_once_writes_the_counts_the_held_signal_and_the_time_of_its_pass(run: Run) -> None:
    world = run.world
    textfile = with_metrics(run)
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    world.deliver_signal(world.signal_mail(sample_signal([{**TIM, "School": "99ZZ00"}])))
    started = time.time()

    result = run.cli("once")

    assert result.returncode == 0, result.stderr
    assert "1 delivered, 1 held for a person" in result.stdout
    samples = read(textfile)
    assert samples["hwc_mailer_up"] == {(): 1}
    assert samples["hwc_mailer_signals_total"] == {(("outcome", "delivered"),): 1,
                                                   (("outcome", "manual:unknown-school"),): 1}
    assert samples["hwc_mailer_children_total"] == {(("outcome", "delivered"),): 2}
    assert samples["hwc_mailer_held_waiting"] == {(("disposition", "manual"),): 1,
                                                  (("disposition", "quarantined"),): 0}
    assert samples["hwc_mailer_inbox_waiting"] == {(): 0}
    (last_success,) = samples["hwc_mailer_last_success_timestamp_seconds"].values()
    assert started - 1 <= last_success <= time.time()
    assert samples["hwc_mailer_last_login_failure_timestamp_seconds"] == {(): 0}
    (days,) = samples["hwc_mailer_key_expiry_days"].values()
    assert 0 < days <= 366, "the lab's keys expire in a year"
    assert samples["hwc_mailer_keys_unusable"] == {(): 0}
    assert "hwc_mailer_register_age_days" not in samples, "no register in this service file"
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644
    assert [entry.name for entry in textfile.parent.iterdir()] == [textfile.name]
    assert_nothing_about_anyone(run, textfile)


def test_once_in_an_outage_sets_up_to_0_and_keeps_the_time_of_the_last_pass_that_worked(run: Run,
                                                                                          relay: RelaySmtp) -> None:
    world = run.world
    textfile = with_metrics(run)
    assert run.cli("once").returncode == 0
    (worked,) = read(textfile)["hwc_mailer_last_success_timestamp_seconds"].values()
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))
    relay.handler.data_reply = "451 4.3.0 queue full, try later"

    failed = run.cli("once")

    assert failed.returncode == 1
    samples = read(textfile)
    assert samples["hwc_mailer_up"] == {(): 0}
    assert samples["hwc_mailer_last_success_timestamp_seconds"] == {(): worked}
    assert samples["hwc_mailer_inbox_waiting"] == {(): 1}
    assert samples["hwc_mailer_signals_total"] == {(("outcome", "delivered"),): 0}
    assert_nothing_about_anyone(run, textfile)


def test_the_daemon_writes_up_0_during_an_outage_and_1_again_after_it(run: Run, relay: RelaySmtp) -> None:
    world = run.world
    textfile = with_metrics(run)
    relay.handler.data_reply = "451 4.3.0 queue full, try later"
    world.deliver_signal(world.signal_mail(sample_signal([TIM, SARA])))

    with daemon(run, run.config) as child:
        child.await_event("outage")
        assert eventually(lambda: textfile.exists() and read(textfile)["hwc_mailer_up"] == {(): 0})
        during = read(textfile)
        relay.handler.data_reply = None
        assert eventually(lambda: read(textfile)["hwc_mailer_up"] == {(): 1})
        after = read(textfile)
        assert child.terminate() == 0

    assert during["hwc_mailer_last_success_timestamp_seconds"] == {(): 0}, "no pass has worked yet"
    assert during["hwc_mailer_inbox_waiting"] == {(): 1}
    assert after["hwc_mailer_signals_total"] == {(("outcome", "delivered"),): 1}
    assert after["hwc_mailer_inbox_waiting"] == {(): 0}
    assert all(len(world.school_mail(school)) == 1 for school in world.schools)
    assert_nothing_about_anyone(run, textfile)
    assert_no_personal_data([child.output], run.written)
