"""docs/architecture.md names every context of the hub, so the map cannot silently go stale."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _map_section() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## A map of the hub")
    return text[start : text.index("\n## ", start + 1)]


def test_every_hub_context_is_on_the_map() -> None:
    section = _map_section()
    contexts = sorted(
        p.name for p in (ROOT / "hub").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    )
    assert contexts, "no hub contexts found"
    missing = [name for name in contexts if f"`{name}/`" not in section]
    assert not missing, f"add these hub contexts to docs/architecture.md's map: {missing}"


def test_every_hub_module_is_on_the_map() -> None:
    section = _map_section()
    modules = sorted(p.name for p in (ROOT / "hub").glob("*.py") if p.name != "__init__.py")
    missing = [name for name in modules if f"`{name}`" not in section]
    assert not missing, f"add these hub modules to docs/architecture.md's map: {missing}"
