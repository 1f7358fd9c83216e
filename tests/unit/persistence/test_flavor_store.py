"""FlavorStore: Nova's visibility rules, sorting and markers, soft deletion,
extra specs and access lists, with Nova's error wording."""
from __future__ import annotations

import asyncio

import pytest

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.flavors import FlavorStore
from tests.dbfixtures import database, module_database  # noqa: F401


async def add(store: FlavorStore, flavor_id: str, *, ram: int = 512, disk: int = 1, vcpus: int = 1,
              is_public: bool = True, name: str | None = None):
    return await store.add(flavor_id=flavor_id, name=name or f"flavor-{flavor_id}", vcpus=vcpus, ram=ram,
                           disk=disk, is_public=is_public)


async def test_add_and_get(database: Database) -> None:
    store = FlavorStore(database)
    made = await store.add(name="m1.small", vcpus=1, ram=2048, disk=20, ephemeral=5, swap=512,
                           rxtx_factor=2.0, is_public=False, description="small",
                           extra_specs={"hw:cpu_policy": "dedicated"})
    assert len(made.id) == 36  # a uuid4 when no id is given
    fetched = await store.get(made.id)
    assert fetched == made
    assert (fetched.vcpus, fetched.ram, fetched.disk, fetched.ephemeral, fetched.swap) == (1, 2048, 20, 5, 512)
    assert fetched.rxtx_factor == 2.0 and fetched.is_public is False and fetched.deleted is False
    assert fetched.extra_specs == {"hw:cpu_policy": "dedicated"}
    assert (await store.get_by_name("m1.small")).id == made.id


async def test_duplicates_conflict_with_novas_messages(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "1", name="tiny")
    with pytest.raises(Conflict, match="^Flavor with ID 1 already exists.$"):
        await add(store, "1", name="other")
    with pytest.raises(Conflict, match="^Flavor with name tiny already exists.$"):
        await add(store, "2", name="tiny")


async def test_concurrent_creates_of_one_name_make_one_flavor(database: Database) -> None:
    store = FlavorStore(database)
    results = await asyncio.gather(*(add(store, str(n), name="same") for n in range(4)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))


async def test_missing_flavors_are_not_found(database: Database) -> None:
    store = FlavorStore(database)
    with pytest.raises(NotFound, match="^Flavor 42 could not be found.$") as caught:
        await store.get("42")
    assert caught.value.kind == "flavor"
    with pytest.raises(NotFound, match="^Flavor with name big could not be found.$"):
        await store.get_by_name("big")
    with pytest.raises(NotFound):
        await store.delete("42")


async def test_delete_is_soft_and_frees_the_name(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "1", name="tiny")
    await store.delete("1")
    with pytest.raises(NotFound):
        await store.get("1")
    assert (await store.get("1", include_deleted=True)).deleted is True
    assert await store.list() == []
    assert [f.id for f in await store.list(include_deleted=True)] == ["1"]
    await add(store, "2", name="tiny")
    assert (await store.get_by_name("tiny")).id == "2"
    with pytest.raises(Conflict):  # the id stays taken by the deleted flavor
        await add(store, "1", name="again")


async def test_visibility_follows_nova(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "pub")
    await add(store, "mine", is_public=False)
    await add(store, "theirs", is_public=False)
    await store.add_access("mine", "p1")
    await store.add_access("theirs", "p2")

    async def ids(**kwargs):
        return [f.id for f in await store.list(**kwargs)]

    assert await ids() == ["pub"]
    assert await ids(project_id="p1") == ["mine", "pub"]
    assert await ids(is_public=False) == ["mine", "theirs"]
    assert await ids(is_public=None) == ["mine", "pub", "theirs"]
    assert (await store.get("mine", visible_to="p1")).id == "mine"
    assert (await store.get("pub", visible_to="p1")).id == "pub"
    with pytest.raises(NotFound):
        await store.get("theirs", visible_to="p1")


async def test_min_ram_and_min_disk_filter(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "a", ram=512, disk=1)
    await add(store, "b", ram=2048, disk=10)
    await add(store, "c", ram=4096, disk=5)
    assert [f.id for f in await store.list(min_ram=2048)] == ["b", "c"]
    assert [f.id for f in await store.list(min_disk=6)] == ["b"]
    assert [f.id for f in await store.list(min_ram=1024, min_disk=6)] == ["b"]


async def test_sorting_limit_and_marker(database: Database) -> None:
    store = FlavorStore(database)
    for flavor_id, ram in (("a", 2048), ("b", 512), ("c", 2048), ("d", 1024)):
        await add(store, flavor_id, ram=ram)
    assert [f.id for f in await store.list(limit=2)] == ["a", "b"]
    assert [f.id for f in await store.list(marker="b")] == ["c", "d"]
    assert [f.id for f in await store.list(sort_key="memory_mb")] == ["b", "d", "a", "c"]
    # ties on the sort key continue after the marker by id
    assert [f.id for f in await store.list(sort_key="memory_mb", marker="a")] == ["c"]
    assert [f.id for f in await store.list(sort_key="memory_mb", sort_dir="desc")] == ["c", "a", "d", "b"]
    assert [f.id for f in await store.list(sort_key="memory_mb", sort_dir="desc", marker="c", limit=2)] == ["a", "d"]
    with pytest.raises(BadRequest, match=r"marker \[zz\] not found"):
        await store.list(marker="zz")
    with pytest.raises(BadRequest):
        await store.list(sort_key="colour")
    with pytest.raises(BadRequest):
        await store.list(sort_dir="up")


async def test_extra_specs_merge_replace_and_delete(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "1")
    assert await store.set_extra_specs("1", {"a": "1", "b": "2"}) == {"a": "1", "b": "2"}
    assert await store.set_extra_specs("1", {"b": "3"}) == {"a": "1", "b": "3"}
    assert await store.set_extra_specs("1", {"c": "4"}, replace=True) == {"c": "4"}
    await store.delete_extra_spec("1", "c")
    assert (await store.get("1")).extra_specs == {}
    with pytest.raises(NotFound, match="^Flavor 1 has no extra specs with key c.$"):
        await store.delete_extra_spec("1", "c")
    with pytest.raises(NotFound):
        await store.set_extra_specs("2", {"a": "1"})


async def test_description_can_change(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "1")
    assert (await store.set_description("1", "now described")).description == "now described"
    assert (await store.get("1")).description == "now described"


async def test_access_lists(database: Database) -> None:
    store = FlavorStore(database)
    await add(store, "priv", is_public=False)
    await add(store, "pub")
    await store.add_access("priv", "p2")
    await store.add_access("priv", "p1")
    assert await store.access_list("priv") == ["p1", "p2"]
    with pytest.raises(Conflict, match="^Flavor access already exists for flavor priv and project p1 combination.$"):
        await store.add_access("priv", "p1")
    with pytest.raises(Conflict, match="^Can not add access to a public flavor.$"):
        await store.add_access("pub", "p1")
    with pytest.raises(NotFound, match="^Access list not available for public flavors.$"):
        await store.access_list("pub")
    await store.remove_access("priv", "p2")
    assert await store.access_list("priv") == ["p1"]
    with pytest.raises(NotFound, match="^Flavor access not found for priv / p2 combination.$"):
        await store.remove_access("priv", "p2")
    with pytest.raises(NotFound, match="^Flavor nope could not be found.$"):
        await store.add_access("nope", "p1")
