"""The InterSocial-style vocabulary: coded concepts with ca/es/en display text.

The table lives in ``vocabulary.toml`` next to this module so that a terminologist can
review it without reading Python. Every SNOMED CT entry names the published source that
confirmed it; loading refuses an entry without one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from protocol.i18n import LANGUAGES, Language

SNOMED_SYSTEM = "http://snomed.info/sct"
# Teleassist's own code system for concepts with no verified SNOMED CT code. example.org is
# a reserved domain: a deployment replaces it with its own canonical base.
LOCAL_SYSTEM = "http://teleassist.example.org/fhir/CodeSystem/teleassist"


# SNOMED CT's semantic tags (the hierarchy a fully specified name ends with).
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:finding|disorder|procedure|regime/therapy|situation|observable entity|"
    r"qualifier value|social concept|physical object|event|environment|person|occupation|"
    r"record artifact|assessment scale|body structure|substance|product|"
    r"environment / location|attribute|morphologic abnormality)\)$"
)


class VocabularyError(ValueError):
    """The vocabulary file is malformed, or a concept is unknown."""


@dataclass(frozen=True)
class Concept:
    """One coded concept and how to say it in each language."""

    key: str
    system: str
    code: str
    display: dict[Language, str]
    verified_by: str | None

    @property
    def is_snomed(self) -> bool:
        """Whether this is a SNOMED CT concept."""
        return self.system == SNOMED_SYSTEM

    def text(self, language: Language) -> str:
        """Display text in ``language`` for people: without SNOMED CT's semantic tag
        ("Telehealth monitoring (regime/therapy)" reads "Telehealth monitoring"), which
        belongs to the fully specified name, not to a screen. The coding keeps it."""
        return _SEMANTIC_TAG.sub("", self.display[language])

    def coding(self) -> dict[str, str]:
        """A FHIR ``Coding`` (English display, as SNOMED CT's own description)."""
        return {"system": self.system, "code": self.code, "display": self.display["en"]}


def _parse(key: str, raw: dict[str, Any]) -> Concept:
    system_name = raw.get("system")
    if system_name not in ("snomed", "local"):
        raise VocabularyError(f"concept {key!r}: system must be 'snomed' or 'local'")
    code = raw.get("code")
    if not isinstance(code, str) or not code:
        raise VocabularyError(f"concept {key!r}: code missing")
    display: dict[Language, str] = {}
    for language in LANGUAGES:
        text = raw.get(f"display_{language}")
        if not isinstance(text, str) or not text.strip():
            raise VocabularyError(f"concept {key!r}: display_{language} missing")
        display[language] = text
    verified_by = raw.get("verified_by")
    if system_name == "snomed":
        if not code.isdigit():
            raise VocabularyError(f"concept {key!r}: SNOMED CT codes are digits, got {code!r}")
        if not isinstance(verified_by, str) or not verified_by.strip():
            raise VocabularyError(f"concept {key!r}: SNOMED CT code without verified_by")
    system = SNOMED_SYSTEM if system_name == "snomed" else LOCAL_SYSTEM
    return Concept(key, system, code, display, verified_by)


def parse_vocabulary(text: str) -> dict[str, Concept]:
    """Parse a vocabulary TOML document; raise :class:`VocabularyError` on any defect."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise VocabularyError(f"vocabulary is not valid TOML: {err}") from err
    table = document.get("concept")
    if not isinstance(table, dict) or not table:
        raise VocabularyError("vocabulary has no [concept.*] tables")
    concepts = {key: _parse(key, raw) for key, raw in table.items()}
    seen: dict[tuple[str, str], str] = {}
    for concept in concepts.values():
        pair = (concept.system, concept.code)
        if pair in seen:
            raise VocabularyError(f"code {concept.code} used by {seen[pair]!r} and {concept.key!r}")
        seen[pair] = concept.key
    return concepts


@cache
def vocabulary() -> dict[str, Concept]:
    """The project's vocabulary, loaded once."""
    text = resources.files(__package__).joinpath("vocabulary.toml").read_text("utf-8")
    return parse_vocabulary(text)


def concept(key: str) -> Concept:
    """The concept called ``key``; raise :class:`VocabularyError` if there is none."""
    try:
        return vocabulary()[key]
    except KeyError:
        raise VocabularyError(f"unknown concept {key!r}") from None
