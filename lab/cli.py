"""The product's command line as an admin runs it: a fresh process, no terminal, output captured.

The one way the lab and the tests start `hwc-mailer`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

TIMEOUT = 120.0  # seconds; only keeps a broken build from hanging


def hwc_mailer(config: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float | None = TIMEOUT,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`hwc-mailer -c CONFIG ARGS...` with this interpreter; stdin is empty unless given (a pipe, as from an
    export job), stdout and stderr are captured.

    `env` replaces the environment (as with subprocess: pass `{**os.environ, ...}` to add to it).
    """
    return subprocess.run([sys.executable, "-m", "hwc_mailer", "-c", str(config), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False,
                          **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}))
