"""How much one sender may post: messages, group events and agenda items (issue 19).

A stolen family account, a buggy tablet app or a facilitator's script could otherwise fill
an older person's tablet with messages and invitations. Every post of one sender (their
party: a person or a resident's tablet) counts against one budget, atomically and across
hub workers (``hub.throttle``); over it the answer is ``429 too_many_messages`` with
``Retry-After``. The budget is per sender, not per conversation: spreading posts over many
conversations or groups does not get round it.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.principal import Principal
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError
from hub.throttle import Limit, take

SEND_KIND = "family.send"


def send_limit(app: web.Application) -> Limit:
    """The per-sender budget of the hub's ``[family]`` settings."""
    settings = app[FAMILY_SETTINGS]
    return Limit(SEND_KIND, settings.send_max_posts, timedelta(seconds=settings.send_window_s))


def too_many_messages(retry_after_s: int) -> ApiError:
    """429 for a sender over their budget, with ``Retry-After`` in seconds."""
    err = ApiError(
        429,
        "too_many_messages",
        f"you have sent a lot in a short time; try again in {retry_after_s} s",
        retry_after_s=retry_after_s,
    )
    err.headers["Retry-After"] = str(retry_after_s)
    return err


async def count_post(request: web.Request, who: Principal) -> None:
    """Count one post of ``who`` (in its own short transaction); raise 429 over budget.

    Call it once the caller is known to be allowed to post there and before anything is
    written, so a refused post leaves nothing behind.
    """
    app = request.app
    async with app[SESSIONMAKER]() as session:
        slot = await take(session, send_limit(app), who.party, app[CLOCK]())
        # Committed at once: on PostgreSQL the counter row stays locked until then.
        await session.commit()
    if not slot.allowed:
        raise too_many_messages(slot.retry_after_s)
