"""A cascade (runtime and app, in this process) in front of an in-process
simcloud world of two sites. Servers are made through the cascade as its
tenants make them, changed straight in their sites as a site's own users
would, and the sync's jobs are run one at a time by the test."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from cascade.app import build_app
from cascade.config import DatabaseSection, JobsSection, KeystoneSection, Settings, SitesSection, SyncSection
from cascade.jobs import registry
from cascade.persistence.jobs import Job
from cascade.persistence.site_sync import SiteSyncStore
from cascade.runtime import Runtime
from simcloud.world import World
from tests.dbfixtures import scratch_url

PAGE = 2   # servers per page: small, so that a handful of servers makes several pages
FAST = JobsSection(poll_interval=0.05, lease_seconds=10.0, backoff_base=0.01, backoff_max=0.05, max_attempts=4)


@dataclasses.dataclass
class Harness:
    world: World
    rt: Runtime
    http: aiohttp.ClientSession
    cascade_url: str
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    site_ids: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def sync_state(self) -> SiteSyncStore:
        return SiteSyncStore(self.rt.db)

    async def token(self, user: str) -> str:
        if user not in self.tokens:
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": "password"}}},
                "scope": {"project": {"name": user, "domain": {"id": "default"}}}}}
            async with self.http.post(f"{self.world.keystone_url}/auth/tokens", json=body) as response:
                assert response.status == 201, await response.text()
                self.tokens[user] = response.headers["X-Subject-Token"]
        return self.tokens[user]

    async def _call(self, url: str, user: str, method: str, json: Any, microversion: str | None
                    ) -> tuple[int, Any]:
        headers = {"X-Auth-Token": await self.token(user)}
        if microversion:
            headers["X-OpenStack-Nova-API-Version"] = microversion
        async with self.http.request(method, url, json=json, headers=headers) as response:
            text = await response.text()
            return response.status, (await response.json() if text else None)

    async def site(self, name: str, user: str, method: str, path: str, json: Any = None, *,
                   microversion: str | None = None) -> tuple[int, Any]:
        """A call straight at a site's Nova, as `user`."""
        return await self._call(self.world.site(name).compute_url + path, user, method, json, microversion)

    async def cascade(self, user: str, method: str, path: str, json: Any = None, *,
                      microversion: str | None = None) -> tuple[int, Any]:
        """A call to the cascade's app, as `user` (paths under /compute/v2.1 or /cascade/v1)."""
        return await self._call(self.cascade_url + path, user, method, json, microversion)

    async def add_sites(self) -> None:
        for handle in self.world.sites:
            cloud = {"auth": {"auth_url": self.world.keystone_url, "username": "admin", "password": "password",
                              "project_name": "admin", "user_domain_name": "Default",
                              "project_domain_name": "Default"},
                     "region_name": handle.config.region}
            status, body = await self.cascade("admin", "POST", "/cascade/v1/sites",
                                              {"site": {"name": handle.config.name, "cloud": cloud}})
            assert status == 201, body
            self.site_ids[handle.config.name] = body["site"]["id"]

    async def create(self, name: str, *, zone: str = "site1", user: str = "demo", **extra: Any) -> dict:
        """A server made through the cascade; its answer."""
        _, flavors = await self.cascade(user, "GET", "/compute/v2.1/flavors")
        tiny = next(f["id"] for f in flavors["flavors"] if f["name"] == "m1.tiny")
        _, images = await self.cascade(user, "GET", "/image/v2/images?name=cirros")
        spec = {"name": name, "flavorRef": tiny, "imageRef": images["images"][0]["id"],
                "availability_zone": zone, **extra}
        status, body = await self.cascade(user, "POST", "/compute/v2.1/servers", {"server": spec})
        assert status == 202, body
        return body

    async def bottom_id(self, top_id: str) -> str:
        route = await self.rt.routes.resolve("server", top_id)
        assert route.bottom_id is not None
        return route.bottom_id

    async def at_site(self, zone: str, top_id: str) -> dict:
        """The bottom server as the site shows it to its admin."""
        status, body = await self.site(zone, "admin", "GET", f"/servers/{await self.bottom_id(top_id)}")
        assert status == 200, body
        return body["server"]

    async def run(self, kind: str, zone: str) -> dict:
        """One run of a sync job for a site, as a worker would run it."""
        now = dt.datetime.now(dt.timezone.utc)
        job = Job(id=str(uuid.uuid4()), kind=kind, key=f"{kind}:{self.site_ids[zone]}",
                  payload={"site_id": self.site_ids[zone]}, state="running", attempts=1, max_attempts=8,
                  run_after=now, lease_owner="test", lease_expires_at=now, last_error=None, result=None,
                  created_at=now, updated_at=now, finished_at=None)
        handler = registry.handler_for(kind)
        assert handler is not None
        result = await handler(self.rt, job)
        if isinstance(result, registry.Finish):     # its last step, written as the job's end would
            async with self.rt.db.session(writing=True) as session:
                await result.step(session)
            return result.result
        return result


def settings_for(world: World, url: str, **sync: Any) -> Settings:
    return Settings(
        database=DatabaseSection(connection=url), jobs=FAST, sync=SyncSection(page_size=PAGE, **sync),
        sites=SitesSection(request_timeout=5.0),
        keystone=KeystoneSection(auth_url=world.keystone_url, username="admin", password="password",
                                 project_name="admin"))


@pytest_asyncio.fixture
async def harness(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Harness]:
    """Two sites (site2 builds and deletes slowly); SQLite unless the test
    is parametrized with `backend`; `[sync]` options from a `sync` marker."""
    backend = getattr(request, "param", "sqlite")
    marker = request.node.get_closest_marker("sync")
    world = World(2, build_seconds=0.0, site_overrides={"site2": {"build_seconds": 4.0}})
    await world.start()
    try:
        async with scratch_url(backend, tmp_path) as url:
            settings = settings_for(world, url, **(marker.kwargs if marker else {}))
            rt = await Runtime.start(settings, background=False, worker=False)
            server = TestServer(build_app(settings, runtime=rt))
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    harness = Harness(world, rt, http, str(server.make_url("")).rstrip("/"))
                    await harness.add_sites()
                    yield harness
            finally:
                await server.close()
                await rt.stop()
    finally:
        await world.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sync(**options): [sync] options of the harness's cascade")
