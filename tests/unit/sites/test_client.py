"""SiteClient against small aiohttp servers: headers, URLs, microversion range, errors, retries, breaker."""
from __future__ import annotations

import asyncio
import dataclasses
import socket
import types

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cascade.config import SitesSection
from cascade.errors import NotAcceptable, SiteError, SiteUnavailable, SiteUnreachable
from cascade.sites.breaker import Breaker
from cascade.sites.client import SiteClient, error_message, microversion_headers
from cascade.sites.health import LoopLag
from cascade.sites.model import Site


class FakeSite:
    """Records every request; answers by path."""

    def __init__(self) -> None:
        self.seen: list[web.Request] = []
        self.bodies: list[bytes] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server: TestServer | None = None

    async def start(self, port: int = 0) -> "FakeSite":
        self.server = TestServer(self.app, host="127.0.0.1", port=port)
        await self.server.start_server()
        return self

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request)
        self.bodies.append(await request.read())
        path = request.path
        if path.endswith("/slow"):
            await asyncio.sleep(3)
        if path.endswith("/boom"):
            return web.json_response({"computeFault": {"code": 500, "message": "boom"}}, status=500)
        if path.endswith("/unimplemented"):
            return web.json_response({"notImplemented": {"code": 501, "message": "no"}}, status=501)
        if path.endswith("/missing"):
            return web.json_response({"itemNotFound": {"code": 404, "message": "Instance b-123 could not be "
                                                       "found."}}, status=404)
        if path.endswith("/text"):
            return web.Response(text="plain words")
        if path.endswith("/guarded") and request.headers.get("X-Auth-Token") != "svc-2":
            return web.json_response({"error": {"code": 401, "message": "unauthorized"}}, status=401)
        return web.json_response({"ok": True, "path": path})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_site(base: str, **changes) -> Site:
    site = Site(id="s1", name="site-one", availability_zone="az-one", region_name="RegionOne",
                auth_url="http://keystone/v3",
                endpoints={"compute": f"{base}/compute/v2.1", "image": f"{base}/image",
                           "volumev3": f"{base}/volume/v3/%(project_id)s",
                           "network": f"{base}/network/$(tenant_id)s"},
                compute_min_version="2.1", compute_max_version="2.60")
    return dataclasses.replace(site, **changes)


SETTINGS = SitesSection(connect_timeout=1.0, request_timeout=5.0, failure_threshold=3, open_seconds=10.0)


@pytest.fixture
async def fake():
    site = await FakeSite().start()
    yield site
    await site.server.close()


@pytest.fixture
async def client(fake):
    site_client = SiteClient(make_site(fake.url), SETTINGS, retry_delay=0.01)
    yield site_client
    await site_client.close()


async def test_headers_carry_token_request_id_and_both_compute_microversion_headers(fake, client):
    resp = await client.request("compute", "GET", "/servers/detail", token="tok", microversion="2.60",
                                request_id="req-1")
    assert resp.status == 200 and resp.body == {"ok": True, "path": "/compute/v2.1/servers/detail"}
    headers = fake.seen[-1].headers
    assert headers["X-Auth-Token"] == "tok"
    assert headers["X-OpenStack-Request-ID"] == "req-1"
    assert headers["X-OpenStack-Nova-API-Version"] == "2.60"
    assert headers["OpenStack-API-Version"] == "compute 2.60"
    assert headers["User-Agent"] == "cascade"


def test_microversion_headers_name_each_service():
    assert microversion_headers("volumev3", "3.50") == {"OpenStack-API-Version": "volume 3.50"}
    assert microversion_headers("block-storage", "3.0") == {"OpenStack-API-Version": "volume 3.0"}
    assert microversion_headers("compute", "2.1") == {"OpenStack-API-Version": "compute 2.1",
                                                      "X-OpenStack-Nova-API-Version": "2.1"}


async def test_other_services_get_only_the_generic_header(fake, client):
    await client.request("volumev3", "GET", "volumes", token="tok", microversion="3.50", project_id="p1")
    headers = fake.seen[-1].headers
    assert headers["OpenStack-API-Version"] == "volume 3.50"
    assert "X-OpenStack-Nova-API-Version" not in headers


async def test_project_templates_are_filled_and_queries_merged(fake, client):
    await client.request("volumev3", "GET", "/volumes/detail?limit=2", token="t", params={"marker": "m1"},
                         project_id="p1")
    assert fake.seen[-1].path == "/volume/v3/p1/volumes/detail"
    assert dict(fake.seen[-1].query) == {"limit": "2", "marker": "m1"}
    await client.request("network", "GET", "v2.0/networks", token="t", project_id="p2")
    assert fake.seen[-1].path == "/network/p2/v2.0/networks"
    with pytest.raises(ValueError):
        await client.request("network", "GET", "v2.0/networks", token="t")


async def test_a_call_without_a_body_names_no_content_type(fake, client):
    # aiohttp would otherwise say application/octet-stream, which Nova answers with 415
    await client.request("compute", "PUT", "/servers/x/tags/t", token="t", microversion="2.26")
    assert "Content-Type" not in fake.seen[-1].headers
    await client.request("compute", "PUT", "/servers/x/tags", token="t", json={"tags": []})
    assert fake.seen[-1].headers["Content-Type"] == "application/json"


async def test_json_bodies_go_out_and_non_json_answers_keep_their_text(fake, client):
    await client.request("compute", "POST", "/servers", token="t", json={"server": {"name": "vm"}})
    assert fake.bodies[-1] == b'{"server": {"name": "vm"}}'
    assert fake.seen[-1].headers["Content-Type"] == "application/json"
    resp = await client.request("image", "GET", "/text", token="t")
    assert resp.body is None and resp.text == "plain words"


@pytest.mark.parametrize("version", ["2.61", "2.96", "2.0"])
async def test_microversions_outside_the_site_range_are_refused_before_any_call(fake, client, version):
    with pytest.raises(NotAcceptable) as caught:
        await client.request("compute", "GET", "/servers", token="t", microversion=version)
    assert "az-one" in caught.value.message and "2.60" in caught.value.message
    assert fake.seen == []


async def test_latest_means_the_site_maximum(fake, client):
    await client.request("compute", "GET", "/servers", token="t", microversion="latest")
    assert fake.seen[-1].headers["X-OpenStack-Nova-API-Version"] == "2.60"


async def test_error_statuses_are_returned_and_raise_for_error_reads_the_body(fake, client):
    resp = await client.request("compute", "GET", "/servers/missing", token="t")
    assert resp.status == 404 and not resp.ok
    with pytest.raises(SiteError) as caught:
        client.raise_for_error(resp, scrub=lambda text: text.replace("b-123", "top-9"))
    assert caught.value.message == "Instance top-9 could not be found."
    assert (caught.value.status, caught.value.site) == (404, "site-one")
    client.raise_for_error(await client.request("compute", "GET", "/servers", token="t"))


def test_error_messages_of_each_service_dialect():
    assert error_message(409, {"NeutronError": {"type": "InUse", "message": "Port in use", "detail": ""}}, "") \
        == "Port in use"
    assert error_message(401, {"error": {"code": 401, "message": "Nope", "title": "Unauthorized"}}, "") == "Nope"
    assert error_message(400, {"badRequest": {"code": 400, "message": "Bad size"}}, "") == "Bad size"
    glance = ("<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n"
              "  No image found with ID x<br /><br />\n\n\n\n </body>\n</html>")
    assert error_message(404, None, glance) == "No image found with ID x"
    assert error_message(503, None, "") == "The site answered 503 Service Unavailable."


async def test_refused_post_is_not_retried_and_names_only_the_zone():
    port = free_port()
    client = SiteClient(make_site(f"http://127.0.0.1:{port}"), SETTINGS, retry_delay=0.3)
    late = FakeSite()
    asyncio.get_running_loop().call_later(0.1, lambda: asyncio.ensure_future(late.start(port)))
    try:
        with pytest.raises(SiteUnreachable) as caught:   # nothing was sent: a create may go elsewhere at once
            await client.request("compute", "POST", "/servers", token="t", json={})
        await asyncio.sleep(0.4)
        assert late.seen == []
    finally:
        await client.close()
        if late.server:
            await late.server.close()
    message = caught.value.message
    assert "az-one" in message and "127.0.0.1" not in message and str(port) not in message
    assert caught.value.site == "site-one"


async def test_refused_get_is_retried_once():
    port = free_port()
    client = SiteClient(make_site(f"http://127.0.0.1:{port}"), SETTINGS, retry_delay=0.3)
    late = FakeSite()
    asyncio.get_running_loop().call_later(0.1, lambda: asyncio.ensure_future(late.start(port)))
    try:
        resp = await client.request("compute", "GET", "/servers", token="t")
        assert resp.status == 200 and len(late.seen) == 1
    finally:
        await client.close()
        if late.server:
            await late.server.close()


def connect_times_out_first(client: SiteClient) -> None:
    """The client's first attempt times out connecting (as when this process's loop stalls); later ones go."""
    real = client._attempt
    attempts = []

    async def attempt(*args):
        attempts.append(args)
        if len(attempts) == 1:
            raise aiohttp.ConnectionTimeoutError("connect timed out")
        return await real(*args)

    client._attempt = attempt


async def test_a_post_whose_connect_timed_out_is_tried_once_more(fake):
    client = SiteClient(make_site(fake.url), SETTINGS, retry_delay=0.01)
    connect_times_out_first(client)
    try:
        resp = await client.request("compute", "POST", "/servers", token="t", json={})
        assert resp.status < 500 and len(fake.seen) == 1
    finally:
        await client.close()


async def test_a_site_found_down_while_a_call_waits_to_try_again_was_not_reached(fake):
    client = SiteClient(make_site(fake.url), SETTINGS, retry_delay=5)
    connect_times_out_first(client)
    try:
        call = asyncio.ensure_future(client.request("compute", "POST", "/servers", token="t", json={}))
        await asyncio.sleep(0.1)
        client.trip()                     # a probe found the site down
        with pytest.raises(SiteUnreachable):
            await call
        assert fake.seen == []
    finally:
        await client.close()


async def test_a_hanging_site_times_out_without_a_retry(fake, client):
    with pytest.raises(SiteUnavailable, match="did not answer within 0.2 seconds"):
        await client.request("compute", "GET", "/slow", token="t", timeout=0.2)
    await asyncio.sleep(0.05)
    assert len(fake.seen) == 1


async def test_5xx_answers_open_the_breaker(fake):
    clock = types.SimpleNamespace(now=0.0)
    breaker = Breaker(3, 10, clock=lambda: clock.now)
    client = SiteClient(make_site(fake.url), SETTINGS, breaker=breaker)
    try:
        for _ in range(3):
            assert (await client.request("compute", "GET", "/boom", token="t")).status == 500
        with pytest.raises(SiteUnavailable, match="az-one"):
            await client.request("compute", "GET", "/servers", token="t")
        assert len(fake.seen) == 3
        clock.now = 10                         # half-open: the trial succeeds and closes
        assert (await client.request("compute", "GET", "/servers", token="t")).status == 200
        assert breaker.state == "closed"
    finally:
        await client.close()


async def test_501_and_4xx_are_not_failures_of_the_site(fake, client):
    for _ in range(4):
        await client.request("compute", "GET", "/unimplemented", token="t")
        await client.request("compute", "GET", "/missing", token="t")
    assert client.breaker.state == "closed"


async def test_connection_failures_open_the_breaker():
    client = SiteClient(make_site(f"http://127.0.0.1:{free_port()}"), SETTINGS, retry_delay=0.01)
    try:
        for _ in range(3):
            with pytest.raises(SiteUnreachable, match="could not be reached"):
                await client.request("compute", "GET", "/servers", token="t")
        with pytest.raises(SiteUnreachable, match="recent failures"):
            await client.request("compute", "GET", "/servers", token="t")
    finally:
        await client.close()


async def test_a_timeout_may_have_reached_the_site(fake, client):
    with pytest.raises(SiteUnavailable) as caught:
        await client.request("compute", "POST", "/slow", token="t", json={}, timeout=0.2)
    assert not isinstance(caught.value, SiteUnreachable)


@pytest.mark.parametrize("late, opens", [(0.0, True), (1.0, False)])
async def test_timeouts_while_this_process_ran_late_are_not_held_against_the_site(fake, late, opens):
    lag = LoopLag()
    lag.note(late)
    client = SiteClient(make_site(fake.url), SETTINGS, loop_late=lag.explains)
    try:
        for _ in range(SETTINGS.failure_threshold):
            with pytest.raises(SiteUnavailable, match="did not answer within"):
                await client.request("compute", "GET", "/slow", token="t", timeout=0.2)
        assert (client.breaker.state == "open") is opens
    finally:
        await client.close()


async def test_tripping_ends_the_calls_waiting_on_the_site_at_once(fake, client):
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = [asyncio.create_task(client.request("compute", "GET", "/slow", token="t", timeout=10))
               for _ in range(3)]
    await asyncio.sleep(0.2)
    client.trip()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert loop.time() - started < 1.0, "no call waited for its own deadline"
    assert all(isinstance(o, SiteUnavailable) and "stopped answering" in o.message for o in outcomes)
    assert not any(isinstance(o, SiteUnreachable) for o in outcomes), "they may have reached the site"
    assert client.breaker.state == "open"
    with pytest.raises(SiteUnreachable):
        await client.request("compute", "GET", "/servers", token="t")
    assert client._in_flight == set()


class StubServiceAuth:
    def __init__(self) -> None:
        self.current = types.SimpleNamespace(auth_token="svc-1", project_id="p-svc")
        self.renewals = 0

    async def access(self):
        return self.current

    async def renew(self, stale=None):
        self.renewals += 1
        self.current = types.SimpleNamespace(auth_token="svc-2", project_id="p-svc")
        return self.current


async def test_service_requests_use_the_service_token_and_renew_it_once_on_401(fake):
    auth = StubServiceAuth()
    client = SiteClient(make_site(fake.url), SETTINGS, service_auth=auth)
    try:
        resp = await client.service_request("volumev3", "GET", "/guarded")
        assert resp.status == 200 and auth.renewals == 1
        assert [r.headers["X-Auth-Token"] for r in fake.seen] == ["svc-1", "svc-2"]
        assert fake.seen[-1].path == "/volume/v3/p-svc/guarded"
    finally:
        await client.close()


async def test_replacing_the_site_value_keeps_the_pool(fake, client):
    await client.request("compute", "GET", "/servers", token="t")
    pool = client._http
    client.site = make_site(fake.url, endpoints={"compute": f"{fake.url}/other/v2.1"}, compute_max_version="2.90")
    await client.request("compute", "GET", "/servers", token="t", microversion="2.90")
    assert fake.seen[-1].path == "/other/v2.1/servers"
    assert client._http is pool


async def test_a_service_the_site_lacks_is_unavailable(client):
    with pytest.raises(SiteUnavailable, match="az-one has no placement service"):
        await client.request("placement", "GET", "/resource_providers", token="t")


async def test_sites_with_their_own_credentials_use_their_own_account(fake):
    shared = StubServiceAuth()
    own = make_site(fake.url, auth={"auth_url": "http://other-keystone:5000", "username": "ops",
                                    "password": "pw", "project_name": "admin", "user_domain_name": "Default",
                                    "project_domain_name": "Default"})
    client = SiteClient(own, SETTINGS, service_auth=shared)
    assert client.service_auth is not shared
    assert client.service_auth.auth_url == "http://other-keystone:5000/v3"
    assert "site-one" in client.service_auth.account
    client.site = make_site(fake.url)
    assert client.service_auth is shared
