"""The route table: which site holds the copy of a top resource, and under
which bottom id. The only writer of the `routes` table.

A create reserves a route (a top id and the chosen site) before asking the
site, binds it to the bottom id the site answered, and forgets it when the
resource is gone. Every answer from a site is translated through `top_ids`, so
lookups of bound routes are kept in a small in-process cache. Writes through
this table drop the entries they touch; entries also expire after a short
time, which bounds how long another process's change can go unseen here.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import time
import uuid
from typing import AsyncIterator, Callable, Generic, Hashable, Iterable, TypeVar

from sqlalchemy import Connection, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cascade.errors import Conflict, NotFound
from cascade.persistence.db import Database, after_commit, insert_for
from cascade.persistence.models import RouteRow, SiteRow, utcnow

RESERVED, BOUND, DELETING = "reserved", "bound", "deleting"
STATES = frozenset({RESERVED, BOUND, DELETING})

# ids per IN (...) list: far below every backend's bound-parameter limit
CHUNK = 500


@dataclasses.dataclass(frozen=True)
class Route:
    kind: str
    top_id: str
    site_id: str
    bottom_id: str | None
    project_id: str | None
    state: str


def _route(row) -> Route:
    """A route from a RouteRow, or from a plain row of its columns."""
    return Route(kind=row.kind, top_id=row.top_id, site_id=row.site_id, bottom_id=row.bottom_id,
                 project_id=row.project_id, state=row.state)


_ROUTE_COLUMNS = ("kind", "top_id", "site_id", "bottom_id", "project_id", "state")
# the statements that go straight to SQLite's driver (see `_bound_routes`)
_SELECT_ROUTES = f"SELECT {', '.join('r.' + name for name in _ROUTE_COLUMNS)} FROM {RouteRow.__tablename__} AS r"


def _bound_routes(connection: Connection, kind: str, site_id: str, column: InstrumentedAttribute, ids: list[str]):
    """The bound routes of one site with `column` among `ids`. On SQLite
    the statement goes straight to the driver: a fan-out page translates
    each site's rows with one such read, and SQLAlchemy's building of the
    statement took four times SQLite's own time (70 ms of a page over 100
    sites, against 18)."""
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" * len(ids))
        return connection.exec_driver_sql(
            f"{_SELECT_ROUTES} WHERE r.kind = ? AND r.site_id = ? AND r.bottom_id IS NOT NULL "
            f"AND r.{column.key} IN ({marks})",
            (kind, site_id, *ids))
    return connection.execute(select(RouteRow).where(
        RouteRow.kind == kind, RouteRow.site_id == site_id, RouteRow.bottom_id.is_not(None), column.in_(ids)))


def _first_route(connection: Connection, kind: str, top_id: str, site_id: str | None):
    """The route of a resource in one site, or its first bound route (by
    site registration order), else its first of any state. On SQLite
    straight to the driver, as `_bound_routes`: every routed call whose
    route is not cached reads it."""
    if connection.dialect.name == "sqlite":
        if site_id is not None:
            return connection.exec_driver_sql(
                f"{_SELECT_ROUTES} WHERE r.kind = ? AND r.top_id = ? AND r.site_id = ?",
                (kind, top_id, site_id)).first()
        return connection.exec_driver_sql(
            f"{_SELECT_ROUTES} JOIN {SiteRow.__tablename__} AS s ON s.id = r.site_id "
            "WHERE r.kind = ? AND r.top_id = ? "
            "ORDER BY CASE WHEN r.state = ? THEN 0 ELSE 1 END, s.position LIMIT 1", (kind, top_id, BOUND)).first()
    query = select(RouteRow).where(RouteRow.kind == kind, RouteRow.top_id == top_id)
    if site_id is not None:
        query = query.where(RouteRow.site_id == site_id)
    else:
        query = (query.join(SiteRow, SiteRow.id == RouteRow.site_id)
                 .order_by(case((RouteRow.state == BOUND, 0), else_=1), SiteRow.position).limit(1))
    return connection.execute(query).first()


def _not_found(kind: str, top_id: str) -> NotFound:
    return NotFound(f"No route for {kind} {top_id}.", kind=kind, resource_id=top_id)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """Least-recently-used map whose entries also expire after `ttl` seconds."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float]) -> None:
        self._size, self._ttl, self._clock = size, ttl, clock
        self._entries: collections.OrderedDict[K, tuple[float, V]] = collections.OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class _RouteCache:
    """Bound routes seen lately, by every key they are looked up by.

    A reader notes `generation` before its query and offers what it read with
    that number; any write since then makes the offer be ignored, so a read
    that raced a forget can never put the forgotten route back."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float]) -> None:
        self.generation = 0
        self.by_site: _LRU[tuple[str, str, str], Route] = _LRU(size, ttl, clock)    # (kind, top, site)
        self.first: _LRU[tuple[str, str], Route] = _LRU(size, ttl, clock)            # (kind, top)
        self.top_of: _LRU[tuple[str, str, str], str] = _LRU(size, ttl, clock)       # (kind, site, bottom)

    def offer(self, generation: int, route: Route, *, first: bool = False) -> None:
        if generation != self.generation or route.state != BOUND or route.bottom_id is None:
            return
        self.by_site.put((route.kind, route.top_id, route.site_id), route)
        self.top_of.put((route.kind, route.site_id, route.bottom_id), route.top_id)
        if first:
            self.first.put((route.kind, route.top_id), route)

    def drop(self, kind: str, top_id: str, site_bottoms: Iterable[tuple[str, str | None]]) -> None:
        self.generation += 1
        self.first.pop((kind, top_id))
        for site_id, bottom_id in site_bottoms:
            cached = self.by_site.get((kind, top_id, site_id))
            self.by_site.pop((kind, top_id, site_id))
            for bottom in {bottom_id, cached.bottom_id if cached else None} - {None}:
                self.top_of.pop((kind, site_id, bottom))

    def clear(self) -> None:
        self.generation += 1
        self.by_site.clear()
        self.first.clear()
        self.top_of.clear()


class RouteTable:
    def __init__(self, db: Database, *, cache_size: int = 50_000, cache_ttl: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._cache = _RouteCache(cache_size, cache_ttl, clock)

    @contextlib.asynccontextmanager
    async def _writing(self, kind: str, top_id: str, session: AsyncSession | None
                       ) -> AsyncIterator[tuple[AsyncSession, list[tuple[str, str | None]]]]:
        """A write of `top_id`'s routes, in `session` or in a transaction of
        its own; the copies the block adds to the yielded list leave the
        cache when the block ends and again once its transaction commits."""
        touched: list[tuple[str, str | None]] = []
        try:
            async with self._db.joined(session) as own:
                if session is not None:
                    after_commit(own, lambda: self._cache.drop(kind, top_id, touched))
                yield own, touched
        finally:
            self._cache.drop(kind, top_id, touched)

    async def reserve(self, kind: str, *, site_id: str, project_id: str | None, top_id: str | None = None,
                      session: AsyncSession | None = None) -> str:
        """Record that `site_id` is about to hold a copy of a resource; returns
        its top id (a new uuid4 unless given). Conflict if that copy is
        already routed. With `session`, in the caller's transaction."""
        top_id = top_id or str(uuid.uuid4())
        try:
            async with self._db.joined(session) as own:
                own.add(RouteRow(kind=kind, top_id=top_id, site_id=site_id, bottom_id=None,
                                 project_id=project_id, state=RESERVED))
                await own.flush()
        except IntegrityError:
            async with self._db.session() as session:
                if await session.get(SiteRow, site_id) is None:
                    raise NotFound(f"Site {site_id} could not be found.", kind="site", resource_id=site_id) from None
            raise Conflict(f"{kind} {top_id} is already routed to site {site_id}.") from None
        return top_id

    async def bind(self, kind: str, top_id: str, site_id: str, bottom_id: str, *,
                   session: AsyncSession | None = None) -> None:
        """The site made the copy: record its bottom id. Conflict when that
        bottom id is already the copy of another top resource. With
        `session`, in the caller's transaction."""
        try:
            async with self._writing(kind, top_id, session) as (own, touched):
                touched.append((site_id, bottom_id))
                row = await own.get(RouteRow, (kind, top_id, site_id), with_for_update=True)
                if row is None:
                    raise _not_found(kind, top_id)
                touched.append((site_id, row.bottom_id))
                row.bottom_id, row.state, row.updated_at = bottom_id, BOUND, utcnow()
                await own.flush()
        except IntegrityError:
            raise Conflict(f"{kind} {bottom_id} of site {site_id} is already routed.") from None

    async def pair(self, kind: str, top_id: str, site_id: str, bottom_id: str, *, project_id: str | None,
                   session: AsyncSession | None = None) -> None:
        """Route `top_id` to the site's `bottom_id` in one statement, unless
        either is routed already (the first pairing stays)."""
        now = utcnow()
        statement = insert_for(self._db.dialect)(RouteRow).values(kind=kind, top_id=top_id, site_id=site_id, bottom_id=bottom_id,
                                            project_id=project_id, state=BOUND, created_at=now, updated_at=now)
        async with self._writing(kind, top_id, session) as (own, touched):
            touched.append((site_id, bottom_id))
            await own.execute(statement.on_conflict_do_nothing())

    async def bind_many(self, kind: str, site_id: str, copies: Iterable[tuple[str, str, str | None]], *,
                        session: AsyncSession | None = None) -> list[tuple[str, str]]:
        """Bound routes for copies a site already holds, (top id, bottom id,
        project id) each, in one statement per chunk: an adoption's batch.
        A copy whose bottom id (or top id) is already routed in that site is
        skipped, so a batch run twice routes nothing twice. With `session`,
        the rows are written in the caller's transaction. Returns the
        (top id, bottom id) pairs recorded."""
        now = utcnow()
        rows = [{"kind": kind, "top_id": top_id, "site_id": site_id, "bottom_id": bottom_id,
                 "project_id": project_id, "state": BOUND, "created_at": now, "updated_at": now}
                for top_id, bottom_id, project_id in copies]
        insert = insert_for(self._db.dialect)
        recorded: list[tuple[str, str]] = []
        try:
            async with self._db.joined(session) as session:
                for start in range(0, len(rows), CHUNK):
                    statement = (insert(RouteRow).values(rows[start:start + CHUNK]).on_conflict_do_nothing()
                                 .returning(RouteRow.top_id, RouteRow.bottom_id))
                    recorded.extend((row.top_id, row.bottom_id) for row in await session.execute(statement))
        finally:
            for row in rows:
                self._cache.drop(kind, row["top_id"], [(site_id, row["bottom_id"])])
        return recorded

    async def resolve(self, kind: str, top_id: str, *, site_id: str | None = None) -> Route:
        """The route of a resource in one site or, without `site_id`, its first
        bound route (by site registration order), else its first route of any state."""
        cached = (self._cache.first.get((kind, top_id)) if site_id is None
                  else self._cache.by_site.get((kind, top_id, site_id)))
        if cached is not None:
            return cached
        generation = self._cache.generation
        row = await self._db.read(lambda connection: _first_route(connection, kind, top_id, site_id))
        if row is None:
            raise _not_found(kind, top_id)
        route = _route(row)
        self._cache.offer(generation, route, first=site_id is None)
        return route

    async def routes_of(self, kind: str, top_id: str) -> list[Route]:
        """Every site's copy of a resource, in site registration order."""
        query = (select(RouteRow).join(SiteRow, SiteRow.id == RouteRow.site_id)
                 .where(RouteRow.kind == kind, RouteRow.top_id == top_id).order_by(SiteRow.position))
        return await self._db.read(lambda connection: [_route(row) for row in connection.execute(query)])

    async def top_ids(self, kind: str, site_id: str, bottom_ids: Iterable[str]) -> dict[str, str]:
        """bottom id -> top id for the copies in one site; unrouted ids are absent."""
        found: dict[str, str] = {}
        missing: list[str] = []
        for bottom_id in dict.fromkeys(bottom_ids):
            top_id = self._cache.top_of.get((kind, site_id, bottom_id))
            if top_id is None:
                missing.append(bottom_id)
            else:
                found[bottom_id] = top_id
        for route in await self._load(kind, site_id, RouteRow.bottom_id, missing):
            assert route.bottom_id is not None
            found[route.bottom_id] = route.top_id
        return found

    async def bottom_ids(self, kind: str, site_id: str, top_ids: Iterable[str]) -> dict[str, str]:
        """top id -> bottom id in one site; ids with no bound copy there are absent."""
        found: dict[str, str] = {}
        missing: list[str] = []
        for top_id in dict.fromkeys(top_ids):
            route = self._cache.by_site.get((kind, top_id, site_id))
            if route is None:
                missing.append(top_id)
            else:
                assert route.bottom_id is not None
                found[top_id] = route.bottom_id
        for route in await self._load(kind, site_id, RouteRow.top_id, missing):
            assert route.bottom_id is not None
            found[route.top_id] = route.bottom_id
        return found

    async def _load(self, kind: str, site_id: str, column: InstrumentedAttribute[str | None] | InstrumentedAttribute[str],
                    ids: list[str]) -> list[Route]:
        """Routes with a bottom id among `ids` (of `column`), all read in one session."""
        if not ids:
            return []
        generation = self._cache.generation

        def load(connection) -> list[Route]:
            found = []
            for start in range(0, len(ids), CHUNK):
                found.extend(_route(row) for row in _bound_routes(connection, kind, site_id, column,
                                                                   ids[start:start + CHUNK]))
            return found

        routes = await self._db.read(load)
        for route in routes:
            self._cache.offer(generation, route)
        return routes

    async def set_state(self, kind: str, top_id: str, state: str, *, site_id: str | None = None,
                        session: AsyncSession | None = None) -> None:
        """Change the state of one copy, or of every copy without `site_id`
        (with `session`, in the caller's transaction)."""
        if state not in STATES:
            raise ValueError(f"route state must be one of {sorted(STATES)}, not {state!r}")
        statement = update(RouteRow).where(RouteRow.kind == kind, RouteRow.top_id == top_id)
        if site_id is not None:
            statement = statement.where(RouteRow.site_id == site_id)
        statement = statement.values(state=state, updated_at=utcnow()).returning(RouteRow.site_id, RouteRow.bottom_id)
        async with self._writing(kind, top_id, session) as (own, touched):
            if site_id:
                touched.append((site_id, None))
            found = [(row.site_id, row.bottom_id) for row in await own.execute(statement)]
            touched.extend(found)
        if not found:
            raise _not_found(kind, top_id)

    async def forget(self, kind: str, top_id: str, *, site_id: str | None = None) -> None:
        """Delete one copy's route, or every copy's without `site_id`. Forgetting
        what is not there is no error (deletes are retried)."""
        statement = delete(RouteRow).where(RouteRow.kind == kind, RouteRow.top_id == top_id)
        if site_id is not None:
            statement = statement.where(RouteRow.site_id == site_id)
        statement = statement.returning(RouteRow.site_id, RouteRow.bottom_id)
        async with self._writing(kind, top_id, None) as (session, touched):
            if site_id:
                touched.append((site_id, None))
            touched.extend((row.site_id, row.bottom_id) for row in await session.execute(statement))

    async def forget_site(self, site_id: str) -> int:
        """Delete every route into a site (its forced removal); returns how many."""
        try:
            async with self._db.session(writing=True) as session:
                result = await session.execute(delete(RouteRow).where(RouteRow.site_id == site_id))
                return result.rowcount
        finally:
            self._cache.clear()

    async def count_for_site(self, site_id: str) -> int:
        async with self._db.session() as session:
            count = await session.scalar(select(func.count()).select_from(RouteRow).where(RouteRow.site_id == site_id))
            return int(count or 0)
