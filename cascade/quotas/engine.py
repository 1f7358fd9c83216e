"""The quota rules, as Nova's legacy (database) quota driver applies them,
over the cascade's records.

Limits: a project's own limit on a resource, else the "default" quota
class's, else `[quota]` in cascade.conf; a user's limit, else the project's.
Usage: counted from the cascade's own tables (servers and their flavors, key
pairs; more resources through `register_counter`), plus the reservations of
creates and resizes still in flight. A check that reserves runs under the
project's lock (`QuotaStore.view(lock=True)`), so concurrent creates see each
other's reservations and cannot both pass the last free slot.

Refusals are `errors.OverLimit` (403) carrying Nova's own messages; bad
quota updates are `errors.BadRequest` with Nova's wording.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import math
import zlib
from typing import AsyncIterator, Awaitable, Callable, Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from cascade import errors
from cascade.config import QuotaSection
from cascade.persistence.db import after_commit
from cascade.persistence.models import utcnow
from cascade.persistence.quotas import ProjectQuotas, QuotaStore, Resize
from cascade.quotas.resources import PER_PROJECT, RESOURCES, SERVER_RESOURCES, configured_defaults

# (project_id, user_id or None) -> (the project's count, the user's count or None)
Counter = Callable[[str, str | None], Awaitable[tuple[int, int | None]]]

# resources Nova counts per user only when checking, and shows as 0 in use
_NOT_SHOWN_IN_USE = ("key_pairs", "server_group_members")


class OverQuota(errors.OverLimit):
    """Nova's OverQuota: which resources the request would put over their
    limits, with the limits and usage that decided it (the caller may word
    the refusal as Nova does for that resource)."""

    def __init__(self, overs: list[str], quotas: Mapping[str, int], usages: Mapping[str, int],
                 message: str | None = None) -> None:
        super().__init__(message or f"Quota exceeded for resources: {sorted(overs)}")
        self.overs = sorted(overs)
        self.quotas = dict(quotas)
        self.usages = dict(usages)


@dataclasses.dataclass
class Reservation:
    """What a check holds until the work it allowed is recorded (`id` None:
    nothing held); `count` is the number of servers a create may make,
    `each` what one of them takes of the reservation; `settled` once all of
    it is taken (nothing is left to release)."""

    id: str | None
    count: int = 1
    each: Mapping[str, int] | None = None
    settled: bool = False


def _exceeds(limit: int, value: int) -> bool:
    return limit >= 0 and value > limit


def _sub(a: int, b: int) -> int:
    return -1 if a <= -1 or b <= -1 else a - b


def _sum(a: int, b: int) -> int:
    return -1 if a <= -1 or b <= -1 else a + b


def _too_many(overs: list[str], requested: Mapping[str, object], quotas: Mapping[str, int],
              usages: Mapping[str, int]) -> str:
    names = ", ".join(overs)
    return (f"Quota exceeded for {names}: Requested {', '.join(str(requested[r]) for r in overs)}, "
            f"but already used {', '.join(str(usages[r]) for r in overs)} "
            f"of {', '.join(str(quotas[r]) for r in overs)} {names}")


def _over(deltas: Mapping[str, int], project_limits: Mapping[str, int], project_usage: Mapping[str, int],
          user_limits: Mapping[str, int] | None, user_usage: Mapping[str, int] | None
          ) -> tuple[list[str], Mapping[str, int], Mapping[str, int]] | None:
    """The resources `deltas` would put over the project's limits or, when
    the user has limits of their own, over the user's; with the limits and
    usage of the scope that refused (the user's if any was theirs)."""
    overs, over_user = [], False
    for resource, delta in deltas.items():
        if _exceeds(project_limits[resource], project_usage[resource] + delta):
            overs.append(resource)
        elif user_limits is not None and _exceeds(user_limits[resource], user_usage[resource] + delta):
            overs.append(resource)
            over_user = True
    if not overs:
        return None
    return sorted(overs), (user_limits if over_user else project_limits), (user_usage if over_user else project_usage)


def _servers_that_fit(quotas: Mapping[str, int], usages: Mapping[str, int], vcpus: int, ram: int) -> float:
    def fit(resource: str, per_server: int) -> float:
        if quotas[resource] < 0 or per_server <= 0:
            return math.inf
        return (quotas[resource] - usages[resource]) // per_server
    return min(fit("instances", 1), fit("cores", vcpus), fit("ram", ram))


class QuotaEngine:
    def __init__(self, store: QuotaStore, settings: QuotaSection, *,
                 clock: Callable[[], datetime.datetime] = utcnow, lock_stripes: int = 64) -> None:
        self.store = store
        self._settings = settings
        self._clock = clock
        self._counters: dict[str, Counter] = {}
        # in-process first, so that this process's checks queue here rather than poll the database's lock
        self._locks = [asyncio.Lock() for _ in range(lock_stripes)]

    def register_counter(self, resource: str, counter: Counter) -> None:
        """Count `resource` (e.g. server_groups) with `counter` from now on."""
        if resource not in RESOURCES:
            raise ValueError(f"unknown quota resource {resource}")
        self._counters[resource] = counter

    # -- limits ------------------------------------------------------------

    async def defaults(self) -> dict[str, int]:
        """Every project's default limits: the "default" class over cascade.conf."""
        return {**configured_defaults(self._settings), **await self.store.class_limits("default")}

    async def class_limits(self, class_name: str) -> dict[str, int]:
        return {**configured_defaults(self._settings), **await self.store.class_limits(class_name)}

    async def set_class_limits(self, class_name: str, limits: Mapping[str, int]) -> dict[str, int]:
        await self.store.set_class_limits(class_name, {k: int(v) for k, v in limits.items()})
        return await self.class_limits(class_name)

    async def limits(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        async with self.store.view(project_id) as view:
            return await self._limits(view, user_id)

    async def detail(self, project_id: str, user_id: str | None = None) -> dict[str, dict[str, int]]:
        """{resource: {limit, in_use, reserved}} of the project, or of one user in it."""
        async with self.store.view(project_id) as view:
            limits = await self._limits(view, user_id)
            in_use = await self._in_use(view, user_id, shown=True)
            reserved = await view.reserved(user_id, now=self._clock())
        return {r: {"limit": limits[r], "in_use": in_use[r], "reserved": reserved.get(r, 0)} for r in RESOURCES}

    async def update(self, project_id: str, values: Mapping[str, int], *, user_id: str | None = None,
                     force: bool = False) -> dict[str, int]:
        """Set limits of the project (or of one user in it). Unless forced,
        each must be at least what is used and reserved, and a user's at most
        what the project has not given to its other users."""
        values = {resource: int(value) for resource, value in values.items()}
        if not force:
            async with self.store.view(project_id) as view:
                bounds = await self._settable(view, user_id)
            for resource, value in values.items():
                _check_bounds(resource, value, *bounds[resource])
        users = {r: v for r, v in values.items() if user_id and r not in PER_PROJECT}
        await self.store.set_limits(project_id, {r: v for r, v in values.items() if r not in users})
        await self.store.set_limits(project_id, users, user_id=user_id)
        return await self.limits(project_id, user_id)

    async def delete(self, project_id: str, user_id: str | None = None) -> None:
        await self.store.delete_limits(project_id, user_id=user_id)

    # -- checks ------------------------------------------------------------

    async def reserve_servers(self, project_id: str, user_id: str, *, vcpus: int, ram: int,
                              min_count: int = 1, max_count: int = 1) -> Reservation:
        """Room for between min_count and max_count servers of a flavor: as
        many as fit, held until `release`; Nova's refusal when not even
        min_count fit."""
        async with self._locked(project_id, user_id=user_id) as view:
            project_limits, project_usage, user_limits, user_usage = await self._scopes(
                view, user_id, SERVER_RESOURCES)
            count = max_count
            while True:
                deltas = {"instances": count, "cores": count * vcpus, "ram": count * ram}
                over = _over(deltas, project_limits, project_usage, user_limits, user_usage)
                if over is None:
                    break
                overs, quotas, usages = over
                fit = _servers_that_fit(quotas, usages, vcpus, ram)
                if min_count <= fit < count:
                    count = int(fit)
                    continue
                requested = {"instances": str(min_count) if min_count == count else f"{min_count}-{count}",
                             "cores": deltas["cores"], "ram": deltas["ram"]}
                raise OverQuota(overs, quotas, usages, _too_many(overs, requested, quotas, usages))
            return Reservation(await self._reserve(view, user_id, deltas), count,
                               each={"instances": 1, "cores": vcpus, "ram": ram})

    async def reserve_upsize(self, project_id: str, user_id: str, *, old: tuple[int, int],
                             new: tuple[int, int]) -> Reservation:
        """Room for a server to grow from flavor `old` to `new` ((vcpus, ram)
        each); a shrink needs none."""
        cores, ram = new[0] - old[0], new[1] - old[1]
        if cores <= 0 and ram <= 0:
            return Reservation(None)
        deltas = {"cores": max(cores, 0), "ram": max(ram, 0)}
        async with self._locked(project_id, user_id=user_id) as view:
            over = _over(deltas, *await self._scopes(view, user_id, deltas))
            if over is not None:
                overs, quotas, usages = over
                raise OverQuota(overs, quotas, usages, _too_many(overs, deltas, quotas, usages))
            return Reservation(await self._reserve(view, user_id, deltas))

    async def check_deltas(self, project_id: str, user_id: str, deltas: Mapping[str, int], *,
                           reserve: bool = False) -> Reservation:
        """Nova's check_deltas: usage plus `deltas` within the limits, else
        OverQuota (worded by the caller); with `reserve`, held until `release`."""
        async with self._checking(project_id, lock=reserve, user_id=user_id) as view:
            over = _over(deltas, *await self._scopes(view, user_id, deltas))
            if over is not None:
                raise OverQuota(*over)
            return Reservation(await self._reserve(view, user_id, deltas) if reserve else None)

    async def check_values(self, project_id: str, user_id: str | None, values: Mapping[str, int]) -> None:
        """Nova's limit_check: each value (a size, not an addition to usage)
        within both the project's and the user's limit; OverQuota carries the
        project's limits, as Nova's does."""
        async with self.store.view(project_id) as view:
            project_limits = await self._limits(view)
            user_limits = await self._limits(view, user_id) if user_id else project_limits
        overs = [r for r, v in values.items() if _exceeds(project_limits[r], v) or _exceeds(user_limits[r], v)]
        if overs:
            raise OverQuota(overs, project_limits, {})

    async def check_metadata(self, project_id: str, user_id: str | None, count: int) -> None:
        try:
            await self.check_values(project_id, user_id, {"metadata_items": count})
        except OverQuota as exc:
            raise errors.OverLimit(f"Maximum number of metadata items exceeds {exc.quotas['metadata_items']}") from None

    async def check_injected_files(self, project_id: str, user_id: str | None,
                                   files: Iterable[tuple[str, str]]) -> None:
        """Personality files: how many, then the longest path and content."""
        files = list(files)
        if not files:
            return
        try:
            await self.check_values(project_id, user_id, {"injected_files": len(files)})
        except OverQuota:
            raise errors.OverLimit("Personality file limit exceeded") from None
        try:
            await self.check_values(project_id, user_id, {
                "injected_file_path_bytes": max(len(path) for path, _ in files),
                "injected_file_content_bytes": max(len(content) for _, content in files)})
        except OverQuota as exc:
            if "injected_file_path_bytes" in exc.overs:
                raise errors.OverLimit("Personality file path exceeds maximum "
                                       f"{exc.quotas['injected_file_path_bytes']}") from None
            raise errors.OverLimit("Personality file content exceeds maximum "
                                   f"{exc.quotas['injected_file_content_bytes']}") from None

    async def check_keypairs(self, project_id: str, user_id: str) -> None:
        """Room for one more key pair of `user_id` (counted per user, limited
        by the requesting project's and user's key_pairs)."""
        async with self.store.view(project_id) as view:
            count = await view.keypairs(user_id)
            limits = [await self._limits(view), await self._limits(view, user_id)]
        if any(_exceeds(limit["key_pairs"], count + 1) for limit in limits):
            raise errors.OverLimit("Quota exceeded, too many key pairs.")

    @contextlib.asynccontextmanager
    async def settling(self, project_id: str, reservation: Reservation | None,
                       used: Mapping[str, int] | None = None) -> AsyncIterator[AsyncSession | None]:
        """Record what a reservation allowed in the yielded session, and take
        `used` (None: all) off the reservation in the same transaction, under
        the project's lock: no check ever counts a server both as made and as
        reserved. Without a reservation, yields None (record on your own)."""
        if reservation is None or reservation.id is None:
            yield None
            return
        async with self._locked(project_id, settling=True) as view:
            yield view.session
            if await view.consume(reservation.id, used):
                after_commit(view.session, lambda: setattr(reservation, "settled", True))

    async def release(self, reservation: Reservation | None) -> None:
        if reservation is not None and reservation.id is not None and not reservation.settled:
            await self.store.release(reservation.id, now=self._clock())

    # -- resizes -----------------------------------------------------------

    async def resize_started(self, server_id: str, *, old_flavor_id: str, new_flavor_id: str) -> None:
        await self.store.remember_resize(server_id, old_flavor_id=old_flavor_id, new_flavor_id=new_flavor_id)

    async def resize_pending(self, server_id: str) -> Resize | None:
        return await self.store.resize_of(server_id)

    async def resize_ended(self, server_id: str) -> None:
        await self.store.forget_resize(server_id)

    # -- internals ---------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _locked(self, project_id: str, *, user_id: str | None = None,
                      settling: bool = False) -> AsyncIterator[ProjectQuotas]:
        """The project's view under its lock (`QuotaStore.view`); expired
        reservations are not counted, and go at the next release."""
        async with self._locks[zlib.crc32(project_id.encode()) % len(self._locks)]:
            async with self.store.view(project_id, lock=True, user_id=user_id, settling=settling) as view:
                yield view

    @contextlib.asynccontextmanager
    async def _checking(self, project_id: str, *, lock: bool, user_id: str | None = None
                        ) -> AsyncIterator[ProjectQuotas]:
        if lock:
            async with self._locked(project_id, user_id=user_id) as view:
                yield view
        else:
            async with self.store.view(project_id) as view:
                yield view

    async def _reserve(self, view: ProjectQuotas, user_id: str, deltas: Mapping[str, int]) -> str:
        expires = self._clock() + datetime.timedelta(seconds=self._settings.reservation_expire)
        return await view.reserve(user_id, deltas, expires_at=expires)

    async def _limits(self, view: ProjectQuotas, user_id: str | None = None) -> dict[str, int]:
        defaults = {**configured_defaults(self._settings), **await view.class_limits("default")}
        limits = {**defaults, **await view.limits()}
        if user_id:
            limits.update(await view.limits(user_id))
        return limits

    async def _in_use(self, view: ProjectQuotas, user_id: str | None = None, *, shown: bool = False,
                      counted: Iterable[str] | None = None) -> dict[str, int]:
        """Usage of every resource; registered counters run only for the
        resources `counted` (None: all). A counter reads in a session of its
        own, so a check holding the project's write lock must not wait for
        one it does not need (on SQLite the pool may be all taken by writers
        waiting for that very lock)."""
        usage = dict.fromkeys(RESOURCES, 0)
        usage.update((await view.servers(user_id)).as_dict())
        wanted = None if counted is None else set(counted)
        for resource, counter in self._counters.items():
            if wanted is not None and resource not in wanted:
                continue
            project_count, user_count = await counter(view.project_id, user_id)
            usage[resource] = project_count if user_id is None else (user_count or 0)
        if shown:
            usage.update(dict.fromkeys(_NOT_SHOWN_IN_USE, 0))
        return usage

    async def _used(self, view: ProjectQuotas, user_id: str | None = None, *,
                    counted: Iterable[str] | None = None) -> dict[str, int]:
        """In use plus reserved: what a check adds to."""
        usage = await self._in_use(view, user_id, counted=counted)
        for resource, amount in (await view.reserved(user_id, now=self._clock())).items():
            if resource in usage:
                usage[resource] += amount
        return usage

    async def _scopes(self, view: ProjectQuotas, user_id: str, resources: Iterable[str]):
        """(project limits, project usage, user limits, user usage): the user's
        pair only when the user has a limit of their own on one of `resources`."""
        resources = list(resources)
        own = await view.limits(user_id)
        scoped = any(resource in own for resource in resources)
        return (await self._limits(view), await self._used(view, counted=resources),
                await self._limits(view, user_id) if scoped else None,
                await self._used(view, user_id, counted=resources) if scoped else None)

    async def _settable(self, view: ProjectQuotas, user_id: str | None) -> dict[str, tuple[int, int]]:
        """{resource: (minimum, maximum)} a new limit must lie within (-1: no maximum)."""
        project_limits = await self._limits(view)
        users = await view.user_limits()
        remains = {r: project_limits[r] - sum(limits.get(r, 0) for limits in users.values()) for r in RESOURCES}
        if user_id:
            used = await self._used_shown(view, user_id)
            own = users.get(user_id, {})
            return {r: (used[r], _sum(remains[r], own.get(r, 0))) for r in RESOURCES}
        used = await self._used_shown(view, None)
        return {r: (max(_sub(project_limits[r], remains[r]), used[r]), -1) for r in RESOURCES}

    async def _used_shown(self, view: ProjectQuotas, user_id: str | None) -> dict[str, int]:
        usage = await self._in_use(view, user_id, shown=True)
        for resource, amount in (await view.reserved(user_id, now=self._clock())).items():
            if resource in usage:
                usage[resource] += amount
        return usage


def _check_bounds(resource: str, value: int, minimum: int, maximum: int) -> None:
    def unlimited_as_infinite(v: int) -> float:
        return math.inf if v == -1 else v
    if unlimited_as_infinite(value) < unlimited_as_infinite(minimum):
        raise errors.BadRequest(f"Quota limit {value} for {resource} must be greater than or equal to "
                                f"already used and reserved {minimum}.")
    if unlimited_as_infinite(value) > unlimited_as_infinite(maximum):
        raise errors.BadRequest(f"Quota limit {value} for {resource} must be less than or equal to {maximum}.")
