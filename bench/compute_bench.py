"""Compute benchmark: the cascade against a direct call to a site, side by side.

Starts `cascade demo` with 10 simulated sites, fills site1 with 1,000 servers
and every other site with 100 (all made through the cascade), then times:

1. `GET /servers/{id}`: straight at the site (bottom id) and through the cascade (top id);
2. a 1,000-server `GET /servers/detail?limit=1000` of site1: straight at site1
   and through the cascade (`availability_zone=site1`);
3. a fan-out `GET /servers/detail?limit=1000` over all 10 sites through the
   cascade, against the slowest single site's own 1,000-row page.

Prints medians, p95 and the ratios. Usage:
    .venv/bin/python bench/compute_bench.py [--rounds 30]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(state: pathlib.Path, port: int, sites: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "cascade.cli", "demo", "--sites", str(sites), "--state-dir", str(state),
         "--port", str(port), "--build-seconds", "0.05"],
        stdout=subprocess.PIPE, stderr=open(state / "demo.log", "wb"), start_new_session=True)
    for line in process.stdout:
        if line.strip() == b"ready":
            return process
    raise SystemExit(f"demo did not start: {(state / 'demo.log').read_text()[-2000:]}")


async def token(http: aiohttp.ClientSession, auth: dict) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": auth["project_name"], "domain": {"name": "Default"}}}}}
    async with http.post(auth["auth_url"].rstrip("/") + "/auth/tokens", json=body) as r:
        return r.headers["X-Subject-Token"]


async def lift_quotas(http, cascade: str, auth: dict, admin_auth: dict) -> None:
    """The bench makes far more servers than Nova's default quotas allow: the
    cascade's admin makes the tenant's quotas unlimited first."""
    admin = {"X-Auth-Token": await token(http, admin_auth)}
    async with http.get(auth["auth_url"].rstrip("/") + "/auth/tokens",
                        headers={**admin, "X-Subject-Token": await token(http, auth)}) as r:
        project = (await r.json())["token"]["project"]["id"]
    body = {"quota_set": {"instances": -1, "cores": -1, "ram": -1}}
    async with http.put(f"{cascade}/os-quota-sets/{project}", json=body, headers=admin) as r:
        assert r.status == 200, await r.text()


async def timed(http, url, headers, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        async with http.get(url, headers=headers) as r:
            await r.read()
            assert r.status == 200, (url, r.status)
        samples.append(time.perf_counter() - started)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


async def fill(http, cascade, headers, zone: str, count: int, flavor: str, image: str) -> None:
    semaphore = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with semaphore:
            body = {"server": {"name": f"bench-{zone}-{i:04d}", "flavorRef": flavor, "imageRef": image,
                               "networks": "none", "availability_zone": zone}}
            async with http.post(f"{cascade}/servers", json=body,
                                 headers={**headers, "X-OpenStack-Nova-API-Version": "2.37"}) as r:
                assert r.status == 202, await r.text()

    await asyncio.gather(*(one(i) for i in range(count)))


async def main(args: argparse.Namespace) -> None:
    state = pathlib.Path(tempfile.mkdtemp(prefix="cascade-bench-"))
    port = free_port()
    demo = start_demo(state, port, args.sites)
    try:
        clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
        sim = json.loads((state / "simcloud" / "simcloud.json").read_text())
        site_urls = {s["name"]: s["url"].rstrip("/") + "/compute/v2.1" for s in sim["sites"]}
        cascade = f"http://127.0.0.1:{port}/compute/v2.1"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as http:
            headers = {"X-Auth-Token": await token(http, clouds["cascade"]["auth"])}
            async with http.get(f"{cascade}/flavors", headers=headers) as r:
                flavor = next(f["id"] for f in (await r.json())["flavors"] if f["name"] == "m1.tiny")
            async with http.get(f"http://127.0.0.1:{port}/image/v2/images", headers=headers) as r:
                image = next(i["id"] for i in (await r.json())["images"] if i["name"] == "cirros")
            await lift_quotas(http, cascade, clouds["cascade"]["auth"], clouds["cascade-admin"]["auth"])
            started = time.perf_counter()
            await fill(http, cascade, headers, "site1", args.big, flavor, image)
            for i in range(2, args.sites + 1):
                await fill(http, cascade, headers, f"site{i}", args.small, flavor, image)
            made = args.big + args.small * (args.sites - 1)
            print(f"setup: {made} servers created through the cascade in {time.perf_counter() - started:.1f} s")

            async with http.get(f"{site_urls['site1']}/servers?limit=1", headers=headers) as r:
                bottom = (await r.json())["servers"][0]["id"]
            async with http.get(f"{cascade}/servers?limit=1&availability_zone=site1", headers=headers) as r:
                top = (await r.json())["servers"][0]["id"]

            rows = []
            direct = await timed(http, f"{site_urls['site1']}/servers/{bottom}", headers, args.rounds * 5)
            through = await timed(http, f"{cascade}/servers/{top}", headers, args.rounds * 5)
            rows.append(("GET /servers/{id}", direct, through))
            page = "/servers/detail?limit=1000"
            direct = await timed(http, site_urls["site1"] + page, headers, args.rounds)
            through = await timed(http, cascade + page + "&availability_zone=site1", headers, args.rounds)
            rows.append(("detail list, 1,000 rows of one site", direct, through))
            slowest = None
            for name, url in site_urls.items():
                samples = await timed(http, url + page, headers, args.rounds)
                if slowest is None or statistics.median(samples) > statistics.median(slowest):
                    slowest = samples
            through = await timed(http, cascade + page, headers, args.rounds)
            rows.append((f"fan-out list over {args.sites} sites vs slowest site", slowest, through))

        print(f"{'operation':<46} {'direct p50/p95 ms':>20} {'cascade p50/p95 ms':>20} {'ratio p50':>10}")
        for name, direct, through in rows:
            d50, d95 = summary(direct)
            c50, c95 = summary(through)
            print(f"{name:<46} {d50:>9.1f} / {d95:<8.1f} {c50:>9.1f} / {c95:<8.1f} {c50 / d50:>9.2f}x")
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--big", type=int, default=1000, help="servers in site1")
    parser.add_argument("--small", type=int, default=100, help="servers in each other site")
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
