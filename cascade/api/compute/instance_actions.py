"""A server's instance actions (`/servers/{id}/os-instance-actions`): routed
to the server's site, answered with the cascade's ids.

The site recorded each action under its own request id; the tenant was
given the cascade's (`routing.request_ids` pairs them), so request ids are
translated both ways: the marker and the shown id top -> bottom, every
`request_id` of an answer bottom -> top. `instance_uuid` is the top id, and
the events do not name the site's compute hosts (Nova shows `host` only to
admins; the cascade's hosts are not the sites'). From 2.21 the actions of a
deleted server are served too, so its route is resolved even when deleted.
"""
from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cascade.api import patterns
from cascade.api.compute import server_views
from cascade.api.compute.common import context, reply, runtime_of
from cascade.api.compute.servers import not_found
from cascade.resources.kinds import SERVER
from cascade.routing import request_ids
from cascade.sites.versions import at_least

# texts of an action or event that may name the bottom server or request
_TEXT_FIELDS = ("message", "traceback", "details")


async def _target(request: web.Request) -> patterns.Target:
    rt, ctx = runtime_of(request), context(request)
    server_id = request.match_info["server_id"]
    return await patterns.locate(rt, ctx, SERVER, server_id, not_found=not_found(server_id),
                                 deleted=at_least(ctx.microversion, "2.21"))


def _scrub_texts(rt, record: dict, replacements: dict[str, str]) -> None:
    for key in _TEXT_FIELDS:
        if isinstance(record.get(key), str):
            record[key] = rt.translator.scrub(record[key], replacements)


async def _to_top(rt, target: patterns.Target, actions: list[dict]) -> list[dict]:
    tops = await request_ids.to_top(rt.routes, target.site.id, (a.get("request_id") for a in actions))
    replacements = {target.bottom_id: target.route.top_id, **{b: t for b, t in tops.items() if b != t}}
    out = []
    for action in actions:
        action = dict(action)
        action["instance_uuid"] = target.route.top_id
        if action.get("request_id") in tops:
            action["request_id"] = tops[action["request_id"]]
        _scrub_texts(rt, action, replacements)
        if isinstance(action.get("events"), list):
            action["events"] = [_event(rt, e, replacements) for e in action["events"]]
        out.append(action)
    return out


def _event(rt, event: dict, replacements: dict[str, str]) -> dict:
    event = {k: v for k, v in event.items() if k != "host"}
    _scrub_texts(rt, event, replacements)
    return event


async def index(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    target = await _target(request)
    params = request.query.copy()
    replacements = {}
    if "marker" in params and at_least(ctx.microversion, "2.58"):
        bottom = await request_ids.to_site(rt.routes, target.site.id, params["marker"])
        replacements[bottom] = params["marker"]
        params["marker"] = bottom
    response = await patterns.forward_routed(rt, ctx, target, "GET", "/os-instance-actions", params=params,
                                             replacements=replacements)
    actions = await _to_top(rt, target, response.body["instanceActions"])
    body: dict = {"instanceActions": actions}
    if any(link.get("rel") == "next" for link in response.body.get("links") or ()) and actions:
        path = f"servers/{target.route.top_id}/os-instance-actions"
        body["links"] = [server_views.next_link(ctx, path, request.query, actions[-1]["request_id"])]
    return reply(body)


async def show(request: web.Request) -> web.Response:
    rt, ctx = runtime_of(request), context(request)
    target = await _target(request)
    wanted = request.match_info["request_id"]
    bottom = await request_ids.to_site(rt.routes, target.site.id, wanted)
    response = await patterns.forward_routed(rt, ctx, target, "GET", f"/os-instance-actions/{quote(bottom, safe='')}",
                                             params=request.query, replacements={bottom: wanted})
    action, = await _to_top(rt, target, [response.body["instanceAction"]])
    return reply({"instanceAction": action})


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    base = f"{prefix}/servers/{{server_id}}/os-instance-actions"
    router.add_get(base, index)
    router.add_get(f"{base}/{{request_id}}", show)
