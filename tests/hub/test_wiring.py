"""Each hub context is wired in one place, its ``app.py`` (issue 25; docs/architecture.md).

A newcomer reads ``README.md``, docs/architecture.md, then their context's ``app.py``: every
route and lifespan of the context must be there, not spread over its feature modules.
"""

from __future__ import annotations

import re
from pathlib import Path

from hub.app import ROUTE_MODULES

HUB = Path(__file__).resolve().parents[2] / "hub"
# Single modules of the edges floor that wire themselves.
SELF_WIRED = {"hub.health", "hub.metrics"}
# Contexts that serve nothing and start nothing: imported by those that do.
UNWIRED = {"db": "the relational store", "media": "media checks and storage, the family's"}
WIRING = re.compile(
    r"router\.add_|cleanup_ctx\.append|on_startup\.append|on_shutdown\.append|def setup_routes|"
    r"def add_routes"
)


def _contexts() -> list[str]:
    return sorted(p.name for p in HUB.iterdir() if (p / "__init__.py").exists())


def test_the_composer_lists_each_context_s_app_module() -> None:
    for name in ROUTE_MODULES:
        if name in SELF_WIRED:
            continue
        assert re.fullmatch(r"hub\.[a-z_]+\.app", name), f"{name}: list the context's app.py"
    listed = {name.split(".")[1] for name in ROUTE_MODULES if name not in SELF_WIRED}
    expected = {name for name in _contexts() if name not in UNWIRED}
    assert listed == expected, "every hub context but the unwired ones has an app.py listed"
    for name in UNWIRED:
        assert not (HUB / name / "app.py").exists(), f"{name} is wired now: list it"


def test_only_wiring_modules_add_routes_or_lifespans() -> None:
    # hub/app.py composes: it opens the database before every context.
    wiring = {HUB / "app.py", HUB / "health.py", HUB / "metrics.py"} | set(HUB.glob("*/app.py"))
    offenders = [
        str(path.relative_to(HUB.parent))
        for path in sorted(HUB.rglob("*.py"))
        if path not in wiring and WIRING.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"add these routes and lifespans in the context's app.py: {offenders}"
