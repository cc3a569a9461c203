"""The visor in real Chromium: sign in, give a reason, read the record; and its screenshots;
and at phone size (390×844, issue 23) every column of the services and alarms tables —
Status, Reason, Answered in, 112 — is on screen, none cut off."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import create_engine, text

from teleassist.screenshots.visor import capture, visor_hub

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
WIDTH = 390


def _visor_audit(db: Path) -> list[tuple[str, str, str]]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT actor, object, details FROM audit_log WHERE action = 'visor.view'")
            )
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        engine.dispose()


async def test_social_worker_reads_a_record_after_giving_a_reason(
    chromium: Browser, tmp_path: Path
) -> None:
    async with visor_hub(tmp_path) as hub:
        context = await chromium.new_context(locale="en-GB", timezone_id="Europe/Madrid")
        page = await context.new_page()
        await page.goto(f"{hub.base_url}/visor")
        await page.wait_for_url("**/login?next=/visor")
        await page.fill("#username", hub.username)
        await page.fill("#password", hub.password)
        await page.click("#signin-submit")
        await page.wait_for_url(lambda url: "/login" not in url)
        await page.goto(f"{hub.base_url}/visor?lang=en")

        await page.select_option("#by", "number")
        await page.fill("#resident", str(hub.resident_id))
        await page.select_option("#reason", "other")
        # The script makes the details required for "another reason": the browser refuses.
        assert await page.eval_on_selector("#note", "n => n.required") is True
        await page.click("button[type=submit]")
        assert page.url.endswith("/visor?lang=en")
        assert await asyncio.to_thread(_visor_audit, tmp_path / "hub.sqlite") == []

        await page.fill("#note", "Quarterly review")
        await page.click("button[type=submit]")
        await expect(page.locator("#resident-name")).to_have_text("Montserrat Puig i Soler")
        await expect(page.locator("#visor-access")).to_contain_text("Quarterly review")
        services = page.locator("#visor-services tbody tr")
        await expect(services).to_have_count(6)
        await expect(page.locator("#visor-services")).to_contain_text("Group: Cafè del dimecres")
        await expect(page.locator("#visor-alarms")).to_contain_text("Emergency services (112) sent")
        await expect(page.locator("#visor-flags")).to_contain_text("Social isolation")
        await expect(page.locator("#checkin-summary")).to_contain_text("expected check-ins")
        # Read only: no form posts anything but a new look-up, no editable fields.
        assert await page.locator("main input, main textarea, main select").count() == 0

        (entry,) = await asyncio.to_thread(_visor_audit, tmp_path / "hub.sqlite")
        assert entry[0] == hub.username
        assert entry[1] == f"resident:{hub.resident_id}"
        assert "Quarterly review" in entry[2]
        await context.close()


async def test_screenshots_are_written(tmp_path: Path) -> None:
    written = await capture(tmp_path, ["en"])
    names = sorted(p.name for p in written)
    assert names == [
        "visor-resident-en-1280x900.png",
        "visor-resident-en-390x844.png",
        "visor-start-en-1280x900.png",
        "visor-start-en-390x844.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in written)


@pytest.mark.parametrize("lang", ["ca", "en"])
async def test_tables_fit_a_phone(chromium: Browser, lang: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ta-visor-") as tmp:
        async with visor_hub(Path(tmp)) as hub:
            context = await chromium.new_context(
                viewport={"width": WIDTH, "height": 844}, locale=lang
            )
            page = await context.new_page()
            try:
                await page.goto(f"{hub.base_url}/login?next=/visor&lang={lang}")
                await page.fill("#username", hub.username)
                await page.fill("#password", hub.password)
                await page.click("#signin-submit")
                await page.wait_for_url(lambda url: "/login" not in url)
                await page.goto(f"{hub.base_url}/visor?lang={lang}")
                await page.select_option("#by", "dni")
                await page.fill("#resident", "12345678-z")
                await page.select_option("#reason", "follow_up")
                await page.click("button[type=submit]")
                await page.wait_for_selector("#visor-alarms")
                # The page does not scroll sideways, and no table scrolls inside its box.
                assert await page.evaluate("document.documentElement.scrollWidth") <= WIDTH
                for table in ("#visor-services", "#visor-alarms"):
                    cells = page.locator(f"{table} tbody td")
                    assert await cells.count() >= 10
                    for i in range(await cells.count()):
                        box = await cells.nth(i).bounding_box()
                        assert box is not None
                        assert box["x"] >= 0, (table, i, box)
                        assert box["x"] + box["width"] <= WIDTH, (table, i, box)
                    scroll = await page.evaluate(
                        f"(() => {{ const t = document.querySelector('{table}');"
                        " return t.parentElement.scrollWidth - t.parentElement.clientWidth; })()"
                    )
                    assert scroll <= 0, table
                # Each value says which column it is.
                reason = "Motiu" if lang == "ca" else "Reason"
                ended = page.locator('#visor-services tr[data-status="ended"] td.visor-reason')
                label = await ended.evaluate("td => getComputedStyle(td, '::before').content")
                assert reason in label
                removed = (
                    "Retirat del pla d'atenció" if lang == "ca" else "Removed from the care plan"
                )
                assert await ended.inner_text() == removed
            finally:
                await context.close()
