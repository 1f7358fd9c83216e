"""The compact records a simulated Nova keeps: flavors, keypairs, server
groups and servers.

A server holds only what the API shows or filters on, in a slotted
dataclass, with empty collections stored as None. Transitions that take time
are not tasks: a server carries the remaining `steps` of its current
operation, each `(due, vm_state, task_state, power_state)`, and `settle(now)`
applies the ones whose time has come whenever the server is read.

A server in a store has the store as its `watcher`: `touch` (the one way to
move `updated_at`) lets it keep its change order, and `schedule` tells it
which servers have steps still to come.
"""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Protocol

from simcloud.nova import states

# (due, vm_state, task_state, power_state[, relaunched]): `relaunched` marks
# the step where Nova sets launched_at again (rebuild, resize, revert).
Step = tuple  # tuple[float, str, str | None, int] or with a trailing True

NETWORK_LABEL = "private"
AUTO_NICS: tuple[str | None, ...] = (None,)   # one NIC with an allocated address, shared


def fixed_ip(seq: int, nic: int = 0) -> str:
    """The address a server's NIC gets when none was asked: stable, in 10.0.0.0/8."""
    value = (seq * 4 + nic + 2) % (1 << 24)
    return f"10.{value >> 16}.{(value >> 8) & 0xFF}.{value & 0xFF}"


def mac_address(seq: int, nic: int = 0) -> str:
    value = (seq * 4 + nic) & 0xFFFFFF
    return "fa:16:3e:%02x:%02x:%02x" % (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


_REQUEST_IDS = uuid.UUID("0c8a3e36-5a55-4d0e-9c41-2f0e3a8b6d71")


def create_request_id(server: "Server") -> str:
    """The request that created the server: kept, or for servers made
    without one (preloaded), derived from the server's id."""
    if server.create_request_id is not None:
        return server.create_request_id
    return f"req-{uuid.uuid5(_REQUEST_IDS, server.id)}"


@dataclasses.dataclass(slots=True, eq=False)
class Flavor:
    id: str
    internal_id: int
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    disabled: bool = False
    description: str | None = None
    extra_specs: dict[str, str] = dataclasses.field(default_factory=dict)
    created_at: float = 0.0
    projects: list[str] | None = None      # the projects a private flavor is granted to


@dataclasses.dataclass(slots=True, eq=False)
class ServerGroup:
    id: str
    name: str
    policy: str                   # affinity, anti-affinity, soft-affinity, soft-anti-affinity
    rules: dict[str, int]         # {"max_server_per_host": N} or {}
    project_id: str
    user_id: str
    members: list[str] = dataclasses.field(default_factory=list)   # server ids, oldest first


@dataclasses.dataclass(slots=True, eq=False)
class Keypair:
    internal_id: int
    name: str
    user_id: str
    type: str
    public_key: str
    fingerprint: str
    created_at: float


@dataclasses.dataclass(slots=True, eq=False)
class Action:
    action: str
    request_id: str
    user_id: str
    project_id: str
    start_time: float
    finish_time: float


class ServerWatcher(Protocol):
    def move(self, server: "Server", updated_at: float) -> None:
        """Set `server.updated_at`, keeping whatever is ordered by it."""

    def scheduled(self, server: "Server") -> None:
        """`server` has steps to apply later."""


@dataclasses.dataclass(slots=True, eq=False)
class Server:
    seq: int                      # Nova's internal id: creation order within the site
    id: str
    name: str
    project_id: str
    user_id: str
    image_id: str                 # "" when booted from a volume
    flavor: Flavor                # the flavor as it was when applied (Nova embeds a copy)
    created_at: float
    updated_at: float             # moved only by touch()
    create_request_id: str | None  # None: derived from the id (see create_request_id())
    vm_state: str = states.BUILDING
    task_state: str | None = "scheduling"
    power_state: int = states.NOSTATE
    steps: tuple[Step, ...] | None = None
    old_flavor: Flavor | None = None
    launched_at: float | None = None
    built_at: float | None = None   # the first launch (launched_at moves on rebuild, resize)
    deleted_at: float | None = None
    deleted: bool = False
    host: str | None = None
    holds_room: bool = False      # its flavor is counted in the host's use (placed, not offloaded)
    availability_zone: str | None = None
    pinned_az: str | None = None
    reservation_id: str = ""
    launch_index: int = 0
    hostname: str | None = None   # None: derived from the name
    description: str | None = None
    key_name: str | None = None
    user_data: str | None = None
    access_ipv4: str | None = None
    access_ipv6: str | None = None
    config_drive: bool = False
    auto_disk_config: bool = False
    locked_by: str | None = None  # "owner" or "admin"
    locked_reason: str | None = None
    metadata: dict[str, str] | None = None
    tags: list[str] | None = None
    # one entry per NIC: the fixed IP asked for, or None for an allocated one
    nics: tuple[str | None, ...] | None = None
    security_groups: tuple[str, ...] | None = None   # None: ("default",)
    volumes: tuple[str, ...] | None = None
    fault: tuple[int, str, float] | None = None      # (code, message, created)
    actions: list[Action] | None = None
    image_props: dict[str, str] | None = None        # 2.98: kept from the image at (re)build
    scheduler_hints: dict[str, list[str]] | None = None   # 2.100: as given at creation
    group_id: str | None = None                      # the server group it was created in
    # who created it: (user name, project name, "role,role"), as Nova keeps
    # them for the server's snapshots; one shared tuple per creator
    creator: tuple[str, str, str] | None = None
    shelved_image_id: str | None = None              # the snapshot a shelve made
    watcher: ServerWatcher | None = None             # the store holding it

    @property
    def status(self) -> str:
        if self.deleted:
            return "DELETED"
        return states.status_of(self.vm_state, self.task_state)

    def addresses(self) -> list[tuple[str, str, str]]:
        """(network label, address, MAC) per NIC, derived rather than stored."""
        return [(NETWORK_LABEL, ip or fixed_ip(self.seq, i), mac_address(self.seq, i))
                for i, ip in enumerate(self.nics or ())]

    @property
    def locked(self) -> bool:
        return self.locked_by is not None

    def settle(self, now: float) -> bool:
        """Apply the steps that are due; True when the server just vanished."""
        steps = self.steps
        if steps is None or steps[0][0] > now:
            return False
        vanished = False
        index = 0
        for index, step in enumerate(steps):
            due, vm_state, task_state, power_state = step[:4]
            if due > now:
                break
            if vm_state == states.ACTIVE and self.launched_at is None:
                self.launched_at = self.built_at = due
            elif len(step) > 4:
                self.launched_at = due
            if vm_state == states.DELETED and not self.deleted:
                self.deleted = True
                self.deleted_at = due
                vanished = True
            elif vm_state == states.SHELVED_OFFLOADED and self.vm_state != vm_state:
                # off its host: back to the zone it asked for, if any
                self.host, self.availability_zone = None, self.pinned_az
            self.vm_state, self.task_state, self.power_state = vm_state, task_state, power_state
            self.touch(due)
        else:
            index = len(steps)
        self.steps = steps[index:] or None
        return vanished

    def schedule(self, steps: list[Step]) -> None:
        self.steps = tuple(steps) if steps else None
        if self.steps is not None and self.watcher is not None:
            self.watcher.scheduled(self)

    def touch(self, when: float) -> None:
        """The server changed at `when` (`updated_at` never goes back)."""
        if when <= self.updated_at:
            return
        if self.watcher is None:
            self.updated_at = when
        else:
            self.watcher.move(self, when)

    def record(self, action: Action) -> None:
        if self.actions is None:
            self.actions = []
        self.actions.append(action)

    @property
    def finish_time(self) -> float:
        """When the current operation ends (now-ish if none is running)."""
        return self.steps[-1][0] if self.steps else self.updated_at

    def meta(self) -> dict[str, Any]:
        return dict(self.metadata) if self.metadata else {}
