"""Helpers every Keystone API module shares: the caller's ``/v3`` base URL,
reading a request body's entity, list filters and Keystone's no-content
answer."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, TypeVar

from aiohttp import web

from simcloud.keystone.errors import BadRequest, missing

T = TypeVar("T")


def base_url(request: web.Request) -> str:
    return f"{request.url.origin()}/v3"


def self_url(request: web.Request) -> str:
    return f"{request.url.origin()}{request.rel_url}"


async def entity(request: web.Request, key: str) -> dict[str, Any]:
    """The object under `key` in the JSON body (``{"project": {...}}``)."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise missing(key, "request body")
    return body[key]


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"Invalid input for field '{field}': {value!r} is not of type 'boolean'.")


def filtered(items: Iterable[T], request: web.Request,
             fields: dict[str, Callable[[T], Any]]) -> list[T]:
    """Keep the items whose attributes equal every query filter present.

    `fields` maps a query parameter to the getter of the attribute it
    filters; boolean attributes compare to the parsed parameter.
    """
    wanted = {name: request.query[name] for name in fields if name in request.query}
    result = []
    for item in items:
        for name, value in wanted.items():
            actual = fields[name](item)
            if isinstance(actual, bool):
                if actual != as_bool(value, name):
                    break
            elif actual != value:
                break
        else:
            result.append(item)
    return result


def no_content() -> web.Response:
    return web.Response(status=204)


def flag(request: web.Request, name: str) -> bool:
    """A query flag that counts when present without a value (``?effective``)
    or with a true value."""
    if name not in request.query:
        return False
    value = request.query[name]
    return value == "" or as_bool(value, name)
