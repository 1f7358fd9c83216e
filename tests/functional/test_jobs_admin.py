"""The job engine seen by an operator: `cascade job list/show/retry/cancel`
and the admin API under /cascade/v1/jobs, against the running demo."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from cascade import config
from cascade.persistence.db import Database
from cascade.persistence.jobs import JobStore


def enqueue(demo, kind: str, *, delay: float = 0.0) -> str:
    """A job queued in the demo's own database, as another cascade process would."""
    async def run() -> str:
        db = await Database.open(config.load(demo.state / "cascade.conf").database_url, migrate=False)
        try:
            return (await JobStore(db).enqueue(kind, {"note": "functional test"}, delay=delay)).id
        finally:
            await db.close()
    return asyncio.run(run())


def cli(demo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cascade.cli", "job", "--config", str(demo.state / "cascade.conf"),
                           "--url", demo.url, *args], capture_output=True, text=True, timeout=60)


def api(conn, demo, method: str, path: str, **kwargs):
    return conn.session.request(f"{demo.url}/cascade/v1{path}", method, raise_exc=False, **kwargs)


def wait_state(conn, demo, job_id: str, state: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api(conn, demo, "GET", f"/jobs/{job_id}").json()["job"]
        if job["state"] == state:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not become {state}: {job}")


def test_a_job_without_handler_fails_and_retry_runs_it_again(demo, admin):
    job_id = enqueue(demo, "functional.no-such-kind")
    failed = wait_state(admin, demo, job_id, "failed")
    assert "no handler" in failed["last_error"] and failed["attempts"] == 1
    listed = cli(demo, "list", "--state", "failed")
    assert listed.returncode == 0, listed.stderr
    assert job_id in listed.stdout
    retried = cli(demo, "retry", job_id)
    assert retried.returncode == 0, retried.stderr
    again = wait_state(admin, demo, job_id, "failed")
    assert again["attempts"] == 1 and again["finished_at"] >= failed["finished_at"]
    shown = cli(demo, "show", job_id)
    assert "functional.no-such-kind" in shown.stdout and "failed" in shown.stdout


def test_a_queued_job_can_be_cancelled_once(demo, admin):
    job_id = enqueue(demo, "functional.later", delay=3600)
    assert api(admin, demo, "GET", f"/jobs/{job_id}").json()["job"]["state"] == "queued"
    cancelled = cli(demo, "cancel", job_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    again = api(admin, demo, "POST", f"/jobs/{job_id}/cancel")
    assert again.status_code == 409 and "only a queued or running job" in again.json()["error"]["message"]


def test_job_api_errors_and_policy(demo, admin, cloud):
    assert api(admin, demo, "GET", "/jobs?state=bogus").status_code == 400
    assert api(admin, demo, "GET", "/jobs?limit=0").status_code == 400
    missing = api(admin, demo, "GET", "/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "could not be found" in missing.json()["error"]["message"]
    assert api(cloud, demo, "GET", "/jobs").status_code == 403
    failed_cli = cli(demo, "show", "00000000-0000-0000-0000-000000000000")
    assert failed_cli.returncode != 0 and "404" in failed_cli.stderr
