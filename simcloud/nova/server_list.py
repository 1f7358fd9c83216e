"""`GET /servers` and `/servers/detail` selection: which servers, in which
order, which page -- with Nova's query checks, filters, sort keys and marker
semantics.

Nova sorts by the keys asked for (default `created_at` desc) and then by
`uuid` ascending, which it adds to make the order total across cells; only
when every key asked for is one it ignores does it fall back to created_at
and its internal id, descending. Times compare at whole seconds (MySQL), so
servers created in the same second come in uuid order.

A page walks one of the orders the scope (the project, or the site for
`all_tenants`) is kept in, from the marker, and stops after `limit` matches:
creation order one second at a time for the default sort, change order for
`updated_at`, uuid order for `uuid`. `changes-since`/`changes-before` take
the changed servers from the change order by bisection and sort only those.
Other sort keys sort the whole scope.
"""
from __future__ import annotations

import bisect
import functools
import heapq
import math
from typing import Callable, Iterable, Iterator

from multidict import MultiMapping

from simcloud.nova import states
from simcloud.nova import validation as V
from simcloud.nova.context import ComputeContext
from simcloud.nova.errors import bad_request, forbidden, policy_forbidden
from simcloud.nova.model import Server
from simcloud.nova.server_index import SortedServers
from simcloud.nova.server_views import hostname
from simcloud.nova.store import ComputeStore
from simcloud.nova.timefmt import parse_iso

MAX_LIMIT = 1000

_IGNORED_SORT_KEYS = [
    "architecture", "cell_name", "cleaned", "default_ephemeral_device", "default_swap_device",
    "deleted", "deleted_at", "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid", "id",
    "key_data", "launched_on", "locked", "memory_mb", "os_type", "reservation_id", "root_gb",
    "shutdown_terminate", "user_data", "vcpus", "vm_mode"]
_SORT_KEYS = [
    "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone", "config_drive",
    "created_at", "display_description", "display_name", "host", "hostname", "image_ref",
    "instance_type_id", "kernel_id", "key_name", "launch_index", "launched_at", "locked_by",
    "node", "power_state", "progress", "project_id", "ramdisk_id", "root_device_name",
    "task_state", "terminated_at", "updated_at", "user_id", "uuid", "vm_state"]
_JOINED = ("block_device_mapping", "services", "metadata", "system_metadata", "info_cache",
           "security_groups", "pci_devices")
_QUERY_PARAMS = (
    "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id",
    "ramdisk_id", "hostname", "key_name", "power_state", "vm_state", "task_state", "host",
    "node", "flavor", "reservation_id", "launched_at", "terminated_at", "availability_zone",
    "name", "display_name", "description", "display_description", "locked_by", "uuid",
    "root_device_name", "config_drive", "access_ip_v4", "access_ip_v6", "auto_disk_config",
    "progress", "sort_dir", "all_tenants", "soft_deleted", "deleted", "status", "ip", "ip6",
    "created_at", "marker") + _JOINED
_PAGING = ("sort_key", "sort_dir", "limit", "marker")

_SORT_VALUES: dict[str, Callable[[Server], object]] = {
    "access_ip_v4": lambda s: s.access_ip_v4, "access_ip_v6": lambda s: s.access_ip_v6,
    "auto_disk_config": lambda s: s.auto_disk_config,
    "availability_zone": lambda s: s.availability_zone,
    "config_drive": lambda s: "True" if s.config_drive else "",
    "created_at": lambda s: int(s.created_at),
    "display_description": lambda s: s.description, "display_name": lambda s: s.name,
    "host": lambda s: s.host, "hostname": hostname,
    "image_ref": lambda s: s.image_id, "instance_type_id": lambda s: s.flavor.internal_id,
    "kernel_id": lambda s: "", "ramdisk_id": lambda s: "", "key_name": lambda s: s.key_name,
    "launch_index": lambda s: s.launch_index,
    "launched_at": lambda s: None if s.launched_at is None else int(s.launched_at),
    "locked_by": lambda s: s.locked_by, "locked": lambda s: s.locked,
    "node": lambda s: s.host and f"{s.host}.sim", "power_state": lambda s: s.power_state,
    "progress": lambda s: 0, "project_id": lambda s: s.project_id,
    "root_device_name": lambda s: "/dev/vda" if s.host else None,
    "task_state": lambda s: s.task_state,
    "terminated_at": lambda s: None if s.deleted_at is None else int(s.deleted_at),
    "updated_at": lambda s: int(s.updated_at), "user_id": lambda s: s.user_id,
    "uuid": lambda s: s.id, "vm_state": lambda s: s.vm_state, "id": lambda s: s.seq,
}


def _asc(value: object) -> tuple:
    """SQL order: NULL before any value in ascending order."""
    return (0, 0) if value is None else (1, value)


class _Desc:
    __slots__ = ("key",)

    def __init__(self, value: object) -> None:
        self.key = _asc(value)

    def __lt__(self, other: "_Desc") -> bool:
        return other.key < self.key

    def __gt__(self, other: "_Desc") -> bool:
        return other.key > self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key


@functools.lru_cache(maxsize=None)
def _query_schema(v: tuple[int, int]) -> V.QuerySchema:
    props: dict[str, dict] = {name: {"type": "string"} for name in _QUERY_PARAMS}
    keys = _SORT_KEYS + _IGNORED_SORT_KEYS
    if v >= (2, 73):
        keys = ["locked"] + [k for k in keys if k != "locked"]
    if v >= (2, 75):
        keys = [k for k in keys if k not in _IGNORED_SORT_KEYS or k == "locked"]
    props["sort_key"] = {"type": "string", "enum": keys}
    props["limit"] = V.NON_NEGATIVE_INTEGER
    props["changes-since"] = {"type": "string", "format": "date-time"}
    if v >= (2, 26):
        props.update({t: {"type": "string"} for t in ("tags", "tags-any", "not-tags",
                                                       "not-tags-any")})
    if v >= (2, 66):
        props["changes-before"] = {"type": "string", "format": "date-time"}
    if v >= (2, 73):
        props["locked"] = {"type": "string"}
    return V.QuerySchema(props, strict=v >= (2, 75), patterns={"^_": {"type": "string"}})


def _tenant_options(ctx: ComputeContext) -> set[str]:
    v = ctx.version
    allowed = {"reservation_id", "name", "status", "image", "flavor", "ip", "changes-since",
               "all_tenants"}
    if v >= (2, 5):
        allowed.add("ip6")
    if v >= (2, 26):
        allowed |= {"tags", "tags-any", "not-tags", "not-tags-any"}
    if v >= (2, 66):
        allowed.add("changes-before")
    if v >= (2, 73):
        allowed.add("locked")
    if v >= (2, 83):
        allowed |= {"availability_zone", "config_drive", "key_name", "created_at",
                    "launched_at", "terminated_at", "power_state", "task_state", "vm_state",
                    "progress", "user_id"}
    if v >= (2, 90):
        allowed.add("hostname")
    return allowed


class ServerQuery:
    """One parsed list request."""

    def __init__(self, store: ComputeStore, ctx: ComputeContext,
                 query: MultiMapping[str], *, detail: bool) -> None:
        self.store = store
        self.ctx = ctx
        self.detail = detail
        _query_schema(ctx.version).validate(query)
        raw = {key: query.getall(key) for key in query.keys()}
        self.limit = min(int(raw["limit"][-1]), MAX_LIMIT) if "limit" in raw else MAX_LIMIT
        self.marker = raw["marker"][-1] if "marker" in raw else None
        opts = {k: v for k, v in raw.items() if k not in _PAGING}
        if not ctx.is_admin:
            allowed = _tenant_options(ctx)
            opts = {k: v for k, v in opts.items() if k in allowed}
        for key in opts:
            if key in _JOINED or key.startswith("_"):
                raise bad_request(f"Invalid filter field: {key}.")
        self.empty = False
        self.changed: tuple[float | None, float | None] | None = None   # [from, until)
        self.checks: list[Callable[[Server], bool]] = []
        self.project_scope: str | None = ctx.project_id
        self._filters(opts)
        self.sort_keys, self.sort_dirs = self._sorting(query)

    # ---- filters -----------------------------------------------------
    def _filters(self, opts: dict[str, list[str]]) -> None:
        one = {k: v[-1] for k, v in opts.items()}
        add = self.checks.append
        if "status" in opts:
            vm_states, task_states, any_task = states.states_for_statuses(opts["status"])
            if not vm_states:
                if self.ctx.version >= (2, 38):
                    raise bad_request("Invalid status value")
                self.empty = True
                return
            if vm_states == {states.DELETED}:
                if not self.ctx.is_admin:
                    raise forbidden("Only administrators may list deleted instances")
                one["deleted"] = "true"
            add(lambda s: s.vm_state in vm_states)
            if not any_task:
                add(lambda s: s.task_state in task_states)
        since = self._time(one, "changes-since")
        before = self._time(one, "changes-before")
        if since is not None and before is not None and before < since:
            raise bad_request("The value of changes-since must be less than or equal to "
                              "changes-before.")
        if since is not None:
            add(lambda s: math.floor(s.updated_at) >= since)
        if before is not None:
            add(lambda s: math.floor(s.updated_at) <= before)
        if since is not None or before is not None:
            # the same bounds on the exact times, for a bisect of the change order
            self.changed = (None if since is None else math.ceil(since),
                            None if before is None else math.floor(before) + 1)
        if "deleted" in one:
            wanted = V.to_bool(one["deleted"], default=False)
            add(lambda s: s.deleted == wanted)
        elif since is None and before is None:
            add(lambda s: not s.deleted)
        all_tenants = False
        if "all_tenants" in one:
            all_tenants = V.to_bool(one["all_tenants"], strict=True) if one["all_tenants"] else True
        if all_tenants:
            if not self.ctx.is_admin:
                which = "detail" if self.detail else "index"
                raise policy_forbidden(f"os_compute_api:servers:{which}:get_all_tenants")
            projects = opts.get("project_id") or opts.get("tenant_id")
            self.project_scope = projects[0] if projects and len(projects) == 1 else None
            if projects and len(projects) > 1:
                wanted_projects = set(projects)
                add(lambda s: s.project_id in wanted_projects)
        elif not self.ctx.project_id:
            add(lambda s: s.user_id == self.ctx.user_id)
        self._exact(opts, "user_id", lambda s: s.user_id)
        self._exact(opts, "uuid", lambda s: s.id)
        self._exact(opts, "vm_state", lambda s: s.vm_state)
        self._exact(opts, "task_state", lambda s: s.task_state or "")
        self._exact(opts, "host", lambda s: s.host or "")
        for name in ("image", "image_ref"):
            self._exact(opts, name, lambda s: s.image_id)
        for name in ("name", "display_name"):
            self._regex(one, name, lambda s: s.name)
        for name in ("description", "display_description"):
            self._regex(one, name, lambda s: s.description or "")
        self._regex(one, "reservation_id", lambda s: s.reservation_id)
        self._regex(one, "availability_zone", lambda s: s.availability_zone or "")
        self._regex(one, "key_name", lambda s: s.key_name or "")
        self._regex(one, "hostname", hostname)
        self._regex(one, "node", lambda s: f"{s.host}.sim" if s.host else "")
        self._regex(one, "config_drive", lambda s: "True" if s.config_drive else "")
        self._regex(one, "power_state", lambda s: str(s.power_state))
        self._regex(one, "locked_by", lambda s: s.locked_by or "")
        if "flavor" in one:
            flavor = self.store.flavors.get(one["flavor"])
            if flavor is None:
                self.empty = True
                return
            internal = flavor.internal_id
            add(lambda s: s.flavor.internal_id == internal)
        for name, version in (("ip", 4), ("ip6", 6)):
            if name in one:
                pattern = V.regex(one[name])
                add(lambda s, p=pattern, ver=version: any(
                    (":" in addr) == (ver == 6) and p.match(addr)
                    for _, addr, _ in s.addresses()))
        if "locked" in one:
            wanted_locked = V.to_bool(one["locked"], strict=True)
            add(lambda s: s.locked == wanted_locked)
        if self.ctx.version >= (2, 26):
            self._tags(one)

    def _time(self, one: dict[str, str], name: str) -> float | None:
        if name not in one:
            return None
        value = parse_iso(one[name])
        if value is None:
            raise bad_request(f"Invalid filter field: {name}.")
        return value

    def _exact(self, opts: dict[str, list[str]], name: str,
               value: Callable[[Server], str]) -> None:
        if name in opts:
            wanted = set(opts[name])
            self.checks.append(lambda s: value(s) in wanted)

    def _regex(self, one: dict[str, str], name: str, value: Callable[[Server], str]) -> None:
        if name in one:
            pattern = V.regex(one[name])
            self.checks.append(lambda s: pattern.search(value(s)) is not None)

    def _tags(self, one: dict[str, str]) -> None:
        add = self.checks.append
        if "tags" in one:
            every = set(one["tags"].split(","))
            add(lambda s: every <= set(s.tags or ()))
        if "tags-any" in one:
            some = set(one["tags-any"].split(","))
            add(lambda s: bool(some & set(s.tags or ())))
        if "not-tags" in one:
            not_every = set(one["not-tags"].split(","))
            add(lambda s: not not_every <= set(s.tags or ()))
        if "not-tags-any" in one:
            none_of = set(one["not-tags-any"].split(","))
            add(lambda s: not none_of & set(s.tags or ()))

    # ---- order -------------------------------------------------------
    def _sorting(self, query: MultiMapping[str]) -> tuple[list[str], list[str]]:
        keys = [k.strip() for k in query.getall("sort_key", [])]
        dirs = [d.strip() for d in query.getall("sort_dir", [])]
        if not keys:
            keys = ["created_at"]
        if not dirs:
            dirs = ["desc"]
        ignored = [k for k in _IGNORED_SORT_KEYS
                   if not (k == "locked" and self.ctx.version >= (2, 73))]
        for key in list(keys):
            if key in ignored:
                index = keys.index(key)
                if len(dirs) > index:
                    dirs.pop(index)
                keys.pop(index)
            elif key in ("host", "node") and not self.ctx.is_admin:
                raise forbidden(f"Only administrators can sort servers by {key}")
        for direction in dirs:
            if direction not in ("asc", "desc"):
                raise bad_request("Unknown sort direction, must be 'desc' or 'asc'")
        if len(dirs) > len(keys):
            raise bad_request("Sort direction size exceeds sort key size")
        if not keys:       # everything asked for was ignored: Nova's own default
            keys, dirs = ["created_at", "id"], ["desc", "desc"]
        if "uuid" not in keys:     # the tie breaker, appended with its own direction...
            keys.append("uuid")
            dirs.append("asc")
        # ... so that with fewer directions than keys, that "asc" lands on the
        # key after the last direction given; the rest take the first direction
        dirs += [dirs[0]] * (len(keys) - len(dirs))
        return keys, dirs

    def sort_key(self) -> tuple[Callable[[Server], tuple], bool]:
        """(key function, descending). One direction for every key sorts plain
        tuples (reversed for desc); mixed directions wrap the desc values."""
        getters = [_SORT_VALUES[k] for k in self.sort_keys]
        if len(set(self.sort_dirs)) == 1:
            return (lambda s: tuple(_asc(get(s)) for get in getters),
                    self.sort_dirs[0] == "desc")
        ascending = [d == "asc" for d in self.sort_dirs]
        return (lambda s: tuple(_asc(get(s)) if up else _Desc(get(s))
                                for get, up in zip(getters, ascending)), False)

    # ---- the page ----------------------------------------------------
    def matches(self, server: Server) -> bool:
        return all(check(server) for check in self.checks)

    def page(self) -> list[Server]:
        """Walks an order the scope is kept in when the request allows:
        the change order for `changes-since`/`changes-before` (then only
        the changed servers are sorted), creation order for the default
        sort, change order for `updated_at`, uuid order for `uuid`; any
        other sort sorts the whole scope."""
        marker = None
        if self.marker is not None:
            marker = self.store.get_any(self.marker)
            if marker is None:
                raise bad_request(f"marker [{self.marker}] not found")
        if self.empty or self.limit == 0:
            return []
        now = self.store.clock()
        scope = self.store.scope(self.project_scope)
        if self.changed is not None:
            self.store.settle_all(now)
            return self._sorted(scope.changed_between(*self.changed), marker, now)
        keys, dirs = self.sort_keys, self.sort_dirs
        descending = dirs[0] == "desc"
        if keys == ["created_at", "uuid"] and dirs[1] == "asc":
            walk = _by_second(scope.by_creation, _created_second, descending, marker, now)
        elif keys == ["updated_at", "uuid"] and dirs[1] == "asc":
            self.store.settle_all(now)
            walk = _by_second(scope.by_change, _updated_second, descending, marker, now)
        elif keys == ["uuid"]:
            walk = _by_uuid(scope.by_uuid, descending, marker, now)
        else:
            return self._sorted(scope.by_creation.items, marker, now)
        return _take(walk, self.matches, self.limit)

    def _sorted(self, servers: list[Server], marker: Server | None, now: float) -> list[Server]:
        """The page among `servers`, by sorting those that match."""
        key, descending = self.sort_key()
        candidates = []
        for server in servers:
            server.settle(now)
            if self.matches(server):
                candidates.append((key(server), server.seq, server))
        if marker is not None:
            after = key(marker)
            candidates = [c for c in candidates if (c[0] < after if descending else c[0] > after)]
        pick = heapq.nlargest if descending else heapq.nsmallest
        return [c[2] for c in pick(self.limit, candidates, key=lambda c: c[0])]


def _created_second(server: Server) -> int:
    return int(server.created_at)


def _updated_second(server: Server) -> int:
    return int(server.updated_at)


def _by_second(order: SortedServers, second: Callable[[Server], int], descending: bool,
               marker: Server | None, now: float) -> Iterator[Server]:
    """A time in whole seconds (desc or asc), then uuid asc, after `marker`:
    `order` is sorted by that time, so each second is a contiguous run."""
    scope = order.items
    if descending:
        index = len(scope) if marker is None else bisect.bisect_right(
            scope, second(marker), key=second)
    else:
        index = 0 if marker is None else bisect.bisect_left(scope, second(marker), key=second)
    while 0 < index if descending else index < len(scope):
        this = second(scope[index - 1] if descending else scope[index])
        if descending:
            start = bisect.bisect_left(scope, this, 0, index, key=second)
            run, index = scope[start:index], start
        else:
            end = bisect.bisect_right(scope, this, index, key=second)
            run, index = scope[index:end], end
        run = sorted(run, key=lambda s: s.id)
        if marker is not None and this == second(marker):
            run = [s for s in run if s.id > marker.id]
        for server in run:
            server.settle(now)
            yield server


def _by_uuid(order: SortedServers, descending: bool, marker: Server | None,
             now: float) -> Iterator[Server]:
    scope = order.items
    if descending:
        index = len(scope) if marker is None else order.first_at(marker.id)
        picked = (scope[i] for i in range(index - 1, -1, -1))
    else:
        index = 0 if marker is None else bisect.bisect_right(scope, marker.id, key=order.key)
        picked = (scope[i] for i in range(index, len(scope)))
    for server in picked:
        server.settle(now)
        yield server


def _take(servers: Iterable[Server], keep: Callable[[Server], bool], limit: int) -> list[Server]:
    page = []
    for server in servers:
        if keep(server):
            page.append(server)
            if len(page) >= limit:
                break
    return page
