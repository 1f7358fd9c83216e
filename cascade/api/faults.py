"""The one mapping from `cascade.errors` to each service's error body.

Every front answers errors in its upstream service's format: Nova's
`{"itemNotFound": {"code": 404, "message": ...}}`, Glance's
`{"error": ...}`-less plain body, Neutron's `NeutronError`, Cinder's Nova-like
body. The `faults_middleware` catches every exception on the way out and
renders it for the front the request was routed to; an unexpected exception
becomes the service's 500 body with no internals, and is logged.
"""
from __future__ import annotations

import json
import logging
from typing import Callable

import sqlalchemy.exc
from aiohttp import web

from cascade import errors
from cascade.identity import IdentityUnavailable

LOG = logging.getLogger(__name__)

STATUS = {
    errors.BadRequest: 400,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.NotAcceptable: 406,
    errors.Conflict: 409,
    errors.OverLimit: 403,
    errors.NotImplementedYet: 501,
    errors.SiteUnavailable: 503,
    IdentityUnavailable: 503,
}

# Nova's fault names by status (nova.api.openstack.wsgi.Fault)
NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}

HTTP_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable",
}


BUSY = "The service is too busy to answer now; please retry the request later."


def _overloaded(exc: BaseException) -> bool:
    """No database connection came free within the pool's timeout: the
    cascade is overloaded, which is a 503 to retry, not a crash."""
    return isinstance(exc, sqlalchemy.exc.TimeoutError)


def status_of(exc: BaseException) -> int:
    if _overloaded(exc):
        return 503
    if isinstance(exc, errors.SiteError):
        # a site's 5xx is the cascade's problem to report as unavailable, not a crash
        return exc.status if exc.status < 500 else 503
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def nova_body(status: int, message: str) -> dict:
    name = NOVA_FAULT_NAMES.get(status, "computeFault")
    return {name: {"code": status, "message": message}}


def glance_body(status: int, message: str) -> str:
    # Glance answers errors as a small HTML-ish text document (webob), which
    # clients show verbatim; keep the same shape.
    title = HTTP_TITLES.get(status, "Error")
    return f"<html>\n <head>\n  <title>{status} {title}</title>\n </head>\n <body>\n  <h1>{status} {title}</h1>\n  {message}<br /><br />\n\n\n\n </body>\n</html>"


def keystone_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message, "title": HTTP_TITLES.get(status, "Error")}}


def neutron_body(status: int, message: str, type_: str = "") -> dict:
    return {"NeutronError": {"type": type_ or HTTP_TITLES.get(status, "Error").replace(" ", ""), "message": message, "detail": ""}}


Renderer = Callable[[int, str], web.Response]


def _json(status: int, body: dict, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


RENDERERS: dict[str, Renderer] = {
    "compute": lambda status, msg: _json(status, nova_body(status, msg)),
    "volume": lambda status, msg: _json(status, nova_body(status, msg)),
    "image": lambda status, msg: web.Response(status=status, text=glance_body(status, msg), content_type="text/html"),
    "network": lambda status, msg: _json(status, neutron_body(status, msg)),
    "admin": lambda status, msg: _json(status, keystone_body(status, msg)),
}


def service_of(request: web.Request) -> str:
    """Which front serves the request, from the first path segment."""
    first = request.path.strip("/").split("/", 1)[0]
    return {"compute": "compute", "image": "image", "volume": "volume", "network": "network"}.get(first, "admin")


def render(request: web.Request, exc: BaseException) -> web.Response:
    """The service's error body for `exc`; a 5xx is logged (with its stack
    when the error was not one of the cascade's own)."""
    status = status_of(exc)
    if isinstance(exc, errors.CascadeError):
        message = exc.message
        if status >= 500:
            LOG.warning("%s %s: %s", request.method, request.path, exc)
    elif _overloaded(exc):
        message = BUSY
        LOG.warning("%s %s: %s", request.method, request.path, exc)
    else:
        message = "Unexpected API Error. Please report this at the cascade's operator and attach the request id."
        LOG.error("unexpected error in %s %s", request.method, request.path, exc_info=exc)
    response = RENDERERS[service_of(request)](status, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Keystone uri="%s"' % request.app.get("keystone_public_url", "")
    return response


@web.middleware
async def faults_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own 404/405 for unknown paths and methods: the service's body
        text = {404: "The resource could not be found.", 405: "The method is not allowed."}.get(exc.status, exc.reason)
        response = RENDERERS[service_of(request)](exc.status, text)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a stack trace to a tenant
        return render(request, exc)
