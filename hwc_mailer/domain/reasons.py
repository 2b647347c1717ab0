"""The one reason vocabulary: every reason code, what it means to an officer, and what they should do.

Each reason belongs to one disposition (where the message goes) or is a notice about a
key. The Dutch explanation and the officer's action stand beside the code, so an alert
can never carry a code without its advice. Alerts carry these texts and never anything
from the message itself.
"""

from enum import Enum


class Disposition(Enum):
    """What happens to a message in the mailbox; the pipeline's table maps each to one action."""

    DELIVERED = "delivered"
    MANUAL = "manual"
    QUARANTINED = "quarantined"
    NOT_OURS = "not-ours"
    BOUNCED = "bounced"         # a report that a school's server returned one of our mails: purged, an officer told
    REPLY = "reply"             # an officer's signed reply about a held signal, carried out or refused: purged


class Reason(Enum):
    # Not authentic: quarantined.
    UNTRUSTED_SENDER = "untrusted-sender"
    MULTIPLE_FROM = "multiple-from"
    MALFORMED_FROM = "malformed-from"
    MALFORMED_HEADER = "malformed-header"
    TOO_LARGE = "too-large"
    TOO_DEEP = "too-deep"
    TOO_MANY_PARTS = "too-many-parts"
    MALFORMED_PGP_MIME = "malformed-pgp-mime"
    TEXT_AROUND_ARMOR = "text-around-armor"
    UNENCRYPTED_PARTS = "unencrypted-parts"
    NOT_ENCRYPTED = "not-encrypted"
    DECRYPTION_FAILED = "decryption-failed"
    UNSIGNED = "unsigned"
    SEVERAL_SIGNATURES = "several-signatures"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    KEY_EXPIRED = "key-expired"
    KEY_REVOKED = "key-revoked"
    SIGNATURE_EXPIRED = "signature-expired"
    WRONG_SIGNER = "wrong-signer"
    WRONG_RECIPIENT = "wrong-recipient"
    SIGNATURE_IN_FUTURE = "signature-in-future"
    SIGNATURE_TOO_OLD = "signature-too-old"
    NESTED_PGP = "nested-pgp"
    UNDECODABLE_TEXT = "undecodable-text"
    REPLAY = "replay"
    # Authentic, but a person must finish it: manual.
    NOT_HWC = "not-hwc"
    NO_CHILDREN = "no-children"
    MISSING_NAME = "missing-name"
    MISSING_BIRTH_DATE = "missing-birth-date"
    INVALID_DATE = "invalid-date"
    AGE_OUT_OF_RANGE = "age-out-of-range"
    DUPLICATE_FIELD = "duplicate-field"
    FIELD_OUTSIDE_CHILD = "field-outside-child"
    UNPARSED_LINE = "unparsed-line"
    CORRECTION = "correction"
    QUOTED_SIGNAL = "quoted-signal"
    VERSIONS_DIFFER = "versions-differ"
    UNREAD_ATTACHMENT = "unread-attachment"
    OTHER_REGION = "other-region"
    MUNICIPALITY_MISMATCH = "municipality-mismatch"
    NOT_IN_REGISTER = "not-in-register"
    AMBIGUOUS_REGISTER = "ambiguous-register"
    REGISTER_MISMATCH = "register-mismatch"
    SCHOOL_NOT_PARTICIPATING = "school-not-participating"
    REGISTER_UNAVAILABLE = "register-unavailable"
    NO_SCHOOL = "no-school"
    UNKNOWN_SCHOOL = "unknown-school"
    AMBIGUOUS_SCHOOL = "ambiguous-school"
    NO_VALID_KEY = "no-valid-key"
    SMTP_REJECTED = "smtp-rejected"
    INTERNAL_ERROR = "internal-error"
    # About a key, not about a message.
    CONTACT_KEY_UNUSABLE = "contact-key-unusable"
    KEY_EXPIRING = "key-expiring"
    KEY_UNUSABLE = "key-unusable"
    # About time: a signal not at its school before the school day, delayed, or a held message about to go.
    NOT_AT_SCHOOL = "not-at-school"
    DELAYED = "delayed"
    DELIVERED_LATE = "delivered-late"
    HELD_EXPIRING = "held-expiring"
    BOUNCED = "bounced"
    # About the daemon's own login to its mail servers, not about a message.
    LOGIN_REFUSED = "login-refused"
    LOGIN_SECRET_EXPIRING = "login-secret-expiring"
    GATEWAY_UNAVAILABLE = "gateway-unavailable"
    # an officer's reply: carried out, or why not (to that officer)
    REPLY_SENT = "sent-by-officer"
    REPLY_DISCARDED = "discarded-by-officer"
    REPLY_UNAUTHENTIC = "reply-unauthentic"
    REPLY_NO_KEY = "officer-without-key"
    REPLY_NO_REFERENCE = "no-reference"
    REPLY_UNKNOWN_REFERENCE = "unknown-reference"
    REPLY_NO_INSTRUCTION = "no-instruction"
    REPLY_UNKNOWN_CODE = "unknown-code"
    REPLY_UNCLEAR_CHILD = "unclear-child"
    REPLY_STILL_HELD = "still-held"
    REPLY_SIGNAL_GONE = "signal-gone"
    REPLY_SIGNAL_UNREADABLE = "signal-unreadable"
    REPLY_REPEATED = "repeated-reply"

    @property
    def disposition(self) -> Disposition | None:
        """Where a message held for this reason goes; None for a notice about a key or a login."""
        return _TEXTS[self][0]

    @property
    def explanation(self) -> str:
        return _TEXTS[self][1]

    @property
    def action(self) -> str:
        return _TEXTS[self][2]


# --- what the officer does -------------------------------------------------------------------

_CALL = ("Open het bericht niet automatisch en stuur het niet door. Bel Veilig Thuis via het bekende nummer "
         "(niet via gegevens uit het bericht) en vraag of zij dit signaal hebben verstuurd.")
_NEW_SIGNAL = ("Is het echt, vraag Veilig Thuis dan een nieuw signaal op te stellen en te versturen; hetzelfde "
               "bericht nog eens doorsturen wordt als herhaling geweigerd.")
_BY_HAND = ("Handel het signaal daarna zelf af zoals zonder hwc-mailer: zoek de school op en stuur de "
            "HWC-contactpersoon een beveiligde mail. Verwijder het bericht daarna uit de map.")
_ASK_ADMIN_KEY = ("Vraag de beheerder de nieuwe sleutel van Veilig Thuis te controleren (vingerafdruk telefonisch "
                  "navragen) en te importeren met 'hwc-mailer keys import'.")
_KEY_OWNER = ("Vraag de eigenaar van de sleutel om een nieuwe of verlengde sleutel en laat de beheerder die "
              "importeren met 'hwc-mailer keys import'. Controleer daarna met 'hwc-mailer keys'.")

_REPLY_AGAIN = ("Uw antwoord is uit de Leerplicht-mailbox verwijderd en er is niets veranderd: het signaal staat "
                "nog in de map. Antwoord opnieuw op de melding over het signaal, ondertekend en versleuteld met uw "
                "eigen sleutel, met bovenaan 'School: <BRIN-code>' (bij meer kinderen 'Kind <nummer>: School: "
                "<BRIN-code>') of 'Verwijderen'.")
_REPLIED_OWN_KEY = ("Dit kan ook iemand zijn die zich voor u uitgeeft: het antwoord staat in quarantaine en wordt na "
                    "de bewaartermijn verwijderd. Kwam het wel van u, antwoord dan opnieuw, ondertekend en versleuteld "
                    "met uw eigen sleutel (in Thunderbird of Outlook met GpgOL), en verwijder het onversleutelde "
                    "antwoord uit uw Verzonden items.")

_Q, _M, _R = Disposition.QUARANTINED, Disposition.MANUAL, Disposition.REPLY

_TEXTS: dict[Reason, tuple[Disposition | None, str, str]] = {
    Reason.UNTRUSTED_SENDER: (
        _Q, "Een bericht dat op een Handle with Care-signaal lijkt, kwam van een afzender die niet in de regels staat.",
        "Stuur het niet door. Gebruikt Veilig Thuis een nieuw adres, laat de beheerder dat adres en de sleutel "
        "dan in de regels opnemen en vraag Veilig Thuis een nieuw signaal te sturen. Kent u de afzender niet, "
        "verwijder het bericht dan uit de map."),
    Reason.MULTIPLE_FROM: (_Q, "Het bericht noemt meer dan één afzender.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.MALFORMED_FROM: (_Q, "De afzender van het bericht is onleesbaar.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.MALFORMED_HEADER: (
        _Q, "De kopregels van het bericht (zoals afzender, Message-ID of opbouw) zijn onleesbaar of groter dan "
            "toegestaan; het bericht is niet verder gelezen.",
        f"{_CALL} Zulke kopregels kunnen onderweg zijn toegevoegd of gewijzigd. {_NEW_SIGNAL}"),
    Reason.TOO_LARGE: (
        _Q, "Het bericht is groter dan toegestaan.",
        f"{_CALL} Is het echt, vraag dan een nieuw signaal met alleen de tekst, zonder bijlagen."),
    Reason.TOO_DEEP: (
        _Q, "Het bericht is vreemd opgebouwd (te diep geneste delen).",
        f"{_CALL} Is het echt, vraag dan een nieuw signaal met alleen de tekst, zonder doorgestuurde berichten."),
    Reason.TOO_MANY_PARTS: (
        _Q, "Het bericht bestaat uit te veel delen.",
        f"{_CALL} Is het echt, vraag dan een nieuw signaal met alleen de tekst, zonder bijlagen."),
    Reason.MALFORMED_PGP_MIME: (
        _Q, "Het versleutelde bericht is niet volgens de standaard opgebouwd.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.TEXT_AROUND_ARMOR: (
        _Q, "Naast het versleutelde blok staat onversleutelde tekst.",
        f"{_CALL} Die tekst kan onderweg zijn toegevoegd. {_NEW_SIGNAL}"),
    Reason.UNENCRYPTED_PARTS: (
        _Q, "Het bericht bevat naast het versleutelde deel ook onversleutelde delen.",
        f"{_CALL} Die delen kunnen onderweg zijn toegevoegd. {_NEW_SIGNAL}"),
    Reason.NOT_ENCRYPTED: (
        _Q, "Het bericht is niet versleuteld.",
        f"{_CALL} Vraag Veilig Thuis signalen altijd versleuteld te sturen; {_NEW_SIGNAL}"),
    Reason.DECRYPTION_FAILED: (
        _Q, "Het bericht kon niet worden ontsleuteld (niet voor ons versleuteld of beschadigd).",
        f"{_CALL} Vraag welke sleutel zij gebruikten: het moet de sleutel van Leerplicht zijn. {_NEW_SIGNAL}"),
    Reason.UNSIGNED: (_Q, "Het bericht is niet ondertekend.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.SEVERAL_SIGNATURES: (_Q, "Het bericht draagt meer dan één handtekening.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.BAD_SIGNATURE: (
        _Q, "De handtekening klopt niet: het bericht is mogelijk onderweg gewijzigd.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.UNKNOWN_KEY: (
        _Q, "Het bericht is ondertekend met een onbekende sleutel.",
        f"Neem contact op met de beheerder: de sleutel staat niet in de regels. {_CALL} Heeft Veilig Thuis een "
        f"nieuwe sleutel, dan moet de beheerder die eerst importeren. {_NEW_SIGNAL}"),
    Reason.KEY_EXPIRED: (
        _Q, "Het bericht is ondertekend met een verlopen sleutel.",
        f"{_CALL} {_ASK_ADMIN_KEY} {_NEW_SIGNAL}"),
    Reason.KEY_REVOKED: (
        _Q, "Het bericht is ondertekend met een ingetrokken sleutel.",
        f"{_CALL} Een ingetrokken sleutel kan in verkeerde handen zijn. {_ASK_ADMIN_KEY} {_NEW_SIGNAL}"),
    Reason.SIGNATURE_EXPIRED: (_Q, "De handtekening is verlopen.", f"{_CALL} {_NEW_SIGNAL}"),
    Reason.WRONG_SIGNER: (
        _Q, "Het bericht is ondertekend door een andere partij dan de afzender die erboven staat.",
        f"{_CALL} {_NEW_SIGNAL}"),
    Reason.WRONG_RECIPIENT: (
        _Q, "Het ondertekende bericht is gericht aan een ander adres dan dat van dit Leerplicht-team (of de "
            "geadresseerde in het versleutelde deel is onleesbaar): het kan een signaal voor een andere organisatie "
            "zijn dat naar ons is doorgestuurd.",
        f"{_CALL} Vraag ook aan welk adres zij het signaal stuurden. Was het voor een andere regio bedoeld, vraag "
        "Veilig Thuis het dan daar af te leveren en verwijder het bericht uit de map. Is het een adres van dit team, "
        f"laat de beheerder het dan opnemen in trust.recipient_aliases. {_NEW_SIGNAL}"),
    Reason.SIGNATURE_IN_FUTURE: (
        _Q, "De handtekening heeft een tijdstip in de toekomst.",
        f"Meld het de beheerder: de klok van deze server of van de afzender loopt mogelijk verkeerd. {_CALL} "
        f"{_NEW_SIGNAL}"),
    Reason.SIGNATURE_TOO_OLD: (
        _Q, "De handtekening is te oud.",
        f"{_CALL} Vraag ook of het signaal nog actueel is. {_NEW_SIGNAL}"),
    Reason.NESTED_PGP: (
        _Q, "In het ontsleutelde bericht zit nog een versleuteld of ondertekend bericht.",
        f"{_CALL} Is het echt, vraag dan een nieuw signaal met de gegevens als gewone tekst. {_NEW_SIGNAL}"),
    Reason.UNDECODABLE_TEXT: (
        _Q, "De tekst van het bericht is onleesbaar.",
        f"{_CALL} Is het echt, vraag dan een nieuw signaal als gewone tekst."),
    Reason.REPLAY: (
        _Q, "Dit signaal is al eerder verwerkt; dit is een herhaling van hetzelfde ondertekende bericht.",
        "Stuur dit bericht niet door. Achter de code hierboven staat wat er met het origineel is gebeurd. Is het "
        "afgeleverd, dan hebben de scholen het signaal al. Is het niet (volledig) afgeleverd, dan maakt hwc-mailer "
        "het origineel zelf af, of staat het in de genoemde map en heeft u er al een melding over gekregen: handel "
        "het daar af. Twijfelt u, bel Veilig Thuis via het bekende nummer. Verwijder dit bericht daarna uit de map."),
    Reason.NOT_HWC: (
        _M, "Het bericht komt echt van Veilig Thuis, maar bevat niet de woorden 'Handle with Care'.",
        f"Lees het bericht in de map en beoordeel of het een Handle with Care-signaal is. Zo ja: {_BY_HAND}"),
    Reason.NO_CHILDREN: (
        _M, "In het signaal staat geen kind (geen regel 'Naam:').",
        f"Lees het signaal in de map. Staan er kinderen in zonder 'Naam:', dan: {_BY_HAND}"),
    Reason.MISSING_NAME: (
        _M, "Bij een kind ontbreekt de naam.",
        f"Vraag Veilig Thuis telefonisch om de naam van dit kind. {_BY_HAND}"),
    Reason.MISSING_BIRTH_DATE: (
        _M, "Bij een kind ontbreekt de geboortedatum.",
        f"Vraag Veilig Thuis telefonisch om de geboortedatum, zodat u het juiste kind vindt. {_BY_HAND}"),
    Reason.INVALID_DATE: (
        _M, "Een geboortedatum is onleesbaar of bestaat niet.",
        "Controleer de geboortedatum met Veilig Thuis (dag-maand-jaar; 03/25/2017 is geen geldige Nederlandse "
        f"datum). {_BY_HAND}"),
    Reason.AGE_OUT_OF_RANGE: (
        _M, "De leeftijd van een kind valt buiten de ingestelde grenzen.",
        "Controleer de geboortedatum met Veilig Thuis. Gaat het kind niet (meer) naar een school in de regio, "
        "dan hoeft er niets naar een school; verwijder het bericht dan uit de map. Anders: " + _BY_HAND),
    Reason.DUPLICATE_FIELD: (
        _M, "Bij een kind staat hetzelfde gegeven twee keer.",
        f"Lees het signaal en stel vast welk gegeven klopt; vraag het zo nodig na bij Veilig Thuis. {_BY_HAND}"),
    Reason.FIELD_OUTSIDE_CHILD: (
        _M, "Er staat een gegeven boven de eerste regel 'Naam:'.",
        f"Lees het signaal en stel vast bij welk kind dat gegeven hoort. {_BY_HAND}"),
    Reason.UNPARSED_LINE: (
        _M, "In het signaal staat een regel die op kindgegevens lijkt maar niet te lezen was (bijvoorbeeld een "
            "datum of een gegeven zonder herkenbaar label, of twee keer dezelfde naam). Er is niets verstuurd.",
        f"Lees het signaal in de map, vooral de genoemde regel, en stel vast welke kinderen erin staan; vraag het zo "
        f"nodig na bij Veilig Thuis. {_BY_HAND}"),
    Reason.CORRECTION: (
        _M, "Het bericht zegt dat het een eerder signaal corrigeert of intrekt.",
        "Zoek het eerdere signaal op. Is het al bij een school aangekomen, neem dan contact op met die school "
        "(is het de verkeerde school, dan is dat een datalek: meld het bij de privacy-functionaris, binnen 72 uur "
        f"bij de Autoriteit Persoonsgegevens). Handel de correctie zelf af. {_BY_HAND}"),
    Reason.QUOTED_SIGNAL: (
        _M, "In het bericht staat doorgestuurde, geciteerde of verborgen tekst met kindgegevens; hwc-mailer leest "
            "geen kinderen uit doorgestuurde, geciteerde of verborgen tekst.",
        "Lees het bericht en stel vast of het een nieuw signaal is of een eerder signaal dat al is afgehandeld. "
        f"Is het nieuw: {_BY_HAND}"),
    Reason.VERSIONS_DIFFER: (
        _M, "De tekstversie en de HTML-versie van het bericht noemen niet dezelfde kinderen.",
        f"Lees het bericht in de map (beide versies als uw mailprogramma dat toont) en stel vast welke kinderen "
        f"Veilig Thuis bedoelt; vraag het zo nodig na. {_BY_HAND}"),
    Reason.UNREAD_ATTACHMENT: (
        _M, "Het signaal heeft een bijlage die hwc-mailer niet leest (zoals een PDF- of Word-bestand); daarin kan "
            "een kind staan dat niet in de tekst staat.",
        f"Open de bijlage in de map en stel vast welke kinderen het signaal noemt. {_BY_HAND}"),
    Reason.OTHER_REGION: (
        _M, "De gemeente van een kind hoort niet bij deze regio.",
        "Controleer de gemeente met Veilig Thuis. Woont het kind in een andere regio, stuur het signaal dan "
        "beveiligd door aan Leerplicht van die regio. Verwijder het bericht daarna uit de map."),
    Reason.MUNICIPALITY_MISMATCH: (
        _M, "De school van een kind is alleen op naam gevonden en ligt in een andere gemeente dan die van het kind; "
            "er kan een school met dezelfde naam elders zijn.",
        "Stel vast welke school het kind bezoekt (leerlingenadministratie). Bezoekt het kind echt die school, "
        "laat de beheerder dan in de regels vastleggen dat de school ook die gemeente bedient (serves). "
        + _BY_HAND),
    Reason.NOT_IN_REGISTER: (
        _M, "Een kind is niet gevonden in het register (de leerlingenindex uit de leerplichtadministratie) en in "
            "het signaal staat geen school.",
        "Zoek het kind op in de leerplichtadministratie (let op andere schrijfwijzen van de naam en op een "
        f"recente verhuizing). {_BY_HAND}"),
    Reason.AMBIGUOUS_REGISTER: (
        _M, "In het register staan voor deze naam en geboortedatum meer scholen (bijvoorbeeld twee kinderen met "
            "dezelfde naam en geboortedatum).",
        "Stel in de leerplichtadministratie vast welk kind het is en welke van de genoemde scholen het bezoekt. "
        + _BY_HAND),
    Reason.REGISTER_MISMATCH: (
        _M, "De school in het signaal is een andere dan de school van het kind in het register.",
        "Stel vast welke school het kind nu bezoekt (een recente overstap, of een fout in het signaal); vraag het "
        f"zo nodig na bij Veilig Thuis. {_BY_HAND}"),
    Reason.SCHOOL_NOT_PARTICIPATING: (
        _M, "De school van het kind volgens het register staat niet in de regels (doet niet mee, ligt in een "
            "andere regio of is een school voor voortgezet onderwijs).",
        "Ga na of de school meedoet aan Handle with Care. Zo ja, laat de beheerder haar in de regels opnemen en "
        f"{_BY_HAND[0].lower()}{_BY_HAND[1:]}"),
    Reason.REGISTER_UNAVAILABLE: (
        _M, "Het register (de leerlingenindex) kon niet worden gelezen.",
        "Meld het de beheerder: de index ontbreekt, is beschadigd of is met een andere sleutel gemaakt "
        f"('hwc-mailer register'). {_BY_HAND}"),
    Reason.NO_SCHOOL: (
        _M, "Bij een kind staat geen school.",
        f"Zoek de school van het kind op in de leerlingenadministratie. {_BY_HAND}"),
    Reason.UNKNOWN_SCHOOL: (
        _M, "De school van een kind staat niet in de regels.",
        "Controleer of de school meedoet aan Handle with Care. Zo ja, laat de beheerder haar in de regels opnemen "
        f"en {_BY_HAND[0].lower()}{_BY_HAND[1:]}"),
    Reason.AMBIGUOUS_SCHOOL: (
        _M, "De school van een kind is niet eenduidig (bijvoorbeeld een BRIN-code met meerdere locaties).",
        f"Stel vast welke vestiging het kind bezoekt (leerlingenadministratie). {_BY_HAND}"),
    Reason.NO_VALID_KEY: (
        _M, "Geen enkele contactpersoon van een school heeft een bruikbare sleutel; er is niets verstuurd.",
        "Stuur de school het signaal zelf via beveiligde mail. Vraag de contactpersoon om een nieuwe sleutel en "
        "laat de beheerder die importeren. Verwijder het bericht daarna uit de map."),
    Reason.SMTP_REJECTED: (
        _M, "De mailserver weigerde het bericht aan een school definitief.",
        "Stuur de scholen die hieronder niet genoemd zijn als 'al verstuurd' het signaal zelf via beveiligde "
        "mail, en meld de weigering aan de beheerder. Verwijder het bericht daarna uit de map."),
    Reason.INTERNAL_ERROR: (
        _M, "hwc-mailer liep bij dit bericht herhaaldelijk vast en heeft het opzijgezet.",
        f"Meld het de beheerder (het logboek noemt het bericht, niet de inhoud). {_BY_HAND}"),
    Reason.CONTACT_KEY_UNUSABLE: (
        None, "De sleutel van een contactpersoon van een school is niet bruikbaar (ontbreekt, verlopen, ingetrokken "
              "of niet gecertificeerd). Die contactpersoon krijgt geen berichten; de andere contactpersonen wel.",
        _KEY_OWNER),
    Reason.KEY_EXPIRING: (
        None, "Een sleutel verloopt binnenkort. Na die datum krijgt de eigenaar geen berichten meer.", _KEY_OWNER),
    Reason.KEY_UNUSABLE: (
        None, "Een sleutel die in de regels staat, is niet bruikbaar (ontbreekt, verlopen, ingetrokken, niet "
              "gecertificeerd of hoort niet bij het adres).", _KEY_OWNER),
    Reason.NOT_AT_SCHOOL: (
        None, "Deze signalen zijn nog niet bij de school, en de schooldag begint binnenkort. Het kind kan de school "
              "binnenlopen zonder dat de school het weet.",
        "Handel elk signaal hieronder nu af: in de map Handmatig volgens de eerdere melding over dat signaal, of, "
        "als het nog in de inbox wacht (door een storing), door de school zelf te bellen of een beveiligde mail te "
        "sturen. Meld storingen aan de beheerder."),
    Reason.DELAYED: (
        None, "Een bericht dat een signaal kan zijn, wacht door een storing langer dan gewoonlijk in de inbox; het is "
              "nog niet bij een school.",
        "U hoeft nu niets te doen: hwc-mailer verstuurt het zodra de storing voorbij is en meldt dat. Duurt het tot "
        "vlak voor schooltijd, dan krijgt u een aparte melding. Meld de storing aan de beheerder."),
    Reason.DELIVERED_LATE: (
        None, "Een signaal dat door een storing vertraagd was, is nu alsnog bij de school.",
        "U hoeft niets te doen: de school heeft het signaal nu."),
    Reason.BOUNCED: (
        None, "De mailserver van een school heeft een bericht van hwc-mailer teruggestuurd: de school heeft het "
              "signaal niet gekregen.",
        "Bel de HWC-contactpersoon van de school hierboven en geef het signaal mondeling door; hwc-mailer bewaart "
        "de gegevens niet, vraag ze zo nodig opnieuw bij Veilig Thuis. Laat de beheerder het adres en de sleutel "
        "van de contactpersoon controleren. Het teruggestuurde bericht is verwijderd."),
    Reason.HELD_EXPIRING: (
        None, "Een bericht in de map van hwc-mailer wordt over een dag automatisch verwijderd, zoals het convenant "
              "vraagt (gegevens worden niet bewaard).",
        "Is het signaal nog niet afgehandeld, doe dat dan voor die tijd. Daarna is het bericht weg."),
    Reason.LOGIN_REFUSED: (
        None, "hwc-mailer kan niet inloggen bij de mailserver. Signalen blijven veilig in de inbox van Leerplicht "
              "staan en worden verstuurd zodra het inloggen weer lukt: er gaat niets verloren, maar tot dan bereikt "
              "geen signaal een school.",
        "Geef deze melding direct door aan de beheerder (de reden staat hierboven; 'hwc-mailer check' toont wat er "
        "mis is). Duurt het tot na schooltijd, bel dan Veilig Thuis: zij kunnen een dringend signaal zelf aan de "
        "school doorgeven."),
    Reason.LOGIN_SECRET_EXPIRING: (
        None, "Het geheim of certificaat waarmee hwc-mailer inlogt bij de mailserver verloopt binnenkort. Daarna kan "
              "hwc-mailer niet meer inloggen en bereiken signalen de scholen niet.",
        "Vraag de beheerder op tijd een nieuw geheim of certificaat te maken in Entra ID en in te stellen "
        "(docs/microsoft365.md)."),
    Reason.GATEWAY_UNAVAILABLE: (
        None, "hwc-mailer kan een beveiligde-mailgateway niet bereiken, vertrouwt haar certificaat niet of mag er niet "
              "inloggen. Signalen voor de contactpersonen die via die gateway mailen, wachten veilig in de inbox.",
        "Meld het direct aan de beheerder (de reden staat hierboven; 'hwc-mailer check' toont wat er mis is). Duurt "
        "het tot vlak voor schooltijd, bel de school dan zelf of stuur het signaal via een andere beveiligde weg."),
    Reason.REPLY_SENT: (
        _R, "Een collega heeft een vastgehouden signaal afgehandeld door op de melding te antwoorden; hwc-mailer heeft "
            "het versleuteld naar de genoemde school gestuurd en het signaal, het antwoord en de kopieën verwijderd.",
        "U hoeft niets te doen. Verwijder de melding over dit signaal en uw antwoord uit uw eigen mailbox."),
    Reason.REPLY_DISCARDED: (
        _R, "Een collega heeft een vastgehouden signaal laten verwijderen ('Verwijderen'); er is niets naar een "
            "school gestuurd.",
        "U hoeft niets te doen. Verwijder de melding over dit signaal en uw antwoord uit uw eigen mailbox."),
    Reason.REPLY_UNAUTHENTIC: (
        _Q, "Er kwam een antwoord vanaf uw adres binnen dat niet met uw eigen sleutel ondertekend en versleuteld "
            "is (of de handtekening klopt niet). hwc-mailer voert het niet uit.", _REPLIED_OWN_KEY),
    Reason.REPLY_NO_KEY: (
        _Q, "Er kwam een antwoord vanaf uw adres binnen, maar in de regels staat geen sleutel van u. Zonder sleutel "
            "kan hwc-mailer niet vaststellen dat het antwoord van u komt, en voert het niet uit.",
        "Vraag de beheerder uw openbare sleutel in de regels op te nemen en te importeren met 'hwc-mailer keys "
        "import'. Handel het signaal tot dan zelf af."),
    Reason.REPLY_NO_REFERENCE: (
        _Q, "In uw versleutelde bericht aan de Leerplicht-mailbox staat niet precies één referentie (HWC-...) van "
            "een vastgehouden signaal, of een andere dan die van de melding die u citeert of beantwoordt. De kop van "
            "een mail (zoals In-Reply-To) is niet ondertekend en telt daarom alleen als hij klopt met de tekst.",
        "Uw bericht staat in de map quarantaine en wordt na de bewaartermijn verwijderd; hwc-mailer doet er verder "
        "niets mee. Was het een antwoord op een melding, laat de melding dan geciteerd staan of zet de referentie "
        "zelf bovenaan en antwoord opnieuw, ondertekend en versleuteld met uw eigen sleutel."),
    Reason.REPLY_UNKNOWN_REFERENCE: (
        _R, "De referentie in uw antwoord hoort bij geen signaal dat nog op een beslissing wacht: ze is onbekend, of "
            "het signaal is al afgehandeld, uit de map gehaald of na de bewaartermijn verwijderd.",
        "Controleer de referentie. Is het signaal al afgehandeld, dan hoeft u niets te doen; anders handelt u het "
        "zelf af zoals zonder hwc-mailer."),
    Reason.REPLY_NO_INSTRUCTION: (
        _R, "In uw antwoord staat geen opdracht die hwc-mailer kan uitvoeren: geen regel 'School: <BRIN-code>' en geen "
            "'Verwijderen' (of allebei), boven de geciteerde melding.", _REPLY_AGAIN),
    Reason.REPLY_UNKNOWN_CODE: (
        _R, "De school in uw antwoord is geen BRIN-code van een school in de regels.",
        f"Gebruik de BRIN-code (met vestiging, zoals 12AB00) van een school in de regels. Doet de school niet mee, "
        f"handel het signaal dan zelf af. {_REPLY_AGAIN}"),
    Reason.REPLY_UNCLEAR_CHILD: (
        _R, "Uit uw antwoord blijkt niet welke school bij welk kind hoort.",
        f"Noem bij meer kinderen per kind het nummer uit de melding: 'Kind 2: School: <BRIN-code>'. {_REPLY_AGAIN}"),
    Reason.REPLY_STILL_HELD: (
        _R, "Ook met de school uit uw antwoord kan hwc-mailer het signaal niet (volledig) veilig versturen; de reden "
            "staat hierachter.",
        f"Los de genoemde reden op of handel het signaal zelf af zoals zonder hwc-mailer. {_REPLY_AGAIN}"),
    Reason.REPLY_SIGNAL_GONE: (
        _R, "Het signaal waarop u antwoordt staat niet meer in de map waar hwc-mailer het neerzette (iemand heeft "
            "het verplaatst of verwijderd).",
        "Zet het bericht terug in de map, of handel het signaal zelf af zoals zonder hwc-mailer."),
    Reason.REPLY_REPEATED: (
        _R, "Hetzelfde ondertekende antwoord kwam nogmaals binnen; het is al eerder uitgevoerd of beantwoord.",
        "U hoeft niets te doen; hwc-mailer heeft de herhaling verwijderd zonder er iets mee te doen."),
    Reason.REPLY_SIGNAL_UNREADABLE: (
        _R, "Dit signaal kan hwc-mailer ook met uw antwoord niet versturen: het is niet als Handle with Care-signaal "
            "te lezen, of het staat in quarantaine (het is niet aantoonbaar echt).",
        "Handel het signaal zelf af zoals zonder hwc-mailer, en antwoord daarna 'Verwijderen' om het op te ruimen."),
}
