"""The referral form: what a service needs to know, validated into a frozen value.

The same form serves the public online application (the person, a relative or a social
worker) and referrals typed in by social workers. Errors come back all at once as
:class:`FieldError` codes (i18n keys), so the page can show each next to its field.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from alerts.emergency import control_characters
from alerts.values import relationship_code
from hub.service.codes import APPLICANT_KINDS, MOBILITIES, ApplicantKind, Mobility
from hub.service.errors import FieldError, ReferralInvalid
from protocol import ADDRESS_FORMS
from protocol.i18n import LANGUAGES

MAX_CONTACTS = 5
_PHONE = re.compile(r"^\+?[0-9][0-9 ]{7,18}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTCODE = re.compile(r"^[0-5][0-9]{4}$")
# Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter), checked by its letter.
_DNI = re.compile(r"^([XYZ]|[0-9])([0-9]{7})([A-Z])$")
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
# CatSalut's personal health card code (4 letters, 10 digits) and a social-services file
# number (the visor finds people by both: hub.visor.lookup).
CIP = re.compile(r"^[A-Z]{4}[0-9]{10}$")
SOCIAL_FILE = re.compile(r"^[A-Z0-9][A-Z0-9/.\-]{2,31}$")


@dataclass(frozen=True)
class ReferralContact:
    """Someone to call: family, neighbour, friend."""

    name: str
    phone: str
    relationship: str  # a code of alerts.values.RELATIONSHIP_CODES, or "" (not said)
    key_holder: bool
    relationship_other: str = ""  # the words, when the relationship is "other"


@dataclass(frozen=True)
class ReferralForm:
    """A valid referral (see :func:`parse_referral`)."""

    applicant_kind: ApplicantKind
    applicant_name: str
    applicant_phone: str
    applicant_email: str
    person_name: str
    birth_date: date
    id_document: str  # normalised DNI/NIE, or "" when not given
    cip: str  # health card code (CIP), or ""
    social_file: str  # social-services file number, or ""
    phone: str
    language: str
    address_form: str  # protocol.ADDRESS_FORMS: how to address the person
    street: str
    postcode: str
    municipality: str
    lives_alone: bool
    mobility: Mobility
    falls_last_year: int
    health_notes: str
    social_notes: str
    contacts: tuple[ReferralContact, ...]
    consent_data: bool
    consent_share_with_family: bool
    consent_social_record: bool


def valid_dni(value: str) -> bool:
    """Whether ``value`` (normalised) is a DNI/NIE whose control letter matches."""
    match = _DNI.match(value)
    if not match:
        return False
    first, rest, letter = match.groups()
    number = int(str("XYZ".index(first)) + rest if first in "XYZ" else first + rest)
    return _DNI_LETTERS[number % 23] == letter


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value.strip() if isinstance(value, str) else ""


# Free-text fields of the form (checked for control characters).
_FREE_TEXT = (
    "applicant_name",
    "applicant_phone",
    "applicant_email",
    "person_name",
    "id_document",
    "cip",
    "social_file",
    "phone",
    "street",
    "postcode",
    "municipality",
    "health_notes",
    "social_notes",
)


def _raw(data: Mapping[str, Any], key: str) -> str:
    # Before strip(): a trailing vertical tab is whitespace to Python, not to XML.
    value = data.get(key, "")
    return value if isinstance(value, str) else ""


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "on", "yes")
    return value is True


def _check_phone(errors: list[FieldError], field: str, value: str, required: bool) -> None:
    if not value:
        if required:
            errors.append(FieldError(field, "err_required"))
    elif not _PHONE.match(value):
        errors.append(FieldError(field, "err_phone"))


def parse_contacts(raw: Any, errors: list[FieldError]) -> tuple[ReferralContact, ...]:
    """Contacts of a form (empty rows skipped); problems are appended to ``errors``."""
    items = raw if isinstance(raw, list) else []
    contacts: list[ReferralContact] = []
    for index, item in enumerate(items[: MAX_CONTACTS + 1]):
        if not isinstance(item, Mapping):
            errors.append(FieldError(f"contacts.{index}", "err_invalid"))
            continue
        name, phone = _text(item, "name"), _text(item, "phone")
        if not name and not phone:
            continue  # an empty row of the form
        if not name:
            errors.append(FieldError(f"contacts.{index}.name", "err_required"))
        _check_phone(errors, f"contacts.{index}.phone", phone, required=True)
        # A code from the form's list; words typed by an API client or an older form are
        # coded the same way (a known word in any language, else "other" with the words).
        code, other = relationship_code(_text(item, "relationship"))
        if code == "other":
            other = _text(item, "relationship_other")[:60] or other
            if not other:
                errors.append(FieldError(f"contacts.{index}.relationship_other", "err_required"))
        contacts.append(ReferralContact(name[:200], phone, code, _flag(item, "key_holder"), other))
    if not contacts:
        errors.append(FieldError("contacts", "err_contact_needed"))
    elif len(contacts) > MAX_CONTACTS:
        errors.append(FieldError("contacts", "err_too_many_contacts"))
    return tuple(contacts)


def parse_referral(data: Mapping[str, Any], today: date) -> ReferralForm:
    """Validate a submitted form; :class:`ReferralInvalid` lists every problem."""
    errors: list[FieldError] = []

    kind = _text(data, "applicant_kind")
    if kind not in APPLICANT_KINDS:
        errors.append(FieldError("applicant_kind", "err_choice"))
    applicant_name = _text(data, "applicant_name")
    if kind in ("relative", "social_worker") and not applicant_name:
        errors.append(FieldError("applicant_name", "err_required"))
    applicant_phone = _text(data, "applicant_phone")
    _check_phone(errors, "applicant_phone", applicant_phone, required=kind == "relative")
    applicant_email = _text(data, "applicant_email")
    if applicant_email and not _EMAIL.match(applicant_email):
        errors.append(FieldError("applicant_email", "err_email"))

    person_name = " ".join(_text(data, "person_name").split())
    if len(person_name) < 3:
        errors.append(FieldError("person_name", "err_required"))
    elif len(person_name) > 200:
        errors.append(FieldError("person_name", "err_too_long"))
    birth = _parse_birth_date(_text(data, "birth_date"), today, errors)

    id_document = re.sub(r"[\s.-]", "", _text(data, "id_document")).upper()
    if id_document and not valid_dni(id_document):
        errors.append(FieldError("id_document", "err_dni"))
    cip = re.sub(r"[\s.-]", "", _text(data, "cip")).upper()
    if cip and not CIP.match(cip):
        errors.append(FieldError("cip", "err_cip"))
    social_file = _text(data, "social_file").upper()
    if social_file and not SOCIAL_FILE.match(social_file):
        errors.append(FieldError("social_file", "err_social_file"))
    phone = _text(data, "phone")
    _check_phone(errors, "phone", phone, required=False)
    language = _text(data, "language") or "ca"
    if language not in LANGUAGES:
        errors.append(FieldError("language", "err_choice"))
    address_form = _text(data, "address_form") or "unknown"
    if address_form not in ADDRESS_FORMS:
        errors.append(FieldError("address_form", "err_choice"))

    street, municipality = _text(data, "street"), _text(data, "municipality")
    postcode = _text(data, "postcode")
    if len(street) < 3:
        errors.append(FieldError("street", "err_required"))
    if not municipality:
        errors.append(FieldError("municipality", "err_required"))
    if not _POSTCODE.match(postcode):
        errors.append(FieldError("postcode", "err_postcode"))

    mobility = _text(data, "mobility") or "independent"
    if mobility not in MOBILITIES:
        errors.append(FieldError("mobility", "err_choice"))
    falls = _parse_falls(data.get("falls_last_year", 0), errors)
    health_notes, social_notes = _text(data, "health_notes"), _text(data, "social_notes")
    for key, value in (("health_notes", health_notes), ("social_notes", social_notes)):
        if len(value) > 2000:
            errors.append(FieldError(key, "err_too_long"))

    contacts = parse_contacts(data.get("contacts"), errors)
    # What the form keeps goes to 112 and into XML documents: control characters are
    # refused (a vertical tab, an escape, U+FFFE...), never stored.
    texts = {key: _text(data, key) for key in _FREE_TEXT}
    for index, item in enumerate(data.get("contacts") or []):
        if isinstance(item, Mapping):
            for key in ("name", "relationship", "relationship_other", "phone"):
                texts[f"contacts.{index}.{key}"] = _text(item, key)
    for key, value in texts.items():
        if control_characters(value) or control_characters(_raw(data, key)):
            errors.append(FieldError(key, "err_control_characters"))
    if not _flag(data, "consent_data"):
        errors.append(FieldError("consent_data", "err_consent"))

    if errors or birth is None:
        raise ReferralInvalid(tuple(errors))
    return ReferralForm(
        applicant_kind=kind,  # type: ignore[arg-type]
        applicant_name=applicant_name[:200],
        applicant_phone=applicant_phone,
        applicant_email=applicant_email[:200],
        person_name=person_name,
        birth_date=birth,
        id_document=id_document,
        cip=cip,
        social_file=social_file,
        phone=phone,
        language=language,
        address_form=address_form,
        street=street[:200],
        postcode=postcode,
        municipality=municipality[:100],
        lives_alone=_flag(data, "lives_alone"),
        mobility=mobility,  # type: ignore[arg-type]
        falls_last_year=falls,
        health_notes=health_notes,
        social_notes=social_notes,
        contacts=contacts,
        consent_data=True,
        consent_share_with_family=_flag(data, "consent_share_with_family"),
        consent_social_record=_flag(data, "consent_social_record"),
    )


def _parse_birth_date(raw: str, today: date, errors: list[FieldError]) -> date | None:
    if not raw:
        errors.append(FieldError("birth_date", "err_required"))
        return None
    try:
        born = date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError("birth_date", "err_date"))
        return None
    if born >= today or born.year < today.year - 120:
        errors.append(FieldError("birth_date", "err_birth_date"))
        return None
    return born


def _parse_falls(raw: Any, errors: list[FieldError]) -> int:
    try:
        falls = int(raw or 0)
    except (TypeError, ValueError):
        falls = -1
    if not 0 <= falls <= 100:
        errors.append(FieldError("falls_last_year", "err_number"))
        return 0
    return falls


# ---------------------------------------------------------------- reference and check value

# Crockford's base32 without I, L, O, U: read over the phone without confusion.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(year: int, token: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A referral reference such as ``TA-2026-7KQ3M9`` (random, ~30 bits)."""
    raw = int.from_bytes(token(4), "big")
    chars = "".join(_ALPHABET[(raw >> (5 * i)) & 31] for i in range(6))
    return f"TA-{year}-{chars}"


def new_check_value(token: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """The applicant's 6-digit check value (asked with the reference on the status page)."""
    return f"{int.from_bytes(token(4), 'big') % 1_000_000:06d}"


def hash_check_value(reference: str, check: str) -> str:
    """What is stored instead of the check value."""
    return hashlib.sha256(f"{reference}:{check.strip()}".encode()).hexdigest()


def check_value_matches(reference: str, check: str, stored_hash: str) -> bool:
    """Constant-time comparison of a check value with its stored hash."""
    return hmac.compare_digest(hash_check_value(reference, check), stored_hash)


# ---------------------------------------------------------------- duplicates


def normalise_name(name: str) -> str:
    """Lower case, no accents, single spaces: ``"  Núria  Puig"`` → ``"nuria puig"``."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", bare).split())


@dataclass(frozen=True)
class KnownPerson:
    """A person already known to the hub (a resident, or the subject of a referral)."""

    key: str  # "resident:12" or a referral reference
    name: str
    birth_date: date | None
    id_document: str = ""


def duplicate_reason(form: ReferralForm, person: KnownPerson) -> str | None:
    """Why ``person`` looks like the form's person (``None`` when they do not)."""
    if form.id_document and person.id_document and form.id_document == person.id_document:
        return "same_id_document"
    if person.birth_date == form.birth_date and normalise_name(person.name) == normalise_name(
        form.person_name
    ):
        return "same_name_and_birth_date"
    return None


def find_duplicates(form: ReferralForm, known: list[KnownPerson]) -> list[tuple[str, str]]:
    """``(key, reason)`` of every known person who looks like the form's person."""
    found: list[tuple[str, str]] = []
    for person in known:
        reason = duplicate_reason(form, person)
        if reason:
            found.append((person.key, reason))
    return found
