"""A server's instance actions through the cascade: listed and shown by the
request ids the cascade gave the tenant (the site recorded them under its
own), with the top server id, no compute host, the actions of deleted
servers from 2.21, and paging from 2.58; another tenant's are not found."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.helpers import bottom_copy, flavor_id, image_id, wait_for, wait_status


def request_id(response) -> str:
    return response.headers["x-compute-request-id"]


def create(demo, conn):
    """(server id, the request id the tenant got for its create)."""
    body = {"server": {"name": f"ia-{uuid.uuid4().hex[:8]}", "imageRef": image_id(conn, demo.image),
                       "flavorRef": flavor_id(conn, demo.tiny), "networks": "none"}}
    response = conn.compute.post("/servers", json=body, microversion="2.37")
    assert response.status_code == 202, response.text
    server_id = response.json()["server"]["id"]
    demo.made(conn, server_id)
    wait_status(conn, server_id, "ACTIVE")
    return server_id, request_id(response)


def actions(conn, server_id, microversion="2.1", query=""):
    response = conn.compute.get(f"/servers/{server_id}/os-instance-actions{query}", microversion=microversion)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def rebooted(demo, cloud):
    """A server created and hard-rebooted through the cascade, with the
    tenant's request ids of both calls."""
    server_id, created = create(demo, cloud)
    response = cloud.compute.post(f"/servers/{server_id}/action", json={"reboot": {"type": "HARD"}})
    assert response.status_code == 202, response.text
    wait_status(cloud, server_id, "ACTIVE")
    yield server_id, {"create": created, "reboot": request_id(response)}
    cloud.compute.delete(f"/servers/{server_id}")


def test_actions_carry_the_request_ids_the_tenant_was_given(cloud, sites, rebooted):
    server_id, given = rebooted
    listed = actions(cloud, server_id)["instanceActions"]
    assert [a["action"] for a in listed] == ["reboot", "create"]
    assert {a["action"]: a["request_id"] for a in listed} == given
    assert {a["instance_uuid"] for a in listed} == {server_id}
    zone, bottom = bottom_copy(sites, server_id)
    at_site = actions(sites[zone], bottom.id)["instanceActions"]
    assert [a["action"] for a in at_site] == ["reboot", "create"]
    assert bottom.id not in str(listed)
    site_ids = {a["request_id"] for a in at_site}
    assert not site_ids & set(given.values()), "the site recorded its own ids: the cascade translated them"
    assert not any(site_id in str(listed) for site_id in site_ids)


def test_an_action_is_shown_by_the_tenants_request_id(cloud, rebooted):
    server_id, given = rebooted
    response = cloud.compute.get(f"/servers/{server_id}/os-instance-actions/{given['create']}")
    assert response.status_code == 200, response.text
    action = response.json()["instanceAction"]
    assert (action["action"], action["request_id"], action["instance_uuid"]) == ("create", given["create"], server_id)


def test_events_name_no_compute_host(admin, sites, rebooted):
    """2.62 gives admins each event's host; the cascade's hosts are not the
    sites', so events keep only Nova's hashed hostId."""
    server_id, given = rebooted
    response = admin.compute.get(f"/servers/{server_id}/os-instance-actions/{given['reboot']}", microversion="2.62")
    assert response.status_code == 200, response.text
    events = response.json()["instanceAction"]["events"]
    assert events and all("hostId" in e and "host" not in e for e in events)


def test_unknown_action_and_other_tenants_are_not_found(cloud, alt, rebooted):
    server_id, _ = rebooted
    missing = f"req-{uuid.uuid4()}"
    response = cloud.compute.get(f"/servers/{server_id}/os-instance-actions/{missing}")
    assert response.status_code == 404
    assert response.json() == {"itemNotFound": {"code": 404, "message": f"Action {missing} not found"}}
    for path in (f"/servers/{server_id}/os-instance-actions", f"/servers/{uuid.uuid4()}/os-instance-actions"):
        response = alt.compute.get(path)
        server = path.split("/")[2]
        assert response.status_code == 404
        assert response.json()["itemNotFound"]["message"] == f"Instance {server} could not be found."


def test_a_deleted_servers_actions_from_2_21(demo, cloud):
    server_id, created = create(demo, cloud)
    response = cloud.compute.delete(f"/servers/{server_id}")
    assert response.status_code == 204
    deleted = request_id(response)
    wait_for(lambda: cloud.compute.get(f"/servers/{server_id}").status_code == 404, timeout=60)
    listed = actions(cloud, server_id, "2.21")["instanceActions"]
    assert [(a["action"], a["request_id"]) for a in listed] == [("delete", deleted), ("create", created)]
    shown = cloud.compute.get(f"/servers/{server_id}/os-instance-actions/{deleted}", microversion="2.21")
    assert shown.status_code == 200 and shown.json()["instanceAction"]["action"] == "delete"
    before = cloud.compute.get(f"/servers/{server_id}/os-instance-actions", microversion="2.20")
    assert before.status_code == 404
    assert before.json()["itemNotFound"]["message"] == f"Instance {server_id} could not be found."


def test_pages_of_actions_from_2_58(demo, cloud, sites, rebooted):
    server_id, given = rebooted
    zone, bottom = bottom_copy(sites, server_id)
    if len(actions(sites[zone], bottom.id, "2.58", "?limit=1")["instanceActions"]) != 1:
        pytest.skip(f"the site of zone {zone} does not page instance actions (2.58)")
    first = actions(cloud, server_id, "2.58", "?limit=1")
    assert [a["request_id"] for a in first["instanceActions"]] == [given["reboot"]]
    assert "updated_at" in first["instanceActions"][0]
    next_href = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert next_href.startswith(f"{demo.url}/compute/v2.1/servers/{server_id}/os-instance-actions?")
    assert f"marker={given['reboot']}" in next_href
    second = actions(cloud, server_id, "2.58", f"?limit=1&marker={given['reboot']}")
    assert [a["request_id"] for a in second["instanceActions"]] == [given["create"]]
    future = actions(cloud, server_id, "2.58", "?changes-since=2999-01-01T00:00:00Z")
    assert future["instanceActions"] == []
    bad = cloud.compute.get(f"/servers/{server_id}/os-instance-actions?marker=req-{uuid.uuid4()}",
                            microversion="2.58")
    assert bad.status_code == 400, bad.text
