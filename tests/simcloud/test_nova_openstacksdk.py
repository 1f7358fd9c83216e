"""A real client against a simulated site: openstacksdk (through
keystoneauth1, with a fixed token) drives Nova and Glance over a socket."""
from __future__ import annotations

import asyncio

import openstack
import pytest
from aiohttp import web
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from _nova_site import TOKENS
from simcloud.site import Site, SiteConfig


@pytest.fixture
async def endpoint():
    site = Site(SiteConfig("site1", "site1", build_seconds=0.05), TOKENS.get)
    runner = web.AppRunner(site.app())
    await runner.setup()
    listener = web.TCPSite(runner, "127.0.0.1", 0)
    await listener.start()
    port = listener._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _connect(base: str, token: str) -> openstack.connection.Connection:
    session = ks_session.Session(auth=token_endpoint.Token(base, token))
    return openstack.connection.Connection(
        session=session, compute_endpoint_override=f"{base}/compute/v2.1",
        image_endpoint_override=f"{base}/image", compute_api_version="2",
        image_api_version="2")


def _scenario(base: str) -> None:
    conn = _connect(base, "alice")
    assert {f.name for f in conn.compute.flavors()} >= {"m1.tiny", "m1.small"}
    image = next(conn.image.images(name="cirros"))
    flavor = conn.compute.find_flavor("m1.tiny")
    server = conn.compute.create_server(name="sdk-vm", image_id=image.id, flavor_id=flavor.id,
                                        networks="auto", metadata={"k": "v"})
    server = conn.compute.wait_for_server(server, wait=10, interval=0.05)
    assert server.status == "ACTIVE" and server.metadata == {"k": "v"}
    assert server.flavor.original_name == "m1.tiny"
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=10, interval=0.05)
    assert [s.name for s in conn.compute.servers(name="^sdk")] == ["sdk-vm"]
    assert list(_connect(base, "carol").compute.servers()) == []
    assert conn.compute.get_limits().absolute.instances_used == 1
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=10, interval=0.05)
    assert list(conn.compute.servers()) == []
    with pytest.raises(openstack.exceptions.ResourceNotFound):
        conn.compute.get_server(server.id)


async def test_openstacksdk_create_wait_stop_list_delete(endpoint):
    await asyncio.to_thread(_scenario, endpoint)
