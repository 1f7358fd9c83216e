"""`cascade demo --split`: the cascade runs in a process of its own, so it
can be killed (SIGKILL) and started again alone with `cascade serve
--config DIR/cascade.conf` while the demo and simcloud keep running; the
restarted cascade knows what the killed one made, since sites and routes
live in the database."""
from __future__ import annotations

import signal

import keystoneauth1.exceptions
import pytest

from cascade.cli import processes
from tests.demoproc import cascade_pids, kill_cascade, restart_cascade
from tests.functional.helpers import boot, bottom_copy, wait_for


@pytest.fixture(scope="module")
def split(another_demo):
    with another_demo("--split") as demo:
        yield demo


def test_pid_files_name_the_cascade_and_simcloud_apart_from_the_demo(split):
    cascade = cascade_pids(split.state)
    simcloud = processes.read_pids(split.state / "simcloud.pid")
    assert len(cascade) == 1 and len(simcloud) == 1
    assert processes.alive(cascade[0], "cascade") and processes.alive(simcloud[0], "simcloud")
    assert split.process.pid not in (*cascade, *simcloud)
    assert not (split.state / "workers.pid").exists(), "no worker processes unless --workers"


def test_a_killed_cascade_started_again_serves_what_it_made(split):
    cloud = split.conn("cascade")
    sites = {zone: split.conn(zone) for zone in split.zones}
    server = boot(split, cloud)
    simcloud = processes.read_pids(split.state / "simcloud.pid")

    killed = kill_cascade(split.state)
    assert split.process.poll() is None, "the demo goes on without its cascade"
    assert all(processes.alive(pid, "simcloud") for pid in simcloud)
    with pytest.raises(keystoneauth1.exceptions.ConnectFailure):
        cloud.compute.get_server(server.id)

    restarted = restart_cascade(split.state)
    assert set(restarted).isdisjoint(killed) and cascade_pids(split.state) == restarted
    again = cloud.compute.get_server(server.id)
    assert (again.name, again.status, again.availability_zone) == (server.name, "ACTIVE", server.availability_zone)
    assert server.id in {s.id for s in cloud.compute.servers()}
    zone, bottom = bottom_copy(sites, server.id)
    assert zone == server.availability_zone and bottom.status == "ACTIVE"

    cloud.compute.delete_server(server.id)
    wait_for(lambda: cloud.compute.find_server(server.id) is None, timeout=60)
    assert bottom_copy(sites, server.id) == (None, None)


def test_sigterm_stops_the_demo_and_what_its_pid_files_name_then(another_demo):
    with another_demo("--split", sites=1) as demo:
        kill_cascade(demo.state)
        restarted = restart_cascade(demo.state)
        simcloud = processes.read_pids(demo.state / "simcloud.pid")
        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=30) == 0
        assert not [pid for pid in restarted if processes.alive(pid, "cascade")]
        assert not [pid for pid in simcloud if processes.alive(pid, "simcloud")]
        assert not list(demo.state.glob("*.pid"))
