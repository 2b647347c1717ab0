"""Throwaway OpenPGP identities for tests, made with the same gpg the daemon uses.

Every call names its home explicitly (never GNUPGHOME), so parallel homes never mix.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# gpg-agent's socket (HOME/S.gpg-agent.browser) must fit in sun_path (108 bytes).
_MAX_HOME_LENGTH = 80


def new_home(base: Path, name: str) -> Path:
    """A fresh, private gpg home; refuses paths too long for the agent's socket."""
    home = base / name
    if len(str(home)) > _MAX_HOME_LENGTH:
        raise ValueError(f"gpg home {home} is longer than {_MAX_HOME_LENGTH} characters")
    home.mkdir(mode=0o700, parents=True)
    home.chmod(0o700)  # mkdir's mode is masked by umask; gpg warns on unsafe homes
    return home


def generate_key(home: Path, user_id: str, *, expire: str = "1y") -> str:
    """Ed25519 signing key plus a Curve25519 encryption subkey; returns the fingerprint."""
    status = _gpg(home, "--quick-generate-key", user_id, "ed25519", "sign,cert", expire)
    fingerprint = _status_fields(status, "KEY_CREATED")[0][1]
    _gpg(home, "--quick-add-key", fingerprint, "cv25519", "encr", expire)
    return fingerprint.upper()


def export_public(home: Path, fingerprint: str) -> bytes:
    """ASCII-armoured public key."""
    return _gpg(home, "--armor", "--export", fingerprint, status=False)


def export_secret(home: Path, fingerprint: str) -> bytes:
    """ASCII-armoured secret key (with subkeys)."""
    return _gpg(home, "--armor", "--export-secret-keys", fingerprint, status=False)


def import_keys(home: Path, data: bytes) -> list[str]:
    """Fingerprints gpg reports as imported (new, updated or unchanged), first-seen order."""
    status = _gpg(home, "--import", stdin=data)
    fingerprints = [fields[1] for fields in _status_fields(status, "IMPORT_OK")]
    return list(dict.fromkeys(fingerprints))


def kill_agents(home: Path) -> None:
    """Stop this home's gpg-agent (and friends) so no daemon outlives the test session."""
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False
    )


def _gpg(home: Path, *args: str, stdin: bytes = b"", status: bool = True) -> bytes:
    """Run gpg non-interactively; returns the status lines, or stdout when status=False."""
    command = [
        "gpg", "--batch", "--no-tty", "--homedir", str(home),
        "--pinentry-mode", "loopback", "--passphrase", "",
    ]
    if status:
        command += ["--status-fd", "1"]
    result = subprocess.run([*command, *args], input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"gpg {args[0]} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def _status_fields(status: bytes, keyword: str) -> list[list[str]]:
    """Arguments of every `[GNUPG:] KEYWORD ...` status line."""
    prefix = f"[GNUPG:] {keyword} "
    return [
        line.removeprefix(prefix).split()
        for line in status.decode().splitlines()
        if line.startswith(prefix)
    ]
