"""The invented children every lab signal is about, and every form their data can take in a file.

All names, dates, schools and references are invented. A test that looks for personal data in
what the daemon wrote looks for `PERSONAL`: the values as Veilig Thuis writes them and as the
daemon could normalise them.
"""

from __future__ import annotations

# At school 12AB00 (Basisschool De Regenboog) by code, with a Veilig Thuis reference.
TIM = {"Naam": "Tim Testkind", "Geboortedatum": "14-03-2017", "School": "12AB00", "Kenmerk": "VT-2026-0417"}
# At school 56EF00 by name, with a date in words.
SARA = {"Naam": "Sara Testkind", "Geboortedatum": "2 mei 2013", "School": "Basisschool Op de Heuvel"}

PERSONAL = ("Tim Testkind", "Sara Testkind", "Testkind", "14-03-2017", "2017-03-14", "2 mei 2013",
            "02-05-2013", "2013-05-02", "VT-2026-0417")
