"""bash scripts/conformance [run] [--setups a,b] [--services compute,image] [--work DIR]
bash scripts/conformance report                 re-render docs/conformance.md from saved results
bash scripts/conformance failures SETUP [--service S] [--diagnoses FILE] [--not-in OTHER]"""
from __future__ import annotations

import argparse
import datetime
import fcntl
import os
import pathlib
import shlex
import sys
import time
import traceback

from tools.conformance import failures, harness, report, setups

DEFAULT_WORK = pathlib.Path(os.environ.get("CONFORMANCE_WORK", "/tmp/cascade-conformance"))
DOC = setups.ROOT / "docs" / "conformance.md"


def _list(value: str, allowed) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


def write_doc(work: pathlib.Path, command: str) -> None:
    runs = {(s, sv): harness.load(work, s, sv) for s in setups.ORDER for sv in report.SERVICES}
    text = report.render(runs, command, work)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = text.replace("\n\n", f"\n\nRendered {stamp}.\n\n", 1) + "\n"
    DOC.write_text(text)
    print(f"conformance: wrote {DOC}")


def lock(work: pathlib.Path):
    """One run at a time per work directory: two runs would share workspaces
    and state directories."""
    handle = open(work / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"conformance: another run is using {work}; waiting for it", flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def cmd_run(args) -> int:
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    held = lock(work)  # noqa: F841 (held until exit)
    failed = False
    for name in [s for s in setups.ORDER if s in args.setups]:
        state = setups.fresh_dir(work / "state" / name)
        print(f"conformance: {name}: starting", flush=True)
        t0 = time.monotonic()
        try:
            with setups.SETUPS[name](state) as endpoint:
                print(f"conformance: {name}: region {endpoint.region}, images {endpoint.images}, "
                      f"flavors {endpoint.flavors}, compute {endpoint.compute['min']}-{endpoint.compute['max']}",
                      flush=True)
                for service in args.services:
                    if service not in endpoint.services:
                        continue
                    record = harness.run(endpoint, service, work, args.concurrency)
                    (work / f"{name}-{service}.failures.md").write_text(failures.render(record))
                    c = record["counts"]
                    print(f"conformance: {name} {service}: {c['passed']} passed, {c['failed']} failed, "
                          f"{c['skipped']} skipped in {record['duration_s']} s", flush=True)
        except setups.Unavailable as e:
            print(f"conformance: {name}: skipped: {e}", flush=True)
        except Exception:
            failed = True
            print(f"conformance: {name}: set-up failed:\n{traceback.format_exc()}", flush=True)
        print(f"conformance: {name}: done in {round(time.monotonic() - t0)} s", flush=True)
    write_doc(work, args.command)
    return 1 if failed else 0


def cmd_report(args) -> int:
    write_doc(args.work, args.command)
    return 0


def cmd_failures(args) -> int:
    services = [args.service] if args.service else list(report.SERVICES)
    for service in services:
        record = harness.load(args.work, args.setup, service)
        if record is None:
            print(f"no results for {args.setup} {service} in {args.work}", file=sys.stderr)
            continue
        only = None
        if args.not_in:
            other = harness.load(args.work, args.not_in, service)
            if other is None:
                print(f"no results for {args.not_in} {service}", file=sys.stderr)
                continue
            only = {t for t, s in record["tests"].items() if other["tests"].get(t) == "pass"}
        sys.stdout.write(failures.render(record, args.diagnoses, only) + "\n")
    return 0


def main(argv: list[str]) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--work", type=pathlib.Path, default=DEFAULT_WORK,
                        help=f"workspaces, per-test JSON results and state dirs [{DEFAULT_WORK}]")
    p = argparse.ArgumentParser(prog="scripts/conformance", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", parents=[common], help="run set-ups (the default), then write docs/conformance.md")
    r.add_argument("--setups", type=lambda v: _list(v, setups.ORDER), default=list(setups.ORDER),
                   help="comma list of " + ",".join(setups.ORDER) + "; the others' last results are reused")
    r.add_argument("--services", type=lambda v: _list(v, report.SERVICES), default=list(report.SERVICES))
    r.add_argument("--concurrency", type=int, default=2)
    sub.add_parser("report", parents=[common], help="only re-render docs/conformance.md from the saved results")
    f = sub.add_parser("failures", parents=[common],
                       help="markdown list of one run's failures with their failing calls")
    f.add_argument("setup", choices=setups.ORDER)
    f.add_argument("--service", choices=report.SERVICES, help="default: every service with results")
    f.add_argument("--diagnoses", help="YAML file of `test-id regex: one-line diagnosis`")
    f.add_argument("--not-in", choices=setups.ORDER, help="only tests that pass in this other set-up")
    if not argv or argv[0] not in ("run", "report", "failures", "-h", "--help"):
        argv = ["run"] + argv
    args = p.parse_args(argv)
    args.command = "bash scripts/conformance " + shlex.join(argv)
    return {"run": cmd_run, "report": cmd_report, "failures": cmd_failures}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
