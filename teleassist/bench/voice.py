"""``teleassist bench voice``: operator → tablet speech calls at alarms, with real sound.

A real hub in this process (fresh SQLite unless ``--database-url``), the resident's tablet
app without its window (model, controller, family client and call engine; its loudspeaker
is a ``CapturedOutput`` and its microphone a steady 880 Hz tone), and the operator's
console in headless Chromium whose fake microphone plays a generated 440 Hz tone. For each
of ``--calls`` calls: an alarm is raised and accepted, the operator presses "Speak with the
home" (``V``), and the harness times

- click → the tablet's output carries 440 Hz (FFT over the last 100 ms), and
- click → the console's Web Audio analyser finds 880 Hz in the remote stream;

then hangs up and resolves the alarm. Setup time of a call is the later of the two.
With ``--listen`` a supervisor's console (another browser context) then listens in to
each call (ADR 0100), timed from pressing ``I`` to its analyser finding both 880 Hz (the
home) and 440 Hz (the operator).
Everything shares the machine's cores with the browser. Last line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import aiohttp

from teleassist.config import Config

NAME = "voice"
HELP = "operator → tablet speech calls at alarms: setup time and sound both ways"

BROWSER_TONE_HZ = 440.0
TABLET_TONE_HZ = 880.0
SAMPLE_RATE = 48_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument(
        "--listen", action="store_true", help="a supervisor also listens in to each call"
    )


def write_tone(path: Path, hz: float, seconds: float = 3.0) -> Path:
    """A 16-bit mono WAV of a steady tone (Chromium loops it as its fake microphone)."""
    import numpy as np

    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pcm = (12000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def loopback_sdp(data: dict[str, Any]) -> dict[str, Any]:
    """A browser's description with only its 127.0.0.1 candidates (nothing leaves lo)."""
    sdp = data.get("sdp")
    if not isinstance(sdp, dict):
        return data
    lines = [
        line
        for line in str(sdp["sdp"]).split("\r\n")
        if not line.startswith("a=candidate:") or " 127.0.0.1 " in line
    ]
    return {**data, "sdp": {**sdp, "sdp": "\r\n".join(lines)}}


def loopback_ice() -> None:
    """aiortc gathers 127.0.0.1 only (aioice leaves loopback out by default)."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


_LISTENER_HEARS_BOTH = (
    f"() => window.__taListen.levelAt({TABLET_TONE_HZ}) > -70"
    f" && window.__taListen.levelAt({BROWSER_TONE_HZ}) > -70"
)
SUPERVISOR = "supervisora"

_HEARS_880 = (
    "() => { const d = window.__taVoice.dominant();"
    f" return d.db > -70 && Math.abs(d.hz - {TABLET_TONE_HZ}) <= 15; }}"
)


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


async def tablet_parts(
    base: str, token: str, resident_id: int, folder: Path, speaker: Any = None
) -> Any:
    """The tablet app's working parts (no window), answering through the hub.

    ``speaker``: the text-to-speech (default: one that says nothing and has no
    announcement to wait for, so the centre is heard at once)."""
    from tablet_app.audio import CapturedOutput
    from tablet_app.calls import CallEngine, SyntheticMedia
    from tablet_app.controller import SilentRinger, TabletController
    from tablet_app.family import FamilyClient
    from tablet_app.link import Broker, HubLink
    from tablet_app.model import TabletModel
    from tablet_app.outbox import Outbox

    model = TabletModel(language="ca", online=True)
    family = FamilyClient(base, token, resident_id, model, folder / "media")
    ear = CapturedOutput()
    calls = CallEngine(
        family.send_live, SyntheticMedia(tone_hz=TABLET_TONE_HZ), on_failed=model.call_ended,
        output=ear,
    )  # fmt: skip
    received = calls.on_signal

    async def from_browser(call_id: int, data: dict[str, Any]) -> None:
        await received(call_id, loopback_sdp(data))

    calls.on_signal = from_browser  # type: ignore[method-assign]
    family.calls = calls

    class Quiet:
        def say(self, text: str, language: str) -> None:
            pass

    outbox = Outbox(folder / "outbox.db")
    TabletController(
        model, HubLink("bench-tablet", Broker(), outbox), speaker=speaker or Quiet(),
        ringer=SilentRinger(),
        clock=lambda: None, family=family,  # type: ignore[arg-type, return-value]
    )  # fmt: skip
    return model, family, calls, ear, outbox


async def _bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from cryptography.fernet import Fernet
    from playwright.async_api import async_playwright

    from hub.app import create_app
    from hub.auth import Role, create_user
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.family.demo import DEMO_PASSWORD, create_demo_people
    from hub.settings import HubSettings
    from hub.web.serve import serving
    from teleassist.chromium import CHROMIUM_ARGS, CHROMIUM_PATH, MEDIA_ARGS

    loopback_ice()
    url = args.database_url or f"sqlite+aiosqlite:///{folder / 'hub.sqlite'}"
    await upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            demo = await create_demo_people(session)
            await create_user(
                session, SUPERVISOR, DEMO_PASSWORD, Role.SUPERVISOR, display_name="Supervisora"
            )
            await session.commit()
    finally:
        await engine.dispose()
    settings = HubSettings(
        data_dir=str(folder / "hub-data"), database_url=url, migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32), keysafe_key=Fernet.generate_key().decode(),
    )  # fmt: skip
    app = create_app(settings)
    tone = write_tone(folder / "tone440.wav", BROWSER_TONE_HZ)
    results: list[dict[str, Any]] = []
    async with serving(app) as base, aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/api/auth/login", json={"username": "operadora", "password": DEMO_PASSWORD}
        ) as resp:
            staff = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        rid = demo.resident_id
        async with http.post(f"{base}/api/residents/{rid}/tablet-setup-codes", headers=staff) as r:
            code = (await r.json())["code"]
        async with http.post(f"{base}/api/tablet/pair", json={"code": code}) as resp:
            token = (await resp.json())["api_token"]
        _model, family, calls, ear, outbox = await tablet_parts(base, token, rid, folder)
        live = asyncio.create_task(family.live(retry_s=0.2))
        try:
            await asyncio.wait_for(family.live_connected.wait(), 20)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM_PATH, headless=True,
                    args=[*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-audio-capture={tone}"],
                )  # fmt: skip
                try:
                    page = await _console(browser, base, "operadora", DEMO_PASSWORD)
                    sup = None
                    if args.listen:  # a supervisor's console beside the operator's
                        sup = await _console(browser, base, SUPERVISOR, DEMO_PASSWORD)
                    for n in range(args.calls):
                        call = _one_call(
                            args, app, http, base, staff, page, rid, calls, ear, n, sup
                        )
                        results.append(await call)
                finally:
                    await browser.close()
        finally:
            live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live
            await calls.close()
            await family.close()
            outbox.close()
    setups = [r["setup_ms"] for r in results if r["setup_ms"] is not None]
    listens = [r["listen_ms"] for r in results if r.get("listen_ms") is not None]
    listen = (
        {"listened": len(listens), "listen_p50_ms": _pct(listens, 0.5),
         "listen_p99_ms": _pct(listens, 0.99)}
        if args.listen else {}
    )  # fmt: skip
    ms = [r["tablet_ms"] for r in results if r["tablet_ms"] is not None]
    bs = [r["browser_ms"] for r in results if r["browser_ms"] is not None]
    return {
        "database": url.split(":", 1)[0],
        "calls": len(results),
        "connected": sum(1 for r in results if r["connected"]),
        "tone_detected_tablet": len(ms),
        "tone_detected_browser": len(bs),
        "setup_p50_ms": _pct(setups, 0.5),
        "setup_p99_ms": _pct(setups, 0.99),
        "tablet_p50_ms": _pct(ms, 0.5),
        "browser_p50_ms": _pct(bs, 0.5),
        **listen,
        "per_call": results,
    }


async def _console(browser: Any, base: str, username: str, password: str) -> Any:
    """A signed-in console page of its own browser context."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(f"{base}/login?lang=en&next=/console")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#signin-submit")
    await page.wait_for_url(lambda u: "/login" not in u, timeout=60_000)
    return page


async def _listen_in(sup: Any, alarm: str, timeout_s: float) -> float | None:
    """The supervisor listens in: ms from pressing I to hearing home and operator."""
    item = sup.locator(f'.qitem[data-id="{alarm}"]')
    await item.wait_for(timeout=30_000)
    await item.click()
    await sup.locator("#listen-start").wait_for(timeout=30_000)
    pressed = time.perf_counter()
    await sup.keyboard.press("i")
    try:
        await sup.wait_for_function(_LISTENER_HEARS_BOTH, polling=20, timeout=timeout_s * 1000)
    except Exception:  # playwright's TimeoutError
        return None
    return (time.perf_counter() - pressed) * 1000


async def _one_call(
    args: argparse.Namespace, app: Any, http: aiohttp.ClientSession, base: str,
    staff: dict[str, str], page: Any, rid: int, calls: Any, ear: Any, n: int,
    sup: Any = None,
) -> dict[str, Any]:  # fmt: skip
    import protocol
    from hub.console.demo_data import raise_demo_alarm

    [alarm] = await raise_demo_alarm(app, rid, "bench-pendant", protocol.Panic(source="pendant"))
    async with http.post(f"{base}/api/alarms/{alarm}/accept", headers=staff) as resp:
        resp.raise_for_status()
    item = page.locator(f'.qitem[data-id="{alarm}"]')
    await item.wait_for(timeout=30_000)
    await item.click()
    await page.locator("#act-voice:not([disabled])").wait_for(timeout=30_000)
    ear.pcm.clear()
    clicked = time.perf_counter()
    await page.keyboard.press("v")

    async def tablet_hears() -> float | None:
        try:
            await asyncio.wait_for(
                ear.wait_for_tone(BROWSER_TONE_HZ, window_s=0.1, tolerance_hz=15), args.timeout
            )
        except TimeoutError:
            return None
        return (time.perf_counter() - clicked) * 1000

    async def browser_hears() -> float | None:
        try:
            await page.wait_for_function(_HEARS_880, polling=20, timeout=args.timeout * 1000)
        except Exception:  # playwright's TimeoutError
            return None
        return (time.perf_counter() - clicked) * 1000

    tablet_ms, browser_ms = await asyncio.gather(tablet_hears(), browser_hears())
    status = await page.get_attribute("#voice-panel", "data-status")
    listen_ms = await _listen_in(sup, alarm, args.timeout) if sup is not None else None
    await page.keyboard.press("h")
    if sup is not None:  # the call's end ends the listen-in
        await sup.locator('#listen-panel[data-status="ended"]').wait_for(timeout=30_000)
    await page.locator('#voice-panel[data-status="ended"], #voice-panel[data-status="failed"]'
                       ).wait_for(timeout=30_000)  # fmt: skip
    async with http.post(
        f"{base}/api/alarms/{alarm}/resolve", json={"outcome": "resident_fine"}, headers=staff
    ) as resp:
        resp.raise_for_status()
    # the tablet's side closes on the hub's "ended"
    for _ in range(200):
        if calls.pc is None:
            break
        await asyncio.sleep(0.02)
    setup = max(tablet_ms, browser_ms) if tablet_ms is not None and browser_ms is not None else None
    return {
        "call": n + 1,
        "connected": status == "connected",
        "tablet_ms": round(tablet_ms, 1) if tablet_ms is not None else None,
        "browser_ms": round(browser_ms, 1) if browser_ms is not None else None,
        "setup_ms": round(setup, 1) if setup is not None else None,
        "listen_ms": round(listen_ms, 1) if listen_ms is not None else None,
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print per-call setup times and the figures (last line JSON)."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-voice-") as tmp:
        result = asyncio.run(_bench(args, Path(tmp)))
    for call in result.pop("per_call"):
        listened = f"; supervisor's I → hears both {call['listen_ms']} ms" if args.listen else ""
        print(
            f"call {call['call']}: click → tablet hears {call['tablet_ms']} ms, "
            f"→ browser hears {call['browser_ms']} ms{listened}"
        )
    print(
        f"{result['connected']}/{result['calls']} connected; tone at the tablet "
        f"{result['tone_detected_tablet']}, at the browser {result['tone_detected_browser']}; "
        f"setup p50 {result['setup_p50_ms']} ms, p99 {result['setup_p99_ms']} ms"
        + (
            f"; a supervisor listened in to {result['listened']}, I → hears both p50 "
            f"{result['listen_p50_ms']} ms, p99 {result['listen_p99_ms']} ms"
            if args.listen
            else ""
        )
    )
    print(json.dumps(result))
    heard = result["tone_detected_tablet"] == result["tone_detected_browser"] == result["calls"]
    if args.listen:
        heard = heard and result["listened"] == result["calls"]
    return 0 if heard else 1
