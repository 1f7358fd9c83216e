"""The functional tier: a real `cascade demo` (simcloud with three sites and
the cascade over HTTP) started once per session as a subprocess, driven with
openstacksdk and the `openstack` CLI, with state checked in the sites."""
from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import openstack
import pytest
import requests

SITES = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, state: pathlib.Path, port: int) -> None:
        self.state = state
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.clouds = state / "clouds.yaml"
        self.sim = json.loads((state / "simcloud" / "simcloud.json").read_text())
        self._conns: dict[str, openstack.connection.Connection] = {}

    def conn(self, cloud: str) -> openstack.connection.Connection:
        if cloud not in self._conns:
            self._conns[cloud] = openstack.connect(cloud=cloud)
        return self._conns[cloud]

    def site_urls(self) -> list[str]:
        return [site["url"].rstrip("/") for site in self.sim["sites"]]

    def fault(self, site: str, **faults) -> None:
        response = requests.put(f"{self.sim['control_url']}/sites/{site}/faults", json=faults, timeout=10)
        response.raise_for_status()

    def clear_faults(self, site: str) -> None:
        requests.delete(f"{self.sim['control_url']}/sites/{site}/faults", timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    state = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = dict(os.environ, CASCADE_LOG="WARNING")
    log = open(state / "demo.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cascade.cli", "demo", "--sites", str(SITES), "--state-dir", str(state),
         "--port", str(port), "--build-seconds", "0.3"],
        stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    ready = False
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.strip() == b"ready":
            ready = True
            break
    if not ready:
        process.kill()
        pytest.fail(f"cascade demo did not become ready:\n{(state / 'demo.log').read_text()[-4000:]}")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(state / "clouds.yaml")
    yield Demo(state, port)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def cloud(demo):
    return demo.conn("cascade")


@pytest.fixture(scope="session")
def alt(demo):
    return demo.conn("cascade-alt")


@pytest.fixture(scope="session")
def admin(demo):
    return demo.conn("cascade-admin")


@pytest.fixture(scope="session")
def sites(demo):
    """Connections straight at each site (user demo), by availability zone."""
    return {f"site{i}": demo.conn(f"site{i}") for i in range(1, SITES + 1)}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
