"""Throwaway OpenPGP identities for tests, made with the same gpg the daemon uses.

Every call names its home explicitly (never GNUPGHOME), so parallel homes never mix. `gpg` is the one
way the lab runs gpg; the helpers below are the steps the lab takes often.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

# gpg-agent's socket (HOME/S.gpg-agent.browser) must fit in sun_path (108 bytes).
_MAX_HOME_LENGTH = 80


def gpg(home: Path, *args: str, stdin: bytes = b"", status: bool = False, at: datetime | None = None) -> bytes:
    """Run gpg in `home`, non-interactively (no passphrase, no pinentry); returns its stdout.

    `status` adds gpg's machine-readable status lines to stdout (`--status-fd 1`). `at` fakes the clock
    (`--faked-system-time`), so keys and signatures are made then, and tells gpg not to mind creation
    times that lie in the real clock's future. Raises RuntimeError when gpg fails.
    """
    command = ["gpg", "--batch", "--no-tty", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", ""]
    if status:
        command += ["--status-fd", "1"]
    if at is not None:
        command += ["--faked-system-time", f"{int(at.timestamp())}!", "--ignore-time-conflict", "--ignore-valid-from"]
    result = subprocess.run([*command, *args], input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args[:2])} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def new_home(base: Path, name: str, *, options: tuple[str, ...] = ()) -> Path:
    """A fresh, private gpg home; refuses paths too long for the agent's socket.

    `options` become the home's gpg.conf (long option names without the dashes, e.g. "trust-model always"),
    so every call in that home uses them.
    """
    home = base / name
    if len(str(home)) > _MAX_HOME_LENGTH:
        raise ValueError(f"gpg home {home} is longer than {_MAX_HOME_LENGTH} characters")
    home.mkdir(mode=0o700, parents=True)
    home.chmod(0o700)  # mkdir's mode is masked by umask; gpg warns on unsafe homes
    if options:
        (home / "gpg.conf").write_text("".join(f"{option}\n" for option in options))
    return home


def generate_key(home: Path, user_id: str, *, expire: str = "1y", encrypt: bool = True,
                 at: datetime | None = None) -> str:
    """An Ed25519 signing key plus (unless `encrypt` is false) a Curve25519 encryption subkey, made at `at`
    (default now); returns the fingerprint."""
    status = gpg(home, "--quick-generate-key", user_id, "ed25519", "sign,cert", expire, status=True, at=at)
    fingerprint = _status_fields(status, "KEY_CREATED")[0][1]
    if encrypt:
        gpg(home, "--quick-add-key", fingerprint, "cv25519", "encr", expire, status=True, at=at)
    return fingerprint.upper()


def revoke(home: Path, fingerprint: str) -> None:
    """Revoke a key made in `home` with the revocation certificate gpg wrote when it made the key."""
    certificate = (home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
    # gpg writes the certificate with a colon before the armor, so that it is not imported by accident.
    gpg(home, "--import", stdin=certificate.replace("\n:-----BEGIN", "\n-----BEGIN").encode())


def export_public(home: Path, fingerprint: str) -> bytes:
    """ASCII-armoured public key."""
    return gpg(home, "--armor", "--export", fingerprint)


def export_secret(home: Path, fingerprint: str) -> bytes:
    """ASCII-armoured secret key (with subkeys)."""
    return gpg(home, "--armor", "--export-secret-keys", fingerprint)


def import_keys(home: Path, data: bytes) -> list[str]:
    """Fingerprints gpg reports as imported (new, updated or unchanged), first-seen order."""
    status = gpg(home, "--import", stdin=data, status=True)
    fingerprints = [fields[1] for fields in _status_fields(status, "IMPORT_OK")]
    return list(dict.fromkeys(fingerprints))


def kill_agents(home: Path) -> None:
    """Stop this home's gpg-agent (and friends) so no daemon outlives the test session."""
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False
    )


def _status_fields(status: bytes, keyword: str) -> list[list[str]]:
    """Arguments of every `[GNUPG:] KEYWORD ...` status line."""
    prefix = f"[GNUPG:] {keyword} "
    return [
        line.removeprefix(prefix).split()
        for line in status.decode().splitlines()
        if line.startswith(prefix)
    ]
