"""simcloud at scale: start-up, memory and list throughput of a site that
holds many servers (`simcloud --preload-servers`).

Starts `simcloud --sites S --preload-servers N` as a subprocess, reports how
long it took to answer and its resident memory per server, changes a few
servers of site1 through the API (os-stop by their owner), then times, with
`--concurrency` clients each sending one request at a time, against site1:

- `changes-since` with few changes (what a status poll sends every 10 s):
  `GET /servers/detail?all_tenants=1&changes-since=T`;
- a page of 1000 of the site's servers, from the middle (a sweep's page):
  `GET /servers/detail?all_tenants=1&limit=1000&marker=M`, in the default
  order, by uuid, of one project (`project_id`), and a tenant's own page;
- `GET /servers/{id}` of random servers;
- for reference, a page sorted by `display_name`, an order the site keeps no
  index for (it sorts the whole site each time).

Prints requests per second and the median latency of each. Usage:
    .venv/bin/python bench/simcloud_lists.py [--sites 10] [--servers 10000] [--seconds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import aiohttp
import yaml


def start_simcloud(state: pathlib.Path, sites: int, servers: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "simcloud", "--sites", str(sites), "--state-dir", str(state),
         "--preload-servers", str(servers), "--build-seconds", "0.05"],
        stdout=subprocess.PIPE, stderr=open(state / "simcloud.log", "wb"))
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == b"ready":
            return process, time.perf_counter() - started
    raise SystemExit(f"simcloud did not start: {(state / 'simcloud.log').read_text()[-2000:]}")


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def token(http: aiohttp.ClientSession, auth: dict) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"], "domain": {"id": "default"}}}},
        "scope": {"project": {"name": auth["project_name"], "domain": {"id": "default"}}}}}
    async with http.post(auth["auth_url"].rstrip("/") + "/auth/tokens", json=body) as reply:
        assert reply.status == 201, await reply.text()
        return reply.headers["X-Subject-Token"]


class Site:
    def __init__(self, http: aiohttp.ClientSession, compute_url: str) -> None:
        self.http = http
        self.url = compute_url

    async def get(self, path: str, tok: str, params: Any = None) -> dict:
        async with self.http.get(self.url + path, params=params,
                                 headers={"X-Auth-Token": tok}) as reply:
            assert reply.status == 200, await reply.text()
            return await reply.json()

    async def action(self, server_id: str, tok: str, body: dict) -> None:
        async with self.http.post(f"{self.url}/servers/{server_id}/action", json=body,
                                  headers={"X-Auth-Token": tok}) as reply:
            assert reply.status == 202, await reply.text()


async def measure(name: str, call: Callable[[], Any], seconds: float, concurrency: int) -> None:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    print(f"  {name:<58} {len(latencies) / elapsed:8.1f} req/s   "
          f"p50 {statistics.median(latencies) * 1000:7.1f} ms")


async def run(args: argparse.Namespace, state: pathlib.Path) -> None:
    sim = json.loads((state / "simcloud.json").read_text())
    clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        admin = await token(http, clouds["admin"]["auth"])
        demo = await token(http, clouds["demo"]["auth"])
        site = Site(http, sim["sites"][0]["compute_url"])
        since = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        own = (await site.get("/servers", demo, {"limit": "1000"}))["servers"]
        for server in own[:args.changes]:
            await site.action(server["id"], demo, {"os-stop": None})
        await asyncio.sleep(0.2)     # the stops end (build 0.05 s)
        changed = await site.get("/servers/detail", admin,
                                 {"all_tenants": "1", "changes-since": since})
        assert len(changed["servers"]) == args.changes, len(changed["servers"])
        ids = [s["id"] for s in (await site.get(
            "/servers", admin, {"all_tenants": "1", "sort_key": "uuid", "sort_dir": "asc",
                                "limit": "1000"}))["servers"]]
        (middle,) = (await site.get("/servers", admin, {
            "all_tenants": "1", "name": f"^pre-site1-{args.servers // 2}$"}))["servers"]
        demo_middle = own[len(own) // 2]["id"]
        print(f"site1 of {args.sites} sites x {args.servers} servers, {args.concurrency} clients, "
              f"{args.seconds:g} s each:")
        await measure(f"changes-since, {args.changes} changed (detail, all_tenants)",
                      lambda: site.get("/servers/detail", admin,
                                       {"all_tenants": "1", "changes-since": since}),
                      args.seconds, args.concurrency)
        page = {"all_tenants": "1", "limit": "1000", "marker": middle["id"]}
        await measure("page of 1000, default order (detail, all_tenants, marker)",
                      lambda: site.get("/servers/detail", admin, page),
                      args.seconds, args.concurrency)
        await measure("page of 1000, sort_key=uuid (detail, all_tenants, marker)",
                      lambda: site.get("/servers/detail", admin, {
                          **page, "marker": ids[len(ids) // 2], "sort_key": "uuid",
                          "sort_dir": "asc"}), args.seconds, args.concurrency)
        await measure("page of 1000, sort_key=uuid (ids only, all_tenants, marker)",
                      lambda: site.get("/servers", admin, {
                          **page, "marker": ids[len(ids) // 2], "sort_key": "uuid",
                          "sort_dir": "asc"}), args.seconds, args.concurrency)
        own_project = (await site.get(f"/servers/{demo_middle}", admin)
                                      )["server"]["tenant_id"]
        await measure("page of 1000 of one project (detail, all_tenants, project_id)",
                      lambda: site.get("/servers/detail", admin, {
                          "all_tenants": "1", "project_id": own_project, "limit": "1000",
                          "marker": demo_middle}), args.seconds, args.concurrency)
        await measure("a tenant's own page of 1000 (detail, marker)",
                      lambda: site.get("/servers/detail", demo,
                                       {"limit": "1000", "marker": demo_middle}),
                      args.seconds, args.concurrency)
        rng = random.Random(1)
        await measure("show GET /servers/{id}",
                      lambda: site.get(f"/servers/{rng.choice(ids)}", admin),
                      args.seconds, args.concurrency)
        await measure("reference: page of 10 sorted by display_name (scans)",
                      lambda: site.get("/servers", admin, {
                          "all_tenants": "1", "limit": "10", "sort_key": "display_name"}),
                      args.seconds, args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--servers", type=int, default=10_000, help="preloaded per site")
    parser.add_argument("--changes", type=int, default=5, help="servers stopped before timing")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measure")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="simcloud-bench-") as tmp:
        empty, full = pathlib.Path(tmp, "empty"), pathlib.Path(tmp, "full")
        empty.mkdir()
        full.mkdir()
        idle, _ = start_simcloud(empty, args.sites, 0)
        empty_rss = rss_bytes(idle.pid)
        idle.terminate()
        idle.wait(10)
        process, ready_after = start_simcloud(full, args.sites, args.servers)
        try:
            total = args.sites * args.servers
            grown = rss_bytes(process.pid) - empty_rss
            print(f"simcloud --sites {args.sites} --preload-servers {args.servers}: ready in "
                  f"{ready_after:.1f} s; resident memory +{grown / 2**20:.0f} MiB over an empty "
                  f"world, {grown / total:.0f} bytes a server")
            asyncio.run(run(args, full))
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
