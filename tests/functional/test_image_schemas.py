"""Glance's schema documents (`/v2/schemas/...`), which Tempest's image
tests and clients read: the cascade relays what a site's Glance defines, the
same document a tenant reads at the site, with no site URL in it; an unknown
schema is Glance's 404."""
from __future__ import annotations

import pytest

NAMES = ["image", "images", "member", "members",
         "metadefs/namespace", "metadefs/namespaces", "metadefs/object", "metadefs/objects",
         "metadefs/property", "metadefs/properties", "metadefs/resource_type", "metadefs/resource_types",
         "metadefs/tag", "metadefs/tags"]


@pytest.fixture(scope="module")
def site(demo, sites):
    site = sites[demo.zones[0]]
    if site.image.get("/schemas/image").status_code == 404:
        pytest.skip(f"the Glance of zone {demo.zones[0]} does not serve /v2/schemas "
                    "(simcloud's Glance has none yet; the interop twin runs these over real Glance)")
    return site


@pytest.mark.parametrize("name", NAMES)
def test_a_schema_is_the_sites(demo, cloud, site, name):
    at_site = site.image.get(f"/schemas/{name}")
    assert at_site.status_code == 200, at_site.text
    top = cloud.image.get(f"/schemas/{name}")
    assert top.status_code == 200, top.text
    assert top.headers["Content-Type"].startswith("application/json")
    assert top.json() == at_site.json()
    assert top.json()["name"] and top.json()["properties"]
    for url in demo.site_urls():
        assert url not in top.text


@pytest.mark.parametrize("path", ["/schemas/no-such-schema", "/schemas/metadefs/no-such-schema",
                                  "/schemas/metadefs", "/schemas/image/more"])
def test_an_unknown_schema_is_not_found(cloud, site, path):
    assert site.image.get(path).status_code == 404
    response = cloud.image.get(path)
    assert response.status_code == 404, response.text
    assert "The resource could not be found." in response.text
