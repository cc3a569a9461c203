"""What the cluster tests share: a device agent run for the length of a test, and an operator's
live alarm socket on one hub worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp

from device_agent.agent import Agent
from hub.console.demo_data import DEMO_PASSWORD
from teleassist.workers import HubWorker


async def run_agent(stack: AsyncExitStack, agent: Agent, connect_s: float) -> None:
    """Run ``agent`` until ``stack`` closes (then stop it and close its outbox); return once it
    has connected to its broker, or raise ``TimeoutError`` after ``connect_s``."""
    task = asyncio.create_task(agent.run())

    async def stop() -> None:
        agent.stop()
        async with asyncio.timeout(30):
            await task
        agent.outbox.close()

    stack.push_async_callback(stop)
    async with asyncio.timeout(connect_s):
        await agent.connected.wait()


async def operator_socket(
    http: aiohttp.ClientSession, worker: HubWorker
) -> AsyncIterator[dict[str, object]]:
    """The demo operator's live alarm frames from ``worker``, until the socket closes."""
    async with http.post(
        f"{worker.url}/api/auth/login", json={"username": "operadora", "password": DEMO_PASSWORD}
    ) as response:
        response.raise_for_status()
        token = (await response.json())["access_token"]
    async with http.ws_connect(
        f"{worker.url}/api/alarms/live", headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                return
            yield json.loads(message.data)
