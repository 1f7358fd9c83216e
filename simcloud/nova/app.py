"""The simulated Nova as an aiohttp application mounted at `/compute`.

Its middleware does, in the order a real deployment does: token check (as
keystonemiddleware, before Nova sees the request), routing (a path or method
no route has is webob's plain 404, without microversion headers, as Nova's
router answers), microversion negotiation, then the handler, turning
`NovaError` into Nova's fault body and echoing the microversion headers on
every versioned answer (a refused version is echoed too).

Content types are Nova's: `application/json` for answers and empty ones,
`application/json; charset=UTF-8` for faults.
"""
from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from aiohttp import web

from simcloud.nova import microversion
from simcloud.nova.context import CONTEXT_KEY, REQUEST_ID_KEY, ComputeContext
from simcloud.nova.errors import NovaError
from simcloud.nova.microversion import Version
from simcloud.tokens import Validator

log = logging.getLogger(__name__)

_ROOT = ("/compute", "/compute/", "/compute/v2", "/compute/v2/")
_VERSION_DOC = ("/compute/v2.1", "/compute/v2.1/")
JSON = "application/json"
FAULT_JSON = "application/json; charset=UTF-8"
UNAUTHORIZED_BODY = {"error": {
    "code": 401, "title": "Unauthorized",
    "message": "The request you have made requires authentication."}}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(", ", ": "))


def respond(body: object, status: int = 200, headers: dict | None = None,
            content_type: str = JSON) -> web.Response:
    return web.Response(body=_dumps(body).encode(), status=status,
                         headers={**(headers or {}), "Content-Type": content_type})


def fault(err: NovaError) -> web.Response:
    return respond(err.body(), err.status, content_type=FAULT_JSON)


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


class UnknownRoute(Exception):
    """No route has this path and method (Nova's router answers webob's 404)."""


def webob_not_found() -> web.Response:
    return respond({"message": "The resource could not be found.<br /><br />\n\n\n",
                    "code": "404 Not Found", "title": "Not Found"}, 404)


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY) or "req-unknown"


class ComputeMiddleware:
    def __init__(self, validate: Validator, minimum: Version, maximum: Version,
                 auth_uri: str | None = None) -> None:
        self.validate = validate
        self.minimum = minimum
        self.maximum = maximum
        self.auth_uri = auth_uri

    def _unauthorized(self) -> web.Response:
        headers = {"WWW-Authenticate": f'Keystone uri="{self.auth_uri}"'} if self.auth_uri else None
        return respond(UNAUTHORIZED_BODY, 401, headers)

    @staticmethod
    def _versioned(response: web.StreamResponse, version: str) -> web.StreamResponse:
        for name, value in microversion.echo_headers(version):
            response.headers.add(name, value)
        return response

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def compute_middleware(request: web.Request,
                                     handler: Handler) -> web.StreamResponse:
            return await self.handle(request, handler)
        return compute_middleware

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in _ROOT:
            return await handler(request)
        if request.path in _VERSION_DOC:     # the v2.1 document answers as version 2.1
            return self._versioned(await handler(request),
                                   microversion.to_text(microversion.DEFAULT))
        token_id = request.headers.get("X-Auth-Token")
        token = self.validate(token_id) if token_id else None
        if token is None:
            return self._unauthorized()
        if getattr(request.match_info.route, "handler", None) is unknown_route:
            return webob_not_found()
        try:
            version = microversion.negotiate(request.headers, self.minimum, self.maximum)
        except microversion.Unsupported as err:
            return self._versioned(fault(err), err.requested)
        except NovaError as err:
            return fault(err)
        if not _readable(request.headers.get("Content-Type")):
            return self._versioned(fault(NovaError(415, "Unsupported Content-Type")),
                                   microversion.to_text(version))
        request[CONTEXT_KEY] = ComputeContext(
            token=token, version=version, request_id=request_id_of(request),
            origin=str(request.url.origin()))
        try:
            response = await handler(request)
        except NovaError as err:
            response = fault(err)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return webob_not_found()
        except Exception as exc:   # what Nova answers for a bug
            log.exception("simulated nova failed on %s %s", request.method, request.path)
            message = ("Unexpected API Error. Please report this at "
                       "http://bugs.launchpad.net/nova/ and attach the Nova API log if "
                       f"possible.\n{type(exc)}")
            response = fault(NovaError(500, message))
        if "Content-Type" not in response.headers:
            response.headers["Content-Type"] = JSON
        return self._versioned(response, microversion.to_text(version))


_BODY_TYPES = ("application/json", "application/vnd.openstack.compute+json")


def _readable(content_type: str | None) -> bool:
    """Nova reads no Content-Type, an empty one or text/plain as "none",
    takes JSON, and answers 415 to anything else, whatever the method."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip()
    return not media or media == "text/plain" or media in _BODY_TYPES


async def unknown_route(request: web.Request) -> web.Response:
    """Routed to when no other route has the path and method."""
    raise UnknownRoute(request.path)
