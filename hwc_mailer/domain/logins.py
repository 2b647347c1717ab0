"""Why a server refused the daemon's login, read from what it answered, and what the admin must do about it.

One table: each problem has a code (logs, `check`), the admin's fix in English and the officers' words in
Dutch. `diagnose` reads the answer of a token endpoint (Entra's AADSTS codes), an IMAP server or an SMTP server;
what it does not recognise is a plain refusal, told as such. The answer itself never reaches an officer.
"""

import re
from enum import Enum

GUIDE = "docs/microsoft365.md"


class LoginProblem(Enum):
    SECRET_INVALID = "client-secret-invalid"
    SECRET_EXPIRED = "client-secret-expired"
    APP_NOT_FOUND = "application-not-found"
    TENANT_NOT_FOUND = "tenant-not-found"
    CERTIFICATE_REFUSED = "certificate-refused"
    SCOPE_INVALID = "scope-invalid"
    TOKEN_NOT_ISSUED = "token-not-issued"
    TOKEN_REFUSED = "token-refused"
    MAILBOX_NOT_GRANTED = "mailbox-not-granted"
    SMTP_AUTH_DISABLED = "smtp-auth-disabled"
    BASIC_AUTH_ENDED = "password-login-ended"
    ACCESS_POLICY = "access-policy"
    SEND_AS_DENIED = "send-as-denied"
    SENDER_MAILBOX_FULL = "sender-mailbox-full"
    RELAY_DENIED = "relay-denied"
    NO_LOGIN_METHOD = "no-login-method"
    SECRET_UNREADABLE = "secret-unreadable"
    LOGIN_REQUIRED = "login-required"
    PASSWORD_REFUSED = "password-refused"

    @property
    def fix(self) -> str:
        return _TEXTS[self][0]

    @property
    def dutch(self) -> str:
        return _TEXTS[self][1]


_CONSENT = (f"grant admin consent for the application permissions IMAP.AccessAsApp and SMTP.SendAsApp, register the "
            f"service principal in Exchange (New-ServicePrincipal with the object id from Enterprise applications, not "
            f"the App registration's) and give it FullAccess to the mailbox (Add-MailboxPermission); see {GUIDE}")
_ADMIN = "de beheerder moet"
_TEXTS: dict[LoginProblem, tuple[str, str]] = {
    LoginProblem.SECRET_INVALID: (
        "the token endpoint refused the client secret: put the secret's Value (not its Secret ID) of the application "
        "login.client_id into the login.client_secret credential",
        f"het inloggeheim van hwc-mailer wordt geweigerd; {_ADMIN} het geheim controleren en opnieuw instellen"),
    LoginProblem.SECRET_EXPIRED: (
        "the client secret has expired: make a new one (Entra ID, App registrations, Certificates & secrets), replace "
        "the login.client_secret credential and set login.client_secret_expires",
        f"het inloggeheim van hwc-mailer is verlopen; {_ADMIN} in Entra ID een nieuw geheim maken en instellen"),
    LoginProblem.APP_NOT_FOUND: (
        "the tenant knows no application login.client_id: check login.client_id and login.tenant_id, and that "
        "admin consent was granted",
        f"de applicatie van hwc-mailer is niet (meer) bekend bij Microsoft; {_ADMIN} de app-registratie controleren"),
    LoginProblem.TENANT_NOT_FOUND: (
        "no such tenant: check login.tenant_id (the Directory (tenant) ID) and login.authority_host",
        f"de organisatie-ID in de instellingen van hwc-mailer klopt niet; {_ADMIN} login.tenant_id controleren"),
    LoginProblem.CERTIFICATE_REFUSED: (
        "the token endpoint refused the certificate: upload its public part to the application (Certificates & "
        "secrets) or point login.certificate at the certificate that is registered there",
        f"het certificaat waarmee hwc-mailer inlogt wordt geweigerd; {_ADMIN} het certificaat controleren"),
    LoginProblem.SCOPE_INVALID: (
        "the token endpoint refused the scope: check login.scope (for Microsoft 365: "
        "https://outlook.office365.com/.default)",
        f"de instellingen van hwc-mailer voor het inloggen kloppen niet; {_ADMIN} login.scope controleren"),
    LoginProblem.TOKEN_NOT_ISSUED: (
        "the token endpoint issued no token: check login.client_id, the secret or certificate, and login.tenant_id "
        "or login.token_url",
        f"hwc-mailer krijgt geen toegangsbewijs (token) om in te loggen; {_ADMIN} de instellingen controleren"),
    LoginProblem.TOKEN_REFUSED: (
        "a token was issued but the server refused it: " + _CONSENT,
        f"de mailserver weigert de toegang van hwc-mailer (toestemming of postbusrechten ontbreken); {_ADMIN} de "
        "rechten van de applicatie herstellen"),
    LoginProblem.MAILBOX_NOT_GRANTED: (
        "the login was accepted but the mailbox is not open to it: give the service principal FullAccess to the "
        f"mailbox (Add-MailboxPermission -User <service principal id>), see {GUIDE}",
        f"hwc-mailer heeft geen rechten (meer) op de Leerplicht-mailbox; {_ADMIN} de postbusrechten herstellen"),
    LoginProblem.SMTP_AUTH_DISABLED: (
        "SMTP AUTH is switched off for the tenant or this mailbox: Set-CASMailbox <mailbox> "
        "-SmtpClientAuthenticationDisabled $false (Microsoft ends password logins for SMTP: use login.method "
        f"microsoft, see {GUIDE})",
        f"inloggen voor verzenden (SMTP AUTH) staat uit bij Microsoft 365; {_ADMIN} het aanzetten of overstappen "
        "op inloggen met OAuth2"),
    LoginProblem.BASIC_AUTH_ENDED: (
        "the server no longer takes a password login (Microsoft 365 ends SMTP AUTH with a password, MC786329; "
        f"security defaults block it too): log in with OAuth2, login.method microsoft, see {GUIDE}",
        f"Microsoft 365 accepteert het wachtwoord van hwc-mailer niet meer; {_ADMIN} overstappen op inloggen met "
        "OAuth2"),
    LoginProblem.ACCESS_POLICY: (
        "a Conditional Access policy blocks the application's sign-in: exclude this workload identity or allow "
        "the server's address in the policy",
        f"een beveiligingsbeleid van Microsoft 365 blokkeert het inloggen van hwc-mailer; {_ADMIN} het beleid "
        "aanpassen"),
    LoginProblem.SEND_AS_DENIED: (
        "the server does not let this login send as sender.address: give it Send As on that mailbox, or make "
        "sender.address the mailbox it logs in to",
        f"hwc-mailer mag niet verzenden namens het afzenderadres; {_ADMIN} de verzendrechten herstellen"),
    LoginProblem.SENDER_MAILBOX_FULL: (
        "the mailbox the daemon sends from is full (Exchange refuses to submit from it): empty its Sent and Trash "
        "folders or raise its quota",
        f"de Leerplicht-mailbox is vol, zodat hwc-mailer niet kan verzenden; {_ADMIN} ruimte maken"),
    LoginProblem.RELAY_DENIED: (
        "the server does not relay for the daemon (it is not logged in, or its address is not allowed): set a login "
        "for smtp, or allow the daemon's address on the relay or connector",
        f"de mailserver laat hwc-mailer niet (meer) verzenden; {_ADMIN} de verzendinstellingen herstellen"),
    LoginProblem.NO_LOGIN_METHOD: (
        "the server offers no login method the daemon can use (no AUTH, or no XOAUTH2 for a token login, or no "
        "PLAIN/LOGIN for a password): check host and port (the submission port) and login.method",
        f"de mailserver biedt geen inlogmethode die hwc-mailer kan gebruiken; {_ADMIN} de instellingen controleren"),
    LoginProblem.SECRET_UNREADABLE: (
        "the login's secret could not be read: see the message for the file and what is wrong with it",
        f"hwc-mailer kan zijn inloggeheim niet lezen; {_ADMIN} het bestand of de credential herstellen"),
    LoginProblem.LOGIN_REQUIRED: (
        "the server wants a login: set username and password (or login.method) for this server",
        f"de mailserver vraagt een login die niet is ingesteld; {_ADMIN} de instellingen aanvullen"),
    LoginProblem.PASSWORD_REFUSED: (
        "the server refused the username or password: check both (the password credential may be outdated)",
        f"de mailserver weigert de gebruikersnaam of het wachtwoord van hwc-mailer; {_ADMIN} ze controleren"),
}

# What a server or token endpoint answers, first match wins: Entra's AADSTS codes, then Exchange's and others'.
_ANSWERS: tuple[tuple[str, LoginProblem], ...] = (
    (r"AADSTS7000222", LoginProblem.SECRET_EXPIRED),
    (r"AADSTS7000215|AADSTS7000216", LoginProblem.SECRET_INVALID),
    (r"AADSTS700016|AADSTS7000112|AADSTS500011", LoginProblem.APP_NOT_FOUND),
    (r"AADSTS90002\b|AADSTS900023|AADSTS90023\b", LoginProblem.TENANT_NOT_FOUND),
    (r"AADSTS700027|AADSTS700024|AADSTS5002723", LoginProblem.CERTIFICATE_REFUSED),
    (r"AADSTS1002012|AADSTS70011\b|invalid_scope", LoginProblem.SCOPE_INVALID),
    (r"AADSTS65001|AADSTS7000218|unauthorized_client", LoginProblem.APP_NOT_FOUND),
    (r"authenticated but not connected", LoginProblem.MAILBOX_NOT_GRANTED),
    (r"AADSTS53003", LoginProblem.ACCESS_POLICY),
    (r"SmtpClientAuthentication is disabled", LoginProblem.SMTP_AUTH_DISABLED),
    (r"5\.7\.30|basic authentication is (not supported|disabled)|security defaults|did not meet the criteria",
     LoginProblem.BASIC_AUTH_ENDED),
    (r"5\.7\.139", LoginProblem.SMTP_AUTH_DISABLED),
    (r"5\.7\.60|SendAsDenied|5\.2\.252|STOREDRV\.Submission\.Exception:SendAs", LoginProblem.SEND_AS_DENIED),
    (r"QuotaExceededException", LoginProblem.SENDER_MAILBOX_FULL),
    (r"relay access denied|relaying denied|5\.7\.64\b|5\.7\.708\b", LoginProblem.RELAY_DENIED),
    (r"^530\b|5\.7\.0 Authentication required|5\.7\.57\b", LoginProblem.LOGIN_REQUIRED),
    (r"invalid_client", LoginProblem.SECRET_INVALID),
)

# Problems of the account the daemon sends as: a 5xx naming one of these after the login is no verdict on the mail.
ACCOUNT = frozenset({LoginProblem.SEND_AS_DENIED, LoginProblem.SENDER_MAILBOX_FULL, LoginProblem.RELAY_DENIED,
                     LoginProblem.LOGIN_REQUIRED, LoginProblem.BASIC_AUTH_ENDED, LoginProblem.SMTP_AUTH_DISABLED})
# A refusal to log in that is only for now: the server (or the token check behind it) is out of order.
_TEMPORARY = re.compile(r"\[(UNAVAILABLE|SERVERBUG|INUSE|LIMIT)\]|temporar|try again|server busy|socket error|"
                        r"\bEOF\b|\bBYE\b|connection (reset|closed|aborted)", re.IGNORECASE)


def named(answer: str) -> LoginProblem | None:
    """The problem the answer names, if it names one."""
    for pattern, problem in _ANSWERS:
        if re.search(pattern, answer, re.IGNORECASE):
            return problem
    return None


def diagnose(answer: str, fallback: LoginProblem) -> LoginProblem:
    """The problem the answer names, else `fallback`: what a refusal at that step means when it says no more."""
    return named(answer) or fallback


def account_problem(answer: str) -> LoginProblem | None:
    """A problem of the sending account that a 5xx to MAIL, RCPT or DATA names (Exchange's SendAsDenied comes
    after DATA), or None when the answer is about the mail or its recipient."""
    problem = named(answer)
    return problem if problem in ACCOUNT else None


def temporary(answer: str) -> bool:
    """Whether an IMAP login refusal is only for now ([UNAVAILABLE], a dropped connection): an outage, not a
    refusal of who we are. Anything else that refuses the login is taken as a refusal: retrying soon risks a
    lock-out."""
    return _TEMPORARY.search(answer) is not None
