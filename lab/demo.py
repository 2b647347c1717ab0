"""The local demo: one signal through a real mail stack on 127.0.0.1, and what each party sees.

Starts Dovecot and an SMTP relay with a throwaway CA, makes throwaway keys,
pipes an invented export of the leerplicht administration into `hwc-mailer
register import -` (the pseudonymised register index), delivers a signed and
encrypted sample signal into the Leerplicht inbox (two children, name and date of
birth only, as Veilig Thuis writes them), runs `hwc-mailer once`, then shows each
school's mailbox decrypted with that school's own key and the emptied inbox and
Sent folder.
Then a forged signal goes to quarantine and the officer's alert is shown, and
finally `hwc-mailer stats`. Stops what it started and removes every file it made.
Exit status 0 only when every one of those checks held.
"""

import email
import email.policy
import shutil
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

from lab.children import REGISTER_EXPORT, SARA_ONLY_NAME, TIM, TIM_ONLY_NAME
from lab.cli import hwc_mailer
from lab.dovecot import Dovecot
from lab.gpg import kill_agents
from lab.smtp import RelaySmtp
from lab.tls import make_tls
from lab.world import OFFICE, World, sample_signal


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def show(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `hwc-mailer ARGS...` and show the command, its output and its log."""
    print("$ " + ("leerplicht-export | " if stdin is not None else "") + "hwc-mailer " + " ".join(args), flush=True)
    result = hwc_mailer(config, *args, stdin=stdin)
    print(result.stdout, end="")
    if result.stderr:
        print("(log)\n" + result.stderr, end="")
    return result


def main() -> int:
    directory = Path(tempfile.mkdtemp(prefix="hwc-demo-"))
    directory.chmod(0o755)
    failures: list[str] = []
    try:
        step("starting Dovecot (IMAP + LMTP) and an SMTP relay on 127.0.0.1 with a throwaway CA")
        tls = make_tls(directory / "tls")
        with Dovecot(directory / "dovecot", tls) as dovecot, RelaySmtp(dovecot, tls, {}) as relay:
            print(f"IMAPS 127.0.0.1:{dovecot.imaps_port}, SMTP (STARTTLS) 127.0.0.1:{relay.port}")
            step("making throwaway keys: Veilig Thuis, Leerplicht, two schools")
            world = World(directory / "world", dovecot, relay, tls)
            for school in world.schools:
                print(f"{school.code} {school.name}: {school.address}, key {school.fingerprint}")

            step("the leerplicht administration's export goes into the pseudonymised register index")
            config = world.write_config(world.directory / "etc", register=True)
            if show(config, "register", "import", "-", stdin=REGISTER_EXPORT).returncode != 0:
                failures.append("hwc-mailer register import failed")
            show(config, "register")

            step("Veilig Thuis sends a signed and encrypted signal: two children, name and date of birth only")
            world.deliver_signal(world.signal_mail(sample_signal([TIM_ONLY_NAME, SARA_ONLY_NAME])))
            print(f"{OFFICE} INBOX holds {len(dovecot.messages(OFFICE))} message(s)")

            step("running the daemon once")
            if show(config, "check").returncode != 0:
                failures.append("hwc-mailer check found problems")
            if show(config, "once").returncode != 0:
                failures.append("hwc-mailer once failed")

            delivered = []
            for school in world.schools:
                step(f"what {school.name} ({school.address}) receives")
                mails = world.school_mail(school)
                delivered.append(mails)
                if len(mails) != 1:
                    failures.append(f"{school.code} received {len(mails)} mails instead of 1")
                for raw in mails:
                    message, decrypted = world.open_as(school, raw)
                    print("-- on the wire (readable by anyone who sees the mail):")
                    for name in ("From", "To", "Subject", "Message-ID", "Content-Type"):
                        print(f"{name}: {message[name]}")
                    signed = decrypted.valid and decrypted.pubkey_fingerprint == world.office
                    print(f"-- decrypted with the school's own key (signature by Leerplicht: "
                          f"{'good' if signed else 'MISSING'}):")
                    inner = email.message_from_bytes(decrypted.data, policy=email.policy.default)
                    print(f"Subject (protected): {inner['Subject']}\n")
                    print(inner.get_content() if isinstance(inner, EmailMessage) else "(not a message)")
                    if not (decrypted.ok and signed):
                        failures.append(f"{school.code}: mail not decryptable or not signed by Leerplicht")

            step("what is left with Leerplicht")
            for folder in ("INBOX", "Sent"):
                left = len(dovecot.messages(OFFICE, folder))
                print(f"{folder}: {left} message(s)")
                if left:
                    failures.append(f"{folder} still holds {left} message(s)")

            step("a forgery: a signal that claims to come from Veilig Thuis but is signed by a school's key")
            school = world.schools[0]
            forged = world.armored(f"Content-Type: text/plain\r\n\r\n{sample_signal([TIM])}".encode(),
                                   signer=school.fingerprint, signer_home=school.home)
            world.deliver_signal(world.signal_mail("", encrypted=forged))
            show(config, "once")
            quarantined = len(dovecot.messages(OFFICE, "HWC-Quarantaine"))
            print(f"HWC-Quarantaine: {quarantined} message(s); what the officer reads:\n")
            alerts = world.officer_mail()
            for raw in alerts:
                print(world.read_alert(raw))
            if quarantined != 1 or len(alerts) != 1 or any(world.school_mail(s) != mails for s, mails in
                                                           zip(world.schools, delivered, strict=True)):
                failures.append("the forgery was not quarantined with exactly one alert and nothing sent")

            step("anonymous counters")
            show(config, "stats")
    finally:
        for keyring in directory.rglob("pubring.kbx"):
            kill_agents(keyring.parent)
        shutil.rmtree(directory, ignore_errors=True)
    step("demo " + ("succeeded" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
