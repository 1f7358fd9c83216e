"""The request id and identity middlewares, in an application ordered as cascade.app orders them."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cascade.context import Identity
from cascade.errors import CascadeError, NotAuthenticated
from cascade.identity.middleware import identity_middleware, request_id_middleware

REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


class StubValidator:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def validate(self, token: str) -> Identity:
        self.asked.append(token)
        if token != "good":
            raise NotAuthenticated()
        return Identity(token=token, user_id="u1", user_name="alice", project_id="p1", project_name="demo",
                        domain_id="default", roles=frozenset({"member"}),
                        expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))


@web.middleware
async def errors_as_401(request, handler):
    """Stands in for api.faults: renders the error the identity middleware raises."""
    try:
        return await handler(request)
    except CascadeError as exc:
        return web.json_response({"error": exc.message}, status=401)


@pytest.fixture
async def app_client():
    validator = StubValidator()
    seen: dict = {}

    async def whoami(request):
        seen["context"] = request["context"]
        return web.json_response({"user": request["context"].user_id, "request_id": request["request_id"]})

    async def versions(request):
        seen["context"] = request.get("context")
        return web.json_response({"versions": []})

    app = web.Application(middlewares=[request_id_middleware, errors_as_401, identity_middleware(validator)])
    app.router.add_get("/compute/v2.1/servers", whoami)
    app.router.add_get("/compute/v2.1", versions)
    app.router.add_get("/compute/", versions)
    app.router.add_get("/", versions)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    yield client, validator, seen
    await client.close()


async def test_a_valid_token_puts_a_context_on_the_request(app_client):
    client, validator, seen = app_client
    resp = await client.get("/compute/v2.1/servers", headers={"X-Auth-Token": "good"})
    body = await resp.json()
    assert resp.status == 200 and body["user"] == "u1"
    context = seen["context"]
    assert context.identity.project_id == "p1" and context.token == "good"
    assert REQUEST_ID.match(context.request_id)
    assert context.request_id == body["request_id"]
    assert resp.headers["x-openstack-request-id"] == context.request_id
    assert resp.headers["x-compute-request-id"] == context.request_id


async def test_each_request_gets_its_own_id(app_client):
    client, _, _ = app_client
    ids = set()
    for _ in range(3):
        resp = await client.get("/compute/v2.1/servers", headers={"X-Auth-Token": "good"})
        ids.add(resp.headers["x-openstack-request-id"])
    assert len(ids) == 3


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": ""}, {"X-Auth-Token": "bad"}])
async def test_missing_or_refused_tokens_raise_not_authenticated(app_client, headers):
    client, validator, seen = app_client
    resp = await client.get("/compute/v2.1/servers", headers=headers)
    assert resp.status == 401
    assert "context" not in seen
    # the error body rendered outside the identity middleware still carries the request id
    assert REQUEST_ID.match(resp.headers["x-openstack-request-id"])
    assert validator.asked == ([headers["X-Auth-Token"]] if headers.get("X-Auth-Token") else [])


@pytest.mark.parametrize("path", ["/", "/compute/", "/compute/v2.1"])
async def test_version_documents_need_no_token(app_client, path):
    client, validator, seen = app_client
    resp = await client.get(path)
    assert resp.status == 200
    assert seen["context"] is None and validator.asked == []
    assert REQUEST_ID.match(resp.headers["x-compute-request-id"])


async def test_aiohttp_errors_carry_the_request_id_too(app_client):
    client, _, _ = app_client
    resp = await client.get("/compute/v2.1/servers/x/y", headers={"X-Auth-Token": "good"})
    assert resp.status == 404
    assert REQUEST_ID.match(resp.headers["x-openstack-request-id"])


async def test_a_well_formed_global_request_id_is_kept(app_client):
    client, _, _ = app_client
    seen_ids = {}

    async def probe(request):
        seen_ids["global"] = request["global_request_id"]
        seen_ids["local"] = request["request_id"]
        return web.Response()

    # the fixture's routes are frozen; check the rule through a second small app instead
    app = web.Application(middlewares=[request_id_middleware])
    app.router.add_get("/", probe)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as other:
        incoming = "req-12345678-1234-4234-8234-123456789abc"
        await other.get("/", headers={"X-OpenStack-Request-ID": incoming})
        assert seen_ids["global"] == incoming and seen_ids["local"] != incoming
        await other.get("/", headers={"X-OpenStack-Request-ID": "<script>"})
        assert seen_ids["global"] == seen_ids["local"]
