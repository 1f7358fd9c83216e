"""ServerProjection: upserts from status sync, Nova's newest-first listing, deletion marks."""
from __future__ import annotations

import dataclasses
import datetime

import pytest

from cascade.errors import NotFound
from cascade.persistence.db import Database
from cascade.persistence.servers import ProjectedServer, ServerProjection, parse_timestamp
from tests.dbfixtures import database, module_database  # noqa: F401

UTC = datetime.timezone.utc


def server(top_id: str, created: str, **overrides) -> ProjectedServer:
    fields = dict(top_id=top_id, site_id="site-a", project_id="p1", user_id="u1", name=f"vm-{top_id}",
                  status="BUILD", flavor_id="m1.small", image_id="img", created=created)
    fields.update(overrides)
    return ProjectedServer(**fields)


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01T10:00:00Z", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T10:00:00.123456+00:00", datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2024-05-01T12:00:00+02:00", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T10:00:00", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
])
def test_parse_timestamp_reads_novas_forms(text: str, expected: datetime.datetime) -> None:
    assert parse_timestamp(text) == expected


async def test_upsert_inserts_then_overwrites(database: Database) -> None:
    servers = ServerProjection(database)
    first = server("a", "2024-05-01T10:00:00Z", image_id=None)
    await servers.upsert(first)
    assert await servers.get("a") == first
    changed = dataclasses.replace(first, status="ACTIVE", task_state=None, name="renamed",
                                  updated="2024-05-01T10:05:00Z")
    await servers.upsert(changed)
    assert await servers.get("a") == changed


async def test_upsert_many_writes_a_batch(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert_many([server(str(n), f"2024-05-0{n}T00:00:00Z") for n in range(1, 6)])
    await servers.upsert_many([server("3", "2024-05-03T00:00:00Z", status="ERROR")])
    await servers.upsert_many([])
    rows = await servers.list_for_project("p1")
    assert len(rows) == 5
    assert (await servers.get("3")).status == "ERROR"


async def test_list_is_newest_first_and_filtered(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert_many([
        server("old", "2024-01-01T00:00:00Z"),
        server("new", "2024-03-01T00:00:00Z"),
        # later in time though earlier in text: ordering is by the parsed time
        server("mid", "2024-02-01T05:00:00+04:00"),
        server("other-site", "2024-02-15T00:00:00Z", site_id="site-b"),
        server("other-project", "2024-04-01T00:00:00Z", project_id="p2"),
    ])
    assert [s.top_id for s in await servers.list_for_project("p1")] == ["new", "other-site", "mid", "old"]
    assert [s.top_id for s in await servers.list_for_project("p1", limit=2)] == ["new", "other-site"]
    assert [s.top_id for s in await servers.list_for_project("p1", site_ids=["site-b"])] == ["other-site"]
    assert [s.top_id for s in await servers.list_for_project("p1", site_ids=[])] == []
    assert [s.top_id for s in await servers.list_for_project(None)][0] == "other-project"
    assert len(await servers.list_for_project(None)) == 5


async def test_mark_deleted_hides_from_lists_until_asked(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert_many([server("a", "2024-01-01T00:00:00Z"), server("b", "2024-01-02T00:00:00Z")])
    await servers.mark_deleted("a")
    assert [s.top_id for s in await servers.list_for_project("p1")] == ["b"]
    listed = await servers.list_for_project("p1", include_deleted=True)
    assert [(s.top_id, s.deleted) for s in listed] == [("b", False), ("a", True)]
    with pytest.raises(NotFound, match="Instance nope could not be found."):
        await servers.mark_deleted("nope")


async def test_delete_forgets_the_row(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert(server("a", "2024-01-01T00:00:00Z"))
    await servers.delete("a")
    await servers.delete("a")  # again: nothing to do, no error
    with pytest.raises(NotFound, match="Instance a could not be found.") as caught:
        await servers.get("a")
    assert (caught.value.kind, caught.value.resource_id) == ("server", "a")


async def test_live_rows_record_their_projects_sites(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert_many([server("a", "2024-05-01T00:00:00Z"), server("b", "2024-05-02T00:00:00Z"),
                               server("c", "2024-05-03T00:00:00Z", site_id="site-b"),
                               server("d", "2024-05-04T00:00:00Z", project_id="p2", site_id="site-c")])
    await servers.upsert(server("e", "2024-05-05T00:00:00Z", project_id="p3", deleted=True))
    assert await servers.sites_of(["p1"]) == {"site-a", "site-b"}
    assert await servers.sites_of(["p1", "p2"]) == {"site-a", "site-b", "site-c"}
    assert await servers.sites_of(["p3"]) == set()     # a deleted row's site is not one to ask
    assert await servers.sites_of([]) == set()


async def test_a_projects_site_stays_after_its_servers_go(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert(server("a", "2024-05-01T00:00:00Z"))
    await servers.mark_deleted("a")
    await servers.delete("a")
    await servers.upsert(server("b", "2024-05-02T00:00:00Z"))   # a pair already there is fine
    assert await servers.sites_of(["p1"]) == {"site-a"}


async def test_a_projects_sites_are_written_in_the_callers_transaction(database: Database) -> None:
    servers = ServerProjection(database)
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            await servers.upsert_many([server("a", "2024-05-01T00:00:00Z")], session=session)
            raise RuntimeError("the batch fails")
    assert await servers.sites_of(["p1"]) == set()


async def test_page_shares_count_each_sites_rows_among_the_first_of_the_order(database: Database) -> None:
    servers = ServerProjection(database)
    await servers.upsert_many([
        server("a1", "2024-01-01T00:00:00Z", site_id="a"),
        server("b2", "2024-01-02T00:00:00Z", site_id="b"),
        server("a3", "2024-01-03T00:00:00Z", site_id="a"),
        server("a4", "2024-01-04T00:00:00+00:00", site_id="a"),
        server("c5", "2024-01-05T00:00:00Z", site_id="c"),
        server("gone", "2024-01-06T00:00:00Z", site_id="b"),
        server("theirs", "2024-01-07T00:00:00Z", site_id="d", project_id="p2"),
    ])
    await servers.mark_deleted("gone")
    assert await servers.page_shares(["p1"], limit=3) == {"c": 1, "a": 2}
    assert await servers.page_shares(["p1"], limit=3, descending=False) == {"a": 2, "b": 1}
    assert await servers.page_shares(["p1", "p2"], limit=2) == {"d": 1, "c": 1}
    # after a marker created on Jan 4th: that day's rows too (ties), then older ones
    assert await servers.page_shares(["p1"], limit=10, after=parse_timestamp("2024-01-04T00:00:00Z")) \
        == {"a": 3, "b": 1}
    assert await servers.page_shares(["p1"], limit=10, descending=False,
                                     after=parse_timestamp("2024-01-04T00:00:00Z")) == {"a": 1, "c": 1}
    assert await servers.page_shares(["nobody"], limit=10) == {}
