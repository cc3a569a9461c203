"""The vocabulary file: complete, verified, and strict about defects."""

from __future__ import annotations

import pytest

from integrations.wsocial.vocabulary import (
    LANGUAGES,
    SNOMED_SYSTEM,
    VocabularyError,
    concept,
    parse_vocabulary,
    vocabulary,
)

GOOD = """
[concept.lives_alone]
system = "snomed"
code = "105529008"
display_en = "Lives alone"
display_es = "Vive sola/o"
display_ca = "Viu sola/sol"
verified_by = "a published source"
"""


def test_issue_codes_are_present_with_their_meaning() -> None:
    assert concept("lives_alone").code == "105529008"
    assert concept("at_risk_for_falls").code == "129839007"
    assert concept("social_isolation").code == "422650009"
    assert concept("telehealth_monitoring").code == "719858009"
    assert concept("fall").code == "1912002"
    for key in ("lives_alone", "at_risk_for_falls", "social_isolation"):
        assert concept(key).system == SNOMED_SYSTEM


def test_every_snomed_code_names_its_source_and_every_concept_speaks_three_languages() -> None:
    concepts = vocabulary().values()
    assert sum(1 for c in concepts if c.is_snomed) >= 7
    for item in concepts:
        if item.is_snomed:
            assert item.verified_by, item.key
            assert len(item.verified_by) > 20, item.key
        for language in LANGUAGES:
            assert item.text(language).strip(), (item.key, language)


def test_unknown_concept_is_a_clear_error() -> None:
    with pytest.raises(VocabularyError, match="unknown concept 'nope'"):
        concept("nope")


def test_parse_accepts_a_good_entry() -> None:
    parsed = parse_vocabulary(GOOD)
    assert parsed["lives_alone"].coding() == {
        "system": SNOMED_SYSTEM,
        "code": "105529008",
        "display": "Lives alone",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('verified_by = "a published source"\n', ""), "without verified_by"),
        (GOOD.replace('display_ca = "Viu sola/sol"\n', ""), "display_ca missing"),
        (GOOD.replace('"105529008"', '"lives-alone"'), "SNOMED CT codes are digits"),
        (GOOD.replace('"snomed"', '"icd10"'), "system must be"),
        (GOOD + GOOD.replace("lives_alone]", "other]"), "used by"),
        ("[concept.x\n", "not valid TOML"),
        ("title = 'empty'\n", "no \\[concept"),
    ],
)
def test_parse_refuses_defects(text: str, message: str) -> None:
    with pytest.raises(VocabularyError, match=message):
        parse_vocabulary(text)


def test_no_semantic_tag_reaches_a_screen() -> None:
    """SNOMED CT's semantic tag ("(regime/therapy)") belongs to the fully specified name:
    the text people read has none, the FHIR coding keeps the display (issue 23)."""
    telehealth = concept("telehealth_monitoring")
    assert telehealth.text("en") == "Telehealth monitoring"
    assert telehealth.coding()["display"] == "Telehealth monitoring (regime/therapy)"
    # Other parentheses are words, not tags.
    assert concept("telehealth_monitoring").text("ca").endswith("(teleassistència)")
    for item in vocabulary().values():
        for language in LANGUAGES:
            assert "regime/therapy" not in item.text(language), item.key
