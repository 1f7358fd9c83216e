"""Server actions of the simulated Nova: each action's visible transition,
the 409s for wrong states and locks, resize accounting, rebuild, snapshots,
and the instance-action records."""
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


async def _state(site, server_id, *, as_="alice"):
    server = (await site.compute("GET", f"/servers/{server_id}", version="2.96", as_=as_)
              ).body["server"]
    return server["status"], server["OS-EXT-STS:task_state"], server["OS-EXT-STS:power_state"]


@pytest.mark.parametrize("body, during, after", [
    ({"reboot": {"type": "SOFT"}}, ("REBOOT", "rebooting", 1), ("ACTIVE", None, 1)),
    ({"reboot": {"type": "hard"}}, ("HARD_REBOOT", "rebooting_hard", 1), ("ACTIVE", None, 1)),
    ({"os-stop": None}, ("ACTIVE", "powering-off", 1), ("SHUTOFF", None, 4)),
    ({"pause": None}, ("ACTIVE", "pausing", 1), ("PAUSED", None, 3)),
    ({"suspend": None}, ("ACTIVE", "suspending", 1), ("SUSPENDED", None, 7)),
])
async def test_action_transitions(site, body, during, after):
    server_id = await _active(site)
    reply = await _act(site, server_id, body)
    assert reply.status == 202
    assert await _state(site, server_id) == during
    site.settle()
    assert await _state(site, server_id) == after


async def test_stop_start_pause_unpause_suspend_resume_round_trip(site):
    server_id = await _active(site)
    for action, status in (("os-stop", "SHUTOFF"), ("os-start", "ACTIVE"), ("pause", "PAUSED"),
                           ("unpause", "ACTIVE"), ("suspend", "SUSPENDED"),
                           ("resume", "ACTIVE")):
        assert (await _act(site, server_id, {action: None})).status == 202
        site.settle()
        assert (await _state(site, server_id))[0] == status


async def test_invalid_states_are_409_with_novas_message(site):
    server_id = await _active(site)
    reply = await _act(site, server_id, {"os-start": None})
    assert reply.status == 409
    assert reply.body["conflictingRequest"]["message"] == (
        f"Cannot 'start' instance {server_id} while it is in vm_state active")
    await _act(site, server_id, {"reboot": {"type": "SOFT"}})
    busy = await _act(site, server_id, {"os-stop": None})
    assert busy.status == 409
    assert busy.body["conflictingRequest"]["message"].endswith("task_state rebooting")
    building = await site.boot("new")
    early = await _act(site, building, {"pause": None})
    assert early.status == 409 and "vm_state building" in early.body[
        "conflictingRequest"]["message"]


async def test_unknown_and_malformed_actions(site):
    server_id = await _active(site)
    unknown = await _act(site, server_id, {"levitate": None})
    assert unknown.status == 400
    assert unknown.body["badRequest"]["message"] == "There is no such action: levitate"
    two = await _act(site, server_id, {"pause": None, "suspend": None})
    assert two.status == 400
    missing = await _act(site, "0b6b2d8a-1111-4b2a-9a51-6c3e6e2a1f00", {"pause": None})
    assert missing.status == 404
    # an action Nova has and simcloud does not simulate: the server is looked up first
    rescue_missing = await _act(site, "0b6b2d8a-1111-4b2a-9a51-6c3e6e2a1f00", {"rescue": None})
    assert rescue_missing.status == 404
    assert (await _act(site, server_id, {"rescue": None})).status == 400
    unknown_missing = await _act(site, "0b6b2d8a-1111-4b2a-9a51-6c3e6e2a1f00", {"levitate": None})
    assert unknown_missing.status == 400


async def test_a_body_type_nova_does_not_read_is_415(site):
    server_id = await _active(site)
    refused = await site.compute("PUT", f"/servers/{server_id}/tags/c", version="2.26",
                                 headers={"Content-Type": "application/octet-stream"})
    assert refused.status == 415
    assert refused.body == {"badMediaType": {"code": 415, "message": "Unsupported Content-Type"}}
    assert refused.headers["OpenStack-API-Version"] == "compute 2.26"
    plain = await site.call("POST", f"/compute/v2.1/servers/{server_id}/action",
                            headers={"Content-Type": "text/plain"}, json=None)
    assert plain.status == 400        # read as no type; the empty body is malformed


async def test_lock_blocks_the_owner_but_not_admin(site):
    server_id = await _active(site)
    reply = await _act(site, server_id, {"lock": {"locked_reason": "maintenance"}})
    assert reply.status == 202
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.73")).body["server"]
    assert (show["locked"], show["locked_reason"]) == (True, "maintenance")
    blocked = await _act(site, server_id, {"os-stop": None})
    assert blocked.status == 409
    assert blocked.body["conflictingRequest"]["message"] == f"Instance {server_id} is locked"
    deleted = await site.compute("DELETE", f"/servers/{server_id}")
    assert deleted.status == 409
    assert (await _act(site, server_id, {"os-stop": None}, as_="admin")).status == 202
    assert (await _act(site, server_id, {"unlock": None})).status == 202
    site.settle()
    assert (await _act(site, server_id, {"os-start": None})).status == 202


async def test_a_lock_set_by_admin_cannot_be_lifted_by_the_owner(site):
    server_id = await _active(site)
    assert (await _act(site, server_id, {"lock": None}, as_="admin")).status == 202
    denied = await _act(site, server_id, {"unlock": None})
    assert denied.status == 403
    assert (await _act(site, server_id, {"unlock": None}, as_="admin")).status == 202


async def test_lock_reason_needs_2_73(site):
    server_id = await _active(site)
    old = await _act(site, server_id, {"lock": {"locked_reason": "x"}}, version="2.72")
    assert old.status == 202
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.73")).body["server"]
    assert show["locked_reason"] is None


async def test_resize_confirm_and_revert_move_the_flavor_and_the_usage(site):
    server_id = await _active(site)
    store = site.site.store
    tiny, small = site.flavor_id("m1.tiny"), site.flavor_id("m1.small")
    same = await _act(site, server_id, {"resize": {"flavorRef": tiny}})
    assert same.status == 400
    assert same.body["badRequest"]["message"] == "When resizing, instances must change flavor!"
    assert (await _act(site, server_id, {"resize": {"flavorRef": small}})).status == 202
    assert (await _state(site, server_id))[0] == "RESIZE"
    assert store.used.ram_mb == 512 + 2048           # both held until confirmed
    site.settle()
    assert await _state(site, server_id) == ("VERIFY_RESIZE", None, 1)
    assert (await _act(site, server_id, {"confirmResize": None})).status == 204
    site.settle()
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.96")).body["server"]
    assert (show["status"], show["flavor"]["original_name"]) == ("ACTIVE", "m1.small")
    assert store.used.ram_mb == 2048
    assert (await _act(site, server_id, {"resize": {"flavorRef": tiny}})).status == 202
    site.settle()
    assert (await _act(site, server_id, {"revertResize": None})).status == 202
    assert (await _state(site, server_id))[0] == "REVERT_RESIZE"
    site.settle()
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.96")).body["server"]
    assert (show["status"], show["flavor"]["original_name"]) == ("ACTIVE", "m1.small")
    assert store.used.ram_mb == 2048
    limits = (await site.compute("GET", "/limits")).body["limits"]["absolute"]
    assert limits["totalRAMUsed"] == 2048
    not_resized = await _act(site, server_id, {"confirmResize": None})
    assert not_resized.status == 409


async def test_rebuild_changes_image_name_and_metadata(site):
    server_id = await _active(site, flavor="m1.small")
    before = (await site.compute("GET", f"/servers/{server_id}", version="2.96")).body["server"]
    ubuntu = site.image_id("ubuntu")
    tiny = await _active(site, "tiny")
    too_big = await _act(site, tiny, {"rebuild": {"imageRef": ubuntu}})
    assert too_big.status == 400
    assert too_big.body["badRequest"]["message"].startswith("Flavor's disk is smaller")
    reply = await _act(site, server_id, {"rebuild": {
        "imageRef": ubuntu, "name": "rebuilt", "metadata": {"v": "2"}, "adminPass": "pw"}},
        version="2.57")
    assert reply.status == 202
    view = reply.body["server"]
    assert (view["name"], view["image"]["id"], view["adminPass"]) == ("rebuilt", ubuntu, "pw")
    assert view["status"] == "REBUILD" and "user_data" in view
    site.settle()
    show = (await site.compute("GET", f"/servers/{server_id}", version="2.96")).body["server"]
    assert (show["status"], show["metadata"]) == ("ACTIVE", {"v": "2"})
    # the hostname made at creation stays; launched_at is set again, in whole seconds
    assert show["OS-EXT-SRV-ATTR:hostname"] == "vm"
    assert show["OS-SRV-USG:launched_at"] > before["OS-SRV-USG:launched_at"]
    assert show["OS-SRV-USG:launched_at"].endswith(".000000")
    unknown = await _act(site, server_id, {"rebuild": {
        "imageRef": "0b6b2d8a-1111-4b2a-9a51-6c3e6e2a1f00"}})
    assert unknown.status == 400
    assert unknown.body["badRequest"]["message"] == "Cannot find image for rebuild"


async def test_create_image_makes_a_private_snapshot(site):
    server_id = await _active(site)
    reply = await _act(site, server_id, {"createImage": {"name": "snap"}})
    assert reply.status == 202
    image_id = reply.body["image_id"]
    assert (await _state(site, server_id))[1] == "image_snapshot"
    site.settle()
    image = await site.call("GET", f"/image/v2/images/{image_id}")
    assert (image.body["status"], image.body["visibility"], image.body["owner"]) == (
        "active", "private", "p-one")
    assert {k: image.body[k] for k in ("instance_uuid", "image_type", "base_image_ref",
                                       "user_id", "owner_user_name", "owner_project_name")} == {
        "instance_uuid": server_id, "image_type": "snapshot",
        "base_image_ref": site.image_id("cirros"), "user_id": "u-alice",
        "owner_user_name": "alice", "owner_project_name": "p-one"}
    assert (image.body["disk_format"], image.body["container_format"]) == ("qcow2", "bare")
    hidden = await site.call("GET", f"/image/v2/images/{image_id}", as_="carol")
    assert hidden.status == 404
    old = await _act(site, server_id, {"createImage": {"name": "snap2"}}, version="2.44")
    assert old.status == 202 and old.body is None
    location = old.headers["Location"]
    assert location.startswith(str(site.client.make_url("/compute/v2.1/images/")))
    queued = await site.call("GET", "/image/v2/images/" + location.rsplit("/", 1)[1])
    assert (queued.body["name"], queued.body["status"], queued.body["disk_format"]) == (
        "snap2", "queued", None)


async def test_reset_state_is_for_admins(site):
    server_id = await _active(site)
    denied = await _act(site, server_id, {"os-resetState": {"state": "error"}})
    assert denied.status == 403
    assert (await _act(site, server_id, {"os-resetState": {"state": "error"}},
                       as_="admin")).status == 202
    assert (await _state(site, server_id))[0] == "ERROR"


async def test_instance_actions_record_what_was_asked(site):
    server_id = await _active(site)
    stop = await _act(site, server_id, {"os-stop": None})
    actions = (await site.compute("GET", f"/servers/{server_id}/os-instance-actions",
                                  version="2.58")).body["instanceActions"]
    assert [a["action"] for a in actions] == ["stop", "create"]
    assert actions[0]["request_id"] == stop.headers["x-openstack-request-id"]
    path = f"/servers/{server_id}/os-instance-actions/{actions[0]['request_id']}"
    hidden = await site.compute("GET", path, version="2.50")   # events: admins only before 2.51
    assert "events" not in hidden.body["instanceAction"]
    one = await site.compute("GET", path, version="2.51")
    (event,) = one.body["instanceAction"]["events"]
    assert event["result"] is None and "traceback" not in event    # still powering off
    site.settle()
    one = await site.compute("GET", path, version="2.84")
    (event,) = one.body["instanceAction"]["events"]
    assert (event["event"], event["result"]) == ("compute_stop_instance", "Success")
    assert len(event["hostId"]) == 56 and "host" not in event and "details" not in event
    admin = await site.compute("GET", path, version="2.84", as_="admin")
    (event,) = admin.body["instanceAction"]["events"]
    assert event["host"] == site.site.store.host and event["traceback"] is None
    assert "details" in event
    missing = await site.compute("GET", f"/servers/{server_id}/os-instance-actions/req-x")
    assert missing.status == 404
    assert missing.body["itemNotFound"]["message"] == "Action req-x not found"


async def test_resize_and_rebuild_record_the_events_of_each_service(site):
    server_id = await _active(site, flavor="m1.tiny")
    await _act(site, server_id, {"resize": {"flavorRef": site.flavor_id("m1.small")}})
    site.settle()
    await _act(site, server_id, {"confirmResize": None})
    site.settle()
    await _act(site, server_id, {"rebuild": {"imageRef": site.image_id("cirros")}})
    site.settle()
    actions = (await site.compute("GET", f"/servers/{server_id}/os-instance-actions",
                                  version="2.58")).body["instanceActions"]
    events = {}
    for action in actions:
        one = await site.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                 f"{action['request_id']}", version="2.58")
        events[action["action"]] = [e["event"] for e in one.body["instanceAction"]["events"]]
    assert events["resize"] == ["compute_finish_resize", "compute_resize_instance",
                                "compute_prep_resize", "cold_migrate",
                                "conductor_migrate_server"]           # newest first
    assert events["rebuild"] == ["compute_rebuild_instance", "rebuild_server"]


async def test_instance_actions_page_from_2_58(site):
    server_id = await _active(site)
    for body in ({"os-stop": None}, {"os-start": None}, {"pause": None}):
        assert (await _act(site, server_id, body)).status == 202
        site.settle()
    path = f"/servers/{server_id}/os-instance-actions"
    everything = (await site.compute("GET", path, version="2.58")).body
    assert [a["action"] for a in everything["instanceActions"]] == [
        "pause", "start", "stop", "create"] and "links" not in everything
    first = (await site.compute("GET", path, version="2.58", params={"limit": "2"})).body
    assert [a["action"] for a in first["instanceActions"]] == ["pause", "start"]
    marker = first["instanceActions"][-1]["request_id"]
    assert first["links"] == [{"rel": "next", "href": str(site.client.make_url(
        f"/compute/v2.1{path}?limit=2&marker={marker}"))}]
    rest = (await site.compute("GET", path, version="2.58",
                               params={"limit": "2", "marker": marker})).body
    assert [a["action"] for a in rest["instanceActions"]] == ["stop", "create"]
    for params, version, message in (
        ({"marker": "req-nope"}, "2.58", "Marker None could not be found."),
        ({"nope": "1"}, "2.58", "Additional properties are not allowed ('nope' was unexpected)"),
        ({"changes-before": "2020-01-01T00:00:00Z"}, "2.65",
         "Additional properties are not allowed ('changes-before' was unexpected)"),
        ({"changes-since": "2030-01-01T00:00:00Z", "changes-before": "2020-01-01T00:00:00Z"},
         "2.66", "The value of changes-since must be less than or equal to changes-before."),
    ):
        reply = await site.compute("GET", path, version=version, params=params)
        assert (reply.status, reply.body["badRequest"]["message"]) == (400, message)
    future = (await site.compute("GET", path, version="2.58",
                                 params={"changes-since": "2099-01-01T00:00:00Z"})).body
    assert future["instanceActions"] == []
    old = (await site.compute("GET", path, version="2.57", params={"limit": "1"})).body
    assert len(old["instanceActions"]) == 4, "paging parameters are ignored before 2.58"
