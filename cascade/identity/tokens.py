"""Validation of tenants' tokens at the shared Keystone.

Every request to a front carries an `X-Auth-Token`; `TokenValidator` asks
Keystone about it (`GET /v3/auth/tokens` with the cascade's service token),
turns the answer into an `Identity`, and keeps it, as keystonemiddleware
does, until the token expires or `cache_seconds` pass, whichever is first.
Refused tokens are remembered for a few seconds; concurrent validations of one
token share a single call to Keystone. Nothing is cached per project, so
projects created while the cascade runs work at once.
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from typing import Callable

import aiohttp
from keystoneauth1 import access as ksa_access

from cascade.context import Identity
from cascade.errors import NotAuthenticated
from cascade.identity.service_auth import IdentityUnavailable, ServiceAuth, v3_url

LOG = logging.getLogger(__name__)

_REFUSED = None  # the cache's mark for a token Keystone refused


class TokenValidator:
    def __init__(self, service_auth: ServiceAuth, http: aiohttp.ClientSession, *, auth_url: str,
                 cache_seconds: float, negative_seconds: float = 5.0, max_entries: int = 10_000,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self._service_auth = service_auth
        self._http = http
        self._url = v3_url(auth_url) + "/auth/tokens"
        self._cache_seconds = cache_seconds
        self._negative_seconds = negative_seconds
        self._max_entries = max_entries
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        # token -> (trusted until, Identity or _REFUSED); least recently used first
        self._cache: collections.OrderedDict[str, tuple[float, Identity | None]] = collections.OrderedDict()
        self._inflight: dict[str, asyncio.Future[Identity | None]] = {}

    async def validate(self, token: str) -> Identity:
        """The identity behind `token`; raises `NotAuthenticated` when Keystone
        refuses it and `IdentityUnavailable` when Keystone cannot be asked."""
        if not token:
            raise NotAuthenticated()
        found, identity = self._cached(token)
        if not found:
            identity = await self._ask_shared(token)
        if identity is _REFUSED:
            raise NotAuthenticated()
        return identity

    def forget(self, token: str) -> None:
        """Drop what is known of `token` (e.g. after the tenant revoked it)."""
        self._cache.pop(token, None)

    def _cached(self, token: str) -> tuple[bool, Identity | None]:
        entry = self._cache.get(token)
        if entry is None:
            return False, None
        until, identity = entry
        if self._clock() >= until:
            del self._cache[token]
            return False, None
        self._cache.move_to_end(token)
        return True, identity

    def _remember(self, token: str, identity: Identity | None) -> None:
        now = self._clock()
        if identity is _REFUSED:
            until = now + self._negative_seconds
        else:
            until = min(identity.expires_at.timestamp(), now + self._cache_seconds)
        self._cache[token] = (until, identity)
        self._cache.move_to_end(token)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def _ask_shared(self, token: str) -> Identity | None:
        future = self._inflight.get(token)
        if future is None:
            future = asyncio.ensure_future(self._ask(token))
            self._inflight[token] = future
            future.add_done_callback(lambda f: self._settled(token, f))
        return await asyncio.shield(future)

    def _settled(self, token: str, future: asyncio.Future) -> None:
        self._inflight.pop(token, None)
        if not future.cancelled():
            future.exception()  # retrieved here so that an answer nobody awaits any more is not reported

    async def _ask(self, token: str) -> Identity | None:
        service_token = await self._service_auth.token()
        status, body = await self._get(service_token, token)
        if status == 401:
            # our own token was refused (expired early, revoked): renew it once
            service_token = (await self._service_auth.renew(service_token)).auth_token
            status, body = await self._get(service_token, token)
        if status in (401, 404):
            identity = _REFUSED
        elif status == 200 and isinstance(body, dict) and "token" in body:
            try:
                identity = _identity(token, body)
            except (KeyError, TypeError, ValueError):
                LOG.warning("Keystone's token validation answer could not be read")
                raise IdentityUnavailable() from None
            if identity.expires_at.timestamp() <= self._clock():
                identity = _REFUSED
        else:
            LOG.warning("Keystone answered %s to a token validation", status)
            raise IdentityUnavailable()
        self._remember(token, identity)
        return identity

    async def _get(self, service_token: str, token: str) -> tuple[int, object]:
        headers = {"X-Auth-Token": service_token, "X-Subject-Token": token,
                   "Accept": "application/json", "User-Agent": "cascade"}
        try:
            async with self._http.get(self._url, headers=headers, timeout=self._timeout) as resp:
                if resp.status != 200:
                    return resp.status, None
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            LOG.warning("token validation at %s failed: %s", self._url, type(exc).__name__)
            raise IdentityUnavailable() from None


def _identity(token: str, body: dict) -> Identity:
    info = ksa_access.create(body=body, auth_token=token)
    if info.project_scoped:
        domain_id = info.project_domain_id
    elif info.domain_scoped:
        domain_id = info.domain_id
    else:
        domain_id = info.user_domain_id
    expires = info.expires
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return Identity(token=token, user_id=info.user_id, user_name=info.username,
                    project_id=info.project_id, project_name=info.project_name, domain_id=domain_id,
                    roles=frozenset(info.role_names or ()), expires_at=expires)
