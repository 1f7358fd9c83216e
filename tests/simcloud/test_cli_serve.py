"""The `simcloud` command as a subprocess: serve (files written, `ready`,
per-site settings, clean stop on SIGTERM), `simcloud fault`, and the
`openstack` CLI against a world's clouds.yaml."""
from __future__ import annotations

import json
import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator

import pytest
import requests
import yaml

from simcloud.world import World

VENV_BIN = pathlib.Path(sys.executable).parent


def wait_for_ready(process: subprocess.Popen, timeout: float = 20.0) -> list[str]:
    """Lines printed on stdout up to and including `ready`."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.2)
        if readable:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.decode().rstrip("\n"))
            if lines[-1] == "ready":
                return lines
    raise AssertionError(f"simcloud printed no 'ready' (got {lines}, exit {process.poll()})")


def simcloud(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simcloud", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def fault(state: pathlib.Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "simcloud", "fault", *args,
                           "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, pathlib.Path]]:
    state = tmp_path_factory.mktemp("cli-state")
    site_config = state / "sites.yaml"
    site_config.write_text(yaml.safe_dump({"site2": {"max_microversion": "2.60", "vcpus": 4}}))
    process = simcloud("--sites", "2", "--state-dir", str(state), "--build-seconds", "0.05",
                       "--site-config", str(site_config))
    try:
        wait_for_ready(process)
        yield process, state
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serve_writes_clouds_yaml_and_state(served) -> None:
    process, state = served
    clouds = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]
    sim = json.loads((state / "simcloud.json").read_text())
    assert clouds["admin"]["auth"]["auth_url"] == sim["keystone_url"]
    assert clouds["admin"]["auth"]["project_name"] == "admin"
    assert clouds["site2"]["region_name"] == "site2"
    assert clouds["site2"]["auth"]["username"] == "demo"
    assert [s["name"] for s in sim["sites"]] == ["site1", "site2"]
    assert requests.get(sim["keystone_url"], timeout=5).json()["version"]["id"].startswith("v3")
    sites = requests.get(f"{sim['control_url']}/sites", timeout=5).json()["sites"]
    config = {s["name"]: s["config"] for s in sites}
    assert config["site2"]["max_microversion"] == "2.60" and config["site2"]["vcpus"] == 4
    assert config["site1"]["max_microversion"] != "2.60"
    assert config["site1"]["build_seconds"] == 0.05


def test_fault_subcommand_switches_a_site(served) -> None:
    process, state = served
    sim = json.loads((state / "simcloud.json").read_text())
    site1 = sim["sites"][0]
    host, port = site1["url"].removeprefix("http://").split(":")
    assert fault(state, "site1", "--down")["faults"]["down"] is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()
    shown = fault(state, "site1", "--up", "--latency", "0.2", "--error-rate", "0.5")
    assert shown["faults"] == {"down": False, "hang": False, "latency": 0.2, "error_rate": 0.5}
    socket.create_connection((host, int(port)), timeout=2).close()
    assert fault(state, "site1", "--clear")["faults"]["latency"] == 0.0
    refused = subprocess.run([sys.executable, "-m", "simcloud", "fault", "site1", "--error-rate",
                              "3", "--state-dir", str(state)], capture_output=True, text=True,
                             timeout=20)
    assert refused.returncode == 1 and "error_rate" in refused.stderr


def test_sigterm_stops_cleanly(served) -> None:
    process, state = served
    sim = json.loads((state / "simcloud.json").read_text())
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(sim["keystone_url"], timeout=2)


def test_bad_site_config_fails_without_ready(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"site5": {"vcpus": 1}}))
    process = simcloud("--sites", "2", "--state-dir", str(tmp_path), "--site-config", str(bad))
    out, err = process.communicate(timeout=20)
    assert process.returncode == 1
    assert b"ready" not in out and b"site5" in err


@pytest.mark.cli
def test_openstack_cli_issues_a_token(world: World, state_dir: pathlib.Path) -> None:
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(state_dir / "clouds.yaml"))
    for key in [k for k in env if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"]:
        del env[key]
    done = subprocess.run([str(VENV_BIN / "openstack"), "--os-cloud", "demo", "token", "issue",
                           "-f", "json"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)
    info = world.keystone.validate(token["id"])
    assert info is not None and info.project_name == "demo" and info.project_id == token["project_id"]
