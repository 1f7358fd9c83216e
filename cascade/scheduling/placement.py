"""Placement: which site a new resource goes to.

Filters first (one function each; a site must pass all), then weighers (one
function each; higher is better). Sites that are down, disabled or draining
take no new work; a site back from an outage takes a share of what it would
get that rises to full over `[sites] recovery_seconds` (`shares`, from its
breaker); `place` retries a placement on another site when the chosen one
could not be reached at all. Capacity is a soft filter: when no site has
room, the roomiest usable site gets the request and fails it the way its Nova
does (ERROR, "No valid host was found"), exactly as a single cloud would.
"""
from __future__ import annotations

import dataclasses
import logging
import random
from typing import Awaitable, Callable, Iterable, Mapping, Sequence, TypeVar

from cascade import errors
from cascade.sites.model import DOWN, ENABLED, Site
from cascade.sites.versions import APIVersion

LOG = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class PlacementRequest:
    vcpus: int
    memory_mb: int
    availability_zone: str | None = None
    # sites holding a copy of the image (None: no image needed, e.g. boot from volume)
    image_sites: frozenset[str] | None = None
    microversion: str | None = None
    group: "GroupConstraint | None" = None
    # site id -> part of its full share of new work (a site back from an outage ramps up); absent: 1
    shares: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # names of the sites this request could not reach before they received anything (see `place`)
    unreachable: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class GroupConstraint:
    """What a server group asks of the site of a new member. The cascade
    keeps (soft-)affinity at site level: the members go where the group's
    first member went (`site_id`; a hard rule for "affinity", a preference
    for "soft-affinity"). Anti-affinity members spread over sites, fewest
    members first; inside each site its own group keeps them apart."""

    policy: str
    site_id: str | None = None
    zone: str | None = None                 # the availability zone of `site_id`, for the error text
    members_per_site: Mapping[str, int] = dataclasses.field(default_factory=dict)


Filter = Callable[[Site, PlacementRequest], bool]
Weigher = Callable[[Site, PlacementRequest], float]


def in_zone(site: Site, req: PlacementRequest) -> bool:
    return req.availability_zone is None or site.availability_zone == req.availability_zone


def accepts_new_work(site: Site, req: PlacementRequest) -> bool:
    return site.state == ENABLED


def is_up(site: Site, req: PlacementRequest) -> bool:
    return site.health != DOWN


def not_tried(site: Site, req: PlacementRequest) -> bool:
    return site.name not in req.unreachable


def has_image(site: Site, req: PlacementRequest) -> bool:
    return req.image_sites is None or site.id in req.image_sites


def speaks_microversion(site: Site, req: PlacementRequest) -> bool:
    if req.microversion is None:
        return True
    version = APIVersion(req.microversion)
    return APIVersion(site.compute_min_version) <= version <= APIVersion(site.compute_max_version)


def with_group(site: Site, req: PlacementRequest) -> bool:
    group = req.group
    return group is None or group.policy != "affinity" or group.site_id is None or site.id == group.site_id


def _group_error(req: PlacementRequest) -> errors.CascadeError:
    zone = req.group.zone if req.group is not None else None
    return errors.BadRequest("No valid host was found. The members of this affinity server group run in "
                             f"availability zone {zone}, which cannot take this server.")


def has_room(site: Site, req: PlacementRequest) -> bool:
    capacity = site.capacity
    if capacity.memory_mb <= 0:  # not measured yet: do not exclude
        return True
    return capacity.free_vcpus >= req.vcpus and capacity.free_memory_mb >= req.memory_mb


def free_ram(site: Site, req: PlacementRequest) -> float:
    return float(site.capacity.free_memory_mb)


def group_preference(site: Site, req: PlacementRequest) -> float:
    group = req.group
    if group is None:
        return 0.0
    if group.policy in ("affinity", "soft-affinity"):
        return 1.0 if site.id == group.site_id else 0.0
    return -float(group.members_per_site.get(site.id, 0))


# (filter, error raised when it removes the last candidates)
HARD_FILTERS: Sequence[tuple[Filter, Callable[[PlacementRequest], errors.CascadeError]]] = (
    (in_zone, lambda req: errors.BadRequest("The requested availability zone is not available")),
    (with_group, _group_error),
    (accepts_new_work, lambda req: errors.BadRequest("The requested availability zone is not available")
        if req.availability_zone else errors.SiteUnavailable("No availability zone accepts new servers now.", site="*")),
    (has_image, lambda req: errors.BadRequest("Image is not available in the requested availability zone.")),
    (speaks_microversion, lambda req: errors.NotAcceptable(
        f"No availability zone can serve microversion {req.microversion} for this request.")),
    (is_up, lambda req: errors.SiteUnavailable(
        f"Availability zone {req.availability_zone} is unavailable." if req.availability_zone
        else "No availability zone is available now.", site=req.availability_zone or "*")),
    (not_tried, lambda req: errors.SiteUnavailable("No availability zone is available now.", site="*")),
)
WEIGHERS: Sequence[Weigher] = (group_preference, free_ram)


def _ramped(pool: list[Site], req: PlacementRequest) -> list[Site]:
    """A site recovering from an outage takes a request with the chance of
    its share; the others it would have had go to the rest of the pool."""
    kept = [site for site in pool if random.random() < req.shares.get(site.id, 1.0)]
    return kept or pool


def rank(sites: Iterable[Site], req: PlacementRequest) -> list[Site]:
    """Usable sites for `req`, best first. Raises the error of the filter that
    removed the last candidates."""
    candidates = list(sites)
    for keep, error in HARD_FILTERS:
        candidates = [site for site in candidates if keep(site, req)]
        if not candidates:
            raise error(req)
    with_room = [site for site in candidates if has_room(site, req)]
    pool = _ramped(with_room or candidates, req)

    def weight(site: Site) -> tuple:
        return tuple(-w(site, req) for w in WEIGHERS) + (site.position,)

    return sorted(pool, key=weight)


async def place(req: PlacementRequest, attempt: Callable[[PlacementRequest], Awaitable[T]]) -> T:
    """`attempt(req)` chooses a site for `req` (by `rank`) and does the work
    there. When the chosen site could not be reached before it received
    anything (`SiteUnreachable`: connection refused, breaker open) and the
    tenant named no zone, the request is placed again without that site:
    the site never saw it, so nothing can be made twice. Whatever else fails
    (a timeout, an answer) is the attempt's outcome."""
    while True:
        try:
            return await attempt(req)
        except errors.SiteUnreachable as exc:
            if req.availability_zone is not None or exc.site in req.unreachable:
                raise
            LOG.info("site %s could not be reached for a placement: placing again elsewhere", exc.site)
            req = dataclasses.replace(req, unreachable=req.unreachable | {exc.site})
