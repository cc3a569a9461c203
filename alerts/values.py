"""Names of data values in the reader's language: rooms, doors, panic sources, device kinds
and contacts' relationships (``alerts/values.toml``).

Devices, sensors and people send these as codes (``bathroom``, ``fall_detector``,
``pendant``) or, for relationships, as words typed in any of the three languages; a screen
must never put them raw into a sentence in another language (issue 23). A value the
catalogue does not know is shown as it came: a name someone typed is better than nothing.
"""

from __future__ import annotations

from pathlib import Path

from protocol.i18n import Catalog, as_language

VALUES = Catalog.load(Path(__file__).with_name("values.toml"))

# Every form of every relationship (any language) -> its key, for words people typed.
_RELATIONSHIPS: dict[str, str] = {
    text.casefold(): key
    for key, texts in VALUES.texts.items()
    if key.startswith("relationship.")
    for lang, text in texts.items()
    if lang != "en" or not key.endswith("_f")  # "friend" is the masculine entry's
}


def value_name(kind: str, value: str, lang: str) -> str:
    """The name of ``value`` (a code of ``kind``: room, door, source, device) in ``lang``;
    the value itself when the catalogue does not know it."""
    key = f"{kind}.{value.strip().lower()}"
    if key in VALUES.texts:
        return VALUES.text(key, as_language(lang))
    return value


def device_name(kind: str, room: str | None, lang: str) -> str:
    """One name per device: its kind, and its room when it has one ("Detector de fum ·
    cuina"). The same words on the card, the technical alarms and the explanations."""
    name = value_name("device", kind, lang)
    if name == kind:
        name = VALUES.text("device.other", as_language(lang))
    return f"{name} · {value_name('room', room, lang)}" if room else name


# Where a device is, kept in a technical alarm's explanation beside its id (the hub adds them
# from its registry when the alarm is raised): its kind, its room, whose it is.
DEVICE_PARAMS = ("device_kind", "device_room", "device_wearer")
_VOWELS = "aeiouàèéíòóúAEIOUÀÈÉÍÒÓÚ"


def device_phrase(
    device_id: str, kind: str | None, room: str | None, wearer: str | None, lang: str
) -> str:
    """A device named inside a sentence, by what it is and where: "el detector de moviment
    del dormitori", "el penjoll de Maria Puig", "the bedroom motion sensor", "Maria Puig's
    pendant". Without a kind the registry knows (an alarm raised before the hub kept it, a
    device no longer registered), the device's id: "el dispositiu h1-door"."""
    language = as_language(lang)
    the = f"device_the.{(kind or '').strip().lower()}"
    known = bool(kind) and the in VALUES.texts
    thing = VALUES.text(the, language) if known else ""
    if not known:
        phrase = VALUES.text("device_the.unknown", language, id=device_id)
    else:
        phrase = f"the {thing}" if language == "en" else thing
    if wearer:
        if language == "en":
            return f"{wearer}'s {thing}" if known else f"{phrase} ({wearer})"
        return f"{phrase} {_of(wearer, language)}"
    where = f"room_of.{(room or '').strip().lower()}"
    if not room:
        return phrase
    if where not in VALUES.texts:
        return f"{phrase} ({room})"
    if language != "en":
        return f"{phrase} {VALUES.text(where, language)}"
    return (
        f"the {VALUES.text(where, language)} {thing}"
        if known
        else (f"{phrase} ({VALUES.text(where, language)})")
    )


def _of(name: str, language: str) -> str:
    """ "de Maria", and in Catalan "d'Anna", "d'Helena" (the apostrophe before a vowel)."""
    first = name[:1]
    vowel = first in _VOWELS or (first in "hH" and name[1:2] in _VOWELS)
    return f"d'{name}" if language == "ca" and vowel else f"de {name}"


# The relationships a form offers (ADR 0164): the catalogue's, then "other" with the words
# someone typed.
RELATIONSHIP_CODES: tuple[str, ...] = (
    *(key.split(".", 1)[1] for key in VALUES.texts if key.startswith("relationship.")),
    "other",
)


def relationship_code(text: str) -> tuple[str, str]:
    """(code, other words) for a relationship as it came: a code stays a code, a word of
    the catalogue in any language becomes its code ("Filla" -> "daughter"), anything else
    is "other" with the words kept ("padrina" -> ("other", "padrina")); nothing is ("", "")."""
    words = text.strip()
    if not words:
        return "", ""
    if words in RELATIONSHIP_CODES:
        return words, ""  # "other" without its words: the form asks for them
    key = _RELATIONSHIPS.get(words.casefold())
    return (key.split(".", 1)[1], "") if key else ("other", words[:60])


def relationship_name(text: str, lang: str, other: str = "") -> str:
    """A contact's relationship in ``lang``: a code (same gender: "daughter" -> "filla"), or a
    word typed in any language before relationships were coded; "other" is the words
    someone typed (``other``); words the catalogue does not know as typed."""
    if text == "other":
        return other
    key = f"relationship.{text}" if f"relationship.{text}" in VALUES.texts else None
    key = key or _RELATIONSHIPS.get(text.strip().casefold())
    return VALUES.text(key, as_language(lang)) if key else text
