"""`simcloud --preload-servers N` as a user meets it: two sites of 2,000
servers each, read and changed through openstacksdk with the clouds.yaml the
command writes -- counts per tenant, pages of 1000 for the admin, and a
status change or delete made straight at a site showing in `changes-since`.

Lists are read as JSON through the connection's compute adapter: building
openstacksdk's Server objects costs about 2.5 ms each, far more than the
site takes to answer."""
from __future__ import annotations

import datetime
import pathlib
from typing import Any, Iterator

import openstack
import pytest
import yaml

from simcloud.world import World
from test_cli_serve import simcloud, wait_for_ready

PER_SITE = 2000
SITES = ("site1", "site2")


@pytest.fixture(scope="module")
def clouds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("preload-state")
    process = simcloud("--sites", "2", "--state-dir", str(state), "--build-seconds", "0.05",
                       "--preload-servers", str(PER_SITE))
    try:
        wait_for_ready(process)
        yield yaml.safe_load((pathlib.Path(state) / "clouds.yaml").read_text())["clouds"]
    finally:
        process.kill()
        process.wait(10)


def _connect(clouds: dict[str, Any], user: str, site: str) -> openstack.connection.Connection:
    """`user`'s cloud of clouds.yaml, in the region of `site`."""
    cloud = dict(clouds[user], region_name=site)
    return openstack.connection.Connection(**{k: v for k, v in cloud.items() if k != "auth"},
                                           **cloud["auth"])


def _list(conn: openstack.connection.Connection, path: str = "/servers/detail",
          **query: str) -> list[dict]:
    reply = conn.compute.get(path, params=query)
    assert reply.status_code == 200, reply.text
    return reply.json()["servers"]


def _admin_pages(conn: openstack.connection.Connection, **query: str) -> list[list[dict]]:
    """An admin's walk over a site in pages of 1000, marker to marker."""
    pages: list[list[dict]] = []
    while True:
        marker = {"marker": pages[-1][-1]["id"]} if pages else {}
        pages.append(_list(conn, all_tenants="1", limit="1000", **query, **marker))
        if len(pages[-1]) < 1000:
            return pages


def test_each_site_holds_its_servers_round_robin_over_demo_and_alt(clouds) -> None:
    ids: set[str] = set()
    for site in SITES:
        admin = _connect(clouds, "admin", site)
        pages = _admin_pages(admin)
        assert [len(p) for p in pages] == [1000, 1000, 0]
        servers = [s for page in pages for s in page]
        ids |= {s["id"] for s in servers}
        assert {s["status"] for s in servers} == {"ACTIVE"}
        assert {s["name"] for s in servers} == {f"pre-{site}-{n}" for n in range(1, PER_SITE + 1)}
        for user in ("demo", "alt"):
            conn = _connect(clouds, user, site)
            own = _list(conn)
            assert len(own) == PER_SITE // 2
            assert {s["tenant_id"] for s in own} == {conn.current_project_id}
            assert {s["user_id"] for s in own} == {conn.current_user_id}
            by_admin = _admin_pages(admin, project_id=conn.current_project_id)
            assert sum(len(p) for p in by_admin) == PER_SITE // 2
    assert len(ids) == PER_SITE * len(SITES)


def _since(conn: openstack.connection.Connection, since: str) -> dict[str, str]:
    return {s.id: s.status for s in conn.compute.servers(
        details=True, all_projects=True, changes_since=since)}


def _start_of_this_second() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def test_status_changes_made_at_a_site_show_in_changes_since(clouds) -> None:
    admin = _connect(clouds, "admin", "site2")
    alt = _connect(clouds, "alt", "site2")
    since = _start_of_this_second()
    assert _since(admin, since) == {}          # preloaded servers changed long ago
    stopped, doomed = alt.compute.servers(limit=2, paginated=False)
    alt.compute.stop_server(stopped)
    alt.compute.wait_for_server(stopped, status="SHUTOFF", wait=10, interval=0.05)
    assert _since(admin, since) == {stopped.id: "SHUTOFF"}
    shown = alt.compute.get_server(stopped.id)
    assert shown.updated_at >= since.replace("+00:00", "Z")
    alt.compute.start_server(stopped)
    alt.compute.wait_for_server(stopped, status="ACTIVE", wait=10, interval=0.05)
    alt.compute.delete_server(doomed)
    alt.compute.wait_for_delete(doomed, wait=10, interval=0.05)
    assert _since(admin, since) == {stopped.id: "ACTIVE", doomed.id: "DELETED"}
    # the owner sees its own changes; the other tenant none of them
    assert {s.id for s in alt.compute.servers(changes_since=since)} == {stopped.id, doomed.id}
    demo = _connect(clouds, "demo", "site2")
    assert list(demo.compute.servers(changes_since=since)) == []
    assert _since(_connect(clouds, "admin", "site1"), since) == {}


async def test_a_site_override_sets_its_own_count_and_bad_counts_are_refused() -> None:
    async with World(2, preload_servers=5,
                     site_overrides={"site2": {"preload_servers": 3}}) as world:
        assert [h.site.usage()["servers"] for h in world.sites] == [5, 3]
        assert world.site("site2").describe()["config"]["preload_servers"] == 3
    with pytest.raises(ValueError, match="preloaded"):
        World(1, preload_servers=-1)
    refused = simcloud("--sites", "1", "--preload-servers", "-1")
    assert refused.wait(20) == 2


async def test_preloaded_servers_spread_over_more_tenants_who_can_log_in() -> None:
    async with World(1, preload_servers=8, preload_tenants=2) as world:
        store = world.keystone.store
        owners = {store.project_by_name(name, "default").id: name for name in ("demo", "alt", "tenant1", "tenant2")}
        projects = world.site("site1").site.store.projects
        assert {owners[p]: projects[p].instances for p in owners} == {"demo": 2, "alt": 2, "tenant1": 2, "tenant2": 2}
        assert store.user_by_name("tenant2", "default").password == "password"
