"""``teleassist bench family-messages``: message post → resident's tablet websocket.

Runs a real hub in this process on a fresh database (SQLite by default, or
``--database-url``) with the family demo (:mod:`hub.family.demo`) plus ``--senders``
extra family members linked to the resident. Each sender posts ``--messages`` text
messages to their chat with the resident, all senders at once; the resident's tablet
listens on ``/api/family/ws``. Measured: HTTP post latency, post → ``message.new`` on the
tablet's socket, messages per second; then ``--photos`` photo uploads (≈1 MB JPEG:
content check, thumbnail, storage) one after another.

Client and hub share one event loop and the machine's 2 cores, so the figures include
the load generator's own cost. Last line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from teleassist.config import Config

NAME = "family-messages"
HELP = "family chat: post → tablet websocket latency, messages/s, photo upload time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=50, help="per sender")
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _bench(args: argparse.Namespace, folder: Path, config: Config) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    from hub.app import create_app
    from hub.auth import Role, create_user
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.family.demo import DEMO_PASSWORD, create_demo_people, demo_photo, seed_demo_family
    from hub.settings import HubSettings
    from hub.web.serve import serving

    url = args.database_url or f"sqlite+aiosqlite:///{folder / 'hub.sqlite'}"
    await upgrade_to_head(url)
    engine = make_engine(url)
    names = [f"bench-{i}-{secrets.token_hex(2)}" for i in range(args.senders)]
    try:
        async with make_sessionmaker(engine)() as session:
            demo = await create_demo_people(session)
            for name in names:
                await create_user(session, name, DEMO_PASSWORD, Role.FAMILY)
            await session.commit()
    finally:
        await engine.dispose()
    settings = HubSettings(
        data_dir=str(folder / "hub-data"), database_url=url, migrate_on_start=False,
        jwt_secret=secrets.token_urlsafe(32), keysafe_key=Fernet.generate_key().decode(),
    )  # fmt: skip
    # The bench measures throughput: each sender posts more than a person's budget allows.
    unlimited = config.with_overrides("family", send_max_posts=args.messages + 1)
    app = create_app(settings, config=unlimited)
    async with serving(app) as base, aiohttp.ClientSession() as http:
        await seed_demo_family(base, demo)
        tablet = {"Authorization": f"Bearer {demo.tablet_token}"}
        api = f"{base}/api/family"
        chats: list[tuple[dict[str, str], int]] = []
        for name in names:
            async with http.post(
                f"{base}/api/auth/login", json={"username": name, "password": DEMO_PASSWORD}
            ) as resp:
                headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
            async with http.post(
                f"{api}/residents/{demo.resident_id}/linking-codes", json={}, headers=tablet
            ) as resp:
                code = (await resp.json())["code"]
            async with http.post(
                f"{api}/links", json={"code": code, "relationship": "nét"}, headers=headers
            ) as resp:
                chats.append((headers, (await resp.json())["conversation_id"]))
        sent_at: dict[str, float] = {}
        delivered: list[float] = []
        posts: list[float] = []
        total = args.senders * args.messages
        done = asyncio.Event()
        async with http.ws_connect(f"{api}/ws", headers=tablet) as ws:

            async def listen() -> None:
                async for msg in ws:
                    frame = json.loads(msg.data)
                    if frame.get("type") == "message.new":
                        started = sent_at.get(frame["message"]["text"])
                        if started is not None:
                            delivered.append(time.perf_counter() - started)
                            if len(delivered) == total:
                                done.set()

            async def sender(headers: dict[str, str], cid: int, who: int) -> None:
                for n in range(args.messages):
                    text = f"m{who}-{n}"
                    sent_at[text] = start = time.perf_counter()
                    async with http.post(
                        f"{api}/conversations/{cid}/messages", json={"text": text}, headers=headers
                    ) as resp:
                        resp.raise_for_status()
                    posts.append(time.perf_counter() - start)

            listener = asyncio.create_task(listen())
            began = time.perf_counter()
            await asyncio.gather(*(sender(h, c, i) for i, (h, c) in enumerate(chats)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - began
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        photo = demo_photo(1600, 1200)
        uploads: list[float] = []
        headers = chats[0][0] if chats else tablet
        for _ in range(args.photos):
            start = time.perf_counter()
            async with http.post(f"{api}/media?kind=photo", data=photo, headers=headers) as resp:
                resp.raise_for_status()
            uploads.append(time.perf_counter() - start)
    ms = 1000.0
    return {
        "database": url.split(":", 1)[0],
        "senders": args.senders,
        "messages_sent": total,
        "messages_delivered": len(delivered),
        "messages_per_s": round(total / elapsed, 1),
        "post_p50_ms": round(_pct(posts, 0.5) * ms, 1),
        "post_p95_ms": round(_pct(posts, 0.95) * ms, 1),
        "deliver_p50_ms": round(_pct(delivered, 0.5) * ms, 1),
        "deliver_p95_ms": round(_pct(delivered, 0.95) * ms, 1),
        "photo_bytes": len(photo),
        "photo_upload_p50_ms": round(statistics.median(uploads) * ms, 1) if uploads else None,
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print the figures (last line JSON)."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-family-") as tmp:
        result = asyncio.run(_bench(args, Path(tmp), config))
    print(f"{result['messages_sent']} messages from {result['senders']} senders "
          f"({result['database']}): {result['messages_per_s']} msg/s")  # fmt: skip
    print(f"post p50 {result['post_p50_ms']} ms, p95 {result['post_p95_ms']} ms")
    print(f"tablet socket p50 {result['deliver_p50_ms']} ms, p95 {result['deliver_p95_ms']} ms")
    print(f"photo upload ({result['photo_bytes']} B) p50 {result['photo_upload_p50_ms']} ms")
    print(json.dumps(result))
    return 0
