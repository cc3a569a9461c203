"""docs/configuration.md matches the settings classes, and the deployment only sets real keys."""

from __future__ import annotations

import re
from pathlib import Path

from teleassist import configdoc

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current() -> None:
    current = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    assert current == configdoc.render(), (
        "run: python -m teleassist.configdoc docs/configuration.md"
    )


def test_compose_sets_only_variables_that_exist() -> None:
    # A misspelt variable is silently ignored by the settings loader: catch it here.
    reference = configdoc.render()
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\b(TELEASSIST_[A-Z0-9_]+__[A-Z0-9_]+)\b", compose))
    assert used
    unknown = sorted(v for v in used if f"`{v}`" not in reference)
    assert unknown == []
