"""Compute microversions: reading the requested version from the
`OpenStack-API-Version: compute X.Y` (or legacy `X-OpenStack-Nova-API-Version`)
header, checking it against the site's range, and the headers every versioned
answer echoes.

A version is a plain `(major, minor)` tuple so handlers compare with
`ctx.version >= (2, 47)`.
"""
from __future__ import annotations

import re
from typing import Mapping

from simcloud.nova.errors import NovaError

Version = tuple[int, int]

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
DEFAULT: Version = (2, 1)

_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


def parse(text: str) -> Version:
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise NovaError(
            400, f"API Version String {text} is of invalid format. Must be of "
                 "format MajorNum.MinorNum.")
    return int(match.group(1)), int(match.group(2))


def to_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def _requested(headers: Mapping[str, str]) -> str | None:
    """The compute entry of the standard header wins over the legacy one."""
    standard = headers.get(HEADER)
    if standard:
        for part in standard.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute" and value.strip():
                return value.strip()
    legacy = headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy and legacy.strip() else None


class Unsupported(NovaError):
    """A well-formed version out of the site's range (406); Nova still echoes it."""

    def __init__(self, requested: Version, minimum: Version, maximum: Version) -> None:
        super().__init__(
            406, f"Version {to_text(requested)} is not supported by the API. "
                 f"Minimum is {to_text(minimum)} and maximum is {to_text(maximum)}.")
        self.requested = to_text(requested)


def negotiate(headers: Mapping[str, str], minimum: Version, maximum: Version) -> Version:
    requested = _requested(headers)
    if requested is None:
        return DEFAULT if minimum <= DEFAULT else minimum
    if requested.lower() == "latest":
        return maximum
    version = parse(requested)
    if not minimum <= version <= maximum:
        raise Unsupported(version, minimum, maximum)
    return version


def echo_headers(text: str) -> list[tuple[str, str]]:
    return [(HEADER, f"compute {text}"), (LEGACY_HEADER, text),
            ("Vary", f"{HEADER}, {LEGACY_HEADER}")]
