"""Health, microversion range and capacity of each site, measured by probes.

`probe(client)` asks a site for its compute version document (the
microversion range it serves) and, with the service token, for its hypervisor
statistics (capacity). A site that does not answer, or answers the version
document with an error, is down; one that answers slowly (more than half the
probe's deadline) is degraded. Probes go through the site's client, so they
also feed its circuit breaker, and after the breaker opens the first probe
past `open_seconds` is its trial call.

`HealthMonitor` probes every site concurrently every `interval` seconds and
writes what it learns to the registry. A site under suspicion (its breaker
half-open, or real calls to it failing since its last success, or down) is
probed every `SUSPECT_INTERVAL` instead, so a dead site is noticed within
about a second of the first failed call and a recovered one as soon as its
breaker lets a trial through. A probe that fails opens the site's breaker at
once; one that got no answer at all also ends the calls waiting on the site
(`SiteClient.trip`): a hung site is treated like a dead one. But a probe
that timed out while this process's own event loop ran late (`LoopLag`: by
more than a third of the deadline, lately) is not held against the site:
under its own overload the cascade would otherwise mark every site down.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import logging
import time
from typing import Any, Callable, Iterable, Mapping

from cascade.errors import CascadeError, SiteUnavailable
from cascade.sites.breaker import CLOSED, HALF_OPEN
from cascade.sites.client import SiteClient, SiteResponse, error_message, microversion_headers
from cascade.sites.model import DEGRADED, DOWN, UP, Capacity
from cascade.sites.versions import APIVersion

LOG = logging.getLogger(__name__)

# os-hypervisors/statistics is gone from 2.88 on
CAPACITY_MICROVERSION = APIVersion("2.87")
# seconds between probes of a site under suspicion (at most the monitor's interval)
SUSPECT_INTERVAL = 1.0


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    health: str
    compute_min_version: str | None = None
    compute_max_version: str | None = None
    capacity: Capacity | None = None     # None when the site would not tell
    error: str | None = None
    elapsed: float = 0.0
    answered: bool = True                # False: no answer at all (timed out, unreachable)


def version_range(document: Any) -> tuple[str, str] | None:
    """(min, max) compute microversions from a Nova version document: the
    v2.1 document `{"version": {...}}` or the root's `{"versions": [...]}`."""
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("version"), dict):
        version = document["version"]
    else:
        versions = [v for v in document.get("versions") or [] if isinstance(v, dict)]
        version = next((v for v in versions if v.get("id") == "v2.1"), None) or next(
            (v for v in versions if v.get("status") == "CURRENT"), None)
    if version is None:
        return None
    # the legacy v2.0 API has no microversions: empty strings
    return version.get("min_version") or "2.1", version.get("version") or "2.1"


def capacity_of(body: Any) -> Capacity | None:
    """Capacity from `os-hypervisors/statistics` or summed over `os-hypervisors/detail`."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("hypervisor_statistics"), dict):
        rows = [body["hypervisor_statistics"]]
    elif isinstance(body.get("hypervisors"), list):
        rows = [row for row in body["hypervisors"] if isinstance(row, dict)]
    else:
        return None
    return Capacity(**{field: sum(int(row.get(field) or 0) for row in rows)
                       for field in ("vcpus", "vcpus_used", "memory_mb", "memory_mb_used")})


def _describe(what: str, response: SiteResponse) -> str:
    return f"{what}: {response.status} {error_message(response.status, response.body, response.text)}"


async def probe(client: SiteClient, *, deadline: float | None = None,
                clock: Callable[[], float] = time.monotonic) -> ProbeResult:
    deadline = deadline or client.settings.probe_deadline
    started = clock()

    def elapsed() -> float:
        return clock() - started

    try:
        versions = await client.service_request("compute", "GET", "", timeout=deadline)
    except CascadeError as exc:
        return ProbeResult(DOWN, error=exc.message, elapsed=elapsed(),
                           answered=not isinstance(exc, SiteUnavailable))
    if not versions.ok:
        return ProbeResult(DOWN, error=_describe("compute version document", versions), elapsed=elapsed())
    found = version_range(versions.body)
    if found is None:
        return ProbeResult(DOWN, error="compute version document could not be read", elapsed=elapsed())
    low, high = found

    capacity, error = None, None
    remaining = deadline - elapsed()
    if remaining > 0:
        # the range just read may be newer than the site's record: ask in headers, not through its check
        version = str(min(APIVersion(high), CAPACITY_MICROVERSION))
        capacity, error = await _capacity(client, version, remaining)
    health = DEGRADED if elapsed() > deadline / 2 else UP
    return ProbeResult(health, low, high, capacity, error, elapsed())


async def _capacity(client: SiteClient, version: str, timeout: float) -> tuple[Capacity | None, str | None]:
    headers = microversion_headers("compute", version)
    try:
        response = await client.service_request("compute", "GET", "/os-hypervisors/statistics",
                                                headers=headers, timeout=timeout)
        if response.status == 404:
            response = await client.service_request("compute", "GET", "/os-hypervisors/detail",
                                                    headers=headers, timeout=timeout)
    except CascadeError as exc:
        return None, f"capacity: {exc.message}"
    if not response.ok:
        return None, _describe("capacity", response)
    capacity = capacity_of(response.body)
    return capacity, None if capacity is not None else "capacity: hypervisor statistics could not be read"


class LoopLag:
    """How late this process's event loop has lately run what was due: a
    ticker that asks to wake every `tick` seconds and notes by how much it
    overslept. A probe that timed out while the loop itself ran that late
    says nothing of the site: the cascade, not the site, was slow."""

    def __init__(self, *, tick: float = 0.1, window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tick, self._window, self._clock = tick, window, clock
        self._samples: collections.deque[tuple[float, float]] = collections.deque()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cascade-loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def note(self, late: float) -> None:
        now = self._clock()
        self._samples.append((now, late))
        while self._samples and self._samples[0][0] < now - self._window:
            self._samples.popleft()

    def worst(self) -> float:
        """The longest the loop was late within the window, in seconds."""
        return max((late for _, late in self._samples), default=0.0)

    def explains(self, waited: float) -> bool:
        """Whether a wait of `waited` seconds that ran out says more of this
        process than of the site: the loop ran late lately by a third of it."""
        return self.worst() > waited / 3

    async def _run(self) -> None:
        while True:
            asked = self._clock()
            await asyncio.sleep(self._tick)
            self.note(max(0.0, self._clock() - asked - self._tick))


class HealthMonitor:
    """Probes every site every `interval` seconds (sites under suspicion every
    `SUSPECT_INTERVAL`) and reports to the registry.

    `registry.update(site_id, **fields)` (plain or async) receives the health,
    microversion range and last error when they change, and the capacity
    after every probe that could read it. `clients` is a callable returning
    the current clients (sites come and go), or a fixed iterable or mapping of
    them.
    """

    def __init__(self, registry: Any, clients: Callable[[], Iterable[SiteClient]] | Iterable[SiteClient]
                 | Mapping[str, SiteClient], interval: float, *, deadline: float | None = None,
                 suspect_interval: float = SUSPECT_INTERVAL, clock: Callable[[], float] = time.monotonic,
                 lag: LoopLag | None = None) -> None:
        self._registry = registry
        self._clients = clients
        self._interval = interval
        self._suspect_interval = min(suspect_interval, interval)
        self._deadline = deadline
        self._clock = clock
        self._reported: dict[str, dict[str, str | None]] = {}   # site id -> last values written
        self._probed_at: dict[str, float] = {}                  # site id -> when its last probe started
        self._probing: dict[str, asyncio.Task] = {}             # site id -> its probe under way
        self._task: asyncio.Task | None = None
        self.lag = lag or LoopLag(clock=clock)   # given: shared with the sites' clients

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="cascade-health-monitor")
        self.lag.start()

    async def stop(self) -> None:
        await self.lag.stop()
        task, self._task = self._task, None
        tasks = [t for t in [task, *self._probing.values()] if t is not None]
        self._probing = {}
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_once(self) -> dict[str, ProbeResult]:
        """Probe every site once, now and concurrently, and report; the results by site id.
        The registry is read again first, so every process sees sites another one added or removed."""
        await self._reload()
        clients = self._current_clients()
        self._forget_others({client.site.id for client in clients})
        results = await asyncio.gather(*(self._probe(client) for client in clients))
        return {client.site.id: result for client, result in zip(clients, results) if result is not None}

    async def _reload(self) -> None:
        if callable(getattr(self._registry, "load", None)):
            try:
                await self._registry.load()
            except Exception:  # noqa: BLE001 - probe the sites already known
                LOG.warning("could not reload the site registry", exc_info=True)

    def due(self, client: SiteClient) -> bool:
        """Whether `client`'s site should be probed now."""
        site_id, breaker = client.site.id, client.breaker
        if site_id in self._probing:
            return False
        state = breaker.state
        if state not in (CLOSED, HALF_OPEN):
            return False            # open: a probe would learn nothing; it is due again once half-open
        last = self._probed_at.get(site_id)
        if last is None:
            return True
        suspect = state == HALF_OPEN or breaker.consecutive_failures > 0 or client.site.health == DOWN
        wait = self._suspect_interval if suspect else self._interval
        return self._clock() - last >= wait

    async def _loop(self) -> None:
        reloaded = self._clock()
        while True:
            try:
                if self._clock() - reloaded >= self._interval:
                    reloaded = self._clock()
                    await self._reload()
                clients = self._current_clients()
                self._forget_others({client.site.id for client in clients})
                for client in clients:
                    if self.due(client):
                        self._probing[client.site.id] = asyncio.get_running_loop().create_task(
                            self._probe(client), name=f"cascade-probe:{client.site.name}")
            except Exception:  # noqa: BLE001 - the monitor must outlive a bad round
                LOG.exception("health round failed")
            await asyncio.sleep(self._suspect_interval)

    async def _probe(self, client: SiteClient) -> ProbeResult | None:
        site_id = client.site.id
        self._probed_at[site_id] = self._clock()
        try:
            # a probe past a closed breaker reached the site; otherwise it was
            # the half-open trial (whose failure reopens the breaker itself) or refused
            was_closed = client.breaker.state == CLOSED
            result = await probe(client, deadline=self._deadline)
            if result.health == DOWN and not result.answered and self._loop_was_late(client):
                LOG.info("probe of site %s timed out while this process ran %.1f s late: not held against "
                         "the site", client.site.name, self.lag.worst())
                return None
            if result.health == DOWN and was_closed:
                if result.answered:
                    client.breaker.trip()
                else:
                    client.trip()
            await self._report(client, result)
            return result
        except Exception:  # noqa: BLE001 - one site's crash must not stop the others
            LOG.exception("probe of site %s crashed", client.site.name)
            return None
        finally:
            if self._probing.get(site_id) is asyncio.current_task():
                del self._probing[site_id]

    def _loop_was_late(self, client: SiteClient) -> bool:
        deadline = self._deadline or client.settings.probe_deadline
        return self.lag.explains(deadline)

    def _forget_others(self, current: set[str]) -> None:
        """Drop what is kept of sites that are gone."""
        self._reported = {site_id: values for site_id, values in self._reported.items() if site_id in current}
        self._probed_at = {site_id: at for site_id, at in self._probed_at.items() if site_id in current}

    def _current_clients(self) -> list[SiteClient]:
        clients = self._clients() if callable(self._clients) else self._clients
        if isinstance(clients, Mapping):
            clients = clients.values()
        return list(clients)

    async def _report(self, client: SiteClient, result: ProbeResult) -> None:
        site = client.site
        # compare with what this monitor last reported, as the registry may keep an older value on the client
        known = self._reported.get(site.id) or {
            "health": site.health, "compute_min_version": site.compute_min_version,
            "compute_max_version": site.compute_max_version, "last_error": None}
        now = {"health": result.health, "compute_min_version": result.compute_min_version or known[
            "compute_min_version"], "compute_max_version": result.compute_max_version or known[
            "compute_max_version"], "last_error": result.error}
        fields: dict[str, Any] = {name: value for name, value in now.items() if value != known[name]}
        if site.health == DOWN and result.health != DOWN:
            fields["health"] = result.health   # marked down by its breaker since this monitor's last report
        if "health" in fields:
            LOG.info("site %s is now %s%s", site.name, result.health, f": {result.error}" if result.error else "")
        if result.capacity is not None:
            fields["capacity"] = result.capacity
        if not fields:
            return
        try:
            outcome = self._registry.update(site.id, **fields)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:  # noqa: BLE001 - a failed write is retried by the next round
            LOG.exception("could not record the health of site %s", site.name)
            return
        self._reported[site.id] = now
