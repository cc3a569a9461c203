"""The card's link from the address to the centre's map service (``[hub] map_url``)."""

from __future__ import annotations

import pytest

from config import ConfigError
from hub.console.maplink import map_link
from hub.settings import check_map_url


def test_the_address_is_url_encoded() -> None:
    link = map_link("https://maps.example/?q={address}", " Pl. Sant Jaume 1 & 2, Barcelona ", 1, 2)
    assert link == "https://maps.example/?q=Pl.%20Sant%20Jaume%201%20%26%202%2C%20Barcelona"


def test_coordinates() -> None:
    template = "https://maps.example/#map=18/{lat}/{lon}"
    assert map_link(template, "C/ Verdi 1", 41.4, 2.16) == (
        "https://maps.example/#map=18/41.400000/2.160000"
    )
    assert map_link(template, "C/ Verdi 1", None, None) is None  # a home without them


@pytest.mark.parametrize(
    ("template", "address"), [("", "C/ Verdi 1"), ("https://m/{address}", "  ")]
)
def test_no_link(template: str, address: str) -> None:
    assert map_link(template, address, None, None) is None


@pytest.mark.parametrize(
    "template",
    ["https://m/{street}", "https://m/{0}", "https://m/{address", "javascript:alert({address})",
     "maps.example/{address}"],
)  # fmt: skip
def test_bad_templates_are_refused_at_start(template: str) -> None:
    with pytest.raises(ConfigError):
        check_map_url(template)


def test_good_templates() -> None:
    for template in ("", "https://m/?q={address}", "http://intranet/map?lat={lat}&lon={lon}"):
        check_map_url(template)
