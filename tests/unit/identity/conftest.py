"""Fixtures of the identity tests: a small Keystone v3: password logins
(`POST /v3/auth/tokens`) and token validation (`GET /v3/auth/tokens`),
counting the calls it gets."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cascade.config import KeystoneSection


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeKeystone:
    def __init__(self) -> None:
        self.users = {"cascade": "s3cret-service-pw", "alice": "alice-pw"}
        self.projects = {"admin": "p-admin", "demo": "p-demo"}
        self.roles = {"cascade": ["admin", "member", "reader"], "alice": ["member", "reader"]}
        self.tokens: dict[str, dict] = {}        # token -> its body
        self.catalog: list[dict] = [service("compute", "http://nova.example/compute/v2.1")]
        self.lifetime = dt.timedelta(hours=1)
        self.logins = 0
        self.validations = 0
        self.validation_delay = 0.0
        self.validation_status: int | None = None   # force an answer, e.g. 500
        self.server: TestServer | None = None

    async def start(self) -> "FakeKeystone":
        app = web.Application()
        app.router.add_post("/v3/auth/tokens", self._login)
        app.router.add_get("/v3/auth/tokens", self._validate)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    @property
    def auth_url(self) -> str:
        return str(self.server.make_url("/v3"))

    def issue(self, user: str, project: str, *, lifetime: dt.timedelta | None = None) -> str:
        """A token for `user` in `project`, as a login would give."""
        now = dt.datetime.now(dt.timezone.utc)
        token = uuid.uuid4().hex
        self.tokens[token] = {"token": {
            "methods": ["password"],
            "user": {"id": f"u-{user}", "name": user, "domain": {"id": "default", "name": "Default"}},
            "project": {"id": self.projects[project], "name": project,
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": f"r-{name}", "name": name} for name in self.roles[user]],
            "issued_at": _iso(now), "expires_at": _iso(now + (lifetime or self.lifetime)),
            "audit_ids": [uuid.uuid4().hex[:22]],
            "catalog": [dict(entry) for entry in self.catalog],
        }}
        return token

    def add_service(self, service_type: str, url: str) -> None:
        """Register an endpoint; tokens issued from now on list it."""
        self.catalog.append(service(service_type, url))

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    async def _login(self, request: web.Request) -> web.Response:
        self.logins += 1
        body = await request.json()
        user = body["auth"]["identity"]["password"]["user"]
        if self.users.get(user["name"]) != user["password"]:
            return web.json_response({"error": {"code": 401, "message": "The request you have made requires "
                                                "authentication.", "title": "Unauthorized"}}, status=401)
        project = body["auth"]["scope"]["project"]["name"]
        token = self.issue(user["name"], project)
        return web.json_response(self.tokens[token], status=201, headers={"X-Subject-Token": token})

    async def _validate(self, request: web.Request) -> web.Response:
        self.validations += 1
        if self.validation_delay:
            await asyncio.sleep(self.validation_delay)
        if self.validation_status:
            return web.json_response({"error": {"code": self.validation_status, "message": "boom"}},
                                     status=self.validation_status)
        caller = self.tokens.get(request.headers.get("X-Auth-Token", ""))
        if caller is None or "admin" not in [r["name"] for r in caller["token"]["roles"]]:
            return web.json_response({"error": {"code": 401, "message": "unauthorized"}}, status=401)
        subject = request.headers.get("X-Subject-Token", "")
        found = self.tokens.get(subject)
        if found is None:
            return web.json_response({"error": {"code": 404, "message": f"Could not find token: {subject}"}},
                                     status=404)
        return web.json_response(found, headers={"X-Subject-Token": subject})


def service(service_type: str, url: str, region: str = "RegionOne") -> dict:
    return {"type": service_type, "id": uuid.uuid4().hex, "name": service_type,
            "endpoints": [{"id": uuid.uuid4().hex, "interface": "public", "region": region,
                           "region_id": region, "url": url}]}



@pytest.fixture
async def keystone():
    fake = await FakeKeystone().start()
    yield fake
    await fake.close()


@pytest.fixture
def service_settings(keystone) -> KeystoneSection:
    return KeystoneSection(auth_url=keystone.auth_url, username="cascade", password="s3cret-service-pw",
                           project_name="admin", region_name="RegionOne")
