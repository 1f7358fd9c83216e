"""A cascade (its runtime and app, in this process) in front of an
in-process simcloud world of one site, on SQLite and on PostgreSQL; the
site's servers are made straight in it, as its tenants would."""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from cascade.app import build_app
from cascade.config import DatabaseSection, JobsSection, KeystoneSection, Settings, SyncSection
from cascade.jobs import registry
from cascade.jobs.worker import Worker
from cascade.runtime import Runtime
from simcloud.world import World
from tests.dbfixtures import BACKENDS, scratch_url

PAGE = 3   # servers per adopted batch: small, so that a handful of servers makes several batches
FAST = JobsSection(poll_interval=0.05, lease_seconds=10.0, backoff_base=0.01, backoff_max=0.05, max_attempts=4)


@dataclasses.dataclass
class Harness:
    world: World
    rt: Runtime
    http: aiohttp.ClientSession
    cascade_url: str
    tokens: dict[str, str]
    site_id: str = ""

    @property
    def compute(self) -> str:
        return self.world.site("site1").compute_url

    async def token(self, user: str) -> str:
        if user not in self.tokens:
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": "password"}}},
                "scope": {"project": {"name": user, "domain": {"id": "default"}}}}}
            async with self.http.post(f"{self.world.keystone_url}/auth/tokens", json=body) as response:
                assert response.status == 201, await response.text()
                self.tokens[user] = response.headers["X-Subject-Token"]
        return self.tokens[user]

    async def site(self, user: str, method: str, path: str, json: Any = None, *,
                   microversion: str | None = None) -> tuple[int, Any]:
        """A call straight at the site, as `user`."""
        headers = {"X-Auth-Token": await self.token(user)}
        if microversion:
            headers["X-OpenStack-Nova-API-Version"] = microversion
        async with self.http.request(method, self.compute + path, json=json, headers=headers) as response:
            return response.status, await response.json() if response.content_length != 0 else None

    async def cascade(self, user: str, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        """A call to the cascade's app, as `user`."""
        headers = {"X-Auth-Token": await self.token(user)}
        async with self.http.request(method, self.cascade_url + path, json=json, headers=headers) as response:
            text = await response.text()
            return response.status, (await response.json() if text else None)

    async def make_server(self, user: str, name: str, **extra: Any) -> str:
        """A server made straight in the site by `user`."""
        _, flavors = await self.site(user, "GET", "/flavors")
        image = await self.image_id(user)
        status, body = await self.site(user, "POST", "/servers", {"server": {
            "name": name, "flavorRef": flavors["flavors"][0]["id"], "imageRef": image, **extra}})
        assert status == 202, body
        return body["server"]["id"]

    async def image_id(self, user: str) -> str:
        image_url = self.world.site("site1").image_url
        async with self.http.get(f"{image_url}/v2/images",
                                 headers={"X-Auth-Token": await self.token(user)}) as response:
            return (await response.json())["images"][0]["id"]

    async def add_site(self, *, adopt: bool = False) -> dict:
        cloud = {"auth": {"auth_url": self.world.keystone_url, "username": "admin", "password": "password",
                          "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
                 "region_name": "site1"}
        status, body = await self.cascade("admin", "POST", "/cascade/v1/sites",
                                          {"site": {"name": "site1", "cloud": cloud, "adopt": adopt}})
        assert status == 201, body
        self.site_id = body["site"]["id"]
        return body

    async def run_jobs(self, timeout: float = 30.0) -> None:
        """Run jobs until none is queued or running (retries included), but
        the periodic ones (status sync's), which are always queued."""
        worker = Worker(self.rt, settings=FAST)
        deadline = asyncio.get_running_loop().time() + timeout
        while await self._pending():
            assert asyncio.get_running_loop().time() < deadline, "jobs still due"
            await worker.run_once()
            await asyncio.sleep(0.02)

    async def _pending(self) -> int:
        periodic = {spec.kind for spec in registry.periodic_jobs()}
        live = [*await self.rt.jobs.list(state="queued", limit=1000), *await self.rt.jobs.list(state="running")]
        return sum(1 for job in live if job.kind not in periodic)


@pytest_asyncio.fixture(params=BACKENDS)
async def harness(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Harness]:
    world = World(1, build_seconds=0.0)
    await world.start()
    try:
        async with scratch_url(request.param, tmp_path) as url:
            settings = Settings(
                database=DatabaseSection(connection=url), jobs=FAST, sync=SyncSection(page_size=PAGE),
                keystone=KeystoneSection(auth_url=world.keystone_url, username="admin", password="password",
                                         project_name="admin"))
            rt = await Runtime.start(settings, background=False, worker=False)
            server = TestServer(build_app(settings, runtime=rt))
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    yield Harness(world, rt, http, str(server.make_url("")).rstrip("/"), {})
            finally:
                await server.close()
                await rt.stop()
    finally:
        await world.stop()
