"""A cascade runtime (no API, no background loops) over two simcloud sites
served on the tests' own event loop, on SQLite and on PostgreSQL, for
driving recovery handlers and copy jobs step by step and checking the
sites directly."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete

from cascade.config import DatabaseSection, DefaultSection, JobsSection, KeystoneSection, Settings, SitesSection
from cascade.jobs.worker import Worker
from cascade.persistence.models import JobRow
from cascade.runtime import Runtime
from cascade.sites.discovery import discover
from simcloud.keystone.seed import DEFAULT_PASSWORD
from simcloud.world import World
from tests.dbfixtures import BACKENDS, scratch_url

FAST_JOBS = JobsSection(run_in_api=False, poll_interval=0.05, lease_seconds=5.0, backoff_base=0.01,
                        backoff_max=0.05, max_attempts=5)


@pytest_asyncio.fixture(scope="module")
async def world():
    world = World(2, build_seconds=0.05)
    await world.start()
    yield world
    await world.stop()


@pytest_asyncio.fixture(scope="module", params=BACKENDS)
async def rt(request, world, tmp_path_factory):
    state = tmp_path_factory.mktemp("consistency")
    async with scratch_url(request.param, state) as url:
        runtime = await _runtime(world, state, url)
        yield runtime
        await runtime.stop()


async def _runtime(world: World, state, url: str) -> Runtime:
    settings = Settings(
        DEFAULT=DefaultSection(state_dir=str(state)),
        database=DatabaseSection(connection=url),
        keystone=KeystoneSection(auth_url=world.keystone_url, username="admin", password=DEFAULT_PASSWORD,
                                 project_name="admin", region_name="Cascade"),
        sites=SitesSection(request_timeout=1.0, open_seconds=0.1),
        jobs=FAST_JOBS)
    rt = await Runtime.start(settings, background=False, worker=False)
    for handle in world.sites:
        cloud = {"auth": {"auth_url": world.keystone_url, "username": "admin", "password": DEFAULT_PASSWORD,
                          "project_name": "admin", "user_domain_name": "Default",
                          "project_domain_name": "Default"}, "region_name": handle.config.region}
        found = await discover(cloud, settings=settings.sites)
        await rt.registry.add(name=handle.name, availability_zone=handle.name, region_name=found.region_name,
                              auth_url=found.auth_url, endpoints=found.endpoints, auth={},
                              compute_min_version=found.compute_min_version,
                              compute_max_version=found.compute_max_version, capacity=found.capacity,
                              health="up")
    return rt


@pytest_asyncio.fixture
async def worker(rt):
    """A worker of the runtime, run step by step (`run_once`); every job is
    forgotten after the test."""
    yield Worker(rt, settings=FAST_JOBS)
    async with rt.db.session() as session:
        await session.execute(delete(JobRow))


@dataclasses.dataclass
class SiteView:
    """One site as the cascade's service account sees it (admin)."""
    rt: Runtime
    site_id: str

    async def call(self, method: str, path: str, **kwargs: Any):
        response = await self.rt.registry.client(self.site_id).service_request("compute", method, path, **kwargs)
        return response

    async def project_id(self) -> str:
        return (await self.rt.service_auth.access()).project_id

    async def boot(self, name: str, *, metadata: dict | None = None, count: int = 1) -> dict:
        """A server made straight in the site (as a cascade's POST would make it)."""
        flavor = next(f["id"] for f in (await self.call("GET", "/flavors")).body["flavors"] if f["name"] == "m1.tiny")
        images = await self.rt.registry.client(self.site_id).service_request("image", "GET", "/v2/images")
        image = next(i["id"] for i in images.body["images"] if i["name"] == "cirros")
        spec = {"name": name, "flavorRef": flavor, "imageRef": image, "metadata": metadata or {}}
        if count > 1:
            spec.update(min_count=count, max_count=count, return_reservation_id=True)
        response = await self.call("POST", "/servers", json={"server": spec})
        assert response.status == 202, response.text
        return response.body if count > 1 else response.body["server"]

    async def server(self, bottom_id: str) -> dict | None:
        response = await self.call("GET", f"/servers/{bottom_id}")
        return None if response.status == 404 else response.body["server"]

    async def named(self, name: str) -> list[dict]:
        response = await self.call("GET", "/servers/detail", params={"all_tenants": 1, "name": f"^{name}$"})
        return response.body["servers"]


@pytest.fixture
def site(rt) -> SiteView:
    return SiteView(rt, rt.registry.all()[0].id)
