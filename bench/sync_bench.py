"""Status sync benchmark: what keeping the cascade's view of 10 sites x
10,000 servers current costs, and how soon a change made in a site shows.

Starts simcloud with S sites of N preloaded servers each (`simcloud
--preload-servers N`) and, in this process, a cascade Runtime (SQLite
unless --database-url, the default `[sync]` and `[jobs]` options, health
probes and one worker) whose admin API adds each site with `"adopt": true`,
so that every preloaded server is routed, projected and stamped. Once every
adoption and stamp job has ended and every site has had its first sync
(a sweep), it measures, over a window of M minutes:

- latency: C status changes made straight in the sites (a random server of
  a random site stopped, or started if stopped, by the site's admin),
  spread over the window; for each, the time from the site's 202 until the
  sync wrote the new status into the projection (p50 and max);
- requests per minute sent to each site by the sync (lists, stamps, single
  servers), apart from the health probes;
- CPU seconds per minute of this process (`time.process_time`), which is
  the cascade: its sync, health probes and job engine (the bench itself only
  sends the C changes and reads C rows);

then times one full sweep of one site (every server listed, applied and
checked), alone. Usage:

    .venv/bin/python bench/sync_bench.py [--sites 10] [--servers 10000] [--minutes 6] [--changes 30]
                                         [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
from aiohttp import web

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.demoproc import free_port  # noqa: E402

from cascade import config  # noqa: E402
from cascade.app import build_app  # noqa: E402
from cascade.persistence.models import utcnow  # noqa: E402
from cascade.persistence.site_sync import SiteSyncStore  # noqa: E402
from cascade.runtime import Runtime  # noqa: E402
from cascade.sites.client import SiteClient  # noqa: E402
from cascade.sync import jobs as sync_jobs  # noqa: E402

SETUP_TIMEOUT = 1800.0



@contextlib.contextmanager
def simcloud(work: pathlib.Path, sites: int, servers: int):
    """simcloud with `sites` sites of `servers` servers each, until the block ends."""
    command = [sys.executable, "-m", "simcloud", "--sites", str(sites), "--state-dir", str(work / "sim"),
               "--build-seconds", "0.1", "--preload-servers", str(servers)]
    log = work / "simcloud.log"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(log, "wb"), start_new_session=True,
                               cwd=ROOT)
    try:
        for line in process.stdout:
            if line.strip() == b"ready":
                break
        else:
            raise SystemExit(f"simcloud did not start (does it have --preload-servers?): {log.read_text()[-2000:]}")
        yield json.loads((work / "sim" / "simcloud.json").read_text())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class RequestCounter:
    """Every call the cascade sends a site, by site and by what it is."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._send = SiteClient._send
        counter = self

        async def counted(client, method, url, *args, **kwargs):
            counter.counts[(client.site.name, counter.kind(method, url))] += 1
            return await counter._send(client, method, url, *args, **kwargs)

        SiteClient._send = counted

    @staticmethod
    def kind(method: str, url: str) -> str:
        path = url.split("?", 1)[0]
        if "/servers/detail" in path:
            return "list"
        if "/metadata/" in path:
            return "stamp"
        if "/servers/" in path:
            return "server"
        return "probe"

    def reset(self) -> collections.Counter[tuple[str, str]]:
        counts, self.counts = self.counts, collections.Counter()
        return counts


async def token(http: aiohttp.ClientSession, keystone: str, user: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": "password", "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": user, "domain": {"name": "Default"}}}}}
    async with http.post(f"{keystone}/auth/tokens", json=body) as r:
        assert r.status == 201, await r.text()
        return r.headers["X-Subject-Token"]


async def add_sites(rt: Runtime, http: aiohttp.ClientSession, url: str, sim: dict, admin: str) -> None:
    """Every site added with adoption, then every adoption and stamp job and
    every site's first sync (a sweep) awaited."""
    for site in sim["sites"]:
        cloud = {"auth": {"auth_url": sim["keystone_url"], "username": "admin", "password": "password",
                          "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
                 "region_name": site["region"]}
        async with http.post(f"{url}/cascade/v1/sites", headers={"X-Auth-Token": admin},
                             json={"site": {"name": site["name"], "cloud": cloud, "adopt": True}}) as r:
            assert r.status == 201, await r.text()
    store = SiteSyncStore(rt.db)
    deadline = time.monotonic() + SETUP_TIMEOUT
    while True:
        busy = [job for state in ("queued", "running") for job in await rt.jobs.list(state=state, limit=1000)
                if job.kind in ("site.adopt", "site.stamp")]
        unsynced = [s for s in rt.registry.all() if (await store.get(s.id)).swept_at is None]
        failed = await rt.jobs.list(state="failed", limit=10)
        if failed:
            raise SystemExit(f"setup jobs failed: {[(j.kind, j.last_error) for j in failed]}")
        if not busy and not unsynced:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"setup did not end: {len(busy)} job(s), {len(unsynced)} site(s) never synced")
        await asyncio.sleep(1.0)


@dataclasses.dataclass
class Change:
    site: str
    latency: float | None = None


async def change_one(rt: Runtime, http: aiohttp.ClientSession, sim: dict, admin: str, rng: random.Random,
                     wait: float, picked: set[str]) -> Change:
    """One server of a random site stopped (or started) straight in the site.
    Its latency is when the sync wrote the change into the projection (the
    row's `synced_at`) less when the site took it, read once, `wait` later,
    so that the bench does not poll the projection meanwhile."""
    site = rng.choice(rt.registry.all())
    rows = await rt.servers.page(site_id=site.id, limit=1000)
    row = rng.choice([r for r in rows if r.status in ("ACTIVE", "SHUTOFF") and not r.task_state
                      and r.top_id not in picked])
    picked.add(row.top_id)
    bottom = (await rt.routes.bottom_ids("server", site.id, [row.top_id]))[row.top_id]
    compute = next(s["compute_url"] for s in sim["sites"] if s["name"] == site.name)
    action, wanted = ("os-stop", "SHUTOFF") if row.status == "ACTIVE" else ("os-start", "ACTIVE")
    async with http.post(f"{compute}/servers/{bottom}/action", headers={"X-Auth-Token": admin},
                         json={action: None}) as r:
        assert r.status == 202, await r.text()
    changed = utcnow()
    await asyncio.sleep(wait)
    now = await rt.servers.get(row.top_id)
    if now.status != wanted or now.task_state or now.synced_at is None:
        return Change(site.name)
    return Change(site.name, (now.synced_at - changed).total_seconds())


async def measure(args: argparse.Namespace, work: pathlib.Path) -> dict:
    logging.basicConfig(level=logging.WARNING)
    with simcloud(work, args.sites, args.servers) as sim:
        port = free_port()
        settings = config.Settings(
            DEFAULT=config.DefaultSection(listen=f"127.0.0.1:{port}", state_dir=str(work)),
            database=config.DatabaseSection(connection=args.database_url or f"sqlite:///{work / 'cascade.sqlite'}"),
            keystone=config.KeystoneSection(auth_url=sim["keystone_url"], username="admin", password="password",
                                            project_name="admin"))
        counter = RequestCounter()
        rt = await Runtime.start(settings, background=True, worker=True)
        runner = web.AppRunner(build_app(settings, runtime=rt), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
                admin = await token(http, sim["keystone_url"], "admin")
                began = time.monotonic()
                await add_sites(rt, http, f"http://127.0.0.1:{port}", sim, admin)
                setup = time.monotonic() - began
                print(f"set-up: {args.sites} sites x {args.servers} servers adopted, stamped and first swept "
                      f"in {setup:.0f} s", flush=True)

                counter.reset()
                window = args.minutes * 60
                period = settings.sync.changes_period
                rng = random.Random(args.seed)
                cpu, began = time.process_time(), time.monotonic()
                changes, picked = [], set()
                for n in range(args.changes):
                    await asyncio.sleep(max(0.0, began + n * window / args.changes - time.monotonic()))
                    changes.append(asyncio.create_task(change_one(rt, http, sim, admin, rng, 3 * period, picked)))
                await asyncio.sleep(max(0.0, began + window - time.monotonic()))
                done = await asyncio.gather(*changes)
                elapsed = time.monotonic() - began
                cpu = time.process_time() - cpu
                counts = counter.reset()

                site = rt.registry.all()[0]
                swept = time.monotonic()
                result = await sync_jobs.sweep(rt, site, SiteSyncStore(rt.db), retry_in=0)
                sweep_seconds = time.monotonic() - swept
        finally:
            await runner.cleanup()
            await rt.stop()
    minutes = elapsed / 60
    latencies = [c.latency for c in done if c.latency is not None]
    per_site = {name: {kind: counts[(name, kind)] / minutes for kind in ("list", "stamp", "server", "probe")}
                for name in sorted({name for name, _ in counts})}
    sync_rpm = [sum(v for k, v in kinds.items() if k != "probe") for kinds in per_site.values()]
    return {
        "sites": args.sites, "servers": args.servers, "database": "postgresql" if args.database_url else "sqlite",
        "changes_period": period, "sweep_period": settings.sync.sweep_period, "window_minutes": round(minutes, 2),
        "setup_seconds": round(setup, 1),
        "changes": len(done), "changes_missed": len(done) - len(latencies),
        "latency_p50": round(statistics.median(latencies), 2) if latencies else None,
        "latency_max": round(max(latencies), 2) if latencies else None,
        "sync_requests_per_minute_per_site": {"min": round(min(sync_rpm), 1), "median": round(
            statistics.median(sync_rpm), 1), "max": round(max(sync_rpm), 1)},
        "by_kind_per_minute_site_median": {kind: round(statistics.median(k[kind] for k in per_site.values()), 1)
                                           for kind in ("list", "stamp", "server", "probe")},
        "cpu_seconds_per_minute": round(cpu / minutes, 2),
        "sweep_seconds": round(sweep_seconds, 2), "sweep_servers": result["servers"],
        "sweep_pages": result["pages"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--servers", type=int, default=10_000, help="servers per site")
    parser.add_argument("--minutes", type=float, default=6.0,
                        help="measuring window (6 minutes holds each site's periodic sweep, every 5)")
    parser.add_argument("--changes", type=int, default=30, help="status changes made in the sites meanwhile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as work:
        figures = asyncio.run(measure(args, pathlib.Path(work)))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
