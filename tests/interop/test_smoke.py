"""Interop smoke, part of the default run: the cascade in front of real
OpenStack (realstack, two regions) creates a server, lists it, acts on it
and deletes it, with every step checked straight in the region. Skips,
saying why, where realstack cannot run."""
from __future__ import annotations

from tests.functional.helpers import boot, bottom_copy, wait_for, wait_status


def test_a_server_through_the_cascade_over_real_nova(demo, cloud, sites):
    assert sorted(z.name for z in cloud.compute.availability_zones()) == sorted(demo.zones)
    assert len(demo.zones) >= 2
    zone = demo.zones[-1]
    server = boot(demo, cloud, zone=zone, name="cascade-test-smoke")
    try:
        where, bottom = bottom_copy(sites, server.id)
        assert (where, bottom.status) == (zone, "ACTIVE") and bottom.id != server.id
        assert server.id in [s.id for s in cloud.compute.servers(name="^cascade-test-smoke$")]
        cloud.compute.stop_server(server)
        wait_status(cloud, server.id, "SHUTOFF")
        assert bottom_copy(sites, server.id)[1].status == "SHUTOFF"
    finally:
        cloud.compute.delete_server(server)
    cloud.compute.wait_for_delete(server, wait=60, interval=0.5)
    assert wait_for(lambda: bottom_copy(sites, server.id) == (None, None), timeout=60)
