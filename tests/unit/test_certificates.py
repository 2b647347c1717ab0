"""A contact's S/MIME certificate is used only when every check passes; the rules say each profile's one way."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hwc_mailer.edges.certificates import CertificateBook
from hwc_mailer.edges.protocols import KeyState
from hwc_mailer.outbound.sealing import SmimeSealer
from hwc_mailer.settings.config import Secret, Smime
from hwc_mailer.settings.rules import Contact, Officer, Profile, certificate_digest
from lab.smime import SmimeLab

ADDRESS = "hwc@regenboog.example.nl"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> SmimeLab:
    return SmimeLab(tmp_path_factory.mktemp("smime"))


def book(lab: SmimeLab, crl: Path | None = None) -> CertificateBook:
    office = lab.issue("leerplicht@maastricht.example.nl")
    return CertificateBook(Smime(certificate=office.certificate_file, key=Secret(file=office.key_file),
                                 ca_file=lab.ca_file, crl_files=(crl,) if crl else ()))


def test_a_good_certificate_is_ok_until_it_expires(lab: SmimeLab) -> None:
    issued = lab.issue(ADDRESS)
    now = datetime.now(UTC)
    info = book(lab).inspect(issued.certificate.decode(), ADDRESS, now)
    assert info.state is KeyState.ok and info.expires is not None
    assert info.fingerprint == certificate_digest(issued.certificate.decode()) and len(info.fingerprint) == 64
    assert book(lab).inspect(issued.certificate.decode(), ADDRESS.upper(), now).state is KeyState.ok
    assert book(lab).inspect(issued.certificate.decode(), ADDRESS, info.expires + timedelta(days=1)).state \
        is KeyState.expired


def test_a_certificate_of_another_ca_is_untrusted_and_garbage_is_missing(lab: SmimeLab, tmp_path: Path) -> None:
    stranger = SmimeLab(tmp_path / "other").issue(ADDRESS)
    now = datetime.now(UTC)
    assert book(lab).inspect(stranger.certificate.decode(), ADDRESS, now).state is KeyState.untrusted
    assert book(lab).inspect("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n", ADDRESS,
                             now).state is KeyState.missing


def test_a_path_only_through_real_cas_holds(lab: SmimeLab) -> None:
    """Anyone with a certificate from the CA could otherwise issue one for any school address."""
    now = datetime.now(UTC)
    holder = lab.issue("someone@elsewhere.example.nl")
    forged = lab.issue(ADDRESS, issuer=holder)
    assert book(lab).inspect((forged.certificate + holder.certificate).decode(), ADDRESS, now).state \
        is KeyState.untrusted
    assert book(lab).inspect(lab.issue(ADDRESS, ca=True).certificate.decode(), ADDRESS, now).state \
        is KeyState.untrusted


def test_a_short_rsa_key_is_weak(lab: SmimeLab) -> None:
    short = lab.issue(ADDRESS, bits=1024)
    assert book(lab).inspect(short.certificate.decode(), ADDRESS, datetime.now(UTC)).state is KeyState.weak


def test_the_leerplicht_key_must_belong_to_its_certificate(lab: SmimeLab) -> None:
    mine, other = lab.issue("leerplicht@maastricht.example.nl"), lab.issue("leerplicht@maastricht.example.nl")
    with pytest.raises(ValueError, match="does not belong"):
        SmimeSealer(mine.certificate, other.key)


def test_a_revoked_certificate_is_revoked_only_by_its_issuers_crl(lab: SmimeLab, tmp_path: Path) -> None:
    issued = lab.issue(ADDRESS)
    now = datetime.now(UTC)
    assert book(lab, lab.crl([issued])).inspect(issued.certificate.decode(), ADDRESS, now).state is KeyState.revoked
    other = SmimeLab(tmp_path / "other")
    assert book(lab, other.crl([issued])).inspect(issued.certificate.decode(), ADDRESS, now).state is KeyState.ok


@pytest.mark.parametrize(("fields", "problem"), [
    ({"profile": "smime"}, "profile smime needs certificate"),
    ({"profile": "gateway"}, "profile gateway needs gateway"),
    ({"fingerprint": "A" * 40, "gateway": "securemail"}, "gateway belongs to profile gateway"),
    ({"profile": "smime", "certificate": "x", "fingerprint": "A" * 40}, "fingerprint belongs to profile openpgp"),
])
def test_a_contact_has_exactly_what_its_profile_needs(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Contact.model_validate({"name": "C", "email": ADDRESS, **fields})


def test_an_officer_is_openpgp_or_smime() -> None:
    assert Officer(name="O", email=ADDRESS).key is None
    with pytest.raises(ValidationError, match="profile gateway is not possible"):
        Officer.model_validate({"name": "O", "email": ADDRESS, "profile": "gateway"})
    with pytest.raises(ValidationError, match="profile smime needs certificate"):
        Officer.model_validate({"name": "O", "email": ADDRESS, "profile": Profile.smime})
