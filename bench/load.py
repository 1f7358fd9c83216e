"""A mixed tenant workload from many concurrent clients, for a fixed time.

Each client is one asyncio task with one connection of its own, as a
tenant's `openstack` CLI would hold: it repeats one operation after another,
chosen by weight, until the time is up, and records each one's latency and
outcome. The same `Workload` runs against the cascade (top ids, every site
behind one endpoint) and straight at the sites (bottom ids, a random site's
own endpoint per operation), so the two can be set side by side.

Operations:

- `show`: `GET /servers/{id}` of a known server; right when 200 with that id;
- `list`: `GET /servers/detail?limit=PAGE` (the first page, or with the
  marker a previous list left); right when 200 with at most PAGE distinct
  servers, a first page holding at least what the tenant has (its spare
  servers aside) up to PAGE;
- `create`: `POST /servers`; right when 202 with an id;
- `action`: a soft reboot of a server the client owns that has had time to
  build; right when 202;
- `delete`: `DELETE` of the oldest server the client owns; right when 204.

A client owns the servers it made and, when it has none ready for an
action or a delete, one more taken from its target's `spare` servers (each
taken by one client only, so no two clients act on one server). Only when
no spare is left does such an operation become a create, so the mix stays
the one asked for from the first second.

Anything else (a 5xx, another status, a wrong body, a timeout, a broken
connection) counts as a failure of that operation, with its reason kept.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
import statistics
import time
from typing import Callable

import aiohttp

WEIGHTS = {"show": 45, "list": 10, "create": 15, "action": 10, "delete": 15, "list_next": 5}
BUILD_WAIT = 2.0     # seconds before a made (or rebooted) server is rebooted (simulated builds take less)


@dataclasses.dataclass
class Target:
    """Where one tenant's operations go: `compute(site)` is the compute
    endpoint for a server of `site` (the cascade's for every site when it
    is the target), `servers` the known servers as (site, id)."""

    token: str
    compute: Callable[[str | None], str]
    servers: list[tuple[str | None, str]]
    sites: list[str | None]
    flavor: Callable[[str | None], str]
    image: Callable[[str | None], str]
    least_rows: int = 0          # the fewest rows a first page may hold (what the tenant has, less its spare)
    list_params: dict = dataclasses.field(default_factory=dict)   # e.g. all_tenants for an admin
    # (site, marker) a list left, for the next pages: a tenant's own, as its markers name its servers
    markers: collections.deque = dataclasses.field(default_factory=collections.deque)
    # (site, id) of servers, not among `servers`, that clients may take to reboot and delete
    spare: collections.deque = dataclasses.field(default_factory=collections.deque)


@dataclasses.dataclass
class Tally:
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=lambda: collections.defaultdict(list))
    failures: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)

    def record(self, op: str, seconds: float, failure: str | None) -> None:
        if failure is None:
            self.latencies[op].append(seconds)
        else:
            self.failures[op] += 1
            self.reasons.setdefault(f"{op}: {failure[:60]}", failure[:300])

    def summary(self, elapsed: float) -> dict:
        ops = sorted(set(self.latencies) | set(self.failures))
        done = sum(len(v) for v in self.latencies.values()) + sum(self.failures.values())
        return {
            "seconds": round(elapsed, 1), "requests": done, "throughput": round(done / elapsed, 1),
            "failures": sum(self.failures.values()),
            "ops": {op: {"count": len(self.latencies[op]), "failed": self.failures[op],
                         **percentiles(self.latencies[op])} for op in ops},
            "failure_reasons": list(self.reasons.values())[:10],
        }


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": at(0.95), "p99_ms": at(0.99)}


class Client:
    def __init__(self, http: aiohttp.ClientSession, target: Target, tally: Tally, rng: random.Random,
                 page: int, microversion: str) -> None:
        self.http, self.target, self.tally, self.rng = http, target, tally, rng
        self.page, self.markers = page, target.markers
        self.headers = {"X-Auth-Token": target.token, "X-OpenStack-Nova-API-Version": microversion}
        # [when it may be rebooted, site, id, whether it made it] of the servers it owns, oldest first
        self.owned: collections.deque[list] = collections.deque()

    async def run(self, until: float, weights: dict[str, int]) -> None:
        ops, chances = list(weights), list(weights.values())
        while time.monotonic() < until:
            op = self.rng.choices(ops, chances)[0]
            if op in ("action", "delete") and not self._ripe(op):
                op = "create"
            if op == "list_next" and not self.markers:
                op = "list"
            began = time.monotonic()
            try:
                failure = await getattr(self, op)()
            except asyncio.TimeoutError:
                failure = "timeout"
            except aiohttp.ClientError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            self.tally.record(op, time.monotonic() - began, failure)

    def _ripe(self, op: str) -> bool:
        now = time.monotonic()
        if self.owned and (op == "delete" or any(owned[0] <= now for owned in self.owned)):
            return True
        if not self.target.spare:
            return False
        self.owned.append([now, *self.target.spare.popleft(), False])
        return True

    async def _call(self, method: str, url: str, **kwargs) -> tuple[int, dict | None]:
        async with self.http.request(method, url, headers=self.headers, **kwargs) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            return response.status, body

    async def show(self) -> str | None:
        site, server_id = self.rng.choice(self.target.servers)
        status, body = await self._call("GET", f"{self.target.compute(site)}/servers/{server_id}")
        if status != 200 or (body or {}).get("server", {}).get("id") != server_id:
            return f"{status} {str(body)[:200]}"
        return None

    async def list(self, marker: str | None = None, site: str | None = None) -> str | None:
        site = site if marker else self.rng.choice(self.target.sites)
        params = {"limit": str(self.page), **self.target.list_params}
        if marker:
            params["marker"] = marker
        status, body = await self._call("GET", f"{self.target.compute(site)}/servers/detail", params=params)
        servers = (body or {}).get("servers")
        if status != 200 or servers is None:
            return f"{status} {str(body)[:200]}"
        ids = {s["id"] for s in servers}
        if len(ids) != len(servers) or len(servers) > self.page or (
                not marker and len(servers) < min(self.target.least_rows, self.page)):
            return f"a page of {len(servers)} rows, {len(ids)} distinct (wanted {self.page})"
        if servers and len(self.markers) < 1000:
            self.markers.append((site, servers[-1]["id"]))
        return None

    async def list_next(self) -> str | None:
        site, marker = self.markers.popleft()
        return await self.list(marker, site)

    async def create(self) -> str | None:
        site = self.rng.choice(self.target.sites)
        body = {"server": {"name": f"load-{self.rng.randrange(1 << 30)}", "flavorRef": self.target.flavor(site),
                           "imageRef": self.target.image(site), "networks": "none"}}
        status, answer = await self._call("POST", f"{self.target.compute(site)}/servers", json=body)
        server_id = (answer or {}).get("server", {}).get("id")
        if status != 202 or not server_id:
            return f"{status} {str(answer)[:200]}"
        self.owned.append([time.monotonic() + BUILD_WAIT, site, server_id, True])
        return None

    async def action(self) -> str | None:
        owned = next(m for m in self.owned if m[0] <= time.monotonic())
        owned[0] = time.monotonic() + BUILD_WAIT      # not rebooted again while this reboot runs
        status, body = await self._call("POST", f"{self.target.compute(owned[1])}/servers/{owned[2]}/action",
                                        json={"reboot": {"type": "SOFT"}})
        return None if status == 202 else f"{status} {str(body)[:200]}"

    async def delete(self) -> str | None:
        _, site, server_id, _ = self.owned.popleft()
        status, body = await self._call("DELETE", f"{self.target.compute(site)}/servers/{server_id}")
        return None if status == 204 else f"{status} {str(body)[:200]}"

    async def clean_up(self) -> None:
        made = [(site, server_id) for _, site, server_id, mine in self.owned if mine]
        self.owned.clear()
        for site, server_id in made:
            try:
                await self._call("DELETE", f"{self.target.compute(site)}/servers/{server_id}")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass


async def run(targets: list[Target], *, clients: int, seconds: float, page: int = 1000,
              weights: dict[str, int] | None = None, microversion: str = "2.79", timeout: float = 120.0,
              seed: int = 1) -> dict:
    """`clients` clients spread over `targets` (tenants) for `seconds`;
    the summary of what they saw (`Tally.summary`)."""
    tally = Tally()
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        crowd = [Client(http, targets[i % len(targets)], tally, random.Random(rng.random()), page, microversion)
                 for i in range(clients)]
        began = time.monotonic()
        until = began + seconds
        await asyncio.gather(*(c.run(until, weights or WEIGHTS) for c in crowd))
        elapsed = time.monotonic() - began
        await asyncio.gather(*(c.clean_up() for c in crowd))
    return tally.summary(elapsed)
