"""The README's demo: the whole stack starts, prints its URLs and accounts, and an operator
signing in to its console sees a simulated alarm arrive."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60_000  # ms: the demo's first alarm is scripted at ~15 s; the machine is shared

pytestmark = [pytest.mark.broker, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def _read_banner(stdout: asyncio.StreamReader) -> tuple[str, list[str]]:
    lines: list[str] = []
    base = ""
    async with asyncio.timeout(180):
        while True:
            raw = await stdout.readline()
            if not raw:
                raise AssertionError("demo exited before printing its banner:\n" + "\n".join(lines))
            line = raw.decode()
            lines.append(line)
            found = re.search(r"Teleassist demo is running: (http://127\.0\.0\.1:\d+)", line)
            if found:
                base = found.group(1)
            if base and line.startswith("====") and len(lines) > 3:
                return base, lines


async def test_demo_prints_accounts_and_the_console_shows_an_alarm(chromium: Browser) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "teleassist",
        "--log-level",
        "WARNING",
        "demo",
        "--homes",
        "6",
        "--no-tablet",
        "--port",
        "0",
        "--duration",
        "600",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        base, lines = await _read_banner(process.stdout)
        banner = "".join(lines)
        for role in ("operator", "supervisor", "family", "facilitator", "social_worker", "admin"):
            assert re.search(rf"^\s+{role}\s+\S+\s+teleassist-demo$", banner, re.M), role
        for path in ("/console", "/family", "/visor"):
            assert f"{base}{path}" in banner

        context = await chromium.new_context(viewport={"width": 1366, "height": 768})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT)
        await page.goto(base + "/login")
        await page.locator("input[name=username]").fill("operator")
        await page.locator("input[name=password]").fill("teleassist-demo")
        await page.locator("form button[type=submit]").click()
        await page.wait_for_url(lambda url: not url.endswith("/login"))
        await page.goto(base + "/console")
        # The scripted help-button press of the first home reaches the live queue.
        await expect(page.locator(".qitem").first).to_be_visible(timeout=TIMEOUT)
        await expect(page.locator(".qitem").first).to_contain_text("Help")
        await context.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(60):
                await process.wait()
    assert process.returncode == 0
