"""Running the scenario on both targets and comparing the recordings."""
from __future__ import annotations

import dataclasses
import secrets
import json
import pathlib

from tests.interop.fidelity.compare import Comparison, Difference, Normalizer
from tests.interop.fidelity.recorder import Exchange
from tests.interop.fidelity.scenario import Scenario, max_version, parse_version
from tests.interop.fidelity.targets import RealTarget, SimTarget, Target, new_prefix


def _disk() -> int:
    """A root disk size for this run's flavors (see Scenario)."""
    return secrets.randbelow(9000) + 1000


@dataclasses.dataclass
class Outcome:
    top: str
    real: list[Exchange]
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


def run(build_seconds: float = 1.0) -> Outcome:
    prefix = new_prefix()
    real, sim = RealTarget(prefix), SimTarget(new_prefix(), build_seconds=build_seconds)
    try:
        real_rec, sim_rec = real.open(), sim.open()
        real.max_version, sim.max_version = max_version(real_rec), max_version(sim_rec)
        top = min(real.max_version, sim.max_version, key=parse_version)
        disk = _disk()
        real_ex = Scenario(real, top, disk).run()
        sim_ex = Scenario(sim, top, disk).run()
        diffs = Comparison(_normalizer(real), _normalizer(sim)).exchanges(real_ex, sim_ex)
        return Outcome(top, real_ex, sim_ex, diffs)
    finally:
        sim.close()
        real.close()


def run_sim_vs_sim(build_seconds: float = 1.0) -> Outcome:
    """Both sides at simcloud: whatever differs is noise the harness lets through."""
    one, two = SimTarget(new_prefix(), build_seconds), SimTarget(new_prefix(), build_seconds)
    try:
        rec_one, rec_two = one.open(), two.open()
        one.max_version, two.max_version = max_version(rec_one), max_version(rec_two)
        top = min(one.max_version, two.max_version, key=parse_version)
        disk = _disk()
        ex_one, ex_two = Scenario(one, top, disk).run(), Scenario(two, top, disk).run()
        diffs = Comparison(_normalizer(one), _normalizer(two)).exchanges(ex_one, ex_two)
        return Outcome(top, ex_one, ex_two, diffs)
    finally:
        two.close()
        one.close()
