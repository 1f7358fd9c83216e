"""Placement under site failures: sites that take no new work, the ramp of a site back from an
outage, and placing again a create its chosen site never received."""
from __future__ import annotations

import collections
import dataclasses
import random

import pytest

from cascade import errors
from cascade.scheduling.placement import PlacementRequest, place, rank
from cascade.sites.model import Capacity, Site


def site(name: str, *, position: int, free_mb: int) -> Site:
    return Site(id=name, name=name, availability_zone=name, region_name=name, auth_url="", endpoints={},
                health="up", position=position, capacity=Capacity(vcpus=64, memory_mb=16384,
                                                                   memory_mb_used=16384 - free_mb))


def test_a_recovering_site_gets_only_its_share_of_new_work():
    random.seed(7)
    a, b = site("a", position=1, free_mb=9000), site("b", position=2, free_mb=1000)
    assert rank([a, b], PlacementRequest(vcpus=1, memory_mb=1))[0].id == "a"
    req = PlacementRequest(vcpus=1, memory_mb=1, shares={"a": 0.1})
    first = collections.Counter(rank([a, b], req)[0].id for _ in range(1000))
    # a is roomier (it would win every time) but is let in about one time in ten
    assert 50 <= first["a"] <= 150
    alone = PlacementRequest(vcpus=1, memory_mb=1, shares={"a": 0.0})
    assert rank([a], alone)[0].id == "a", "a ramping site still takes what no other site can"


def test_sites_down_disabled_or_draining_take_no_new_work():
    a, b = site("a", position=1, free_mb=9000), site("b", position=2, free_mb=1000)
    req = PlacementRequest(vcpus=1, memory_mb=1)
    for change in ({"health": "down"}, {"state": "disabled"}, {"state": "draining"}):
        assert [s.id for s in rank([dataclasses.replace(a, **change), b], req)] == ["b"]
        with pytest.raises(errors.SiteUnavailable):
            rank([dataclasses.replace(a, **change)], req)
    with pytest.raises(errors.BadRequest):
        rank([dataclasses.replace(a, state="draining")], PlacementRequest(vcpus=1, memory_mb=1, availability_zone="a"))


def unreachable(name: str) -> errors.SiteUnreachable:
    return errors.SiteUnreachable(f"Availability zone {name} is unavailable: it could not be reached.", site=name)


async def test_a_site_that_received_nothing_is_replaced_by_the_next_best():
    sites = [site("a", position=1, free_mb=9000), site("b", position=2, free_mb=5000),
             site("c", position=3, free_mb=1000)]
    tried = []

    async def attempt(req):
        chosen = rank(sites, req)[0]
        tried.append(chosen.id)
        if chosen.id in ("a", "b"):
            raise unreachable(chosen.id)
        return chosen.id

    assert await place(PlacementRequest(vcpus=1, memory_mb=1), attempt) == "c"
    assert tried == ["a", "b", "c"]


async def test_no_placing_again_for_a_zone_or_when_the_site_may_have_received_it():
    sites = [site("a", position=1, free_mb=9000), site("b", position=2, free_mb=5000)]
    tried = []

    async def attempt(req, error=unreachable):
        tried.append(rank(sites, req)[0].id)
        raise error(tried[-1])

    with pytest.raises(errors.SiteUnreachable):
        await place(PlacementRequest(vcpus=1, memory_mb=1, availability_zone="a"), attempt)
    assert tried == ["a"]
    tried.clear()
    timed_out = lambda name: errors.SiteUnavailable("it did not answer", site=name)  # noqa: E731
    with pytest.raises(errors.SiteUnavailable):
        await place(PlacementRequest(vcpus=1, memory_mb=1), lambda req: attempt(req, timed_out))
    assert tried == ["a"], "a create that may have reached its site is never sent to another"
    tried.clear()
    with pytest.raises(errors.SiteUnavailable, match="No availability zone is available now"):
        await place(PlacementRequest(vcpus=1, memory_mb=1), attempt)
    assert tried == ["a", "b"]
