"""How fast the register index is built and read: `.venv/bin/python -m lab.bench_register [ROWS]`.

Not a test. Generates an export of invented pupils in memory (50,000 rows by default, more than any
sub-region has: Maastricht-Heuvelland has some 25,000 children of school age), imports it into an index in a
temporary folder, and times the import and lookups as the daemon does them (one `schools_of` per child,
half of them for children the register knows, half for children it does not).
"""

import csv
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from hwc_mailer.edges.register import RegisterIndex, write_index
from hwc_mailer.service.register import decode_export, import_register, read_export
from hwc_mailer.settings.config import RegisterColumns, load_settings

GIVEN = ("Anna", "Bram", "Daan", "Emma", "Finn", "Julia", "Lotte", "Luuk", "Milan", "Noor", "Sem", "Sophie", "Tess",
         "Thijs", "Zoë", "Daniël", "Sára", "Jesse", "Fleur", "Ruben", "Lieke", "Timotheus", "Johannes", "Maria")
PREFIXES = ("", "", "", "", "van", "de", "van der", "van 't", "van den", "op de")
SURNAMES = ("Testkind", "Proefkind", "Voorbeeld", "Oefening", "Bedacht", "Verzonnen", "Fictief", "Denkbeeld",
            "Schets", "Ontwerp", "Probeer", "Model", "Monster", "Staal", "Patroon", "Kladje")
SCHOOLS = [f"{number:02}{letters}" for number, letters in zip(range(10, 90), ("AB", "CD", "EF", "GH", "JK") * 16,
                                                                   strict=True)]
HEADER = ("Voornamen", "Voorvoegsel", "Achternaam", "Roepnaam", "Geboortedatum", "BRIN", "Vestiging")
KEY = "bench-register-key-0123456789abcdef"
LOOKUPS = 2_000
T = TypeVar("T")


def invented_export(rows: int, seed: int = 2026) -> tuple[bytes, list[tuple[str, date]]]:
    """The export's bytes (UTF-8, `;`) and the (name as Veilig Thuis writes it, date of birth) of every row."""
    chance = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    written: list[tuple[str, date]] = []
    first_born = date(2008, 9, 1)
    for number in range(rows):
        given = " ".join(chance.sample(GIVEN, chance.choice((1, 1, 2, 3))))
        call = chance.choice(("", "", given.split()[0][:3] + "ke"))
        prefix = chance.choice(PREFIXES)
        surname = f"{chance.choice(SURNAMES)}{number % 997}"
        born = first_born + timedelta(days=chance.randrange(16 * 365))
        writer.writerow((given, prefix, surname, call, f"{born:%d-%m-%Y}", chance.choice(SCHOOLS),
                         f"{chance.randrange(3):02}"))
        written.append((" ".join(part for part in (call or given.split()[0], prefix, surname) if part), born))
    return buffer.getvalue().encode(), written


def timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def service_file(directory: Path) -> Path:
    (directory / "etc").mkdir()
    (directory / "etc" / "register.key").write_text(KEY)
    config = directory / "etc" / "config.yaml"
    config.write_text(f"""\
imap: {{host: mail.example.nl, username: lp@example.nl, password: {{env: NOT_SET}}}}
smtp: {{host: mail.example.nl}}
gpg: {{inbound_home: {directory}/in, outbound_home: {directory}/out, key_fingerprint: "{'A' * 40}"}}
sender: {{address: leerplicht@maastricht.example.nl}}
state_dir: {directory}/state
register:
  key: {{file: register.key}}
""")
    return config


def main(rows: int = 50_000) -> int:
    now = datetime.now(UTC)
    chance = random.Random(7)
    seconds_generate, (data, written) = timed(partial(invented_export, rows))
    print(f"export: {rows:,} invented rows, {len(data) / 1e6:.1f} MB, generated in {seconds_generate:.2f} s")
    with tempfile.TemporaryDirectory(prefix="hwc-bench-") as folder:
        directory = Path(folder)
        settings = load_settings(service_file(directory))
        seconds_read, (pupils, skipped) = timed(lambda: read_export(decode_export(data), RegisterColumns()))
        assert not skipped, skipped[:3]
        scratch = directory / "scratch" / "register.sqlite"
        seconds_write, _ = timed(lambda: write_index(scratch, KEY.encode(), pupils, now))
        seconds_import, report = timed(lambda: import_register(data, settings, now))
        assert report.info is not None, report.refused
        path = settings.register_index
        assert path is not None
        print(f"read_export (decode + parse): {seconds_read:.2f} s")
        print(f"write_index: {seconds_write:.2f} s")
        print(f"import_register (all of it, as `register import` does): {seconds_import:.2f} s; "
              f"{report.info.pupils:,} pupils, {report.info.entries:,} entries, "
              f"{path.stat().st_size / 1e6:.1f} MB on disk ({path.stat().st_size / report.info.pupils:.0f} B/pupil)")

        known = chance.sample(written, LOOKUPS // 2)
        unknown = [(f"Nieuwkomer{number} Verhuisd", date(2015, 1, 1) + timedelta(days=number))
                   for number in range(LOOKUPS - len(known))]
        lookups = known + unknown
        chance.shuffle(lookups)
        index = RegisterIndex(path, KEY.encode())
        try:
            index.schools_of(*lookups[0])                   # opening the file and checking the key: once
            each: list[float] = []
            hits = 0
            for name, born in lookups:
                seconds, schools = timed(partial(index.schools_of, name, born))
                each.append(seconds)
                hits += bool(schools)
        finally:
            index.close()
        each_us = sorted(second * 1e6 for second in each)
        print(f"schools_of: {len(lookups):,} lookups ({hits:,} found), mean {statistics.fmean(each_us):.0f} µs, "
              f"median {statistics.median(each_us):.0f} µs, p99 {each_us[int(len(each_us) * 0.99)]:.0f} µs, "
              f"max {each_us[-1]:.0f} µs")
        if hits < len(known):
            print(f"warning: {len(known) - hits} known pupils were not found", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
