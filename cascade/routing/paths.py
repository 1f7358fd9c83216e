"""Field paths: the small language `resources.kinds` uses to say where ids,
links and availability zones live in a JSON body, and the walking helpers
that `routing.translate` reads and rewrites bodies with.

A path is keys joined by dots; a key ending in `[]` means "every element of
the list under this key":

    id
    image.id
    os-extended-volumes:volumes_attached[].id
    links

Keys may hold colons and dashes, never dots. Walking is tolerant: a missing
key, a None, or a value of an unexpected type yields nothing rather than
raising, because the same declaration serves every microversion of a body
(a field absent at 2.1 may be present at 2.96, and the other way round).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple


class Segment(NamedTuple):
    key: str
    each: bool          # the key holds a list, and the path goes on through every element


class Slot(NamedTuple):
    """Where one value lives: `container[key]` exists when the slot is yielded."""

    container: Any
    key: Any

    @property
    def value(self) -> Any:
        return self.container[self.key]


@functools.lru_cache(maxsize=1024)
def parse(path: str) -> tuple[Segment, ...]:
    """The path's segments (cached: the same few paths are walked for every row)."""
    if not path:
        raise ValueError("empty field path")
    segments = []
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        if not key:
            raise ValueError(f"invalid field path {path!r}")
        segments.append(Segment(key, each))
    return tuple(segments)


def parent(path: str) -> str:
    """The path of the object holding the path's last key ("" for a top-level key)."""
    head, _, _ = path.rpartition(".")
    return head


def sibling(path: str, key: str) -> str:
    """The path of `key` beside the path's last key: sibling("image.links", "id") == "image.id"."""
    head = parent(path)
    return f"{head}.{key}" if head else key


def slots(obj: Any, path: str) -> Iterator[Slot]:
    """Every existing place the path reaches in `obj`, in document order."""
    return slots_of(obj, parse(path))


def slots_of(obj: Any, segments: tuple[Segment, ...]) -> Iterator[Slot]:
    """`slots` for an already parsed path."""
    return (Slot(container, key) for container, key in finder(segments)(obj))


Finder = Callable[[Any], Sequence[tuple[Any, Any]]]
_NOWHERE: tuple[tuple[Any, Any], ...] = ()   # what a finder gives for a path not there (no list made)


@functools.lru_cache(maxsize=1024)
def finder(segments: tuple[Segment, ...]) -> Finder:
    """A function giving every (container, key) the parsed path reaches in an
    object, in document order: `slots` for code that walks the same path
    through thousands of rows (a listed page), with the usual shapes
    ("key", "key.key", "key[]", "key[].key") walked without the generic loop."""
    if len(segments) == 1 and not segments[0].each:
        key = segments[0].key

        def find_key(obj: Any) -> Sequence[tuple[Any, Any]]:
            return [(obj, key)] if _is_mapping(obj) and key in obj else _NOWHERE
        return find_key
    if len(segments) == 2 and not segments[0].each and not segments[1].each:
        outer, inner = segments[0].key, segments[1].key

        def find_nested(obj: Any) -> Sequence[tuple[Any, Any]]:
            if _is_mapping(obj) and outer in obj:
                node = obj[outer]
                if _is_mapping(node) and inner in node:
                    return [(node, inner)]
            return _NOWHERE
        return find_nested
    if len(segments) == 1:
        key = segments[0].key

        def find_elements(obj: Any) -> Sequence[tuple[Any, Any]]:
            if _is_mapping(obj) and key in obj:
                value = obj[key]
                if isinstance(value, list):
                    return [(value, index) for index in range(len(value))]
            return _NOWHERE
        return find_elements
    if len(segments) == 2 and segments[0].each and not segments[1].each:
        outer, inner = segments[0].key, segments[1].key

        def find_in_elements(obj: Any) -> Sequence[tuple[Any, Any]]:
            if _is_mapping(obj) and outer in obj:
                value = obj[outer]
                if isinstance(value, list):
                    return [(node, inner) for node in value if _is_mapping(node) and inner in node]
            return _NOWHERE
        return find_in_elements
    return lambda obj: _walk(obj, segments)


def _walk(obj: Any, segments: tuple[Segment, ...]) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    nodes: list[Any] = [obj]
    last = len(segments) - 1
    for depth, (key, each) in enumerate(segments):
        reached: list[Any] = []
        for node in nodes:
            if not _is_mapping(node) or key not in node:
                continue
            value = node[key]
            if not each:
                if depth == last:
                    found.append((node, key))
                else:
                    reached.append(value)
            elif isinstance(value, list):
                if depth == last:
                    found.extend((value, index) for index in range(len(value)))
                else:
                    reached.extend(value)
        nodes = reached
    return found


def _is_mapping(node: Any) -> bool:
    # parsed JSON is made of dicts: skip the slower ABC check for them
    return type(node) is dict or isinstance(node, Mapping)


def values(obj: Any, path: str) -> list[Any]:
    """Every value the path reaches (None values included)."""
    return [slot.value for slot in slots(obj, path)]


def get(obj: Any, path: str, default: Any = None) -> Any:
    """The first value the path reaches, or `default`."""
    for slot in slots(obj, path):
        return slot.value
    return default


def update(obj: Any, path: str, change: Callable[[Any], Any]) -> int:
    """Replace every value the path reaches by `change(value)`; returns how many.

    Only existing keys are touched: a path that reaches nothing adds nothing.
    """
    found = list(slots(obj, path))
    for slot in found:
        slot.container[slot.key] = change(slot.value)
    return len(found)


def assign(obj: Any, path: str, value: Any) -> int:
    """Set every existing place the path reaches to `value`; returns how many."""
    return update(obj, path, lambda _old: value)


def remove(obj: Any, path: str) -> int:
    """Delete the last key of the path wherever it exists (not list elements)."""
    if parse(path)[-1].each:
        raise ValueError(f"remove() deletes keys, not list elements: {path!r}")
    found = list(slots(obj, path))
    for slot in found:
        del slot.container[slot.key]
    return len(found)
