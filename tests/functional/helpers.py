"""Shared steps of the tiers that drive a `cascade demo` (functional over
simcloud, interop over real OpenStack): servers made through the cascade,
and their copies looked up straight in the sites."""
from __future__ import annotations

import time
import uuid

import openstack.exceptions

STAMP = "cascade_top_id"


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def image_id(conn, name: str) -> str:
    return next(i.id for i in conn.image.images() if i.name == name)


def flavor_id(conn, name: str) -> str:
    return conn.compute.find_flavor(name, ignore_missing=False).id


def boot(demo, conn, *, zone: str | None = None, name: str | None = None, wait: bool = True, **extra):
    """A server of the demo's tiny flavor and image, without networks."""
    if zone is not None:
        extra["availability_zone"] = zone
    server = conn.compute.create_server(
        name=name or f"vm-{uuid.uuid4().hex[:8]}", flavor_id=flavor_id(conn, demo.tiny),
        image_id=image_id(conn, demo.image), networks="none", **extra)
    demo.made(conn, server.id)
    if wait:
        try:
            server = conn.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.5)
        except openstack.exceptions.ResourceFailure:
            fault = conn.compute.get_server(server.id).fault
            raise AssertionError(f"server {server.id} went to ERROR, its fault: {fault}") from None
    return server


def bottom_copy(sites: dict, top_id: str):
    """(zone, bottom server) of a top server, found by its stamp in the sites."""
    found = []
    for zone, conn in sites.items():
        for server in conn.compute.servers(details=True):
            if server.metadata.get(STAMP) == top_id:
                found.append((zone, server))
    assert len(found) <= 1, f"server {top_id} exists in several sites: {found}"
    return found[0] if found else (None, None)


def wait_status(conn, server_id: str, status: str, timeout: float = 60.0):
    return wait_for(lambda: (s := conn.compute.get_server(server_id)).status == status and s, timeout=timeout)
