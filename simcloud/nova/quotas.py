"""Nova's quotas in one simulated site, as its legacy database driver keeps
them: limits per project and per user over the quota classes (the "default"
class over the site's configured defaults), usage counted from what the site
holds, and the checks that refuse with Nova's 403 messages.

A user's limit is the user's own, else the project's; a project's its own,
else the default class's, else the configured one. Instances, cores, RAM and
server groups are checked against the project and, when the user has limits
of their own, against the user; key pairs and group members are counted per
user (group members per group) against the lower of the two limits.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Mapping

from simcloud.nova.errors import NovaError, bad_request, forbidden

if TYPE_CHECKING:
    from simcloud.nova.model import Flavor, ServerGroup
    from simcloud.nova.store import ComputeStore

RESOURCES = ("cores", "fixed_ips", "floating_ips", "injected_file_content_bytes",
             "injected_file_path_bytes", "injected_files", "instances", "key_pairs",
             "metadata_items", "ram", "security_group_rules", "security_groups",
             "server_group_members", "server_groups")
NETWORK = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")
INJECTED = ("injected_file_content_bytes", "injected_file_path_bytes", "injected_files")
SERVER_GROUPS = ("server_group_members", "server_groups")
SERVERS = ("instances", "cores", "ram")
PER_PROJECT = ("fixed_ips", "floating_ips")         # no per-user value: a user's is the project's
SHOWN_UNUSED = ("key_pairs", "server_group_members")  # counted per user: shown as 0 in use
UNLIMITED = -1


@dataclasses.dataclass
class Quotas:
    """The configured defaults (Nova's `[quota]`). Nova's own are 10
    instances, 20 cores and 51200 MB; a simulator for scale runs is generous,
    yet below the largest limit the API takes (2**31 - 1), so that clients
    may still set a little more than the default."""
    instances: int = 1_000_000
    cores: int = 10_000_000
    ram: int = 2_000_000_000
    key_pairs: int = 1000
    metadata_items: int = 128
    server_groups: int = 1000
    server_group_members: int = 1000
    injected_files: int = 5
    injected_file_content_bytes: int = 10240
    injected_file_path_bytes: int = 255


def _over_limit(limit: int, value: int) -> bool:
    return limit >= 0 and value > limit


def _sum(a: int, b: int) -> int:
    return UNLIMITED if a <= UNLIMITED or b <= UNLIMITED else a + b


def _sub(a: int, b: int) -> int:
    return UNLIMITED if a <= UNLIMITED or b <= UNLIMITED else a - b


class QuotaBook:
    def __init__(self, configured: Quotas) -> None:
        self.configured = configured
        self.classes: dict[str, dict[str, int]] = {}
        self.projects: dict[str, dict[str, int]] = {}
        self.users: dict[tuple[str, str], dict[str, int]] = {}

    # ---- limits -----------------------------------------------------------
    def class_limits(self, name: str) -> dict[str, int]:
        limits = {r: getattr(self.configured, r, UNLIMITED) for r in RESOURCES}
        limits.update(self.classes.get(name, {}))
        return limits

    def defaults(self) -> dict[str, int]:
        return self.class_limits("default")

    def project_limits(self, project_id: str) -> dict[str, int]:
        limits = self.defaults()
        limits.update(self.projects.get(project_id, {}))
        return limits

    def user_limits(self, project_id: str, user_id: str | None) -> dict[str, int]:
        limits = self.project_limits(project_id)
        if user_id is not None:
            limits.update(self.users.get((project_id, user_id), {}))
        return limits

    def has_user_limits(self, project_id: str, user_id: str, resources: tuple[str, ...]) -> bool:
        own = self.users.get((project_id, user_id), {})
        return any(r in own for r in resources)

    def set_class(self, name: str, values: Mapping[str, int]) -> None:
        self.classes.setdefault(name, {}).update(values)

    def set_limits(self, project_id: str, values: Mapping[str, int],
                   user_id: str | None = None) -> None:
        for resource, value in values.items():
            if user_id is None or resource in PER_PROJECT:
                self.projects.setdefault(project_id, {})[resource] = value
            else:
                self.users.setdefault((project_id, user_id), {})[resource] = value

    def delete(self, project_id: str, user_id: str | None = None) -> None:
        """A user's limits, or the project's and all its users'."""
        if user_id is not None:
            self.users.pop((project_id, user_id), None)
            return
        self.projects.pop(project_id, None)
        for key in [k for k in self.users if k[0] == project_id]:
            del self.users[key]

    def settable(self, project_id: str, user_id: str | None,
                 in_use: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """(minimum, maximum) of each limit an update may set, as Nova's
        get_settable_quotas: a project's at least what is used and what its
        users were given; a user's at most what the project has not given to
        its other users, plus the user's own."""
        limits = self.project_limits(project_id)
        given = {r: 0 for r in RESOURCES}
        for (project, _), own in self.users.items():
            if project == project_id:
                for resource, value in own.items():
                    given[resource] += value
        remains = {r: limits[r] - given[r] for r in RESOURCES}
        if user_id is None:
            return {r: (max(_sub(limits[r], remains[r]), in_use.get(r, 0)), UNLIMITED)
                    for r in RESOURCES}
        own = self.users.get((project_id, user_id), {})
        return {r: (in_use.get(r, 0), _sum(remains[r], own.get(r, 0))) for r in RESOURCES}


def check_bounds(resource: str, limit: int, minimum: int, maximum: int) -> None:
    def inf(value: int) -> float:
        return math.inf if value == UNLIMITED else value
    if inf(limit) < inf(minimum):
        raise bad_request(f"Quota limit {limit} for {resource} must be greater than or equal "
                          f"to already used and reserved {minimum}.")
    if inf(limit) > inf(maximum):
        raise bad_request(f"Quota limit {limit} for {resource} must be less than or equal "
                          f"to {maximum}.")


# ---- usage -----------------------------------------------------------------
def usage(store: "ComputeStore", project_id: str, user_id: str | None = None,
          *, shown: bool = False, groups: bool = True) -> dict[str, int]:
    """What the project (or one user in it) holds of each counted resource;
    `shown`: as the quota API shows it (the per-user counts as 0); without
    `groups` the server groups are not counted (a server create's check)."""
    instances, cores, ram = store.server_usage(project_id, user_id)
    owned = sum(1 for g in store.groups.values()
                if g.project_id == project_id and (user_id is None or g.user_id == user_id)
                ) if groups else 0
    counted = {"instances": instances, "cores": cores, "ram": ram, "server_groups": owned,
               "key_pairs": 0, "server_group_members": 0}
    if not shown and user_id is not None:
        counted["key_pairs"] = len(store.user_keypairs(user_id))
    return counted


class OverQuota(NovaError):
    def __init__(self, message: str, overs: list[str], limits: Mapping[str, int],
                 used: Mapping[str, int]) -> None:
        super().__init__(403, message)
        self.overs, self.limits, self.used = overs, dict(limits), dict(used)


def _exceeded(book: QuotaBook, store: "ComputeStore", project_id: str, user_id: str,
              deltas: Mapping[str, int]) -> tuple[list[str], dict, dict] | None:
    """Nova's check_deltas of resources counted per project and per user:
    (overs, limits, usage) of the scope that refused, or None."""
    project_limits = book.project_limits(project_id)
    groups = "server_groups" in deltas
    project_used = usage(store, project_id, groups=groups)
    user_scoped = book.has_user_limits(project_id, user_id, tuple(deltas))
    user_limits = book.user_limits(project_id, user_id) if user_scoped else None
    user_used = usage(store, project_id, user_id, groups=groups) if user_scoped else None
    overs, by_user = [], False
    for resource, delta in deltas.items():
        if _over_limit(project_limits[resource], project_used[resource] + delta):
            overs.append(resource)
        elif user_limits is not None and _over_limit(user_limits[resource],
                                                     user_used[resource] + delta):
            overs.append(resource)
            by_user = True
    if not overs:
        return None
    if by_user:
        return sorted(overs), user_limits, user_used
    return sorted(overs), project_limits, project_used


def _too_many(overs: list[str], requested: Mapping[str, object], limits: Mapping[str, int],
              used: Mapping[str, int]) -> OverQuota:
    names = ", ".join(overs)
    return OverQuota(
        f"Quota exceeded for {names}: Requested {', '.join(str(requested[r]) for r in overs)}, "
        f"but already used {', '.join(str(used[r]) for r in overs)} of "
        f"{', '.join(str(limits[r]) for r in overs)} {names}", overs, limits, used)


def servers_allowed(book: QuotaBook, store: "ComputeStore", project_id: str, user_id: str,
                    flavor: "Flavor", min_count: int, max_count: int) -> int:
    """How many of min_count..max_count servers of `flavor` the quotas let
    the project create (Nova's check_num_instances_quota), else its 403."""
    deltas = {"instances": max_count, "cores": max_count * flavor.vcpus,
              "ram": max_count * flavor.ram}
    found = _exceeded(book, store, project_id, user_id, deltas)
    if found is None:
        return max_count
    overs, limits, used = found

    def headroom(resource: str, per_server: int) -> float:
        if limits[resource] == UNLIMITED or per_server <= 0:
            return math.inf
        return (limits[resource] - used[resource]) // per_server
    allowed = min(headroom("instances", 1), headroom("cores", flavor.vcpus),
                  headroom("ram", flavor.ram))
    if min_count <= allowed <= max_count:
        return servers_allowed(book, store, project_id, user_id, flavor, min_count, int(allowed))
    count = str(min_count) if min_count == max_count else f"{min_count}-{max_count}"
    raise _too_many(overs, {**deltas, "instances": count}, limits, used)


def check_upsize(book: QuotaBook, store: "ComputeStore", project_id: str, user_id: str,
                 old: "Flavor", new: "Flavor") -> None:
    """A resize to a bigger flavor: the growth must fit."""
    deltas = {r: d for r, d in (("cores", new.vcpus - old.vcpus), ("ram", new.ram - old.ram))
              if d > 0}
    if not deltas:
        return
    found = _exceeded(book, store, project_id, user_id, deltas)
    if found is not None:
        raise _too_many(found[0], deltas, found[1], found[2])


def _per_user_limit(book: QuotaBook, project_id: str, user_id: str, resource: str) -> int:
    """The lower of the project's and the user's limit (unlimited is highest)."""
    values = [book.project_limits(project_id)[resource],
              book.user_limits(project_id, user_id)[resource]]
    limited = [v for v in values if v >= 0]
    return min(limited) if limited else UNLIMITED


def check_metadata(book: QuotaBook, project_id: str, user_id: str, count: int) -> None:
    limit = _per_user_limit(book, project_id, user_id, "metadata_items")
    if _over_limit(limit, count):
        raise forbidden(f"Maximum number of metadata items exceeds {limit}")


def check_keypairs(book: QuotaBook, store: "ComputeStore", project_id: str, user_id: str,
                   owner_id: str) -> None:
    """Room for one more key pair of `owner_id` (the caller's, or the user an
    admin creates it for), within the caller's limits."""
    limit = _per_user_limit(book, project_id, user_id, "key_pairs")
    if _over_limit(limit, len(store.user_keypairs(owner_id)) + 1):
        raise forbidden("Quota exceeded, too many key pairs.")


def check_server_groups(book: QuotaBook, store: "ComputeStore", project_id: str,
                        user_id: str) -> None:
    if _exceeded(book, store, project_id, user_id, {"server_groups": 1}) is not None:
        raise forbidden("Quota exceeded, too many server groups.")


def check_group_members(book: QuotaBook, store: "ComputeStore", group: "ServerGroup",
                        project_id: str, user_id: str, count: int) -> None:
    limit = _per_user_limit(book, project_id, user_id, "server_group_members")
    members = sum(1 for server_id in group.members
                  if (s := store.get(server_id)) is not None and s.user_id == user_id)
    if _over_limit(limit, members + count):
        raise forbidden("Quota exceeded, too many servers in group")
