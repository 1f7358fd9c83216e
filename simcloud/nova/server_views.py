"""How a server is shown, per microversion and per caller, as Nova's view
builder shows it: the short list entry, the full view of show/detail, and the
reduced views update and rebuild answered before 2.75. A deleted server (as
`changes-since` lists it) has lost its metadata, tags, ports and addresses."""
from __future__ import annotations

import hashlib
import re

from simcloud.nova import states
from simcloud.nova.context import ComputeContext
from simcloud.nova.model import Server
from simcloud.nova.timefmt import isotime, microtime

_PROGRESS_STATUSES = {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
_FAULT_STATUSES = {"ERROR", "DELETED"}


def basic(ctx: ComputeContext, server: Server) -> dict:
    return {"id": server.id, "name": server.name, "links": ctx.links("servers", server.id)}


_SPACES = re.compile(r"[ _]")
_NOT_IN_HOSTNAMES = re.compile(r"[^\w.-]+", flags=re.ASCII)


def default_hostname(name: str) -> str:
    """Nova's sanitize_hostname of the display name."""
    text = _NOT_IN_HOSTNAMES.sub("", _SPACES.sub("-", name.lower()))
    return text[:63].strip(".-")


def hostname(server: Server) -> str:
    return server.hostname if server.hostname is not None else default_hostname(server.name)


def rename(server: Server, name: str) -> None:
    """A new display name; the hostname stays the one made at creation."""
    if server.hostname is None:
        server.hostname = default_hostname(server.name)
    server.name = name


def host_id(server: Server) -> str:
    if not server.host:
        return ""
    return hashlib.sha224((server.project_id + server.host).encode()).hexdigest()


def addresses(server: Server, extended: bool) -> dict:
    if server.vm_state == states.BUILDING or not server.nics or server.deleted:
        return {}
    result: dict[str, list[dict]] = {}
    for label, address, mac in server.addresses():
        entry: dict = {"version": 6 if ":" in address else 4, "addr": address}
        if extended:
            entry["OS-EXT-IPS:type"] = "fixed"
            entry["OS-EXT-IPS-MAC:mac_addr"] = mac
        result.setdefault(label, []).append(entry)
    return result


def _flavor(ctx: ComputeContext, server: Server) -> dict:
    flavor = server.flavor
    if ctx.version >= (2, 47):
        return {"vcpus": flavor.vcpus, "ram": flavor.ram, "disk": flavor.disk,
                "ephemeral": flavor.ephemeral, "swap": flavor.swap,
                "original_name": flavor.name, "extra_specs": dict(flavor.extra_specs)}
    return {"id": flavor.id, "links": ctx.bookmark("flavors", flavor.id)}


def _image(ctx: ComputeContext, server: Server) -> dict | str:
    if not server.image_id:
        return ""
    image: dict = {"id": server.image_id, "links": ctx.bookmark("images", server.image_id)}
    if ctx.version >= (2, 98):
        image["properties"] = dict(server.image_props or {})
    return image


def full(ctx: ComputeContext, server: Server, *, mode: str = "show",
         host_status: str = "UP") -> dict:
    """mode: "show", "detail" (no server_groups), "update" or "rebuild"
    (before 2.75 these two leave out the extension attributes)."""
    v = ctx.version
    everything = mode in ("show", "detail") or v >= (2, 75)
    status = server.status
    view: dict = {
        "accessIPv4": server.access_ipv4 or "",
        "accessIPv6": server.access_ipv6 or "",
        "addresses": addresses(server, extended=everything),
        "created": isotime(server.created_at),
        "flavor": _flavor(ctx, server),
        "hostId": host_id(server),
        "id": server.id,
        "image": _image(ctx, server),
        "links": ctx.links("servers", server.id),
        "metadata": {} if server.deleted else server.meta(),
        "name": server.name,
        "status": status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "updated": isotime(server.updated_at),
        "OS-DCF:diskConfig": "AUTO" if server.auto_disk_config else "MANUAL",
    }
    if status in _FAULT_STATUSES and server.fault is not None:
        code, message, created = server.fault
        view["fault"] = {"code": code, "created": isotime(created), "message": message}
    if status in _PROGRESS_STATUSES:
        view["progress"] = 0
    if everything:
        view["OS-EXT-AZ:availability_zone"] = server.availability_zone or ""
        view["config_drive"] = "True" if server.config_drive else ""
        view["OS-SRV-USG:launched_at"] = microtime(server.launched_at)
        view["OS-SRV-USG:terminated_at"] = microtime(server.deleted_at)
        groups = server.security_groups if server.security_groups is not None else ("default",)
        if server.nics and groups and not server.deleted:   # no ports (or no groups): no key
            view["security_groups"] = [{"name": name} for name in groups]
        view["OS-EXT-STS:task_state"] = server.task_state
        view["OS-EXT-STS:vm_state"] = server.vm_state
        view["OS-EXT-STS:power_state"] = server.power_state
        view["os-extended-volumes:volumes_attached"] = [
            {"id": vol, "delete_on_termination": False} if v >= (2, 3) else {"id": vol}
            for vol in server.volumes or ()]
    if everything or (mode == "rebuild" and v >= (2, 54)):
        view["key_name"] = server.key_name
    extended_attrs = everything and ctx.is_admin
    if extended_attrs:
        view["OS-EXT-SRV-ATTR:host"] = server.host
        view["OS-EXT-SRV-ATTR:instance_name"] = "instance-%08x" % server.seq
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = (
            f"{server.host}.sim" if server.host else None)
        if v >= (2, 3):
            view.update({
                "OS-EXT-SRV-ATTR:hostname": hostname(server),
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:launch_index": server.launch_index,
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:reservation_id": server.reservation_id,
                "OS-EXT-SRV-ATTR:root_device_name": (
                    "/dev/vda" if server.host or server.built_at else None),
            })
            if mode != "rebuild":
                view["OS-EXT-SRV-ATTR:user_data"] = server.user_data
    if v >= (2, 9):
        view["locked"] = server.locked
    if v >= (2, 16) and everything and ctx.is_admin:
        view["host_status"] = host_status if server.host else ""
    if v >= (2, 19):
        view["description"] = server.description
    if v >= (2, 26):
        view["tags"] = [] if server.deleted else list(server.tags or ())
    if v >= (2, 63):
        view["trusted_image_certificates"] = None
    if v >= (2, 71) and mode != "detail":
        view["server_groups"] = [server.group_id] if server.group_id else []
    if v >= (2, 73):
        view["locked_reason"] = server.locked_reason
    if v >= (2, 90) and not extended_attrs:
        view["OS-EXT-SRV-ATTR:hostname"] = hostname(server)
    if v >= (2, 96) and everything:
        view["pinned_availability_zone"] = server.pinned_az
    if v >= (2, 100):
        view["scheduler_hints"] = dict(server.scheduler_hints or {})
    return view
