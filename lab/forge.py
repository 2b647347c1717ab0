"""Forged and broken inbound mail, made with real gpg: what an attacker or a clumsy mail client could send.

A `Forger` holds the signing keys an attacker or an accident could produce (Veilig Thuis' own
key with a forged clock, a revoked key, an expired key, an old key) in one gpg home, and the
builders below turn them into whole raw messages as a mail client would hand them to the server.
"""

from __future__ import annotations

import base64
import itertools
import shutil
import subprocess
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TypedDict, Unpack

from lab.children import SARA, TIM
from lab.cli import hwc_mailer
from lab.gpg import export_public, export_secret, generate_key, import_keys, kill_agents, new_home, revoke
from lab.gpg import gpg as gpg  # re-exported: the forgery tests run gpg in the forger's home too
from lab.world import OFFICE, VEILIG_THUIS, World

CRLF = "\r\n"
ATTACKER = "attacker@evil.example"
FORGER_OPTIONS = ("yes", "trust-model always")


def config_with_sender_keys(world: World, etc: Path, fingerprints: list[str], *, state_dir: Path | None = None,
                            extra_yaml: str = "") -> Path:
    """A service file whose rules also list `fingerprints` for Veilig Thuis (other tests' rules do not)."""
    config = world.write_config(etc, state_dir=state_dir)
    rules = etc / "rules.yaml"
    own = f'fingerprints: ["{world.veilig_thuis}"]'
    listed = ", ".join(f'"{fingerprint}"' for fingerprint in (world.veilig_thuis, *fingerprints))
    text = rules.read_text()
    assert own in text, "the lab's rules changed shape"
    rules.write_text(text.replace(own, f"fingerprints: [{listed}]", 1))
    if extra_yaml:
        config.write_text(config.read_text() + extra_yaml)
    return config


def keys_import(config: Path, key_file: Path, home: Path, fingerprints: list[str]) -> None:
    """Through the product's own `keys import`, as an admin would; every key must end up in `home`.

    A revoked or expired key is imported but not certified, and the command then exits 1:
    for a sender's key that is enough (senders' keys are only verified against, never encrypted to).
    """
    result = hwc_mailer(config, "keys", "import", str(key_file))
    # --trust-model always: listing the daemon's keyring must not make gpg check its trust database.
    listed = gpg(home, "--trust-model", "always", "--list-keys", "--with-colons").decode().upper()
    if missing := [fingerprint for fingerprint in fingerprints if f":{fingerprint}:" not in listed]:
        raise RuntimeError(f"keys import left out {missing}: {result.stdout}{result.stderr}")


def generate_signing_key(home: Path, user_id: str, *, expire: str = "1y", at: datetime | None = None) -> str:
    """A sign-only Ed25519 key, created at `at` (default now); returns the fingerprint."""
    return generate_key(home, user_id, expire=expire, encrypt=False, at=at)


class Forger:
    """One gpg home with every key a forgery may be signed with, and the session clock to lie about.

    The home answers yes (a key may share its user id with another) and trusts every key it holds, as an
    attacker's would: its gpg.conf says so, so every gpg call in it behaves alike.
    """

    def __init__(self, world: World, directory: Path, now: datetime | None = None) -> None:
        self.world = world
        self.now = now or datetime.now(UTC)
        self.home = new_home(directory, "fx", options=FORGER_OPTIONS)
        import_keys(self.home, export_secret(world.veilig_thuis_home, world.veilig_thuis))
        import_keys(self.home, export_secret(world.other_sender_home, world.other_sender))
        import_keys(self.home, export_public(world.office_home, world.office))
        for school in world.schools:
            import_keys(self.home, export_public(school.home, school.fingerprint))
        uid = f"Veilig Thuis Zuid-Limburg <{VEILIG_THUIS}>"
        # Listed for Veilig Thuis, then revoked: what it signed before the revocation must not pass.
        self.revoked = generate_signing_key(self.home, uid)
        self.revoked_ciphertext: bytes | None = None
        # Listed for Veilig Thuis, made ten days ago to last one day: expired nine days ago.
        self.expired = generate_signing_key(self.home, uid, expire="1d", at=self.now - timedelta(days=10))
        # Listed for Veilig Thuis, valid for a year, made sixty days ago: signatures from a month ago verify.
        self.old = generate_signing_key(self.home, uid, at=self.now - timedelta(days=60))

    def sign_encrypt(self, plaintext: bytes, *, signers: tuple[str, ...] | None = None,
                     recipient: str | None = None, at: datetime | None = None, sig_expire: str | None = None) -> bytes:
        """Armored ciphertext; by default exactly what Veilig Thuis sends: signed by it, encrypted to the office."""
        signers = (self.world.veilig_thuis,) if signers is None else signers
        args = ["--armor", "--recipient", recipient or self.world.office]
        for signer in signers:
            args += ["--local-user", signer]
        if sig_expire:
            args += ["--default-sig-expire", sig_expire]
        args += ["--sign", "--encrypt"] if signers else ["--encrypt"]
        return gpg(self.home, *args, stdin=plaintext, at=at)

    def sign_encrypt_to(self, plaintext: bytes, recipients: Sequence[str]) -> bytes:
        """Signed by Veilig Thuis and encrypted to every key in `recipients`: a client with encrypt-to-self or a Cc."""
        args = ["--armor", "--local-user", self.world.veilig_thuis]
        for recipient in recipients:
            args += ["--recipient", recipient]
        return gpg(self.home, *args, "--sign", "--encrypt", stdin=plaintext)

    def bomb(self, prefix: bytes, zeros: int) -> bytes:
        """A decompression bomb: `prefix` and then `zeros` zero bytes, signed by Veilig Thuis and encrypted to the
        office, bzip2-compressed to a few KB. The zeros are streamed into gpg, never held here."""
        command = ["gpg", "--batch", "--no-tty", "--homedir", str(self.home), "--pinentry-mode", "loopback",
                   "--passphrase", "", "--armor", "--compress-algo", "bzip2", "--compress-level", "1",
                   "--local-user", self.world.veilig_thuis, "--recipient", self.world.office, "--sign", "--encrypt"]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdin, stdout, stderr = process.stdin, process.stdout, process.stderr
        assert stdin is not None and stdout is not None and stderr is not None

        def feed() -> None:
            block = bytes(1 << 20)
            try:
                stdin.write(prefix)
                for start in range(0, zeros, len(block)):
                    stdin.write(block[:min(len(block), zeros - start)])
            finally:
                stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        armored, errors = stdout.read(), stderr.read()  # a few KB each: neither pipe fills while the other waits
        writer.join()
        process.wait()
        stdout.close()
        stderr.close()
        if process.returncode != 0:
            raise RuntimeError(f"gpg could not make the bomb: {errors.decode(errors='replace')}")
        return armored

    def clearsign(self, text: str, signer: str | None = None) -> bytes:
        return gpg(self.home, "--local-user", signer or self.world.veilig_thuis, "--clearsign", stdin=text.encode())

    def sign_only(self, data: bytes, signer: str | None = None) -> bytes:
        """An armored `-----BEGIN PGP MESSAGE-----` that is signed but not encrypted."""
        return gpg(self.home, "--local-user", signer or self.world.veilig_thuis, "--armor", "--sign", stdin=data)

    def detached(self, data: bytes, signer: str | None = None) -> bytes:
        return gpg(self.home, "--local-user", signer or self.world.veilig_thuis, "--armor", "--detach-sign",
                   stdin=data)

    @property
    def extra_keys(self) -> list[str]:
        return [self.revoked, self.expired, self.old]

    def enlist(self, directory: Path) -> None:
        """Sign one signal with the key-to-be-revoked, revoke it, and import all three extra keys.

        They enter the session's inbound keyring through `keys import` with rules that list
        them for Veilig Thuis; the ordinary rules of other tests do not list them.
        """
        self.revoked_ciphertext = self.sign_encrypt(inner_text(SIGNAL), signers=(self.revoked,))
        revoke(self.home, self.revoked)
        key_file = directory / "extra-sender-keys.asc"
        key_file.write_bytes(b"".join(export_public(self.home, fingerprint) for fingerprint in self.extra_keys))
        keys_import(config_with_sender_keys(self.world, directory / "etc", self.extra_keys), key_file,
                    self.world.inbound_home, self.extra_keys)

    def close(self) -> None:
        kill_agents(self.home)
        shutil.rmtree(self.home, ignore_errors=True)


# ---- what the mail looks like -------------------------------------------------------------------------------

OTHER_CHILD = SARA  # the child a smuggled second signal is about


def signal_text(children: list[dict[str, str]]) -> str:
    blocks = "\n\n".join("\n".join(f"{label}: {value}" for label, value in child.items()) for child in children)
    return (f"Beste collega van Leerplicht,\n\nHierbij een Handle with Care-signaal.\n\n{blocks}\n\n"
            "Met vriendelijke groet,\n\nA. de Vries\nVeilig Thuis Zuid-Limburg\n")


SIGNAL = signal_text([TIM])


def inner_text(text: str, charset: str = "utf-8") -> bytes:
    """The MIME entity a mail client encrypts for PGP/MIME: one text/plain part."""
    return (f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{text}").replace("\n", "\r\n").replace("\r\r\n", "\r\n").encode(charset)


def protected_inner(text: str, *, to: str, sender: str = f"Veilig Thuis Zuid-Limburg <{VEILIG_THUIS}>") -> bytes:
    """The MIME entity Thunderbird encrypts: multipart/mixed with protected headers (From, To, Message-ID,
    Subject, as Thunderbird 78 and later copy them inside) around one text/plain part."""
    kind, body = multipart("mixed", [part("text/plain; charset=utf-8", text, "Content-Transfer-Encoding: 8bit")],
                           '; protected-headers="v1"')
    lines = [f"Content-Type: {kind}", f"From: {sender}", f"To: {to}",
             f"Message-ID: {make_msgid(domain='veiligthuis-zl.example.nl')}", "Subject: Melding"]
    entity = CRLF.join(lines) + CRLF + CRLF + body
    return entity.replace("\r\n", "\n").replace("\n", CRLF).encode("utf-8")


class Headers(TypedDict, total=False):
    """What a forgery may set in the headers: the From value, the subject, lines added after From."""

    sender: str
    subject: str
    extra: tuple[str, ...]


def headers(*, sender: str = f"Veilig Thuis Zuid-Limburg <{VEILIG_THUIS}>", subject: str = "Melding",
            extra: tuple[str, ...] = ()) -> str:
    lines = [f"From: {sender}", *extra, f"To: {OFFICE}", f"Subject: {subject}",
             f"Date: {format_datetime(datetime.now(UTC))}",
             f"Message-ID: {make_msgid(domain='forged.example.nl')}", "MIME-Version: 1.0"]
    return CRLF.join(lines) + CRLF


def message(content_type: str, body: str | bytes, **fields: Unpack[Headers]) -> bytes:
    text = body.decode("ascii") if isinstance(body, bytes) else body
    return (headers(**fields) + f"Content-Type: {content_type}\r\n\r\n"
            + text.replace("\r\n", "\n").replace("\n", CRLF)).encode("utf-8")


def part(content_type: str, body: str | bytes, *more: str) -> str:
    text = body.decode("ascii") if isinstance(body, bytes) else body
    return CRLF.join([f"Content-Type: {content_type}", *more]) + CRLF + CRLF + text


def multipart(subtype: str, parts: list[str], params: str = "", boundary: str | None = None) -> tuple[str, str]:
    """(Content-Type value, body) for a multipart entity."""
    boundary = boundary or f"=={subtype}-{next(_BOUNDARIES)}=="
    body = "".join(f"--{boundary}{CRLF}{entity.rstrip(CRLF)}{CRLF}" for entity in parts) + f"--{boundary}--{CRLF}"
    return f'multipart/{subtype}; boundary="{boundary}"{params}', "This is an OpenPGP/MIME message" + CRLF + body


_BOUNDARIES = itertools.count(1)
CONTROL = part("application/pgp-encrypted", "Version: 1\r\n")


def payload(armored: bytes) -> str:
    return part('application/octet-stream; name="encrypted.asc"', armored,
                'Content-Disposition: inline; filename="encrypted.asc"')


def pgp_mime(armored: bytes, *, parts: list[str] | None = None,
             protocol: str = "application/pgp-encrypted", **fields: Unpack[Headers]) -> bytes:
    kind, body = multipart("encrypted", parts if parts is not None else [CONTROL, payload(armored)],
                           f'; protocol="{protocol}"')
    return message(kind, body, **fields)


def inline(body: str | bytes, **fields: Unpack[Headers]) -> bytes:
    return message("text/plain; charset=us-ascii", body, **fields)


def flip(armored: bytes) -> bytes:
    """Change one byte of the encrypted data itself (not the armor), keeping the armor checksum in step."""
    lines = armored.decode("ascii").splitlines()
    start = lines.index("") + 1
    checksum = next(index for index, line in enumerate(lines) if line.startswith("="))
    data = bytearray(base64.b64decode("".join(lines[start:checksum])))
    data[len(data) * 2 // 3] ^= 0x01
    encoded = base64.b64encode(bytes(data)).decode("ascii")
    body = [encoded[index:index + 64] for index in range(0, len(encoded), 64)]
    crc = _crc24(bytes(data)).to_bytes(3, "big")
    return "\n".join([*lines[:start], *body, "=" + base64.b64encode(crc).decode("ascii"),
                      *lines[checksum + 1:]]).encode("ascii") + b"\n"


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF
