"""A check for the cascade's first promise to tenants: no bottom id and no
site URL ever appears in what the cascade answers.

    assert_no_leak(body, [bottom_id, site.endpoints["compute"]])

Walks any JSON value (keys as well as values) and fails naming the path of
the first string that contains a forbidden substring.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def leaks(obj: Any, forbidden: Iterable[str], path: str = "$") -> Iterator[tuple[str, str]]:
    """Every (path, forbidden string) found in `obj`."""
    needles = [needle for needle in forbidden if needle]
    yield from _walk(obj, needles, path)


def assert_no_leak(obj: Any, forbidden: Iterable[str]) -> None:
    found = list(leaks(obj, forbidden))
    assert not found, "leaked into the answer: " + "; ".join(f"{needle!r} at {path}" for path, needle in found)


def _walk(obj: Any, needles: list[str], path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            child = f"{path}.{key}"
            yield from _check(str(key), needles, f"{child} (key)")
            yield from _walk(value, needles, child)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            yield from _walk(value, needles, f"{path}[{index}]")
    elif obj is not None and not isinstance(obj, bool):
        yield from _check(obj if isinstance(obj, str) else str(obj), needles, path)


def _check(text: str, needles: list[str], path: str) -> Iterator[tuple[str, str]]:
    for needle in needles:
        if needle in text:
            yield path, needle
