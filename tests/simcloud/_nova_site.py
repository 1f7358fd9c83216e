"""Shared by the simcloud site tests: a site on aiohttp's test server, a
clock the tests move by hand, fixed tokens, and a small JSON caller."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from simcloud.nova.preload import Tenant
from simcloud.site import Site, SiteConfig
from simcloud.tokens import TokenInfo

_EXPIRES = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)


def _token(user: str, project: str | None, *roles: str) -> TokenInfo:
    return TokenInfo(user_id=f"u-{user}", user_name=user, project_id=project,
                     project_name=project, domain_id="default",
                     roles=roles or ("member", "reader"), expires_at=_EXPIRES)


TOKENS = {
    "alice": _token("alice", "p-one"),
    "bob": _token("bob", "p-one"),
    "carol": _token("carol", "p-two"),
    "admin": _token("admin", "p-admin", "admin", "member", "reader"),
}


class FakeClock:
    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class SiteHarness:
    def __init__(self, client: TestClient, site: Site, clock: FakeClock) -> None:
        self.client = client
        self.site = site
        self.clock = clock

    async def call(self, method: str, path: str, *, as_: str | None = "alice",
                   version: str | None = None, json: Any = None, params: Any = None,
                   headers: dict | None = None) -> Reply:
        sent = dict(headers or {})
        if as_ is not None:
            sent["X-Auth-Token"] = as_
        if version is not None:
            sent["OpenStack-API-Version"] = f"compute {version}"
        # without a body, no Content-Type (aiohttp would send application/octet-stream,
        # which Nova refuses with 415)
        skip = () if json is not None or "Content-Type" in sent else ("Content-Type",)
        async with self.client.request(method, path, json=json, params=params,
                                       headers=sent, skip_auto_headers=skip) as resp:
            text = await resp.text()
            try:
                body = await resp.json(content_type=None) if text else None
            except ValueError:
                body = text
            return Reply(resp.status, body, resp.headers)

    async def compute(self, method: str, path: str, **kw: Any) -> Reply:
        return await self.call(method, "/compute/v2.1" + path, **kw)

    async def boot(self, name: str = "vm", *, as_: str = "alice", version: str = "2.96",
                   flavor: str = "m1.tiny", **extra: Any) -> str:
        body = {"name": name, "imageRef": self.image_id("cirros"),
                "flavorRef": self.flavor_id(flavor), "networks": "auto", **extra}
        reply = await self.compute("POST", "/servers", as_=as_, version=version,
                                   json={"server": body})
        assert reply.status == 202, reply.body
        return reply.body["server"]["id"]

    def image_id(self, prefix: str) -> str:
        return next(i.id for i in self.site.images.images.values() if i.name.startswith(prefix))

    def flavor_id(self, name: str) -> str:
        return self.site.store.flavor_by_name(name).id

    def settle(self) -> None:
        """Let every timed transition in flight finish."""
        self.clock.advance(self.site.config.build_seconds * 3)

    async def close(self) -> None:
        await self.client.close()


KNOWN_PROJECTS = {"p-one", "p-two", "p-admin"}
# who owns a site's preloaded servers, round-robin: alice's project, then carol's
TENANTS = (Tenant("p-one", "u-alice", "p-one", "alice"),
           Tenant("p-two", "u-carol", "p-two", "carol"))


async def active_server(site: SiteHarness, name: str = "vm", **kw: Any) -> str:
    """A server booted and settled (ACTIVE), by id."""
    server_id = await site.boot(name, **kw)
    site.settle()
    return server_id


async def server_action(site: SiteHarness, server_id: str, body: Any, *, as_: str = "alice",
                        version: str = "2.96") -> Reply:
    return await site.compute("POST", f"/servers/{server_id}/action", json=body, as_=as_,
                              version=version)


async def start_site(**config: Any) -> SiteHarness:
    """A site whose Keystone knows the projects of `TOKENS`."""
    clock = FakeClock()
    cfg = SiteConfig(name=config.pop("name", "site1"), region="site1", **config)
    site = Site(cfg, TOKENS.get, clock=clock, project_exists=KNOWN_PROJECTS.__contains__,
                tenants=TENANTS)
    client = TestClient(TestServer(site.app(), host="127.0.0.1"))
    await client.start_server()
    return SiteHarness(client, site, clock)
