"""The admission middleware: tenant requests beyond the limit wait in order of arrival; the admin API never waits."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cascade.api.admission import admission_middleware


@pytest.fixture
async def gated():
    turns = asyncio.Semaphore(2)
    release = asyncio.Event()
    started: list[str] = []

    async def slow(request):
        started.append(request.query["n"])
        await release.wait()
        return web.json_response({"n": request.query["n"]})

    async def admin(request):
        return web.json_response({"jobs": []})

    app = web.Application(middlewares=[admission_middleware(lambda request: turns,
                                                            exempt=lambda request: request.path == "/compute/")])
    app.router.add_get("/compute/v2.1/servers", slow)
    app.router.add_get("/compute/", admin)
    app.router.add_get("/cascade/v1/jobs", admin)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    yield client, started, release
    release.set()
    await client.close()


async def until(condition, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_requests_beyond_the_limit_start_in_order_of_arrival(gated):
    client, started, release = gated
    calls = []
    for n in range(5):
        calls.append(asyncio.create_task(client.get("/compute/v2.1/servers", params={"n": str(n)})))
        await asyncio.sleep(0.05)     # arrival order
    await until(lambda: len(started) == 2)
    await asyncio.sleep(0.2)
    assert started == ["0", "1"]      # the other three wait their turn
    release.set()
    answers = await asyncio.gather(*calls)
    assert [a.status for a in answers] == [200] * 5
    assert started == ["0", "1", "2", "3", "4"]


async def test_the_admin_api_and_exempt_paths_never_wait(gated):
    client, started, _ = gated
    busy = [asyncio.create_task(client.get("/compute/v2.1/servers", params={"n": str(n)})) for n in range(3)]
    await until(lambda: len(started) == 2)
    async with asyncio.timeout(2):
        assert (await client.get("/cascade/v1/jobs")).status == 200
        assert (await client.get("/compute/")).status == 200
    for call in busy:
        call.cancel()
