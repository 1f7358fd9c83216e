"""ImageStore: one record per (owner, name, checksum), NULLs included, safe
against concurrent adoption of the same image."""
from __future__ import annotations

import asyncio

import pytest

from cascade.errors import Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.images import ImageStore, identity_key
from tests.dbfixtures import database, module_database  # noqa: F401


def test_identity_key_tells_none_from_empty() -> None:
    assert identity_key(None, "cirros", None) != identity_key("", "cirros", None)
    assert identity_key(None, "cirros", None) != identity_key(None, "cirros", "")
    assert identity_key("p", "a", "b") == identity_key("p", "a", "b")


async def test_get_or_create_makes_once_then_finds(database: Database) -> None:
    store = ImageStore(database)
    made, created = await store.get_or_create("p1", "cirros", "abc", {"status": "active"})
    assert created is True and made.data == {"status": "active"}
    again, created = await store.get_or_create("p1", "cirros", "abc", {"status": "queued"})
    assert created is False and again == made
    assert await store.get(made.id) == made
    assert await store.find("p1", "cirros", "abc") == made
    assert await store.find("p1", "cirros", "other") is None


async def test_nulls_are_unique_too(database: Database) -> None:
    store = ImageStore(database)
    public, created = await store.get_or_create(None, "cirros", None, {})
    assert created
    same, created = await store.get_or_create(None, "cirros", None, {})
    assert not created and same.id == public.id
    nameless, created = await store.get_or_create(None, None, None, {})
    assert created and nameless.id != public.id
    assert (await store.get_or_create(None, None, None, {}))[0].id == nameless.id
    assert len(await store.list()) == 2


async def test_concurrent_adoption_yields_one_record(database: Database) -> None:
    store = ImageStore(database)
    results = await asyncio.gather(*(store.get_or_create(None, "ubuntu", "md5", {"n": n}) for n in range(5)))
    assert len({image.id for image, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_explicit_id_clash_is_a_conflict(database: Database) -> None:
    store = ImageStore(database)
    made, _ = await store.get_or_create("p", "a", None, {})
    with pytest.raises(Conflict):
        await store.get_or_create("p", "b", None, {}, image_id=made.id)


async def test_update_data_list_and_delete(database: Database) -> None:
    store = ImageStore(database)
    mine, _ = await store.get_or_create("p1", "mine", None, {"v": 1})
    public, _ = await store.get_or_create(None, "public", None, {})
    await store.get_or_create("p2", "theirs", None, {})
    updated = await store.update_data(mine.id, {"v": 2, "nested": {"ok": True}})
    assert updated.data == {"v": 2, "nested": {"ok": True}}
    assert (await store.get(mine.id)).data == {"v": 2, "nested": {"ok": True}}
    assert {i.name for i in await store.list(visible_to="p1")} == {"mine", "public"}
    assert len(await store.list()) == 3
    await store.delete(public.id)
    with pytest.raises(NotFound, match=f"^Image {public.id} could not be found.$"):
        await store.get(public.id)
    with pytest.raises(NotFound):
        await store.update_data(public.id, {})
    with pytest.raises(NotFound):
        await store.delete(public.id)


async def test_rekey_completes_an_identity_unless_another_record_holds_it(database: Database) -> None:
    store = ImageStore(database)
    queued, _ = await store.get_or_create(None, "late", None, {"status": "queued"})
    done = await store.rekey(queued.id, None, "late", "md5-a", {"status": "active"})
    assert (done.id, done.checksum, done.data) == (queued.id, "md5-a", {"status": "active"})
    assert await store.find(None, "late", "md5-a") == done
    assert await store.find(None, "late", None) is None
    other, _ = await store.get_or_create(None, "late", None, {"status": "queued"})
    with pytest.raises(Conflict):
        await store.rekey(other.id, None, "late", "md5-a", {})
    assert (await store.get(other.id)).checksum is None, "a refused rekey changes nothing"
