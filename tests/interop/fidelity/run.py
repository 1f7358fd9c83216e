"""Running the scenario on two targets and comparing the recordings."""
from __future__ import annotations

import dataclasses
import json
import pathlib
import secrets

from tests.interop.fidelity.compare import Comparison, Difference, Normalizer
from tests.interop.fidelity.recorder import Exchange
from tests.interop.fidelity.scenario import Scenario, max_version, parse_version
from tests.interop.fidelity.targets import RealTarget, SimTarget, Target, new_prefix


@dataclasses.dataclass
class Outcome:
    top: str
    real: list[Exchange]          # the reference side (the real site, or the first simcloud)
    sim: list[Exchange]
    differences: list[Difference]

    def save(self, path: pathlib.Path) -> None:
        path.write_text(json.dumps({
            "top": self.top, "real": [e.to_dict() for e in self.real],
            "sim": [e.to_dict() for e in self.sim],
            "differences": [dataclasses.asdict(d) for d in self.differences]}, indent=1))


def _normalizer(target: Target) -> Normalizer:
    urls = {"compute": target.bases["compute-root"], "image": target.bases["image"],
            "keystone": target.keystone}
    return Normalizer(target.labels, target.prefix, urls)


def compare(reference: Target, other: Target) -> Outcome:
    """Prepare both, run the scenario at each, compare; always clean up."""
    try:
        recorders = reference.open(), other.open()
        for target, recorder in zip((reference, other), recorders):
            target.max_version = max_version(recorder)
        top = min(reference.max_version, other.max_version, key=parse_version)
        disk = secrets.randbelow(9000) + 1000     # this run's flavors' disk (see Scenario)
        one, two = Scenario(reference, top, disk).run(), Scenario(other, top, disk).run()
        diffs = Comparison(_normalizer(reference), _normalizer(other)).exchanges(one, two)
        return Outcome(top, one, two, diffs)
    finally:
        other.close()
        reference.close()


def run(build_seconds: float = 1.0) -> Outcome:
    """The real site against a simcloud site."""
    return compare(RealTarget(new_prefix()), SimTarget(new_prefix(), build_seconds))


def run_sim_vs_sim(build_seconds: float = 1.0) -> Outcome:
    """Two simcloud sites: whatever differs is noise the harness lets through."""
    return compare(SimTarget(new_prefix(), build_seconds), SimTarget(new_prefix(), build_seconds))
