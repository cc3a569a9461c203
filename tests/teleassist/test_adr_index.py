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
