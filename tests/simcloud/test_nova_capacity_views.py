"""The simulated Nova's site-level answers: availability zones, limits and
hypervisors (capacity as a caller reads it)."""
from __future__ import annotations

import pytest

from _nova_site import start_site


@pytest.fixture
async def site():
    harness = await start_site(availability_zone="az-east", vcpus=10, ram_mb=8192, disk_gb=100)
    yield harness
    await harness.close()


async def test_availability_zones(site):
    zones = (await site.compute("GET", "/os-availability-zone")).body["availabilityZoneInfo"]
    assert zones == [{"zoneName": "az-east", "zoneState": {"available": True}, "hosts": None}]
    assert (await site.compute("GET", "/os-availability-zone/detail")).status == 403
    detail = (await site.compute("GET", "/os-availability-zone/detail", as_="admin")
              ).body["availabilityZoneInfo"]
    assert [z["zoneName"] for z in detail] == ["internal", "az-east"]
    assert "nova-compute" in detail[1]["hosts"]["site1-compute"]


async def test_limits_count_the_projects_usage(site):
    await site.boot("a", flavor="m1.small")
    await site.boot("b", as_="carol")
    absolute = (await site.compute("GET", "/limits", version="2.57")).body["limits"]["absolute"]
    assert (absolute["totalInstancesUsed"], absolute["totalCoresUsed"],
            absolute["totalRAMUsed"]) == (1, 1, 2048)
    assert absolute["maxTotalInstances"] > 1000
    assert "maxPersonality" not in absolute and "maxImageMeta" not in absolute
    old = (await site.compute("GET", "/limits")).body["limits"]
    assert old["rate"] == [] and old["absolute"]["maxSecurityGroups"] == -1
    other = await site.compute("GET", "/limits", params={"tenant_id": "p-two"})
    assert other.status == 403
    carol = (await site.compute("GET", "/limits", as_="admin", params={"tenant_id": "p-two"})
             ).body["limits"]["absolute"]
    assert carol["totalInstancesUsed"] == 1


async def test_hypervisors_show_capacity_until_2_88(site):
    await site.boot("a", flavor="m1.medium")
    assert (await site.compute("GET", "/os-hypervisors/detail")).status == 403
    (hyper,) = (await site.compute("GET", "/os-hypervisors/detail", as_="admin", version="2.53")
                ).body["hypervisors"]
    assert (hyper["vcpus"], hyper["vcpus_used"], hyper["memory_mb"], hyper["memory_mb_used"],
            hyper["local_gb"], hyper["local_gb_used"]) == (10, 2, 8192, 4096, 100, 40)
    assert hyper["state"] == "up" and isinstance(hyper["cpu_info"], dict)
    stats = (await site.compute("GET", "/os-hypervisors/statistics", as_="admin")
             ).body["hypervisor_statistics"]
    assert (stats["count"], stats["vcpus_used"], stats["running_vms"]) == (1, 2, 1)
    (new,) = (await site.compute("GET", "/os-hypervisors/detail", as_="admin", version="2.88")
              ).body["hypervisors"]
    assert "vcpus" not in new
    gone = await site.compute("GET", "/os-hypervisors/statistics", as_="admin", version="2.88")
    assert gone.status == 404
    shown = await site.compute("GET", f"/os-hypervisors/{hyper['id']}", as_="admin",
                               version="2.53")
    assert shown.body["hypervisor"]["id"] == hyper["id"]
