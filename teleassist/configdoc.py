"""Writes docs/configuration.md from the settings Structs themselves, so it cannot drift.

``python -m teleassist.configdoc docs/configuration.md``; a test checks the file is current.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import msgspec

# (section, module, class, who reads it)
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("mqtt", "config", "MqttSettings", "every part: the broker"),
    ("hub", "hub.settings", "HubSettings", "the hub: HTTP, storage, ingestion, sign-in"),
    ("alarms", "hub.alarms.settings", "AlarmSettings", "the hub's alarm engine: 112, e-mail, SMS"),
    ("family", "hub.family.settings", "FamilySettings", "the family network: media, calls, TURN"),
    ("service", "hub.service.app", "ServiceSettings", "the service lifecycle"),
    ("wsocial", "integrations.wsocial.delivery", "FhirEndpointSettings", "delivery to wSocial"),
    ("agent", "device_agent.settings", "AgentSettings", "a home gateway (`teleassist agent`)"),
    ("tablet", "tablet_app.settings", "TabletSettings", "the resident's tablet"),
)

_HEADER = """# Configuration reference

Every part reads one TOML file (`--config FILE` or `$TELEASSIST_CONFIG`) and environment
variables, which win: `TELEASSIST_<SECTION>__<KEY>` (two underscores), for example
`TELEASSIST_HUB__DATABASE_URL`. The defaults run the embedded demo. Secrets (passwords, keys,
tokens) belong in the environment, never in the file.

This page is generated from the settings classes: `python -m teleassist.configdoc
docs/configuration.md`.
"""


def _default(field: msgspec.structs.FieldInfo) -> str:
    if field.default is not msgspec.NODEFAULT:
        value = field.default
    elif field.default_factory is not msgspec.NODEFAULT:
        value = field.default_factory()
    else:
        return "(required)"
    if value == "" or value is None:
        return "(empty)"
    return f"`{value!r}`" if not isinstance(value, str) else f"`{value}`"


def _type(field: msgspec.structs.FieldInfo) -> str:
    text = getattr(field.type, "__name__", None) or str(field.type)
    return text.replace("typing.", "").replace("|", "or")


def render() -> str:
    """The whole page."""
    parts = [_HEADER]
    for section, module, name, who in SECTIONS:
        schema = getattr(importlib.import_module(module), name)
        parts.append(f"\n## `[{section}]` — {who}\n")
        parts.append("| key | environment variable | type | default |")
        parts.append("|---|---|---|---|")
        for field in msgspec.structs.fields(schema):
            env = f"TELEASSIST_{section.upper()}__{field.name.upper()}"
            parts.append(f"| `{field.name}` | `{env}` | {_type(field)} | {_default(field)} |")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    """Write the page to ``argv[0]`` (or print it)."""
    page = render()
    if argv:
        Path(argv[0]).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
