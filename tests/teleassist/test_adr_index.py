"""Architecture decision records: each number names exactly one decision."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ADR_DIR = Path(__file__).resolve().parents[2] / "docs" / "adr"


def test_every_adr_number_is_used_once() -> None:
    by_number: dict[str, list[str]] = defaultdict(list)
    for path in ADR_DIR.glob("*.md"):
        match = re.match(r"(\d{4})-", path.name)
        if match:
            by_number[match.group(1)].append(path.name)
    assert by_number, "no ADRs found"
    clashes = {number: names for number, names in by_number.items() if len(names) > 1}
    assert clashes == {}, "renumber one of each pair (and the links to it)"


def test_every_adr_is_listed_in_the_index() -> None:
    """docs/adr/README.md groups the records by subject; a new record must join it."""
    index = (ADR_DIR / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(((\d{4})-[^)]+\.md)\)", index))
    linked_files = {name for name, _ in linked}
    records = {path.name for path in ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md")}
    assert records - linked_files == set(), "add these to docs/adr/README.md"
    assert linked_files - records == set(), "the index links records that do not exist"
