"""One Tempest run through the shared harness (run-tempest.sh), kept as a
workspace plus a JSON file of per-test results next to it."""
from __future__ import annotations

import configparser
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import time

from tools.conformance import results
from tools.conformance.setups import Endpoint

HARNESS = pathlib.Path(os.environ.get("CONFORMANCE_HARNESS", "/work/shared/conformance"))
VENV = pathlib.Path(os.environ.get("CONFORMANCE_VENV", "/opt/conformance/venv"))


def tempest_version() -> str:
    result = subprocess.run([str(VENV / "bin" / "tempest"), "--version"], capture_output=True, text=True)
    return (result.stdout or result.stderr).strip().replace("tempest ", "")


def result_path(work: pathlib.Path, setup: str, service: str) -> pathlib.Path:
    return work / f"{setup}-{service}.json"


def run(endpoint: Endpoint, service: str, work: pathlib.Path, concurrency: int = 2) -> dict:
    """Run SERVICE's core tier against ENDPOINT in a fresh workspace
    WORK/SETUP-SERVICE; write and return the results record."""
    workspace = work / f"{endpoint.setup}-{service}"
    # a fresh workspace each time; run-tempest.sh names it after its path and
    # drops the stale registry entry itself
    shutil.rmtree(workspace, ignore_errors=True)
    env = dict(os.environ, WORKSPACE=str(workspace), CONCURRENCY=str(concurrency), TEMPEST_DEBUG="1",
               **endpoint.tempest_env(service))
    if endpoint.tempest_extra:
        extra = work / f"{endpoint.setup}-{service}.extra.conf"
        conf = configparser.ConfigParser()
        conf.read_dict(endpoint.tempest_extra)
        with open(extra, "w") as f:
            conf.write(f)
        env["TEMPEST_CONF_EXTRA"] = str(extra)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    with open(work / f"{endpoint.setup}-{service}.out", "w") as out:
        rc = subprocess.run(["bash", str(HARNESS / "run-tempest.sh")], env=env, stdout=out,
                            stderr=subprocess.STDOUT).returncode
    duration = time.monotonic() - t0
    subunit = workspace / "results.subunit"
    if rc != 0 or not subunit.exists():
        raise RuntimeError(f"run-tempest.sh exited {rc}; see {work / f'{endpoint.setup}-{service}.out'}")
    selected = [line.strip() for line in open(workspace / "selected-tests.txt") if line.strip()]
    tests, details, teardown = results.per_test(str(subunit), selected)
    record = {
        "setup": endpoint.setup, "service": service, "tier": "core",
        "started": started.isoformat(timespec="seconds"), "duration_s": round(duration),
        "tempest": tempest_version(), "concurrency": concurrency,
        "endpoint": {"auth_url": endpoint.auth_url, "region": endpoint.region, "images": endpoint.images,
                     "flavors": endpoint.flavors, "compute_microversions": endpoint.compute,
                     "tempest_extra": endpoint.tempest_extra,
                     "build_timeout": endpoint.build_timeout, **endpoint.notes},
        "workspace": str(workspace), "counts": results.counts(tests), "teardown_failed": teardown,
        "tests": dict(sorted(tests.items())), "details": dict(sorted(details.items())),
    }
    result_path(work, endpoint.setup, service).write_text(json.dumps(record, indent=1) + "\n")
    return record


def load(work: pathlib.Path, setup: str, service: str) -> dict | None:
    path = result_path(work, setup, service)
    return json.loads(path.read_text()) if path.exists() else None
