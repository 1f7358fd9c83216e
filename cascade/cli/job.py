"""`cascade job ...`: the job engine's jobs through the admin API."""
from __future__ import annotations

import argparse
import json

from cascade import config
from cascade.cli.admin_client import AdminClient

COLUMNS = (("id", 36), ("kind", 18), ("state", 10), ("attempts", 8), ("key", 48), ("last_error", 40))


def register(sub) -> None:
    p = sub.add_parser("job", help="list and manage the job engine's jobs")
    p.add_argument("--config", default="cascade.conf", help="path of cascade.conf")
    p.add_argument("--url", help="the cascade's URL (default: its listen address)")
    s = p.add_subparsers(dest="job_command", required=True)
    listing = s.add_parser("list", help="list jobs, newest first")
    listing.add_argument("--state", help="queued, running, succeeded, failed or cancelled")
    listing.add_argument("--kind")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=list_jobs)
    for verb, func in (("show", show_job), ("retry", retry_job), ("cancel", cancel_job)):
        cmd = s.add_parser(verb, help=f"{verb} one job")
        cmd.add_argument("job_id")
        cmd.set_defaults(func=func)


def _client(args: argparse.Namespace) -> AdminClient:
    return AdminClient(config.load(args.config), args.url)


def list_jobs(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("state", args.state), ("kind", args.kind), ("limit", args.limit)) if v}
    jobs = _client(args).call("GET", "/jobs", params=params)["jobs"]
    print("  ".join(f"{name:<{width}}" for name, width in COLUMNS))
    for job in jobs:
        print("  ".join(f"{str(job[name] or '')[:width]:<{width}}" for name, width in COLUMNS))
    return 0


def _print(job: dict) -> None:
    width = max(len(k) for k in job)
    for key, value in job.items():
        print(f"{key:<{width}}  {json.dumps(value) if isinstance(value, (dict, list)) else value}")


def show_job(args: argparse.Namespace) -> int:
    _print(_client(args).call("GET", f"/jobs/{args.job_id}")["job"])
    return 0


def retry_job(args: argparse.Namespace) -> int:
    _print(_client(args).call("POST", f"/jobs/{args.job_id}/retry")["job"])
    return 0


def cancel_job(args: argparse.Namespace) -> int:
    _print(_client(args).call("POST", f"/jobs/{args.job_id}/cancel")["job"])
    return 0
