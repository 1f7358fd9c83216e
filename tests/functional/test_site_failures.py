"""One site of five fails, three ways in turn (down, hung, flaky), while
tenants keep working: everything that concerns only the other four sites
succeeds, lists answer within a stated bound (also when their marker is a
server of the failing site), the failure is noticed within seconds and new
servers avoid the site, and once it recovers placement uses it again. A
drained site takes no new servers while its own servers stay reachable.

The demo runs with short deadlines (`cascade demo --option ...`) except the
one for a single call (`request_timeout`, 30 s): a call waiting on a hung
site must end when the site is found hung, not at that deadline."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING

import openstack
import pytest
import requests

from tests.functional.helpers import flavor_id, image_id, wait_for

if TYPE_CHECKING:
    from tests.functional.conftest import SimDemo

SITES = 5
BAD = "site5"
HEALTHY = [f"site{i}" for i in range(1, SITES)]
LIST_DEADLINE = 2.0
PROBE_INTERVAL, PROBE_DEADLINE, OPEN_SECONDS, RECOVERY_SECONDS = 1.0, 1.0, 3.0, 4.0
OPTIONS = {"sites.list_deadline": LIST_DEADLINE, "sites.probe_interval": PROBE_INTERVAL,
           "sites.probe_deadline": PROBE_DEADLINE, "sites.open_seconds": OPEN_SECONDS,
           "sites.recovery_seconds": RECOVERY_SECONDS}
# a list waits at most half its deadline for its marker's site, then the deadline for the sites' pages
LIST_BOUND = 1.5 * LIST_DEADLINE + 2.0
# a failure is noticed by the next probe (or sooner, by failing calls), which may wait out its deadline
NOTICED_BOUND = PROBE_INTERVAL + PROBE_DEADLINE + 2.0
# back once the breaker lets a probe through, then at full share after the ramp
BACK_BOUND = OPEN_SECONDS + PROBE_INTERVAL + RECOVERY_SECONDS + 8.0
PHASE_SECONDS = 8.0
THREADS = 4


@dataclasses.dataclass
class Outcome:
    op: str
    status: int | None
    seconds: float
    detail: str = ""


@dataclasses.dataclass
class Five:
    """The module's own demo of five sites, with the failing one's faults and an operator's view."""
    demo: "SimDemo"

    def fault(self, **faults) -> None:
        self.demo.fault(BAD, **faults)

    def clear(self) -> None:
        self.demo.clear_faults(BAD)

    def site(self, name: str) -> dict:
        admin = openstack.connect(cloud="cascade-admin")
        response = requests.get(f"{self.demo.url}/cascade/v1/sites/{name}",
                                headers={"X-Auth-Token": admin.auth_token}, timeout=10)
        response.raise_for_status()
        return response.json()["site"]

    def operator(self, *args: str) -> None:
        """`cascade site ARGS`, as an operator runs it."""
        subprocess.run([sys.executable, "-m", "cascade.cli", "site", "--config", str(self.demo.state / "cascade.conf"),
                        "--url", self.demo.url, *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def five(another_demo):
    args = []
    for name, value in OPTIONS.items():
        args += ["--option", f"{name}={value}"]
    with another_demo(*args, sites=SITES) as demo:
        admin = openstack.connect(cloud="cascade-admin")
        cloud = openstack.connect(cloud="cascade")
        admin.compute.put(f"/os-quota-sets/{cloud.current_project_id}", json={"quota_set": {
            "instances": 200, "cores": 400, "ram": 800000}}).raise_for_status()
        yield Five(demo)


def server_body(conn, zone: str | None, flavor: str = "m1.tiny", name: str = "ld") -> dict:
    body = {"name": f"{name}-{uuid.uuid4().hex[:6]}", "flavorRef": flavor_id(conn, flavor),
            "imageRef": image_id(conn, "cirros"), "networks": "none"}
    if zone:
        body["availability_zone"] = zone
    return {"server": body}


def timed(outcomes: list, op: str, call) -> requests.Response | None:
    started = time.monotonic()
    try:
        response = call()
    except Exception as exc:  # noqa: BLE001 - a transport failure is an outcome too
        outcomes.append(Outcome(op, None, time.monotonic() - started, repr(exc)))
        return None
    outcomes.append(Outcome(op, response.status_code, time.monotonic() - started,
                            "" if response.status_code < 400 else response.text[:300]))
    return response


def tenant_load(keep: list[str], marker: str, unpinned: bool, until: float, outcomes: list) -> None:
    """One tenant's mixed work on the healthy sites: paged lists (one of them
    from a marker in the failing site), shows, actions, creates pinned to a
    healthy zone (or, with `unpinned`, left to placement) and deletes."""
    conn = openstack.connect(cloud="cascade")
    turn = 0
    while time.monotonic() < until:
        # the first turn's create goes out at once, before the failure can be noticed
        zone = None if unpinned and turn % 2 == 0 else HEALTHY[turn % len(HEALTHY)]
        turn += 1
        made = timed(outcomes, "create", lambda: conn.compute.post("/servers", json=server_body(conn, zone),
                                                                   microversion="2.37"))
        page = timed(outcomes, "list", lambda: conn.compute.get("/servers/detail?limit=3", microversion="2.37"))
        if page is not None and page.status_code == 200 and (links := page.json().get("servers_links")):
            timed(outcomes, "list", lambda: conn.compute.get(links[0]["href"], microversion="2.37"))
        timed(outcomes, "list", lambda: conn.compute.get(f"/servers/detail?limit=3&marker={marker}",
                                                         microversion="2.37"))
        if made is None or made.status_code != 202:
            continue
        server_id = made.json()["server"]["id"]
        for server_id_ in (server_id, keep[turn % len(keep)]):
            timed(outcomes, "show", lambda: conn.compute.get(f"/servers/{server_id_}"))
        timed(outcomes, "action", lambda: conn.compute.post(f"/servers/{keep[turn % len(keep)]}/action",
                                                            json={"os-getConsoleOutput": {"length": 1}}))
        timed(outcomes, "delete", lambda: conn.compute.delete(f"/servers/{server_id}"))


def run_load(keep: list[str], marker: str, *, unpinned: bool) -> list[Outcome]:
    outcomes: list[Outcome] = []
    until = time.monotonic() + PHASE_SECONDS
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(tenant_load, keep, marker, unpinned, until, outcomes) for _ in range(THREADS)]
        for future in futures:
            future.result()
    return outcomes


def zone_of(conn, server_id: str) -> str:
    return conn.compute.get(f"/servers/{server_id}").json()["server"]["OS-EXT-AZ:availability_zone"]


def make_active(conn, zone: str | None, flavor: str = "m1.tiny", name: str = "ld") -> str:
    made = conn.compute.post("/servers", json=server_body(conn, zone, flavor, name), microversion="2.37")
    assert made.status_code == 202, made.text
    server_id = made.json()["server"]["id"]
    wait_for(lambda: conn.compute.get(f"/servers/{server_id}").json()["server"]["status"] == "ACTIVE")
    return server_id


def delete_all(conn, server_ids: list[str]) -> None:
    for server_id in server_ids:
        assert conn.compute.delete(f"/servers/{server_id}").status_code == 204
    wait_for(lambda: all(conn.compute.get(f"/servers/{s}").status_code == 404 for s in server_ids))


@pytest.mark.parametrize("how", [{"down": True}, {"hang": True}, {"error_rate": 0.6}], ids=["down", "hung", "flaky"])
def test_other_sites_keep_working_while_one_fails(five, how):
    conn = openstack.connect(cloud="cascade")
    # bigger servers in the healthy sites: the failing one is the roomiest, placement's first choice
    keep = [make_active(conn, zone, "m1.small", f"keep-{i}") for i, zone in enumerate(HEALTHY)]
    victim = make_active(conn, BAD, name="keep-1z")      # sorts between keep-1 and keep-2
    flaky = "error_rate" in how
    five.fault(**how)
    faulted = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            # a call already waiting on the site when it fails ends when the failure is noticed
            waiting = pool.submit(lambda: (conn.compute.get(f"/servers/{victim}"), time.monotonic() - faulted))
            noticed = pool.submit(lambda: wait_for(lambda: five.site(BAD)["health"] == "down" and time.monotonic(),
                                                   timeout=15, interval=0.1) - faulted) if not flaky else None
            # a dead site refuses connections: creates it never received go elsewhere from the start
            outcomes = run_load(keep, victim, unpinned="down" in how)
            show, waited = waiting.result()
        failed = [o for o in outcomes if o.status is None or o.status >= 400]
        assert not failed, f"requests for healthy sites failed: {failed[:5]}"
        assert {o.op for o in outcomes} == {"list", "create", "show", "action", "delete"}
        slowest = max(o.seconds for o in outcomes if o.op == "list")
        assert slowest < LIST_BOUND, f"a list took {slowest:.1f}s"
        # the page after a marker in the failing site is the page it would be if the site answered
        after = conn.compute.get(f"/servers/detail?sort_key=display_name&sort_dir=asc&marker={victim}",
                                 microversion="2.37")
        assert after.status_code == 200, after.text
        assert [s["id"] for s in after.json()["servers"] if s["name"].startswith("keep-")] == keep[2:]
        if not flaky:
            assert noticed.result() < NOTICED_BOUND, f"noticed after {noticed.result():.1f}s"
            assert show.status_code == 503 and waited < NOTICED_BOUND + 1, (show.status_code, waited)
            unpinned = [conn.compute.post("/servers", json=server_body(conn, None), microversion="2.37")
                        for _ in range(4)]
            assert all(r.status_code == 202 for r in unpinned), [r.text for r in unpinned]
            ids = [r.json()["server"]["id"] for r in unpinned]
            assert BAD not in {zone_of(conn, server_id) for server_id in ids}
            delete_all(conn, ids)
    finally:
        five.clear()
    recovered = time.monotonic()
    wait_for(lambda: conn.compute.get(f"/servers/{victim}").status_code == 200, timeout=BACK_BOUND)
    delete_all(conn, [victim])
    # once back, placement gives the site (now the roomiest) new servers again
    while True:
        made = conn.compute.post("/servers", json=server_body(conn, None), microversion="2.37")
        assert made.status_code == 202, made.text
        server_id = made.json()["server"]["id"]
        zone = zone_of(conn, server_id)
        delete_all(conn, [server_id])
        if zone == BAD:
            break
        assert time.monotonic() - recovered < BACK_BOUND, f"{BAD} not used again {BACK_BOUND:g}s after it recovered"
        time.sleep(0.3)
    assert five.site(BAD)["health"] in ("up", "degraded")
    delete_all(conn, keep)


def test_a_draining_site_takes_no_new_servers_but_serves_its_own(five):
    conn = openstack.connect(cloud="cascade")
    # the zone placement picks first is the one drained
    first = make_active(conn, None)
    drained = zone_of(conn, first)
    five.operator("drain", drained)
    try:
        assert five.site(drained)["state"] == "draining"
        made = [conn.compute.post("/servers", json=server_body(conn, None), microversion="2.37") for _ in range(5)]
        assert all(r.status_code == 202 for r in made), [r.text for r in made]
        ids = [r.json()["server"]["id"] for r in made]
        assert drained not in {zone_of(conn, server_id) for server_id in ids}
        pinned = conn.compute.post("/servers", json=server_body(conn, drained), microversion="2.37")
        assert pinned.status_code == 400, pinned.text
        # its own servers are still served
        assert conn.compute.get(f"/servers/{first}").json()["server"]["status"] == "ACTIVE"
        assert conn.compute.post(f"/servers/{first}/action", json={"os-stop": None}).status_code == 202
        wait_for(lambda: conn.compute.get(f"/servers/{first}").json()["server"]["status"] == "SHUTOFF")
        delete_all(conn, [first, *ids])
    finally:
        five.operator("enable", drained)
    assert five.site(drained)["state"] == "enabled"
