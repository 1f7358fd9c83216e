"""ServerGroupStore: Nova's project scoping and wording, members, and the
pinning of affinity groups to one site (first writer wins, released when
the last member goes)."""
from __future__ import annotations

import asyncio

import pytest

from cascade.errors import NotFound
from cascade.persistence.db import Database
from cascade.persistence.server_groups import ServerGroupStore
from tests.dbfixtures import database, module_database  # noqa: F401


async def test_add_get_and_project_scoping(database: Database) -> None:
    store = ServerGroupStore(database)
    made = await store.add(name="g", project_id="p1", user_id="u1", policy="anti-affinity",
                           rules={"max_server_per_host": 2})
    assert len(made.id) == 36 and made.members == () and made.site_id is None
    assert await store.get(made.id) == made
    assert (await store.get(made.id, project_id="p1")).rules == {"max_server_per_host": 2}
    with pytest.raises(NotFound, match=f"^Instance group {made.id} could not be found.$"):
        await store.get(made.id, project_id="p2")
    with pytest.raises(NotFound):
        await store.delete(made.id, project_id="p2")
    with pytest.raises(ValueError):
        await store.add(name="x", project_id="p1", user_id="u1", policy="legacy")


async def test_list_is_oldest_first_with_offset_and_limit(database: Database) -> None:
    store = ServerGroupStore(database)
    made = [await store.add(name=f"g{n}", project_id="p1" if n % 2 == 0 else "p2", user_id="u",
                            policy="affinity") for n in range(5)]
    assert [g.name for g in await store.list(project_id="p1")] == ["g0", "g2", "g4"]
    assert [g.name for g in await store.list()] == [g.name for g in made]
    assert [g.name for g in await store.list(offset=1, limit=2)] == ["g1", "g2"]
    assert await store.count("p1") == 3 and await store.count("p2", user_id="other") == 0


async def test_members_join_once_and_leave_on_delete(database: Database) -> None:
    store = ServerGroupStore(database)
    first = await store.add(name="a", project_id="p", user_id="u", policy="affinity")
    second = await store.add(name="b", project_id="p", user_id="u", policy="soft-affinity")
    await store.add_members(first.id, ["s1", "s2", "s1"])
    await store.add_members(first.id, ["s2", "s3"])
    await store.add_members(second.id, ["s2"])
    assert (await store.get(first.id)).members == ("s1", "s2", "s3")
    assert await store.groups_of("s2") == sorted([first.id, second.id])
    assert sorted(await store.remove_member("s2")) == sorted([first.id, second.id])
    assert (await store.get(first.id)).members == ("s1", "s3")
    assert await store.remove_member("nobody") == []
    with pytest.raises(NotFound):
        await store.add_members("no-such-group", ["s1"])
    await store.delete(first.id)
    assert await store.groups_of("s1") == []


async def test_pin_first_writer_wins_and_last_member_releases(database: Database) -> None:
    store = ServerGroupStore(database)
    group = await store.add(name="a", project_id="p", user_id="u", policy="affinity")
    pinned = await asyncio.gather(*(store.pin(group.id, f"site-{n}") for n in range(4)))
    assert len(set(pinned)) == 1
    assert (await store.get(group.id)).site_id == pinned[0]
    await store.add_members(group.id, ["s1", "s2"])
    await store.remove_member("s1")
    assert (await store.get(group.id)).site_id == pinned[0], "still has a member"
    await store.remove_member("s2")
    assert (await store.get(group.id)).site_id is None
    assert await store.pin(group.id, "site-9") == "site-9"
    with pytest.raises(NotFound):
        await store.pin("no-such-group", "site-1")
