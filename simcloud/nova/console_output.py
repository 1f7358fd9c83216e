"""`os-getConsoleOutput`: the server's serial console log, as a libvirt
guest's would read after booting (kernel lines, its network, a login
prompt), cut to the last `length` lines the way Nova's compute cuts it
(0 gives nothing; -1, Nova's "unlimited", drops the first line). A server
on no host (never scheduled, or offloaded) is "not ready"."""
from __future__ import annotations

from aiohttp import web

from simcloud.nova import server_views
from simcloud.nova import validation as V
from simcloud.nova.action_checks import Handler
from simcloud.nova.app import respond
from simcloud.nova.errors import conflict
from simcloud.nova.model import Server
from simcloud.nova.store import ComputeStore

_SCHEMA = V.BodySchema({"type": "object", "properties": {"os-getConsoleOutput": {
    "type": "object", "properties": {"length": {
        "type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$", "minimum": -1}},
    "additionalProperties": False}}, "required": ["os-getConsoleOutput"],
    "additionalProperties": False})


def boot_log(server: Server) -> str:
    name = server_views.hostname(server) or "host"
    lines = [
        "[    0.000000] Linux version 6.1.0-21-cloud-amd64 (simcloud guest kernel)",
        "[    0.000000] Command line: root=/dev/vda1 ro console=tty0 console=ttyS0,115200",
        "[    0.000000] Hypervisor detected: KVM",
        f"[    0.000000] DMI: OpenStack Foundation OpenStack Nova, BIOS 1.16.2 {server.id}",
        "[    0.712004] virtio_blk virtio1: [vda] 2097152 512-byte logical blocks",
        "[    1.104519] EXT4-fs (vda1): mounted filesystem with ordered data mode",
    ]
    for _, address, mac in server.addresses():
        lines.append(f"[    1.873216] virtio_net virtio0: eth0 {mac}: lease of {address} obtained")
    lines += [
        "[    2.356811] cloud-init: fetching metadata from http://169.254.169.254/openstack",
        f"[    3.017322] cloud-init: hostname set to {name}",
        "[    3.402945] cloud-init: boot finished",
        "",
        f"{name} login: ",
    ]
    return "\n".join(lines)


def tail(text: str, length: int | None) -> str:
    if length is None:
        return text
    if length == 0:
        return ""
    return "\n".join(text.split("\n")[-length:])


class ConsoleOutputActions:
    def __init__(self, store: ComputeStore) -> None:
        self.store = store

    def handlers(self) -> dict[str, Handler]:
        return {"os-getConsoleOutput": self.console_output}

    async def console_output(self, request, context, server, body, args) -> web.Response:
        _SCHEMA.validate(body)
        if server.host is None:
            raise conflict(f"Instance {server.id} is not ready")
        length = args.get("length")
        return respond({"output": tail(boot_log(server), None if length is None else int(length))})
