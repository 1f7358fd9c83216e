"""The functional tier: a real `cascade demo` (simcloud with three sites and
the cascade over HTTP) started once per session as a subprocess, driven with
openstacksdk and the `openstack` CLI, with state checked in the sites.

The cascade's database is SQLite, or PostgreSQL with
CASCADE_TEST_DATABASE=postgresql (a scratch database on the local server;
every test skips, saying why, if the server cannot be reached)."""
from __future__ import annotations

import contextlib
import json
import pathlib
from typing import Iterator

import pytest
import requests

from tests.dbfixtures import BACKEND_VARIABLE, selected_backend
from tests.demo_fixtures import admin, alt, cloud, sites  # noqa: F401 - the tier's clients
from tests.demoproc import Demo, free_port, running_demo

SITES = 3


def pytest_report_header(config) -> str:
    return f"functional tier database: {selected_backend()} (set {BACKEND_VARIABLE} to choose)"


class SimDemo(Demo):
    """The demo over simcloud, which can also inject faults into its sites."""

    def __init__(self, state, port, process) -> None:
        super().__init__(state, port, tiny="m1.tiny", small="m1.small", image="cirros")
        self.process = process
        self.sim = json.loads((state / "simcloud" / "simcloud.json").read_text())

    def site_urls(self) -> list[str]:
        return [site["url"].rstrip("/") for site in self.sim["sites"]]

    def fault(self, site: str, **faults) -> None:
        response = requests.put(f"{self.sim['control_url']}/sites/{site}/faults", json=faults, timeout=10)
        response.raise_for_status()

    def clear_faults(self, site: str) -> None:
        requests.delete(f"{self.sim['control_url']}/sites/{site}/faults", timeout=10).raise_for_status()


@contextlib.contextmanager
def sim_demo(state: pathlib.Path, *args: str, sites: int = SITES) -> Iterator[SimDemo]:
    """`cascade demo ARGS` over simcloud, on the selected database."""
    port = free_port()
    with running_demo(["--sites", str(sites), "--build-seconds", "0.3", *args], state, port) as process:
        demo = SimDemo(state, port, process)
        try:
            yield demo
        finally:
            demo.delete_leftovers()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> SimDemo:
    try:
        # status sync polls every 2 s, so that tests see a site's change soon
        with sim_demo(tmp_path_factory.mktemp("demo"), "--option", "sync.changes_period=2") as demo:
            yield demo
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def another_demo(tmp_path_factory):
    """Starts a demo of its own (simcloud, database, port) for tests that kill
    or multiply its processes: `with another_demo("--split") as demo: ...`."""
    def start(*args: str, sites: int = 2):
        return sim_demo(tmp_path_factory.mktemp("demo"), *args, sites=sites)
    return start
