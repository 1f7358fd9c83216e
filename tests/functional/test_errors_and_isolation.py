"""Bad input gets Nova's status codes and bodies, checked against the same
request made straight at a site (the site is the reference); one tenant
never sees or touches another's servers."""
from __future__ import annotations

import re
import uuid

import openstack
import pytest
import requests

from tests.functional.helpers import boot, bottom_copy, flavor_id, image_id


def post_server(conn, server, microversion="2.37"):
    return conn.compute.post("/servers", json={"server": server}, microversion=microversion)


def fault(response) -> tuple[int, str, str]:
    """(status, fault name, message) of a Nova error answer."""
    (name, body), = response.json().items()
    assert body["code"] == response.status_code
    return response.status_code, name, body["message"]


def assert_same_fault(top, bottom, *, normalise=lambda message: message, echoed=None):
    """The cascade answered as the site did: status, fault name and message;
    `echoed` maps the site's ids to the cascade's where a message quotes the request."""
    (status, name, message), (site_status, site_name, site_message) = fault(top), fault(bottom)
    for site_id, top_id in (echoed or {}).items():
        site_message = site_message.replace(site_id, top_id)
    assert (status, name, normalise(message)) == (site_status, site_name, normalise(site_message)), \
        f"cascade: {top.text}\nsite:    {bottom.text}"


@pytest.fixture(scope="module")
def site(demo, sites):
    """The first site, straight, as the demo tenant."""
    return sites[demo.zones[0]]


def valid_server(demo, conn) -> dict:
    return {"name": "bad", "flavorRef": flavor_id(conn, demo.tiny), "imageRef": image_id(conn, demo.image),
            "networks": "none"}


def raw_post(conn, path: str, data: str):
    endpoint = conn.compute.get_endpoint().rstrip("/")
    return requests.post(f"{endpoint}{path}", data=data, timeout=30,
                         headers={"X-Auth-Token": conn.auth_token, "Content-Type": "application/json"})


def test_malformed_body(cloud, site):
    top, bottom = raw_post(cloud, "/servers", "{not json"), raw_post(site, "/servers", "{not json")
    assert top.status_code == 400
    assert_same_fault(top, bottom)


@pytest.mark.parametrize("change", [
    {"flavorRef": "no-such-flavor"},
    {"imageRef": "no-such-image"},
    {"imageRef": "00000000-0000-0000-0000-000000000000"},
    {"availability_zone": "nowhere"},
    {"key_name": "no-such-key"},
    {"bogus": 1},
    {"name": " leading-space"},
    {"metadata": {"k": 1}},
], ids=["flavor", "image", "image-uuid", "zone", "key", "property", "name", "metadata"])
def test_bad_references_answer_as_the_site(demo, cloud, site, change):
    server, site_server = valid_server(demo, cloud), valid_server(demo, site)
    top, bottom = post_server(cloud, {**server, **change}), post_server(site, {**site_server, **change})
    assert top.status_code == 400, top.text
    assert_same_fault(top, bottom, echoed={site_server[k]: server[k] for k in ("flavorRef", "imageRef")})


def test_missing_name_is_400(demo, cloud, site):
    server, site_server = valid_server(demo, cloud), valid_server(demo, site)
    del server["name"], site_server["name"]
    top, bottom = post_server(cloud, server), post_server(site, site_server)
    assert top.status_code == 400 and "'name' is a required property" in top.text
    assert_same_fault(top, bottom, echoed={site_server[k]: server[k] for k in ("flavorRef", "imageRef")})


def test_unsupported_microversion_is_406(cloud, site):
    top, bottom = cloud.compute.get("/servers", microversion="2.999"), site.compute.get("/servers", microversion="2.999")
    assert top.status_code == 406
    assert "Version 2.999 is not supported by the API." in fault(top)[2]
    # the cascade's maximum is its own (at most every site's)
    assert_same_fault(top, bottom, normalise=lambda m: re.sub(r"maximum is 2\.\d+", "maximum is X", m))


def test_version_documents(demo):
    body = requests.get(f"{demo.url}/compute/", timeout=10).json()
    current = next(v for v in body["versions"] if v["id"] == "v2.1")
    assert current["min_version"] == "2.1" and tuple(map(int, current["version"].split("."))) >= (2, 9)
    assert current["links"][0]["href"].startswith(demo.url)


def test_no_token_is_401(demo):
    response = requests.get(f"{demo.url}/compute/v2.1/servers", timeout=10)
    assert response.status_code == 401


def test_all_tenants_is_admin_only(cloud, admin, site):
    top = cloud.compute.get("/servers?all_tenants=1")
    assert top.status_code == site.compute.get("/servers?all_tenants=1").status_code
    assert admin.compute.get("/servers?all_tenants=1").status_code == 200


def test_unknown_server_is_404(cloud, site):
    missing = str(uuid.uuid4())
    top, bottom = cloud.compute.get(f"/servers/{missing}"), site.compute.get(f"/servers/{missing}")
    assert top.status_code == 404
    assert fault(top)[2] == f"Instance {missing} could not be found."
    assert_same_fault(top, bottom)


def test_bad_marker_is_400(cloud, site):
    missing = str(uuid.uuid4())
    top, bottom = cloud.compute.get(f"/servers?marker={missing}"), site.compute.get(f"/servers?marker={missing}")
    assert top.status_code == 400
    assert f"marker [{missing}] not found" in fault(top)[2]
    assert_same_fault(top, bottom)


def test_tenants_are_isolated(demo, cloud, alt, admin):
    mine = boot(demo, cloud, zone=demo.zones[0])
    try:
        assert mine.id not in [s.id for s in alt.compute.servers()]
        with pytest.raises(openstack.exceptions.NotFoundException):
            alt.compute.get_server(mine.id)
        for call in (lambda: alt.compute.delete_server(mine.id, ignore_missing=False),
                     lambda: alt.compute.stop_server(mine.id),
                     lambda: alt.compute.reboot_server(mine.id, "SOFT"),
                     lambda: alt.compute.set_server_metadata(mine.id, a="b"),
                     lambda: alt.compute.update_server(mine.id, name="stolen")):
            with pytest.raises(openstack.exceptions.NotFoundException):
                call()
        assert alt.compute.get(f"/servers/{mine.id}/tags", microversion="2.26").status_code == 404
        still = cloud.compute.get_server(mine.id)
        assert still.status == "ACTIVE" and still.name == mine.name
        everyone = [s.id for s in admin.compute.servers(all_projects=True)]
        assert mine.id in everyone
    finally:
        cloud.compute.delete_server(mine)



def test_a_body_type_nova_does_not_read_is_415(demo, cloud):
    # the cascade's own answer, before any site is asked (compared with a site's below)
    response = requests.get(f"{demo.url}/compute/v2.1/servers", timeout=30, headers={
        "X-Auth-Token": cloud.auth_token, "Content-Type": "application/xml"})
    assert response.status_code == 415
    assert response.json() == {"badMediaType": {"code": 415, "message": "Unsupported Content-Type"}}


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", "application/json"])
def test_body_types_are_read_as_nova_reads_them(demo, cloud, sites, content_type):
    """Nova answers 415 to a body type it does not read (on any call, even
    one without a body) and takes text/plain as no type at all."""
    server = boot(demo, cloud, zone=demo.zones[0])
    try:
        zone, copy = bottom_copy(sites, server.id)
        answers = []
        for conn, server_id, tag in ((cloud, server.id, "top"), (sites[zone], copy.id, "site")):
            endpoint = conn.compute.get_endpoint().rstrip("/")
            answers.append(requests.put(f"{endpoint}/servers/{server_id}/tags/{tag}", timeout=30, headers={
                "X-Auth-Token": conn.auth_token, "OpenStack-API-Version": "compute 2.26",
                "Content-Type": content_type}))
        top, bottom = answers
        assert top.status_code == bottom.status_code, (top.text, bottom.text)
        if bottom.status_code == 415:
            assert_same_fault(top, bottom)
    finally:
        cloud.compute.delete_server(server)
