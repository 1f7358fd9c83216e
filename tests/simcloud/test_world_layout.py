"""A World's shape: one listener per site, the catalog it publishes, the files
it writes, its settings checks, and a base port."""
from __future__ import annotations

import json
import socket

import openstack
import pytest
import requests
import yaml

from simcloud.world import World


def test_each_site_has_its_own_listener(world: World) -> None:
    ports = {world.port} | {h.port for h in world.sites}
    assert len(ports) == len(world.sites) + 1
    assert [h.name for h in world.sites] == ["site1", "site2", "site3"]
    for handle in world.sites:
        assert requests.get(handle.url + "/compute/", timeout=2).status_code < 500
        assert handle.config.region == handle.name
    assert world.site("site3").config.max_microversion == "2.60"
    assert world.site("site1").config.max_microversion != "2.60"
    with pytest.raises(KeyError):
        world.site("site4")


def test_catalog_has_a_region_per_site_and_identity_everywhere(world: World, login) -> None:
    sess = login("demo")
    catalog = sess.auth.get_access(sess).service_catalog
    for handle in world.sites:
        for interface in ("public", "internal", "admin"):
            assert catalog.url_for(service_type="compute", region_name=handle.name,
                                   interface=interface) == handle.compute_url
        assert catalog.url_for(service_type="image", region_name=handle.name) == handle.image_url
        assert catalog.url_for(service_type="identity", region_name=handle.name) == world.keystone_url
    assert catalog.url_for(service_type="identity", region_name="RegionOne") == world.keystone_url
    assert set(catalog.get_endpoints(service_type="compute")["compute"][0]) >= {"url", "region_id"}


def test_state_files_describe_the_world(world: World, state_dir) -> None:
    clouds = yaml.safe_load((state_dir / "clouds.yaml").read_text())["clouds"]
    assert set(clouds) >= {"admin", "site1", "site2", "site3"}
    assert clouds["admin"]["auth"]["username"] == "admin"
    assert clouds["admin"]["region_name"] == "site1"
    for name in ("site1", "site2", "site3"):
        cloud = clouds[name]
        assert cloud["region_name"] == name and cloud["auth"]["project_name"] == "demo"
        assert cloud["auth"]["auth_url"] == world.keystone_url
        assert cloud["identity_api_version"] == 3 and cloud["interface"] == "public"
    state = json.loads((state_dir / "simcloud.json").read_text())
    assert state["keystone_url"] == world.keystone_url
    assert state["control_url"] == world.control_url
    assert [(s["name"], s["url"], s["region"]) for s in state["sites"]] == [
        (h.name, h.url, h.config.region) for h in world.sites]


@pytest.mark.parametrize("overrides, message", [
    ({"site7": {"vcpus": 1}}, "site7"),
    ({"site1": {"colour": "blue"}}, "colour"),
])
def test_bad_site_overrides_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        World(2, site_overrides=overrides)


def _free_base_port(span: int) -> int:
    """A port such that it and the next `span` ports are free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + span > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + span + 1):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no run of free ports found")


async def test_base_port_puts_site_i_on_port_plus_i() -> None:
    base = _free_base_port(2)
    async with World(2, port=base, build_seconds=0.01) as world:
        assert world.keystone_url == f"http://127.0.0.1:{base}/v3"
        assert [h.port for h in world.sites] == [base + 1, base + 2]
        await world.site("site2").set_faults({"down": True})
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", base + 2), timeout=2).close()
        await world.site("site2").set_faults({"down": False})
        socket.create_connection(("127.0.0.1", base + 2), timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", base), timeout=2).close()


def test_tenant_reaches_each_site_through_its_region(world: World) -> None:
    for handle in world.sites:
        conn = openstack.connect(
            auth_url=world.keystone_url, username="demo", password="password",
            project_name="demo", user_domain_name="Default", project_domain_name="Default",
            region_name=handle.name, load_yaml_config=False, load_envvars=False)
        try:
            before = handle.injector.counts.requests
            assert list(conn.compute.flavors())
            assert handle.injector.counts.requests > before     # the call landed on that site
        finally:
            conn.close()
    versions = requests.get(world.site("site3").url + "/compute/", timeout=5).json()["versions"]
    assert [v["version"] for v in versions if v["id"] == "v2.1"] == ["2.60"]


def test_preloaded_images_belong_to_the_admin_project(world: World, login) -> None:
    """As the cloud admin uploaded them: Glance always records an owner."""
    admin_project = world.keystone.store.project_by_name("admin", "default").id
    session = login("demo")
    images = session.get(world.site("site1").image_url + "/v2/images").json()["images"]
    assert images and {image["owner"] for image in images} == {admin_project}


def test_site_config_quotas_from_a_mapping() -> None:
    """A --site-config file gives quotas as a mapping."""
    world = World(1, site_overrides={"site1": {"quotas": {"instances": 10, "cores": 20}}})
    (config,) = world._configs
    assert (config.quotas.instances, config.quotas.cores) == (10, 20)
