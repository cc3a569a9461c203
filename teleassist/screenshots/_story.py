"""The demo story the screenshots tell (issue 23: one coherent cast across surfaces).

The resident is the console demo's first one (``hub.console.demo_data``): Montserrat Puig i
Ferrer, who lives alone at Carrer de Verdi 48 in Gràcia, Barcelona; her son Jordi holds a key
and is her first contact, then her niece Núria, then her neighbour Carme, who has the other
key. The service pages show her referral, assessment and installation with the same people,
address and access notes as the operator's card. The pictures are taken at one fixed instant, a
working Thursday morning, so every date and time on them is the same from one run to the next:
a picture changes only when its screen does (tests/teleassist/test_web_screenshots_fresh.py).
The tablet's pictures are taken the same morning, at 08:05 (``tablet_app.shots.SHOT_TIME``:
the tablet cannot import this module; tests/tablet_app/test_shot_story.py keeps the day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hub.console.demo_data import _PEOPLE as CONSOLE_CAST

# Thursday 3 December 2026, 10:30 in Barcelona.
STORY_NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
# The tablet's one-time setup code on the installer's work order (8 digits). No other code of
# the story uses these digits (the key safe is 4821).
TABLET_SETUP_CODE = "36902517"
# Her health card code (CIP: PU FE, her surnames) and social-services file number, on the
# referral the social worker typed.
CIP = "PUFE4103120017"
SOCIAL_FILE = "SS-BCN06/2026/0412"
# The code her tablet showed to link her neighbour Carme to the family circle.
FAMILY_LINK_CODE = "K7QH-4R2X"
# Her insulin, on her care plan (the service's pictures) and in the family's (a missed dose
# told to them): due at 08:00 and 20:00, confirmed on the tablet within 45 minutes. The
# tablet's pictures remind her of the 08:00 dose (tablet_app.shots.DOSE).
INSULIN_TIMES = ("08:00", "20:00")
INSULIN = {"name": "insulina", "times": list(INSULIN_TIMES)}
DOSE_GRACE_MIN = 45


@dataclass(frozen=True)
class AgendaEntry:
    """An item of her agenda in the story's week: when (Barcelona's time), its Catalan title,
    the tablet's kind of it (its icon), who put it there ("family": the family web demo,
    ``hub.family.demo``; "casal": the casal's group, on the tablet's demo only) and its state
    (her own appointment is "confirmed"; an invitation "pending" until she answers it)."""

    starts: str  # "2026-12-04 11:00", local
    title: str
    kind: str
    by: str
    status: str


# Her week, the same on every surface (issue 23): Jordi's "Dissabte venim a dinar amb la
# Júlia" is Saturday's lunch; Núria's walk is in the afternoon light. The tablet cannot import
# this module: tests/tablet_app/test_shot_story.py and tests/family/test_demo.py hold both
# demos to it.
AGENDA = (
    AgendaEntry("2026-12-03 17:00", "Taller de memòria al casal", "group", "casal", "pending"),
    AgendaEntry(
        "2026-12-04 11:00",
        "Metge de capçalera (CAP Vila de Gràcia)",
        "doctor",
        "family",
        "confirmed",
    ),
    AgendaEntry("2026-12-05 14:00", "Dinar amb en Jordi i la Júlia", "visit", "family", "accepted"),
    AgendaEntry("2026-12-08 13:30", "Dinar amb el grup", "group", "casal", "accepted"),
    AgendaEntry("2026-12-08 16:00", "Passeig pel parc del Guinardó", "visit", "family", "pending"),
)


def care_plan_rules() -> dict[str, object]:
    """Her care plan's alarm rules (ADR 0136), as the service pages and the operator's card
    show them (a fresh copy each time: the store takes the dict as its own): a late riser who
    feels the cold and sleeps through the night, "I'm OK" by 10:30 and by 19:00 (the tablet's
    deadlines, tablet_app.demo), her insulin and her Sintrom."""
    return {
        "morning_start": "09:00",
        "morning_end": "11:30",
        "check_in_deadlines": ["10:30", "19:00"],
        "temperature_low": 19.5,
        "bed": False,
        "medications": [
            {"name": "insulina", "times": list(INSULIN_TIMES)},
            {"name": "Sintrom", "times": ["19:00"], "days": ["mon", "wed", "fri"]},
        ],
        "medication_grace_min": DOSE_GRACE_MIN,
    }


def story_clock() -> datetime:
    """The hub's clock while screenshots are taken: the story's instant, always."""
    return STORY_NOW


@dataclass(frozen=True)
class Person:
    """Someone of the cast."""

    name: str
    phone: str
    relationship: str = ""
    key_holder: bool = False


_NAME, _BORN, _LANG, _ADDRESS, ACCESS_NOTES, _NOTES, _KEY_SAFE, _CONTACTS, ADDRESS_FORM = (
    CONSOLE_CAST[0]
)
RESIDENT = Person(_NAME, "932 18 40 07")
BIRTH_DATE = _BORN.isoformat()
# "C/ de Verdi 48, 3r 1a, 08012 Barcelona" -> street, postcode, town
STREET, _, _PLACE = _ADDRESS.rpartition(", ")
POSTCODE, TOWN = _PLACE.split(" ", 1)
AREA = "BCN-06"
CONTACTS = tuple(Person(name, phone, rel, keys) for name, phone, rel, keys in _CONTACTS)
SON, NIECE, NEIGHBOUR = CONTACTS
