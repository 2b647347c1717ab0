"""What an install carries: the package as a wheel builds and installs on its own, and the installed copy (not this
checkout) knows its version, prints its packaged JSON Schemas and finds its packaged templates when it checks the
lab's servers.

docs/install.md installs into a virtualenv from PyPI; tests reach nothing beyond loopback, so here the wheel is
built offline from this checkout and installed without its dependencies into a directory of its own, with the
dependencies taken from the test environment. What differs is only where the dependencies come from.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from tests.integration.helpers import Run

REPO = Path(__file__).resolve().parents[2]


def pip(*args: str, cwd: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=cwd,
                            timeout=300, check=False, env={**os.environ, "PIP_NO_INDEX": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_the_installed_wheel_knows_its_version_and_checks_the_lab_with_its_packaged_templates(run: Run) -> None:
    source, build, installed = run.directory / "source", run.directory / "build", run.directory / "opt"
    # A copy, as a release tarball would be: building writes into the tree it builds.
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                 ".pytest_cache", ".hypothesis", "demo-state"))
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(build), str(source), cwd=run.directory)
    (wheel,) = build.glob("hwc_mailer-*.whl")
    pip("install", "--no-deps", "--no-index", "--target", str(installed), str(wheel), cwd=run.directory)
    assert sorted(path.name for path in (installed / "hwc_mailer" / "templates").iterdir()) == [
        "officer_alert.subject.j2", "officer_alert.txt.j2", "school_notice.subject.j2", "school_notice.txt.j2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), *site.getsitepackages()]),
           "TMPDIR": str(run.directory / "tmp")}

    def hwc_mailer(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hwc_mailer", "-c", str(run.config), *args], capture_output=True,
                              text=True, cwd=run.directory, env=env, timeout=120, check=False,
                              stdin=subprocess.DEVNULL)

    where = subprocess.run([sys.executable, "-c", "import hwc_mailer.outbound.notice as n; "
                            "print(n.PACKAGED_TEMPLATES)"], capture_output=True, text=True, cwd=run.directory,
                           env=env, timeout=60, check=True)
    assert Path(where.stdout.strip()) == installed / "hwc_mailer" / "templates", "the installed copy, not this one"
    version = hwc_mailer("--version")
    assert version.returncode == 0 and version.stdout.startswith("hwc-mailer "), version.stderr
    for kind in ("config", "rules"):
        schema = hwc_mailer("schema", kind)
        assert schema.returncode == 0, schema.stderr
        assert schema.stdout == (REPO / "hwc_mailer" / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8")
    checked = hwc_mailer("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "imap: ok" in checked.stdout and "smtp: ok" in checked.stdout
