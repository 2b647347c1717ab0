"""The daemon refuses a GnuPG older than 2.2.36, whose status lines signed data could forge."""

from pathlib import Path

import pytest

from hwc_mailer.edges.gpg import GpgKeyring
from hwc_mailer.errors import CryptoError


def gpg_reporting(tmp_path: Path, version: str) -> str:
    """A stand-in for the gpg binary that only reports its version, as `gpg --list-config` does."""
    script = tmp_path / "gpg"
    script.write_text(f"#!/bin/sh\necho 'cfg:version:{version}'\n")
    script.chmod(0o755)
    return str(script)


def test_an_old_gnupg_is_refused_with_the_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(CryptoError, match=r"GnuPG 2\.2\.27 is too old: 2\.2\.36 or newer is needed"):
        GpgKeyring(home, binary=gpg_reporting(tmp_path, "2.2.27"))


def test_the_floor_itself_is_accepted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert GpgKeyring(home, binary=gpg_reporting(tmp_path, "2.2.36")).home == home
