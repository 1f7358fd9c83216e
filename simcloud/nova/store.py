"""One simulated Nova's state: servers with their indexes, flavors,
keypairs, server groups, the site's capacity and the projects' quotas.

Indexes are kept so that a list never walks servers it cannot return: by id,
and per project and site-wide (for `all_tenants`) in creation, uuid and
change order (`simcloud.nova.server_index`). The store watches its servers
(`model.ServerWatcher`): it moves a server in the change orders when its
`updated_at` moves, and keeps the servers that have timed steps to come, so
that a list by change settles only those before it bisects. Deleted servers
stay as tombstones (Nova keeps deleted rows; `changes-since` shows them)
until `tombstone_seconds` after their deletion.
"""
from __future__ import annotations

import dataclasses
import heapq
import itertools
import uuid
from typing import Callable

from simcloud.nova.model import Flavor, Keypair, Server, ServerGroup
from simcloud.nova.quotas import QuotaBook, Quotas
from simcloud.nova.server_index import ScopeServers

__all__ = ["Capacity", "ComputeStore", "ProjectServers", "Quotas"]


@dataclasses.dataclass
class Capacity:
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclasses.dataclass(slots=True)
class ProjectServers:
    servers: ScopeServers = dataclasses.field(default_factory=ScopeServers)  # tombstones too
    instances: int = 0
    cores: int = 0
    ram: int = 0
    by_user: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # [instances, cores, ram]

    def charge(self, user_id: str, instances: int, cores: int, ram: int) -> None:
        self.instances += instances
        self.cores += cores
        self.ram += ram
        counts = self.by_user.setdefault(user_id, [0, 0, 0])
        counts[0] += instances
        counts[1] += cores
        counts[2] += ram


DEFAULT_FLAVORS = (
    # name, vcpus, ram MB, disk GB
    ("m1.tiny", 1, 512, 1),
    ("m1.small", 1, 2048, 20),
    ("m1.medium", 2, 4096, 40),
    ("m1.large", 4, 8192, 80),
    ("m1.xlarge", 8, 16384, 160),
)

_FLAVOR_NAMESPACE = uuid.UUID("7b0e5c4e-1f5a-4c1b-9a59-5d6f1c3b2a10")


class ComputeStore:
    def __init__(self, *, site_name: str, availability_zone: str, capacity: Capacity,
                 quotas: Quotas, clock: Callable[[], float],
                 tombstone_seconds: float = 3600.0) -> None:
        self.site_name = site_name
        self.availability_zone = availability_zone
        self.capacity = capacity
        self.quotas = quotas                   # the configured defaults
        self.quota_book = QuotaBook(quotas)
        self.clock = clock
        self.tombstone_seconds = tombstone_seconds
        self.host = f"{site_name}-compute"
        self.hypervisor_id = str(uuid.uuid5(_FLAVOR_NAMESPACE, f"{site_name}/hypervisor"))
        self.service_id = str(uuid.uuid5(_FLAVOR_NAMESPACE, f"{site_name}/service"))
        self.used = Capacity(0, 0, 0)
        self.running_vms = 0
        self.by_id: dict[str, Server] = {}
        self.everyone = ScopeServers()
        self.projects: dict[str, ProjectServers] = {}
        self._unsettled: set[Server] = set()      # servers with steps to come (or just done)
        self._tombstones: list[tuple[float, int, str]] = []   # heap of (purge time, seq, id)
        self._seq = itertools.count(1)
        self._last_created = 0.0
        self.flavors: dict[str, Flavor] = {}
        self._flavor_seq = itertools.count(1)
        self.keypairs: dict[str, dict[str, Keypair]] = {}
        self._keypair_seq = itertools.count(1)
        self.groups: dict[str, ServerGroup] = {}     # creation order
        self._creators: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        for name, vcpus, ram, disk in DEFAULT_FLAVORS:
            self.add_flavor(Flavor(
                id=str(uuid.uuid5(_FLAVOR_NAMESPACE, f"{site_name}/{name}")),
                internal_id=next(self._flavor_seq), name=name, vcpus=vcpus, ram=ram,
                disk=disk, created_at=clock()))

    # ---- servers -----------------------------------------------------
    def creator(self, user_name: str, project_name: str, roles: str) -> tuple[str, str, str]:
        """One tuple per creator, shared by all their servers."""
        key = (user_name, project_name, roles)
        return self._creators.setdefault(key, key)

    def next_seq(self) -> int:
        return next(self._seq)

    def creation_time(self) -> float:
        """Never earlier than the previous server's: creation order is time order."""
        self._last_created = max(self.clock(), self._last_created)
        return self._last_created

    def add_server(self, server: Server) -> None:
        self.add_servers([server])

    def add_servers(self, servers: list[Server]) -> None:
        """New servers, created in this order (a batch is indexed in one sort)."""
        per_project: dict[str, list[Server]] = {}
        for server in servers:
            self.by_id[server.id] = server
            server.watcher = self
            if server.steps is not None:
                self._unsettled.add(server)
            per_project.setdefault(server.project_id, []).append(server)
        self.everyone.add_all(servers)
        for project_id, batch in per_project.items():
            project = self.projects.setdefault(project_id, ProjectServers())
            project.servers.add_all(batch)
            for server in batch:
                project.charge(server.user_id, 1, server.flavor.vcpus, server.flavor.ram)

    # ---- model.ServerWatcher -------------------------------------------
    def move(self, server: Server, updated_at: float) -> None:
        scopes = (self.everyone, self.project(server.project_id).servers)
        for scope in scopes:
            scope.by_change.remove(server)
        server.updated_at = updated_at
        for scope in scopes:
            scope.by_change.add(server)

    def scheduled(self, server: Server) -> None:
        self._unsettled.add(server)

    def settle_all(self, now: float) -> None:
        """Apply every step due by `now`, so that the change orders are true
        at `now` (a list by change order reads them without settling)."""
        for server in list(self._unsettled):
            server.settle(now)
            if server.steps is None:
                self._unsettled.discard(server)

    # ---- lookups -------------------------------------------------------
    def get(self, server_id: str) -> Server | None:
        """The server, settled to now; None when unknown or deleted."""
        server = self.by_id.get(server_id)
        if server is None:
            return None
        server.settle(self.clock())
        return None if server.deleted else server

    def get_any(self, server_id: str) -> Server | None:
        """Deleted tombstones included (list markers may name them)."""
        server = self.by_id.get(server_id)
        if server is not None:
            server.settle(self.clock())
        return server

    def project(self, project_id: str) -> ProjectServers:
        return self.projects.get(project_id) or ProjectServers()

    def scope(self, project_id: str | None) -> ScopeServers:
        """Servers of one project, or of the whole site."""
        if project_id is None:
            return self.everyone
        return self.project(project_id).servers

    def start_delete(self, server: Server, done_at: float) -> None:
        """Release what the server holds now; it vanishes at `done_at`."""
        self.release_usage(server)
        self.vacate(server)
        if server.old_flavor is not None:
            self.release(server.old_flavor)
            server.old_flavor = None
        heapq.heappush(self._tombstones,
                       (done_at + self.tombstone_seconds, server.seq, server.id))
        self.purge()

    def release_usage(self, server: Server) -> None:
        project = self.projects.get(server.project_id)
        if project is not None:
            project.charge(server.user_id, -1, -server.flavor.vcpus, -server.flavor.ram)

    def change_flavor_usage(self, server: Server, old: Flavor, new: Flavor) -> None:
        """The project's (and its user's) cores and RAM follow a resize or revert."""
        self.project(server.project_id).charge(server.user_id, 0, new.vcpus - old.vcpus,
                                               new.ram - old.ram)

    def server_usage(self, project_id: str, user_id: str | None = None) -> tuple[int, int, int]:
        """(instances, cores, ram) held by the project, or by one user in it."""
        project = self.project(project_id)
        if user_id is None:
            return project.instances, project.cores, project.ram
        instances, cores, ram = project.by_user.get(user_id, (0, 0, 0))
        return instances, cores, ram

    def purge(self) -> None:
        """Forget tombstones older than the retention time."""
        now = self.clock()
        while self._tombstones and self._tombstones[0][0] <= now:
            _, _, server_id = heapq.heappop(self._tombstones)
            server = self.by_id.pop(server_id, None)
            if server is None:
                continue
            for scope in (self.everyone, self.project(server.project_id).servers):
                scope.remove(server)
            self._unsettled.discard(server)

    # ---- capacity ----------------------------------------------------
    def occupy(self, server: Server) -> None:
        """The server runs on the site's host from now on."""
        self.claim(server.flavor)
        self.running_vms += 1
        server.host = self.host
        server.availability_zone = self.availability_zone
        server.holds_room = True

    def vacate(self, server: Server) -> None:
        """The host's room the server held is free (deleted or offloaded)."""
        if server.holds_room:
            self.release(server.flavor)
            self.running_vms -= 1
            server.holds_room = False

    def fits(self, flavor: Flavor) -> bool:
        cap, used = self.capacity, self.used
        return (used.vcpus + flavor.vcpus <= cap.vcpus
                and used.ram_mb + flavor.ram <= cap.ram_mb
                and used.disk_gb + flavor.disk + flavor.ephemeral <= cap.disk_gb)

    def claim(self, flavor: Flavor) -> None:
        self.used.vcpus += flavor.vcpus
        self.used.ram_mb += flavor.ram
        self.used.disk_gb += flavor.disk + flavor.ephemeral

    def release(self, flavor: Flavor) -> None:
        self.used.vcpus -= flavor.vcpus
        self.used.ram_mb -= flavor.ram
        self.used.disk_gb -= flavor.disk + flavor.ephemeral

    # ---- flavors -----------------------------------------------------
    def add_flavor(self, flavor: Flavor) -> None:
        self.flavors[flavor.id] = flavor

    def new_flavor_internal_id(self) -> int:
        return next(self._flavor_seq)

    def flavor_by_name(self, name: str) -> Flavor | None:
        return next((f for f in self.flavors.values() if f.name == name), None)

    # ---- keypairs ----------------------------------------------------
    def user_keypairs(self, user_id: str) -> dict[str, Keypair]:
        return self.keypairs.setdefault(user_id, {})

    def new_keypair_id(self) -> int:
        return next(self._keypair_seq)
