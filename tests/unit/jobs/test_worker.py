"""The worker over a real database: handlers run, retries back off, periodic
jobs recur, dead processes' leases are taken over, and many workers never
run one job at once."""
from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from cascade.config import JobsSection, Settings
from cascade.jobs import owner, registry
from cascade.jobs.journal import Journal
from cascade.jobs.worker import Worker, backoff
from cascade.persistence.jobs import JobStore
from cascade.persistence.models import JobRow
from tests.dbfixtures import database, module_database  # noqa: F401

FAST = JobsSection(poll_interval=0.05, lease_seconds=5.0, backoff_base=0.01, backoff_max=0.05, max_attempts=3)


@dataclasses.dataclass
class FakeSite:
    id: str


class FakeRegistry:
    def __init__(self, sites=()):
        self.sites = [FakeSite(s) for s in sites]

    async def load(self):
        pass

    def all(self):
        return self.sites


@dataclasses.dataclass
class FakeRuntime:
    jobs: JobStore
    registry: FakeRegistry
    settings: Settings
    runs: list = dataclasses.field(default_factory=list)


@pytest.fixture
def rt(database):  # noqa: F811
    return FakeRuntime(jobs=JobStore(database, max_attempts=3), registry=FakeRegistry(["s1", "s2"]),
                       settings=Settings(jobs=FAST))


@pytest.fixture(autouse=True)
def handlers(monkeypatch):
    """Only the kinds a test declares: the project's own (status sync's
    periodic jobs per site, ...) are set aside meanwhile."""
    saved = [(table, dict(table)) for table in (registry._handlers, registry._periodic, registry._lanes)]
    monkeypatch.setattr(registry, "HANDLER_MODULES", [])
    for table, _ in saved:
        table.clear()
    yield
    for table, entries in saved:
        table.clear()
        table.update(entries)


async def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_handlers_run_and_their_result_is_kept(rt):
    @registry.handler("test.echo")
    async def echo(rt, job):
        return {"echo": job.payload["x"]}

    job = await rt.jobs.enqueue("test.echo", {"x": 7})
    assert await Worker(rt, settings=FAST).run_once() == 1
    done = await rt.jobs.get(job.id)
    assert done.state == "succeeded" and done.result == {"echo": 7}


async def test_failures_back_off_then_fail_with_the_reason(rt):
    @registry.handler("test.flaky")
    async def flaky(rt, job):
        rt.runs.append(time.monotonic())
        raise RuntimeError("site said no")

    job = await rt.jobs.enqueue("test.flaky")
    worker = Worker(rt, settings=FAST)
    worker.start()
    try:
        await wait_for(lambda: _state_is(rt, job.id, "failed"))
    finally:
        await worker.stop()
    failed = await rt.jobs.get(job.id)
    assert failed.attempts == 3 and "site said no" in failed.last_error
    assert len(rt.runs) == 3


async def test_a_finish_step_is_written_with_the_jobs_end(rt):
    @registry.handler("test.finish")
    async def finish(rt, job):
        async def step(session):
            # the job's end is already in this transaction, uncommitted
            rt.runs.append((await session.get(JobRow, job.id)).state)
        return registry.Finish({"done": True}, step)

    job = await rt.jobs.enqueue("test.finish")
    assert await Worker(rt, settings=FAST).run_once() == 1
    ended = await rt.jobs.get(job.id)
    assert ended.state == "succeeded" and ended.result == {"done": True}
    assert rt.runs == ["succeeded"]


async def test_a_lane_runs_its_kinds_beside_a_crowd_of_other_jobs(rt):
    """Every ordinary slot taken by a job that waits: a job of a lane still
    runs, in its lane's own slots, and the lane never takes ordinary jobs."""
    release = asyncio.Event()

    @registry.handler("test.crowd")
    async def crowd(rt, job):
        rt.runs.append("crowd")
        await release.wait()

    @registry.handler("test.poll")
    async def poll(rt, job):
        rt.runs.append("poll")

    registry.lane("test", {"test.poll"}, concurrency=lambda settings: 1)
    crowd_jobs = [await rt.jobs.enqueue("test.crowd") for _ in range(6)]
    worker = Worker(rt, settings=FAST, concurrency=2)
    worker.start()
    try:
        await wait_for(lambda: _async(rt.runs.count("crowd") == 2))
        polled = await rt.jobs.enqueue("test.poll")
        worker.wake()
        await wait_for(lambda: _state_is(rt, polled.id, "succeeded"))
        assert rt.runs.count("crowd") == 2          # the lane's slot took no ordinary job
    finally:
        release.set()
        await worker.stop()
    assert len(crowd_jobs) == 6


async def _async(value):
    return value


def test_backoff_doubles_up_to_its_cap():
    settings = JobsSection(backoff_base=1.0, backoff_max=10.0)
    first, third, tenth = (backoff(settings, n) for n in (1, 3, 10))
    assert 0.8 <= first <= 1.2 and 3.2 <= third <= 4.8 and 8 <= tenth <= 12


async def test_permanent_failure_and_unknown_kind_fail_at_once(rt):
    @registry.handler("test.never")
    async def never(rt, job):
        raise registry.Permanent("cannot")

    a = await rt.jobs.enqueue("test.never")
    b = await rt.jobs.enqueue("test.nobody-handles-this")
    await Worker(rt, settings=FAST).run_once()
    assert (await rt.jobs.get(a.id)).state == "failed" and (await rt.jobs.get(a.id)).attempts == 1
    unknown = await rt.jobs.get(b.id)
    assert unknown.state == "failed" and "no handler" in unknown.last_error


async def test_periodic_jobs_exist_once_per_site_and_recur(rt):
    @registry.handler("test.tick")
    async def tick(rt, job):
        rt.runs.append(job.payload["site_id"])

    registry.periodic("test.tick", every=lambda settings: 0.05, per_site=True)
    workers = [Worker(rt, settings=FAST, owner=f"w{i}") for i in range(3)]
    for worker in workers:
        await worker.ensure_periodic()
    assert sorted(j.key for j in await rt.jobs.list(state="queued", kind="test.tick")) == ["test.tick:s1",
                                                                                          "test.tick:s2"]
    for worker in workers:
        worker.start()
    try:
        await wait_for(lambda: _ready(rt.runs.count("s1") >= 3 and rt.runs.count("s2") >= 3))
    finally:
        for worker in workers:
            await worker.stop()
    assert len(await rt.jobs.list(kind="test.tick", state="queued")) <= 2


async def test_periodic_runs_begin_every_period_however_long_they_take(rt):
    @registry.handler("test.slow")
    async def slow(rt, job):
        await asyncio.sleep(0.4)

    registry.periodic("test.slow", every=lambda settings: 1.0, per_site=True)
    await Worker(rt, settings=FAST).run_once()
    ended = {j.key: j for j in await rt.jobs.list(kind="test.slow", state="succeeded")}
    for queued in await rt.jobs.list(kind="test.slow", state="queued"):
        gap = (queued.run_after - ended[queued.key].finished_at).total_seconds()
        assert 0.45 < gap < 0.65, gap     # due a period after the run began, not after it ended


async def test_a_journal_entry_of_a_gone_process_is_recovered(rt):
    recovered = []

    @registry.handler("test.step")
    async def recover(rt, job):
        recovered.append(job.payload)

    # an entry left running by a process of this host that no longer exists
    dead_owner = f"{owner.host()}:999999:deadbeef"
    job = await rt.jobs.begin("test.step", {"top_id": "t1"}, owner=dead_owner, lease_seconds=3600)
    await Worker(rt, settings=FAST).run_once()
    assert recovered == [{"top_id": "t1"}]
    assert (await rt.jobs.get(job.id)).state == "succeeded"


async def test_journal_ends_entries_or_hands_them_to_recovery(rt):
    journal = Journal(rt.jobs, owner="api", lease_seconds=30)
    async with journal.entry("test.op", {"a": 1}) as entry:
        await entry.note(b=2)
    assert (await rt.jobs.get(entry.id)).state == "succeeded"
    with pytest.raises(ValueError):
        async with journal.entry("test.op", {"a": 1}) as settled:
            settled.settle()
            raise ValueError("bad input, nothing made")
    assert (await rt.jobs.get(settled.id)).state == "succeeded"
    with pytest.raises(TimeoutError):
        async with journal.entry("test.op", {"a": 1}) as broken:
            await broken.note(bottom_id="b1")
            raise TimeoutError("site did not answer")
    handed = await rt.jobs.get(broken.id)
    assert handed.state == "queued" and handed.payload == {"a": 1, "bottom_id": "b1"}
    assert "TimeoutError" in handed.last_error
    await journal.close()


async def test_many_workers_never_run_one_job_at_once(rt):
    running: set[str] = set()
    overlaps, done = [], []

    @registry.handler("test.exclusive")
    async def exclusive(rt, job):
        if job.id in running:
            overlaps.append(job.id)
        running.add(job.id)
        await asyncio.sleep(0.01)
        running.discard(job.id)
        done.append(job.id)

    jobs = [await rt.jobs.enqueue("test.exclusive") for _ in range(60)]
    workers = [Worker(rt, settings=FAST, owner=f"w{i}", concurrency=4) for i in range(4)]
    for worker in workers:
        worker.start()
    try:
        await wait_for(lambda: _ready(len(done) >= 60), timeout=30)
    finally:
        for worker in workers:
            await worker.stop()
    assert overlaps == []
    assert sorted(done) == sorted(j.id for j in jobs)


async def _state_is(rt, job_id, state):
    return (await rt.jobs.get(job_id)).state == state


async def _ready(value):
    return value


async def test_stop_ends_the_worker_even_when_woken_at_that_moment(rt):
    # A wake that lands together with stop()'s cancel once let the claim loop
    # swallow the cancel (Python 3.11's wait_for) and claim on for ever.
    worker = Worker(rt, settings=FAST)
    worker.start()
    await asyncio.sleep(0.2)      # the claim loop is now idle, waiting to be woken
    loops = list(worker._tasks)
    worker.wake()
    async with asyncio.timeout(5):
        await worker.stop()
    assert loops and all(task.done() for task in loops)


async def test_an_entry_ended_in_a_transaction_ends_if_and_only_if_it_commits(rt, database):  # noqa: F811
    journal = Journal(rt.jobs, owner="api", lease_seconds=30)
    db = database
    async with journal.entry("test.op", {"a": 1}) as ended:
        async with db.session() as session:
            await ended.end(session)
    assert (await rt.jobs.get(ended.id)).state == "succeeded"
    with pytest.raises(RuntimeError):
        async with journal.entry("test.op", {"a": 1}) as rolled_back:
            async with db.session() as session:
                await rolled_back.end(session)
                raise RuntimeError("the last step failed after the end was written")
    handed = await rt.jobs.get(rolled_back.id)
    assert handed.state == "queued" and "RuntimeError" in handed.last_error    # its recovery's, as any failure
    await journal.close()
