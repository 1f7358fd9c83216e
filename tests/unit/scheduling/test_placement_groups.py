"""Placement under a server group: affinity is a hard rule at site level
(the group's site, whatever its room), soft-affinity a preference,
(soft-)anti-affinity spreads over the sites with fewest members."""
from __future__ import annotations

import pytest

from cascade import errors
from cascade.scheduling.placement import GroupConstraint, PlacementRequest, rank
from cascade.sites.model import DOWN, Capacity, Site


def site(n: int, *, free_mb: int = 8192, health: str = "up") -> Site:
    return Site(id=f"s{n}", name=f"site{n}", availability_zone=f"az{n}", region_name=f"r{n}", auth_url="",
                endpoints={}, health=health, position=n,
                capacity=Capacity(vcpus=64, memory_mb=16384, memory_mb_used=16384 - free_mb))


SITES = [site(1, free_mb=1000), site(2, free_mb=9000), site(3, free_mb=5000)]


def ids(sites) -> list[str]:
    return [s.id for s in sites]


def request(group=None, zone=None) -> PlacementRequest:
    return PlacementRequest(vcpus=1, memory_mb=512, availability_zone=zone, group=group)


def test_without_a_group_the_roomiest_site_wins() -> None:
    assert ids(rank(SITES, request())) == ["s2", "s3", "s1"]


def test_a_new_affinity_group_places_like_any_server() -> None:
    assert ids(rank(SITES, request(GroupConstraint("affinity"))))[0] == "s2"


def test_affinity_keeps_to_the_groups_site_even_when_full() -> None:
    full = [site(1, free_mb=0), site(2, free_mb=9000)]
    assert ids(rank(full, request(GroupConstraint("affinity", site_id="s1", zone="az1")))) == ["s1"]


def test_affinity_in_another_zone_is_refused_naming_the_groups_zone() -> None:
    with pytest.raises(errors.BadRequest, match="availability zone az1"):
        rank(SITES, request(GroupConstraint("affinity", site_id="s1", zone="az1"), zone="az2"))


def test_soft_affinity_prefers_the_groups_site_and_falls_back() -> None:
    assert ids(rank(SITES, request(GroupConstraint("soft-affinity", site_id="s1"))))[0] == "s1"
    down = [site(1, health=DOWN), site(2), site(3)]
    assert ids(rank(down, request(GroupConstraint("soft-affinity", site_id="s1"))))[0] == "s2"


@pytest.mark.parametrize("policy", ["anti-affinity", "soft-anti-affinity"])
def test_anti_affinity_spreads_to_sites_with_fewest_members(policy: str) -> None:
    constraint = GroupConstraint(policy, members_per_site={"s2": 2, "s3": 1})
    assert ids(rank(SITES, request(constraint))) == ["s1", "s3", "s2"]
    constraint = GroupConstraint(policy, members_per_site={"s1": 1, "s2": 1, "s3": 1})
    assert ids(rank(SITES, request(constraint))) == ["s2", "s3", "s1"], "a tie goes to free room"
