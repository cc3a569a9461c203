"""Waiting in a page for what only an async function can tell (a service worker's
notifications, a call's decoded frames).

Playwright's ``wait_for_function`` does not await a Promise: an ``async`` predicate returns a
Promise, which counts as truthy, so the wait ends at once with whatever it later resolves to.
:func:`wait_for_async` asks again until the resolved value itself is truthy.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class Evaluates(Protocol):
    """A page or a worker: anything Playwright can evaluate a function in."""

    async def evaluate(self, expression: str, arg: Any = None) -> Any: ...


async def wait_for_async(
    target: Evaluates, expression: str, *, timeout_s: float = 60.0, every_s: float = 0.2
) -> Any:
    """Evaluate the async ``expression`` in ``target`` until it resolves to a truthy value;
    return that value. Raise ``TimeoutError`` after ``timeout_s``, naming the expression."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                value = await target.evaluate(expression)
                if value:
                    return value
                await asyncio.sleep(every_s)  # nothing in the page to await: ask again
    except TimeoutError:
        raise TimeoutError(f"not true after {timeout_s} s: {expression}") from None
