"""A `cascade demo` subprocess for the tiers that drive the cascade over
HTTP (functional: in front of simcloud; interop: in front of real
OpenStack), and what those tiers share about it.

    with running_demo(["--sites", "3"], state, port) as demo:
        demo.conn("cascade").compute.servers()

`Demo` knows the demo's clouds.yaml (clouds cascade, cascade-alt,
cascade-admin and one per site, named after the site's zone) and the names
of the flavors and image the scenarios boot with, which differ per backdrop.
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
            self._conns[cloud] = openstack.connect(cloud=cloud)
        return self._conns[cloud]

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
    stopped (its whole process group) on exit. Points OS_CLIENT_CONFIG_FILE
    at its clouds.yaml."""
    env = dict(os.environ, CASCADE_LOG=os.environ.get("CASCADE_LOG", "WARNING"))
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
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
