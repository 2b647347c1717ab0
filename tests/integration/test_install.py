"""A fresh Debian 12 installed as docs/install.md says, command by command, up to a `check` against the lab (and the
installed package's JSON Schemas beside the service file).

scripts/debian-root.sh (run by the test command) debootstraps a minimal bookworm with systemd and the packages of the
doc's apt-get line into .debian-root/, with wheels of hwc-mailer's dependencies from PyPI in its /wheelhouse: all
that needs the network. Here, offline, each test gets a copy-on-write overlay of that root and runs the doc's sh
blocks in it as written, with only its placeholder /path/to/hwc-mailer filled in and pip pointed at the wheelhouse
by its environment (PIP_NO_INDEX, PIP_FIND_LINKS) instead of PyPI. Lines that need systemd as PID 1 (systemctl,
journalctl) are all that is left out; the admin commands use the doc's `runuser` variant, with secrets in files.
The lab's Dovecot and SMTP relay listen on 127.0.0.1, which the root shares with the host.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from ruamel.yaml import YAML

from lab.gpg import export_secret
from tests.integration.helpers import Run

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / ".debian-root"
DOC = REPO / "docs" / "install.md"
CHECKOUT = "/root/hwc-mailer"  # where the admin unpacked this repository: the doc's /path/to/hwc-mailer
WHEELHOUSE = "/wheelhouse"  # PyPI, as scripts/debian-root.sh fetched it
NEEDS_SYSTEMD = ("systemctl", "journalctl")  # first words of the lines that need systemd as PID 1
CONFIG = "/etc/hwc-mailer/config.yaml"
SECRET = "/etc/hwc-mailer/secrets/imap-password"
LAB_CA = "/etc/hwc-mailer/lab-ca.pem"
HWC = ["/opt/hwc-mailer/bin/hwc-mailer", "-c", CONFIG]

# The overlay, and the private /proc and /dev, exist only in the holder's mount namespace; its PID namespace ends
# every process started in the root (gpg-agents too) when the holder, its PID 1, ends.
_HOLD = """
mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"
mount -t proc proc "$4/proc"
mount --rbind /dev "$4/dev"
exec chroot "$4" /bin/sh -c 'echo ready; read -r _ || true'
"""


class Debian:
    """A copy-on-write overlay of the Debian root, as root: changes go to `directory`, the root stays as built."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for part in ("upper", "work", "merged"):
            (directory / part).mkdir(parents=True)
        self._holder = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--", "/bin/sh", "-euc", _HOLD, "hold",
             str(ROOT), *(str(directory / part) for part in ("upper", "work", "merged"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self._holder.stdout is not None
        if self._holder.stdout.readline() != "ready\n":
            self._holder.kill()
            pytest.fail(f"the Debian root cannot be mounted: {self._holder.communicate(timeout=30)[1]}")
        children = Path(f"/proc/{self._holder.pid}/task/{self._holder.pid}/children").read_text().split()
        self.pid = int(children[0])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Its PID 1 reads EOF and ends, and with it every process in the root and the mounts."""
        try:
            self._holder.communicate(timeout=60)
        finally:
            self._holder.kill()  # only if still there: unshare's child, PID 1, dies with it (--kill-child)
            self._holder.wait()
        assert not Path(f"/proc/{self.pid}").exists(), "a process of the root outlived it"

    def path(self, inside: str) -> Path:
        """A path inside the root, for this process to read and write (as root, so owned by root)."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def sh(self, script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`script` as root's login shell in the checkout would run it, stopping at the first failure; offline pip."""
        return subprocess.run(
            ["nsenter", f"--target={self.pid}", "--mount", "--pid", "--root", "--wd", "--",
             "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
             "PIP_NO_INDEX=1", f"PIP_FIND_LINKS={WHEELHOUSE}", "/bin/sh", "-exc", f"cd {CHECKOUT}\n{script}"],
            input=stdin, capture_output=True, text=True, timeout=600, check=False)

    def ok(self, script: str, stdin: str = "") -> str:
        """Standard output of a script that must succeed."""
        result = self.sh(script, stdin)
        assert result.returncode == 0, f"{script}\nexit {result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}"
        return result.stdout


@pytest.fixture
def debian(run: Run) -> Iterator[Debian]:
    assert (ROOT / ".debootstrapped").is_file(), "no Debian root in .debian-root: scripts/debian-root.sh builds it"
    with Debian(run.directory / "debian") as root:
        yield root


def shell_blocks(markdown: str) -> dict[str, list[str]]:
    """The ```sh blocks of each `## ` section, in order, without the indentation of a list item's block."""
    sections: dict[str, list[str]] = {}
    section, indent = "", ""
    block: list[str] | None = None
    for line in markdown.splitlines():
        if block is not None:
            if line == f"{indent}```":
                sections.setdefault(section, []).append("".join(block))
                block = None
            else:
                block.append(line.removeprefix(indent) + "\n")
        elif line.startswith("## "):
            section = line.removeprefix("## ")
        elif fence := re.fullmatch(r"( *)```sh", line):
            block, indent = [], fence.group(1)
    return sections


def without_systemd(block: str) -> str:
    """The block without its lines that need systemd as PID 1."""
    kept = [line for line in block.splitlines(keepends=True) if line.split(" ", 1)[0] not in NEEDS_SYSTEMD]
    assert kept != block.splitlines(keepends=True), "nothing left out: run the block as it is"
    return "".join(kept)


def service_file(run: Run) -> str:
    """config.example.yaml with the lab's servers, CA, login and key, its secrets in files; all else as shipped."""
    yaml = YAML()
    lab: Any = YAML(typ="safe").load(run.config.read_text())
    config: Any = yaml.load((REPO / "config.example.yaml").read_text())
    for server in ("imap", "smtp"):
        for key in ("host", "port", "tls", "username"):
            config[server][key] = lab[server][key]
        config[server]["ca_file"] = LAB_CA
        config[server]["password"] = {"file": SECRET}
    config["gpg"]["key_fingerprint"] = lab["gpg"]["key_fingerprint"]
    written = io.StringIO()
    yaml.dump(config, written)
    return written.getvalue()


def owners_and_modes(debian: Debian, *paths: str) -> dict[str, str]:
    listed = debian.ok(f"stat -c '%n %U:%G %a' {' '.join(paths)}")
    return dict(line.split(" ", 1) for line in listed.splitlines())


def test_a_fresh_debian_12_installed_as_docs_install_md_says_checks_the_lab(run: Run, debian: Debian) -> None:
    sections = shell_blocks(DOC.read_text())
    world, etc = run.world, run.config.parent
    password = (etc / "password").read_text()
    # The admin's copy of this repository, with the keys they were given beside it.
    shutil.copytree(REPO, debian.path(CHECKOUT), ignore=shutil.ignore_patterns(
        ".git", ".venv", ".debian-root", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "demo-state"))
    debian.path(f"{CHECKOUT}/daemon-secret.asc").write_bytes(export_secret(world.office_home, world.office))
    debian.path(f"{CHECKOUT}/partners.asc").write_bytes(world.partner_keys())

    (software,) = sections["1. The software"]
    assert f"hwc-mailer {version('hwc-mailer')}\n" in debian.ok(software.replace("/path/to/hwc-mailer", CHECKOUT))
    assert debian.path("/usr/share/doc/hwc-mailer/install.md").read_text() == DOC.read_text()

    (user,) = sections["2. The user and its directories"]
    debian.ok(user)
    assert debian.ok("getent passwd hwc-mailer").strip().split(":")[5:] == ["/var/lib/hwc-mailer", "/usr/sbin/nologin"]
    assert int(debian.ok("id -u hwc-mailer")) < 1000, "a system user"
    assert owners_and_modes(debian, "/var/lib/hwc-mailer", "/var/lib/hwc-mailer/gnupg-in",
                            "/var/lib/hwc-mailer/gnupg-out", "/etc/hwc-mailer", "/etc/hwc-mailer/secrets") == {
        "/var/lib/hwc-mailer": "hwc-mailer:hwc-mailer 700", "/var/lib/hwc-mailer/gnupg-in": "hwc-mailer:hwc-mailer 700",
        "/var/lib/hwc-mailer/gnupg-out": "hwc-mailer:hwc-mailer 700", "/etc/hwc-mailer": "root:root 755",
        "/etc/hwc-mailer/secrets": "hwc-mailer:hwc-mailer 700"}

    # Step 3.1: the service file and the rules, as the admin writes them; the lab's CA beside them.
    debian.path(CONFIG).write_text(service_file(run))
    debian.path("/etc/hwc-mailer/rules.yaml").write_text((etc / "rules.yaml").read_text())
    debian.path(LAB_CA).write_bytes(world.tls.ca_file.read_bytes())
    schemas, credential, secret_file, gpg_import = sections["3. Configuration, rules, secrets"]
    debian.ok(schemas)
    for kind in ("config", "rules"):
        assert debian.path(f"/etc/hwc-mailer/{kind}.schema.json").read_text() == (
            REPO / "hwc_mailer" / "schemas" / f"{kind}.schema.json").read_text(), "the installed package's schemas"
    debian.ok(credential, stdin=password + "\n")
    assert debian.ok("systemd-creds decrypt --name=imap-password "
                     "/etc/credstore.encrypted/hwc-mailer.imap-password -") == password + "\n"
    debian.ok(secret_file, stdin=password + "\n")
    debian.ok(gpg_import)
    assert owners_and_modes(debian, "/etc/credstore.encrypted", SECRET) == {
        "/etc/credstore.encrypted": "root:root 700", SECRET: "hwc-mailer:hwc-mailer 400"}

    blocks = sections["4. Admin commands, as the service user"]
    (as_user,) = [block for block in blocks if block.startswith("hwc() {\n    runuser ")]
    # hwc-mailer cannot read root's home, where the checkout is: what it runs and checks is the installed package.
    checked = debian.ok(as_user + blocks[-1])
    assert checked.count("imported and certified ") == 5, "two senders, the officer and two schools"
    assert "imap: ok" in checked and "smtp: ok" in checked, checked
    assert "\nhwc-mailer OK: config, rules, templates and keys are usable | problems=0 " in checked, checked
    for command in (["check"], ["keys", "import", "partners.asc"]):
        as_root = debian.sh(" ".join(HWC + command))
        assert as_root.returncode == 2, as_root.stdout + as_root.stderr
        assert "runuser -u hwc-mailer" in as_root.stdout + as_root.stderr
    assert debian.ok("find /var/lib/hwc-mailer ! -user hwc-mailer -o ! -group hwc-mailer -o -type d -perm /077"
                     ) == "", "all of the state is hwc-mailer's, and only hwc-mailer may enter its directories"
    assert owners_and_modes(debian, "/var/lib/hwc-mailer/secret.key", "/var/lib/hwc-mailer/hwc-mailer.db") == {
        "/var/lib/hwc-mailer/secret.key": "hwc-mailer:hwc-mailer 600",
        "/var/lib/hwc-mailer/hwc-mailer.db": "hwc-mailer:hwc-mailer 600"}

    (unit,) = sections["5. The unit"]
    debian.ok(without_systemd(unit))
    assert "IPAddressAllow=127.0.0.1\n" in debian.path(
        "/etc/systemd/system/hwc-mailer.service.d/addresses.conf").read_text()
    assert debian.ok("systemd-analyze verify --man=no /etc/systemd/system/hwc-mailer.service 2>&1") == "", \
        "the unit as installed, its drop-in and the commands it runs"

    (update,) = sections["Updating"]
    debian.ok(without_systemd(update.replace("/path/to/hwc-mailer", CHECKOUT)))
    assert debian.ok(" ".join(["runuser", "-u", "hwc-mailer", "--", *HWC, "check"])).startswith(
        "hwc-mailer OK: config, rules, templates and keys are usable | ")
