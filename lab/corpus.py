"""Signals as people really write them, each with what must come of it.

Every text is invented, like the children in it. `delivered` maps a school code to the
names that school must receive, exactly; `held` names the reason a person must be told.
The unit tests read every case with the sample rules; the end-to-end tests send a share
of them through real gpg, Dovecot and SMTP with the lab's two schools (12AB00 in
Maastricht, 56EF00 in Gulpen-Wittem).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hwc_mailer.domain.reasons import Reason


@dataclass(frozen=True)
class Case:
    text: str
    delivered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    held: Reason | None = None
    html: bool = False           # the text is an HTML body, read as a mail client shows it
    in_lab: bool = False         # also end to end: only the lab's schools and municipalities


GREETING = "Beste collega van Leerplicht,\n\nHierbij een Handle with Care-signaal.\n\n"
OUTLOOK_SIGNATURE = """
Met vriendelijke groet,

A. de Vries
Medewerker Veilig Thuis Zuid-Limburg
T 088 - 000 00 00 | M 06-12345678
E a.devries@veiligthuis-zl.example.nl
Postbus 1234, 6201 AA Maastricht
www.veiligthuis-zl.example.nl

Dit bericht is uitsluitend bestemd voor de geadresseerde. Ontvangt u dit bericht ten onrechte, verwijder het dan
en meld het aan de afzender. Aan dit bericht kunnen geen rechten worden ontleend. KvK 12345678.
"""
THUNDERBIRD_SIGNATURE = ("\nGroet,\nAnouk\n\n-- \nAnouk de Vries | Veilig Thuis Zuid-Limburg\n"
                         "Bereikbaar ma-do, 088 - 000 00 00\n")


def plain(body: str, signature: str = OUTLOOK_SIGNATURE) -> str:
    return f"{GREETING}{body}\n{signature}"


TIM = "Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n"
SARA = "Naam: Sara Testkind\nGeboortedatum: 2 mei 2013\nSchool: 56EF00\n"
BOTH: Mapping[str, tuple[str, ...]] = {"12AB00": ("Tim Testkind",), "56EF00": ("Sara Testkind",)}
ONLY_TIM: Mapping[str, tuple[str, ...]] = {"12AB00": ("Tim Testkind",)}

ORIGINAL_BELOW = """
-----Oorspronkelijk bericht-----
Van: Veilig Thuis Zuid-Limburg <hwc@veiligthuis-zl.example.nl>
Verzonden: maandag 30 november 2026 23:40
Aan: Leerplicht Maastricht-Heuvelland <leerplicht@maastricht.example.nl>
Onderwerp: Melding

Hierbij een Handle with Care-signaal.

Naam: Tim Testkind
Geboortedatum: 14-03-2017
School: 56EF00
"""

OUTLOOK_HTML = """<html><head><style>p.MsoNormal{{margin:0}}</style></head><body lang=NL>
<div class=WordSection1><p class=MsoNormal>Beste collega,<o:p></o:p></p><p class=MsoNormal>&nbsp;</p>
<p class=MsoNormal>Hierbij een <b>Handle with Care</b>-signaal.</p><p class=MsoNormal>&nbsp;</p>
{body}
<p class=MsoNormal>&nbsp;</p><p class=MsoNormal>Met vriendelijke groet,</p>
<p class=MsoNormal><b><span style='color:#1F3864'>A. de Vries</span></b><br>Veilig Thuis Zuid-Limburg<br>
T 088 - 000 00 00</p></div></body></html>"""


def outlook_html(body: str) -> str:
    return OUTLOOK_HTML.format(body=body)


CASES: dict[str, Case] = {
    # --- ordinary signals, as people write them every day: delivered ------------------------------------------
    "plain-two-schools": Case(plain(f"{TIM}\n{SARA}"), BOTH, in_lab=True),
    "thunderbird-signature": Case(plain(f"{TIM}\n{SARA}", THUNDERBIRD_SIGNATURE), BOTH, in_lab=True),
    "dateline-on-top": Case(f"Maastricht, 1 december 2026\n\n{GREETING}{TIM}{OUTLOOK_SIGNATURE}", ONLY_TIM,
                            in_lab=True),
    "outlook-html-bold-labels": Case(outlook_html(
        "<p class=MsoNormal><b>Naam:</b>&nbsp;Tim Testkind</p><p class=MsoNormal><b>Geboortedatum:</b> 14-03-2017</p>"
        "<p class=MsoNormal><b>School:</b> 12AB00</p><p class=MsoNormal>&nbsp;</p>"
        "<p class=MsoNormal><b>Naam:</b> Sara Testkind</p><p class=MsoNormal><b>Geboortedatum:</b> 2 mei 2013</p>"
        "<p class=MsoNormal><b>School:</b> Basisschool Op de Heuvel</p>"), BOTH, html=True, in_lab=True),
    "outlook-html-table": Case(outlook_html(
        "<table class=MsoTableGrid border=1><tr><td><p class=MsoNormal>Naam</p></td><td><p class=MsoNormal>"
        "Tim Testkind</p></td></tr><tr><td><p class=MsoNormal>Geboortedatum</p></td><td><p class=MsoNormal>"
        "14-03-2017</p></td></tr><tr><td>School</td><td>12AB00</td></tr></table>"), ONLY_TIM, html=True,
        in_lab=True),
    "html-hidden-preheader": Case(outlook_html(
        "<span style='display:none;font-size:0'>Melding van Veilig Thuis</span>"
        "<p>Naam: Tim Testkind</p><p>Geboortedatum: 14-03-2017</p><p>School: 12AB00</p>"), ONLY_TIM, html=True),
    "numbered-list": Case(plain("1. Naam: Tim Testkind\n   Geboortedatum: 14-03-2017\n   School: 12AB00\n\n"
                                "2. Naam: Sara Testkind\n   Geboortedatum: 2 mei 2013\n   School: 56EF00\n"), BOTH,
                          in_lab=True),
    "bulleted-list": Case(plain("- Naam: Tim Testkind\n- Geboortedatum: 14-03-2017\n- School: 12AB00\n\n"
                                "\u2022 Naam: Sara Testkind\n\u2022 Geboortedatum: 2 mei 2013\n"
                                "\u2022 School: 56EF00\n"), BOTH),
    "markdown-bold": Case(plain("**Naam:** Tim Testkind\n**Geboortedatum:** 14-03-2017\n**School:** 12AB00\n\n"
                                "*Naam*: Sara Testkind\n*Geboortedatum*: 2 mei 2013\n*School*: 56EF00\n"), BOTH),
    "relation-labels": Case(plain(f"{TIM}\nNaam zusje: Sara Testkind\nGeboren: 2 mei 2013\nSchool zusje: 56EF00\n"),
                            BOTH, in_lab=True),
    "relation-word-as-label": Case(plain(f"{TIM}\nBroertje: Sam Testkind\nGeboortedatum broertje: 1-9-2019\n"
                                         "School: 12AB00\n"),
                                   {"12AB00": ("Tim Testkind", "Sam Testkind")}),
    "value-below-label": Case(plain("Naam:\nTim Testkind\nGeboortedatum:\n14-03-2017\nSchool:\n12AB00\n"), ONLY_TIM),
    "fullwidth-colon-and-invisible": Case(plain("Na\u200bam\uff1a Tim Testkind\nGeboorte\u00addatum: 14-03-2017\n"
                                                "School\ufe55 12AB00\n"), ONLY_TIM),
    "headings-kind-1-kind-2": Case(plain(f"Kind 1\n{TIM}\nKind 2:\n{SARA}"), BOTH),
    "heading-gegevens-broertje": Case(plain(f"{TIM}\nGegevens broertje\nNaam: Sam Testkind\n"
                                            "Geboortedatum: 01-09-2019\nSchool: 12AB00\n"),
                                      {"12AB00": ("Tim Testkind", "Sam Testkind")}),
    "born-on-without-colon": Case(plain("Naam: Tim Testkind\nGeboren op 14 maart 2017\nSchool: 12AB00\n"), ONLY_TIM),
    "municipality-as-default": Case(plain(f"Gemeente: Maastricht\n\n{TIM}\nNaam: Sam Testkind\n"
                                          "Geboortedatum: 1-9-2019\nSchool: Basisschool De Regenboog\n"),
                                    {"12AB00": ("Tim Testkind", "Sam Testkind")}, in_lab=True),
    "unicode-hyphens-in-code-words": Case("Beste collega,\n\nHandle\u2011with\u2011Care\n\n" + TIM, ONLY_TIM),
    "code-words-run-together": Case("HandleWithCare melding\n\n" + TIM, ONLY_TIM),
    "quoted-thanks-below": Case(plain(TIM) + "\n-----Oorspronkelijk bericht-----\nVan: Leerplicht\n"
                                "Verzonden: maandag 30 november 2026 09:12\nAan: Veilig Thuis\n\nDank voor het "
                                "doorgeven van het nieuwe adres.\n", ONLY_TIM),
    "slash-and-iso-dates": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14/03/2017\nSchool: 12AB00\n\n"
                                      "Naam: Sara Testkind\nGeboortedatum: 2013-05-02\nSchool: 56EF00\n"), BOTH),
    "alias-and-reference": Case(plain("Kenmerk: VT-2026-0417\n\nNaam: Tim Testkind\nGeboortedatum: 14-03-2017\n"
                                      "School: Regenboog Maastricht\nKenmerk: VT-2026-0418\n"), ONLY_TIM),
    "code-with-spaces": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12 ab 00\n"), ONLY_TIM),
    "siblings-at-one-school": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n\n"
                                         "Naam: Sam Testkind\nGeboortedatum: 1 sept. 2019\nSchool: De Regenboog\n"),
                                   {"12AB00": ("Tim Testkind", "Sam Testkind")}, in_lab=False),
    "code-from-other-municipality": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n"
                                               "Gemeente: Vaals\n"), ONLY_TIM),
    "tab-separated": Case(plain("Naam\tTim Testkind\nGeboortedatum\t14-03-2017\nSchool\t12AB00\n"), ONLY_TIM),
    "free-text-between-children": Case(plain(f"{TIM}\nZit in groep 4 bij juf Anja.\n\n{SARA}"), BOTH),
    "recent-date-in-intro": Case("Beste collega,\n\nNaar aanleiding van de melding van 30-11-2026 een Handle with "
                                 f"Care-signaal.\n\n{TIM}{OUTLOOK_SIGNATURE}", ONLY_TIM),
    "disclaimer-without-closing": Case(f"{GREETING}{TIM}\nDit bericht kan vertrouwelijke informatie bevatten. "
                                       "Veilig Thuis Zuid-Limburg, 088 - 000 00 00, Postbus 1234, 6201 AA "
                                       "Maastricht.\n", ONLY_TIM),
    # --- children written in forms that used to be dropped: each is either delivered or held -------------------
    "sibling-without-label-between": Case(plain(f"{TIM}\nPiet Testkind, 12-05-2015\n\n{SARA}"),
                                          held=Reason.UNPARSED_LINE),
    "sibling-without-label-after": Case(plain(f"{TIM}\nOok broertje Piet Testkind (12-05-2015) zit op deze school.\n"),
                                        held=Reason.UNPARSED_LINE),
    "sibling-before-the-first-child": Case(plain(f"Broertje Piet Testkind, geboren 12-05-2015.\n\n{TIM}"),
                                           held=Reason.UNPARSED_LINE),
    "first-name-last-name-labels": Case(plain(f"{TIM}\nVoornaam: Piet\nAchternaam: Testkind\n"
                                              "Geboortedatum: 12-05-2015\n"), held=Reason.DUPLICATE_FIELD),
    "call-name-line": Case(plain("Naam: Timothy Testkind\nRoepnaam: Tim\nGeboortedatum: 14-03-2017\n"
                                 "School: 12AB00\n"), held=Reason.UNPARSED_LINE),
    "same-name-twice": Case(plain(f"{TIM}\n{TIM}"), held=Reason.UNPARSED_LINE),
    "date-inside-a-name": Case(plain("Naam: Tim Testkind 14-03-2017\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n"),
                               held=Reason.UNPARSED_LINE),
    "incident-date-in-data": Case(plain(f"{TIM}Datum incident: 28-11-2026\n\n{SARA}"), held=Reason.UNPARSED_LINE),
    "class-label-in-data": Case(plain("Naam: Tim Testkind\nGroep: 4\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n"),
                                held=Reason.UNPARSED_LINE),
    "sibling-school-not-given-to-first": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\n\n"
                                                    "Naam zusje: Sara Testkind\nGeboren: 2 mei 2013\nSchool: 56EF00\n"),
                                              held=Reason.NO_SCHOOL),
    "unknown-label-word-inside": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nBSN: 123456789\n"
                                            "School: 12AB00\n"), held=Reason.UNPARSED_LINE),
    "heading-not-followed-by-a-name": Case(plain(f"{TIM}\nKind 2\nSara Testkind\n2 mei 2013\n"),
                                           held=Reason.UNPARSED_LINE),
    "bold-sibling-block": Case(plain(f"{TIM}\n**2. Naam broertje:** Sam Testkind\n**Geboren:** 1-9-2019\n"
                                     "**School:** 12AB00\n"), {"12AB00": ("Tim Testkind", "Sam Testkind")}),
    # found by trying to break the parser: each used to deliver while a child or a field went missing -------
    "separator-line-then-sibling": Case("Handle with Care\n----------------\n" + TIM + "\nOok broertje Piet Testkind, "
                                        "geboren 12-05-2015, zit op deze school.\n", held=Reason.UNPARSED_LINE),
    "postscript-after-closing": Case(plain(TIM, "\nMet vriendelijke groet,\nAnouk\n\nPS: ook broertje Piet Testkind "
                                                "(12-05-2015) zit op De Regenboog.\n"), held=Reason.UNPARSED_LINE),
    "en-dash-date-between": Case(plain(f"{TIM}Piet Testkind, 12\u201305\u20132015\n\n{SARA}"),
                                 held=Reason.UNPARSED_LINE),
    "month-word-date-between": Case(plain(f"{TIM}Piet Testkind, 12-mei-2015\n\n{SARA}"), held=Reason.UNPARSED_LINE),
    "spaced-date-between": Case(plain(f"{TIM}Piet Testkind, 12 05 2015\n\n{SARA}"), held=Reason.UNPARSED_LINE),
    "son-in-a-sentence-between": Case(plain(f"{TIM}Zoon Piet Testkind zit op dezelfde basisschool.\n\n{SARA}"),
                                      held=Reason.UNPARSED_LINE),
    "reference-swallows-a-sibling": Case(plain(f"{TIM}Kenmerk:\n\nBroertje Piet Testkind, 12-05-2015, zelfde "
                                               "school\n"), held=Reason.UNPARSED_LINE),
    "sibling-inside-a-reference": Case(plain(f"{TIM}Kenmerk: VT-0418 (ook broertje Piet Testkind, 12-05-2015)\n"),
                                       held=Reason.UNPARSED_LINE),
    "school-written-above-the-next-name": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\n\n"
                                                     "School: 56EF00\nNaam: Sara Testkind\n"
                                                     "Geboortedatum: 2 mei 2013\n"),
                                               held=Reason.UNPARSED_LINE),
    "school-under-the-next-list-number": Case(plain("1. Naam: Tim Testkind\n   Geboortedatum: 14-03-2017\n"
                                                    "2. School: 56EF00\n   Naam: Sara Testkind\n"
                                                    "   Geboortedatum: 2 mei 2013\n"), held=Reason.UNPARSED_LINE),
    "sister-school-in-brother-block": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool zusje: 56EF00"
                                                 "\n\nNaam zusje: Sara Testkind\nGeboren: 2 mei 2013\n"),
                                           held=Reason.UNPARSED_LINE),
    "municipality-above-the-next-name": Case(plain(f"{TIM}\nGemeente: Maastricht\nNaam: Sara Testkind\n"
                                                   "Geboortedatum: 2 mei 2013\nSchool: Basisschool Op de Heuvel\n"),
                                             held=Reason.UNPARSED_LINE),
    "municipality-label-not-read": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: Basisschool Op "
                                              "de Heuvel\n\nGemeente (beide kinderen): Maastricht\n"),
                                        held=Reason.UNPARSED_LINE),
    "sibling-with-two-digit-year-after": Case(plain(f"{TIM}\nOok broertje Piet Testkind (12-05-15) zit op deze "
                                                    "school.\n"), held=Reason.UNPARSED_LINE),
    "sibling-without-date-after": Case(plain(f"{TIM}\nOok broertje Piet Testkind (groep 3) zit op deze school.\n"),
                                       held=Reason.UNPARSED_LINE),
    "sibling-in-the-intro": Case("Handle with Care voor Tim en zijn broertje Piet Testkind (groep 3).\n\n" + TIM,
                                 held=Reason.UNPARSED_LINE),
    "please-ignore-the-earlier-one": Case("Graag het Handle with Care-signaal van vanochtend negeren; hieronder het "
                                          f"juiste kind.\n\n{TIM}", held=Reason.CORRECTION),
    "replaces-the-signal-of": Case(f"Dit Handle with Care-signaal vervangt het signaal van 30-11-2026.\n\n{TIM}",
                                   held=Reason.CORRECTION),
    "earlier-one-was-wrong": Case("Handle with Care. Het eerder verzonden signaal bevatte een fout, hieronder de "
                                  f"juiste gegevens.\n\n{TIM}", held=Reason.CORRECTION),
    "correction-under-a-separator": Case("Handle with Care\n-----\nCorrectie op het vorige signaal: juiste school "
                                         f"hieronder.\n{TIM}", held=Reason.CORRECTION),
    "groupwise-reply": Case(plain(TIM) + '>>> "Veilig Thuis" <hwc@vt.example.nl> 30-11-2026 23:40 >>>\n'
                            "Naam: Piet Testkind\nGeboortedatum: 12-05-2015\nSchool: 56EF00\n",
                            held=Reason.QUOTED_SIGNAL),
    "html-hidden-by-a-style-rule": Case("<html><head><style>.x{display:none}</style></head><body><p>Handle with Care"
                                        "</p><p>Naam: Tim Testkind</p><p>Geboortedatum: 14-03-2017</p><p>School: "
                                        "12AB00</p><div class=x><p>Naam: Piet Testkind</p><p>Geboortedatum: "
                                        "12-05-2015</p></div></body></html>", held=Reason.QUOTED_SIGNAL, html=True),
    "html-hidden-by-zero-height": Case("<p>Handle with Care</p><p>Naam: Tim Testkind</p><p>Geboortedatum: 14-03-2017"
                                       "</p><p>School: 12AB00</p><div style='height:0;overflow:hidden'><p>Naam: Piet "
                                       "Testkind</p><p>Geboortedatum: 12-05-2015</p></div>",
                                       held=Reason.QUOTED_SIGNAL, html=True),
    "html-hidden-after-a-self-closed-span": Case("<p>Handle with Care</p><p>Naam: Tim Testkind</p><p>Geboortedatum: "
                                                 "14-03-2017</p><p>School: 12AB00</p><span style='display:none'/>"
                                                 "<p>Naam: Piet Testkind</p><p>Geboortedatum: 12-05-2015</p>",
                                                 held=Reason.QUOTED_SIGNAL, html=True),
    "html-closed-details": Case("<p>Handle with Care</p><p>Naam: Tim Testkind</p><p>Geboortedatum: 14-03-2017</p>"
                                "<p>School: 12AB00</p><details><summary>meer</summary><p>Naam: Piet Testkind</p>"
                                "<p>Geboortedatum: 12-05-2015</p></details>", held=Reason.QUOTED_SIGNAL, html=True),
    "html-hiding-rule-with-a-complex-selector": Case("<style>div > p.y {display: none}</style><p>Handle with Care</p>"
                                                     "<p>Naam: Tim Testkind</p><p>Geboortedatum: 14-03-2017</p>"
                                                     "<p>School: 12AB00</p>", held=Reason.QUOTED_SIGNAL, html=True),
    # --- ordinary signals that used to be held ------------------------------------------------------------------
    "short-closing-and-disclaimer": Case(plain(TIM, "\nMet groet,\nAnouk de Vries\nIndien dit bericht u "
                                                    "abusievelijk heeft bereikt, verzoeken wij u het te "
                                                    "verwijderen.\n"),
                                         ONLY_TIM),
    "closing-with-the-name-on-its-line": Case(plain(TIM, "\nGroeten, Anouk\nPer 1 januari 2024 hebben wij een nieuw "
                                                         "adres.\n"), ONLY_TIM),
    "memo-header-on-top": Case("Aan: Leerplicht Maastricht-Heuvelland\nVan: Veilig Thuis Zuid-Limburg\nDatum: 1 "
                               "december 2026\nOnderwerp: Handle with Care-signaal\n\n" + TIM, ONLY_TIM),
    "html-indented-with-a-plain-blockquote": Case("<div dir=ltr><p>Handle with Care</p><blockquote style='margin:0 0 0 "
                                                  "40px;border:none;padding:0px'><p>Naam: Tim Testkind</p><p>"
                                                  "Geboortedatum: 14-03-2017</p><p>School: 12AB00</p></blockquote><p>"
                                                  "Met vriendelijke groet,</p></div>", ONLY_TIM, html=True),
    "outlook-stylesheet": Case("<html><head><style>@font-face {font-family:Calibri;} p.MsoNormal, li.MsoNormal "
                               "{margin:0cm; font-size:11.0pt;} span.EmailStyle17 {mso-style-type:personal-compose;} "
                               "@page WordSection1 {size:612.0pt 792.0pt;}</style></head><body><div class=WordSection1>"
                               "<p class=MsoNormal>Handle with Care</p><p class=MsoNormal>Naam: Tim Testkind</p>"
                               "<p class=MsoNormal>Geboortedatum: 14-03-2017</p><p class=MsoNormal>School: 12AB00</p>"
                               "</div></body></html>", ONLY_TIM, html=True),
    # --- dates ---------------------------------------------------------------------------------------------------
    "month-first-date": Case(plain("Naam: Tim Testkind\nGeboortedatum: 03/25/2017\nSchool: 12AB00\n"),
                             held=Reason.INVALID_DATE),
    "two-digit-year": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-17\nSchool: 12AB00\n"),
                           held=Reason.INVALID_DATE),
    "impossible-date": Case(plain("Naam: Tim Testkind\nGeboortedatum: 31-02-2017\nSchool: 12AB00\n"),
                            held=Reason.INVALID_DATE),
    "too-young": Case(plain("Naam: Tim Testkind\nGeboortedatum: 01-06-2026\nSchool: 12AB00\n"),
                      held=Reason.AGE_OUT_OF_RANGE),
    # --- quoted and forwarded material is never read as live children ---------------------------------------
    "correction-with-original-below": Case(plain("Correctie op het signaal van gisteren: de school klopte niet.\n\n"
                                                 + TIM) + ORIGINAL_BELOW, held=Reason.CORRECTION, in_lab=True),
    "silent-correction-with-original-below": Case(plain(TIM) + ORIGINAL_BELOW, held=Reason.CORRECTION, in_lab=True),
    "forward-of-an-old-signal": Case("Zie onderstaand signaal.\n\nGroet, Anouk\n" + ORIGINAL_BELOW,
                                     held=Reason.QUOTED_SIGNAL),
    "forwarded-thunderbird": Case("Ter info.\n\n-------- Doorgestuurd bericht --------\nOnderwerp: Melding\n"
                                  f"Datum: Mon, 30 Nov 2026 23:40:00 +0100\n\n{GREETING}{TIM}",
                                  held=Reason.QUOTED_SIGNAL),
    "quoted-with-gt": Case(plain(SARA) + "\nOp 30-11-2026 om 23:40 schreef Veilig Thuis:\n> Handle with Care\n"
                           "> Naam: Tim Testkind\n> Geboortedatum: 14-03-2017\n", held=Reason.QUOTED_SIGNAL),
    "gt-lines-only": Case(plain(SARA) + "\n> Naam: Tim Testkind\n> Geboortedatum: 14-03-2017\n> School: 12AB00\n",
                          held=Reason.QUOTED_SIGNAL),
    "html-blockquote": Case(outlook_html("<p>Naam: Sara Testkind</p><p>Geboortedatum: 2 mei 2013</p>"
                                         "<p>School: 56EF00</p><blockquote type=cite><p>Naam: Tim Testkind</p>"
                                         "<p>Geboortedatum: 14-03-2017</p></blockquote>"),
                            held=Reason.QUOTED_SIGNAL, html=True, in_lab=True),
    "html-hidden-child": Case(outlook_html("<p>Naam: Sara Testkind</p><p>Geboortedatum: 2 mei 2013</p>"
                                           "<p>School: 56EF00</p><div style='display: none'><p>Naam: Tim Testkind</p>"
                                           "<p>Geboortedatum: 14-03-2017</p></div>"),
                              held=Reason.QUOTED_SIGNAL, html=True),
    "outlook-html-reply-header": Case(outlook_html(
        "<p>Naam: Sara Testkind</p><p>Geboortedatum: 2 mei 2013</p><p>School: 56EF00</p>"
        "<div id=divRplyFwdMsg><p><b>Van:</b> Veilig Thuis<br><b>Verzonden:</b> maandag 30 november 2026</p></div>"
        "<div><p>Naam: Tim Testkind</p><p>Geboortedatum: 14-03-2017</p></div>"), held=Reason.QUOTED_SIGNAL,
        html=True),
    "withdrawal": Case(plain("Het signaal van gisteren komt te vervallen; er is niets aan de hand.\n"),
                       held=Reason.CORRECTION),
    "change-notice": Case(plain(f"Wijziging: de school is inmiddels bekend.\n\n{TIM}"), held=Reason.CORRECTION),
    "per-mistake": Case(plain(f"Het eerdere signaal is per abuis naar u gestuurd. Het juiste kind:\n\n{TIM}"),
                        held=Reason.CORRECTION),
    # --- where the child lives ----------------------------------------------------------------------------------
    "other-region": Case(plain(f"{TIM}Gemeente: Heerlen\n"), held=Reason.OTHER_REGION, in_lab=True),
    "name-match-in-other-municipality": Case(plain("Naam: Sara Testkind\nGeboortedatum: 2 mei 2013\n"
                                                   "School: Basisschool Op de Heuvel\nGemeente: Maastricht\n"),
                                             held=Reason.MUNICIPALITY_MISMATCH, in_lab=True),
    "name-match-in-own-municipality": Case(plain("Naam: Sara Testkind\nGeboortedatum: 2 mei 2013\n"
                                                 "School: Basisschool Op de Heuvel\nGemeente: Gulpen-Wittem\n"),
                                           {"56EF00": ("Sara Testkind",)}, in_lab=True),
    # --- what a person must finish anyway -------------------------------------------------------------------
    "no-code-words": Case("Beste collega,\n\n" + TIM, held=Reason.NOT_HWC),
    "no-children": Case(plain("Er volgt vandaag nog een signaal.\n"), held=Reason.NO_CHILDREN),
    "missing-name": Case(plain("Naam:\n\nGeboortedatum: 14-03-2017\nSchool: 12AB00\n"), held=Reason.MISSING_NAME),
    "missing-birth-date": Case(plain("Naam: Tim Testkind\nSchool: 12AB00\n"), held=Reason.MISSING_BIRTH_DATE),
    "school-before-first-child": Case(plain(f"School: 12AB00\n\n{TIM}"), held=Reason.FIELD_OUTSIDE_CHILD),
    "two-birth-dates": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nGeboren: 14-03-2017\n"
                                  "School: 12AB00\n"), held=Reason.DUPLICATE_FIELD),
    "no-school": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\n"), held=Reason.NO_SCHOOL, in_lab=True),
    "unknown-school": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: De Onbekende\n"),
                           held=Reason.UNKNOWN_SCHOOL),
    "ambiguous-brin": Case(plain("Naam: Tim Testkind\nGeboortedatum: 14-03-2017\nSchool: 12AB\n"),
                           held=Reason.AMBIGUOUS_SCHOOL),
}
