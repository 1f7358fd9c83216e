"""Security groups as a Nova site without a network service of its own can
know them: every project has its `default` group and no other. A create
naming another is refused as Nova refuses a group Neutron does not have;
`addSecurityGroup` / `removeSecurityGroup` change the groups of the server's
ports (404 when it has none, as Neutron finds no port of the server)."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import validation as V
from simcloud.nova.action_checks import Handler
from simcloud.nova.errors import bad_request, not_found
from simcloud.nova.model import Server

DEFAULT = "default"
_SCHEMAS = {name: V.BodySchema({"type": "object", "properties": {name: {
    "type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
    "required": ["name"], "additionalProperties": False}},
    "required": [name], "additionalProperties": True})
    for name in ("addSecurityGroup", "removeSecurityGroup")}


def check_requested(names: list[str]) -> None:
    """The groups a create asks for, in the order asked."""
    for name in names:
        if name != DEFAULT:
            raise bad_request(f"Unable to find security_group with name or id '{name}'")


def groups_of(server: Server) -> tuple[str, ...]:
    return server.security_groups if server.security_groups is not None else (DEFAULT,)


class SecurityGroupActions:
    def handlers(self) -> dict[str, Handler]:
        return {"addSecurityGroup": self.add, "removeSecurityGroup": self.remove}

    @staticmethod
    def _name(server: Server, context, body: dict, action: str) -> str:
        _SCHEMAS[action].validate(body)
        name = body[action]["name"]
        if not name.strip():
            raise bad_request("Security group name cannot be empty")
        if name != DEFAULT:
            raise not_found(f"Security group {name} is not found for project "
                            f"{context.project_id}")
        if not server.nics:
            raise not_found(f"instance_id {server.id} could not be found as device id on any "
                            "ports")
        return name

    async def add(self, request, context, server, body, args) -> web.Response:
        name = self._name(server, context, body, "addSecurityGroup")
        if name not in groups_of(server):
            server.security_groups = tuple(sorted({*groups_of(server), name}))
        return web.Response(status=202)

    async def remove(self, request, context, server, body, args) -> web.Response:
        name = self._name(server, context, body, "removeSecurityGroup")
        if name not in groups_of(server):
            raise not_found(f"Security group {name} not associated with the instance "
                            f"{server.id}")
        server.security_groups = tuple(g for g in groups_of(server) if g != name)
        return web.Response(status=202)
