"""What every server action shares: the handler's signature, Nova's state
check (`check_instance_state`: vm_state, task_state, launched_at, each a 409
worded as Nova words it), the instance action a request records and the 202
that records it."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from simcloud.nova.context import ComputeContext
from simcloud.nova.errors import invalid_state
from simcloud.nova.model import Action, Server

# (request, context, server, the whole body, the action's argument) -> answer
Handler = Callable[[web.Request, ComputeContext, Server, Any, Any], Awaitable[web.Response]]


def require(server: Server, action: str, vm_states: tuple[str, ...] | None,
            task_states: tuple[str | None, ...] | None = (None,),
            must_have_launched: bool = True) -> None:
    if vm_states is not None and server.vm_state not in vm_states:
        raise invalid_state(action, server.id, "vm_state", server.vm_state)
    if task_states is not None and server.task_state not in task_states:
        raise invalid_state(action, server.id, "task_state", server.task_state)
    if must_have_launched and server.launched_at is None:
        raise invalid_state(action, server.id, "launched_at", None)


def record(context: ComputeContext, server: Server, action: str, now: float) -> None:
    """An instance action, by the request's id, lasting as the operation it started."""
    server.record(Action(action, context.request_id, context.user_id, context.project_id,
                         now, server.finish_time))


def accepted(context: ComputeContext, server: Server, action: str, now: float,
             status: int = 202) -> web.Response:
    record(context, server, action, now)
    return web.Response(status=status)
