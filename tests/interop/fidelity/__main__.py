"""`python -m tests.interop.fidelity [--all] [--save FILE] [--sim-vs-sim]`

Runs the scenario straight at realstack's RegionOne and at a simcloud site
of its own, and prints the differences as a table (by default only those
not accepted in `accepted.py`; `--all` prints the accepted ones too, with
their reference in docs/simcloud-fidelity.md). `--sim-vs-sim` runs it at two
simcloud sites instead (a check of the harness: nothing may differ). Exit
status 1 when a difference is not accepted.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from tests.interop.fidelity import accepted
from tests.interop.fidelity.compare import Difference
from tests.interop.fidelity.run import run, run_sim_vs_sim
from tests.interop.fidelity.targets import realstack_unreachable


def table(rows: list[tuple[Difference, str]]) -> str:
    headers = ("step", "where", "kind", "real", "simcloud", "accepted")
    cells = [headers] + [(d.step, d.where, d.kind, d.real, d.sim, ref) for d, ref in rows]
    widths = [min(max(len(row[i]) for row in cells), 60) for i in range(len(headers))]

    def line(row: tuple[str, ...]) -> str:
        return " | ".join(_clip(cell, width).ljust(width) for cell, width in zip(row, widths))
    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(row) for row in cells[1:]])


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[:width - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.interop.fidelity",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("--all", action="store_true", help="also print accepted differences")
    parser.add_argument("--save", type=pathlib.Path, help="write both recordings as JSON")
    parser.add_argument("--sim-vs-sim", action="store_true",
                        help="compare two simcloud sites (checks the harness)")
    parser.add_argument("--build-seconds", type=float, default=1.0,
                        help="build time of the simcloud site's servers")
    args = parser.parse_args(argv)
    if args.sim_vs_sim:
        outcome = run_sim_vs_sim(args.build_seconds)
    else:
        reason = realstack_unreachable()
        if reason:
            print(f"fidelity: {reason}", file=sys.stderr)
            return 2
        outcome = run(args.build_seconds)
    if args.save:
        outcome.save(args.save)
    rows = [(d, accepted.reference(d)) for d in outcome.differences]
    new = [row for row in rows if not row[1]]
    shown = rows if args.all else new
    print(f"microversions compared: 2.1, 2.37, {outcome.top} (top); "
          f"{len(outcome.real)} steps; {len(rows)} differences, {len(new)} not accepted")
    if shown:
        print(table(shown))
    stale = accepted.unused(outcome.differences) if not args.sim_vs_sim else []
    for entry in stale:
        print(f"accepted but not seen any more: {entry.ref} {entry.step} | {entry.where}")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
