"""The service catalog is complete in ca, es and en, and names every code it must."""

from __future__ import annotations

from pathlib import Path

import hub.service
from hub.service.codes import CARE_LEVELS, DISCHARGE_REASONS, SERVICE_STATES, SUSPENSION_REASONS
from protocol.i18n import Catalog

CATALOG = Catalog.load(Path(hub.service.__file__).parent / "i18n.toml")


def test_every_key_in_every_language() -> None:
    assert CATALOG.check() == []


def test_every_code_has_a_text() -> None:
    keys = set(CATALOG.texts)
    assert {f"state_{s}" for s in SERVICE_STATES} <= keys
    assert {f"level_{x}" for x in CARE_LEVELS} <= keys
    assert {f"reason_{r}" for r in (*DISCHARGE_REASONS, *SUSPENSION_REASONS)} <= keys


def test_every_error_code_has_a_text() -> None:
    import re

    from hub.service import errors

    source = (Path(hub.service.__file__).parent / "referral.py").read_text(encoding="utf-8")
    field_codes = set(re.findall(r'"(err_[a-z_]+)"', source))
    assert field_codes
    assert field_codes <= set(CATALOG.texts)
    error_classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.ServiceError)
    ]
    assert {cls.code for cls in error_classes} - {"service_error"} <= set(CATALOG.texts)
