"""Server metadata and tags on the simulated Nova."""
from __future__ import annotations

import pytest

from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def test_metadata_crud(site):
    server_id = await site.boot("m", metadata={"a": "1"})
    site.settle()
    base = f"/servers/{server_id}/metadata"
    assert (await site.compute("GET", base)).body == {"metadata": {"a": "1"}}
    merged = await site.compute("POST", base, json={"metadata": {"b": "2"}})
    assert merged.body == {"metadata": {"a": "1", "b": "2"}}
    replaced = await site.compute("PUT", base, json={"metadata": {"c": "3"}})
    assert replaced.body == {"metadata": {"c": "3"}}
    item = await site.compute("PUT", f"{base}/d", json={"meta": {"d": "4"}})
    assert (item.status, item.body) == (200, {"meta": {"d": "4"}})
    assert (await site.compute("GET", f"{base}/d")).body == {"meta": {"d": "4"}}
    assert (await site.compute("DELETE", f"{base}/c")).status == 204
    assert (await site.compute("GET", base)).body == {"metadata": {"d": "4"}}
    missing = await site.compute("GET", f"{base}/c")
    assert missing.status == 404
    assert missing.body["itemNotFound"]["message"] == "Metadata item was not found"


async def test_metadata_body_checks(site):
    server_id = await site.boot("m")
    site.settle()
    base = f"/servers/{server_id}/metadata"
    mismatch = await site.compute("PUT", f"{base}/x", json={"meta": {"y": "1"}})
    assert mismatch.status == 400
    assert mismatch.body["badRequest"]["message"] == "Request body and URI mismatch"
    two = await site.compute("PUT", f"{base}/x", json={"meta": {"x": "1", "y": "2"}})
    assert two.status == 400
    bad_key = await site.compute("POST", base, json={"metadata": {"bad/key": "1"}})
    assert bad_key.status == 400
    too_long = await site.compute("POST", base, json={"metadata": {"k": "v" * 256}})
    assert too_long.status == 400
    too_many = await site.compute("PUT", base, json={"metadata": {
        f"k{i}": "v" for i in range(129)}})
    assert too_many.status == 403


async def test_metadata_needs_a_settled_unlocked_server(site):
    server_id = await site.boot("m")
    building = await site.compute("POST", f"/servers/{server_id}/metadata",
                                  json={"metadata": {"a": "1"}})
    assert building.status == 409
    site.settle()
    await site.compute("POST", f"/servers/{server_id}/action", json={"lock": None})
    locked = await site.compute("POST", f"/servers/{server_id}/metadata",
                                json={"metadata": {"a": "1"}})
    assert locked.status == 409


async def test_tags_crud_from_2_26(site):
    server_id = await site.boot("t")
    site.settle()
    base = f"/servers/{server_id}/tags"
    assert (await site.compute("GET", base, version="2.25")).status == 404
    assert (await site.compute("PUT", f"{base}/blue", version="2.26")).status == 201
    assert (await site.compute("PUT", f"{base}/blue", version="2.26")).status == 204
    assert (await site.compute("GET", f"{base}/blue", version="2.26")).status == 204
    missing = await site.compute("GET", f"{base}/red", version="2.26")
    assert missing.status == 404
    assert missing.body["itemNotFound"]["message"] == f"Server {server_id} has no tag 'red'"
    replaced = await site.compute("PUT", base, version="2.26", json={"tags": ["x", "y"]})
    assert replaced.body == {"tags": ["x", "y"]}
    assert (await site.compute("DELETE", f"{base}/x", version="2.26")).status == 204
    assert (await site.compute("GET", base, version="2.26")).body == {"tags": ["y"]}
    bad = await site.compute("PUT", f"{base}/a,b", version="2.26")
    assert bad.status == 400 and "is invalid" in bad.body["badRequest"]["message"]
    assert (await site.compute("DELETE", base, version="2.26")).status == 204
    assert (await site.compute("GET", base, version="2.26")).body == {"tags": []}
    many = await site.compute("PUT", base, version="2.26",
                              json={"tags": [f"t{i}" for i in range(51)]})
    assert many.status == 400


async def test_tags_at_create_need_2_52(site):
    body = {"name": "x", "imageRef": site.image_id("cirros"),
            "flavorRef": site.flavor_id("m1.tiny"), "networks": "none", "tags": ["a"]}
    old = await site.compute("POST", "/servers", version="2.51", json={"server": body})
    assert old.status == 400
    new = await site.compute("POST", "/servers", version="2.52", json={"server": body})
    assert new.status == 202
