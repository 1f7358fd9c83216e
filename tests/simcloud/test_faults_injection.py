"""Fault injection at run time, switched through the control API and seen by
ordinary HTTP clients: down (connection refused), hang (client timeout),
latency, error rate."""
from __future__ import annotations

import socket
import time

import pytest
import requests

from simcloud.world import World

pytestmark = pytest.mark.usefixtures("clean_faults")


def set_faults(world: World, site: str, faults: dict, **kwargs) -> requests.Response:
    return requests.put(f"{world.control_url}/sites/{site}/faults", json=faults, timeout=5,
                        **kwargs)


def test_down_refuses_connections_and_up_reopens_the_same_port(world: World) -> None:
    site = world.site("site2")
    port = site.port
    pooled = requests.Session()
    assert pooled.get(site.url + "/compute/", timeout=2).status_code < 500

    answer = set_faults(world, "site2", {"down": True})
    assert answer.status_code == 200 and answer.json()["site"]["faults"]["down"] is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((site.host, port), timeout=2).close()
    with pytest.raises(requests.ConnectionError):
        pooled.get(site.url + "/compute/", timeout=2)       # kept-alive connection died too
    assert requests.get(world.site("site1").url + "/compute/", timeout=2).status_code < 500
    assert requests.get(world.keystone_url, timeout=2).status_code == 200

    set_faults(world, "site2", {"down": False})
    assert site.port == port
    assert pooled.get(site.url + "/compute/", timeout=2).status_code < 500
    pooled.close()


def test_hang_holds_calls_until_the_client_gives_up(world: World) -> None:
    site = world.site("site1")
    set_faults(world, "site1", {"hang": True})
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.get(site.url + "/compute/", timeout=(2, 0.3))
    assert time.monotonic() - started >= 0.3
    [described] = [s for s in requests.get(f"{world.control_url}/sites", timeout=2).json()["sites"]
                   if s["name"] == "site1"]
    assert described["faults"]["hang"] is True and described["counts"]["hanging"] >= 1
    set_faults(world, "site1", {"hang": False})
    assert requests.get(site.url + "/compute/", timeout=2).status_code < 500


def test_latency_is_added_to_every_answer(world: World) -> None:
    url = world.site("site1").url + "/compute/"
    set_faults(world, "site1", {"latency": 0.25})
    for _ in range(2):
        started = time.monotonic()
        assert requests.get(url, timeout=5).status_code < 500
        assert time.monotonic() - started >= 0.25
    set_faults(world, "site1", {"latency": 0})
    started = time.monotonic()
    requests.get(url, timeout=5)
    assert time.monotonic() - started < 0.25


def test_error_rate_fails_about_that_share_of_calls(world: World) -> None:
    site = world.site("site3")
    before = site.injector.counts.injected_errors
    set_faults(world, "site3", {"error_rate": 0.4})
    failures = 0
    with requests.Session() as http:
        for _ in range(200):
            answer = http.get(site.url + "/compute/", timeout=5)
            if answer.status_code == 500:
                assert answer.json()["computeFault"]["code"] == 500
                failures += 1
    assert 50 <= failures <= 110          # 80 expected; the seeded draw makes it repeatable
    assert site.injector.counts.injected_errors - before == failures

    set_faults(world, "site3", {"error_rate": 1.0})
    image = requests.get(site.url + "/image/", timeout=5)
    assert image.status_code == 503 and "unavailable" in image.text


def test_control_updates_are_partial_and_delete_clears(world: World) -> None:
    set_faults(world, "site1", {"latency": 0.05})
    answer = set_faults(world, "site1", {"error_rate": 0.1})
    assert answer.json()["site"]["faults"] == {"down": False, "hang": False,
                                               "latency": 0.05, "error_rate": 0.1}
    assert set_faults(world, "site1", {}).json()["site"]["faults"]["latency"] == 0.05
    cleared = requests.delete(f"{world.control_url}/sites/site1/faults", timeout=5)
    assert cleared.status_code == 200
    assert cleared.json()["site"]["faults"] == {"down": False, "hang": False,
                                                "latency": 0.0, "error_rate": 0.0}
    shown = requests.get(f"{world.control_url}/sites/site1", timeout=5).json()["site"]
    assert shown["url"] == world.site("site1").url and shown["region"] == "site1"


@pytest.mark.parametrize("body", [{"error_rate": 2}, {"latency": -1}, {"down": "yes"},
                                  {"smoke": True}, ["down"]])
def test_control_refuses_bad_faults(world: World, body: object) -> None:
    answer = set_faults(world, "site1", body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 400
    assert world.site("site1").faults.error_rate == 0


def test_control_access_and_unknown_site(world: World, login, admin_token: str) -> None:
    assert set_faults(world, "site9", {}).status_code == 404
    demo = set_faults(world, "site1", {}, headers={"X-Auth-Token": login.token("demo")})
    assert demo.status_code == 403
    bogus = set_faults(world, "site1", {}, headers={"X-Auth-Token": "bogus"})
    assert bogus.status_code == 401
    admin = set_faults(world, "site1", {"latency": 0.01}, headers={"X-Auth-Token": admin_token})
    assert admin.status_code == 200 and world.site("site1").faults.latency == 0.01
