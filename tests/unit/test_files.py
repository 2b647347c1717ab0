"""The files the daemon trusts: its own, private, never through a link; refused with the path and the fix otherwise."""

import os
import re
import shlex
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwc_mailer.cli import main
from hwc_mailer.edges import files
from hwc_mailer.errors import ConfigError
from hwc_mailer.service.setup import file_problems, open_store, state_secret, trust_files
from hwc_mailer.settings.config import Secret, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
ROOT = os.geteuid() == 0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def private(path: Path, content: str = "geheim-en-lang-genoeg-voor-de-sleutel-1234") -> Path:
    path.write_text(content)
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class Tree:
    """A service file and everything it points at, each the test user's own and private."""

    root: Path
    config: Path

    @property
    def settings(self) -> Settings:
        return load_settings(self.config)

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def key(self) -> Path:
        return self.state / "secret.key"

    @property
    def database(self) -> Path:
        return self.state / "hwc-mailer.db"

    @property
    def password(self) -> Path:
        return self.root / "etc" / "password"


def write_tree(root: Path, database_url: str | None = None) -> Tree:
    etc = root / "etc"
    etc.mkdir(parents=True)
    for home in ("in", "out"):
        (root / home).mkdir(mode=0o700)
        (root / home).chmod(0o700)
    private(etc / "password")
    private(etc / "register.key")
    config = etc / "config.yaml"
    config.write_text(f"""\
imap: {{host: 127.0.0.1, port: 9, username: lp@example.nl, password: {{file: password}}}}
smtp: {{host: 127.0.0.1, port: 9, username: lp@example.nl, password: {{file: password}}}}
gpg: {{inbound_home: {root}/in, outbound_home: {root}/out, key_fingerprint: "{'A' * 40}"}}
sender: {{address: leerplicht@maastricht.example.nl}}
rules: {REPO / 'rules' / 'maastricht-heuvelland.yaml'}
state_dir: {root}/state
register: {{key: {{file: register.key}}}}
""" + (f"database_url: {database_url}\n" if database_url else ""))
    tree = Tree(root, config)
    state_secret(tree.state)
    open_store(tree.settings).close()
    return tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return write_tree(tmp_path / "hwc")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """An admin's shell: whatever is made must not take its mode from the umask."""
    saved = os.umask(0)
    yield
    os.umask(saved)


def refusal(tree: Tree) -> str:
    """The one problem with the tree, as `check` and every command that opens the state report it."""
    problems = file_problems(tree.settings)
    assert len(problems) == 1, problems
    with pytest.raises(ConfigError) as caught:
        trust_files(tree.settings)
    assert str(caught.value) == problems[0]
    return problems[0]


def test_a_correct_tree_is_accepted(tree: Tree) -> None:
    assert file_problems(tree.settings) == []
    trust_files(tree.settings)
    assert mode(tree.state) == 0o700 and mode(tree.key) == 0o600 and mode(tree.database) == 0o600
    assert state_secret(tree.state) == tree.key.read_bytes()


def test_the_state_dir_and_the_secret_key_are_made_owner_only(tmp_path: Path, loose_umask: None) -> None:
    state = tmp_path / "var" / "lib" / "hwc-mailer"
    secret = state_secret(state)
    assert len(secret) == 32
    assert mode(state) == 0o700
    assert mode(state / "secret.key") == 0o600
    assert state.stat().st_uid == os.geteuid() and (state / "secret.key").stat().st_uid == os.geteuid()
    assert state_secret(state) == secret


def test_the_database_is_made_owner_only_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    tree = write_tree(tmp_path / "hwc")
    assert mode(tree.database) == 0o600
    assert file_problems(tree.settings) == []


def test_a_group_readable_state_dir_is_refused(tree: Tree) -> None:
    tree.state.chmod(0o750)
    message = refusal(tree)
    assert message.startswith(f"state dir {tree.state} has mode 0750, which lets its group at it")
    assert f"Fix: `chmod 700 {shlex.quote(str(tree.state))}`" in message
    with pytest.raises(ConfigError, match=r"state dir .* has mode 0750"):
        state_secret(tree.state)


def test_a_world_readable_secret_key_is_refused(tree: Tree) -> None:
    tree.key.chmod(0o644)
    message = refusal(tree)
    assert message.startswith(f"secret key {tree.key} has mode 0644, which lets its group and others at it")
    assert f"`chmod 600 {tree.key}`" in message
    with pytest.raises(ConfigError) as caught:
        state_secret(tree.state)
    assert str(caught.value) == message


def test_a_symlinked_secret_key_is_refused_and_not_followed(tree: Tree) -> None:
    real = private(tree.root / "elsewhere.key", "x" * 32)
    tree.key.unlink()
    tree.key.symlink_to(real)
    message = refusal(tree)
    assert message.startswith(f"secret key {tree.key} is a symbolic link to {real}, and links are not followed")
    with pytest.raises(ConfigError, match="is a symbolic link"):
        state_secret(tree.state)
    assert tree.key.is_symlink() and real.read_text() == "x" * 32


def test_a_dangling_symlink_is_not_made_into_a_secret_key(tree: Tree) -> None:
    target = tree.root / "planted.key"
    tree.key.unlink()
    tree.key.symlink_to(target)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        state_secret(tree.state)
    assert not target.exists()


def foreign(path: Path) -> None:
    os.chown(path, NOBODY, NOBODY)


def test_a_database_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if ROOT:
        tree = write_tree(tmp_path / "hwc")
        database = tree.database
        foreign(database)
        message = refusal(tree)
        owner = "uid 65534"
    else:  # only root can give a file away: a root-owned file stands in for it
        database = Path("/etc/passwd")
        found = files.problem(database, "database")
        assert found is not None
        message = found
        owner = "uid 0"
    assert message.startswith(f"database {database} belongs to ")
    assert f"({owner}), not to " in message
    me = files._name(os.geteuid())
    assert f"`chown {me}: {database} && chmod 600 {database}`" in message
    if ROOT:
        assert "runuser -u " in message


def test_a_database_elsewhere_needs_a_private_directory_too(tmp_path: Path) -> None:
    elsewhere = tmp_path / "db"
    tree = write_tree(tmp_path / "hwc", database_url=f"sqlite:///{elsewhere}/hwc-mailer.db")
    assert mode(elsewhere) == 0o700 and mode(elsewhere / "hwc-mailer.db") == 0o600
    elsewhere.chmod(0o755)
    message = refusal(tree)
    assert message.startswith(f"database directory {elsewhere} has mode 0755")


def test_a_group_readable_database_journal_is_refused(tree: Tree) -> None:
    wal = Path(f"{tree.database}-wal")
    wal.write_bytes(b"")
    wal.chmod(0o640)
    message = refusal(tree)
    assert message.startswith(f"database {wal} has mode 0640")
    assert f"`chmod 600 {wal}`" in message


def test_a_group_writable_gpg_home_is_refused(tree: Tree) -> None:
    home = tree.root / "out"
    home.chmod(0o770)
    message = refusal(tree)
    assert message.startswith(f"gpg outbound_home {home} has mode 0770, which lets its group at it")
    assert f"`chmod 700 {home}`" in message


def test_a_world_readable_register_index_is_refused(tree: Tree) -> None:
    index = tree.state / "register.sqlite"
    index.write_bytes(b"")
    index.chmod(0o604)
    message = refusal(tree)
    assert message.startswith(f"register index {index} has mode 0604, which lets others at it")


def test_a_secret_file_readable_by_others_is_refused(tree: Tree) -> None:
    tree.password.chmod(0o644)
    message = refusal(tree)  # imap.password and smtp.password are one file: one line
    assert message.startswith(f"secret file {tree.password} has mode 0644, which lets its group and others at it")
    assert f"`chmod 400 {tree.password}`" in message
    with pytest.raises(ConfigError) as caught:
        Secret(file=tree.password).read(files.check_secret)
    assert str(caught.value) == message


def test_a_secret_file_is_never_read_through_a_link(tmp_path: Path) -> None:
    real = private(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(ConfigError, match=re.escape(f"secret file {link} is a symbolic link")):
        Secret(file=link).read()
    with pytest.raises(ConfigError, match=re.escape(f"secret file {link} is a symbolic link")):
        Secret(file=link).read(files.check_secret)


# --- systemd credentials: what systemd makes is accepted, nothing looser ---------------------

ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
UNDEFINED = 0xFFFFFFFF


def set_acl(path: Path, *readers: int) -> None:
    """What systemd's write_credential does: mode 0400, then an ACL entry letting the service user read."""
    entries = [(ACL_USER_OBJ, 4, UNDEFINED), *((ACL_USER, 4, uid) for uid in readers), (ACL_GROUP_OBJ, 0, UNDEFINED),
               (ACL_MASK, 4, UNDEFINED), (ACL_OTHER, 0, UNDEFINED)]
    os.setxattr(path, "system.posix_acl_access",
                struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries))


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir(mode=0o500)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    return directory


def credential(directory: Path, name: str = "imap-password") -> Path:
    path = directory / name
    path.write_text("wachtwoord\n")
    path.chmod(0o400)
    return path


def test_a_credential_as_systemd_makes_it_with_an_acl_is_accepted(credentials: Path) -> None:
    path = credential(credentials)
    set_acl(path, os.geteuid())
    assert mode(path) == 0o440  # the group bits show the ACL mask: `-r--r-----+`
    assert Secret(credential="imap-password").read(files.check_secret) == "wachtwoord"


def test_a_credential_as_systemd_makes_it_without_acls_is_accepted(credentials: Path) -> None:
    path = credential(credentials)
    assert path.stat().st_uid == os.geteuid() and mode(path) == 0o400
    assert Secret(credential="imap-password").read(files.check_secret) == "wachtwoord"


def test_a_credential_whose_acl_lets_another_user_read_is_refused(credentials: Path) -> None:
    path = credential(credentials)
    set_acl(path, os.geteuid(), NOBODY)
    with pytest.raises(ConfigError) as caught:
        Secret(credential="imap-password").read(files.check_secret)
    assert str(caught.value).startswith(f"credential {path} has mode 0440, which lets its group at it")
    assert "check what put this one in $CREDENTIALS_DIRECTORY" in str(caught.value)


def test_a_group_readable_credential_without_an_acl_is_refused(credentials: Path) -> None:
    path = credential(credentials)
    path.chmod(0o440)
    with pytest.raises(ConfigError, match=re.escape(f"credential {path} has mode 0440")):
        Secret(credential="imap-password").read(files.check_secret)


def test_a_credential_of_another_user_is_refused(credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if ROOT:
        path = credential(credentials)
        foreign(path)
        name = "imap-password"
    else:  # a root-owned file without an ACL for us stands in for it
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/etc")
        path, name = Path("/etc/passwd"), "passwd"
    with pytest.raises(ConfigError, match=re.escape(f"credential {path} belongs to ")):
        Secret(credential=name).read(files.check_secret)


# --- the commands: a tree that is not the daemon's own is refused before anything runs -------

@pytest.mark.parametrize("command", [["once"], ["check", "--offline"], ["keys"], ["keys", "import", "KEYS"],
                                     ["register", "import", "-"], ["register"], ["stats"]])
def test_every_command_that_opens_the_state_refuses_a_world_readable_state_dir(tree: Tree,
                                                                               command: list[str]) -> None:
    tree.state.chmod(0o755)
    keys = tree.root / "partners.asc"
    keys.write_text("")
    args = [str(keys) if arg == "KEYS" else arg for arg in command]
    result = CliRunner().invoke(main, ["-c", str(tree.config), *args], input="")
    assert result.exit_code == 2, result.output
    expected = f"state dir {tree.state} has mode 0755, which lets its group and others at it"
    if command[0] == "check":
        assert f"problem: {expected}" in result.stdout
        assert "1 problem(s)" in result.stdout
    else:
        assert f"error: {expected}" in result.stderr
        assert f"`chmod 700 {tree.state}`" in result.stderr
    assert mode(tree.state) == 0o755


def test_once_exits_2_naming_the_world_readable_state_dir_and_the_fix(tree: Tree) -> None:
    tree.state.chmod(0o755)
    result = CliRunner().invoke(main, ["-c", str(tree.config), "once"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: state dir {tree.state} has mode 0755")
    assert f"Fix: `chmod 700 {tree.state}`" in result.stderr


def test_a_ca_bundle_that_is_a_fifo_is_named_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)

    assert files.unreadable(fifo, "imap.ca_file") == (f"imap.ca_file {fifo} is not a regular file; name an existing "
                                                       "file the service user can read")
    assert files.unreadable(tmp_path / "none.pem", "imap.ca_file") == (
        f"imap.ca_file {tmp_path / 'none.pem'} cannot be read: No such file or directory; name an existing file the "
        "service user can read")
