"""discover(): a clouds.yaml entry in, the site's catalog, versions and capacity out; no credentials leak."""
from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cascade.sites.discovery import DiscoveryFailed, discover
from cascade.sites.model import Capacity

PASSWORD = "pa55-w0rd-xyz"


class FakeCloud:
    """One port serving a Keystone login and a compute service, with a chosen catalog."""

    def __init__(self) -> None:
        self.admin = True
        self.services = {"compute": "/compute/v2.1", "image": "/image", "block-storage": "/volume/v3/p1",
                         "network": "/network"}
        app = web.Application()
        app.router.add_post("/identity/v3/auth/tokens", self._login)
        app.router.add_get("/compute/v2.1", self._version)
        app.router.add_get("/compute/v2.1/os-hypervisors/statistics", self._statistics)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def config(self, **auth_changes) -> dict:
        auth = {"auth_url": self.url("/identity"), "username": "ops", "password": PASSWORD,
                "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"}
        return {"auth": auth | auth_changes, "auth_type": "password", "region_name": "RegionTwo",
                "interface": "public", "verify": True}

    async def _login(self, request):
        body = await request.json()
        if body["auth"]["identity"]["password"]["user"]["password"] != PASSWORD:
            return web.json_response({"error": {"code": 401, "message": "Unauthorized", "title": "Unauthorized"}},
                                     status=401)
        catalog = [{"type": kind, "id": uuid.uuid4().hex, "name": kind,
                    "endpoints": [{"id": uuid.uuid4().hex, "interface": "public", "region": region,
                                   "region_id": region, "url": self.url(path)}
                                  for region in ("RegionOne", "RegionTwo")]}
                   for kind, path in self.services.items()]
        expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        token = {"token": {"methods": ["password"], "expires_at": expires, "issued_at": expires,
                           "user": {"id": "u1", "name": "ops", "domain": {"id": "default", "name": "Default"}},
                           "project": {"id": "p1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
                           "roles": [{"id": "r1", "name": "admin" if self.admin else "member"}],
                           "catalog": catalog, "audit_ids": ["a"]}}
        return web.json_response(token, status=201, headers={"X-Subject-Token": uuid.uuid4().hex})

    async def _version(self, request):
        return web.json_response({"version": {"id": "v2.1", "status": "CURRENT", "version": "2.88",
                                              "min_version": "2.1", "links": []}})

    async def _statistics(self, request):
        if not self.admin:
            return web.json_response({"forbidden": {"code": 403, "message": "Policy doesn't allow it."}},
                                     status=403)
        return web.json_response({"hypervisor_statistics": {"vcpus": 8, "vcpus_used": 2, "memory_mb": 16384,
                                                            "memory_mb_used": 1024}})


@pytest.fixture
async def cloud():
    fake = FakeCloud()
    await fake.server.start_server()
    yield fake
    await fake.server.close()


async def test_discovery_reads_catalog_versions_and_capacity(cloud):
    found = await discover(cloud.config())
    assert found.region_name == "RegionTwo"
    assert found.auth_url == cloud.url("/identity/v3")
    assert found.endpoints == {"compute": cloud.url("/compute/v2.1"), "image": cloud.url("/image"),
                               "volumev3": cloud.url("/volume/v3/p1"), "network": cloud.url("/network")}
    assert (found.compute_min_version, found.compute_max_version) == ("2.1", "2.88")
    assert found.capacity == Capacity(vcpus=8, vcpus_used=2, memory_mb=16384, memory_mb_used=1024)


async def test_without_admin_rights_capacity_is_left_for_later(cloud):
    cloud.admin = False
    found = await discover(cloud.config())
    assert found.capacity is None and found.compute_max_version == "2.88"


async def test_optional_services_may_be_absent(cloud):
    del cloud.services["network"], cloud.services["block-storage"]
    found = await discover(cloud.config())
    assert set(found.endpoints) == {"compute", "image"}


async def test_a_cloud_without_compute_is_refused(cloud):
    del cloud.services["compute"]
    with pytest.raises(DiscoveryFailed, match="no public compute endpoint in region RegionTwo"):
        await discover(cloud.config())


async def test_wrong_credentials_fail_without_leaking_them(cloud, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DiscoveryFailed) as caught:
        await discover(cloud.config(password="not-the-" + PASSWORD))
    assert "refused" in caught.value.message
    assert PASSWORD not in caught.value.message and PASSWORD not in caplog.text


async def test_settings_without_auth_url_are_refused():
    with pytest.raises(DiscoveryFailed, match="auth_url"):
        await discover({"auth": {"username": "ops", "password": PASSWORD}})
