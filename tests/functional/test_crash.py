"""Crash consistency: the cascade is killed (SIGKILL) at random moments while
a hundred server creates and deletes are in flight, started again, left to
converge, and then the sites (asked directly, as admin, every project) and
the cascade's route table must agree:

- every create answered 202 exists exactly once, in exactly one site, bound
  to the route of the id the tenant got (unless a delete answered 204 since);
- no server in any site lacks a route, and no two carry one top id;
- no live route (reserved or bound) lacks its server in its site;
- every delete answered 204 is gone from every site, its route `deleting`
  or purged;
- the servers projection (what quotas count) holds a live row for each
  bound route and for nothing else.

Requests that got no answer (the connection died with the cascade) may have
gone either way; the checks above hold for them too, whichever way it went.

The test runs a demo of its own with `--split`: the cascade's process is
killed and started again (`cascade serve`) while the demo and simcloud run
on, on the tier's database (SQLite, or PostgreSQL).
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import random
import threading
import time
import uuid

import openstack
import pytest
import requests
from keystoneauth1 import exceptions as ksa
import sqlalchemy as sa
import yaml

from cascade import config
from cascade.consistency.servers import JOURNAL_KINDS
from cascade.persistence.db import Database
from cascade.persistence.models import RouteRow, ServerRow, SiteRow
from tests.demoproc import kill_cascade, restart_cascade
from tests.functional.helpers import STAMP

THREADS = 50
CREATES_PER_THREAD = 2         # 100 creates, about half of them deleted at once
KILLS = int(os.environ.get("CRASH_KILLS", 3))
ANSWERS_BETWEEN_KILLS = 20
SEED = os.environ.get("CRASH_SEED") or uuid.uuid4().hex   # printed, to replay a run's kill times
SITE_LATENCY = 0.3             # seconds every site call takes
SITE_ERRORS = 0.03             # share of site calls that fail (500)
PAUSE = 5.0                    # longest pause of a tenant thread before each create
READY_TIMEOUT = 60.0
NO_ANSWER = (requests.RequestException, ksa.ConnectionError)   # the connection died with the cascade


class Crashes:
    """The cascade of a `--split` demo, killed and started again while the
    demo and simcloud run on; `up` is set while it serves."""

    def __init__(self, demo) -> None:
        self.demo = demo
        self.url = demo.url
        self.up = threading.Event()
        self.up.set()

    def kill(self) -> None:
        self.up.clear()
        kill_cascade(self.demo.state)

    def restart(self) -> None:
        restart_cascade(self.demo.state)
        self.up.set()


@pytest.fixture
def cascade(another_demo):
    # a site call's deadline of 5 s: a recovered create whose POST never
    # reached its site is closed after 5 s, not 30
    with another_demo("--split", "--option", "sites.request_timeout=5", sites=3) as demo:
        yield Crashes(demo)


@dataclasses.dataclass
class Outcomes:
    """What the tenant was told: top ids whose create answered 202, whose
    delete answered 204, whose delete was asked for with another outcome
    (no answer, an error: it may have happened), and counts of each."""
    created: set = dataclasses.field(default_factory=set)
    deleted: set = dataclasses.field(default_factory=set)
    delete_unsure: set = dataclasses.field(default_factory=set)
    latencies: list = dataclasses.field(default_factory=list)
    answered: int = 0
    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def note(self, what: str, top_id: str | None = None) -> None:
        with self.lock:
            self.counts[what] += 1
            if "without answer" not in what:
                self.answered += 1
            if what == "create 202":
                self.created.add(top_id)
            elif what == "delete 204":
                self.deleted.add(top_id)
            elif what.startswith("delete"):
                self.delete_unsure.add(top_id)


def _call(session, cascade: Crashes, method: str, path: str, **kwargs):
    cascade.up.wait(READY_TIMEOUT)
    return session.request(f"{cascade.url}/compute/v2.1{path}", method, raise_exc=False, timeout=30,
                           headers={"OpenStack-API-Version": "compute 2.37"}, **kwargs)


def tenant_load(cascade: Crashes, outcomes: Outcomes, flavor: str, image: str, seed: int) -> None:
    """One tenant thread: creates, each other one deleted at once, with
    random pauses so that requests are in flight whenever a kill comes."""
    rng = random.Random(seed)
    session = cascade.demo.connect("cascade").session
    for n in range(CREATES_PER_THREAD):
        time.sleep(rng.uniform(0, PAUSE))
        body = {"server": {"name": f"crash-{seed}-{n}", "flavorRef": flavor, "imageRef": image, "networks": "none"}}
        started = time.monotonic()
        try:
            answer = _call(session, cascade, "POST", "/servers", json=body)
        except NO_ANSWER:
            outcomes.note("create without answer")
            continue
        if answer.status_code != 202:
            outcomes.note(f"create {answer.status_code}")
            continue
        top_id = answer.json()["server"]["id"]
        outcomes.note("create 202", top_id)
        outcomes.latencies.append(time.monotonic() - started)
        if rng.random() < 0.5:
            continue
        time.sleep(rng.uniform(0, 0.5))
        try:
            answer = _call(session, cascade, "DELETE", f"/servers/{top_id}")
        except NO_ANSWER:
            outcomes.note("delete without answer", top_id)
            continue
        outcomes.note(f"delete {answer.status_code}", top_id)


def set_site_faults(state: pathlib.Path, **faults) -> None:
    """Faults in every simcloud site (through simcloud's control API)."""
    sim = json.loads((state / "simcloud" / "simcloud.json").read_text())
    for site in sim["sites"]:
        requests.put(f"{sim['control_url']}/sites/{site['name']}/faults", json=faults, timeout=10).raise_for_status()


def live_journal_jobs(admin, cascade: Crashes) -> list[dict]:
    jobs = []
    for kind in JOURNAL_KINDS:
        for state in ("running", "queued"):
            answer = admin.session.get(f"{cascade.url}/cascade/v1/jobs", params={"kind": kind, "state": state})
            jobs += answer.json()["jobs"]
    return jobs


def failed_journal_jobs(admin, cascade: Crashes) -> list[dict]:
    return [job for kind in JOURNAL_KINDS for job in admin.session.get(
        f"{cascade.url}/cascade/v1/jobs", params={"kind": kind, "state": "failed"}).json()["jobs"]]


def site_admins(state: pathlib.Path) -> dict[str, openstack.connection.Connection]:
    """{zone: the site straight, as the cloud admin}: the site clouds of the
    demo's clouds.yaml are the demo tenant's, so the admin's credentials
    are used in each site's region."""
    clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
    return {zone: openstack.connect(auth=clouds["cascade-admin"]["auth"], auth_type="password", region_name=zone,
                                    identity_api_version="3")
            for zone in clouds if zone not in ("cascade", "cascade-alt", "cascade-admin")}


def site_servers(admins: dict[str, openstack.connection.Connection]) -> dict[tuple[str, str], dict]:
    """Every server of every project in each site, asked of the site as admin."""
    found = {}
    for zone, conn in admins.items():
        for server in conn.compute.servers(details=True, all_projects=True):
            found[(zone, server.id)] = {"metadata": server.metadata or {}, "task_state": server.task_state,
                                        "status": server.status, "name": server.name}
    return found


def database_rows(state: pathlib.Path) -> tuple[list[dict], dict[str, str], dict[str, bool]]:
    """The cascade's server routes, {site id: zone} and {top id: deleted} of
    its servers projection (what quotas count), read from its database."""
    async def read():
        db = await Database.open(config.load(state / "cascade.conf").database_url, migrate=False)
        try:
            async with db.session() as session:
                zones = dict((await session.execute(sa.select(SiteRow.id, SiteRow.availability_zone))).all())
                routes = [{"top_id": r.top_id, "site_id": r.site_id, "bottom_id": r.bottom_id, "state": r.state}
                          for r in await session.scalars(sa.select(RouteRow).where(RouteRow.kind == "server"))]
                projected = dict((await session.execute(sa.select(ServerRow.top_id, ServerRow.deleted))).all())
        finally:
            await db.close()
        return routes, zones, projected
    return asyncio.run(read())


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not converged in {timeout:.0f}s: {what}")
        time.sleep(0.5)


def test_kill_at_random_points_then_converge(cascade):
    admin, cloud = cascade.demo.conn("cascade-admin"), cascade.demo.conn("cascade")
    sites = site_admins(cascade.demo.state)
    admin.session.put(f"{cascade.url}/compute/v2.1/os-quota-sets/{cloud.current_project_id}",
                      json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
    flavor = cloud.compute.find_flavor("m1.tiny", ignore_missing=False).id
    image = next(i.id for i in cloud.image.images() if i.name == "cirros")

    # every site call is slow, so that kills often come while a create's POST
    # is on its way (the site then makes the server after the cascade died),
    # and a few fail, so that creates and deletes also fail in a live process
    set_site_faults(cascade.demo.state, latency=SITE_LATENCY, error_rate=SITE_ERRORS)
    outcomes = Outcomes()
    rng = random.Random(SEED)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        load = [pool.submit(tenant_load, cascade, outcomes, flavor, image, seed) for seed in range(THREADS)]
        # each kill comes at a random moment once some more requests were
        # answered, so that every run has answers between its kills
        for kill in range(KILLS):
            threshold = (kill + 1) * ANSWERS_BETWEEN_KILLS + rng.randint(0, 5)
            while outcomes.answered < threshold and not all(f.done() for f in load):
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.5))
            cascade.kill()
            time.sleep(rng.uniform(0.0, 0.5))
            cascade.restart()
        for done in concurrent.futures.as_completed(load):
            done.result()
    latencies = sorted(outcomes.latencies) or [0.0]
    print(f"\nseed {SEED}: outcomes over {KILLS} kills: {dict(outcomes.counts)}; 202 creates took "
          f"{latencies[len(latencies) // 2]:.2f}s (median), {latencies[-1]:.2f}s (max)")
    set_site_faults(cascade.demo.state, latency=0.0, error_rate=0.0)
    assert outcomes.counts["create 202"] >= 20 and outcomes.counts["delete 204"] >= 5, outcomes.counts

    # convergence: no journal entry left to recover, no delete still under way in a site
    wait_until(lambda: not live_journal_jobs(admin, cascade), 60, "journal entries still live")
    assert not failed_journal_jobs(admin, cascade)
    def settled():
        found = site_servers(sites)
        return None if any(s["task_state"] == "deleting" for s in found.values()) else (found,)
    (servers,) = wait_until(settled, 30, "deletes under way in sites")
    routes, zone_of, projected = database_rows(cascade.demo.state)

    by_bottom = {(zone_of[r["site_id"]], r["bottom_id"]): r for r in routes if r["bottom_id"]}
    by_top = collections.defaultdict(list)
    for route in routes:
        by_top[route["top_id"]].append(route)
    stamps = collections.Counter(s["metadata"].get(STAMP) for s in servers.values())

    orphans = [(where, s["name"]) for where, s in servers.items() if where not in by_bottom]
    assert not orphans, f"servers in sites without a route: {orphans}"
    twice = [stamp for stamp, count in stamps.items() if count > 1]
    assert not twice, f"top ids made more than once: {twice}"
    for where, server in servers.items():
        route = by_bottom[where]
        assert route["state"] == "bound", f"server {where} is alive but its route is {route['state']}"
        assert server["metadata"].get(STAMP) == route["top_id"], f"server {where} carries another top id"
    for route in routes:
        if route["state"] in ("reserved", "bound"):
            where = (zone_of[route["site_id"]], route["bottom_id"])
            assert route["state"] == "bound" and where in servers, f"live route without its server: {route}"
    for top_id in outcomes.created - outcomes.deleted - outcomes.delete_unsure:
        live = [r for r in by_top[top_id] if r["state"] == "bound"]
        assert len(by_top[top_id]) == 1 and len(live) == 1, f"created {top_id}: routes {by_top[top_id]}"
        assert (zone_of[live[0]["site_id"]], live[0]["bottom_id"]) in servers
    for top_id in outcomes.deleted:
        assert all(r["state"] == "deleting" for r in by_top[top_id]), f"deleted {top_id}: {by_top[top_id]}"
        assert stamps[top_id] == 0, f"deleted {top_id} still exists in a site"
    # what quotas count follows: a live server for each bound route, none else
    live = {top_id for top_id, deleted in projected.items() if not deleted}
    assert live == {r["top_id"] for r in routes if r["state"] == "bound"}, "projection and routes disagree"
