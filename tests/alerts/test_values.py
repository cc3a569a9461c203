"""Data values in the reader's language (issue 23): rooms, doors, panic sources, device
kinds and relationships never reach a sentence raw."""

from __future__ import annotations

import pytest

from alerts.i18n import Explanation
from alerts.model import DeviceType
from alerts.values import VALUES, device_name, device_phrase, relationship_name, value_name
from protocol.i18n import LANGUAGES


def test_every_value_has_every_language() -> None:
    for key, texts in VALUES.texts.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(text.strip() for text in texts.values()), key


def test_every_device_kind_has_a_name() -> None:
    for kind in DeviceType:
        assert f"device.{kind.value}" in VALUES.texts, kind


@pytest.mark.parametrize(
    ("key", "params", "ca", "es"),
    [
        ("fall", {"room": "bathroom"}, "Caiguda detectada (bany)", "Caída detectada (baño)"),
        ("panic", {"source": "pendant"}, "Botó d'ajuda premut (penjoll)",
         "Botón de ayuda pulsado (colgante)"),
        ("night_door", {"door": "front"}, "Porta (d'entrada) oberta",
         "Puerta (de entrada) abierta"),
        ("smoke", {"room": "Kitchen"}, "Fum detectat (cuina)", "Humo detectado (cocina)"),
    ],
)  # fmt: skip
def test_explanations_name_values_in_their_language(
    key: str, params: dict[str, str], ca: str, es: str
) -> None:
    explanation = Explanation.of(key, time="10:00", **params)
    assert explanation.text("ca").startswith(ca)
    assert explanation.text("es").startswith(es)


def test_an_unknown_value_is_shown_as_it_came() -> None:
    assert Explanation.of("fall", room="golf-room", time="10:00").text("ca") == (
        "Caiguda detectada (golf-room) a les 10:00"
    )
    assert value_name("room", "golf-room", "es") == "golf-room"


def test_one_name_per_device() -> None:
    assert device_name("fall_detector", "bathroom", "ca") == "Detector de caigudes · bany"
    assert device_name("smoke", "kitchen", "en") == "Smoke detector · kitchen"
    assert device_name("pendant", None, "es") == "Colgante"
    assert device_name("a_new_kind", None, "ca") == "Altre dispositiu"


@pytest.mark.parametrize(
    ("typed", "lang", "shown"),
    [
        ("fill", "en", "son"),
        ("Hija", "ca", "filla"),
        ("son", "es", "hijo"),
        ("neboda", "en", "niece"),
        ("veïna voluntària", "es", "vecina voluntaria"),
        ("vecina", "ca", "veïna"),
        ("best friend from school", "ca", "best friend from school"),
    ],
)
def test_relationships_typed_in_any_language(typed: str, lang: str, shown: str) -> None:
    assert relationship_name(typed, lang) == shown


@pytest.mark.parametrize(
    ("kind", "room", "wearer", "ca", "es", "en"),
    [
        ("motion", "bedroom", None, "el detector de moviment del dormitori",
         "el detector de movimiento del dormitorio", "the bedroom motion sensor"),
        ("pendant", None, "Maria Puig", "el penjoll de Maria Puig", "el colgante de Maria Puig",
         "Maria Puig's pendant"),
        ("pendant", None, "Anna Soler", "el penjoll d'Anna Soler", "el colgante de Anna Soler",
         "Anna Soler's pendant"),
        ("gateway", "entrance", None, "la passarel·la de l'entrada",
         "la pasarela de la entrada", "the entrance gateway"),
        ("smoke", "golfes", None, "el detector de fum (golfes)", "el detector de humo (golfes)",
         "the smoke detector (golfes)"),
        (None, None, None, "el dispositiu h1-x", "el dispositivo h1-x", "device h1-x"),
    ],
)  # fmt: skip
def test_a_device_in_a_sentence_says_what_and_where(
    kind: str | None, room: str | None, wearer: str | None, ca: str, es: str, en: str
) -> None:
    for lang, expected in (("ca", ca), ("es", es), ("en", en)):
        assert device_phrase("h1-x", kind, room, wearer, lang) == expected


def test_every_device_kind_can_be_named_in_a_sentence() -> None:
    for kind in DeviceType:
        if kind is not DeviceType.OTHER:
            assert f"device_the.{kind.value}" in VALUES.texts, kind
    rooms = {key.split(".", 1)[1] for key in VALUES.texts if key.startswith("room.")}
    assert rooms == {key.split(".", 1)[1] for key in VALUES.texts if key.startswith("room_of.")}


def test_technical_alarms_name_the_device_not_its_id() -> None:
    offline = Explanation.of(
        "device_offline", device="h1-pir", since="10:05", device_kind="motion",
        device_room="bedroom",
    )  # fmt: skip
    assert (
        offline.text("ca")
        == "El detector de moviment del dormitori no es comunica des de les 10:05"
    )
    assert (
        offline.text("es")
        == "El detector de movimiento del dormitorio no se comunica desde las 10:05"
    )
    assert offline.text("en") == "The bedroom motion sensor has been silent since 10:05"
    battery = Explanation.of(
        "low_battery", device="h1-pd", percent="12", device_kind="pendant",
        device_wearer="Maria Puig",
    )  # fmt: skip
    assert battery.text("ca") == "El penjoll de Maria Puig té la bateria baixa: 12 %"
    assert battery.text("en") == "Maria Puig's pendant has a low battery: 12 %"
    # An alarm stored before the hub kept the device's kind: its id, in a sentence.
    old = Explanation.of("tamper", device="h1-door", time="03:10")
    assert old.text("es") == "Han manipulado el dispositivo h1-door a las 03:10"
    assert old.text("en") == "Device h1-door tampered with at 03:10"
