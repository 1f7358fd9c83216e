"""Bad input gets Nova's status codes and bodies; one tenant never sees or
touches another's servers."""
from __future__ import annotations

import openstack
import pytest
import requests

from tests.functional.helpers import boot, flavor_id, image_id


def post_server(cloud, server, microversion="2.37"):
    return cloud.compute.post("/servers", json={"server": server}, microversion=microversion)


def test_malformed_body(demo, cloud):
    token = cloud.auth_token
    response = requests.post(f"{demo.url}/compute/v2.1/servers", data="{not json",
                             headers={"X-Auth-Token": token, "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": "Malformed request body"}}


@pytest.mark.parametrize("change, text", [
    ({"flavorRef": "no-such-flavor"}, "Flavor no-such-flavor could not be found."),
    ({"imageRef": "no-such-image"}, "Image no-such-image could not be found."),
    ({"availability_zone": "nowhere"}, "The requested availability zone is not available"),
    ({"key_name": "no-such-key"}, "Invalid key_name provided."),
    ({"bogus": 1}, "Additional properties are not allowed"),
])
def test_bad_references_are_400(cloud, change, text):
    server = {"name": "bad", "flavorRef": flavor_id(cloud), "imageRef": image_id(cloud), "networks": "none",
              **change}
    response = post_server(cloud, server)
    assert response.status_code == 400, response.text
    assert text in response.json()["badRequest"]["message"]


def test_missing_name_is_400(cloud):
    response = post_server(cloud, {"flavorRef": flavor_id(cloud), "imageRef": image_id(cloud), "networks": "none"})
    assert response.status_code == 400 and "'name' is a required property" in response.text


def test_unsupported_microversion_is_406(cloud):
    response = cloud.compute.get("/servers", microversion="2.999")
    assert response.status_code == 406
    assert "is not supported by the API" in response.json()["computeFault"]["message"]


def test_version_documents(demo):
    body = requests.get(f"{demo.url}/compute/", timeout=10).json()
    current = next(v for v in body["versions"] if v["id"] == "v2.1")
    assert current["min_version"] == "2.1" and current["version"] >= "2.9"
    assert current["links"][0]["href"].startswith(demo.url)


def test_no_token_is_401(demo):
    response = requests.get(f"{demo.url}/compute/v2.1/servers", timeout=10)
    assert response.status_code == 401


def test_all_tenants_is_admin_only(cloud, admin):
    assert cloud.compute.get("/servers?all_tenants=1").status_code == 403
    assert admin.compute.get("/servers?all_tenants=1").status_code == 200


def test_unknown_server_is_404(cloud):
    response = cloud.compute.get("/servers/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["message"] == \
        "Instance 00000000-0000-0000-0000-000000000000 could not be found."


def test_tenants_are_isolated(cloud, alt, admin):
    mine = boot(cloud, zone="site1")
    try:
        assert mine.id not in [s.id for s in alt.compute.servers()]
        with pytest.raises(openstack.exceptions.NotFoundException):
            alt.compute.get_server(mine.id)
        for call in (lambda: alt.compute.delete_server(mine.id, ignore_missing=False),
                     lambda: alt.compute.stop_server(mine.id),
                     lambda: alt.compute.set_server_metadata(mine.id, a="b")):
            with pytest.raises(openstack.exceptions.NotFoundException):
                call()
        assert cloud.compute.get_server(mine.id).status == "ACTIVE"
        everyone = [s.id for s in admin.compute.servers(all_projects=True)]
        assert mine.id in everyone
    finally:
        cloud.compute.delete_server(mine)
