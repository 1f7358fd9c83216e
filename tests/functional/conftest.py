"""The functional tier: a real `cascade demo` (simcloud with three sites and
the cascade over HTTP) started once per session as a subprocess, driven with
openstacksdk and the `openstack` CLI, with state checked in the sites."""
from __future__ import annotations

import json

import pytest
import requests

from tests.demo_fixtures import admin, alt, cloud, sites  # noqa: F401 - the tier's clients
from tests.demoproc import Demo, free_port, running_demo

SITES = 3


class SimDemo(Demo):
    """The demo over simcloud, which can also inject faults into its sites."""

    def __init__(self, state, port) -> None:
        super().__init__(state, port, tiny="m1.tiny", small="m1.small", image="cirros")
        self.sim = json.loads((state / "simcloud" / "simcloud.json").read_text())

    def site_urls(self) -> list[str]:
        return [site["url"].rstrip("/") for site in self.sim["sites"]]

    def fault(self, site: str, **faults) -> None:
        response = requests.put(f"{self.sim['control_url']}/sites/{site}/faults", json=faults, timeout=10)
        response.raise_for_status()

    def clear_faults(self, site: str) -> None:
        requests.delete(f"{self.sim['control_url']}/sites/{site}/faults", timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> SimDemo:
    state = tmp_path_factory.mktemp("demo")
    port = free_port()
    try:
        with running_demo(["--sites", str(SITES), "--build-seconds", "0.3"], state, port):
            demo = SimDemo(state, port)
            try:
                yield demo
            finally:
                demo.delete_leftovers()
    except RuntimeError as exc:
        pytest.fail(str(exc))
