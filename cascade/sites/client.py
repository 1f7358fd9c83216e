"""One async client per site: the only way the cascade talks to a site.

Shaped like keystoneauth1's Session + Adapter: a connection pool (one
aiohttp session per site), endpoints by service type from the site's catalog,
microversion headers, deadlines, one retry of a call that could not even
connect (refused: only idempotent calls, since a refused create can go to
another site at once; connect timed out: any method, as a stall of this
process's own loop does that), and the site's circuit breaker. Every call
has one deadline (the caller's, else `request_timeout`) that covers its
retry; when a probe finds the site not answering, `trip` ends the calls
waiting on it at once. HTTP error statuses are returned, never raised
(`raise_for_error` turns them into `SiteError` when the caller wants); what
the tenant may see of a failure names the availability zone, never the
site's URL. A failure that certainly sent nothing (refused connection, open
breaker, found down while waiting to try again) is `SiteUnreachable`.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json as jsonlib
import logging
import re
from http import HTTPStatus
from typing import Any, Callable, Mapping

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from cascade import jsoncodec
from cascade.config import SitesSection
from cascade.errors import NotAcceptable, SiteError, SiteUnavailable, SiteUnreachable
from cascade.identity.service_auth import ServiceAuth
from cascade.sites.breaker import Breaker
from cascade.sites.model import Site
from cascade.sites.versions import APIVersion

LOG = logging.getLogger(__name__)

NO_BODY_HEADERS = ("Content-Type",)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_DELAY = 0.2

# service type -> the name it goes by in the `OpenStack-API-Version` header
MICROVERSION_SERVICES = {
    "compute": "compute",
    "volume": "volume", "volumev3": "volume", "block-storage": "volume",
    "image": "image",
    "network": "network",
    "placement": "placement",
    "shared-file-system": "shared-file-system", "sharev2": "shared-file-system",
}

_PROJECT_TEMPLATE = re.compile(r"[%$]\((?:project_id|tenant_id)\)s")
_HTML_TAG = re.compile(r"<[^>]+>")


@dataclasses.dataclass(frozen=True)
class SiteResponse:
    status: int
    headers: Mapping[str, str]
    body: Any          # the parsed JSON, or None
    content: bytes | str   # the answer as received
    charset: str = "utf-8"

    @functools.cached_property
    def text(self) -> str:
        """The answer as text, decoded on first use (a listed page's never is)."""
        if isinstance(self.content, str):
            return self.content
        return self.content.decode(self.charset, errors="replace")

    @property
    def ok(self) -> bool:
        return self.status < 400


def microversion_headers(service: str, version: str) -> dict[str, str]:
    """The headers asking `service` for microversion `version`."""
    name = MICROVERSION_SERVICES.get(service, service)
    headers = {"OpenStack-API-Version": f"{name} {version}"}
    if name == "compute":
        headers["X-OpenStack-Nova-API-Version"] = version
    return headers


def error_message(status: int, body: Any, text: str) -> str:
    """The human message of a service's error answer, whatever its dialect:
    Nova/Cinder `{"itemNotFound": {"message": ..}}`, Keystone `{"error": {..}}`,
    Neutron `{"NeutronError": {..}}`, placement `{"errors": [..]}`, or the
    text/HTML bodies of Glance."""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"]
        for value in body.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
            if isinstance(value, str) and value and len(body) == 1:
                return value
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("detail") or errors[0].get("title") or "")
    plain = " ".join(_HTML_TAG.sub(" ", text).split())
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    # webob's bodies repeat the status line in <title> and <h1>: keep only what follows it
    plain = plain.replace(title, "").strip()
    return plain[:1000] or f"The site answered {title}."


class SiteClient:
    def __init__(self, site: Site, settings: SitesSection, *, service_auth: ServiceAuth | None = None,
                 breaker: Breaker | None = None, retry_delay: float = RETRY_DELAY,
                 loop_late: Callable[[float], bool] | None = None) -> None:
        self._site = site
        self._settings = settings
        self._shared_auth = service_auth
        self._own_auth: ServiceAuth | None = None
        self.breaker = breaker or Breaker(settings.failure_threshold, settings.open_seconds)
        self._retry_delay = retry_delay
        # whether a wait that ran out is this process's own lateness (`health.LoopLag.explains`)
        self._loop_late = loop_late or (lambda waited: False)
        self._http: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Timeout] = set()     # deadlines of the calls waiting on the site

    @property
    def site(self) -> Site:
        return self._site

    @site.setter
    def site(self, value: Site) -> None:
        """A new record of the same site (health, versions, ...); the pool stays."""
        if value.auth != self._site.auth:
            self._own_auth = None
        self._site = value

    @property
    def settings(self) -> SitesSection:
        return self._settings

    @property
    def service_auth(self) -> ServiceAuth | None:
        """The account for the cascade's own calls to this site: the site's own
        credentials when its record has some, else the cascade's."""
        if self._site.auth:
            if self._own_auth is None:
                self._own_auth = ServiceAuth.from_cloud(
                    {"auth": dict(self._site.auth), "region_name": self._site.region_name},
                    account=f"the service account of site {self._site.name}")
            return self._own_auth
        return self._shared_auth

    def url(self, service: str, path: str, *, project_id: str | None = None) -> str:
        """The site's URL of `path` under the endpoint of `service`."""
        endpoint = self._site.endpoints.get(service)
        if endpoint is None:
            raise SiteUnavailable(f"Availability zone {self._site.availability_zone} has no {service} service.",
                                  site=self._site.name)
        if _PROJECT_TEMPLATE.search(endpoint):
            if not project_id:
                raise ValueError(f"the {service} endpoint of site {self._site.name} needs a project id")
            endpoint = _PROJECT_TEMPLATE.sub(project_id, endpoint)
        path = path.lstrip("/")
        return endpoint.rstrip("/") + ("/" + path if path else "")

    async def request(self, service: str, method: str, path: str, *, token: str | None = None,
                      json: Any = None, params: Any = None, microversion: str | None = None,
                      timeout: float | None = None, headers: Mapping[str, str] | None = None,
                      request_id: str | None = None, project_id: str | None = None) -> SiteResponse:
        """Call the site with a tenant's `token`. Raises `NotAcceptable` (before
        any call) for a compute microversion outside the site's range, and
        `SiteUnavailable` when the site cannot be reached in time
        (`SiteUnreachable` when it certainly received nothing)."""
        method = method.upper()
        sent_headers = self._headers(service, token, microversion, headers, request_id)
        url = self.url(service, path, project_id=project_id)
        return await self._send(method, url, sent_headers, json, params, timeout)

    async def service_request(self, service: str, method: str, path: str, *, json: Any = None,
                              params: Any = None, microversion: str | None = None,
                              timeout: float | None = None, headers: Mapping[str, str] | None = None,
                              request_id: str | None = None, project_id: str | None = None) -> SiteResponse:
        """Call the site as the cascade itself (admin), for background and admin
        work. A refused service token is renewed and the call made once more."""
        auth = self.service_auth
        if auth is None:
            raise RuntimeError(f"no service account for site {self._site.name}")
        access = await auth.access()
        for attempt in range(2):
            response = await self.request(
                service, method, path, token=access.auth_token, json=json, params=params,
                microversion=microversion, timeout=timeout, headers=headers, request_id=request_id,
                project_id=project_id or access.project_id)
            if response.status != 401 or attempt:
                return response
            access = await auth.renew(access.auth_token)
        return response

    def raise_for_error(self, resp: SiteResponse, *, scrub: Callable[[str], str] = lambda s: s) -> None:
        """Raise `SiteError` with the site's own message (passed through `scrub`) for a status >= 400."""
        if resp.status >= 400:
            message = scrub(error_message(resp.status, resp.body, resp.text))
            raise SiteError(message, status=resp.status, site=self._site.name)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _headers(self, service: str, token: str | None, microversion: str | None,
                 extra: Mapping[str, str] | None, request_id: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "cascade"}
        if token:
            headers["X-Auth-Token"] = token
        if request_id:
            headers["X-OpenStack-Request-ID"] = request_id
        if microversion:
            if service == "compute":
                microversion = self._check_compute_version(microversion)
            headers.update(microversion_headers(service, microversion))
        if extra:
            headers.update(extra)
        return headers

    def _check_compute_version(self, version: str) -> str:
        site = self._site
        if version == "latest":
            return site.compute_max_version
        low, high = APIVersion(site.compute_min_version), APIVersion(site.compute_max_version)
        try:
            wanted = APIVersion(version)
        except ValueError:
            raise NotAcceptable(f"Invalid compute microversion {version!r}.") from None
        if not low <= wanted <= high:
            raise NotAcceptable(
                f"Version {version} is not supported by availability zone {site.availability_zone}: "
                f"its minimum is {low} and its maximum is {high}.")
        return version

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._settings.pool_size),
                json_serialize=jsonlib.dumps)
        return self._http

    def _unavailable(self, why: str, *, reached: bool = True) -> SiteUnavailable:
        kind = SiteUnavailable if reached else SiteUnreachable
        return kind(f"Availability zone {self._site.availability_zone} is unavailable: {why}.", site=self._site.name)

    def trip(self) -> None:
        """The site stopped answering (a probe got no answer in time): its
        breaker opens, and the calls waiting on it end now, as if their
        deadlines had passed, instead of each waiting for its own."""
        self.breaker.trip()
        now = asyncio.get_running_loop().time()
        for limit in list(self._in_flight):
            with contextlib.suppress(RuntimeError):   # already expiring or left
                limit.reschedule(now)

    async def _send(self, method: str, url: str, headers: dict[str, str], json: Any, params: Any,
                    timeout: float | None) -> SiteResponse:
        if not self.breaker.allow():
            raise self._unavailable("too many recent failures, calls are suspended for a while", reached=False)
        deadline = timeout or self._settings.request_timeout
        clock = asyncio.get_running_loop().time
        ends_at = clock() + deadline
        attempts = 2
        unsent = False     # between attempts: nothing of the call has reached the site
        # one deadline for the call, retry included; `trip` may bring it forward
        limit = asyncio.timeout_at(ends_at)
        try:
            async with limit:
                self._in_flight.add(limit)
                try:
                    for attempt in range(1, attempts + 1):
                        try:
                            response = await self._attempt(method, url, headers, json, params)
                            break
                        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                            # nothing was sent: a call may be tried again, but a refused
                            # create rather goes to another site at once
                            again = (isinstance(exc, aiohttp.ConnectionTimeoutError)
                                     or method in IDEMPOTENT_METHODS)
                            if (again and attempt < attempts and clock() + self._retry_delay < ends_at
                                    and not isinstance(exc, aiohttp.ClientConnectorCertificateError)):
                                LOG.info("site %s: %s %s could not connect, retrying", self._site.name, method, url)
                                unsent = True
                                await asyncio.sleep(self._retry_delay)
                                unsent = False
                                continue
                            waited = (self._settings.connect_timeout
                                      if isinstance(exc, aiohttp.ConnectionTimeoutError) else None)
                            raise self._failed(method, url, exc, "it could not be reached", reached=False,
                                               waited=waited) from None
                        except aiohttp.ClientError as exc:
                            raise self._failed(method, url, exc, "the connection failed") from None
                finally:
                    self._in_flight.discard(limit)
        except TimeoutError as exc:
            if unsent:     # the site was found down while the call waited to try again
                raise self._failed(method, url, exc, "it could not be reached", reached=False) from None
            why = (f"it did not answer within {deadline:g} seconds" if limit.when() >= ends_at
                   else "it stopped answering")
            raise self._failed(method, url, exc, why, waited=deadline) from None
        if response.status >= 500 and response.status != 501:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return response

    async def _attempt(self, method: str, url: str, headers: dict[str, str], json: Any, params: Any
                       ) -> SiteResponse:
        # the whole call's deadline is the caller's `asyncio.timeout`; aiohttp only bounds the connect
        client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._settings.connect_timeout)
        # without a body, no Content-Type: aiohttp would say octet-stream, which Nova refuses (415)
        async with self._session().request(method, url, headers=headers, json=json, params=params,
                                           timeout=client_timeout,
                                           skip_auto_headers=NO_BODY_HEADERS if json is None else ()) as resp:
            return _response(resp, await resp.read())

    def _failed(self, method: str, url: str, exc: BaseException, why: str, *, reached: bool = True,
                waited: float | None = None) -> SiteUnavailable:
        """The call failed. A wait of `waited` seconds that ran out while
        this process's own loop ran late (`loop_late`) says nothing of the
        site (the cascade was slow to read the answer): it is not held
        against the site's breaker, as for the health probes."""
        if waited is not None and self._loop_late(waited):
            LOG.warning("site %s: %s %s failed: %s %s, while this process ran late: not held against the site",
                        self._site.name, method, url, type(exc).__name__, exc)
        else:
            self.breaker.record_failure()
            LOG.warning("site %s: %s %s failed: %s %s", self._site.name, method, url, type(exc).__name__, exc)
        return self._unavailable(why, reached=reached)


def _response(resp: aiohttp.ClientResponse, raw: bytes) -> SiteResponse:
    charset = resp.charset or "utf-8"
    body = _parsed(raw, charset) if raw and "json" in (resp.content_type or "") else None
    return SiteResponse(status=resp.status, headers=CIMultiDictProxy(CIMultiDict(resp.headers)),
                        body=body, content=raw, charset=charset)


def _parsed(raw: bytes, charset: str) -> Any:
    """A JSON answer's document, or None. UTF-8 (JSON's own encoding) is
    parsed from the bytes as they came; anything else, or bytes that are not
    UTF-8 after all, from the text decoded with replacements."""
    if charset.lower().replace("_", "-") in ("utf-8", "utf8"):
        try:
            return jsoncodec.loads(raw)
        except ValueError:
            pass
    try:
        return jsoncodec.loads(raw.decode(charset, errors="replace"))
    except (ValueError, LookupError):
        return None
