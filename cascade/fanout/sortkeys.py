"""Sort keys of fanned-out lists: the order a merged list is in, and where a
global marker falls in that order.

A list's order is its sort keys (Nova's `sort_key`/`sort_dir`, Glance's
`sort`), then the position of the site a row came from, then the site's own
order. `SortSpec.key(row)` gives the comparable for the first part; the merge
adds the rest.

Values compare the way a site's database would: None first in ascending
order (last in descending), numbers as numbers, strings as strings (ISO
timestamps of one format compare correctly as strings). Values of different
types never raise: they are ranked by type first.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

ASC, DESC = "asc", "desc"

# Rank of a value's type, so that values of different types still compare.
_NONE, _BOOL, _NUMBER, _TEXT, _OTHER = range(5)


def _comparable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (_NONE, 0)
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, (int, float)):
        return (_NUMBER, value)
    if isinstance(value, str):
        return (_TEXT, value)
    return (_OTHER, json.dumps(value, sort_keys=True, default=str))


@functools.total_ordering
class _Descending:
    """Reverses the order of the value it wraps (strings cannot be negated)."""

    __slots__ = ("value",)

    def __init__(self, value: tuple[int, Any]) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: "_Descending") -> bool:
        return other.value < self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"desc{self.value!r}"


@dataclasses.dataclass(frozen=True)
class SortSpec:
    """The sort keys of a list: ((field, "asc" | "desc"), ...)."""

    keys: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple((str(f), str(d)) for f, d in self.keys))
        for field, direction in self.keys:
            if direction not in (ASC, DESC):
                raise ValueError(f"sort direction of {field!r} must be 'asc' or 'desc', not {direction!r}")

    @classmethod
    def of(cls, fields: Sequence[str], directions: Sequence[str] = (), *, default: str = DESC) -> "SortSpec":
        """Pairs keys with directions the way Nova does: missing directions
        take `default`; more directions than keys is an error."""
        if len(directions) > len(fields):
            raise ValueError("more sort directions than sort keys")
        padded = list(directions) + [default] * (len(fields) - len(directions))
        return cls(tuple(zip(fields, padded)))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field for field, _ in self.keys)

    def key(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The comparable of a row for the merge (missing fields count as None)."""
        parts: list[Any] = []
        for field, direction in self.keys:
            value = _comparable(row.get(field))
            parts.append(value if direction == ASC else _Descending(value))
        return tuple(parts)

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The sort-key values of a row, e.g. to remember where a marker sits."""
        return {field: row.get(field) for field in self.fields}


RowPredicate = Callable[[Mapping[str, Any], int], bool]


def after_marker(spec: SortSpec, marker_row: Mapping[str, Any], marker_stream: int) -> RowPredicate:
    """A predicate telling whether a row comes strictly after a global marker.

    `marker_row` holds the marker's sort-key values (any mapping with those
    fields); `marker_stream` is the merge position of the marker's site. The
    predicate takes a row and its stream's position (streams are merged in
    position order, e.g. by `Site.position`, so any rank consistent with that
    order works, even for a marker whose site is absent from this merge):

    - streams before the marker's: rows whose key is greater than the marker's;
    - streams after it: rows whose key is greater or equal (ties go by stream);
    - the marker's own stream: always true, because that site is asked to
      start after the marker itself (its own `marker`), which also honours
      the site's unknown tie-break.
    """
    marker_key = spec.key(marker_row)

    def is_after(row: Mapping[str, Any], stream_index: int) -> bool:
        if stream_index == marker_stream:
            return True
        key = spec.key(row)
        return key > marker_key if stream_index < marker_stream else key >= marker_key

    return is_after

