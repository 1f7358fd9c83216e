"""Scale benchmark: the cascade at 10 and 100 sites, 100,000 and 1,000,000
servers, under 1,000 concurrent clients, against the sites straight.

For each configuration SITESxSERVERS (servers per site), in turn:

1. `cascade demo --sites S --preload-servers N` (SQLite, simcloud in a
   process of its own, the cascade in the demo's process): simcloud starts
   with every site full, the cascade adopts them all and prints `ready`;
   the time to `ready` and the adoption jobs' own span are kept, then the
   top-id stamps are waited for (their span too), then the status sync's
   pass over the servers they changed (every site's watermark past the
   stamps' end; each wait at most `--stamp-wait`);
2. quiet figures, one request at a time: a routed show against a show
   straight at a site, a 1,000-row `GET /servers/detail` through the
   cascade (every site) against each sampled site's own 1,000-row page;
3. the mixed workload of `bench/load.py` (show, list and next page, create,
   reboot, delete) from C concurrent clients for D seconds through the
   cascade, then the same from C clients straight at the sites (each
   operation at a random site, with that site's ids); meanwhile status
   changes made straight in random sites, each timed until the cascade's
   view shows it (the sync period achieved);
4. the cascade's resident memory (sampled every second, peak) and its
   database's size on disk;
5. during each load phase, the CPU each process used (the cascade, simcloud,
   this load generator) in seconds of CPU a second: which of them the
   machine's 2 cores were spent on.

Prints one JSON document per configuration as it ends, then the Markdown
table of docs/performance.md. Usage:

    .venv/bin/python bench/scale_bench.py [--configs 10x10000,100x1000,100x10000]
                                          [--clients 1000] [--seconds 60]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import json
import os
import pathlib
import random
import statistics
import sys
import tempfile
import threading
import time

import aiohttp
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from cascade.cli import processes  # noqa: E402
from tests.demoproc import free_port, running_demo  # noqa: E402

STAMP_KEY = "cascade_top_id"
MICROVERSION = "2.79"
PAGE = 1000              # rows a list asks for
DIRECT_SPARE = 100       # servers of each sampled site the direct workload may reboot and delete
SAMPLED_SITES = 10       # sites whose ids the direct workload and the quiet pages use


def rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch:
    """The peak resident memory of a process, sampled every second in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_mib(self.pid))
            self._stop.wait(1.0)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """The CPU each named process used, a second at a time, over a `with` block."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.shares: dict[str, float] = {}

    def __enter__(self) -> "CpuWatch":
        self._began = time.monotonic(), {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc) -> None:
        began, used = self._began
        wall = time.monotonic() - began
        self.shares = {name: round((cpu_seconds(pid) - used[name]) / wall, 2) for name, pid in self.pids.items()}


class Cloud:
    """The demo's clouds.yaml as plain HTTP: tokens and their catalogs."""

    def __init__(self, http: aiohttp.ClientSession, state: pathlib.Path) -> None:
        self.http = http
        self.clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]

    async def token(self, cloud: str, *, user: str | None = None) -> tuple[str, dict]:
        """(token, {region: compute url}) of a cloud's user, or of another
        `user` of its Keystone (a preloaded tenant: project of the same
        name, password "password")."""
        auth = self.clouds[cloud]["auth"]
        name, password, project = (auth["username"], auth["password"], auth["project_name"]) if user is None \
            else (user, "password", user)
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": name, "password": password, "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
        async with self.http.post(auth["auth_url"].rstrip("/") + "/auth/tokens", json=body) as r:
            token, catalog = r.headers["X-Subject-Token"], (await r.json())["token"]["catalog"]
        computes = {e["region_id"]: e["url"] for s in catalog if s["type"] == "compute"
                    for e in s["endpoints"] if e["interface"] == "public"}
        return token, computes

    async def get(self, url: str, token: str, *, busy_ok: bool = False, **params) -> dict | None:
        """The answer's body; with `busy_ok`, None for a 503 (busy: ask again later)."""
        async with self.http.get(url, params=params, headers={"X-Auth-Token": token,
                                                              "X-OpenStack-Nova-API-Version": MICROVERSION}) as r:
            if r.status == 503 and busy_ok:
                return None
            if r.status != 200:
                raise SystemExit(f"GET {url}: {r.status} {await r.text()}")
            return await r.json(content_type=None)

    async def send(self, method: str, url: str, token: str, body: dict | None = None) -> int:
        async with self.http.request(method, url, json=body, headers={"X-Auth-Token": token}) as r:
            return r.status


def _span(jobs: list[dict]) -> float | None:
    if not jobs or any(j["finished_at"] is None for j in jobs):
        return None
    began = min(datetime.datetime.fromisoformat(j["created_at"]) for j in jobs)
    ended = max(datetime.datetime.fromisoformat(j["finished_at"]) for j in jobs)
    return round((ended - began).total_seconds(), 1)


async def jobs_of(cloud: Cloud, admin_url: str, token: str, kind: str, state: str | None = None) -> list[dict]:
    found, marker = [], None
    while True:
        params = {"kind": kind, "limit": "1000", **({"state": state} if state else {}),
                  **({"marker": marker} if marker else {})}
        page = (await cloud.get(f"{admin_url}/jobs", token, **params))["jobs"]
        found += page
        if len(page) < 1000:
            return found
        marker = page[-1]["id"]


async def wait_for_sync(cloud: Cloud, admin_url: str, token: str, since: datetime.datetime,
                        timeout: float) -> bool:
    """Whether, within `timeout` seconds, every site's status sync got past
    `since` (its watermark, in the site's clock, is later): the stamps move
    every server of a site, and the polls after them list them all once."""
    deadline = time.monotonic() + timeout
    names = [site["name"] for site in (await cloud.get(f"{admin_url}/sites", token))["sites"]]
    while names:
        behind = []
        for name in names:
            sync = (await cloud.get(f"{admin_url}/servers", token, site=name, limit="1"))["sync"]
            mark = sync.get("changes_since")
            if not mark or datetime.datetime.fromisoformat(mark.replace("Z", "+00:00")) <= since:
                behind.append(name)
        names = behind
        if names and time.monotonic() > deadline:
            return False
        if names:
            await asyncio.sleep(2.0)
    return True


async def wait_for_stamps(cloud: Cloud, admin_url: str, token: str, timeout: float) -> bool:
    """Whether every stamp job ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        busy = [j for state in ("queued", "running")
                for j in (await cloud.get(f"{admin_url}/jobs", token, kind="site.stamp", state=state, limit="1"))["jobs"]]
        if not busy:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(2.0)


async def timed(calls: int, call) -> dict:
    seconds = []
    for _ in range(calls):
        began = time.monotonic()
        await call()
        seconds.append(time.monotonic() - began)
    return load.percentiles(seconds)


class Sites:
    """What the direct workload needs of the sampled sites: each one's
    compute URL, the demo tenant's servers there (bottom id, top id from its
    stamp), and its ids of the flavor and image."""

    def __init__(self) -> None:
        self.compute: dict[str, str] = {}
        self.servers: list[tuple[str, str]] = []
        self.top_of: dict[str, str] = {}
        self.flavor: dict[str, str] = {}
        self.image: dict[str, str] = {}

    async def sample(self, cloud: Cloud, token: str, computes: dict[str, str], names: list[str]) -> None:
        for name in names:
            url = self.compute[name] = computes[name]
            servers = (await cloud.get(f"{url}/servers/detail", token, limit="1000"))["servers"]
            for server in servers:
                self.servers.append((name, server["id"]))
                if STAMP_KEY in server.get("metadata", {}):
                    self.top_of[server["id"]] = server["metadata"][STAMP_KEY]
            flavors = (await cloud.get(f"{url}/flavors", token))["flavors"]
            self.flavor[name] = next(f["id"] for f in flavors if f["name"] == "m1.tiny")
            images = (await cloud.get(url.replace("/compute/v2.1", "/image") + "/v2/images", token, name="cirros"))
            self.image[name] = images["images"][0]["id"]


    async def target(self, cloud: Cloud, admin: str) -> load.Target:
        """The direct workload's target, as the sites stand after the
        cascade's load: straight at the sampled sites as their admin (so
        that a site's page holds 1,000 servers of all tenants), with a spare
        of settled servers of other tenants in each, for reboots and deletes."""
        shown = {bottom for _, bottom in self.servers}
        spare: list[tuple[str, str]] = []
        least = PAGE
        for name, url in self.compute.items():
            page = (await cloud.get(f"{url}/servers/detail", admin, limit=str(PAGE), all_tenants="1"))["servers"]
            mine = [(name, s["id"]) for s in page if s["id"] not in shown and s["status"] == "ACTIVE"
                    and not s.get("OS-EXT-STS:task_state")][:DIRECT_SPARE]
            spare += mine
            least = min(least, len(page) - len(mine))
        return load.Target(admin, self.compute.__getitem__, self.servers, list(self.compute), self.flavor.__getitem__,
                           self.image.__getitem__, least_rows=least, list_params={"all_tenants": "1"},
                           spare=collections.deque(random.Random(1).sample(spare, len(spare))))


async def sync_changes(cloud: Cloud, sites: Sites, admin_url: str, admin: str, token: str, *, count: int,
                       spread: float, rng: random.Random) -> list[float | None]:
    """`count` servers stopped straight in their sites over `spread`
    seconds; each one's seconds until the cascade's view says SHUTOFF
    (None: not within 120 s)."""
    stamped = [(site, bottom) for site, bottom in sites.servers if bottom in sites.top_of]
    picked = rng.sample(stamped, min(count, len(stamped)))

    async def one(delay: float, site: str, bottom: str) -> float | None:
        await asyncio.sleep(delay)
        status = await cloud.send("POST", f"{sites.compute[site]}/servers/{bottom}/action", token,
                                  {"os-stop": None})
        if status != 202:
            return None
        began = time.monotonic()
        while time.monotonic() - began < 120:
            # the cascade's own view, polled while it is under load: a busy answer is asked again
            answer = await cloud.get(f"{admin_url}/servers/{sites.top_of[bottom]}", admin, busy_ok=True)
            if answer is not None and answer["server"]["status"] == "SHUTOFF":
                return round(time.monotonic() - began, 1)
            await asyncio.sleep(0.5)
        return None

    return await asyncio.gather(*(one(i * spread / max(count, 1), site, bottom)
                                  for i, (site, bottom) in enumerate(picked)))


async def measure(sites: int, servers: int, args: argparse.Namespace, state: pathlib.Path) -> dict:
    port = free_port()
    began = time.monotonic()
    with running_demo(["--sites", str(sites), "--preload-servers", str(servers), "--build-seconds", "0.5",
                       "--preload-tenants", str(args.tenants - 2),
                       "--database-url", f"sqlite:///{state / 'cascade.sqlite'}"],
                      state, port, timeout=7200) as demo, MemoryWatch(demo.pid) as memory:
        ready = time.monotonic() - began
        base = f"http://127.0.0.1:{port}"
        admin_url = f"{base}/cascade/v1"
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
            cloud = Cloud(http, state)
            admin, _ = await cloud.token("cascade-admin")
            stamps_began = time.monotonic()
            stamped = await wait_for_stamps(cloud, admin_url, admin, args.stamp_wait)
            stamps_waited = time.monotonic() - stamps_began
            synced_began = time.monotonic()
            caught_up = await wait_for_sync(cloud, admin_url, admin, datetime.datetime.now(datetime.timezone.utc),
                                            args.stamp_wait)
            sync_waited = time.monotonic() - synced_began
            adoption = _span(await jobs_of(cloud, admin_url, admin, "site.adopt"))
            stamping = _span(await jobs_of(cloud, admin_url, admin, "site.adopt")
                             + await jobs_of(cloud, admin_url, admin, "site.stamp")) if stamped else None
            idle_rss = rss_mib(demo.pid)

            tenants = {"cascade": await cloud.token("cascade")}
            for n in range(1, args.tenants - 1):
                tenants[f"tenant{n}"] = await cloud.token("cascade", user=f"tenant{n}")
            demo_token, computes = tenants["cascade"]
            cascade_compute = computes[cloud.clouds["cascade"]["region_name"]]
            quota = {"quota_set": {"instances": -1, "cores": -1, "ram": -1}}
            for name, (token, _) in tenants.items():
                project = (await cloud.get(f"{cascade_compute}/servers/detail", token, limit="1"))["servers"][0]
                await cloud.send("PUT", f"{cascade_compute}/os-quota-sets/{project['tenant_id']}", admin, quota)

            site_names = sorted(n for n in computes if n != cloud.clouds["cascade"]["region_name"]
                                and n.startswith("site"))
            sampled = Sites()
            await sampled.sample(cloud, demo_token, computes, random.Random(1).sample(
                site_names, min(SAMPLED_SITES, len(site_names))))
            admin_project = next(p["id"] for p in (await cloud.get(
                f"{cloud.clouds['cascade-admin']['auth']['auth_url'].rstrip('/')}/auth/projects", admin))["projects"]
                if p["name"] == "admin")
            for url in sampled.compute.values():     # the direct creates (as the admin) need room in the sites
                await cloud.send("PUT", f"{url}/os-quota-sets/{admin_project}", admin, quota)
            flavors = (await cloud.get(f"{cascade_compute}/flavors", demo_token))["flavors"]
            flavor = next(f["id"] for f in flavors if f["name"] == "m1.tiny")
            image = (await cloud.get(f"{base}/image/v2/images", demo_token, name="cirros"))["images"][0]["id"]

            sampled_tops = set(sampled.top_of.values())
            cascade_targets = []
            for name, (token, _) in tenants.items():
                ids = []
                marker = None
                for _ in range(1):
                    page = (await cloud.get(f"{cascade_compute}/servers", token, limit="1000",
                                            **({"marker": marker} if marker else {})))["servers"]
                    ids += [s["id"] for s in page]
                    if len(page) < 1000:
                        break
                    marker = page[-1]["id"]
                # the last fifth for reboots and deletes, but the servers the direct phase shows and stops
                shown, spare = ids[:len(ids) * 4 // 5], [i for i in ids[len(ids) * 4 // 5:] if i not in sampled_tops]
                cascade_targets.append(load.Target(
                    token, lambda site: cascade_compute, [(None, i) for i in shown], [None], lambda site: flavor,
                    lambda site: image, least_rows=sites * servers // args.tenants - len(spare),
                    spare=collections.deque((None, i) for i in spare)))

            rng = random.Random(args.seed)
            shows = [s for _, s in cascade_targets[0].servers]
            quiet = {
                "show_cascade": await timed(args.rounds, lambda: cloud.get(
                    f"{cascade_compute}/servers/{rng.choice(shows)}", demo_token)),
                "show_direct": await timed(args.rounds, lambda: cloud.get(
                    "{}/servers/{}".format(sampled.compute[(s := rng.choice(sampled.servers))[0]], s[1]),
                    demo_token)),
                "page_cascade": await timed(max(args.rounds // 5, 3), lambda: cloud.get(
                    f"{cascade_compute}/servers/detail", demo_token, limit="1000")),
            }
            pages = {name: await timed(max(args.rounds // 10, 3), lambda name=name: cloud.get(
                f"{sampled.compute[name]}/servers/detail", admin, limit="1000", all_tenants="1"))
                for name in sampled.compute}
            slowest = max(pages, key=lambda n: pages[n]["p50_ms"])
            quiet["page_direct_slowest_site"] = pages[slowest]

            changes = asyncio.create_task(sync_changes(cloud, sampled, admin_url, admin, demo_token,
                                                       count=args.changes, spread=args.seconds / 2, rng=rng))
            pids = {"cascade": demo.pid, "simcloud": processes.read_pids(state / "simcloud.pid")[0],
                    "load generator": os.getpid()}
            with CpuWatch(pids) as cascade_cpu:
                through = await load.run(cascade_targets, clients=args.clients, seconds=args.seconds,
                                         microversion=MICROVERSION)
            latencies = await changes
            direct_target = await sampled.target(cloud, admin)
            with CpuWatch(pids) as direct_cpu:
                direct = await load.run([direct_target], clients=args.clients, seconds=args.seconds,
                                        microversion=MICROVERSION)
        database = sum(p.stat().st_size for p in state.glob("cascade.sqlite*"))
    seen = [s for s in latencies if s is not None]
    return {
        "sites": sites, "servers_per_site": servers, "servers": sites * servers,
        "ready_seconds": round(ready, 1), "adoption_seconds": adoption,
        "adoption_and_stamps_seconds": stamping, "stamps_waited_after_ready": round(stamps_waited, 1),
        "sync_caught_up_after_stamps": round(sync_waited, 1) if caught_up else None,
        "stamps_still_running_during_load": not stamped,
        "rss_idle_mib": round(idle_rss), "rss_peak_mib": round(memory.peak),
        "database_mib": round(database / 2**20), "quiet": quiet,
        "sync": {"changes": len(latencies), "missed": len(latencies) - len(seen),
                 "p50_s": round(statistics.median(seen), 1) if seen else None,
                 "max_s": max(seen) if seen else None},
        "load_cascade": through, "load_direct": direct,
        "cpu_seconds_a_second": {"load_cascade": cascade_cpu.shares, "load_direct": direct_cpu.shares},
    }


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _cpu(result: dict, phase: str) -> str:
    shares = result.get("cpu_seconds_a_second", {}).get(phase)
    return ", ".join(str(shares[name]) for name in ("cascade", "simcloud", "load generator")) if shares else "-"


def table(results: list[dict]) -> str:
    head = ("| sites x servers | ready (adoption) s | stamps done s (+ sync past them) | RSS idle / peak MiB | database MiB "
            "| show p50 / p99 ms (direct) | 1,000-row page p50 / p99 ms (slowest site) "
            "| throughput req/s (direct) | failed | show p50 / p99 ms at load (direct) "
            "| page p50 / p99 ms at load (site) | sync p50 / max s "
            "| CPU s/s at load: cascade, simcloud, load generator (direct) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        q, c, d = r["quiet"], r["load_cascade"], r["load_direct"]
        cs, ds = c["ops"].get("show", {}), d["ops"].get("show", {})
        cl, dl = c["ops"].get("list", {}), d["ops"].get("list", {})
        lines.append(
            f"| {r['sites']} x {r['servers_per_site']:,} = {r['servers']:,} | {r['ready_seconds']} "
            f"({r['adoption_seconds']}) | "
            f"{r['adoption_and_stamps_seconds'] or 'not done after %s' % r['stamps_waited_after_ready']} "
            f"(+{r['sync_caught_up_after_stamps'] if r['sync_caught_up_after_stamps'] is not None else ' not'}) "
            f"| {r['rss_idle_mib']} / "
            f"{r['rss_peak_mib']} | {r['database_mib']} "
            f"| {q['show_cascade']['p50_ms']} / {q['show_cascade']['p99_ms']} ({q['show_direct']['p50_ms']} / "
            f"{q['show_direct']['p99_ms']}; {_ratio(q['show_cascade']['p50_ms'], q['show_direct']['p50_ms'])}) "
            f"| {q['page_cascade']['p50_ms']} / {q['page_cascade']['p99_ms']} "
            f"({q['page_direct_slowest_site']['p50_ms']} / {q['page_direct_slowest_site']['p99_ms']}; "
            f"{_ratio(q['page_cascade']['p50_ms'], q['page_direct_slowest_site']['p50_ms'])}) "
            f"| {c['throughput']} ({d['throughput']}) | {c['failures']} ({d['failures']}) "
            f"| {cs.get('p50_ms')} / {cs.get('p99_ms')} ({ds.get('p50_ms')} / {ds.get('p99_ms')}; "
            f"{_ratio(cs.get('p50_ms'), ds.get('p50_ms'))}) "
            f"| {cl.get('p50_ms')} / {cl.get('p99_ms')} ({dl.get('p50_ms')} / {dl.get('p99_ms')}; "
            f"{_ratio(cl.get('p50_ms'), dl.get('p50_ms'))}) "
            f"| {r['sync']['p50_s']} / {r['sync']['max_s']} ({r['sync']['missed']} missed) "
            f"| {_cpu(r, 'load_cascade')} ({_cpu(r, 'load_direct')}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="10x10000,100x1000,100x10000",
                        help="SITESxSERVERS_PER_SITE, comma-separated, run in turn")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100,
                        help="tenants the preloaded servers and the clients are spread over (demo, alt and "
                             "tenant1..)")
    parser.add_argument("--seconds", type=float, default=60.0, help="each load phase's length")
    parser.add_argument("--rounds", type=int, default=50, help="quiet shows (pages: a fifth of it)")
    parser.add_argument("--changes", type=int, default=10, help="status changes timed during the load")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stamp-wait", type=float, default=3600.0,
                        help="longest wait for the adoption's top-id stamps before measuring (the load then "
                             "shares the machine with them, and the table says so)")
    parser.add_argument("--keep", metavar="DIR", help="keep each configuration's state (logs, database) in DIR")
    args = parser.parse_args()
    results = []
    for spec in args.configs.split(","):
        sites, servers = (int(part) for part in spec.lower().split("x"))
        if args.keep:     # the demo's state and logs kept for a look afterwards
            state = pathlib.Path(args.keep) / spec
            state.mkdir(parents=True, exist_ok=True)
            result = asyncio.run(measure(sites, servers, args, state))
        else:
            with tempfile.TemporaryDirectory(prefix="scale-bench-") as state:
                result = asyncio.run(measure(sites, servers, args, pathlib.Path(state)))
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
    print(table(results))


if __name__ == "__main__":
    main()
