"""Server actions the cascade passes to the server's site through its one
action dispatch, with what it translates: shelve, shelveOffload and
unshelve (zones from 2.77), console output, createBackup (a top image),
restore and forceDelete, injectNetworkInfo, add/removeSecurityGroup, and
Nova's errors for servers in the wrong state, worded by the site with the
top id. A test skips, saying so, where the site itself does not serve the
action (simcloud has not all of Nova's actions)."""
from __future__ import annotations

import contextlib
import uuid

import openstack
import pytest

from tests.functional.helpers import boot, bottom_copy, wait_for, wait_status


def act(conn, server_id, body, microversion=None):
    return conn.compute.post(f"/servers/{server_id}/action", json=body, microversion=microversion)


def served(response, sites, server_id, body) -> None:
    """Skip when the cascade relayed a site's "no such action" and the site,
    asked straight, says the same; any other refusal is the cascade's to answer for."""
    action = next(iter(body))
    if response.status_code != 400 or "There is no such action" not in response.text:
        return
    zone, bottom = bottom_copy(sites, server_id)
    straight = act(sites[zone], bottom.id, body)
    assert straight.status_code == 400 and "There is no such action" in straight.text, \
        f"the site serves {action} but the cascade answered {response.text}"
    pytest.skip(f"the site of zone {zone} does not serve the {action} action")


def refused_like_the_site(cloud, sites, server_id, body, status, microversion=None):
    """The cascade's refusal is the site's own, with the top id in its text."""
    top = act(cloud, server_id, body, microversion)
    served(top, sites, server_id, body)
    zone, bottom = bottom_copy(sites, server_id)
    straight = act(sites[zone], bottom.id, body, microversion)
    assert top.status_code == straight.status_code == status, (top.text, straight.text)
    assert top.json() == {k: {**v, "message": v["message"].replace(bottom.id, server_id)}
                          for k, v in straight.json().items()}
    assert bottom.id not in top.text
    return top


def shelve(cloud, sites, server):
    response = act(cloud, server.id, {"shelve": None})
    served(response, sites, server.id, {"shelve": None})
    assert response.status_code == 202, response.text
    status = wait_for(lambda: (s := cloud.compute.get_server(server.id).status).startswith("SHELVED") and s, 60)
    if status == "SHELVED":
        assert act(cloud, server.id, {"shelveOffload": None}).status_code == 202
        wait_status(cloud, server.id, "SHELVED_OFFLOADED")
    zone, bottom = bottom_copy(sites, server.id)
    assert bottom.status == "SHELVED_OFFLOADED"


@pytest.fixture
def server(demo, cloud):
    server = boot(demo, cloud, zone=demo.zones[0])
    yield server
    cloud.compute.delete_server(server, ignore_missing=True)


def test_shelve_and_unshelve(cloud, sites, server):
    shelve(cloud, sites, server)
    refused_like_the_site(cloud, sites, server.id, {"shelve": None}, 409)
    response = act(cloud, server.id, {"unshelve": None})
    assert response.status_code == 202, response.text
    wait_status(cloud, server.id, "ACTIVE")
    assert bottom_copy(sites, server.id)[1].status == "ACTIVE"
    refused_like_the_site(cloud, sites, server.id, {"unshelve": None}, 409)


def test_unshelve_into_a_zone_from_2_77(demo, cloud, sites, server):
    shelve(cloud, sites, server)
    own, other = demo.zones[0], demo.zones[1]
    for zone, message in [(other, f"Server {server.id} is in availability zone {own}; unshelving it into "
                                  "another zone is not supported."),
                          ("no-such-zone", "The requested availability zone is not available")]:
        response = act(cloud, server.id, {"unshelve": {"availability_zone": zone}}, "2.77")
        assert response.status_code == 400
        assert response.json() == {"badRequest": {"code": 400, "message": message}}
    response = act(cloud, server.id, {"unshelve": {"availability_zone": own}}, "2.77")
    assert response.status_code == 202, response.text
    active = wait_status(cloud, server.id, "ACTIVE")
    assert active.availability_zone == own
    assert bottom_copy(sites, server.id)[0] == own


def test_delete_a_shelved_server(cloud, sites, server):
    shelve(cloud, sites, server)
    assert cloud.compute.delete(f"/servers/{server.id}").status_code == 204
    wait_for(lambda: bottom_copy(sites, server.id) == (None, None), 60)
    assert cloud.compute.get(f"/servers/{server.id}").status_code == 404


def test_console_output_names_the_top_server(cloud, sites, server):
    response = act(cloud, server.id, {"os-getConsoleOutput": {"length": 2}})
    served(response, sites, server.id, {"os-getConsoleOutput": {}})
    assert response.status_code == 200, response.text
    zone, bottom = bottom_copy(sites, server.id)
    straight = act(sites[zone], bottom.id, {"os-getConsoleOutput": {"length": 2}})
    assert response.json() == {"output": straight.json()["output"].replace(bottom.id, server.id)}
    refused = act(cloud, server.id, {"os-getConsoleOutput": {"length": -2}})
    assert refused.status_code == 400


@pytest.mark.parametrize("action,kind", [("os-getVNCConsole", "novnc"), ("os-getSPICEConsole", "spice-html5"),
                                         ("os-getSerialConsole", "serial")])
def test_remote_consoles_are_refused(demo, cloud, server, action, kind):
    """A console's answer is the site's proxy URL: the cascade refuses it
    with Nova's body for a console type the cloud does not offer."""
    response = act(cloud, server.id, {action: {"type": kind}})
    assert response.status_code == 400, response.text
    assert response.json() == {"badRequest": {"code": 400, "message":
                               f"Unavailable console type {action[len('os-get'):-len('Console')].lower()}."}}
    for site in demo.site_urls():
        assert site not in response.text


def test_backups_are_top_images(demo, cloud, sites, server):
    name = f"fn-backup-{uuid.uuid4().hex[:8]}"
    body = {"createBackup": {"name": name, "backup_type": "daily", "rotation": 2}}
    response = act(cloud, server.id, body, "2.45")
    served(response, sites, server.id, body)
    zone, bottom = bottom_copy(sites, server.id)
    try:
        assert response.status_code == 202, response.text
        image_id = response.json()["image_id"]
        image = cloud.image.get(f"/images/{image_id}").json()
        assert (image["id"], image["name"], image["image_type"]) == (image_id, name, "backup")
        assert image["instance_uuid"] == server.id, "the property names the top server"
        listed = cloud.image.get(f"/images?instance_uuid={server.id}").json()["images"]
        straight = sites[zone].image.get(f"/images?instance_uuid={bottom.id}").json()["images"]
        assert image_id in [i["id"] for i in listed]
        assert sorted(i["name"] for i in listed) == sorted(i["name"] for i in straight), \
            "the filter names the server as its site knows it"
        wait_for(lambda: cloud.compute.get_server(server.id).task_state is None, 60)
        older = act(cloud, server.id, {"createBackup": {**body["createBackup"], "name": name + "-2"}}, "2.1")
        assert older.status_code == 202 and older.content == b""
        location = older.headers["Location"]
        assert location.startswith(f"{demo.url}/compute/v2.1/images/")
        second = location.rsplit("/", 1)[-1]
        assert cloud.image.get(f"/images/{second}").json()["name"] == name + "-2"
    finally:
        for image in [*sites[zone].image.images(name=name), *sites[zone].image.images(name=name + "-2")]:
            # best effort: simcloud's Glance is read-only (405), real Glance deletes
            with contextlib.suppress(openstack.exceptions.HttpException):
                sites[zone].image.delete_image(image, ignore_missing=True)


def test_restore_and_force_delete(demo, cloud, sites, server):
    refused_like_the_site(cloud, sites, server.id, {"restore": None}, 409)
    response = act(cloud, server.id, {"forceDelete": None})
    served(response, sites, server.id, {"forceDelete": None})
    assert response.status_code == 202, response.text
    wait_for(lambda: bottom_copy(sites, server.id) == (None, None), 60)
    assert cloud.compute.get(f"/servers/{server.id}").status_code == 404
    assert server.id not in [s.id for s in cloud.compute.servers()]
    # the route is kept: the site answers for the server, and says it is gone
    again = act(cloud, server.id, {"restore": None})
    assert again.status_code == 404
    assert again.json()["itemNotFound"]["message"] == f"Instance {server.id} could not be found."


def test_inject_network_info(admin, sites, server):
    response = act(admin, server.id, {"injectNetworkInfo": None})
    served(response, sites, server.id, {"injectNetworkInfo": None})
    assert response.status_code == 202, response.text
    wait_status(admin, server.id, "ACTIVE")


@pytest.mark.parametrize("action", ["addSecurityGroup", "removeSecurityGroup"])
def test_security_groups_are_the_sites(cloud, sites, server, action):
    """No network front yet: a security group is named as the server's site
    knows it, and the site's answer is relayed with the top id."""
    body = {action: {"name": f"no-such-group-{uuid.uuid4().hex[:6]}"}}
    top = act(cloud, server.id, body)
    served(top, sites, server.id, body)
    zone, bottom = bottom_copy(sites, server.id)
    straight = act(sites[zone], bottom.id, body)
    assert top.status_code == straight.status_code and top.status_code >= 400, (top.text, straight.text)
    assert top.json() == {k: {**v, "message": v["message"].replace(bottom.id, server.id)}
                          for k, v in straight.json().items()}
    assert bottom.id not in top.text
