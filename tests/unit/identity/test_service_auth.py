"""ServiceAuth: the cascade's own token, cached, renewed before expiry, shared by concurrent callers."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from cascade.config import KeystoneSection
from cascade.identity.service_auth import (EndpointNotFound, IdentityUnavailable, ServiceAuth, plugin_from_cloud,
                                           v3_url)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_v3_url_adds_the_version_only_when_missing():
    assert v3_url("http://k:5000") == "http://k:5000/v3"
    assert v3_url("http://k:5000/v3/") == "http://k:5000/v3"
    assert v3_url("http://k/identity/v3") == "http://k/identity/v3"


async def test_token_is_fetched_once_and_cached(keystone, service_settings):
    auth = ServiceAuth(service_settings)
    first = await auth.token()
    assert first in keystone.tokens
    assert await auth.token() == first
    access = await auth.access()
    assert access.project_name == "admin" and "admin" in access.role_names
    assert keystone.logins == 1


async def test_concurrent_callers_share_one_login(keystone, service_settings):
    auth = ServiceAuth(service_settings)
    tokens = await asyncio.gather(*(auth.token() for _ in range(10)))
    assert len(set(tokens)) == 1
    assert keystone.logins == 1


async def test_token_is_renewed_before_it_expires(keystone, service_settings):
    offset = 0.0
    auth = ServiceAuth(service_settings, renew_before=120, clock=lambda: time.time() + offset)
    first = await auth.token()
    offset = 3600 - 200            # 200 s left: still good
    assert await auth.token() == first
    offset = 3600 - 60             # within the renewal window
    second = await auth.token()
    assert second != first
    assert keystone.logins == 2


async def test_renew_after_a_refusal_is_shared(keystone, service_settings):
    auth = ServiceAuth(service_settings)
    stale = await auth.token()
    fresh = await asyncio.gather(*(auth.renew(stale) for _ in range(5)))
    assert len({access.auth_token for access in fresh}) == 1
    assert fresh[0].auth_token != stale
    # a caller still holding the old token gets the new one without another login
    assert (await auth.renew(stale)).auth_token == fresh[0].auth_token
    assert keystone.logins == 2


async def test_refused_account_is_identity_unavailable_without_the_password(keystone, service_settings):
    settings = KeystoneSection(auth_url=keystone.auth_url, username="cascade", password="wrong-pw-123",
                               project_name="admin")
    with pytest.raises(IdentityUnavailable) as caught:
        await ServiceAuth(settings).token()
    assert "wrong-pw-123" not in caught.value.message
    assert "refused" in caught.value.message


async def test_unreachable_keystone_is_identity_unavailable():
    settings = KeystoneSection(auth_url=f"http://127.0.0.1:{closed_port()}/v3", username="cascade",
                               password="pw", project_name="admin")
    with pytest.raises(IdentityUnavailable):
        await ServiceAuth(settings, timeout=2).token()


async def test_endpoint_for_reads_the_catalog_and_refreshes_on_a_miss(keystone, service_settings):
    auth = ServiceAuth(service_settings, catalog_refresh_seconds=0)
    assert await auth.endpoint_for("compute", "RegionOne") == "http://nova.example/compute/v2.1"
    assert keystone.logins == 1
    keystone.add_service("image", "http://glance.example/image")
    assert await auth.endpoint_for("image", "RegionOne") == "http://glance.example/image"
    assert keystone.logins == 2
    with pytest.raises(EndpointNotFound):
        await auth.endpoint_for("network", "RegionOne")


async def test_endpoint_misses_do_not_log_in_again_within_the_refresh_period(keystone, service_settings):
    auth = ServiceAuth(service_settings, catalog_refresh_seconds=60)
    await auth.token()
    for _ in range(3):
        with pytest.raises(EndpointNotFound):
            await auth.endpoint_for("network", "RegionOne")
    assert keystone.logins == 1


async def test_from_cloud_logs_in_with_a_clouds_yaml_entry(keystone):
    cloud = {"auth": {"auth_url": keystone.auth_url.removesuffix("/v3"), "username": "alice",
                      "password": "alice-pw", "project_name": "demo", "user_domain_name": "Default",
                      "project_domain_name": "Default"},
             "auth_type": "password", "region_name": "RegionOne", "interface": "public"}
    access = await ServiceAuth.from_cloud(cloud).access()
    assert access.username == "alice" and access.project_id == "p-demo"


def test_from_cloud_names_missing_options_but_never_values():
    with pytest.raises(IdentityUnavailable) as caught:
        plugin_from_cloud({"auth": {"username": "bob", "user_domain_name": "Default", "password": "hunter2-secret"}})
    assert "auth_url" in caught.value.message
    assert "hunter2-secret" not in caught.value.message
    with pytest.raises(IdentityUnavailable) as caught:
        plugin_from_cloud({"auth": {"auth_url": "http://k/v3", "username": "bob", "password": "hunter2-secret"}})
    assert "user_domain" in caught.value.message and "hunter2-secret" not in caught.value.message
    with pytest.raises(IdentityUnavailable, match="unsupported auth_type"):
        plugin_from_cloud({"auth_type": "no-such-plugin", "auth": {"auth_url": "http://k/v3"}})
