"""A `cascade demo` subprocess for the tiers that drive the cascade over
HTTP (functional: in front of simcloud; interop: in front of real
OpenStack), and what those tiers share about it.

    with running_demo(["--sites", "3"], state, port) as demo:
        demo.conn("cascade").compute.servers()

`Demo` knows the demo's clouds.yaml (clouds cascade, cascade-alt,
cascade-admin and one per site, named after the site's zone) and the names
of the flavors and image the scenarios boot with, which differ per backdrop.

A demo run with `--split` has its cascade in processes of their own (pids
in DIR/cascade.pid); a test crashes and restarts it with

    kill_cascade(state)       # SIGKILL, returns once the processes are gone
    restart_cascade(state)    # `cascade serve --config DIR/cascade.conf`, until ready
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator

import openstack
import yaml

from cascade.cli import processes
from tests.dbfixtures import demo_database_arguments

TENANT_CLOUDS = ("cascade", "cascade-alt", "cascade-admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, state: pathlib.Path, port: int, *, tiny: str, small: str, image: str) -> None:
        self.state = state
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.clouds = state / "clouds.yaml"
        self.tiny, self.small, self.image = tiny, small, image
        entries = yaml.safe_load(self.clouds.read_text())["clouds"]
        self.zones = [name for name in entries if name not in TENANT_CLOUDS]
        self._conns: dict[str, openstack.connection.Connection] = {}
        self._made: list[tuple[openstack.connection.Connection, str]] = []

    def conn(self, cloud: str) -> openstack.connection.Connection:
        if cloud not in self._conns:
            self._conns[cloud] = self.connect(cloud)
        return self._conns[cloud]

    def connect(self, cloud: str) -> openstack.connection.Connection:
        """A new connection to a cloud of this demo's clouds.yaml (whatever
        OS_CLIENT_CONFIG_FILE says: another demo may be running)."""
        import openstack.config
        loader = openstack.config.OpenStackConfig(config_files=[str(self.clouds)], secure_files=[],
                                                  load_envvars=False)
        return openstack.connection.Connection(config=loader.get_one(cloud))

    def made(self, conn: openstack.connection.Connection, server_id: str) -> None:
        """Note a server a test made, so that one a failed test left is deleted at the end."""
        self._made.append((conn, server_id))

    def delete_leftovers(self) -> None:
        for conn, server_id in self._made:
            with contextlib.suppress(openstack.exceptions.SDKException):
                conn.compute.delete_server(server_id, ignore_missing=True)


@contextlib.contextmanager
def running_demo(args: list[str], state: pathlib.Path, port: int, *, timeout: float = 120.0
                 ) -> Iterator[subprocess.Popen]:
    """`cascade demo ARGS` on `port` with state in `state`, until ready;
    stopped (its whole process group) on exit. Its database is the one
    CASCADE_TEST_DATABASE selects (tests/dbfixtures.py) unless ARGS name
    one. Points OS_CLIENT_CONFIG_FILE at its clouds.yaml meanwhile."""
    with contextlib.ExitStack() as stack:
        if "--database-url" not in args:
            args = [*args, *stack.enter_context(demo_database_arguments(state))]
        yield stack.enter_context(_running_demo(args, state, port, timeout=timeout))


@contextlib.contextmanager
def _running_demo(args: list[str], state: pathlib.Path, port: int, *, timeout: float) -> Iterator[subprocess.Popen]:
    env = dict(os.environ, CASCADE_LOG=os.environ.get("CASCADE_LOG", "WARNING"))
    previous_clouds = os.environ.get("OS_CLIENT_CONFIG_FILE")
    log_path = state / "demo.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cascade.cli", "demo", *args, "--state-dir", str(state), "--port", str(port)],
            stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        ready = False
        while not ready and (remaining := deadline - time.monotonic()) > 0:
            if not select.select([process.stdout], [], [], remaining)[0]:
                break
            line = process.stdout.readline()
            if not line:
                break
            ready = line.strip() == b"ready"
        if not ready:
            raise RuntimeError(f"cascade demo did not become ready:\n{log_path.read_text()[-4000:]}")
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(state / "clouds.yaml")
        yield process
    finally:
        if os.environ.get("OS_CLIENT_CONFIG_FILE") == str(state / "clouds.yaml"):   # unless a later demo took it
            if previous_clouds is None:
                os.environ.pop("OS_CLIENT_CONFIG_FILE", None)
            else:
                os.environ["OS_CLIENT_CONFIG_FILE"] = previous_clouds
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # what a demo that could not stop them left (its own processes are in their own sessions)
        processes.stop(processes.API, state)
        processes.stop(processes.WORKER, state)
        processes.stop_pids(processes.read_pids(state / "simcloud.pid"), marker="simcloud")


def cascade_pids(state: pathlib.Path, kind: processes.Kind = processes.API) -> list[int]:
    """The cascade's processes of a `--split` demo as their pid file names
    them: API processes (DIR/cascade.pid), or workers with kind=processes.WORKER."""
    return processes.read_pids(state / kind.pid_file)


def kill_cascade(state: pathlib.Path, sig: int = signal.SIGKILL, *, kind: processes.Kind = processes.API,
                 timeout: float = 30.0) -> list[int]:
    """Send `sig` to every process of `kind` of a `--split` demo; returns
    their pids once they are gone. The demo and simcloud keep running."""
    pids = processes.signal_pids(cascade_pids(state, kind), sig, marker=processes.CASCADE_MARKER)
    if not pids:
        raise RuntimeError(f"no live cascade process in {state / kind.pid_file}")
    if left := processes.wait_gone(pids, marker=processes.CASCADE_MARKER, timeout=timeout):
        raise RuntimeError(f"cascade processes {left} outlived signal {sig}")
    return pids


def restart_cascade(state: pathlib.Path, *, kind: processes.Kind = processes.API, timeout: float = 60.0) -> list[int]:
    """Start the processes of `kind` again, as many as their pid file named
    (`cascade serve --config DIR/cascade.conf` for the API), and wait until
    each prints `ready` (it answers); their pids replace the file's, so the
    demo stops them when it stops."""
    previous = cascade_pids(state, kind)
    if any(processes.alive(pid, processes.CASCADE_MARKER) for pid in previous):
        raise RuntimeError(f"processes of {state / kind.pid_file} still run: kill them first")
    started = processes.start(kind, state, state / "cascade.conf", max(1, len(previous)), timeout=timeout)
    return [process.pid for process in started]
