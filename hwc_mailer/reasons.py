"""What each reason code means to a Leerplicht officer, in Dutch, and what they should do.

Alerts carry these texts and never anything from the message itself.
"""

QUARANTINE_ACTION = ("Open het bericht niet automatisch en stuur het niet door. Neem telefonisch contact op met "
                     "Veilig Thuis (via het bekende nummer, niet via gegevens uit het bericht) om na te gaan of zij "
                     "dit signaal hebben verstuurd. Is het echt, laat Veilig Thuis het dan opnieuw versturen.")
MANUAL_ACTION = ("Open het bericht in de genoemde map en handel het signaal zelf af zoals u dat zonder hwc-mailer "
                 "zou doen: zoek de school op en stuur de HWC-contactpersoon een beveiligde mail. Verwijder het "
                 "bericht daarna uit de map.")

EXPLANATIONS: dict[str, str] = {
    "untrusted-sender": "Een bericht dat op een Handle with Care-signaal lijkt, kwam van een afzender die niet "
                        "in de regels staat.",
    "multiple-from": "Het bericht noemt meer dan één afzender.",
    "malformed-from": "De afzender van het bericht is onleesbaar.",
    "too-large": "Het bericht is groter dan toegestaan.",
    "too-deep": "Het bericht is vreemd opgebouwd (te diep geneste delen).",
    "too-many-parts": "Het bericht bestaat uit te veel delen.",
    "malformed-pgp-mime": "Het versleutelde bericht is niet volgens de standaard opgebouwd.",
    "text-around-armor": "Naast het versleutelde blok staat onversleutelde tekst.",
    "unencrypted-parts": "Het bericht bevat naast het versleutelde deel ook onversleutelde delen.",
    "not-encrypted": "Het bericht is niet versleuteld.",
    "decryption-failed": "Het bericht kon niet worden ontsleuteld (niet voor ons versleuteld of beschadigd).",
    "unsigned": "Het bericht is niet ondertekend.",
    "several-signatures": "Het bericht draagt meer dan één handtekening.",
    "bad-signature": "De handtekening klopt niet: het bericht is mogelijk onderweg gewijzigd.",
    "unknown-key": "Het bericht is ondertekend met een onbekende sleutel.",
    "key-expired": "Het bericht is ondertekend met een verlopen sleutel.",
    "key-revoked": "Het bericht is ondertekend met een ingetrokken sleutel.",
    "signature-expired": "De handtekening is verlopen.",
    "wrong-signer": "Het bericht is ondertekend door een andere partij dan de afzender die erboven staat.",
    "signature-in-future": "De handtekening heeft een tijdstip in de toekomst.",
    "signature-too-old": "De handtekening is te oud.",
    "nested-pgp": "In het ontsleutelde bericht zit nog een versleuteld of ondertekend bericht.",
    "undecodable-text": "De tekst van het bericht is onleesbaar.",
    "replay": "Dit signaal is al eerder verwerkt; dit is een herhaling van hetzelfde ondertekende bericht.",
    "not-hwc": "Het bericht bevat niet de woorden 'Handle with Care'.",
    "no-children": "In het signaal staat geen kind (geen regel 'Naam:').",
    "missing-name": "Bij een kind ontbreekt de naam.",
    "missing-birth-date": "Bij een kind ontbreekt de geboortedatum.",
    "invalid-date": "Een geboortedatum is onleesbaar of bestaat niet.",
    "age-out-of-range": "De leeftijd van een kind valt buiten de ingestelde grenzen.",
    "duplicate-field": "Bij een kind staat hetzelfde gegeven twee keer.",
    "field-outside-child": "Er staat een gegeven boven de eerste regel 'Naam:'.",
    "no-school": "Bij een kind staat geen school.",
    "unknown-school": "De school van een kind staat niet in de regels.",
    "ambiguous-school": "De school van een kind is niet eenduidig (bijvoorbeeld een BRIN-code met meerdere "
                        "locaties).",
    "no-valid-key": "Geen enkele contactpersoon van een school heeft een bruikbare sleutel; er is niets naar die "
                    "school verstuurd.",
    "smtp-rejected": "De mailserver weigerde het bericht aan een school definitief.",
    "contact-key-unusable": "De sleutel van een contactpersoon van een school is niet bruikbaar (ontbreekt, "
                            "verlopen, ingetrokken of niet gecertificeerd). Die contactpersoon krijgt geen "
                            "berichten; de andere contactpersonen wel.",
    "key-expiring": "Een sleutel verloopt binnenkort. Na die datum krijgt de eigenaar geen berichten meer.",
    "key-unusable": "Een sleutel die in de regels staat, is niet bruikbaar (ontbreekt, verlopen, ingetrokken, "
                    "niet gecertificeerd of hoort niet bij het adres).",
}


def explain(reason: str) -> str:
    return EXPLANATIONS.get(reason, f"Onbekende reden ({reason}).")

KEY_ACTION = ("Vraag de eigenaar van de sleutel om een nieuwe of verlengde sleutel en laat de beheerder die "
              "importeren met 'hwc-mailer keys import'. Controleer daarna met 'hwc-mailer keys'.")
ACTIONS = {"quarantined": QUARANTINE_ACTION, "manual": MANUAL_ACTION, "key": KEY_ACTION}
