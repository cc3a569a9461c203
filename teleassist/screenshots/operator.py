"""Screenshots of the operator console: queue, resident card, supervisor view.

Starts a private hub (SQLite in a temporary folder) with the demo residents, raises a few
alarms through the alarm engine, signs in as an operator (and a supervisor) in headless
Chromium, and writes ``operator-<screen>-<lang>-<W>x<H>.png``.

The story (``_story``): the hub runs on the story's clock and the browsers' clocks stand at
the same instant, so a picture changes only when its screen does
(tests/teleassist/test_web_screenshots_fresh.py); the call screens (a live call's timer and
sound) run on the real clock and are not compared.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
from pathlib import Path
from typing import Any

from teleassist.screenshots import _story as story

_LOGGER = logging.getLogger(__name__)
AREA = "operator"
SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1366, 768))
REVEALS = 3 * len(SIZES)  # key-safe reveals: one per language and size


async def _seeded_hub(
    data_dir: Path, mqtt: Any = None, **settings_overrides: Any
) -> tuple[Any, dict[str, Any]]:
    """The demo hub of the operator shots; ``mqtt`` (a ``MqttSettings``) and the settings
    overrides let a test run it on a broker (its ingestion and command channel)."""
    from cryptography.fernet import Fernet

    from hub.app import create_app
    from hub.settings import HubSettings

    settings = HubSettings(
        data_dir=str(data_dir),
        jwt_secret=secrets.token_urlsafe(32),
        keysafe_key=Fernet.generate_key().decode("ascii"),
        # The card is shot once per language and size, each time revealing the same alarm's
        # code: a private demo hub, so its limit allows every shot (the default stops at 3;
        # the hourly limit, 10, already does).
        keysafe_reveals_per_alarm=REVEALS,
        **settings_overrides,
    )
    return create_app(settings, mqtt=mqtt, clock=story.story_clock), {}


async def _history(app: Any, ids: Any, url: str) -> None:
    """A few alarms handled earlier today, so the supervisor's figures have something."""
    from datetime import timedelta

    import aiohttp

    import protocol
    from hub.appkeys import CLOCK
    from hub.console.demo_data import DEMO_PASSWORD, raise_demo_alarm

    plan = [  # resident index, operator, seconds waiting, outcome
        (1, "marc", 35, "false_alarm"),
        (1, "anna", 20, "resident_fine"),
        (2, "marc", 75, "help_sent"),
        (1, "anna", 12, "false_alarm"),
    ]
    async with aiohttp.ClientSession(url) as http:
        headers = {}
        for name in ("anna", "marc"):
            login = await http.post(
                "/api/auth/login", json={"username": name, "password": DEMO_PASSWORD}
            )
            headers[name] = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        for index, operator, waited, outcome in plan:
            rid = ids.residents[index]
            now = app[CLOCK]()
            raised = await raise_demo_alarm(
                app,
                rid,
                ids.devices[rid][0],
                protocol.Panic(source="pendant"),
                at=now - timedelta(seconds=waited),
            )
            for alarm_id in raised:
                await http.post(f"/api/alarms/{alarm_id}/accept", headers=headers[operator])
                await http.post(
                    f"/api/alarms/{alarm_id}/resolve",
                    json={"outcome": outcome},
                    headers=headers[operator],
                )


async def _seed(app: Any, url: str) -> dict[str, Any]:
    from datetime import timedelta

    import protocol
    from hub.appkeys import CLOCK, KEYSAFE, SESSIONMAKER
    from hub.console.demo_data import raise_demo_alarm, seed_demo

    now = app[CLOCK]()
    async with app[SESSIONMAKER]() as session:
        ids = await seed_demo(session, app[KEYSAFE], now)
        await session.commit()
    r = ids.residents
    dev = ids.devices
    await _services(app, r[:3], now)
    await _history(app, ids, url)
    alarms = []
    alarms += await raise_demo_alarm(
        app,
        r[2],
        dev[r[2]][2],
        protocol.Fall(room="bathroom", confidence=0.92),
        at=now - timedelta(seconds=40),
    )
    alarms += await raise_demo_alarm(
        app, r[0], dev[r[0]][0], protocol.Panic(source="pendant"), at=now - timedelta(seconds=95)
    )
    alarms += await raise_demo_alarm(
        app, r[1], dev[r[1]][3], protocol.LowBattery(percent=12), at=now - timedelta(minutes=50)
    )
    # Technical alarms name the device by what and where (ADR 0164): her pendant's battery,
    # and a fault of Margaret's living-room motion sensor (a home's second technical alarm
    # would join its open one).
    alarms += await raise_demo_alarm(
        app, r[0], dev[r[0]][0], protocol.LowBattery(percent=14), at=now - timedelta(hours=2)
    )
    alarms += await raise_demo_alarm(
        app, r[2], dev[r[2]][2], protocol.DeviceFault(fault="trouble"),
        at=now - timedelta(minutes=25),
    )  # fmt: skip
    return {"ids": ids, "alarms": alarms}


async def _services(app: Any, residents: list[int], now: Any) -> None:
    """A service with a care plan for each of ``residents`` (the card shows its alarm
    rules); the first one is a late riser who sleeps through the night (ADR 0136)."""
    from hub.appkeys import SESSIONMAKER
    from hub.db.health import ResidentHealth
    from hub.db.models import Resident
    from hub.service import store
    from hub.service.referral import parse_referral

    async with app[SESSIONMAKER]() as session, session.begin():
        for index, resident_id in enumerate(residents):
            person = await session.get(Resident, resident_id)
            form = {
                "applicant_kind": "relative",
                "applicant_name": story.SON.name,
                "applicant_phone": story.SON.phone,
                "person_name": person.name if person else "—",
                "address_form": person.address_form if person else "unknown",
                "birth_date": str(person.birth_date) if person else story.BIRTH_DATE,
                "street": story.STREET,
                "postcode": story.POSTCODE,
                "municipality": story.TOWN,
                "lives_alone": True,
                "contacts": [
                    {"name": story.SON.name, "phone": story.SON.phone, "key_holder": True}
                ],
                "consent_data": True,
            }
            row, _ = await store.submit_referral(
                session, parse_referral(form, now.date()), actor="public", now=now
            )
            decision = store.Assessment("medium", "BCN-03", link_resident_id=resident_id)
            await store.assess(session, row, decision, actor="laia", now=now)
            if index == 0:
                # Her structured health record (the card and 112 show it; issue 22, item 7).
                session.add(
                    ResidentHealth(
                        resident_id=resident_id,
                        allergies=["penicil·lina"],
                        conditions=["diabetis tipus 2", "marcapassos (2019)"],
                        medication=["insulina 10 UI al matí i al vespre"],
                        mobility_aids=["caminador"],
                        hearing="hipoacúsia lleu: parlar a poc a poc",
                        sight="",
                        gp="Dra. Soler",
                        health_centre="CAP Vila de Gràcia",
                        dnr=False,
                        advance_directive="",
                        notes="",
                        updated_by="laia",
                    )
                )
                rules = story.care_plan_rules()  # the service pages' plan: one plan
                await store.edit_plan(session, row, {"rules": rules}, actor="laia", now=now)


async def _rules(browser: Any, url: str, out_dir: Path, lang: str) -> Path:
    """``operator-rules``: the supervisor changing a resident's alarm rules on the card, a
    morning window typed the wrong way round refused in words."""
    page = await _sign_in(browser, url, "laia", lang, {"width": 1366, "height": 768})
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector("#card-rules summary")
    await page.click("#card-rules summary")
    await page.fill("#rule-morning_end", "06:00")
    await page.click("#rules-form button[type=submit]")
    await page.wait_for_selector("#rules-errors:not([hidden])")
    await page.evaluate("document.getElementById('card-rules').scrollIntoView({block: 'center'})")
    await page.wait_for_timeout(200)
    path = out_dir / f"operator-rules-{lang}-1366x768.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def _show_alarm(page: Any, alarm: str) -> None:
    """Select ``alarm`` in the queue and wait for its own detail (protocol drawn)."""
    await page.click(f".qitem[data-id='{alarm}']")
    await page.wait_for_selector(f"article[data-alarm='{alarm}'] #protocol [data-step]")


async def _tick_step(page: Any, out_dir: Path, lang: str, alarm: str, step: str) -> None:
    """Tick ``step`` of ``alarm``'s protocol, or leave it if an earlier language did.

    Always inside the alarm's own article: CI once found the steps disabled while the
    header said "Yours, Accepted", which only another alarm's detail explains (one
    without this step); so if the detail is not this alarm's, select it again."""
    article = f"article[data-alarm='{alarm}']"
    done = f"{article} #protocol li.done [data-step='{step}']"
    ready = f"{done}, {article} #protocol [data-step='{step}']:not([disabled])"
    for _ in range(3):
        if not await page.locator(article).count():
            _LOGGER.warning("operator screenshots: the detail left %s; selecting it again", alarm)
            await _show_alarm(page, alarm)
        try:
            await page.wait_for_selector(ready, timeout=20_000)
        except Exception as exc:  # Playwright's timeout: look again, then explain
            _LOGGER.warning("operator screenshots: %s not ready on %s: %s", step, alarm, exc)
            continue
        if not await page.locator(done).count():
            await page.check(f"{article} #protocol [data-step='{step}']")
            await page.wait_for_selector(done)
        return
    shown = await page.evaluate(
        "() => { const a = document.querySelector('article[data-alarm]');"
        " if (!a) return 'no alarm detail';"
        " const steps = [...a.querySelectorAll('#protocol [data-step]')]"
        ".map((b) => b.dataset.step + (b.disabled ? ':disabled' : '')"
        " + (b.checked ? ':checked' : ''));"
        " return `${a.dataset.alarm} ${a.dataset.state}"
        " ${document.getElementById('detail-claim')?.textContent} [${steps.join(' ')}]`; }"
    )
    await page.screenshot(path=str(out_dir / f"operator-FAILED-protocol-{lang}.png"))
    raise RuntimeError(f"cannot tick {step!r} on alarm {alarm}; the detail shows {shown}")


async def _protocol(browser: Any, url: str, out_dir: Path, lang: str, fall: str) -> Path:
    """``operator-protocol``: the fall's protocol on the alarm, two steps ticked."""
    page = await _sign_in(browser, url, "anna", lang, {"width": 1366, "height": 768})
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    # The fall: nobody holds it before the first language takes it.
    await page.wait_for_selector(".conn[data-state='open']")
    await page.wait_for_selector("#protocol")  # the first alarm's detail is drawn
    article = f"article[data-alarm='{fall}']"
    # Picked by its id: the queue's order after the card shots' accept is not the story's.
    await _show_alarm(page, fall)
    if await page.locator(f"{article} #act-accept").count():
        await page.keyboard.press("a")
        await page.wait_for_selector(f"{article} #detail-claim.mine")
    for step in ("identify", "conscious"):
        await _tick_step(page, out_dir, lang, fall, step)
    await page.wait_for_selector(f"{article} #protocol li.done [data-step='conscious']")
    # Ticking redraws the card with the notes' history: scroll only once it has stopped growing.
    await _steady(page, "#protocol")
    await page.evaluate("document.getElementById('protocol').scrollIntoView({block: 'center'})")
    await _steady(page, "#protocol")
    path = out_dir / f"operator-protocol-{lang}-1366x768.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def deliveries_setup(app: Any, residents: list[int]) -> dict[int, list[str]]:
    """What the centre sent to each of ``residents``' tablets and what became of it (ADR
    0163), the story's medication day (issue 23): last night's 20:00 insulin reminder put off
    ("remind me later", rang again at 20:10) and never confirmed, so it expired at 20:45 when
    the family was told of the missed dose; a cold-weather warning that expired unanswered;
    this morning's 08:00 reminder confirmed at 08:05 (the tablet's pictures); a message
    acknowledged and the reminder of tomorrow's doctor shown. Returns the command ids per
    resident, in that order."""
    from datetime import timedelta

    from hub.appkeys import CLOCK, SESSIONMAKER
    from hub.ingest import delivery
    from hub.ingest.events import IngestedAck
    from protocol import Ack, CommandState

    now = app[CLOCK]()
    minute = timedelta(minutes=1)
    # The care plan's doses (08:00 and 20:00) and its 45 minutes' grace (service.py's plan).
    grace = story.DOSE_GRACE_MIN * minute
    today_8 = now - (2 * 60 + 30) * minute  # 08:00 in Barcelona, the story at 10:30
    last_20 = today_8 - 12 * 60 * minute
    Acks = list[tuple[timedelta, CommandState, timedelta | None]]  # after sent; until after
    plan: list[tuple[str, str, str | None, timedelta, timedelta, Acks]] = [
        ("medication", "insulina 20:00", None, now - last_20, grace,
         [(0 * minute, "shown", None), (0 * minute, "postponed", 10 * minute),
          (10 * minute, "shown", None)]),
        ("message", "Avís de fred: abrigueu-vos bé", "marc", 14 * 60 * minute,
         12 * 60 * minute, []),
        ("medication", "insulina 08:00", None, now - today_8, grace,
         [(0 * minute, "shown", None), (5 * minute, "acknowledged", None)]),
        ("message", "La infermera vindrà a les 11", "anna", 50 * minute, 12 * 60 * minute,
         [(minute, "acknowledged", None)]),
        # her agenda's doctor (_story.AGENDA), tomorrow at 11:00, reminded the day before
        ("reminder", "Metge de capçalera (CAP Vila de Gràcia)", None, 30 * minute,
         25 * 60 * minute, [(minute, "shown", None)]),
    ]  # fmt: skip
    ids: dict[int, list[str]] = {}
    tracker = delivery.DeliveryTracker(lambda: app[SESSIONMAKER])
    for rid in residents:
        for n, (kind, text, by, ago, lasts, acks) in enumerate(plan):
            command_id = f"demo-{rid}-{n}"
            sent = now - ago
            async with app[SESSIONMAKER]() as session:
                await delivery.record(
                    session,
                    delivery.Outgoing(
                        command_id, f"demo-tablet-{rid}", rid, kind,  # type: ignore[arg-type]
                        text, sent, sent + lasts, by,
                    ),
                )  # fmt: skip
                await session.commit()
            ids.setdefault(rid, []).append(command_id)
            for k, (after, state, until) in enumerate(acks):
                # acks of one instant in the order given (a tie goes to the further state)
                at = sent + after + k * timedelta(seconds=1)
                again = at + until if until is not None else None
                body = Ack(command_id=command_id, ok=True, state=state, until=again)
                ack = IngestedAck(f"demo-tablet-{rid}", f"a{command_id}-{k}", at, at, body)
                await tracker.handle_ack(ack)
    return ids


async def _deliveries(browser: Any, url: str, out_dir: Path, lang: str) -> Path:
    """``operator-messages``: on the resident card, what the centre sent to the tablet and
    what became of it, last night's insulin reminder put off and never confirmed."""
    # Its bottom at the window's: the alarm's fixed header stays clear of the heading.
    return await _card_section(
        browser, url, out_dir, lang, "messages", "#card-messages [data-put-off]", block="end"
    )


async def _health(browser: Any, url: str, out_dir: Path, lang: str) -> Path:
    """``operator-health``: the structured health record on the resident card."""
    return await _card_section(browser, url, out_dir, lang, "health", "#card-health .allergies")


async def _card_section(
    browser: Any, url: str, out_dir: Path, lang: str, section: str, ready: str,
    *, block: str = "center",
) -> Path:  # fmt: skip
    """``operator-<section>``: the supervisor's resident card scrolled to ``#card-<section>``
    once ``ready`` is drawn."""
    page = await _sign_in(browser, url, "laia", lang, {"width": 1366, "height": 768})
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector(ready)
    await page.evaluate(
        f"document.getElementById('card-{section}').scrollIntoView({{block: '{block}'}})"
    )
    await page.wait_for_timeout(200)
    path = out_dir / f"operator-{section}-{lang}-1366x768.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def _technical(browser: Any, url: str, out_dir: Path, lang: str) -> Path:
    """``operator-technical``: the technical alarms, each device named by what and where."""
    page = await _sign_in(browser, url, "anna", lang, {"width": 1366, "height": 768})
    await page.goto(f"{url}/console/technical")
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector("#technical tbody tr[data-id]")
    await page.wait_for_timeout(300)
    path = out_dir / f"operator-technical-{lang}-1366x768.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def _campaign_setup(url: str) -> None:
    """A heat-wave campaign by the coordinator for everyone over 80 living alone, shared out
    between Anna and Marc; Anna has reached one resident (for ``operator-campaign``)."""
    import aiohttp

    from hub.console.demo_data import DEMO_PASSWORD

    async with aiohttp.ClientSession(url) as http:
        headers = {}
        for name in ("eva", "anna"):
            login = await http.post(
                "/api/auth/login", json={"username": name, "password": DEMO_PASSWORD}
            )
            headers[name] = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        made = await http.post(
            "/api/console/campaigns",
            json={
                "name": "Onada de calor — juliol",
                "script": "Beu prou aigua? Té el pis fresc? Necessita res de la farmàcia?",
                "filters": {"min_age": 80, "lives_alone": True},
                "priority": "high",
                "operators": ["anna", "marc"],
            },
            headers=headers["eva"],
        )
        made.raise_for_status()
        calls = await (await http.get("/api/console/calls", headers=headers["anna"])).json()
        first = next(c for c in calls["calls"] if c["assigned_to"] == "anna")
        await http.post(
            f"/api/console/calls/{first['id']}/outcome",
            json={"outcome": "reached_fine"},
            headers=headers["anna"],
        )


async def _campaign(browser: Any, url: str, out_dir: Path, lang: str) -> list[Path]:
    """``operator-campaign``: the coordinator's campaign page (its completion per operator)
    and ``operator-campaign-agenda``: the campaign's calls in the operator's agenda."""
    written = []
    for user, path, shot, ready in (
        ("eva", "/console/campaigns", "campaign", "#campaign-operators tbody tr"),
        ("anna", "/console/calls", "campaign-agenda", "tr[data-campaign]"),
    ):
        page = await _sign_in(browser, url, user, lang, {"width": 1366, "height": 768})
        await page.goto(f"{url}{path}")
        async with page.expect_navigation():
            await page.click(f"[data-ta-lang='{lang}']")
        await page.wait_for_selector(ready)
        await page.wait_for_timeout(300)
        target = out_dir / f"operator-{shot}-{lang}-1366x768.png"
        await page.screenshot(path=str(target))
        written.append(target)
        await page.context.close()
    return written


async def _protocol_editor(browser: Any, url: str, out_dir: Path, lang: str) -> Path:
    """``operator-protocol-editor``: the coordinator editing the fall's protocol, a step
    added (not saved: every language starts from the same protocol)."""
    page = await _sign_in(browser, url, "eva", lang, {"width": 1366, "height": 768})
    await page.goto(f"{url}/console/protocols")
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector("#protocol-kinds [data-kind='fall']")
    await page.click("#protocol-kinds [data-kind='fall']")
    await page.wait_for_selector("#protocol-rows tr[data-row]")
    await page.click("#protocol-add")
    await page.wait_for_timeout(200)
    path = out_dir / f"operator-protocol-editor-{lang}-1366x768.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


STEP_TIMEOUT_MS = 90_000


async def _context(browser: Any, size: Any, lang: str, *, live: bool = False) -> Any:
    """A browser context whose clock stands at the story's instant (what the console counts
    from ``Date.now()`` is the same each run); ``live`` for a call's running timer."""
    context = await browser.new_context(viewport=size, locale=lang)
    # A picture is not a timing test: on a loaded machine a sign-in or a language switch
    # (save, new token, reload) has taken over Playwright's 30 s default.
    context.set_default_timeout(STEP_TIMEOUT_MS)
    if not live:
        await context.clock.set_fixed_time(story.STORY_NOW)
    return context


async def _sign_in(
    browser: Any, url: str, username: str, lang: str, size: Any, *, live: bool = False
) -> Any:
    from hub.console.demo_data import DEMO_PASSWORD

    context = await _context(browser, size, lang, live=live)
    page = await context.new_page()
    await page.goto(f"{url}/login?lang={lang}")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda u: not u.endswith("/login") and "/login?" not in u)
    return page


async def _supervisor(
    browser: Any, url: str, out_dir: Path, lang: str, width: int, height: int
) -> Path:
    page = await _sign_in(browser, url, "laia", lang, {"width": width, "height": height})
    await page.goto(f"{url}/console/supervisor")
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.wait_for_selector("#fig-60")
    await page.wait_for_selector("#on-shift tbody tr")
    await page.wait_for_timeout(300)
    path = out_dir / f"operator-supervisor-{lang}-{width}x{height}.png"
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def _steady(page: Any, selector: str) -> None:
    """Wait until ``selector``'s place on the page, the page's height and its scroll have
    stayed the same for three looks 150 ms apart (a card redrawn by a late answer moves)."""
    await page.wait_for_load_state("networkidle")
    await page.wait_for_function(
        """(selector) => {
            const el = document.querySelector(selector);
            if (!el) return false;
            const box = el.getBoundingClientRect();
            const now = [box.top, box.height, document.body.scrollHeight, scrollY].join();
            const seen = (window.__taSteady = window.__taSteady || {});
            if (seen[selector] && seen[selector].at === now) seen[selector].times += 1;
            else seen[selector] = { at: now, times: 1 };
            return seen[selector].times >= 3;
        }""",
        arg=selector,
        polling=150,
    )


async def _accept(page: Any) -> None:
    """Accept the selected alarm once its detail is on screen (or find it already ours)."""
    # The detail is drawn after the queue: pressing A before it is there does nothing.
    await page.wait_for_selector("#act-accept:not([disabled]), #keysafe-show")
    if await page.locator("#keysafe-show").count() == 0:
        await page.keyboard.press("a")
    await page.wait_for_selector("#keysafe-show")


async def _reveal_key_safe(page: Any) -> None:
    """Show the key-safe code and wait until the card has settled with it.

    Revealing re-renders the card three times (the code, the note "key-safe code viewed",
    the refreshed history); the screenshot is taken after the last one, never between.
    A refused reveal (limit reached, no key safe) stops the run with the console's words.
    """
    before = await page.locator("#history li").count()
    await page.keyboard.press("s")
    await page.wait_for_function(
        """(before) => document.querySelector('#detail-notice.error')
            || (document.querySelector('#keysafe-value.code')
                && document.querySelectorAll('#history li').length > before)""",
        arg=before,
    )
    refused = page.locator("#detail-notice.error")
    if await refused.count():
        raise RuntimeError(f"key-safe code not shown: {await refused.inner_text()}")


async def _voice(
    playwright: Any, app: Any, url: str, out_dir: Path, languages: list[str], tmp: Path
) -> list[Path]:
    """The card while the operator speaks with the home (a real call to a tablet engine)."""
    import contextlib

    import aiohttp

    from hub.console.demo_data import DEMO_PASSWORD
    from teleassist.bench.voice import loopback_ice, tablet_parts, write_tone
    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH, MEDIA_ARGS

    loopback_ice()
    async with aiohttp.ClientSession(url) as http:
        login = await http.post(
            "/api/auth/login", json={"username": "anna", "password": DEMO_PASSWORD}
        )
        staff = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        listed = await (await http.get("/api/alarms?status=open", headers=staff)).json()
        alarms = listed["alarms"]
        care = [a for a in alarms if a["category"] == "care" and a["rule"] == "panic"]
        if not care:
            raise RuntimeError("no panic alarm to speak about")
        alarm, rid = care[0]["id"], int(care[0]["resident_id"])
        if not care[0].get("claimed_by"):
            await http.post(f"/api/alarms/{alarm}/accept", headers=staff)
        code = await (
            await http.post(f"/api/residents/{rid}/tablet-setup-codes", headers=staff)
        ).json()
        paired = await (await http.post("/api/tablet/pair", json={"code": code["code"]})).json()
    _, family, calls, _ear, outbox = await tablet_parts(url, paired["api_token"], rid, tmp)
    live = asyncio.create_task(family.live(retry_s=0.2))
    tone = write_tone(tmp / "voice.wav", 220)
    browser = await playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True,
        args=[*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-audio-capture={tone}"],
    )  # fmt: skip
    written: list[Path] = []
    try:
        await asyncio.wait_for(family.live_connected.wait(), 30)
        for lang in languages:
            for width, height in SIZES:
                size = {"width": width, "height": height}
                page = await _sign_in(browser, url, "anna", lang, size, live=True)
                await page.goto(f"{url}/console")
                async with page.expect_navigation():
                    await page.click(f"[data-ta-lang='{lang}']")
                await page.click(f'.qitem[data-id="{alarm}"]')
                await page.wait_for_selector("#act-voice:not([disabled])")
                await page.keyboard.press("v")
                connected = '#voice-panel[data-status="connected"]'
                await page.wait_for_selector(connected, timeout=60_000)
                await page.keyboard.press("l")  # the resident's volume shows
                await page.wait_for_selector("#voice-volume")
                await page.wait_for_function(
                    "() => document.getElementById('voice-timer').textContent >= '00:03'"
                )
                name = f"operator-voice-{lang}-{width}x{height}.png"
                await page.screenshot(path=str(out_dir / name))
                written.append(out_dir / name)
                written += await _listen_in(browser, url, out_dir, lang, size, alarm, page)
                await page.keyboard.press("h")
                await page.wait_for_selector('#voice-panel[data-status="ended"]')
                for _ in range(250):  # the tablet's side closes on the hub's "ended"
                    if calls.pc is None:
                        break
                    await asyncio.sleep(0.02)
                await page.context.close()
    finally:
        await browser.close()
        live.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live
        await calls.close()
        await family.close()
        outbox.close()
    return written


async def _listen_in(
    browser: Any, url: str, out_dir: Path, lang: str, size: dict[str, int], alarm: str,
    operator: Any,
) -> list[Path]:  # fmt: skip
    """The supervisor (laia) listening in to the call, and the operator's card saying so."""
    width, height = size["width"], size["height"]
    page = await _sign_in(browser, url, "laia", lang, size, live=True)
    await page.goto(f"{url}/console")
    async with page.expect_navigation():
        await page.click(f"[data-ta-lang='{lang}']")
    await page.click(f'.qitem[data-id="{alarm}"]')
    await page.wait_for_selector("#listen-start")
    await page.keyboard.press("i")
    await page.wait_for_selector('#listen-panel[data-status="listening"]', timeout=60_000)
    await page.wait_for_function(
        "() => document.getElementById('listen-timer').textContent >= '00:02'"
    )
    await operator.wait_for_selector("#voice-listeners")
    listening = out_dir / f"operator-listen-{lang}-{width}x{height}.png"
    await page.screenshot(path=str(listening))
    listened = out_dir / f"operator-voice-listened-{lang}-{width}x{height}.png"
    await operator.screenshot(path=str(listened))
    await page.keyboard.press("i")  # stop listening
    await page.wait_for_selector('#listen-panel[data-status="ended"]')
    await operator.wait_for_selector("#voice-listeners", state="detached")
    await page.context.close()
    return [listening, listened]


async def capture(out_dir: Path, languages: list[str]) -> list[Path]:
    """Write the console's screenshots for ``languages`` at 1920×1080 and 1366×768."""
    from playwright.async_api import async_playwright

    from hub.console.demo_data import DEMO_PASSWORD
    from hub.web.serve import serving
    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH

    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="ta-shots-") as tmp:
        app, _ = await _seeded_hub(Path(tmp))
        async with serving(app) as url, async_playwright() as playwright:
            seeded = await _seed(app, url)
            await deliveries_setup(app, seeded["ids"].residents[:3])
            written += await _voice(playwright, app, url, out_dir, languages, Path(tmp))
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
            )
            try:
                for lang in languages:
                    for width, height in SIZES:
                        context = await _context(browser, {"width": width, "height": height}, lang)
                        page = await context.new_page()
                        await page.goto(f"{url}/login?lang={lang}")
                        await page.fill("#username", "anna")
                        await page.fill("#password", DEMO_PASSWORD)
                        await page.click("#signin-submit")
                        await page.wait_for_url("**/console")
                        # The language switch: the page AND the user's own language (the
                        # alarm texts from the API follow the user).
                        async with page.expect_navigation():
                            await page.click(f"[data-ta-lang='{lang}']")
                        _LOGGER.info("operator screenshots: %s %dx%d", lang, width, height)
                        try:
                            await page.wait_for_selector("#resident-card")
                        except Exception:
                            await page.screenshot(path=str(out_dir / "operator-FAILED.png"))
                            raise
                        await page.wait_for_selector(".conn[data-state='open']")
                        await page.wait_for_timeout(300)
                        name = f"operator-queue-{lang}-{width}x{height}.png"
                        await page.screenshot(path=str(out_dir / name))
                        written.append(out_dir / name)
                        # The card with the key safe shown (after accepting the alarm).
                        await _accept(page)
                        await _reveal_key_safe(page)
                        # The card is re-rendered by live updates (the key-safe note): scroll
                        # whichever code is there now, never a handle to a replaced one; the
                        # alarm's header stays fixed above it.
                        await page.evaluate(
                            "document.getElementById('keysafe-value')"
                            "?.scrollIntoView({block: 'center'})"
                        )
                        name = f"operator-card-{lang}-{width}x{height}.png"
                        await page.screenshot(path=str(out_dir / name))
                        written.append(out_dir / name)
                        await context.close()
                        written.append(
                            await _supervisor(browser, url, out_dir, lang, width, height)
                        )
                    written.append(await _rules(browser, url, out_dir, lang))
                    written.append(await _health(browser, url, out_dir, lang))
                    written.append(await _technical(browser, url, out_dir, lang))
                for lang in languages:
                    written.append(await _deliveries(browser, url, out_dir, lang))
                for lang in languages:  # after the card shots: this accepts the fall
                    written.append(
                        await _protocol(browser, url, out_dir, lang, seeded["alarms"][0])
                    )
                await _campaign_setup(url)
                for lang in languages:
                    written += await _campaign(browser, url, out_dir, lang)
                    written.append(await _protocol_editor(browser, url, out_dir, lang))
            finally:
                await browser.close()
    return written
