"""JobStore on SQLite and PostgreSQL: leases, keys, retries, ends."""
from __future__ import annotations

import asyncio

import pytest

from cascade import errors
from cascade.persistence.jobs import JobStore
from tests.dbfixtures import database, module_database  # noqa: F401


@pytest.fixture
def store(database):  # noqa: F811
    return JobStore(database, max_attempts=3)


async def test_a_due_job_is_claimed_once_and_counts_an_attempt(store):
    job = await store.enqueue("k", {"a": 1})
    assert job.state == "queued" and job.attempts == 0
    claimed = await store.claim("w1", lease_seconds=30)
    assert [j.id for j in claimed] == [job.id]
    assert claimed[0].state == "running" and claimed[0].attempts == 1 and claimed[0].lease_owner == "w1"
    assert await store.claim("w2", lease_seconds=30) == []


async def test_a_delayed_job_is_not_due_yet(store):
    await store.enqueue("k", delay=60)
    assert await store.claim("w1", lease_seconds=30) == []


async def test_a_key_holds_one_unfinished_job(store):
    first = await store.enqueue("k", key="sync:a")
    again = await store.enqueue("k", key="sync:a")
    assert again.id == first.id
    [claimed] = await store.claim("w", lease_seconds=30)
    assert await store.succeed(claimed.id, "w")
    later = await store.enqueue("k", key="sync:a")
    assert later.id != first.id
    assert await store.live_keys(["sync:a", "sync:b"]) == {"sync:a"}


async def test_concurrent_enqueues_of_one_key_make_one_job(store):
    jobs = await asyncio.gather(*(store.enqueue("k", key="same") for _ in range(10)))
    assert len({job.id for job in jobs}) == 1
    assert await store.count(kind="k") == 1


async def test_a_lease_that_ended_makes_the_job_due_for_another_worker(store):
    await store.enqueue("k")
    [job] = await store.claim("dead", lease_seconds=0.01)
    await asyncio.sleep(0.05)
    [again] = await store.claim("alive", lease_seconds=30)
    assert again.id == job.id and again.attempts == 2 and again.lease_owner == "alive"
    # the first owner no longer holds it: its late end changes nothing
    assert not await store.succeed(job.id, "dead")
    assert (await store.get(job.id)).state == "running"


async def test_heartbeat_keeps_only_held_leases(store):
    a = await store.enqueue("k")
    b = await store.enqueue("k")
    await store.claim("w", lease_seconds=30, limit=2)
    await store.cancel(b.id)
    assert await store.heartbeat([a.id, b.id], "w", lease_seconds=30) == {a.id}


async def test_failures_retry_until_attempts_run_out(store):
    job = await store.enqueue("k")
    for attempt in (1, 2):
        [claimed] = await store.claim("w", lease_seconds=30)
        assert claimed.attempts == attempt
        assert await store.fail(job.id, "w", f"boom {attempt}", retry_in=0)
        assert (await store.get(job.id)).state == "queued"
    [claimed] = await store.claim("w", lease_seconds=30)
    await store.fail(job.id, "w", "boom 3", retry_in=0)
    ended = await store.get(job.id)
    assert ended.state == "failed" and ended.last_error == "boom 3" and ended.finished_at is not None


async def test_retry_and_cancel(store):
    job = await store.enqueue("k", key="x")
    await store.claim("w", lease_seconds=30)
    await store.fail(job.id, "w", "no", retry_in=None)
    with pytest.raises(errors.Conflict):
        await store.cancel(job.id)
    retried = await store.retry(job.id)
    assert retried.state == "queued" and retried.attempts == 0
    with pytest.raises(errors.Conflict):
        await store.retry(job.id)
    assert (await store.cancel(job.id)).state == "cancelled"
    with pytest.raises(errors.NotFound):
        await store.get("00000000-0000-0000-0000-000000000000")


async def test_a_periodic_job_queues_its_next_run_as_it_ends(store):
    await store.enqueue("tick", {"site_id": "s"}, key="tick:s")
    [job] = await store.claim("w", lease_seconds=30)
    assert await store.succeed(job.id, "w", {"n": 1}, again_in=60)
    [next_run] = await store.list(state="queued", key="tick:s")
    assert next_run.payload == {"site_id": "s"} and next_run.run_after > job.run_after
    assert (await store.get(job.id)).result == {"n": 1}


async def test_a_journal_entry_begins_leased_and_expired_owners_give_it_up(store):
    entry = await store.begin("server.create", {"top_id": "t"}, owner="api:1", lease_seconds=300)
    assert entry.state == "running" and entry.attempts == 1
    assert await store.claim("w", lease_seconds=30) == []
    assert await store.lease_owners("api:") == {"api:1"}
    assert await store.expire_leases({"api:1"}) == 1
    [taken] = await store.claim("w", lease_seconds=30)
    assert taken.id == entry.id and taken.payload == {"top_id": "t"}


async def test_list_pages_newest_first(store):
    made = [await store.enqueue("k") for _ in range(5)]
    first = await store.list(limit=2)
    second = await store.list(limit=10, marker=first[-1].id)
    assert [j.id for j in first + second] == [j.id for j in reversed(made)]
    with pytest.raises(errors.BadRequest):
        await store.list(state="bogus")


async def test_purge_forgets_old_finished_jobs_only(store):
    done = await store.enqueue("k")
    live = await store.enqueue("k", delay=60)
    await store.claim("w", lease_seconds=30)
    await store.succeed(done.id, "w")
    assert await store.purge(older_than=-1) == 1
    assert (await store.get(live.id)).state == "queued"
