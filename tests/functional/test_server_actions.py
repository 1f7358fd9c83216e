"""Every server action through the cascade, with the state checked in the site."""
from __future__ import annotations

import pytest

from tests.functional.helpers import boot, bottom_copy, image_id, wait_status


@pytest.fixture(scope="module")
def server(demo, cloud):
    server = boot(demo, cloud, zone=demo.zones[0])
    yield server
    cloud.compute.delete_server(server)


def site_server(sites, server):
    return bottom_copy(sites, server.id)[1]


@pytest.mark.parametrize("action, status, undo, back", [
    ("stop_server", "SHUTOFF", "start_server", "ACTIVE"),
    ("pause_server", "PAUSED", "unpause_server", "ACTIVE"),
    ("suspend_server", "SUSPENDED", "resume_server", "ACTIVE"),
])
def test_state_actions(cloud, sites, server, action, status, undo, back):
    getattr(cloud.compute, action)(server)
    wait_status(cloud, server.id, status)
    assert site_server(sites, server).status == status
    getattr(cloud.compute, undo)(server)
    wait_status(cloud, server.id, back)
    assert site_server(sites, server).status == back


@pytest.mark.parametrize("kind", ["SOFT", "HARD"])
def test_reboot(cloud, sites, server, kind):
    cloud.compute.reboot_server(server, kind)
    wait_status(cloud, server.id, "ACTIVE")
    assert site_server(sites, server).status == "ACTIVE"


def test_lock_blocks_then_unlock(cloud, sites, server):
    cloud.compute.lock_server(server)
    assert cloud.compute.get_server(server.id).is_locked
    assert site_server(sites, server).is_locked
    cloud.compute.unlock_server(server)
    assert not cloud.compute.get_server(server.id).is_locked
    assert not site_server(sites, server).is_locked


def test_resize_confirm_and_revert(demo, cloud, sites, server):
    small = cloud.compute.find_flavor(demo.small)
    cloud.compute.resize_server(server, small.id)
    wait_status(cloud, server.id, "VERIFY_RESIZE")
    assert site_server(sites, server).status == "VERIFY_RESIZE"
    cloud.compute.confirm_server_resize(server)
    resized = wait_status(cloud, server.id, "ACTIVE")
    assert resized.flavor.original_name == demo.small
    assert site_server(sites, server).flavor.original_name == demo.small
    tiny = cloud.compute.find_flavor(demo.tiny)
    cloud.compute.resize_server(server, tiny.id)
    wait_status(cloud, server.id, "VERIFY_RESIZE")
    cloud.compute.revert_server_resize(server)
    reverted = wait_status(cloud, server.id, "ACTIVE")
    assert reverted.flavor.original_name == demo.small
    assert site_server(sites, server).flavor.original_name == demo.small


def test_rebuild_keeps_the_top_id(demo, cloud, sites, server):
    cloud.compute.rebuild_server(server, image=image_id(cloud, demo.image), name="rebuilt")
    rebuilt = wait_status(cloud, server.id, "ACTIVE")
    assert rebuilt.name == "rebuilt" and rebuilt.id == server.id
    bottom = site_server(sites, server)
    assert bottom.name == "rebuilt" and bottom.status == "ACTIVE"


def test_invalid_state_is_nova_409(cloud, server):
    response = cloud.compute.post(f"/servers/{server.id}/action", json={"os-start": None})
    assert response.status_code == 409
    assert "conflictingRequest" in response.json()


def test_metadata_and_tags(cloud, sites, server):
    cloud.compute.set_server_metadata(server, color="blue", size="xl")
    assert cloud.compute.get_server_metadata(server).metadata == {"color": "blue", "size": "xl"}
    cloud.compute.delete_server_metadata(server, ["size"])
    body = cloud.compute.get(f"/servers/{server.id}/metadata").json()
    assert body == {"metadata": {"color": "blue"}}
    replaced = cloud.compute.put(f"/servers/{server.id}/metadata", json={"metadata": {"only": "this"}}).json()
    assert replaced == {"metadata": {"only": "this"}}
    assert cloud.compute.get(f"/servers/{server.id}/metadata/only").json() == {"meta": {"only": "this"}}
    bottom = site_server(sites, server)
    assert bottom.metadata["only"] == "this", "the site holds the tenant's metadata"
    assert bottom.metadata["cascade_top_id"] == server.id, "and keeps the stamp after a replace"
    response = cloud.compute.put(f"/servers/{server.id}/tags", json={"tags": ["a", "b"]}, microversion="2.26")
    assert response.status_code == 200 and sorted(response.json()["tags"]) == ["a", "b"]
    assert cloud.compute.put(f"/servers/{server.id}/tags/c", microversion="2.26").status_code == 201
    tags = cloud.compute.get(f"/servers/{server.id}/tags", microversion="2.26").json()["tags"]
    assert sorted(tags) == ["a", "b", "c"]
    assert sorted(site_server(sites, server).tags) == ["a", "b", "c"]
    assert cloud.compute.delete(f"/servers/{server.id}/tags/a", microversion="2.26").status_code == 204
    tagged = list(cloud.compute.servers(tags="c"))
    assert [s.id for s in tagged] == [server.id]
