"""Integration fixtures: one small region (keys, rules, accounts) per session, one daemon installation per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.dovecot import Dovecot
from lab.gpg import kill_agents
from lab.smtp import RelaySmtp
from lab.tls import LabTls
from lab.world import World
from tests.integration.helpers import InProcess, Run


@pytest.fixture(scope="session")
def world(lab_dir: Path, dovecot: Dovecot, smtp_relay: RelaySmtp, lab_tls: LabTls) -> World:
    return World(lab_dir / "world", dovecot, smtp_relay, lab_tls)


@pytest.fixture
def run(world: World, mail: Dovecot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A fresh service file and state dir against emptied mailboxes; removed afterwards."""
    directory = tmp_path_factory.mktemp("run")
    (directory / "tmp").mkdir()
    yield Run(world, directory, world.write_config(directory / "etc", state_dir=directory / "state"))
    for keyring in directory.rglob("pubring.kbx"):
        kill_agents(keyring.parent)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pipeline(run: Run) -> InProcess:
    """The real pipeline in this process, against this test's installation."""
    return InProcess(run)


@pytest.fixture
def relay(run: Run) -> Iterator[RelaySmtp]:
    """The session relay, healed again after the test whatever it injected."""
    relay = run.world.smtp
    yield relay
    relay.handler.data_reply = None
    relay.handler.rcpt_reply = None
    relay.handler.recipient_replies.clear()
