"""The shipped systemd units: `systemd-analyze verify` finds nothing, and each service's exposure is at most 1.0.

These machines have systemd's tools but not systemd as PID 1, so both checks run offline; the install step of
the test command puts the tools there where they are missing. The one change made for verify: ExecStart points
at this checkout's hwc-mailer instead of /opt/hwc-mailer, where docs/install.md puts it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
INSTALLED = "/opt/hwc-mailer/bin/hwc-mailer"
SERVICES = ["hwc-mailer.service", "hwc-mailer@.service", "hwc-mailer-register.service"]


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool is not None, "systemd-analyze is missing: scripts/install.sh installs Debian's systemd package"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units as installed, with this checkout's hwc-mailer; the template also as one instance."""
    directory = tmp_path_factory.mktemp("units")
    here = str(Path(sys.executable).parent / "hwc-mailer")
    for unit in UNITS.iterdir():
        if unit.suffix in (".service", ".timer"):
            (directory / unit.name).write_text(unit.read_text().replace(INSTALLED, here))
    shutil.copy(directory / "hwc-mailer@.service", directory / "hwc-mailer@maastricht-heuvelland.service")
    return directory


@pytest.mark.parametrize("unit", ["hwc-mailer.service", "hwc-mailer@maastricht-heuvelland.service",
                                  "hwc-mailer-register.service", "hwc-mailer-register.timer"])
def test_systemd_analyze_verify_finds_nothing(units: Path, unit: str) -> None:
    result = analyze("verify", "--man=no", str(units / unit))
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.parametrize("unit", ["hwc-mailer.service", "hwc-mailer@maastricht-heuvelland.service",
                                  "hwc-mailer-register.service"])
def test_every_service_is_exposed_at_most_1_0(units: Path, unit: str) -> None:
    result = analyze("security", "--offline=true", "--threshold=10", str(units / unit))
    assert result.returncode == 0, result.stdout[-400:] + result.stderr


def test_every_shipped_service_is_checked() -> None:
    assert sorted(unit.name for unit in UNITS.glob("*.service")) == sorted(SERVICES)
