"""The link from a resident's address to the centre's map service (``[hub] map_url``)."""

from __future__ import annotations

from urllib.parse import quote


def map_link(template: str, address: str, lat: float | None, lon: float | None) -> str | None:
    """``template`` filled with the URL-encoded address and the coordinates; ``None`` when
    there is no template, no address, or the template wants coordinates the home lacks."""
    if not template or not address.strip():
        return None
    if ("{lat}" in template or "{lon}" in template) and (lat is None or lon is None):
        return None
    return template.format(
        address=quote(address.strip(), safe=""),
        lat="" if lat is None else f"{lat:.6f}",
        lon="" if lon is None else f"{lon:.6f}",
    )
