"""The simulated Glance v2 (read-only): versions, image records as Glance
shows them, list filters, sorting and `next` paging, visibility, errors."""
from __future__ import annotations

import pytest

from _nova_site import start_site
from simcloud.glance.store import ImageSpec

JSON = {"Accept": "application/json"}


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def test_versions(site):
    root = await site.call("GET", "/image/", as_=None)
    assert root.status == 300
    assert "x-openstack-request-id" not in root.headers
    explicit = await site.call("GET", "/image/versions", as_=None)
    assert explicit.status == 200
    current = [v for v in explicit.body["versions"] if v["status"] == "CURRENT"]
    assert len(current) == 1
    assert current[0]["links"][0]["href"].endswith("/image/v2/")
    # Glance's own order with multiple stores: 2.15, the store versions, then 2.17
    ids = [v["id"] for v in explicit.body["versions"]]
    assert ids[:8] == ["v2.15", "v2.13", "v2.12", "v2.11", "v2.10", "v2.9", "v2.8", "v2.17"]


async def test_image_record_shape(site):
    image_id = site.image_id("cirros")
    image = (await site.call("GET", f"/image/v2/images/{image_id}")).body
    assert {"id", "name", "status", "visibility", "checksum", "os_hash_algo", "os_hash_value",
            "size", "disk_format", "container_format", "min_disk", "min_ram", "owner",
            "protected", "created_at", "updated_at", "self", "file", "schema",
            "tags"} <= set(image)
    assert (image["status"], image["visibility"], image["os_hash_algo"]) == (
        "active", "public", "sha512")
    assert image["self"] == f"/v2/images/{image_id}"
    assert len(image["checksum"]) == 32 and len(image["os_hash_value"]) == 128
    assert image["stores"] == "fs" and image["virtual_size"] > image["size"]
    assert image["owner"] is None      # no Keystone here: see test_world_layout for the owner


async def test_site_config_images_from_mappings():
    """What a --site-config file gives: lists and mappings, raw images sized as uploaded."""
    site = await start_site(images=[{"name": "mine", "size": 1050, "disk_format": "raw",
                                     "tags": ["t"], "properties": {"os_distro": "x"}}])
    try:
        image = (await site.call("GET", f"/image/v2/images/{site.image_id('mine')}")).body
        assert (image["virtual_size"], image["tags"], image["os_distro"]) == (1050, ["t"], "x")
    finally:
        await site.close()
    with pytest.raises(ValueError, match="colour"):
        await start_site(images=[{"name": "bad", "size": 1, "colour": "blue"}])


async def test_same_image_same_checksum_different_id_per_site():
    one, two = await start_site(name="site1"), await start_site(name="site2")
    try:
        a = (await one.call("GET", f"/image/v2/images/{one.image_id('cirros')}")).body
        b = (await two.call("GET", f"/image/v2/images/{two.image_id('cirros')}")).body
        assert a["checksum"] == b["checksum"] and a["size"] == b["size"]
        assert a["id"] != b["id"]
    finally:
        await one.close()
        await two.close()


async def test_list_filters_sort_and_paging():
    specs = [ImageSpec(f"img-{i}", 1000 + i, disk_format="raw" if i % 2 else "qcow2")
             for i in range(5)]
    site = await start_site(images=specs)
    try:
        async def names(**params):
            reply = await site.call("GET", "/image/v2/images", params=params)
            assert reply.status == 200, reply.body
            return [i["name"] for i in reply.body["images"]], reply.body
        listed, body = await names()
        assert listed == ["img-4", "img-3", "img-2", "img-1", "img-0"]   # created_at desc
        assert body["first"] == "/v2/images" and body["schema"] == "/v2/schemas/images"
        assert (await names(name="img-2"))[0] == ["img-2"]
        assert (await names(disk_format="raw"))[0] == ["img-3", "img-1"]
        assert (await names(sort_key="size", sort_dir="asc"))[0][:2] == ["img-0", "img-1"]
        assert (await names(sort="name:asc"))[0][0] == "img-0"
        page, body = await names(limit="2")
        assert page == ["img-4", "img-3"]
        assert body["next"].startswith("/v2/images?") and "marker=" in body["next"]
        marker = body["next"].split("marker=")[1]
        assert (await names(marker=marker))[0] == ["img-2", "img-1", "img-0"]
        bad_key = await site.call("GET", "/image/v2/images", params={"sort_key": "color"},
                                  headers=JSON)
        assert bad_key.status == 400 and "Invalid sort key: color" in bad_key.body["message"]
        bad_marker = await site.call("GET", "/image/v2/images", params={"marker": "nope"},
                                     headers=JSON)
        assert bad_marker.status == 400
        bad_visibility = await site.call("GET", "/image/v2/images",
                                         params={"visibility": "odd"}, headers=JSON)
        assert bad_visibility.status == 400
    finally:
        await site.close()


async def test_not_found_and_auth_errors(site):
    missing = await site.call("GET", "/image/v2/images/nope", headers=JSON)
    assert missing.status == 404
    assert missing.body["code"] == "404 Not Found"
    assert missing.body["message"].startswith("No image found with ID nope")
    html = await site.call("GET", "/image/v2/images/nope")
    assert html.status == 404 and "<h1>404 Not Found</h1>" in html.body
    unauthenticated = await site.call("GET", "/image/v2/images", as_=None, headers=JSON)
    assert unauthenticated.status == 401
    # keystonemiddleware refuses before Glance's request-id middleware; webob renders it
    assert unauthenticated.body["code"] == "401 Unauthorized"
    assert unauthenticated.body["message"].startswith("This server could not verify")
    assert "x-openstack-request-id" not in unauthenticated.headers
    read_only = await site.call("DELETE", f"/image/v2/images/{site.image_id('cirros')}")
    assert read_only.status == 405
