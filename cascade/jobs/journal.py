"""The journal of multi-step operations: before an operation touches a site
it writes what it is about to do, and ends the entry when it is done.

    async with rt.journal.entry("server.create", {"top_id": ..., "site_id": ...},
                                opening=reserve_in) as entry:   # the first step, with the entry
        ... call the site ...
        await entry.note(bottom_id=...)      # what the recovery needs to know, as soon as it is known
        async with db.session(writing=True) as session:
            ... bind ...
            await entry.end(session)         # the last step and the entry's end: one transaction

An entry is a job begun already leased by this process, its lease kept alive
while the operation runs. When the block ends normally the entry ends
(succeeded). When it raises, the entry is handed to the kind's job handler
at once unless the code said `entry.settle()` first (it cleaned up itself).
When the process dies, the lease ends and a worker runs the handler: the
handler is the operation's recovery, and it must converge from any step.
If the lease lapsed while the process lived (it stalled) and a worker took
the entry over, the block's end raises `EntryLost` instead of succeeding.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.persistence.db import after_commit
from cascade.persistence.jobs import Job, JobStore

LOG = logging.getLogger(__name__)


class EntryLost(Exception):
    """The entry's lease lapsed (the process stalled) and a worker took it
    over: the recovery, not the code that opened it, decides the outcome,
    so that code must not report success."""


class Entry:
    def __init__(self, journal: "Journal", job: Job) -> None:
        self._journal = journal
        self.job = job
        self.payload = dict(job.payload)
        self.settled = False
        self.ended = False

    @property
    def id(self) -> str:
        return self.job.id

    async def note(self, **values: Any) -> None:
        """Add to what the recovery will know, before the next step."""
        self.payload.update(values)
        await self._journal._store.set_payload(self.job.id, self._journal.owner, self.payload)

    async def end(self, session: AsyncSession) -> None:
        """End the entry (succeeded) in the caller's transaction, which holds
        the operation's last step: it ends if and only if that commits.
        EntryLost (the transaction then rolls back) if a recovery took it over."""
        if not await self._journal._store.succeed(self.job.id, self._journal.owner, self.payload, session=session):
            raise EntryLost(f"journal entry {self.job.id} ({self.job.kind}) was taken over by its recovery")
        after_commit(session, lambda: setattr(self, "ended", True))

    def settle(self) -> None:
        """The operation ends here with nothing for a recovery to do (it
        failed cleanly and undid its own steps)."""
        self.settled = True


class Journal:
    def __init__(self, store: JobStore, *, owner: str, lease_seconds: float,
                 wake: Callable[[], None] | None = None) -> None:
        self._store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.wake = wake
        self._open: set[str] = set()
        self._heartbeat: asyncio.Task | None = None

    @contextlib.asynccontextmanager
    async def entry(self, kind: str, payload: dict, *, key: str | None = None, max_attempts: int | None = None,
                    opening: Callable[[AsyncSession], Awaitable[Any]] | None = None) -> AsyncIterator[Entry]:
        """`max_attempts`: how often the recovery may run (default: [jobs]
        max_attempts); `opening`: the operation's first step, written in the
        entry's own transaction (keyless entries)."""
        job = await self._store.begin(kind, payload, owner=self.owner, lease_seconds=self.lease_seconds, key=key,
                                      max_attempts=max_attempts, opening=opening)
        entry = Entry(self, job)
        self._open.add(job.id)
        self._ensure_heartbeat()
        try:
            yield entry
        except BaseException as exc:
            self._open.discard(job.id)
            await asyncio.shield(self._end_after_error(entry, exc))
            raise
        self._open.discard(job.id)
        if entry.ended:
            return
        if not await asyncio.shield(self._store.succeed(job.id, self.owner, entry.payload)):
            raise EntryLost(f"journal entry {job.id} ({kind}) was taken over by its recovery before it ended")

    async def _end_after_error(self, entry: Entry, exc: BaseException) -> None:
        try:
            if entry.settled:
                await self._store.succeed(entry.id, self.owner, {**entry.payload, "error": repr(exc)[:500]})
            else:
                await self._store.release(entry.id, self.owner, error=f"{type(exc).__name__}: {exc}")
                if self.wake is not None:
                    self.wake()
        except Exception:  # the lease then ends on its own and a worker recovers
            LOG.exception("journal: could not end entry %s after %r", entry.id, exc)

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._keep_leases(), name="journal-heartbeat")

    async def _keep_leases(self) -> None:
        while self._open:
            await asyncio.sleep(self.lease_seconds / 3)
            with contextlib.suppress(Exception):
                await self._store.heartbeat(set(self._open), self.owner, lease_seconds=self.lease_seconds)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
