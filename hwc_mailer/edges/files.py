"""The files the daemon trusts: its own, private to it, never reached through a symbolic link.

The state dir, the Message-ID key, the database, the register index, the gpg homes and the
secret files must belong to the user the daemon runs as (the effective uid) and carry no
permission bit for group or others; the last component of a path is never followed when it is
a link (`lstat`, `O_NOFOLLOW`), so whoever can replace a link cannot swap a file in. What
breaks the rule is refused with a ConfigError that names the file and the command that fixes it.

A systemd credential is the one exception, because systemd makes it: `$CREDENTIALS_DIRECTORY/NAME`
is owned by the service manager (root), mode 0400, with an ACL entry that lets the service user
read it (so `ls -l` shows `-r--r-----+`: the group bits show the ACL mask); on a file system
without ACLs systemd chowns it to the service user instead, mode 0400. Both are accepted; an ACL
that lets anyone else read it is not.

One file is written for others to read and trusted for nothing: the metrics textfile (`write_public`,
mode 0644, replaced in one rename), which holds no personal data.
"""

import errno
import fcntl
import os
import pwd
import secrets
import shlex
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import AlreadyRunning, ConfigError

PRIVATE = 0o077                   # the permission bits of group and others: none may be set
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_ACL_XATTR = "system.posix_acl_access"
_ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP, _ACL_OTHER = 0x02, 0x04, 0x08, 0x20


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def verdict(path: Path, what: str, status: os.stat_result | None, *, directory: bool = False, fix_mode: int = 0o600,
            credential_acl: bool = False) -> str | None:
    """What is wrong with `path`, given its lstat or fstat `status` (None: missing); None when it is ours alone.

    `fix_mode` is the mode the fix suggests for a file (directories: 0700). `credential_acl` accepts what
    systemd makes of a credential: owned by root, readable through an ACL that names no one but us.
    """
    me = os.geteuid()
    quoted = shlex.quote(str(path))
    if status is None:
        made = f" (`install -d -m 700 -o {_name(me)} {quoted}`)" if directory else ""
        return f"{what} {path} does not exist; create it, owned by {_name(me)} and private to it{made}"
    if stat.S_ISLNK(status.st_mode):
        kind = "directory" if directory else "file"
        return (f"{what} {path} is a symbolic link{_target(path)}, and links are not followed (whoever can change "
                f"the link could swap the {kind}): put the real {kind} in the link's place, or, where the service "
                "file names the path, name the real one there")
    if directory and not stat.S_ISDIR(status.st_mode):
        return f"{what} {path} is not a directory"
    if not directory and not stat.S_ISREG(status.st_mode):
        return f"{what} {path} is not a regular file"
    mode = stat.S_IMODE(status.st_mode)
    foreign = status.st_uid != me and not (credential_acl and status.st_uid == 0)
    loose = mode & PRIVATE != 0 and not (credential_acl and mode & PRIVATE == 0o040)
    if not (foreign or loose):
        return None
    owner = _name(status.st_uid)
    faults = [f"belongs to {owner} (uid {status.st_uid}), not to {_name(me)} (uid {me}), the user this runs as"
              ] if foreign else []
    if loose:
        faults.append(f"has mode {mode:04o}, which lets {_who(mode)} at it")
    chmod = f"chmod {0o700 if directory else fix_mode:o} {quoted}"
    repair = f"`chown {_name(me)}: {quoted} && {chmod}`" if foreign else f"`{chmod}`"
    if foreign and status.st_uid != 0:
        fix = (f"run the command as {owner}, the user it belongs to (`runuser -u {owner} -- hwc-mailer ...`), or, "
               f"if {_name(me)} is meant to be the service user, {repair}")
    elif foreign:
        fix = f"{repair} (as root)"
    else:
        fix = repair
    return f"{what} {path} {' and '.join(faults)}: the daemon trusts only its own, private files. Fix: {fix}"


def _target(path: Path) -> str:
    try:
        return f" to {os.readlink(path)}"
    except OSError:
        return ""


def _who(mode: int) -> str:
    return " and ".join(who for who, bits in (("its group", 0o070), ("others", 0o007)) if mode & bits)


def problem(path: Path, what: str, *, directory: bool = False, required: bool = True) -> str | None:
    """What is wrong with `path` as the daemon's own file or directory; None when fine (or missing and not required)."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return verdict(path, what, None, directory=directory) if required else None
    except OSError as error:
        return f"{what} {path} cannot be examined: {error.strerror}"
    return verdict(path, what, status, directory=directory)


def unreadable(path: Path, what: str) -> str | None:
    """What keeps the daemon from reading `path`, a file it needs but need not own (a CA bundle); None when it can.
    Opened without blocking, so a FIFO in its place cannot hold the check."""
    fix = "name an existing file the service user can read"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as error:
        return f"{what} {path} cannot be read: {error.strerror}; {fix}"
    with os.fdopen(descriptor, "rb") as opened:
        if not stat.S_ISREG(os.fstat(opened.fileno()).st_mode):
            return f"{what} {path} is not a regular file; {fix}"
        try:
            opened.read(1)
        except OSError as error:
            return f"{what} {path} cannot be read: {error.strerror}; {fix}"
    return None


def require(path: Path, what: str, *, directory: bool = False, required: bool = True) -> None:
    """Raise ConfigError with the `problem` of `path`, if it has one."""
    found = problem(path, what, directory=directory, required=required)
    if found is not None:
        raise ConfigError(found)


def private_directory(path: Path, what: str) -> None:
    """`path` as the daemon's own directory, made owner-only (0700) when missing."""
    try:
        path.mkdir(parents=True, mode=0o700)
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(descriptor, 0o700)      # mkdir's mode went through the umask
        finally:
            os.close(descriptor)
    except FileExistsError:
        pass
    except OSError as error:
        raise ConfigError(f"{what} {path} cannot be created: {error.strerror}") from None
    require(path, what, directory=True)


def private_file(path: Path, what: str, content: bytes = b"") -> None:
    """`path` as the daemon's own file; when missing, made with `content`, owner-only (0600, O_EXCL, no link)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        require(path, what)
        return
    except OSError as error:
        raise ConfigError(f"{what} {path} cannot be created: {error.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def read_private(path: Path, what: str) -> bytes:
    """The bytes of the daemon's own file, opened without following a link and checked on the open file."""
    try:
        descriptor = os.open(path, _READ)
    except OSError as error:
        raise ConfigError(_unopened(path, what, error)) from None
    with os.fdopen(descriptor, "rb") as handle:
        found = verdict(path, what, os.fstat(handle.fileno()))
        if found is not None:
            raise ConfigError(found)
        return handle.read()


def secret_key(path: Path, what: str, size: int = 32) -> bytes:
    """A random key, made once (0600, O_EXCL, never through a link) and read back the same way ever after."""
    private_file(path, what, secrets.token_bytes(size))
    return read_private(path, what)


def _unopened(path: Path, what: str, error: OSError) -> str:
    found = None
    if error.errno == errno.ELOOP:
        found = problem(path, what)
    elif error.errno == errno.ENOENT:
        found = verdict(path, what, None)
    return found or f"cannot read {what} {path}: {error.strerror}"


def check_secret(path: Path, descriptor: int, credential: bool) -> None:
    """For `Secret.read`: the open secret file is ours alone, or a credential as systemd makes it."""
    what = "credential" if credential else "secret file"
    acl = credential and _only_we_may_read(descriptor)
    found = verdict(path, what, os.fstat(descriptor), fix_mode=0o400, credential_acl=acl)
    if found is not None:
        if credential:
            found += ("; systemd makes a credential root's, mode 0400, readable by the service user through an ACL "
                      "(or the service user's, mode 0400): check what put this one in $CREDENTIALS_DIRECTORY")
        raise ConfigError(found)


def _only_we_may_read(descriptor: int) -> bool:
    """The file has an ACL that names no user but us, no group, and gives its group and others nothing."""
    try:
        raw = os.getxattr(descriptor, _ACL_XATTR)
    except OSError:
        return False
    if len(raw) < 4 or (len(raw) - 4) % 8:
        return False
    me = os.geteuid()
    for tag, permissions, uid in struct.iter_unpack("<HHI", raw[4:]):
        if (tag == _ACL_USER and uid != me) or tag == _ACL_GROUP or (tag in (_ACL_GROUP_OBJ, _ACL_OTHER)
                                                                     and permissions):
            return False
    return True


# The most of a textfile of ours that is read back: it is a few kilobytes.
MAX_PUBLIC_READ = 64 * 1024


def write_public(path: Path, content: bytes, what: str) -> None:
    """`content` in place of `path`, readable by everyone (0644, whatever the umask): for a file that holds nothing
    private, such as the metrics node_exporter reads. Written to a hidden scratch file beside it, synced, then renamed
    over it, so a reader sees the old file or the new one, never half of one; a link at `path` is replaced, never
    followed."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):      # of a write that was killed
        with suppress(OSError):
            leftover.unlink()
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise ConfigError(_unwritable(path, what, error)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, path)
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as error:
        with suppress(OSError):
            scratch.unlink()
        raise ConfigError(_unwritable(path, what, error)) from None


def public_unwritable(path: Path, what: str) -> str | None:
    """What would keep `write_public` from writing `path`, found by making (and removing) a scratch file beside it;
    None when it can."""
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
        scratch.unlink()
    except OSError as error:
        return _unwritable(path, what, error)
    return None


def _unwritable(path: Path, what: str, error: OSError) -> str:
    me, folder = _name(os.geteuid()), shlex.quote(str(path.parent))
    if error.errno == errno.EROFS:
        hint = (f"the file system is read-only here; under systemd add ReadWritePaths={path.parent} to the unit "
                "in a drop-in (docs/config.md, metrics)")
    elif error.errno in (errno.EACCES, errno.EPERM):
        hint = f"{me} must be able to create files in {path.parent}: `setfacl -m u:{me}:rwx {folder}`"
    elif error.errno == errno.ENOENT:
        hint = f"create the directory {path.parent} first"
    else:
        hint = "check the path and the directory"
    return f"{what} {path} cannot be written: {error.strerror}; {hint}"


def read_public(path: Path) -> bytes | None:
    """The start of a public file of ours (at most MAX_PUBLIC_READ bytes), never through a link; None when it is
    missing or cannot be read: nothing depends on it."""
    try:
        descriptor = os.open(path, _READ)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        try:
            return handle.read(MAX_PUBLIC_READ) if stat.S_ISREG(os.fstat(handle.fileno()).st_mode) else None
        except OSError:
            return None


@contextmanager
def instance_lock(state_dir: Path) -> Iterator[None]:
    """One `run` or `once` per state dir at a time: an exclusive lock on its lock file, held until the end. The lock
    goes with the process, so a crash never leaves it behind. Two state dirs on one mailbox are not protected."""
    path = state_dir / "hwc-mailer.lock"
    private_directory(state_dir, "state dir")
    private_file(path, "lock file")
    descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another hwc-mailer run or once is using {state_dir}; stop it first (systemctl "
                                 "stop hwc-mailer), or wait for it to finish") from None
        yield
    finally:
        os.close(descriptor)
