"""The aiohttp middlewares that open every request: its request id, and who is calling.

Order in the application (outermost first)::

    request_id_middleware, faults_middleware, identity_middleware(validator)

`request_id_middleware` gives the request its id (`req-<uuid4>`, at
`request["request_id"]`) and echoes it on every response, the error bodies
made by the faults middleware included. `identity_middleware` validates
`X-Auth-Token` and stores a `RequestContext` at `request["context"]`; a
missing or refused token raises `NotAuthenticated`, which the faults
middleware renders. Version documents are public and skip validation.
"""
from __future__ import annotations

import re
import uuid
from typing import Awaitable, Callable

from aiohttp import web

from cascade.context import RequestContext
from cascade.errors import NotAuthenticated
from cascade.identity.tokens import TokenValidator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID_HEADERS = ("x-openstack-request-id", "x-compute-request-id")
_GLOBAL_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# the version documents, served without a token as upstream does
PUBLIC_PATHS = frozenset({"", "/compute", "/compute/v2.1", "/image", "/image/versions", "/volume", "/network"})


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def is_public(request: web.Request) -> bool:
    """True for the unauthenticated version documents (`GET /`, `/compute/`,
    `/compute/v2.1`, `/image/`, ...)."""
    return request.method in ("GET", "HEAD") and request.path.rstrip("/") in PUBLIC_PATHS


def request_id_of(request: web.Request) -> str:
    """The request's id, made on first use. Also records the caller's global
    request id (`X-OpenStack-Request-ID`, when well formed) at
    `request["global_request_id"]`, as oslo.middleware does, defaulting to
    the request's own id."""
    request_id = request.get("request_id")
    if request_id is None:
        request_id = request["request_id"] = new_request_id()
        incoming = request.headers.get("X-OpenStack-Request-ID", "")
        request["global_request_id"] = incoming if _GLOBAL_REQUEST_ID.match(incoming) else request_id
    return request_id


def _echo(response: web.StreamResponse, request_id: str) -> None:
    if not response.prepared:
        for name in REQUEST_ID_HEADERS:
            response.headers[name] = request_id


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_of(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _echo(exc, request_id)
        raise
    _echo(response, request_id)
    return response


def identity_middleware(validator: TokenValidator, *,
                        public: Callable[[web.Request], bool] = is_public) -> Callable:
    """A middleware validating `X-Auth-Token` with `validator`, except on
    requests for which `public(request)` is true."""

    @web.middleware
    async def identity(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request_id_of(request)
        if not public(request):
            token = request.headers.get("X-Auth-Token", "").strip()
            if not token:
                raise NotAuthenticated()
            request["context"] = RequestContext(identity=await validator.validate(token), request_id=request_id)
        response = await handler(request)
        _echo(response, request_id)
        return response

    return identity
