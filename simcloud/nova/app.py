"""The simulated Nova as an aiohttp application mounted at `/compute`.

Its middleware does, in the order a real deployment does: token check (as
keystonemiddleware, before Nova sees the request), microversion negotiation,
then the handler, turning `NovaError` into Nova's fault body and echoing the
microversion headers on every versioned answer.
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

_UNVERSIONED = ("/compute", "/compute/", "/compute/v2.1", "/compute/v2.1/")
UNAUTHORIZED_BODY = {"error": {
    "code": 401, "title": "Unauthorized",
    "message": "The request you have made requires authentication."}}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(", ", ": "))


def respond(body: object, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


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

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def compute_middleware(request: web.Request,
                                     handler: Handler) -> web.StreamResponse:
            return await self.handle(request, handler)
        return compute_middleware

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in _UNVERSIONED:
            return await handler(request)
        token_id = request.headers.get("X-Auth-Token")
        token = self.validate(token_id) if token_id else None
        if token is None:
            return self._unauthorized()
        try:
            version = microversion.negotiate(request.headers, self.minimum, self.maximum)
        except NovaError as err:
            return respond(err.body(), err.status)
        request[CONTEXT_KEY] = ComputeContext(
            token=token, version=version, request_id=request_id_of(request),
            origin=str(request.url.origin()))
        try:
            response = await handler(request)
        except NovaError as err:
            response = respond(err.body(), err.status)
        except web.HTTPNotFound:
            response = respond(NovaError(404, "The resource could not be found.").body(), 404)
        except web.HTTPMethodNotAllowed:
            response = respond(NovaError(
                405, "The method specified is not allowed for this resource.").body(), 405)
        except Exception as exc:   # what Nova answers for a bug
            log.exception("simulated nova failed on %s %s", request.method, request.path)
            message = ("Unexpected API Error. Please report this at "
                       "http://bugs.launchpad.net/nova/ and attach the Nova API log if "
                       f"possible.\n{type(exc)}")
            response = respond(NovaError(500, message).body(), 500)
        for name, value in microversion.echo_headers(version):
            response.headers.add(name, value)
        return response
