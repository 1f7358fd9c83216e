"""The differences between real Nova/Glance and simcloud that are kept, each
with the reference of the paragraph of docs/simcloud-fidelity.md that gives
its reason. Patterns are fnmatch globs on the step, the place and the kind
of a `Difference`."""
from __future__ import annotations

import dataclasses
import fnmatch

from tests.interop.fidelity.compare import Difference


@dataclasses.dataclass(frozen=True)
class Accepted:
    ref: str            # "[F1]": the paragraph in docs/simcloud-fidelity.md
    step: str
    where: str
    kind: str = "*"

    def matches(self, diff: Difference) -> bool:
        return (fnmatch.fnmatchcase(diff.step, self.step)
                and fnmatch.fnmatchcase(diff.where, self.where)
                and fnmatch.fnmatchcase(diff.kind, self.kind))


ACCEPTED: tuple[Accepted, ...] = (
    Accepted("[F1]", "servers.*", "body.*OS-EXT-SRV-ATTR:root_device_name", "value"),
    Accepted("[F2]", "servers.show.paused@*", "body.server.OS-EXT-STS:power_state", "value"),
    Accepted("[F3]", "actions.console-output*", "body.output", "value"),
    Accepted("[F4]", "images.list.backups", "body.images*.status", "value"),
    Accepted("[F4]", "images.list.backups", "body.images*.size", "type"),
    Accepted("[F4]", "images.list.backups", "body.images*.checksum", "type"),
    Accepted("[F4]", "images.list.backups", "body.images*.os_hash_algo", "type"),
    Accepted("[F4]", "images.list.backups", "body.images*.os_hash_value", "type"),
    Accepted("[F4]", "images.list.backups", "body.images*.stores", "only-sim"),
)


def reference(diff: Difference) -> str:
    for entry in ACCEPTED:
        if entry.matches(diff):
            return entry.ref
    return ""


def unused(diffs: list[Difference]) -> list[Accepted]:
    """Accepted entries that no difference matches any more."""
    return [entry for entry in ACCEPTED if not any(entry.matches(d) for d in diffs)]
