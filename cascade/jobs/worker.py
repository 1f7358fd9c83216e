"""A worker: leases due jobs, runs their handlers (up to `concurrency` at
once, and each lane's kinds in slots of their own, see registry), keeps
their leases alive, and ends them as the handler says.

Between claims it keeps the engine tidy: it reloads the site registry (sites
added by another process), ends the leases of dead processes of this host,
queues the periodic jobs that are missing (one per key, so any number of
workers queue each once) and purges old finished jobs.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from typing import TYPE_CHECKING, Awaitable, TypeVar

from cascade.config import JobsSection
from cascade.jobs import owner as owners
from cascade.jobs import registry
from cascade.persistence.jobs import Job, JobStore

if TYPE_CHECKING:
    from cascade.runtime import Runtime

LOG = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 5.0
# how long stop() lets its loops reach their next turn before cancelling them
STOP_GRACE = 5.0

T = TypeVar("T")


def backoff(settings: JobsSection, attempts: int) -> float:
    """Exponential, capped, with jitter so that retries of many jobs spread out."""
    delay = min(settings.backoff_max, settings.backoff_base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


@dataclasses.dataclass
class _Slots:
    """The jobs one lane of a worker may run at once, and those it runs."""
    concurrency: int
    kinds: frozenset[str] | None = None           # None: every kind but `except_kinds`
    except_kinds: frozenset[str] = frozenset()
    running: set[str] = dataclasses.field(default_factory=set)

    @property
    def free(self) -> int:
        return self.concurrency - len(self.running)


class Worker:
    def __init__(self, rt: "Runtime", *, store: JobStore | None = None, settings: JobsSection | None = None,
                 owner: str | None = None, concurrency: int | None = None) -> None:
        self.rt = rt
        self.store = store or rt.jobs
        self.settings = settings or rt.settings.jobs
        self.owner = owner or owners.this_process()
        self.concurrency = concurrency or self.settings.concurrency
        self._running: dict[str, asyncio.Task] = {}
        lanes = registry.lanes()
        self._slots = [_Slots(self.concurrency, except_kinds=frozenset().union(*(lane.kinds for lane in lanes)))]
        self._slots += [_Slots(lane.concurrency(rt.settings), kinds=lane.kinds) for lane in lanes]
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._last_maintenance = 0.0
        self._stopping = False
        self._stopped = asyncio.Event()
        self._bookkeeping: set[asyncio.Future] = set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._claim_loop(), name="jobs-claim"),
                       asyncio.create_task(self._heartbeat_loop(), name="jobs-heartbeat")]

    def wake(self) -> None:
        """Look for due jobs now (something was just queued)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; running jobs are cancelled and given back to the
        queue. The loops end at their next turn rather than by a cancel,
        and the worker's own database work (claims, ends, releases) runs to
        its end before stop() returns: a session cut by a cancel can leave
        its connection inside a transaction, which on SQLite holds the
        write lock for every other connection."""
        self._stopping = True
        self._wake.set()
        self._stopped.set()
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._tasks, *running, return_exceptions=True)
        while self._bookkeeping:
            await asyncio.gather(*self._bookkeeping, return_exceptions=True)
        self._tasks = []

    async def _uncut(self, work: Awaitable[T]) -> T:
        """`work` (a store call) in a task of its own, shielded: a cancel of
        the caller does not cut it in the middle of its session, and stop()
        waits for it."""
        task = asyncio.ensure_future(work)
        self._bookkeeping.add(task)
        task.add_done_callback(self._bookkeeping.discard)
        return await asyncio.shield(task)

    async def run_once(self) -> int:
        """One pass for tests and tools: maintenance, then every due job, until none is due."""
        await self.maintain()
        ran = 0
        while jobs := await self.store.claim(self.owner, lease_seconds=self.settings.lease_seconds,
                                             limit=self.concurrency):
            await asyncio.gather(*(self._run(job) for job in jobs))
            ran += len(jobs)
        return ran

    async def maintain(self) -> None:
        self._last_maintenance = time.monotonic()
        await self.rt.registry.load()
        dead = owners.gone(await self.store.lease_owners(owners.host() + ":"))
        if dead and (count := await self.store.expire_leases(dead)):
            LOG.info("took over %d job(s) of gone processes %s", count, sorted(dead))
        await self.ensure_periodic()
        await self.store.purge(older_than=self.settings.retention)

    async def ensure_periodic(self) -> None:
        wanted: dict[str, tuple[str, dict]] = {}
        for spec in registry.periodic_jobs():
            if spec.per_site:
                for site in self.rt.registry.all():
                    wanted[spec.key(site.id)] = (spec.kind, {"site_id": site.id})
            else:
                wanted[spec.key()] = (spec.kind, {})
        missing = set(wanted) - await self.store.live_keys(wanted)
        for key in sorted(missing):
            kind, payload = wanted[key]
            await self.store.enqueue(kind, payload, key=key)

    async def _claim_loop(self) -> None:
        while True:
            try:
                if time.monotonic() - self._last_maintenance >= MAINTENANCE_SECONDS:
                    await self.maintain()
                if self._stopping:
                    return
                jobs = []
                for slots in self._slots:
                    if slots.free <= 0:
                        continue
                    claimed = await self._uncut(self.store.claim(
                        self.owner, lease_seconds=self.settings.lease_seconds, limit=slots.free,
                        kinds=slots.kinds, except_kinds=slots.except_kinds))
                    for job in claimed:
                        slots.running.add(job.id)
                        self._running[job.id] = asyncio.create_task(self._run(job, slots), name=f"job-{job.kind}")
                    jobs += claimed
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("job worker: claiming failed; trying again")
                jobs = []
            if not jobs or all(slots.free <= 0 for slots in self._slots):
                self._wake.clear()
                # not asyncio.wait_for: on Python 3.11 it returns normally when
                # cancelled just as the wake lands, and the loop would never stop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_interval):
                        await self._wake.wait()

    async def _heartbeat_loop(self) -> None:
        renewed = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.lease_seconds / 3):
                    await self._stopped.wait()
            if self._stopping:
                return
            asked = set(self._running)
            try:
                async with asyncio.timeout(self.settings.lease_seconds / 3):
                    held = await self._uncut(
                        self.store.heartbeat(asked, self.owner, lease_seconds=self.settings.lease_seconds))
                renewed = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("job worker: heartbeat failed")
                if time.monotonic() - renewed > self.settings.lease_seconds * 0.8:
                    # our leases may have ended: stop before another worker takes the jobs over
                    held = set()
                else:
                    continue
            for job_id in asked - held:
                if (task := self._running.get(job_id)) is not None:
                    LOG.warning("job %s: lease lost (cancelled, taken over or not renewed); stopping it", job_id)
                    task.cancel()

    async def _run(self, job: Job, slots: _Slots | None = None) -> None:
        try:
            await self._run_handler(job)
        finally:
            self._running.pop(job.id, None)
            if slots is not None:
                slots.running.discard(job.id)
            self._wake.set()

    async def _run_handler(self, job: Job) -> None:
        handler = registry.handler_for(job.kind)
        if handler is None:
            await self._fail(job, f"no handler for job kind {job.kind!r}")
            return
        if job.attempts > job.max_attempts:
            await self._fail(job, f"gave up after {job.max_attempts} attempts (last error: {job.last_error})")
            return
        began = time.monotonic()
        try:
            result = await handler(self.rt, job)
        except asyncio.CancelledError:
            # stopping, or the lease was lost: whoever holds it (if anyone) carries on
            with contextlib.suppress(Exception):
                await self._uncut(self.store.release(job.id, self.owner))
            raise
        except registry.Retry as retry:
            delay = retry.delay if retry.delay is not None else backoff(self.settings, job.attempts)
            LOG.info("job %s %s: retry in %.1fs: %s", job.kind, job.id, delay, retry)
            await self._fail(job, str(retry), retry_in=delay)
        except registry.Permanent as failure:
            LOG.warning("job %s %s failed: %s", job.kind, job.id, failure)
            await self._fail(job, str(failure))
        except Exception as exc:
            LOG.warning("job %s %s: attempt %d failed: %r", job.kind, job.id, job.attempts, exc, exc_info=True)
            await self._fail(job, f"{type(exc).__name__}: {exc}", retry_in=backoff(self.settings, job.attempts))
        else:
            spec = next((p for p in registry.periodic_jobs() if p.kind == job.kind), None)
            again_in = None
            if spec is not None and job.key:
                # fixed rate: runs begin `every` seconds apart, however long each takes
                again_in = max(0.0, spec.every(self.rt.settings) - (time.monotonic() - began))
            step = None
            if isinstance(result, registry.Finish):
                result, step = result.result, result.step
            await self._uncut(self.store.succeed(job.id, self.owner, result, again_in=again_in, step=step))

    async def _fail(self, job: Job, error: str, *, retry_in: float | None = None) -> None:
        await self._uncut(self.store.fail(job.id, self.owner, error, retry_in=retry_in))
