"""The cascade's answers have the shape of the site's own: the same keys
(recursively) and value types for the same request at the same
microversion, and Nova's headers. The site is the reference."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.helpers import STAMP, boot, bottom_copy, flavor_id, image_id

MICROVERSIONS = ["2.1", "2.47", "2.96"]


def shape(value):
    """Keys and value types, recursively; lists by their first element;
    the cascade's stamp in a site's metadata is not part of the shape."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items() if key != STAMP}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def differences(top, site, path="$") -> list[str]:
    """Where two shapes differ, as readable lines."""
    if isinstance(top, dict) and isinstance(site, dict):
        found = [f"{path}.{key}: only in the {'cascade' if key in top else 'site'}'s answer"
                 for key in sorted(set(top) ^ set(site))]
        for key in sorted(set(top) & set(site)):
            found += differences(top[key], site[key], f"{path}.{key}")
        return found
    if isinstance(top, list) and isinstance(site, list) and top and site:
        return differences(top[0], site[0], f"{path}[0]")
    return [] if top == site else [f"{path}: cascade {top}, site {site}"]


def assert_same_shape(top, site) -> None:
    found = differences(shape(top), shape(site))
    assert not found, "\n".join(found)


@pytest.fixture(scope="module")
def pair(demo, cloud, sites):
    """A server through the cascade and its copy's zone."""
    server = boot(demo, cloud, zone=demo.zones[0], metadata={"k": "v"})
    zone, _ = bottom_copy(sites, server.id)
    yield server, sites[zone]
    cloud.compute.delete_server(server)


def both(cloud, site, path_top, path_site, microversion):
    top = cloud.compute.get(path_top, microversion=microversion)
    bottom = site.compute.get(path_site, microversion=microversion)
    assert top.status_code == bottom.status_code == 200, (top.text, bottom.text)
    return top, bottom


@pytest.mark.parametrize("microversion", MICROVERSIONS)
def test_server_show_has_the_sites_shape(cloud, sites, pair, microversion):
    server, site = pair
    _, bottom = bottom_copy(sites, server.id)
    top, site_answer = both(cloud, site, f"/servers/{server.id}", f"/servers/{bottom.id}", microversion)
    assert_same_shape(top.json(), site_answer.json())
    for header in ("x-openstack-request-id", "x-compute-request-id"):
        assert top.headers.get(header, "").startswith("req-")
    if microversion != "2.1":
        assert top.headers.get("OpenStack-API-Version") == f"compute {microversion}"
        assert top.headers.get("X-OpenStack-Nova-API-Version") == microversion


@pytest.mark.parametrize("collection", ["/servers", "/servers/detail"])
def test_server_lists_have_the_sites_shape(cloud, pair, collection):
    server, site = pair
    query = f"?name=^{server.name}$&limit=1"
    top, site_answer = both(cloud, site, collection + query, collection + query, "2.96")
    assert len(top.json()["servers"]) == 1
    top_body, site_body = top.json(), site_answer.json()
    top_body.pop("servers_links", None), site_body.pop("servers_links", None)   # only when more could follow
    assert_same_shape(top_body, site_body)


def test_flavor_and_keypair_answers_have_the_sites_shape(demo, cloud, sites):
    site = sites[demo.zones[0]]
    top, bottom = both(cloud, site, f"/flavors/{flavor_id(cloud, demo.tiny)}",
                       f"/flavors/{flavor_id(site, demo.tiny)}", "2.75")
    assert_same_shape(top.json(), bottom.json())
    name = f"cascade-test-k-{uuid.uuid4().hex[:6]}"
    made = cloud.compute.post("/os-keypairs", json={"keypair": {"name": name}}, microversion="2.10")
    site_made = site.compute.post("/os-keypairs", json={"keypair": {"name": name}}, microversion="2.10")
    try:
        assert made.status_code == site_made.status_code
        assert_same_shape(made.json(), site_made.json())
        top, bottom = both(cloud, site, f"/os-keypairs/{name}", f"/os-keypairs/{name}", "2.10")
        assert_same_shape(top.json(), bottom.json())
    finally:
        cloud.compute.delete(f"/os-keypairs/{name}")
        site.compute.delete(f"/os-keypairs/{name}")


@pytest.mark.parametrize("path", ["/limits", "/os-availability-zone", "/flavors/detail", "/os-keypairs"])
def test_other_collections_have_the_sites_shape(demo, cloud, sites, path):
    top, bottom = both(cloud, sites[demo.zones[0]], path, path, "2.96")
    assert_same_shape(top.json(), bottom.json())


def test_create_answer_has_the_sites_shape(demo, cloud, sites):
    zone = demo.zones[0]
    site = sites[zone]

    def create(conn, **extra):
        return conn.compute.post("/servers", microversion="2.96", json={"server": {
            "name": "cascade-test-shape", "flavorRef": flavor_id(conn, demo.tiny),
            "imageRef": image_id(conn, demo.image), "networks": "none", **extra}})

    top, bottom = create(cloud, availability_zone=zone), create(site)
    try:
        assert top.status_code == bottom.status_code == 202, (top.text, bottom.text)
        assert_same_shape(top.json(), bottom.json())
        assert top.headers["Location"] == f"{demo.url}/compute/v2.1/servers/{top.json()['server']['id']}"
    finally:
        for conn, answer in ((cloud, top), (site, bottom)):
            if answer.status_code == 202:
                conn.compute.delete_server(answer.json()["server"]["id"])
