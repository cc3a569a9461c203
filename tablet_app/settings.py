"""The ``[tablet]`` section of the configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from protocol.i18n import Language


class TabletSettings(msgspec.Struct, kw_only=True, frozen=True):
    """How this tablet runs; the device's identity comes from pairing (``device.json``)."""

    hub_url: str = "http://127.0.0.1:8080"
    state_dir: str = "~/.local/share/teleassist-tablet"
    language: Language = "ca"
    font_scale: Annotated[float, Meta(ge=1.0, le=2.0)] = 1.0
    high_contrast: bool = False
    heartbeat_s: Annotated[int, Meta(ge=10, le=86_400)] = 60
    fullscreen: bool = False
    width: Annotated[int, Meta(ge=320, le=7680)] = 1280
    height: Annotated[int, Meta(ge=240, le=4320)] = 800
    speech: bool = True
    demo: bool = False
    family_poll_s: Annotated[float, Meta(gt=0, le=3600)] = 30.0
    # Without pairing (development, demo): the device id to use with [mqtt]'s broker,
    # and the family-API tablet token and resident (docs/family-api.md).
    device_id: str | None = None
    family_token: str | None = None
    resident_id: int | None = None

    def state_path(self) -> Path:
        """``state_dir`` with ``~`` expanded."""
        return Path(self.state_dir).expanduser()
