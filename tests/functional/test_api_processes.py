"""`cascade demo --api-processes 2 --workers 1`: two `cascade serve`
processes share the cascade's port (SO_REUSEPORT, the kernel spreads
connections) over one database, beside a `cascade worker`, and answer
alike whichever of them a client reaches.

A client's connection is kept alive, so every call of one openstacksdk
connection reaches the process that accepted it; `pinned` makes
connections until it has one accepted by the process it wants, and checks
before each call that the connection still is that one."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time

import openstack
import psutil
import pytest

from cascade import config
from cascade.cli import processes
from cascade.persistence.db import Database
from cascade.persistence.jobs import JobStore
from tests.demoproc import cascade_pids
from tests.functional.helpers import boot, bottom_copy, flavor_id, wait_for


@pytest.fixture(scope="module")
def pair(another_demo):
    with another_demo("--api-processes", "2", "--workers", "1") as demo:
        yield demo


def _client_ports(port: int) -> set[int]:
    """This test process's local ports of its connections to `port`."""
    return {c.laddr.port for c in psutil.Process(os.getpid()).net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}


def _server_of(port: int, client_port: int, pids: list[int]) -> int | None:
    for pid in pids:
        for c in psutil.Process(pid).net_connections(kind="tcp"):
            if c.laddr.port == port and c.raddr and c.raddr.port == client_port:
                return pid
    return None


@dataclasses.dataclass
class Pinned:
    """An openstacksdk connection whose one connection to the cascade a given process serves."""

    conn: openstack.connection.Connection
    pid: int
    client_port: int
    port: int

    def __call__(self) -> openstack.connection.Connection:
        assert self.client_port in _client_ports(self.port), "the kept-alive connection was closed"
        return self.conn


def pinned(demo, cloud: str, pid: int, *, attempts: int = 50) -> Pinned:
    pids = cascade_pids(demo.state)
    for _ in range(attempts):
        before = _client_ports(demo.port)
        conn = demo.connect(cloud)
        conn.compute.get("/")                  # opens the one connection the next calls reuse
        opened = _client_ports(demo.port) - before
        if len(opened) == 1:
            client_port = opened.pop()
            if _server_of(demo.port, client_port, pids) == pid:
                return Pinned(conn, pid, client_port, demo.port)
        conn.close()
    pytest.fail(f"no connection reached process {pid} in {attempts} attempts")


def usage(conn) -> tuple[int, int, int]:
    limits = conn.compute.get_limits().absolute
    return limits.instances_used, limits.total_cores_used, limits.total_ram_used


def test_both_api_processes_listen_on_the_one_port_beside_a_worker(pair):
    pids = cascade_pids(pair.state)
    workers = processes.read_pids(pair.state / processes.WORKER.pid_file)
    assert len(pids) == 2 and len(workers) == 1
    for pid in pids:
        listening = [c for c in psutil.Process(pid).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
        assert [c.laddr.port for c in listening] == [pair.port]
    assert processes.alive(workers[0], "cascade") and "worker" in psutil.Process(workers[0]).cmdline()


def test_what_one_process_makes_the_other_serves(pair):
    first, second = cascade_pids(pair.state)
    a = pinned(pair, "cascade", first)
    b = pinned(pair, "cascade", second)
    admin_b = pinned(pair, "cascade-admin", second)
    sites = {zone: pair.conn(zone) for zone in pair.zones}
    before = usage(a())
    assert usage(b()) == before

    server = boot(pair, a())
    shown = b().compute.get_server(server.id)
    assert (shown.name, shown.status, shown.flavor.original_name, shown.availability_zone) == (
        server.name, "ACTIVE", pair.tiny, server.availability_zone)
    assert server.id in {s.id for s in b().compute.servers()}
    assert {s.id for s in a().compute.servers()} == {s.id for s in b().compute.servers()}
    assert bottom_copy(sites, server.id)[0] == server.availability_zone
    grown = usage(a())
    assert grown[0] == before[0] + 1 and usage(b()) == grown
    assert admin_b().compute.get_server(server.id).id == server.id

    b().compute.delete_server(server.id)
    wait_for(lambda: b().compute.find_server(server.id) is None, timeout=60)
    wait_for(lambda: a().compute.find_server(server.id) is None, timeout=60)
    assert server.id not in {s.id for s in a().compute.servers()}
    assert bottom_copy(sites, server.id) == (None, None)
    assert usage(a()) == before and usage(b()) == before


def test_a_flavor_made_through_one_process_is_served_by_the_other(pair):
    first, second = cascade_pids(pair.state)
    admin_a = pinned(pair, "cascade-admin", first)
    b = pinned(pair, "cascade", second)
    flavor = admin_a().compute.create_flavor(name="pair.small", ram=256, vcpus=1, disk=1)
    try:
        assert flavor_id(b(), "pair.small") == flavor.id
    finally:
        admin_a().compute.delete_flavor(flavor.id)
    assert b().compute.find_flavor("pair.small") is None


def _enqueue_and_watch(demo, kind: str, seconds: float) -> list[str]:
    """Queue a job in the demo's database and note its state every 0.2 s for `seconds`."""
    async def run() -> list[str]:
        db = await Database.open(config.load(demo.state / "cascade.conf").database_url, migrate=False)
        try:
            store = JobStore(db)
            job = await store.enqueue(kind, {"note": "functional test"})
            states = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                states.append((await store.get(job.id)).state)
                await asyncio.sleep(0.2)
            return states
        finally:
            await db.close()
    return asyncio.run(run())


def test_jobs_are_run_by_the_worker_process_not_the_api_processes(pair):
    conf = config.load(pair.state / "cascade.conf")
    assert conf.DEFAULT.reuse_port and not conf.jobs.run_in_api
    worker, = processes.read_pids(pair.state / processes.WORKER.pid_file)
    os.kill(worker, signal.SIGSTOP)
    try:
        idle = _enqueue_and_watch(pair, "functional.no-such-kind", 3 * conf.jobs.poll_interval + 1)
    finally:
        os.kill(worker, signal.SIGCONT)
    assert set(idle) == {"queued"}, "an API process ran a job"
    ran = _enqueue_and_watch(pair, "functional.no-such-kind", 10)
    assert ran[-1] == "failed", ran    # no handler for that kind: the worker tried it and gave up
