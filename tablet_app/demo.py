"""A demo household for the screenshots and ``teleassist tablet --demo``.

The photo of the demo message is painted here with Pillow (no borrowed pictures).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from tablet_app.circle import CircleMember
from tablet_app.i18n import Lang
from tablet_app.model import AgendaItem, Contact, Message, TabletModel
from tablet_app.wording import LOCAL_TZ

# The web screenshots' story (teleassist/screenshots/_story.py, which the tablet cannot import:
# tests/tablet_app/test_shot_story.py keeps them the same people): her son Jordi, her niece
# Núria and her neighbour Carme, who has the other key; Pere is a friend from the casal.
CONTACTS = (
    Contact("jordi", "Jordi"),
    Contact("nuria", "Núria"),
    Contact("carme", "Carme"),
    Contact("pere", "Pere"),
)

_TITLES: dict[str, tuple[str, str, str]] = {
    "son": ("fill", "hijo", "son"),
    "niece": ("neboda", "sobrina", "niece"),
    "neighbour": ("veïna", "vecina", "neighbour"),
    "lunch": (
        "Dinar amb en Jordi i la Júlia",
        "Comida con Jordi y Júlia",
        "Lunch with Jordi and Júlia",
    ),
    "workshop": ("Taller de memòria al casal", "Taller de memoria en el casal", "Memory workshop"),
    "doctor": (
        "Metge de capçalera (CAP Vila de Gràcia)",
        "Médico de cabecera (CAP Vila de Gràcia)",
        "Doctor's appointment (CAP Vila de Gràcia)",
    ),
    "group_lunch": ("Dinar amb el grup", "Comida con el grupo", "Lunch with the group"),
    "walk": (
        "Passeig pel parc del Guinardó",
        "Paseo por el parque del Guinardó",
        "Walk in Guinardó Park",
    ),
    "photo": (
        "Mira, una foto de l'estiu a la platja!",
        "¡Mira, una foto del verano en la playa!",
        "Look, a photo of us at the beach this summer!",
    ),
    "family": ("La família", "La familia", "The family"),
    "thanks": (
        "Quina foto més bonica! Gràcies.",
        "¡Qué foto tan bonita! Gracias.",
        "What a lovely photo! Thank you.",
    ),
    "group": (
        "Dissabte venim a dinar amb la Júlia.",
        "El sábado venimos a comer con Júlia.",
        "On Saturday we're coming to lunch with Júlia.",
    ),
    "night": (
        "Bona nit, mama! Demà et truco.",
        "¡Buenas noches, mamá! Mañana te llamo.",
        "Good night, Mum! I'll call you tomorrow.",
    ),
    "welcome": (
        "De res, tieta! Dimarts anem al Guinardó.",
        "¡De nada, tía! El martes vamos al Guinardó.",
        "You're welcome! Tuesday we walk in Guinardó.",
    ),
    "text": (
        "Demà t'acompanyo al metge. Un petó!",
        "Mañana te acompaño al médico. ¡Un beso!",
        "I'll take you to the doctor tomorrow. Love!",
    ),
}
_INDEX = {"ca": 0, "es": 1, "en": 2}


def demo_photo(directory: Path) -> Path:
    """Paint a small beach picture (sky, sun, sea, sand) and return its path."""
    path = directory / "demo-beach.png"
    if path.exists():
        return path
    width, height = 960, 640
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height // 2):
        shade = int(150 + 90 * y / (height / 2))
        draw.line([(0, y), (width, y)], fill=(90, shade, 235))
    draw.ellipse([700, 60, 820, 180], fill=(255, 214, 60))
    draw.rectangle([0, height // 2, width, int(height * 0.7)], fill=(20, 110, 170))
    for x in range(0, width, 80):
        draw.arc(
            [x, int(height * 0.52), x + 80, int(height * 0.58)],
            200,
            340,
            fill=(230, 240, 255),
            width=4,
        )
    draw.rectangle([0, int(height * 0.7), width, height], fill=(236, 206, 150))
    draw.pieslice([120, 380, 360, 560], 180, 360, fill=(220, 60, 60))
    draw.line([(240, 470), (240, 600)], fill=(90, 60, 40), width=8)
    image.save(path)
    return path


def demo_video_picture(
    width: int, height: int, *, resident: bool = False, long_hair: bool = False
) -> Image.Image:
    """A painted video picture for screenshots: a family member (or the resident) at home;
    ``long_hair`` paints another member, with hair down to the shoulders (two relatives on a
    call are told apart)."""
    image = Image.new("RGB", (width, height), (226, 214, 190) if not resident else (200, 215, 230))
    draw = ImageDraw.Draw(image)
    w, h = width, height
    # a window with daylight behind, a picture on the wall
    draw.rectangle(
        [int(w * 0.06), int(h * 0.08), int(w * 0.32), int(h * 0.55)], fill=(170, 210, 240)
    )
    draw.line(
        [(int(w * 0.19), int(h * 0.08)), (int(w * 0.19), int(h * 0.55))],
        fill=(250, 250, 250),
        width=max(2, w // 80),
    )
    draw.rectangle(
        [int(w * 0.72), int(h * 0.14), int(w * 0.92), int(h * 0.38)], fill=(120, 150, 90)
    )
    skin, hair, shirt = ((224, 172, 105), (70, 45, 30), (60, 110, 160))
    if resident:
        skin, hair, shirt = ((241, 194, 125), (225, 225, 225), (140, 70, 100))
    # shoulders, neck, head, hair, eyes and smile
    draw.ellipse([int(w * 0.22), int(h * 0.70), int(w * 0.78), int(h * 1.35)], fill=shirt)
    if long_hair:  # behind the neck and face, over the shoulders
        draw.rounded_rectangle(
            [int(w * 0.32), int(h * 0.22), int(w * 0.68), int(h * 0.84)],
            radius=max(4, w // 16),
            fill=hair,
        )
    draw.rectangle([int(w * 0.45), int(h * 0.55), int(w * 0.55), int(h * 0.75)], fill=skin)
    draw.ellipse([int(w * 0.34), int(h * 0.12), int(w * 0.66), int(h * 0.58)], fill=hair)
    draw.ellipse([int(w * 0.37), int(h * 0.20), int(w * 0.63), int(h * 0.64)], fill=skin)
    draw.chord([int(w * 0.36), int(h * 0.13), int(w * 0.64), int(h * 0.36)], 180, 360, fill=hair)
    for ex in (0.45, 0.55):
        draw.ellipse(
            [int(w * (ex - 0.015)), int(h * 0.37), int(w * (ex + 0.015)), int(h * 0.41)],
            fill=(40, 30, 30),
        )
    draw.arc(
        [int(w * 0.44), int(h * 0.42), int(w * 0.56), int(h * 0.54)],
        20,
        160,
        fill=(150, 60, 60),
        width=max(2, w // 120),
    )
    return image


def _working_day(today: date, days: int) -> int:
    """Days from ``today`` to the first Monday-to-Friday day at least ``days`` ahead (a doctor's
    appointment is not on a Sunday)."""
    while (today + timedelta(days=days)).weekday() >= 5:
        days += 1
    return days


def demo_model(lang: Lang, now: datetime, media_dir: Path) -> TabletModel:
    """A model with a family, messages and an agenda around ``now``."""
    i = _INDEX[lang]
    local_now = now.astimezone(LOCAL_TZ)
    today = local_now.date()

    def at(days: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(hour, minute), LOCAL_TZ)

    # "I'm OK" by 10:30 and again by 19:00: the deadlines of the web screenshots' story's care
    # plan (a late riser, teleassist/screenshots/service.py), whose resident this tablet is.
    # After a morning "I'm OK" the next one is this evening's (the hub's rule, ADR 0183).
    model = TabletModel(language=lang, online=True, check_in_deadlines=[time(10, 30), time(19, 0)])
    model.contacts = [*CONTACTS, Contact("g:9", _TITLES["family"][i])]
    model.circle = [
        CircleMember("1", "jordi", "Jordi", _TITLES["son"][i], frozenset({"alarms", "agenda"})),
        CircleMember("2", "nuria", "Núria", _TITLES["niece"][i], frozenset({"alarms"})),
        CircleMember(
            "3", "carme", "Carme", _TITLES["neighbour"][i], frozenset({"alarms", "agenda"})
        ),
    ]
    photo = demo_photo(media_dir)
    model.messages = [
        Message(
            "m1", "jordi", "text", now - timedelta(hours=13), text=_TITLES["night"][i], read=True
        ),
        Message(
            "m2",
            "nuria",
            "photo",
            now - timedelta(minutes=40),
            text=_TITLES["photo"][i],
            media=str(photo),
            read=True,  # she has thanked her for it
        ),
        Message(
            "m5",
            "nuria",
            "text",
            now - timedelta(minutes=30),
            text=_TITLES["thanks"][i],
            read=True,
            outgoing=True,
        ),
        Message("m7", "nuria", "text", now - timedelta(minutes=25), text=_TITLES["welcome"][i]),
        Message(
            "m6",
            "g:9",
            "text",
            now - timedelta(hours=12),  # last night, not in the small hours
            text=_TITLES["group"][i],
            read=True,
            sender="Jordi",
        ),
        Message("m3", "carme", "voice", now - timedelta(minutes=15)),
        Message("m4", "jordi", "text", now - timedelta(minutes=10), text=_TITLES["text"][i]),
    ]
    # The web story's week (teleassist/screenshots/_story.AGENDA, the family web demo's items,
    # tests/tablet_app/test_shot_story.py): on a Thursday, the doctor on Friday at 11:00, lunch
    # with Jordi and Júlia on Saturday, the casal's lunch and Núria's walk on Tuesday.
    model.agenda = [
        AgendaItem("a1", _TITLES["workshop"][i], at(0, 17), "group", invitation=True),
        AgendaItem("a3", _TITLES["doctor"][i], at(_working_day(today, 1), 11), "doctor"),
        # Jordi's visit, which she accepted; Núria's walk, not answered yet (as the hub's
        # statuses reach the tablet, tablet_app.family)
        AgendaItem(
            "a2", _TITLES["lunch"][i], at(2, 14), "visit", invitation=True, response="accepted"
        ),
        AgendaItem(
            "a4",
            _TITLES["group_lunch"][i],
            at(5, 13, 30),
            "group",
            invitation=True,
            response="accepted",
        ),
        AgendaItem("a5", _TITLES["walk"][i], at(5, 16), "visit", invitation=True),
    ]
    return model
