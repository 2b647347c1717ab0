"""Routing rules: who may send signals, which schools exist, who reads their mail.

Admins keep these in YAML (rules/ has a sample). Loading checks everything a
pure check can: shapes of codes, addresses and fingerprints, and that no code,
name or alias points at two schools, because an ambiguous name must never be
resolved by guessing. Key presence is checked against the keyrings by `check`.
"""

import base64
import binascii
import hashlib
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from ..domain.text import SCHOOL_CODE, has_format_characters, normalise_address, normalise_code, normalise_name
from ..errors import RulesError
from .base import Fingerprint, Located, Strict, YamlProblem, load_model

ADDRESS = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"


def _address(value: str) -> str:
    if not re.match(ADDRESS, value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


Address = Annotated[str, AfterValidator(_address), WithJsonSchema({"type": "string", "pattern": ADDRESS})]


def _visible(value: str) -> str:
    """Two names that differ only by an invisible character would look the same to every admin."""
    if has_format_characters(value):
        raise ValueError(f"{value!r} contains an invisible character (zero-width space, joiner, direction mark or "
                         "soft hyphen); type the name again without it")
    return value


VisibleText = Annotated[str, AfterValidator(_visible)]


class TrustedSender(Strict):
    name: str
    addresses: tuple[Address, ...] = Field(min_length=1)
    fingerprints: tuple[Fingerprint, ...] = Field(min_length=1, description="primary key fingerprints")

    def signs_with(self, fingerprint: str) -> bool:
        return fingerprint.upper() in {value.upper() for value in self.fingerprints}


class Profile(StrEnum):
    """How a contact's mail is protected."""

    openpgp = "openpgp"        # PGP/MIME to the contact's OpenPGP key (fingerprint)
    smime = "smime"            # S/MIME to the contact's certificate, signed with the Leerplicht certificate
    gateway = "gateway"        # in clear over verified TLS to a secure-mail gateway that encrypts and delivers


PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def _profile_schema(keys: dict[Profile, tuple[tuple[str, ...], tuple[str, ...]] | None]) -> dict[str, Any]:
    """The JSON Schema of what each profile needs and what belongs to another: per profile the keys it needs and the
    keys it must not have (absent or null); None where the profile is not possible."""
    rules: list[dict[str, Any]] = []
    for profile, needed_and_not in keys.items():
        condition: dict[str, Any] = {"properties": {"profile": {"const": profile.value}}}
        if profile is not Profile.openpgp:          # the default: no profile key means openpgp
            condition["required"] = ["profile"]
        if needed_and_not is None:
            rules.append({"if": condition, "then": False})
            continue
        needed, other = needed_and_not
        rules.append({"if": condition, "then": {"required": list(needed), "properties": {
            **{key: {"type": "string"} for key in needed}, **{key: {"type": "null"} for key in other}}}})
    return {"allOf": rules}


class Contact(Strict):
    model_config = ConfigDict(json_schema_extra=_profile_schema({
        Profile.openpgp: (("fingerprint",), ("certificate", "gateway")),
        Profile.smime: (("certificate",), ("fingerprint", "gateway")),
        Profile.gateway: (("gateway",), ("fingerprint", "certificate"))}))

    name: str
    email: Address
    profile: Profile = Profile.openpgp
    fingerprint: Fingerprint | None = Field(None, description="openpgp: the primary key fingerprint")
    certificate: str | None = Field(None, description="smime: the certificate as PEM, or a PEM file (relative to "
                                                      "the rules file)")
    gateway: str | None = Field(None, description="gateway: the name of a gateway in the service file")

    @model_validator(mode="after")
    def _one_way(self) -> "Contact":
        """Exactly what the profile needs, nothing of another profile: a key that is not used is a key that is
        believed to be used."""
        needed = {Profile.openpgp: "fingerprint", Profile.smime: "certificate", Profile.gateway: "gateway"}
        for profile, field in needed.items():
            given = getattr(self, field) is not None
            if profile is self.profile and not given:
                raise ValueError(f"profile {profile.value} needs {field}")
            if profile is not self.profile and given:
                raise ValueError(f"{field} belongs to profile {profile.value}, not {self.profile.value}: remove it "
                                 "or set the profile")
        return self

    @property
    def key(self) -> str:
        """What names this contact's protection in logs and alerts: the fingerprint, the certificate's SHA-256
        or the gateway."""
        if self.profile is Profile.smime:
            return certificate_digest(self.certificate or "")
        return self.fingerprint or f"gateway {self.gateway}"


def certificate_digest(pem: str) -> str:
    """The SHA-256 fingerprint of the first certificate in `pem` (of its DER, as every tool shows it), upper case;
    "" when there is none to read."""
    body = pem.split(PEM_CERTIFICATE, 1)[-1].split("-----END", 1)[0] if PEM_CERTIFICATE in pem else ""
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return ""
    return hashlib.sha256(der).hexdigest().upper() if der else ""


class School(Strict):
    code: str = Field(description="BRIN (12AB) or BRIN plus location (12AB00)",
                      json_schema_extra={"pattern": SCHOOL_CODE.pattern})
    name: VisibleText
    aliases: tuple[VisibleText, ...] = ()
    municipality: VisibleText
    serves: tuple[VisibleText, ...] = Field((), description="other municipalities whose children attend this "
                                                             "school, so a match by name from there is expected")
    contacts: tuple[Contact, ...] = Field(min_length=1)

    def serves_municipality(self, municipality: str) -> bool:
        wanted = normalise_name(municipality)
        return wanted in {normalise_name(name) for name in (self.municipality, *self.serves)}

    @field_validator("code")
    @classmethod
    def _valid_code(cls, code: str) -> str:
        if not SCHOOL_CODE.match(code):
            raise ValueError(f"school code {code!r} is not a BRIN code like 12AB or 12AB00")
        return code


class Officer(Strict):
    """A Leerplicht officer who gets alerts; with a key or certificate they are encrypted (and the officer can finish
    a held signal by a signed reply), without one they carry no details."""

    model_config = ConfigDict(json_schema_extra=_profile_schema({
        Profile.openpgp: ((), ("certificate",)), Profile.smime: (("certificate",), ("fingerprint",)),
        Profile.gateway: None}))

    name: str
    email: Address
    profile: Profile = Profile.openpgp
    fingerprint: Fingerprint | None = Field(None, description="openpgp: the primary key fingerprint")
    certificate: str | None = Field(None, description="smime: the certificate as PEM, or a PEM file (relative to "
                                                      "the rules file)")

    @model_validator(mode="after")
    def _one_way(self) -> "Officer":
        if self.profile is Profile.gateway:
            raise ValueError("an officer's alerts name children to that officer alone: profile gateway is not "
                             "possible here; use openpgp or smime")
        if self.profile is Profile.smime and (self.certificate is None or self.fingerprint is not None):
            raise ValueError("profile smime needs certificate, and no fingerprint")
        if self.profile is Profile.openpgp and self.certificate is not None:
            raise ValueError("certificate belongs to profile smime: remove it or set the profile")
        return self

    @property
    def key(self) -> str | None:
        """The fingerprint or the certificate's SHA-256 that a reply must be signed with; None without either."""
        return certificate_digest(self.certificate) if self.certificate is not None else self.fingerprint


class Rules(Strict):
    trusted_senders: tuple[TrustedSender, ...] = Field(min_length=1)
    officers: tuple[Officer, ...] = Field(min_length=1, description="who is told when a person is needed")
    municipalities: tuple[VisibleText, ...] = Field((), description="the sub-region's municipalities (where its "
                                                                    "children live); those of the schools if empty")
    schools: tuple[School, ...] = ()

    @model_validator(mode="after")
    def _unambiguous(self) -> "Rules":
        """No code, name or alias may name two schools, and no address two senders: never guess between them."""
        problems: list[tuple[str, tuple[str | int, ...]]] = []
        claimed: dict[str, int] = {}
        for index, school in enumerate(self.schools):
            keys: list[tuple[str, tuple[str | int, ...], str]] = [
                (f"code:{normalise_code(school.code)}", ("code",), school.code)]
            keys.append((f"name:{normalise_name(school.name)}", ("name",), school.name))
            keys += [(f"name:{normalise_name(alias)}", ("aliases", position), alias)
                     for position, alias in enumerate(school.aliases)]
            for key, where, value in keys:
                owner = claimed.setdefault(key, index)
                if owner != index and key.startswith("code:"):
                    problems.append((f"code {value!r} is given to two schools, {self.schools[owner].name!r} and "
                                     f"{school.name!r}; each code must name one school", ("schools", index, *where)))
                elif owner != index:
                    problems.append((f"name {value!r} is used by schools {self.schools[owner].code} and "
                                     f"{school.code}; each code, name and alias must name one school",
                                     ("schools", index, *where)))
        senders: dict[str, int] = {}
        for index, sender in enumerate(self.trusted_senders):
            for position, address in enumerate(sender.addresses):
                owner = senders.setdefault(normalise_address(address), index)
                if owner != index:
                    problems.append((f"address {address!r} is listed for both {self.trusted_senders[owner].name!r} "
                                     f"and {sender.name!r}", ("trusted_senders", index, "addresses", position)))
        for index, officer in enumerate(self.officers):
            if normalise_address(officer.email) in senders:
                problems.append((f"officer address {officer.email!r} is also a trusted sender's: an officer's reply "
                                 "and a signal must never be mistaken for each other", ("officers", index, "email")))
        if problems:
            raise Located(problems)
        return self

    @cached_property
    def _by_code(self) -> dict[str, School]:
        return {normalise_code(school.code): school for school in self.schools}

    @cached_property
    def _by_name(self) -> dict[str, School]:
        return {normalise_name(name): school for school in self.schools for name in (school.name, *school.aliases)}

    def school_by_code(self, code: str) -> School | None:
        return self._by_code.get(normalise_code(code))

    def schools_of_brin(self, brin: str) -> tuple[School, ...]:
        """Every location of one BRIN: a bare BRIN with several locations is ambiguous."""
        prefix = normalise_code(brin)[:4]
        return tuple(school for code, school in self._by_code.items() if code[:4] == prefix)

    def school_by_name(self, name: str) -> School | None:
        return self._by_name.get(normalise_name(name))

    @cached_property
    def _region(self) -> frozenset[str]:
        names = self.municipalities or tuple(name for school in self.schools
                                             for name in (school.municipality, *school.serves))
        return frozenset(map(normalise_name, names))

    def in_region(self, municipality: str) -> bool:
        return normalise_name(municipality) in self._region

    def officer_for_address(self, address: str) -> Officer | None:
        wanted = normalise_address(address)
        return next((officer for officer in self.officers if normalise_address(officer.email) == wanted), None)

    def sender_for_address(self, address: str) -> TrustedSender | None:
        wanted = normalise_address(address)
        for sender in self.trusted_senders:
            if wanted in (normalise_address(value) for value in sender.addresses):
                return sender
        return None


def load_rules(path: Path) -> Rules:
    try:
        rules = load_model(path, Rules)
    except YamlProblem as problem:
        first, *others = problem.problems
        raise RulesError(first.message, path=str(path), line=first.line, column=first.column,
                         more=tuple(f"{item.where(path)}: {item.message}" for item in others)) from None
    return _with_certificates(rules, path)


def _with_certificates(rules: Rules, path: Path) -> Rules:
    """Every certificate given as a file, read: the rules hold PEM text from here on."""
    schools = [school.model_copy(update={"contacts": tuple(
        contact.model_copy(update={"certificate": _pem(contact.certificate, f"school {school.code}, contact "
                                                                            f"{contact.email}", path)})
        for contact in school.contacts)}) for school in rules.schools]
    officers = [officer.model_copy(update={"certificate": _pem(officer.certificate, f"officer {officer.email}", path)})
                for officer in rules.officers]
    return rules.model_copy(update={"schools": tuple(schools), "officers": tuple(officers)})


def _pem(given: str | None, whose: str, path: Path) -> str | None:
    """A certificate as PEM text: as given, or read from the file it names (relative to the rules file)."""
    if given is None or PEM_CERTIFICATE in given:
        return given
    file = path.parent / given
    try:
        text = file.read_text(encoding="ascii")
    except (OSError, UnicodeError) as error:
        raise RulesError(f"{whose}: cannot read certificate file {file}: "
                         f"{getattr(error, 'strerror', None) or type(error).__name__}", path=str(path)) from None
    if PEM_CERTIFICATE not in text:
        raise RulesError(f"{whose}: {file} holds no PEM certificate", path=str(path))
    return text
