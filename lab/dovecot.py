"""A real Dovecot 2.3 on loopback, so mailbox code is tested against the server it meets.

Everything (sockets, state, log, users, Maildirs) lives under one directory; the master
runs in the foreground as our child, so a test session owns it completely.
"""

from __future__ import annotations

import os
import pwd
import smtplib
import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from imapclient import IMAPClient

from lab.service import Service
from lab.tls import LabTls

if TYPE_CHECKING:
    from lab.oauth import OAuthServer

HOST = "127.0.0.1"
_TIMEOUT = 10.0
_LOG_TAIL_LINES = 30
_EX_NOUSER = 68  # doveadm kick: "no users kicked"

_CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap lmtp
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l listener=%{{listener}} mpid=%e %c session=<%{{session}}>
listen = {host}
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = {auth_mechanisms}
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
{capability_line}
# Refusals answer at once: this first passdb only sets `nodelay` (Dovecot otherwise holds each failure back for
# auth_failure_delay, 2 s) and leaves the verdict failed, so the passdbs after it still check every password and
# token. auth_failure_delay = 0 alone would still cost up to half a second: failures are flushed on a timer.
passdb {{
  driver = static
  args = nopassword=y nodelay=yes
  result_success = continue-fail
}}
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
  mechanisms = plain login
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {imaps_port}
    ssl = yes
  }}
}}
# No growing penalty for an address whose logins failed: every test connects from 127.0.0.1, and one test's
# refused logins would otherwise slow the next test's logins by up to 15 seconds.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {lmtp_port}
  }}
}}
"""

# Tokens are checked by the lab's OAuth2 provider (RFC 7662 introspection) on every login, as Microsoft 365
# checks its own: Dovecot keeps no token cache (auth_cache_size is 0), so a revoked token fails at once.
_OAUTH_PASSDB = """passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {args}
}}
"""

_OAUTH_CONFIG = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {ca}
"""


class Dovecot(Service):
    """One Dovecot master with IMAP (STARTTLS), IMAPS and LMTP on loopback ports.

    `capabilities` replaces the CAPABILITY list advertised before and after login (Dovecot's
    `imap_capability`), to play a server without some extension. Dovecot still obeys the commands
    left out; imapclient refuses to send a command the server does not advertise, so a client
    that ignores the list fails loudly instead of passing by luck.
    """

    def __init__(
        self, directory: Path, tls: LabTls, *, capabilities: str | None = None, oauth: OAuthServer | None = None
    ) -> None:
        self.directory = directory
        self.tls = tls
        self.capabilities = capabilities
        self.oauth = oauth
        self.host = HOST
        self.imap_port = 0
        self.imaps_port = 0
        self.lmtp_port = 0
        self.config_path = directory / "dovecot.conf"
        self.oauth_config_path = directory / "dovecot-oauth2.conf.ext"
        self.users_path = directory / "users"
        self.log_path = directory / "dovecot.log"
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, same_ports: bool = False) -> None:
        """Write the config and run the master; return once IMAPS and LMTP answer. `same_ports`: a restart, on the
        ports the clients already know."""
        self._prepare_directory()
        if not same_ports:
            self.imap_port, self.imaps_port, self.lmtp_port = free_ports(3)
        self.config_path.write_text(self._config())
        if self.oauth is not None:
            self.oauth_config_path.write_text(_OAUTH_CONFIG.format(
                url=self.oauth.introspection_url("imap"), ca=self.oauth.tls.ca_file))
            self.oauth_config_path.chmod(0o644)
        self._process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kick sessions first: they outlive a stopped master and keep answering."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            self._doveadm("kick", "*", check=False)
            process.terminate()
        try:
            process.wait(_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """As a package upgrade restarts it: every session is told BYE, the ports are closed a moment."""
        self.stop()
        self.start(same_ports=True)

    def add_user(self, address: str, password: str) -> None:
        """Add or replace a user; Dovecot re-reads the passwd-file when it changes."""
        home = self._home(address)
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, *_mail_identity())
        self._passwords[address] = password
        entries = (
            f"{user}:{{PLAIN}}{secret}::::{self._home(user)}::\n"
            for user, secret in self._passwords.items()
        )
        temporary = self.users_path.with_suffix(".new")
        temporary.write_text("".join(entries))
        temporary.chmod(0o644)
        temporary.replace(self.users_path)
        self._await_user(address)

    def _await_user(self, address: str) -> None:
        """Dovecot looks at the passwd-file at most once a second: wait until it knows the user."""
        deadline = time.monotonic() + _TIMEOUT
        while self._doveadm("user", address, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not pick up user {address}")
            time.sleep(0.05)

    def deliver(self, address: str, raw: bytes, folder: str | None = None) -> None:
        """Deliver over LMTP, one recipient per transaction (LMTP replies per recipient)."""
        recipient = address if folder is None else _with_detail(address, folder)
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=_TIMEOUT) as lmtp:
            lmtp.sendmail("lab@localhost", [recipient], raw)

    def append(self, address: str, raw: bytes, folder: str) -> None:
        """Put `raw` into `folder` byte for byte (IMAP APPEND), as a mail client saving a message would: unlike
        `deliver`, nothing is added to the header. The folder is created when missing."""
        with self._imap(address) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)

    def copy_all(self, address: str, source: str, target: str) -> None:
        """Copy every message of `source` into `target` on the server, as a client that moves deleted mail to
        Trash does: same bytes, same size."""
        self._transfer_all(address, source, target, move=False)

    def move_all(self, address: str, source: str, target: str) -> None:
        """Move every message of `source` into `target` (IMAP MOVE): in `target` each gets a new UID."""
        self._transfer_all(address, source, target, move=True)

    def _transfer_all(self, address: str, source: str, target: str, *, move: bool) -> None:
        with self._imap(address) as client:
            if not client.folder_exists(target):
                client.create_folder(target)
            client.select_folder(source)
            if uids := client.search("ALL"):
                (client.move if move else client.copy)(uids, target)

    def messages(self, address: str, folder: str = "INBOX") -> list[bytes]:
        """Full raw messages in `folder`, read-only so \\Seen stays as the test left it."""
        with self._imap(address) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
        return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def flags(self, address: str, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        """Each message's flags in `folder`, in UID order, read-only."""
        with self._imap(address) as client:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), [b"FLAGS"])
        return [tuple(fetched[uid][b"FLAGS"]) for uid in sorted(fetched)]

    def capabilities_after_login(self, address: str) -> tuple[bytes, ...]:
        """What a logged-in client is told the server can do, as imapclient's `has_capability` sees it."""
        with self._imap(address) as client:
            return tuple(client.capabilities())

    def logins(self, address: str) -> list[tuple[str, str]]:
        """(listener, security) of each IMAP login so far: ("imap", "TLS") is STARTTLS, ("imaps", "TLS") implicit.

        Dovecot counts loopback as secure and says "secured" for a login without TLS there (elsewhere: "").
        """
        found = []
        for line in self.log_path.read_text().splitlines():
            _, marker, rest = line.partition("imap-login: Info: Login: ")
            fields = rest.split(", ")
            if marker and f"user=<{address}>" in fields:
                listener = next(field.removeprefix("listener=") for field in fields if field.startswith("listener="))
                security = next((field for field in fields if "=" not in field), "")
                found.append((listener, security))
        return found

    def folders(self, address: str) -> list[str]:
        """Every folder name the user sees (flat, "/"-separated)."""
        with self._imap(address) as client:
            return [name for _flags, _delimiter, name in client.list_folders()]

    def clear(self) -> None:
        """Remove every user's mail and folders so a session-scoped server serves each test."""
        self.kick("*")
        self._doveadm("expunge", "-A", "mailbox", "*", "all")
        for user, mailboxes in self._extra_mailboxes().items():
            # A parent that only exists through its children vanishes with them, and
            # then its own delete fails: judge by the listing afterwards, not the status.
            self._doveadm("mailbox", "delete", "-u", user, "-s", *mailboxes, check=False)
        if leftover := self._extra_mailboxes():
            raise RuntimeError(f"dovecot clear left mailboxes behind: {leftover}")

    def kick(self, address: str) -> None:
        """Disconnect the user's sessions; a user with no session is not an error."""
        result = self._doveadm("kick", address, check=False)
        if result.returncode not in (0, _EX_NOUSER):
            raise RuntimeError(f"doveadm kick {address} failed: {result.stderr.strip()}")

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the lab CA and checks host names."""
        return ssl.create_default_context(cafile=self.tls.ca_file)

    def _home(self, address: str) -> Path:
        return self.directory / "home" / address

    @contextmanager
    def _imap(self, address: str) -> Iterator[IMAPClient]:
        """A logged-in IMAPS session that verifies the lab certificate like a real client."""
        with IMAPClient(
            self.host, self.imaps_port, ssl=True, ssl_context=self.ssl_context(), timeout=_TIMEOUT
        ) as client:
            client.login(address, self._passwords[address])
            yield client

    def _extra_mailboxes(self) -> dict[str, list[str]]:
        """Each user's folders beyond the auto-created ones, children before parents."""
        extra: dict[str, list[str]] = {}
        for line in self._doveadm("mailbox", "list", "-A").stdout.splitlines():
            user, _, mailbox = line.partition(" ")
            if mailbox and mailbox not in {"INBOX", "Sent", "Trash"}:
                extra.setdefault(user, []).append(mailbox)
        return {
            user: sorted(boxes, key=lambda box: box.count("/"), reverse=True)
            for user, boxes in extra.items()
        }

    def _doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["doveadm", "-c", str(self.config_path), *args],
            capture_output=True, text=True, check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def _prepare_directory(self) -> None:
        """Dovecot's auth process (user dovecot) must traverse to the passwd-file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        for parent in self.directory.resolve().parents:
            if not parent.stat().st_mode & stat.S_IXOTH:
                raise PermissionError(f"{parent} is not traversable by others; chmod o+x it")
        if not self.users_path.exists():
            self.users_path.write_text("")
            self.users_path.chmod(0o644)

    def _config(self) -> str:
        internal_user, login_user = _service_users()
        uid, gid = _mail_identity()
        return _CONFIG.format(
            dir=self.directory, host=self.host, cert=self.tls.cert_file, key=self.tls.key_file,
            internal_user=internal_user, login_user=login_user, uid=uid, gid=gid,
            imap_port=self.imap_port, imaps_port=self.imaps_port, lmtp_port=self.lmtp_port,
            capability_line="" if self.capabilities is None else f"imap_capability = {self.capabilities}\n",
            auth_mechanisms="plain login" if self.oauth is None else "plain login xoauth2 oauthbearer",
            oauth_passdb="" if self.oauth is None else _OAUTH_PASSDB.format(args=self.oauth_config_path),
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _TIMEOUT
        pending = [self._imaps_greets, self._lmtp_greets]
        while pending:
            assert self._process is not None
            if (status := self._process.poll()) is not None:
                raise RuntimeError(f"dovecot exited ({status})\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dovecot not ready in {_TIMEOUT}s\n{self._log_tail()}")
            pending = [probe for probe in pending if not probe()]
            if pending:
                time.sleep(0.02)  # poll interval; refused connections return instantly

    def _imaps_greets(self) -> bool:
        return _greets(self.imaps_port, b"* OK", self.ssl_context())

    def _lmtp_greets(self) -> bool:
        return _greets(self.lmtp_port, b"220", None)

    def _log_tail(self) -> str:
        if not self.log_path.exists():
            return "(no dovecot log)"
        return "\n".join(self.log_path.read_text().splitlines()[-_LOG_TAIL_LINES:])


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports the kernel considers free right now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.create_server((HOST, 0))) for _ in range(count)]
        return [sock.getsockname()[1] for sock in sockets]


def _greets(port: int, greeting: bytes, context: ssl.SSLContext | None) -> bool:
    """True once a real client connection gets the server's greeting."""
    try:
        with ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((HOST, port), timeout=1.0))
            if context is not None:
                sock = stack.enter_context(context.wrap_socket(sock, server_hostname=HOST))
            return sock.recv(64).startswith(greeting)
    except OSError:
        return False


def _service_users() -> tuple[str, str]:
    """Dovecot's own unprivileged users as root; otherwise everything runs as us."""
    if os.geteuid() == 0:
        return "dovecot", "dovenull"
    me = pwd.getpwuid(os.geteuid()).pw_name
    return me, me


def _mail_identity() -> tuple[int, int]:
    """Who owns the mail: LMTP refuses to deliver as root, so root hands it to nobody."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid
    return os.getuid(), os.getgid()


def _with_detail(address: str, folder: str) -> str:
    local, domain = address.rsplit("@", 1)
    return f"{local}+{folder}@{domain}"
