"""Jobs as rows: enqueued, leased by one worker at a time, retried with
backoff, ended as succeeded, failed or cancelled.

A lease is `lease_owner` plus `lease_expires_at`; a running job whose lease
has ended is due again, so work of a worker (or API process) that died is
taken over. Claims lock the rows they take (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite has one writer) and re-check the row in the UPDATE, so
two workers never hold one job at once.
"""
from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any, Awaitable, Callable, Iterable, Sequence

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import JobRow, utcnow

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
LIVE = (QUEUED, RUNNING)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    kind: str
    key: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_after: datetime.datetime
    lease_owner: str | None
    lease_expires_at: datetime.datetime | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    finished_at: datetime.datetime | None


_FIELDS = tuple(f.name for f in dataclasses.fields(Job))


def _job(row: JobRow) -> Job:
    return Job(**{name: getattr(row, name) for name in _FIELDS})


def _strings(value: Any) -> set[str]:
    """Every string in a JSON document, at any depth."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*map(_strings, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(_strings, value)) if value else set()
    return set()


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


def _due(now: datetime.datetime):
    """Queued and due, or running under a lease that has ended."""
    return or_(and_(JobRow.state == QUEUED, JobRow.run_after <= now),
               and_(JobRow.state == RUNNING, JobRow.lease_expires_at < now))


class JobStore:
    def __init__(self, db: Database, *, max_attempts: int = 8) -> None:
        self._db = db
        self.max_attempts = max_attempts

    async def enqueue(self, kind: str, payload: dict | None = None, *, key: str | None = None,
                      delay: float = 0.0, max_attempts: int | None = None,
                      session: AsyncSession | None = None) -> Job:
        """A new queued job, due after `delay` seconds. With a key, the
        unfinished job of that key is returned instead when there is one.
        With `session` (keyless jobs only), it is queued in the caller's
        transaction: a follow-up that exists if and only if the work that
        asks for it commits."""
        if session is not None:
            if key is not None:
                raise ValueError("a keyed job is queued in its own transaction")
            row = self._row(kind, payload, key=None, state=QUEUED, delay=delay, max_attempts=max_attempts)
            session.add(row)
            return _job(row)
        return await self._insert(kind, payload, key=key, state=QUEUED, delay=delay, max_attempts=max_attempts)

    async def begin(self, kind: str, payload: dict | None = None, *, owner: str, lease_seconds: float,
                    key: str | None = None, max_attempts: int | None = None,
                    opening: Callable[[AsyncSession], Awaitable[Any]] | None = None) -> Job:
        """A journal entry: a job already running, leased by `owner`, which
        does the work itself. Conflict when an unfinished job holds the key.
        `opening` (keyless entries only) writes the operation's first step
        in the entry's own transaction."""
        if opening is not None:
            if key is not None:
                raise ValueError("a keyed entry is begun in its own transaction")
            row = self._row(kind, payload, key=None, state=RUNNING, owner=owner, lease_seconds=lease_seconds,
                            max_attempts=max_attempts)
            async with self._db.session(writing=True) as session:
                session.add(row)
                await opening(session)
            return _job(row)
        job = await self._insert(kind, payload, key=key, state=RUNNING, owner=owner, lease_seconds=lease_seconds,
                                 max_attempts=max_attempts)
        if job.lease_owner != owner or job.state != RUNNING or job.attempts != 1:
            raise Conflict(f"Another {kind} is in progress ({job.id}).")
        return job

    def _row(self, kind: str, payload: dict | None, *, key: str | None, state: str, delay: float = 0.0,
             owner: str | None = None, lease_seconds: float = 0.0, max_attempts: int | None = None) -> JobRow:
        now = utcnow()
        return JobRow(id=str(uuid.uuid4()), kind=kind, key=key, payload=dict(payload or {}), state=state,
                      attempts=1 if state == RUNNING else 0, max_attempts=max_attempts or self.max_attempts,
                      run_after=now + _seconds(delay), lease_owner=owner,
                      lease_expires_at=now + _seconds(lease_seconds) if owner else None,
                      created_at=now, updated_at=now)

    async def _insert(self, kind: str, payload: dict | None, *, key: str | None, state: str, delay: float = 0.0,
                      owner: str | None = None, lease_seconds: float = 0.0, max_attempts: int | None = None) -> Job:
        row = self._row(kind, payload, key=key, state=state, delay=delay, owner=owner, lease_seconds=lease_seconds,
                        max_attempts=max_attempts)
        if key is not None:
            existing = await self._live_by_key(key)
            if existing is not None:
                return existing
        try:
            async with self._db.session(writing=True) as session:
                session.add(row)
            return _job(row)
        except Exception as exc:  # the live-key unique index: another writer got there first
            if key is None or "unique" not in str(exc).lower():
                raise
            existing = await self._live_by_key(key)
            if existing is None:
                raise
            return existing

    async def _live_by_key(self, key: str) -> Job | None:
        async with self._db.session() as session:
            row = await session.scalar(select(JobRow).where(JobRow.key == key, JobRow.state.in_(LIVE)))
            return _job(row) if row is not None else None

    async def claim(self, owner: str, *, lease_seconds: float, limit: int = 1,
                    kinds: Iterable[str] | None = None, except_kinds: Iterable[str] = ()) -> list[Job]:
        """Lease up to `limit` due jobs (oldest due first; of `kinds` only,
        none of `except_kinds`) to `owner`; each claim counts an attempt."""
        now = utcnow()
        query = select(JobRow.id).where(_due(now)).order_by(JobRow.run_after).limit(limit)
        if kinds is not None:
            query = query.where(JobRow.kind.in_(list(kinds)))
        if except_kinds := list(except_kinds):
            query = query.where(JobRow.kind.not_in(except_kinds))
        # most claims find nothing: they look first, without the writer's turn
        if await self._db.first(query) is None:
            return []
        async with self._db.session(writing=True) as session:
            ids = list(await session.scalars(query.with_for_update(skip_locked=True)))
            if not ids:
                return []
            expires = now + _seconds(lease_seconds)
            await session.execute(
                update(JobRow).where(JobRow.id.in_(ids), _due(now))
                .values(state=RUNNING, lease_owner=owner, lease_expires_at=expires,
                        attempts=JobRow.attempts + 1, updated_at=now))
            rows = await session.scalars(select(JobRow).where(
                JobRow.id.in_(ids), JobRow.lease_owner == owner, JobRow.lease_expires_at == expires))
            return [_job(row) for row in rows]

    async def heartbeat(self, job_ids: Iterable[str], owner: str, *, lease_seconds: float) -> set[str]:
        """Extend the leases `owner` still holds; returns the ids it holds."""
        ids = list(job_ids)
        if not ids:
            return set()
        now = utcnow()
        held = and_(JobRow.id.in_(ids), JobRow.state == RUNNING, JobRow.lease_owner == owner)
        async with self._db.session(writing=True) as session:
            await session.execute(update(JobRow).where(held).values(
                lease_expires_at=now + _seconds(lease_seconds), updated_at=now))
            return set(await session.scalars(select(JobRow.id).where(held)))

    async def set_payload(self, job_id: str, owner: str, payload: dict, *,
                          session: AsyncSession | None = None) -> bool:
        """Replace the payload of a job `owner` holds (a journal entry noting a
        step; with `session`, a job's progress noted in the transaction of
        the step it made). False when `owner` no longer holds the job."""
        async with self._db.joined(session) as session:
            result = await session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.state == RUNNING, JobRow.lease_owner == owner)
                .values(payload=payload, updated_at=utcnow()))
            return result.rowcount > 0

    async def succeed(self, job_id: str, owner: str, result: dict | None = None, *,
                      again_in: float | None = None, session: AsyncSession | None = None,
                      step: Callable[[AsyncSession], Awaitable[Any]] | None = None) -> bool:
        """End a job `owner` holds. With `again_in`, a periodic job: the next
        run (same kind, key and payload) is queued in the same transaction.
        With `session`, in the caller's transaction (a journal entry ending
        with its operation's last step); with `step`, that last step is
        written here, if the job is still `owner`'s."""
        now = utcnow()
        async with self._db.joined(session) as session:
            ended = await session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.state == RUNNING, JobRow.lease_owner == owner)
                .values(state=SUCCEEDED, result=result, lease_owner=None, lease_expires_at=None,
                        finished_at=now, updated_at=now))
            if ended.rowcount == 0:
                return False
            if step is not None:
                await step(session)
            if again_in is not None:
                row = await session.get(JobRow, job_id)
                session.add(JobRow(id=str(uuid.uuid4()), kind=row.kind, key=row.key, payload=row.payload,
                                   state=QUEUED, attempts=0, max_attempts=row.max_attempts,
                                   run_after=now + _seconds(again_in), created_at=now, updated_at=now))
            return True

    async def fail(self, job_id: str, owner: str, error: str, *, retry_in: float | None) -> bool:
        """A failed attempt: queued again after `retry_in` seconds, or, with
        None or no attempts left, ended as failed with the reason."""
        now = utcnow()
        async with self._db.session(writing=True) as session:
            row = await session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.state != RUNNING or row.lease_owner != owner:
                return False
            row.last_error = error[:4000]
            row.lease_owner = None
            row.lease_expires_at = None
            row.updated_at = now
            if retry_in is None or row.attempts >= row.max_attempts:
                row.state = FAILED
                row.finished_at = now
            else:
                row.state = QUEUED
                row.run_after = now + _seconds(retry_in)
            return True

    async def release(self, job_id: str, owner: str, *, delay: float = 0.0, error: str | None = None) -> bool:
        """Give a held job back to the queue without ending it (a journal
        entry whose owner could not finish: its recovery runs next)."""
        now = utcnow()
        async with self._db.session(writing=True) as session:
            result = await session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.state == RUNNING, JobRow.lease_owner == owner)
                .values(state=QUEUED, lease_owner=None, lease_expires_at=None, run_after=now + _seconds(delay),
                        last_error=error[:4000] if error else JobRow.last_error, updated_at=now))
            return result.rowcount > 0

    async def expire_leases(self, owners: Iterable[str]) -> int:
        """End the leases of owners known to be gone, so their jobs are due at once."""
        owners = list(owners)
        if not owners:
            return 0
        now = utcnow()
        async with self._db.session(writing=True) as session:
            result = await session.execute(
                update(JobRow).where(JobRow.state == RUNNING, JobRow.lease_owner.in_(owners))
                .values(lease_expires_at=now - _seconds(1), updated_at=now))
            return result.rowcount

    async def live_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` an unfinished job holds."""
        keys = list(keys)
        found: set[str] = set()
        async with self._db.session() as session:
            for start in range(0, len(keys), 500):
                found.update(await session.scalars(select(JobRow.key).where(
                    JobRow.key.in_(keys[start:start + 500]), JobRow.state.in_(LIVE))))
        return found

    async def live_mentioning(self, ids: Iterable[str], *, except_kinds: Sequence[str] = ()) -> set[str]:
        """Which of `ids` are a value in the payload of an unfinished job
        (an operation under way, or its recovery, still owns them).
        Unfinished jobs are few; their payloads are read and searched here."""
        wanted = set(ids)
        if not wanted:
            return set()
        query = select(JobRow.payload).where(JobRow.state.in_(LIVE))
        if except_kinds:
            query = query.where(JobRow.kind.not_in(list(except_kinds)))
        found: set[str] = set()
        async with self._db.session() as session:
            for payload in await session.scalars(query):
                found |= wanted & _strings(payload)
        return found

    async def lease_owners(self, prefix: str) -> set[str]:
        """Owners holding running jobs whose names start with `prefix`."""
        async with self._db.session() as session:
            return set(await session.scalars(select(JobRow.lease_owner).distinct().where(
                JobRow.state == RUNNING, JobRow.lease_owner.startswith(prefix, autoescape=True))))

    async def get(self, job_id: str) -> Job:
        async with self._db.session() as session:
            row = await session.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"Job {job_id} could not be found.", kind="job", resource_id=job_id)
            return _job(row)

    async def list(self, *, state: str | None = None, kind: str | None = None, key: str | None = None,
                   limit: int = 100, marker: str | None = None) -> list[Job]:
        """Newest first; `marker` is the id of the last job of the previous page."""
        query = select(JobRow)
        if state is not None:
            if state not in STATES:
                raise BadRequest(f"Invalid job state {state!r}: one of {', '.join(STATES)}.")
            query = query.where(JobRow.state == state)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        if key is not None:
            query = query.where(JobRow.key == key)
        async with self._db.session() as session:
            if marker is not None:
                last = await session.get(JobRow, marker)
                if last is None:
                    raise BadRequest(f"Marker {marker} could not be found.")
                query = query.where(or_(JobRow.created_at < last.created_at,
                                        and_(JobRow.created_at == last.created_at, JobRow.id < last.id)))
            query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit)
            return [_job(row) for row in await session.scalars(query)]

    async def count(self, *, state: str | None = None, kind: str | None = None) -> int:
        from sqlalchemy import func
        query = select(func.count()).select_from(JobRow)
        if state is not None:
            query = query.where(JobRow.state == state)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        async with self._db.session() as session:
            return int(await session.scalar(query))

    async def retry(self, job_id: str) -> Job:
        """A failed or cancelled job queued again, due now, with its attempts reset."""
        now = utcnow()
        async with self._db.session(writing=True) as session:
            row = await session.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise NotFound(f"Job {job_id} could not be found.", kind="job", resource_id=job_id)
            if row.state not in (FAILED, CANCELLED):
                raise Conflict(f"Job {job_id} is {row.state}; only a failed or cancelled job can be retried.")
            if row.key is not None and await session.scalar(
                    select(JobRow.id).where(JobRow.key == row.key, JobRow.state.in_(LIVE))):
                raise Conflict(f"Another job with key {row.key} is already queued or running.")
            row.state, row.attempts, row.run_after, row.finished_at, row.updated_at = QUEUED, 0, now, None, now
            await session.flush()
            return _job(row)

    async def cancel(self, job_id: str) -> Job:
        """A queued job ended as cancelled. A running one is cancelled too; its
        worker notices at its next heartbeat and stops it."""
        now = utcnow()
        async with self._db.session(writing=True) as session:
            row = await session.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise NotFound(f"Job {job_id} could not be found.", kind="job", resource_id=job_id)
            if row.state not in LIVE:
                raise Conflict(f"Job {job_id} is {row.state}; only a queued or running job can be cancelled.")
            row.state, row.lease_owner, row.lease_expires_at, row.finished_at, row.updated_at = (
                CANCELLED, None, None, now, now)
            await session.flush()
            return _job(row)

    async def purge(self, *, older_than: float) -> int:
        """Forget jobs that ended more than `older_than` seconds ago."""
        cutoff = utcnow() - _seconds(older_than)
        async with self._db.session(writing=True) as session:
            result = await session.execute(delete(JobRow).where(
                JobRow.state.in_((SUCCEEDED, FAILED, CANCELLED)), JobRow.finished_at < cutoff))
            return result.rowcount
