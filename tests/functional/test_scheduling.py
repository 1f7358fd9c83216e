"""Placement over simcloud's sites, which start with equal capacity: servers
without a zone spread by free RAM. (Not shared with the interop tier: real
regions' free RAM depends on whatever else runs there.)"""
from __future__ import annotations

from tests.functional.helpers import boot, bottom_copy


def test_scheduler_spreads_equal_sites_by_free_ram(demo, cloud, sites):
    servers = [boot(demo, cloud, wait=False) for _ in range(3)]
    zones = set()
    try:
        for server in servers:
            server = cloud.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.3)
            where, _ = bottom_copy(sites, server.id)
            assert where == server.availability_zone
            zones.add(where)
        assert len(zones) >= 2, "the scheduler should spread servers over sites by free RAM"
    finally:
        for server in servers:
            cloud.compute.delete_server(server)
