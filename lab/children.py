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

PERSONAL = ("Tim Testkind", "Sara Testkind", "Testkind", "Timotheus", "14-03-2017", "2017-03-14", "2 mei 2013",
            "02-05-2013", "2013-05-02", "05-05-2015", "2015-05-05", "01-09-2019", "2019-09-01", "VT-2026-0417")

# The leerplicht administration's export for the lab (columns as the default register.columns): Tim by his
# official given names with call name Tim, Sara, a child at a school the rules do not list, and two different
# children with the same name and date of birth at two schools. Finn is in no export.
REGISTER_EXPORT = """\
Voornamen;Voorvoegsel;Achternaam;Roepnaam;Geboortedatum;BRIN;Vestiging
Timotheus Johannes;;Testkind;Tim;14-03-2017;12AB;00
Sara;;Testkind;;02-05-2013;56EF;00
Sam;;Testkind;;01-09-2019;99ZZ;00
Lotte;;Testkind;;05-05-2015;12AB;00
Lotte;;Testkind;;05-05-2015;56EF;00
"""
# Written the way Veilig Thuis sends it in practice: name, date of birth and the code word, no school.
TIM_ONLY_NAME = {"Naam": "Tim Testkind", "Geboortedatum": "14-03-2017"}
SARA_ONLY_NAME = {"Naam": "Sara Testkind", "Geboortedatum": "2 mei 2013"}
SAM_ONLY_NAME = {"Naam": "Sam Testkind", "Geboortedatum": "1 september 2019"}
LOTTE_ONLY_NAME = {"Naam": "Lotte Testkind", "Geboortedatum": "5 mei 2015"}
FINN_ONLY_NAME = {"Naam": "Finn Testkind", "Geboortedatum": "3 juni 2016"}
