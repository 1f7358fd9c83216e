"""Small helpers every compute handler uses: the request's context and
runtime, JSON bodies with Nova's error texts, and JSON answers."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from cascade import errors, jsoncodec
from cascade.context import RequestContext
from cascade.runtime import Runtime, runtime_of

__all__ = ["context", "runtime_of", "body_of", "reply", "Runtime"]


def context(request: web.Request) -> RequestContext:
    return request["context"]


async def body_of(request: web.Request, key: str | None = None) -> Any:
    """The JSON body, or Nova's 400 for a malformed one; with `key`, the body
    must be an object holding that key."""
    try:
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("Malformed request body") from None
    if key is not None:
        if not isinstance(body, dict) or key not in body:
            raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: None. '{key}' is a required property"
                                    if isinstance(body, dict) else "Malformed request body")
    return body


def reply(body: Any = None, *, status: int = 200, headers: dict | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(body=jsoncodec.dumps(body), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def require_admin(ctx: RequestContext, rule: str) -> None:
    if not ctx.is_admin:
        raise errors.Forbidden(f"Policy doesn't allow {rule} to be performed.")
