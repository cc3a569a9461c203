"""Screens of the family web app on a phone (390×844): joining with a code, home, status, chat,
incoming call, call, agenda, the facilitator's groups, an alarm's progress, a missed dose and
the sender's videos (being prepared and not sent), per language.

Runs a real hub on a temporary SQLite database seeded through the API
(:mod:`hub.family.demo`) and drives Debian's Chromium with a fake camera: the call
screens show a real WebRTC call between two signed-in browsers, two Chromium processes
whose cameras show a painted picture of their person (``_fake_camera``).

The story's people (``_story``): Montserrat's son Jordi follows her on his phone, her niece
Núria calls him, her neighbour Carme joins the circle. Her insulin is due at 08:00 and 20:00
with 45 minutes to confirm it, and a missed dose is told to the family: last night
(Wednesday) she put the 20:00 reminder off and never confirmed it, so at 20:45 Jordi was
told; this morning she confirmed the 08:00 dose at 08:05 (``medication_missed``). The hub
runs on the story's clock and the browsers' clocks stand at the same instant, so the
pictures are the same each run (tests/teleassist/test_web_screenshots_fresh.py) except the
live call's video.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from teleassist.screenshots import _story as story
from teleassist.screenshots._waits import wait_for_async

AREA = "family"
PHONE = (390, 844)


@contextlib.asynccontextmanager
async def family_hub(directory: Path) -> AsyncIterator[tuple[str, Any, Any]]:
    """A hub with the family demo on a fresh SQLite database; yields (base URL, demo, app)."""
    from cryptography.fernet import Fernet

    from hub.app import create_app
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.family.demo import create_demo_people, seed_demo_family
    from hub.settings import HubSettings
    from hub.web.serve import serving

    url = f"sqlite+aiosqlite:///{directory / 'hub.sqlite'}"
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            demo = await create_demo_people(session)
            await session.commit()
    finally:
        await engine.dispose()
    settings = HubSettings(
        data_dir=str(directory / "hub-data"),
        database_url=url,
        migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
    )
    from config import load_config
    from hub.family.webpush import new_vapid_private_key

    # With a VAPID key, so the home shows the "Alert me on this phone" card.
    config = load_config().with_overrides("family", vapid_private_key=new_vapid_private_key())
    app = create_app(settings, config=config, clock=story.story_clock)
    async with serving(app) as base_url:
        await seed_demo_family(base_url, demo, now=story.STORY_NOW)
        from hub.appkeys import SESSIONMAKER
        from hub.family.demo import spread_demo_messages

        async with app[SESSIONMAKER]() as session:
            await spread_demo_messages(session, demo.conversation_id, story.STORY_NOW)
            await session.commit()
        yield base_url, demo, app


async def alarm_in_progress(app: Any, base: str, demo: Any) -> None:
    """A real panic of Montserrat's, accepted, spoken with and a key holder on the way.

    It is the story's one panic: the demo's notice of it (what the other screens show) gives
    way to the real alarm's, so the family does not see two presses at 10:30."""
    import aiohttp
    from sqlalchemy import select, update

    from alerts import DeviceType, HomeEvent
    from hub.alarms.keys import ALARM_ENGINE
    from hub.appkeys import CLOCK, SESSIONMAKER
    from hub.db.models import Device, Resident, StoredEvent
    from hub.family.demo import DEMO_PASSWORD
    from hub.family.models import AlarmNotice
    from protocol import Panic

    now = app[CLOCK]()
    async with app[SESSIONMAKER]() as session:
        resident = await session.get(Resident, demo.resident_id)
        home = str(resident.home_id)
        await session.execute(
            update(AlarmNotice)
            .where(AlarmNotice.resident_id == demo.resident_id, AlarmNotice.state != "closed")
            .values(state="closed")
        )
        # Stored as ingestion stores it: her press is also the latest sign of activity.
        device = await session.scalar(select(Device.id).where(Device.home_id == resident.home_id))
        session.add(
            StoredEvent(
                message_id="demo-progress", device_id=device, type="panic", ts=now,
                received_at=now, seq=2000, body={"type": "panic"},
            )
        )  # fmt: skip
        await session.commit()
    panic = HomeEvent(
        home_id=home, resident_id=str(demo.resident_id), device_id=device,
        device_type=DeviceType.PENDANT, message_id="demo-progress", at=now, body=Panic(),
    )  # fmt: skip
    (change,) = await app[ALARM_ENGINE].handle_event(panic)
    async with aiohttp.ClientSession() as http:
        login = {"username": "operadora", "password": DEMO_PASSWORD}
        async with http.post(f"{base}/api/auth/login", json=login) as resp:
            resp.raise_for_status()
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        for path, body in (
            ("accept", {}),
            ("contact-attempts", {"party": "resident", "result": "reached"}),
            ("escalations", {"target": "key_holder"}),
        ):
            url = f"{base}/api/alarms/{change.alarm.id}/{path}"
            async with http.post(url, json=body, headers=headers) as resp:
                resp.raise_for_status()


# Doses of the past two weeks she did not confirm, besides last night's: (days back, time).
UNCONFIRMED = {(6, time(8, 0)), (10, time(20, 0))}
# How long after its time a dose was confirmed, on the days she did.
CONFIRMED_AFTER = timedelta(minutes=5)


async def medication_missed(app: Any, demo: Any) -> None:
    """Montserrat's care plan lists insulin at 08:00 and 20:00 and tells the family of a missed
    dose (ADR 0152). Two weeks of doses, a couple not confirmed; last night (Wednesday) she put
    the 20:00 reminder off and never confirmed, and at 20:45 the family was told; this morning
    she confirmed the 08:00 dose at 08:05 (the tablet's pictures show it)."""
    from sqlalchemy import select, update

    from alerts import Explanation, MissedDose
    from hub.alarms.missed_doses import MISSED_DOSE_SINK
    from hub.appkeys import CLOCK, SESSIONMAKER
    from hub.db.models import Device, Resident, StoredEvent
    from hub.family.missed_dose_refs import dose_ref
    from hub.family.models import AlarmNotice
    from hub.service import store
    from hub.service.models import CarePlanRow, ServiceRow
    from hub.service.referral import parse_referral
    from hub.web.dates import ZONE

    now = app[CLOCK]()
    today = now.astimezone(ZONE).date()
    async with app[SESSIONMAKER]() as session, session.begin():
        resident = await session.get(Resident, demo.resident_id)
        form = {
            "applicant_kind": "relative", "applicant_name": story.SON.name,
            "applicant_phone": story.SON.phone, "person_name": resident.name,
            "birth_date": story.BIRTH_DATE, "street": story.STREET, "postcode": story.POSTCODE,
            "municipality": story.TOWN, "lives_alone": True,
            "contacts": [{"name": story.SON.name, "phone": story.SON.phone, "key_holder": True}],
            "consent_data": True,
        }  # fmt: skip
        row, _ = await store.submit_referral(
            session, parse_referral(form, today), actor="public", now=now
        )
        decision = store.Assessment("medium", "BCN-03", link_resident_id=resident.id)
        await store.assess(session, row, decision, actor="laia", now=now)
        rules = {
            "medications": [story.INSULIN],
            "medication_grace_min": story.DOSE_GRACE_MIN,
            "medication_missed_to": "family",
        }
        await store.edit_plan(session, row, {"rules": rules}, actor="laia", now=now)
        # The plan has listed the insulin for two weeks, from the first morning's dose.
        listed = datetime.combine(today - timedelta(days=14), time(7, 0), ZONE)
        await session.execute(
            update(CarePlanRow).where(CarePlanRow.service_id == row.id).values(created_at=listed)
        )
        device = await session.scalar(select(Device.id).where(Device.home_id == resident.home_id))
        # Confirmed on the tablet, named as the hub names a dose ("insulina 20:00"): this
        # morning's, and two weeks of both doses but the unconfirmed ones and last night's.
        doses = [(0, time(8, 0))] + [
            (back, time.fromisoformat(at))
            for back in range(1, 15)
            for at in story.INSULIN_TIMES
            if (back, time.fromisoformat(at)) not in {*UNCONFIRMED, (1, time(20, 0))}
        ]
        for seq, (back, at) in enumerate(doses, start=1000):
            due = datetime.combine(today - timedelta(days=back), at, ZONE)
            taken = due + CONFIRMED_AFTER
            session.add(
                StoredEvent(
                    message_id=f"demo-taken-{back}-{at:%H%M}", device_id=device,
                    type="medication_taken", ts=taken, received_at=taken, seq=seq,
                    body={"type": "medication_taken", "schedule": f"insulina {at:%H:%M}"},
                )
            )  # fmt: skip
        assert (await session.get(ServiceRow, row.id)) is not None
    # Last night's dose, missed when its 45 minutes were over, as the engine tells it.
    due = datetime.combine(today - timedelta(days=1), time(20, 0), ZONE)
    told = due + timedelta(minutes=story.DOSE_GRACE_MIN)
    explanation = Explanation.of(
        "medication", schedule="insulina 20:00", due="20:00", minutes=story.DOSE_GRACE_MIN
    )
    dose = MissedDose(
        str(resident.home_id), str(resident.id), "insulina 20:00", due, told, explanation
    )
    await app[MISSED_DOSE_SINK].tell(dose)
    # The hub's clock stands at the story's instant: the notice is dated when it was told.
    async with app[SESSIONMAKER]() as session, session.begin():
        await session.execute(
            update(AlarmNotice)
            .where(AlarmNotice.alarm_ref == dose_ref(dose))
            .values(created_at=told)
        )


def _landscape_clip(folder: Path) -> bytes:
    """Two seconds of the demo's landscape, as a phone would send it (H.264 in MP4)."""
    import subprocess

    from hub.family.demo import demo_photo

    still, clip = folder / "still.jpg", folder / "clip.mp4"
    still.write_bytes(demo_photo(640, 480))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-loop", "1", "-i", str(still), "-t", "2",
         "-r", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bitexact", str(clip)],
        check=True, timeout=120,
    )  # fmt: skip
    return clip.read_bytes()


async def videos_on_their_way(app: Any, base: str, demo: Any, folder: Path) -> None:
    """Jordi's videos in his mother's chat, as he sees them (ADR 0162): one prepared by the
    hub's job (a message), one still being prepared, one the hub could not prepare."""
    from datetime import timedelta

    import aiohttp
    from sqlalchemy import select

    from hub.appkeys import CLOCK, SESSIONMAKER
    from hub.family.demo import DEMO_PASSWORD
    from hub.family.models import Message, VideoUpload

    async with aiohttp.ClientSession() as http:
        login = {"username": "jordi", "password": DEMO_PASSWORD}
        async with http.post(f"{base}/api/auth/login", json=login) as resp:
            resp.raise_for_status()
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        url = f"{base}/api/family/conversations/{demo.conversation_id}/videos"
        caption = {"text": "El Montseny des de la finestra"}
        data = _landscape_clip(folder)
        async with http.post(url, params=caption, data=data, headers=headers) as resp:
            resp.raise_for_status()
    sender = f"u:{demo.users['jordi']}"
    # Prepared by the hub's own job: wait for the message it becomes.
    while True:
        async with app[SESSIONMAKER]() as session:
            found = await session.scalar(
                select(Message.id).where(
                    Message.conversation_id == demo.conversation_id, Message.kind == "video"
                )
            )
            failed = await session.scalar(select(VideoUpload.failure))
        if found is not None:
            break
        if failed:
            raise RuntimeError(f"the story's video could not be prepared: {failed}")
        await asyncio.sleep(0.2)  # polling the database: the job tells no one outside
    now = app[CLOCK]()
    common = {
        "conversation_id": demo.conversation_id, "sender": sender, "container": "mp4",
        "size": len(data), "duration_s": 2.0, "created_at": now, "updated_at": now,
    }  # fmt: skip
    async with app[SESSIONMAKER]() as session:
        # Still on its way: claimed by a worker whose lease outlasts the pictures.
        session.add(
            VideoUpload(
                **common, text="Un petó per a la iaia", source_key="story-processing.mp4",
                status="processing", worker="story", lease_until=now + timedelta(days=1),
                attempts=1,
            )
        )  # fmt: skip
        # Too long for the hub to prepare: its sender is told why, with Remove.
        session.add(
            VideoUpload(
                **common, text="", source_key="story-failed.mp4", status="failed",
                failure="media_too_long", attempts=1,
            )
        )  # fmt: skip
        await session.commit()


def _fake_camera(folder: Path, name: str, *, long_hair: bool = False) -> Path:
    """A Y4M file (YUV4MPEG2, 4:2:0) of a relative at home, painted like the tablet's call
    pictures (``tablet_app.demo.demo_video_picture``), for Chromium's
    ``--use-file-for-fake-video-capture``: a still picture in a few frames, which Chromium
    loops, so a call shows the person and not its moving test pattern."""
    import numpy as np

    from tablet_app.demo import demo_video_picture

    width, height = 640, 480
    rgb = np.asarray(demo_video_picture(width, height, long_hair=long_hair), dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # BT.601 in studio range, as Chromium reads the file's I420 frames.
    luma = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    blue = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    red = 128 + 0.439 * r - 0.368 * g - 0.071 * b

    def plane(values: Any, halved: bool) -> bytes:
        if halved:  # 4:2:0: one chroma sample per 2×2 pixels
            values = values.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        return bytes(np.clip(np.rint(values), 0, 255).astype(np.uint8).tobytes())

    frame = b"FRAME\n" + plane(luma, False) + plane(blue, True) + plane(red, True)
    path = folder / f"camera-{name}.y4m"
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420\n".encode("ascii")
    path.write_bytes(header + frame * 5)
    return path


async def _signed_in(browser: Any, base: str, username: str) -> Any:
    from hub.family.demo import DEMO_PASSWORD

    width, height = PHONE
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        timezone_id="Europe/Madrid",
    )
    await context.clock.set_fixed_time(story.STORY_NOW)  # the story's instant, as the hub's
    page = await context.new_page()
    await page.goto(f"{base}/login?next=/family")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
    return page


async def shoot_signup(browser: Any, base: str, lang: str, path: Path) -> None:
    """The join form (public) as a relative fills it in on their phone."""
    width, height = PHONE
    context = await browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1,
        timezone_id="Europe/Madrid",
    )  # fmt: skip
    try:
        await context.clock.set_fixed_time(story.STORY_NOW)
        page = await context.new_page()
        await page.goto(f"{base}/family/join?lang={lang}")
        # Her neighbour Carme joins the circle with the code Montserrat's tablet showed.
        await page.fill("#join-code", story.FAMILY_LINK_CODE)
        await page.fill("#join-name", story.NEIGHBOUR.name)
        await page.fill(
            "#join-relationship", {"ca": "veïna", "es": "vecina", "en": "neighbour"}[lang]
        )
        await page.fill("#join-contact", story.NEIGHBOUR.phone)
        await page.fill("#join-password", "un passeig llarg pel mar")
        await page.screenshot(path=str(path), full_page=True)
    finally:
        await context.close()


async def _settle(page: Any) -> None:
    await page.wait_for_selector('#conn[data-state="open"]', timeout=60_000)
    await page.wait_for_load_state("networkidle")


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """``family-<screen>-<lang>-390x844.png`` for every screen and language."""
    from playwright.async_api import async_playwright

    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH, MEDIA_ARGS

    written: list[Path] = []
    size = f"{PHONE[0]}x{PHONE[1]}"
    with tempfile.TemporaryDirectory(prefix="ta-family-shots-") as tmp:
        async with family_hub(Path(tmp)) as (base, demo, app), async_playwright() as playwright:

            async def launch(camera: Path) -> Any:
                # One Chromium per camera: the fake camera's file is a flag of the process.
                flags = [*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-video-capture={camera}"]
                return await playwright.chromium.launch(
                    executable_path=CHROMIUM_PATH, headless=True, args=flags
                )

            browser = await launch(_fake_camera(Path(tmp), "jordi"))
            nuria_browser = await launch(_fake_camera(Path(tmp), "nuria", long_hair=True))
            try:
                # Her son follows her on his phone; her niece calls him.
                jordi = await _signed_in(browser, base, "jordi")
                nuria = await _signed_in(nuria_browser, base, "nuria")
                laia = await _signed_in(browser, base, "laia")

                async def shot(page: Any, screen: str, lang: str) -> None:
                    path = out_dir / f"family-{screen}-{lang}-{size}.png"
                    # A CSS animation (the "preparing the video" ring) stands at its start:
                    # drawn mid-turn it changed the picture from one run to the next.
                    await page.screenshot(path=str(path), animations="disabled")
                    written.append(path)

                for lang in languages:
                    signup = out_dir / f"family-signup-{lang}-{size}.png"
                    await shoot_signup(browser, base, lang, signup)
                    written.append(signup)
                    await jordi.goto(f"{base}/family?lang={lang}")
                    await _settle(jordi)
                    await jordi.wait_for_selector(".alarm")
                    await jordi.wait_for_selector(".today-list [data-today]")
                    await shot(jordi, "home", lang)
                    # "How is she today?": the card at the top of the screen. Scrolled in
                    # the page, not through a handle: a live update may redraw the card.
                    await jordi.evaluate(
                        "document.querySelector('.today').scrollIntoView({block: 'start'})"
                    )
                    await shot(jordi, "status", lang)
                    await jordi.evaluate("window.scrollTo(0, 0)")
                    await jordi.goto(f"{base}/family/chat/{demo.conversation_id}?lang={lang}")
                    await _settle(jordi)
                    await jordi.wait_for_function(
                        "() => [...document.querySelectorAll('.msg img')]"
                        ".every(i => i.complete && i.naturalWidth > 0) && "
                        "document.querySelectorAll('.msg').length >= 4"
                    )
                    await shot(jordi, "chat", lang)
                    await jordi.goto(f"{base}/family/agenda?lang={lang}")
                    await _settle(jordi)
                    await jordi.wait_for_selector(".agenda-list .when")
                    await shot(jordi, "agenda", lang)
                    await laia.goto(f"{base}/family/groups?lang={lang}")
                    await laia.wait_for_load_state("networkidle")
                    await shot(laia, "groups", lang)
                    # A real call: Núria calls Jordi; he sees it ring, answers, frames flow.
                    await jordi.goto(f"{base}/family?lang={lang}")
                    await _settle(jordi)
                    await nuria.goto(f"{base}/family/call/u:{demo.users['jordi']}?lang={lang}")
                    await _settle(nuria)
                    await jordi.wait_for_selector("#call-answer:visible", timeout=60_000)
                    await shot(jordi, "call-incoming", lang)
                    await jordi.click("#call-answer")
                    await wait_for_async(
                        jordi, "async () => (await window.taFamily.call.framesDecoded()) > 10"
                    )
                    await asyncio.sleep(1.0)
                    await shot(jordi, "call", lang)
                    await jordi.click("#call-hangup")
                    await nuria.wait_for_selector('#call[data-state="over"]', timeout=60_000)
                # Last, so the other screens keep the demo's notice: the alarm's steps.
                await alarm_in_progress(app, base, demo)
                for lang in languages:
                    await jordi.goto(f"{base}/family?lang={lang}")
                    await _settle(jordi)
                    await jordi.wait_for_selector(".alarm .step-help")
                    await shot(jordi, "alarm", lang)
                # After that: a missed dose told to the family and the weeks' doses.
                await medication_missed(app, demo)
                for lang in languages:
                    await jordi.goto(f"{base}/family?lang={lang}")
                    await _settle(jordi)
                    await jordi.wait_for_selector(".alarm.dose")
                    await jordi.wait_for_selector("[data-today^='medication']")
                    await shot(jordi, "medication", lang)
                # Last again: his videos, prepared, on their way and not sent (ADR 0162).
                await videos_on_their_way(app, base, demo, Path(tmp))
                for lang in languages:
                    await jordi.goto(f"{base}/family/chat/{demo.conversation_id}?lang={lang}")
                    await _settle(jordi)
                    await jordi.wait_for_selector(".msg.upload.failed")
                    await jordi.wait_for_selector(".msg video[poster]")
                    await jordi.wait_for_load_state("networkidle")  # the poster drawn
                    # The end of the chat: the prepared one's caption, one on its way and
                    # one not sent, with why. (The prepared video's player is not shot:
                    # Chromium draws a moving loading ring over its poster.)
                    await jordi.evaluate(
                        "() => { const list = document.getElementById('messages');"
                        " list.scrollTop = list.scrollHeight; }"
                    )
                    await shot(jordi, "video", lang)
            finally:
                await nuria_browser.close()
                await browser.close()
    return written
