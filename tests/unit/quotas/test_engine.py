"""QuotaEngine over a real database (SQLite and PostgreSQL): effective
limits, usage counted from the servers projection and its flavors, Nova's
refusals word for word, min/max counts, reservations (also across two
engines, as two processes would hold them), resizes, updates' bounds."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime

import pytest

from cascade import errors
from cascade.config import QuotaSection
from cascade.persistence.db import Database
from cascade.persistence.flavors import FlavorStore
from cascade.persistence.keypairs import KeypairStore
from cascade.persistence.quotas import QuotaStore
from cascade.persistence.servers import ProjectedServer, ServerProjection
from cascade.quotas.engine import OverQuota, QuotaEngine
from tests.dbfixtures import database, module_database  # noqa: F401

P, U, OTHER = "project-1", "user-1", "user-2"


def engine(db: Database, **settings) -> QuotaEngine:
    return QuotaEngine(QuotaStore(db), QuotaSection(**settings))


async def flavor(db: Database, name: str, vcpus: int, ram: int) -> str:
    return (await FlavorStore(db).add(name=name, vcpus=vcpus, ram=ram, disk=1)).id


async def servers(db: Database, flavor_id: str, count: int, *, user_id: str = U, project_id: str = P) -> list[str]:
    projection = ServerProjection(db)
    made = []
    for i in range(count):
        top_id = f"{project_id}-{user_id}-{flavor_id[:8]}-{i}"
        await projection.upsert(ProjectedServer(top_id=top_id, site_id="s", project_id=project_id, user_id=user_id,
                                                name=top_id, status="ACTIVE", flavor_id=flavor_id,
                                                created="2026-01-01T00:00:00Z"))
        made.append(top_id)
    return made


async def test_limits_are_the_projects_then_the_default_class_then_the_configuration(database: Database) -> None:
    quotas = engine(database, instances=7)
    assert (await quotas.limits(P))["instances"] == 7
    assert (await quotas.limits(P))["fixed_ips"] == -1
    await quotas.set_class_limits("default", {"instances": 8})
    await quotas.set_class_limits("gold", {"instances": 50})
    assert (await quotas.defaults())["instances"] == 8
    assert (await quotas.class_limits("gold"))["instances"] == 50
    assert (await quotas.class_limits("silver"))["instances"] == 7      # a class falls back to cascade.conf
    assert (await quotas.limits(P))["instances"] == 8
    await quotas.update(P, {"instances": 9})
    assert (await quotas.limits(P))["instances"] == 9
    assert (await quotas.limits(P, U))["instances"] == 9                # a user falls back to the project
    await quotas.update(P, {"instances": 3, "floating_ips": 4}, user_id=U)
    assert (await quotas.limits(P, U))["instances"] == 3
    assert (await quotas.limits(P))["floating_ips"] == 4                # per-project only, as Nova stores it
    await quotas.delete(P, U)
    assert (await quotas.limits(P, U))["instances"] == 9
    await quotas.update(P, {"instances": 3}, user_id=U)
    await quotas.delete(P)
    assert (await quotas.limits(P, U))["instances"] == 8                # the users' limits went with the project's


async def test_usage_counts_live_servers_with_their_flavors(database: Database) -> None:
    quotas = engine(database)
    small = await flavor(database, "small", 2, 1024)
    made = await servers(database, small, 3)
    await servers(database, small, 1, user_id=OTHER)
    await servers(database, small, 4, project_id="elsewhere")
    await ServerProjection(database).mark_deleted(made[0])
    detail = await quotas.detail(P)
    assert {k: detail[k]["in_use"] for k in ("instances", "cores", "ram")} == {"instances": 3, "cores": 6, "ram": 3072}
    assert (await quotas.detail(P, U))["instances"]["in_use"] == 2


async def test_refusals_carry_novas_messages(database: Database) -> None:
    quotas = engine(database, instances=2, cores=20, ram=51200)
    medium = await flavor(database, "medium", 8, 20000)
    await servers(database, medium, 2)
    with pytest.raises(errors.OverLimit) as refused:
        await quotas.reserve_servers(P, U, vcpus=8, ram=20000)
    assert refused.value.message == ("Quota exceeded for cores, instances, ram: Requested 8, 1, 20000, "
                                     "but already used 16, 2, 40000 of 20, 2, 51200 cores, instances, ram")
    await quotas.update(P, {"instances": 10})
    with pytest.raises(errors.OverLimit) as refused:
        await quotas.reserve_servers(P, U, vcpus=1, ram=20000, min_count=2, max_count=3)
    assert refused.value.message == "Quota exceeded for ram: Requested 60000, but already used 40000 of 51200 ram"


async def test_a_create_gets_as_many_servers_as_fit_between_min_and_max(database: Database) -> None:
    quotas = engine(database, instances=5)
    tiny = await flavor(database, "tiny", 1, 512)
    await servers(database, tiny, 2)
    reservation = await quotas.reserve_servers(P, U, vcpus=1, ram=512, min_count=1, max_count=5)
    assert reservation.count == 3
    await quotas.release(reservation)
    with pytest.raises(errors.OverLimit) as refused:
        await quotas.reserve_servers(P, U, vcpus=1, ram=512, min_count=4, max_count=5)
    assert refused.value.message == ("Quota exceeded for instances: Requested 4-5, but already used 2 of 5 "
                                     "instances")


async def test_a_server_recorded_while_settling_leaves_its_reservation(database: Database) -> None:
    """The server row and the reservation's decrease commit together: a
    check in between sees neither both nor none."""
    quotas = engine(database, instances=3, cores=-1, ram=-1)
    tiny = await flavor(database, "settle", 1, 64)
    projection = ServerProjection(database)
    held = await quotas.reserve_servers(P, U, vcpus=1, ram=64, max_count=2)
    for i in range(2):
        async with quotas.settling(P, held, held.each) as session:
            await projection.upsert_many([ProjectedServer(
                top_id=f"settled-{i}", site_id="s", project_id=P, user_id=U, name="s", status="BUILD",
                flavor_id=tiny, created="2026-01-01T00:00:00Z")], session=session)
        detail = (await quotas.detail(P))["instances"]
        assert (detail["in_use"], detail["reserved"]) == (i + 1, 1 - i)
    assert (await quotas.reserve_servers(P, U, vcpus=1, ram=64, max_count=5)).count == 1
    await quotas.release(held)      # what the request's end releases: nothing left


async def test_reservations_count_until_released_or_expired(database: Database) -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    clock = [now]
    quotas = QuotaEngine(QuotaStore(database), QuotaSection(instances=2, reservation_expire=60),
                         clock=lambda: clock[0])
    first = await quotas.reserve_servers(P, U, vcpus=1, ram=1, max_count=2)
    assert first.count == 2
    detail = await quotas.detail(P)
    assert (detail["instances"]["in_use"], detail["instances"]["reserved"]) == (0, 2)
    with pytest.raises(errors.OverLimit):
        await quotas.reserve_servers(P, U, vcpus=1, ram=1)
    await quotas.release(first)
    second = await quotas.reserve_servers(P, U, vcpus=1, ram=1, max_count=2)
    clock[0] = now + datetime.timedelta(seconds=61)           # its process died: the hold lapses
    assert (await quotas.reserve_servers(P, U, vcpus=1, ram=1, max_count=2)).count == 2
    await quotas.release(second)


async def test_concurrent_creates_in_several_processes_cannot_both_take_the_last_slots(database: Database) -> None:
    # one engine per attempt, as if each were another process: only the database's lock orders them
    engines = [engine(database, instances=2) for _ in range(6)]

    async def attempt(i: int) -> bool:
        try:
            await engines[i].reserve_servers(P, U, vcpus=1, ram=1)
        except errors.OverLimit:
            return False
        return True

    results = await asyncio.gather(*(attempt(i) for i in range(6)))
    assert sorted(results) == [False] * 4 + [True] * 2


async def test_a_user_with_own_limits_is_refused_at_them(database: Database) -> None:
    quotas = engine(database)
    tiny = await flavor(database, "tiny", 1, 512)
    await servers(database, tiny, 3, user_id=OTHER)
    await servers(database, tiny, 1)
    await quotas.update(P, {"instances": 1}, user_id=U)
    with pytest.raises(errors.OverLimit) as refused:
        await quotas.reserve_servers(P, U, vcpus=1, ram=512)
    assert refused.value.message == "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    assert (await quotas.reserve_servers(P, OTHER, vcpus=1, ram=512)).count == 1


async def test_an_upsize_needs_room_for_the_growth_and_a_shrink_none(database: Database) -> None:
    quotas = engine(database, cores=4)
    medium = await flavor(database, "medium", 2, 2048)
    await servers(database, medium, 2)
    assert (await quotas.reserve_upsize(P, U, old=(2, 2048), new=(1, 4096))).id is not None   # ram only grows
    with pytest.raises(errors.OverLimit) as refused:
        await quotas.reserve_upsize(P, U, old=(2, 2048), new=(3, 2048))
    assert refused.value.message == "Quota exceeded for cores: Requested 1, but already used 4 of 4 cores"
    assert (await quotas.reserve_upsize(P, U, old=(2, 2048), new=(1, 1024))).id is None


async def test_per_request_limits(database: Database) -> None:
    quotas = engine(database, metadata_items=3, injected_files=1, injected_file_path_length=5,
                    injected_file_content_bytes=4, key_pairs=1)
    await quotas.check_metadata(P, U, 3)
    with pytest.raises(errors.OverLimit, match=r"^Maximum number of metadata items exceeds 3$"):
        await quotas.check_metadata(P, U, 4)
    await quotas.check_injected_files(P, U, [("/a", "1234")])
    with pytest.raises(errors.OverLimit, match=r"^Personality file limit exceeded$"):
        await quotas.check_injected_files(P, U, [("/a", ""), ("/b", "")])
    with pytest.raises(errors.OverLimit, match=r"^Personality file path exceeds maximum 5$"):
        await quotas.check_injected_files(P, U, [("/long/path", "12345")])
    with pytest.raises(errors.OverLimit, match=r"^Personality file content exceeds maximum 4$"):
        await quotas.check_injected_files(P, U, [("/a", "12345")])
    await quotas.check_keypairs(P, U)
    await KeypairStore(database).add(user_id=U, name="k", public_key="ssh-rsa AAAA", fingerprint="f")
    with pytest.raises(errors.OverLimit, match=r"^Quota exceeded, too many key pairs\.$"):
        await quotas.check_keypairs(P, U)
    await quotas.check_keypairs(P, OTHER)


async def test_updates_stay_within_usage_and_what_the_project_has_left(database: Database) -> None:
    quotas = engine(database, ram=10000)
    small = await flavor(database, "small", 1, 2000)
    await servers(database, small, 2)
    with pytest.raises(errors.BadRequest) as refused:
        await quotas.update(P, {"ram": 3000})
    assert refused.value.message == ("Quota limit 3000 for ram must be greater than or equal to already used "
                                     "and reserved 4000.")
    assert (await quotas.update(P, {"ram": 3000}, force=True))["ram"] == 3000
    await quotas.update(P, {"ram": 10000})
    await quotas.update(P, {"ram": 6000}, user_id=OTHER)
    with pytest.raises(errors.BadRequest) as refused:
        await quotas.update(P, {"ram": 5000}, user_id=U)
    assert refused.value.message == "Quota limit 5000 for ram must be less than or equal to 4000."
    with pytest.raises(errors.BadRequest, match="already used and reserved 6000"):
        await quotas.update(P, {"ram": 5000})        # below what its users were given
    assert (await quotas.update(P, {"ram": -1}))["ram"] == -1


async def test_registered_counters_count_and_check_other_resources(database: Database) -> None:
    quotas = engine(database, server_groups=2)

    async def groups(project_id: str, user_id: str | None) -> tuple[int, int | None]:
        return (2, 1 if user_id else None) if project_id == P else (0, 0)

    quotas.register_counter("server_groups", groups)
    assert (await quotas.detail(P))["server_groups"]["in_use"] == 2
    with pytest.raises(OverQuota) as refused:
        await quotas.check_deltas(P, U, {"server_groups": 1})
    assert (refused.value.overs, refused.value.quotas["server_groups"]) == (["server_groups"], 2)
    assert dataclasses.asdict(await quotas.check_deltas("elsewhere", U, {"server_groups": 1})) == \
        {"id": None, "count": 1, "each": None, "settled": False}
