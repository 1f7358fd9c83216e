"""Health probes (versions, capacity, slow and dead sites) and the monitor that reports them."""
from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import types

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cascade.config import SitesSection
from cascade.errors import SiteUnavailable
from cascade.sites.breaker import Breaker
from cascade.sites.client import SiteClient
from cascade.sites.health import HealthMonitor, LoopLag, capacity_of, probe, version_range
from cascade.sites.model import DEGRADED, DOWN, UP, Capacity, Site

STATS = {"vcpus": 64, "vcpus_used": 10, "memory_mb": 262144, "memory_mb_used": 8192, "count": 2,
         "running_vms": 5, "local_gb": 1000, "local_gb_used": 40}


class FakeNova:
    def __init__(self, max_version: str = "2.95") -> None:
        self.max_version = max_version
        self.delay = 0.0
        self.versions_status = 200
        self.statistics_status = 200
        self.seen: list[web.Request] = []
        app = web.Application()
        app.router.add_get("/compute/v2.1", self._version)
        app.router.add_get("/compute/v2.1/os-hypervisors/statistics", self._statistics)
        app.router.add_get("/compute/v2.1/os-hypervisors/detail", self._detail)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    @property
    def endpoint(self) -> str:
        return str(self.server.make_url("/compute/v2.1"))

    async def _version(self, request):
        self.seen.append(request)
        await asyncio.sleep(self.delay)
        if self.versions_status != 200:
            return web.json_response({"computeFault": {"code": 500, "message": "broken"}},
                                     status=self.versions_status)
        return web.json_response({"version": {"id": "v2.1", "status": "CURRENT", "version": self.max_version,
                                              "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
                                              "links": []}})

    async def _statistics(self, request):
        self.seen.append(request)
        if self.statistics_status != 200:
            return web.json_response({"forbidden": {"code": 403, "message": "Policy doesn't allow it."}},
                                     status=self.statistics_status)
        return web.json_response({"hypervisor_statistics": STATS})

    async def _detail(self, request):
        self.seen.append(request)
        return web.json_response({"hypervisors": [dict(STATS, id=1), dict(STATS, id=2)]})


class StubServiceAuth:
    async def access(self):
        return types.SimpleNamespace(auth_token="svc", project_id="p-svc")

    async def renew(self, stale=None):
        return await self.access()


def make_client(endpoint: str, **changes) -> SiteClient:
    site = Site(**{"id": "s1", "name": "one", "availability_zone": "az1", "region_name": "R",
                   "auth_url": "http://k/v3", "endpoints": {"compute": endpoint}} | changes)
    settings = SitesSection(list_deadline=1.0, probe_deadline=1.0, failure_threshold=3, open_seconds=30)
    return SiteClient(site, settings, service_auth=StubServiceAuth(), retry_delay=0.01)


@pytest.fixture
async def nova():
    fake = FakeNova()
    await fake.server.start_server()
    yield fake
    await fake.server.close()


@pytest.fixture
async def client(nova):
    site_client = make_client(nova.endpoint)
    yield site_client
    await site_client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_healthy_site_reports_versions_and_capacity(nova, client):
    result = await probe(client)
    assert result.health == UP and result.error is None
    assert (result.compute_min_version, result.compute_max_version) == ("2.1", "2.95")
    assert result.capacity == Capacity(vcpus=64, vcpus_used=10, memory_mb=262144, memory_mb_used=8192)
    statistics = nova.seen[-1]
    assert statistics.headers["X-Auth-Token"] == "svc"
    assert statistics.headers["X-OpenStack-Nova-API-Version"] == "2.87"   # the statistics API ends at 2.87


async def test_capacity_is_asked_at_the_site_maximum_when_lower(nova, client):
    nova.max_version = "2.60"
    result = await probe(client)
    assert result.compute_max_version == "2.60"
    assert nova.seen[-1].headers["OpenStack-API-Version"] == "compute 2.60"


async def test_a_slow_site_is_degraded(nova, client):
    nova.delay = 0.6                   # more than half the 1 s deadline
    result = await probe(client)
    assert result.health == DEGRADED and result.compute_max_version == "2.95"


async def test_a_site_past_the_deadline_is_down(nova, client):
    nova.delay = 1.5
    result = await probe(client)
    assert result.health == DOWN and "az1" in result.error


async def test_an_unreachable_site_is_down_and_counts_against_its_breaker():
    client = make_client(f"http://127.0.0.1:{closed_port()}/compute/v2.1")
    try:
        result = await probe(client)
        assert result.health == DOWN and result.capacity is None
        assert client.breaker.consecutive_failures == 1
    finally:
        await client.close()


async def test_a_failing_version_document_is_down(nova, client):
    nova.versions_status = 500
    result = await probe(client)
    assert result.health == DOWN and "broken" in result.error


async def test_without_admin_rights_capacity_is_unknown_but_the_site_is_up(nova, client):
    nova.statistics_status = 403
    result = await probe(client)
    assert result.health == UP and result.capacity is None
    assert "403" in result.error


async def test_statistics_gone_falls_back_to_summing_hypervisors(nova, client):
    nova.statistics_status = 404
    result = await probe(client)
    assert result.capacity == Capacity(vcpus=128, vcpus_used=20, memory_mb=524288, memory_mb_used=16384)


def test_version_range_reads_both_document_shapes():
    assert version_range({"version": {"id": "v2.1", "version": "2.90", "min_version": "2.1"}}) == ("2.1", "2.90")
    root = {"versions": [{"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""},
                         {"id": "v2.1", "status": "CURRENT", "version": "2.79", "min_version": "2.1"}]}
    assert version_range(root) == ("2.1", "2.79")
    assert version_range({"nothing": 1}) is None
    assert capacity_of({"other": {}}) is None


class FakeRegistry:
    """Records updates; with `refresh`, replaces the client's site value as a registry may."""

    def __init__(self, clients, *, refresh: bool = True) -> None:
        self.clients = {c.site.id: c for c in clients}
        self.updates: list[tuple[str, dict]] = []
        self.refresh = refresh

    async def update(self, site_id: str, **fields) -> None:
        self.updates.append((site_id, fields))
        if self.refresh:
            client = self.clients[site_id]
            client.site = dataclasses.replace(client.site, **{k: v for k, v in fields.items() if k != "last_error"})


@pytest.mark.parametrize("refresh", [True, False], ids=["client-refreshed", "client-kept"])
async def test_the_monitor_reports_changes_and_capacity_every_round(nova, client, refresh):
    registry = FakeRegistry([client], refresh=refresh)
    monitor = HealthMonitor(registry, lambda: registry.clients.values(), interval=60)
    await monitor.run_once()
    site_id, first = registry.updates[-1]
    assert site_id == "s1"
    assert first["health"] == UP and first["compute_max_version"] == "2.95" and "capacity" in first
    assert "compute_min_version" not in first        # the record already said 2.1

    await monitor.run_once()
    assert registry.updates[-1][1].keys() == {"capacity"}

    nova.versions_status = 500
    await monitor.run_once()
    fields = registry.updates[-1][1]
    assert fields["health"] == DOWN and "broken" in fields["last_error"] and "capacity" not in fields

    assert client.breaker.state == "open", "a failed probe stops calls at once"
    await monitor.run_once()                        # still down: the breaker now answers for the site
    count = len(registry.updates)
    await monitor.run_once()                        # nothing new to say
    assert len(registry.updates) == count

    nova.versions_status = 200
    client.breaker.open_seconds = 0                 # the open period has passed: the next probe is the trial
    await monitor.run_once()
    fields = registry.updates[-1][1]
    assert fields["health"] == UP and fields["last_error"] is None


async def test_the_monitor_probes_sites_concurrently_and_keeps_running(nova):
    nova.delay = 0.3
    clients = [make_client(nova.endpoint, id=f"s{i}", name=f"site{i}") for i in range(4)]
    registry = FakeRegistry(clients)
    monitor = HealthMonitor(registry, clients, interval=0.05)
    try:
        monitor.start()
        await asyncio.sleep(0.5)                    # sequential probes would need 1.2 s for one round
        await monitor.stop()
        assert {site_id for site_id, _ in registry.updates} == {"s0", "s1", "s2", "s3"}
        rounds = len(registry.updates)
        await asyncio.sleep(0.1)
        assert len(registry.updates) == rounds      # stopped for good
    finally:
        for c in clients:
            await c.close()


async def test_a_probe_without_an_answer_ends_the_calls_waiting_on_the_site(nova, client):
    nova.delay = 3.0                                # the site hangs
    registry = FakeRegistry([client])
    monitor = HealthMonitor(registry, [client], interval=60, deadline=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(client.request("compute", "GET", "", timeout=10))
    await asyncio.sleep(0.05)
    results = await monitor.run_once()
    assert results["s1"].health == DOWN and not results["s1"].answered
    with pytest.raises(SiteUnavailable):
        await waiting
    assert loop.time() - started < 1.5, "the waiting call ended with the probe, not at its 10 s deadline"
    assert client.breaker.state == "open"
    nova.delay = 0.0


async def test_a_probe_that_timed_out_while_the_loop_ran_late_is_not_held_against_the_site(nova, client):
    nova.delay = 3.0                                # no answer within the deadline...
    registry = FakeRegistry([client])
    monitor = HealthMonitor(registry, [client], interval=60, deadline=0.3)
    monitor.lag.note(0.5)                           # ...while this process's loop ran half a second late
    assert await monitor.run_once() == {}
    assert client.breaker.state == "closed" and registry.updates == []
    monitor.lag = LoopLag()                         # a punctual loop: the same timeout marks the site down
    assert (await monitor.run_once())["s1"].health == DOWN
    assert client.breaker.state == "open"
    nova.delay = 0.0


async def test_the_loop_lag_is_what_a_blocked_loop_overslept():
    lag = LoopLag(tick=0.02)
    lag.start()
    await asyncio.sleep(0.05)
    assert lag.worst() < 0.2
    time.sleep(0.3)                                 # something blocks the loop
    await asyncio.sleep(0.05)
    assert lag.worst() >= 0.2
    await lag.stop()


async def test_a_probe_answered_with_an_error_opens_the_breaker_but_leaves_calls_be(nova, client):
    nova.versions_status = 500
    monitor = HealthMonitor(FakeRegistry([client]), [client], interval=60)
    result = (await monitor.run_once())["s1"]
    assert result.health == DOWN and result.answered
    assert client.breaker.state == "open"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_sites_under_suspicion_are_probed_more_often(nova):
    clock = Clock()
    breaker = Breaker(failure_threshold=3, open_seconds=10, clock=clock)
    client = make_client(nova.endpoint)
    client.breaker = breaker
    monitor = HealthMonitor(FakeRegistry([client]), [client], interval=5, suspect_interval=1, clock=clock)
    try:
        assert monitor.due(client), "never probed yet"
        await monitor.run_once()
        clock.now += 1.5
        assert not monitor.due(client), "a healthy site waits the full interval"
        clock.now += 4
        assert monitor.due(client)
        await monitor.run_once()
        breaker.record_failure()                    # a real call failed
        clock.now += 1
        assert monitor.due(client), "a site whose calls fail is probed within a second"
        breaker.trip()
        clock.now += 5
        assert not monitor.due(client), "an open breaker refuses the probe: nothing to learn"
        clock.now += 5
        assert breaker.state == "half-open" and monitor.due(client), "the trial goes as soon as it may"
        breaker.allow()                             # a real call takes the trial...
        assert not (await monitor.run_once())["s1"].answered
        assert breaker.state == "half-open", "...and a probe refused meanwhile does not reopen the breaker"
    finally:
        await client.close()
