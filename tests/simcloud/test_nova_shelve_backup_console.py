"""Server actions beyond the everyday ones: shelve/unshelve (offloaded at
once, as with Nova's defaults), createBackup and its rotation, console
output, restore/forceDelete (deletes are never soft), injectNetworkInfo, and
the extension list."""
from __future__ import annotations

import pytest

from _nova_site import active_server as _active
from _nova_site import server_action as _act
from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site()
    yield harness
    await harness.close()


async def _server(site, server_id, *, as_="admin", version="2.96"):
    return (await site.compute("GET", f"/servers/{server_id}", as_=as_,
                               version=version)).body["server"]


def _message(reply):
    return next(iter(reply.body.values()))["message"]


async def _images(site, **filters):
    reply = await site.call("GET", "/image/v2/images", params={"sort": "name:asc", **filters})
    return reply.body["images"]


async def test_shelve_offloads_at_once_and_unshelve_brings_it_back(site):
    server_id = await _active(site, "shelf")
    used = site.site.store.used.vcpus
    assert (await _act(site, server_id, {"shelve": None})).status == 202
    shelving = await _server(site, server_id)
    assert (shelving["status"], shelving["OS-EXT-STS:task_state"]) == ("ACTIVE", "shelving")
    site.settle()
    offloaded = await _server(site, server_id)
    assert (offloaded["status"], offloaded["OS-EXT-STS:vm_state"],
            offloaded["OS-EXT-STS:power_state"], offloaded["OS-EXT-SRV-ATTR:host"],
            offloaded["hostId"], offloaded["OS-EXT-AZ:availability_zone"]) == (
        "SHELVED_OFFLOADED", "shelved_offloaded", 4, None, "", "")
    assert site.site.store.used.vcpus == used - 1, "its room on the host is free"
    assert (await site.compute("GET", "/limits")).body["limits"]["absolute"][
        "totalInstancesUsed"] == 1, "its quota is still counted"
    (snapshot,) = await _images(site, name="shelf-shelved")
    assert (snapshot["image_type"], snapshot["instance_uuid"], snapshot["visibility"]) == (
        "snapshot", server_id, "private")
    for body, status, message in (
        ({"shelve": None}, 409,
         f"Cannot 'shelve' instance {server_id} while it is in vm_state shelved_offloaded"),
        ({"shelveOffload": None}, 403,
         "Policy doesn't allow os_compute_api:os-shelve:shelve_offload to be performed."),
        ({"os-getConsoleOutput": {}}, 409, f"Instance {server_id} is not ready"),
        ({"os-start": None}, 409, f"Instance {server_id} is not ready"),
    ):
        reply = await _act(site, server_id, body)
        assert (reply.status, _message(reply)) == (status, message)
    assert (await _act(site, server_id, {"unshelve": None})).status == 202
    unshelving = await _server(site, server_id)
    assert (unshelving["status"], unshelving["OS-EXT-STS:task_state"]) == (
        "SHELVED_OFFLOADED", "unshelving")
    site.settle()
    back = await _server(site, server_id)
    assert (back["status"], back["OS-EXT-STS:power_state"], back["OS-EXT-SRV-ATTR:host"]) == (
        "ACTIVE", 1, site.site.store.host)
    assert await _images(site, name="shelf-shelved") == [], "the snapshot is deleted"
    again = await _act(site, server_id, {"unshelve": None})
    assert _message(again) == (f"Cannot 'unshelve' instance {server_id} while it is in "
                               "vm_state active")
    actions = await site.compute("GET", f"/servers/{server_id}/os-instance-actions")
    assert [a["action"] for a in actions.body["instanceActions"]] == [
        "unshelve", "shelve", "create"]
    unshelve_id = actions.body["instanceActions"][0]["request_id"]
    events = (await site.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                        f"{unshelve_id}", as_="admin")).body["instanceAction"]
    assert [e["event"] for e in events["events"]] == [
        "compute_unshelve_instance", "schedule_instances", "get_image_info"]


async def test_unshelve_zones_and_hosts(site):
    server_id = await _active(site, "shelf", availability_zone="nova")
    await _act(site, server_id, {"shelve": None})
    site.settle()
    assert (await _server(site, server_id))["OS-EXT-AZ:availability_zone"] == "nova", \
        "a zone asked for stays"
    for body, version, as_, status, message in (
        ({"unshelve": {}}, "2.77", "alice", 400,
         "Invalid input for field/attribute unshelve. Value: {}. 'availability_zone' is a "
         "required property"),
        ({"unshelve": {"availability_zone": "nowhere"}}, "2.77", "alice", 400,
         "The requested availability zone is not available"),
        ({"unshelve": {"host": "elsewhere"}}, "2.91", "alice", 403,
         "Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed."),
        ({"unshelve": {"host": "elsewhere"}}, "2.91", "admin", 400,
         "Compute host elsewhere could not be found."),
        ({"unshelve": {"host": "site1-compute"}}, "2.90", "admin", 400,
         "Invalid input for field/attribute unshelve. Value: {'host': 'site1-compute'}. "
         "'availability_zone' is a required property"),
    ):
        reply = await _act(site, server_id, body, version=version, as_=as_)
        assert (reply.status, _message(reply)) == (status, message)
    unpinned = await _act(site, server_id, {"unshelve": {"availability_zone": None,
                                                         "host": "site1-compute"}},
                          version="2.91", as_="admin")
    assert unpinned.status == 202
    site.settle()
    server = await _server(site, server_id)
    assert (server["status"], server["pinned_availability_zone"]) == ("ACTIVE", None)


async def test_unshelve_without_room_stays_offloaded_and_delete_drops_the_snapshot(site):
    site.site.store.capacity.vcpus = 1
    server_id = await _active(site, "shelf")
    await _act(site, server_id, {"shelve": None})
    site.settle()
    await _active(site, "squatter")
    await _act(site, server_id, {"unshelve": None})
    site.settle()
    assert (await _server(site, server_id))["status"] == "SHELVED_OFFLOADED"
    assert len(await _images(site, name="shelf-shelved")) == 1
    assert (await site.compute("DELETE", f"/servers/{server_id}")).status == 204
    assert await _images(site, name="shelf-shelved") == []


async def test_backups_rotate_and_answer_per_microversion(site):
    server_id = await _active(site, "bk")
    first = await _act(site, server_id, {"createBackup": {
        "name": "bk-1", "backup_type": "daily", "rotation": 2}}, version="2.1")
    assert (first.status, first.body, first.headers["Content-Type"]) == (
        202, None, "text/html; charset=UTF-8")
    first_id = first.headers["Location"].rsplit("/", 1)[1]
    busy = await _act(site, server_id, {"createBackup": {
        "name": "bk-x", "backup_type": "daily", "rotation": 2}})
    assert _message(busy) == (f"Cannot 'createBackup' instance {server_id} while it is in "
                              "task_state image_backup")
    site.settle()
    second = await _act(site, server_id, {"createBackup": {
        "name": "bk-2", "backup_type": "daily", "rotation": "2", "metadata": {"k": "v"}}})
    second_id = second.body["image_id"]
    site.settle()
    weekly = await _act(site, server_id, {"createBackup": {
        "name": "bk-w", "backup_type": "weekly", "rotation": 1}})
    site.settle()
    daily = await _images(site, instance_uuid=server_id, backup_type="daily")
    assert [i["id"] for i in daily] == [first_id, second_id]
    image = daily[1]
    assert (image["image_type"], image["k"], image["status"], image["disk_format"],
            image["base_image_ref"]) == ("backup", "v", "active", "qcow2",
                                         site.image_id("cirros"))
    third = await _act(site, server_id, {"createBackup": {
        "name": "bk-3", "backup_type": "daily", "rotation": 2}})
    site.settle()
    daily = await _images(site, instance_uuid=server_id, backup_type="daily")
    assert [i["id"] for i in daily] == [second_id, third.body["image_id"]], "oldest rotated out"
    assert [i["id"] for i in await _images(site, backup_type="weekly")] == [
        weekly.body["image_id"]]
    none_kept = await _act(site, server_id, {"createBackup": {
        "name": "bk-0", "backup_type": "weekly", "rotation": 0}}, version="2.44")
    assert "Location" not in none_kept.headers
    site.settle()
    assert await _images(site, backup_type="weekly") == []


async def test_console_output(site):
    server_id = await _active(site, "console")
    full = (await _act(site, server_id, {"os-getConsoleOutput": {}})).body["output"]
    lines = full.split("\n")
    assert len(lines) > 3 and lines[-1] == "console login: "
    for length, expected in ((3, lines[-3:]), ("2", lines[-2:]), (0, [""]), (-1, lines[1:])):
        reply = await _act(site, server_id, {"os-getConsoleOutput": {"length": length}})
        assert reply.body["output"].split("\n") == expected
    bad = await _act(site, server_id, {"os-getConsoleOutput": {"length": -2}})
    assert _message(bad) == ("Invalid input for field/attribute length. Value: -2. -2 is less "
                             "than the minimum of -1")


async def test_deletes_are_never_soft_and_inject_is_for_admins(site):
    server_id = await _active(site, "gone")
    restore = await _act(site, server_id, {"restore": None}, as_="admin")
    assert (restore.status, _message(restore)) == (
        409, f"Cannot 'restore' instance {server_id} while it is in vm_state active")
    inject = await _act(site, server_id, {"injectNetworkInfo": None})
    assert _message(inject) == ("Policy doesn't allow os_compute_api:os-admin-actions:"
                                "inject_network_info to be performed.")
    assert (await _act(site, server_id, {"injectNetworkInfo": None}, as_="admin")).status == 202
    assert (await _act(site, server_id, {"forceDelete": None})).status == 202
    site.settle()
    assert (await site.compute("GET", f"/servers/{server_id}")).status == 404
    missing = await _act(site, server_id, {"forceDelete": None})
    assert missing.status == 404


async def test_extensions(site):
    listed = (await site.compute("GET", "/extensions")).body["extensions"]
    assert len(listed) == 99 and "Hosts" in {e["name"] for e in listed}
    shown = (await site.compute("GET", "/extensions/os-consoles")).body["extension"]
    assert shown == {"alias": "os-consoles", "description": "Interactive Console support.",
                     "links": [], "name": "Consoles",
                     "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
                     "updated": "2014-12-03T00:00:00Z"}
    missing = await site.compute("GET", "/extensions/os-nope")
    assert (missing.status, _message(missing)) == (404, "The resource could not be found.")


async def test_security_groups_are_default_only(site):
    refused = await site.compute("POST", "/servers", version="2.96", json={"server": {
        "name": "x", "imageRef": site.image_id("cirros"), "flavorRef": site.flavor_id("m1.tiny"),
        "networks": "auto", "security_groups": [{"name": "default"}, {"name": "web"}]}})
    assert (refused.status, _message(refused)) == (
        400, "Unable to find security_group with name or id 'web'")
    server_id = await _active(site, "sg")
    unknown = await _act(site, server_id, {"addSecurityGroup": {"name": "web"}})
    assert (unknown.status, _message(unknown)) == (
        404, "Security group web is not found for project p-one")
    assert (await _act(site, server_id, {"removeSecurityGroup": {"name": "default"}})
            ).status == 202
    assert "security_groups" not in await _server(site, server_id, as_="alice")
    again = await _act(site, server_id, {"removeSecurityGroup": {"name": "default"}})
    assert (again.status, _message(again)) == (
        404, f"Security group default not associated with the instance {server_id}")
    assert (await _act(site, server_id, {"addSecurityGroup": {"name": "default"}})).status == 202
    assert (await _server(site, server_id, as_="alice"))["security_groups"] == [
        {"name": "default"}]
    portless = await _active(site, "portless", networks="none")
    none = await _act(site, portless, {"addSecurityGroup": {"name": "default"}})
    assert (none.status, _message(none)) == (
        404, f"instance_id {portless} could not be found as device id on any ports")
