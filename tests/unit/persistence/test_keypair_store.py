"""KeypairStore: one namespace per user, Nova's wording, name-ordered pages."""
from __future__ import annotations

import pytest

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.keypairs import KeypairStore
from tests.dbfixtures import database, module_database  # noqa: F401


async def add(store: KeypairStore, user_id: str, name: str, **kwargs):
    return await store.add(user_id=user_id, name=name, public_key=f"ssh-ed25519 AAAA{name}",
                           fingerprint=f"fp:{name}", **kwargs)


async def test_add_get_and_list_by_user(database: Database) -> None:
    store = KeypairStore(database)
    made = await add(store, "u1", "zeta")
    await add(store, "u1", "alpha", type="x509")
    await add(store, "u2", "zeta")  # the same name for another user is fine
    assert await store.get("u1", "zeta") == made
    assert made.public_key == "ssh-ed25519 AAAAzeta" and made.type == "ssh" and made.fingerprint == "fp:zeta"
    listed = await store.list_for_user("u1")
    assert [(k.name, k.type) for k in listed] == [("alpha", "x509"), ("zeta", "ssh")]
    assert [k.user_id for k in await store.list_for_user("u2")] == ["u2"]
    assert await store.list_for_user("nobody") == []


async def test_duplicate_name_is_novas_conflict(database: Database) -> None:
    store = KeypairStore(database)
    await add(store, "u1", "key")
    with pytest.raises(Conflict, match="^Key pair 'key' already exists.$"):
        await add(store, "u1", "key")


async def test_limit_and_marker(database: Database) -> None:
    store = KeypairStore(database)
    for name in ("c", "a", "d", "b"):
        await add(store, "u1", name)
    assert [k.name for k in await store.list_for_user("u1", limit=2)] == ["a", "b"]
    assert [k.name for k in await store.list_for_user("u1", marker="b")] == ["c", "d"]
    assert [k.name for k in await store.list_for_user("u1", marker="b", limit=1)] == ["c"]
    with pytest.raises(BadRequest, match="^Marker x could not be found.$"):
        await store.list_for_user("u1", marker="x")


async def test_delete_and_not_found(database: Database) -> None:
    store = KeypairStore(database)
    await add(store, "u1", "key")
    await add(store, "u2", "key")
    await store.delete("u1", "key")
    with pytest.raises(NotFound, match="^Keypair key not found for user u1$"):
        await store.get("u1", "key")
    with pytest.raises(NotFound):
        await store.delete("u1", "key")
    assert (await store.get("u2", "key")).user_id == "u2"
