"""The orders one scope of servers (a project's, or the whole site's) is kept
in, so that a list walks only the servers it returns:

- creation order, by `seq` (creation time never goes back, so this is also
  `created_at` order);
- uuid order;
- change order, by (`updated_at`, `seq`): the store moves a server here each
  time `Server.touch` moves its `updated_at`, so `changes-since` is a bisect.

Each order is a plain sorted list: a bisect finds a position in O(log n); an
insert or removal moves pointers (microseconds at 100,000 servers).
"""
from __future__ import annotations

import bisect
from typing import Callable, Hashable, Iterable

from simcloud.nova.model import Server


_FEW = 16


def _seq(server: Server) -> int:
    return server.seq


def _uuid(server: Server) -> str:
    return server.id


def _change(server: Server) -> tuple[float, int]:
    return server.updated_at, server.seq


class SortedServers:
    """Servers in the order of a key unique per server."""

    __slots__ = ("key", "items")

    def __init__(self, key: Callable[[Server], Hashable]) -> None:
        self.key = key
        self.items: list[Server] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, server: Server) -> None:
        bisect.insort(self.items, server, key=self.key)

    def extend(self, servers: Iterable[Server]) -> None:
        """Many at once: one sort rather than one insert each."""
        self.items.extend(servers)
        self.items.sort(key=self.key)

    def remove(self, server: Server) -> None:
        """`server` must still have the key it was added with."""
        items = self.items
        index = bisect.bisect_left(items, self.key(server), key=self.key)
        if index < len(items) and items[index] is server:
            del items[index]

    def first_at(self, value: object) -> int:
        """The index of the first server whose key is not below `value`."""
        return bisect.bisect_left(self.items, value, key=self.key)


class ScopeServers:
    """One scope's servers, tombstones included, in the three orders."""

    __slots__ = ("by_creation", "by_uuid", "by_change")

    def __init__(self) -> None:
        self.by_creation = SortedServers(_seq)
        self.by_uuid = SortedServers(_uuid)
        self.by_change = SortedServers(_change)

    def __len__(self) -> int:
        return len(self.by_creation)

    def add_all(self, servers: list[Server]) -> None:
        """A few are inserted one by one, many with one sort per order."""
        for order in (self.by_creation, self.by_uuid, self.by_change):
            if len(servers) > _FEW:
                order.extend(servers)
            else:
                for server in servers:
                    order.add(server)

    def remove(self, server: Server) -> None:
        for order in (self.by_creation, self.by_uuid, self.by_change):
            order.remove(server)

    def changed_between(self, since: float | None, before: float | None) -> list[Server]:
        """Servers with `since <= updated_at < before` (either bound may be
        None), oldest change first."""
        changes = self.by_change
        start = 0 if since is None else changes.first_at((since, -1))
        end = len(changes) if before is None else changes.first_at((before, -1))
        return changes.items[start:end]
