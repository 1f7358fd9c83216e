"""Keystone's error tree and the middleware that renders it.

Every failure of the simulated Keystone leaves as Keystone's own body,
``{"error": {"code": N, "message": "...", "title": "..."}}``, with the status
the real service uses, so clients (keystoneauth1, openstacksdk, Tempest) map
it to the same exceptions they would against a real deployment.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from aiohttp import web

_log = logging.getLogger(__name__)


class KeystoneError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(KeystoneError):
    status = 400
    title = "Bad Request"


class Unauthorized(KeystoneError):
    status = 401
    title = "Unauthorized"

    def __init__(self, message: str = "The request you have made requires authentication.") -> None:
        super().__init__(message)


class Forbidden(KeystoneError):
    status = 403
    title = "Forbidden"


class NotFound(KeystoneError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(KeystoneError):
    status = 405
    title = "Method Not Allowed"


class Conflict(KeystoneError):
    status = 409
    title = "Conflict"


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"Could not find {kind}: {ident}.")


def forbidden_action(action: str) -> Forbidden:
    return Forbidden(f"You are not authorized to perform the requested action: {action}.")


def duplicate(kind: str, detail: str) -> Conflict:
    return Conflict(f"Conflict occurred attempting to store {kind} - {detail}.")


def missing(attribute: str, target: str) -> BadRequest:
    return BadRequest(
        f"Expecting to find {attribute} in {target}. The server could not comply with the "
        "request since it is either malformed or otherwise incorrect. The client is assumed "
        "to be in error.")


def error_response(error: KeystoneError, *, auth_url: str | None = None) -> web.Response:
    body = {"error": {"code": error.status, "message": error.message, "title": error.title}}
    response = web.json_response(body, status=error.status)
    if error.status == 401 and auth_url:
        response.headers["WWW-Authenticate"] = f'Keystone uri="{auth_url}"'
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth_url = f"{request.url.origin()}/v3"
    try:
        return await handler(request)
    except KeystoneError as error:
        return error_response(error, auth_url=auth_url)
    except web.HTTPNotFound:
        return error_response(NotFound("The resource could not be found."))
    except web.HTTPMethodNotAllowed:
        return error_response(MethodNotAllowed("The method is not allowed for the requested URL."))
    except web.HTTPException:
        raise
    except Exception:
        _log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(KeystoneError(
            "An unexpected error prevented the server from fulfilling your request."))
