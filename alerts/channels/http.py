"""Shared HTTP delivery with retries and exponential back-off (SMS gateway, webhooks, 112)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

_LOGGER = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries; waits ``base_delay_s`` × ``factor``ⁿ (capped) between them."""

    attempts: int = 4
    base_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 10.0
    timeout_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * self.factor ** (attempt - 1)))

    def longest_s(self) -> float:
        """The longest a delivery can take: every attempt timing out, every pause waited."""
        pauses = sum(self.delay(n) for n in range(1, self.attempts))
        return self.attempts * self.timeout_s + pauses


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """The last answer (or error) of a delivery with retries."""

    ok: bool
    attempts: int
    status: int | None = None
    body: str = ""
    error: str = ""


def _retryable(status: int) -> bool:
    # A refused payload (4xx) will be refused again; server trouble may pass.
    return status >= 500 or status in (408, 425, 429)


async def post_with_retries(
    session: aiohttp.ClientSession,
    url: str,
    *,
    data: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
) -> HttpOutcome:
    """POST ``data`` until a 2xx, a non-retryable answer, or the attempts run out."""
    last = HttpOutcome(False, 0, error="not attempted")
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    for attempt in range(1, policy.attempts + 1):
        try:
            async with session.post(url, data=data, headers=dict(headers), timeout=timeout) as resp:
                body = await resp.text()
                if 200 <= resp.status < 300:
                    return HttpOutcome(True, attempt, resp.status, body)
                last = HttpOutcome(False, attempt, resp.status, body, f"HTTP {resp.status}")
                if not _retryable(resp.status):
                    return last
        except (aiohttp.ClientError, TimeoutError) as err:
            last = HttpOutcome(False, attempt, error=f"{type(err).__name__}: {err}")
        _LOGGER.warning("POST %s attempt %d failed: %s", url, attempt, last.error)
        if attempt < policy.attempts:
            await sleep(policy.delay(attempt))
    return last
