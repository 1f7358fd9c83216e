"""A small client of the cascade's admin API for the CLI, authenticated
with the service account named in cascade.conf (keystoneauth1)."""
from __future__ import annotations

import time
from typing import Any, Callable

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from cascade.config import Settings


ENDED = ("succeeded", "failed", "cancelled")


class AdminClient:
    def __init__(self, settings: Settings, url: str | None = None) -> None:
        ks = settings.keystone
        auth = v3.Password(auth_url=ks.auth_url, username=ks.username, password=ks.password,
                           project_name=ks.project_name, user_domain_name=ks.user_domain_name,
                           project_domain_name=ks.project_domain_name)
        self.session = ks_session.Session(auth=auth)
        self.url = (url or f"http://{settings.DEFAULT.listen}").rstrip("/") + "/cascade/v1"

    def call(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        response = self.session.request(self.url + path, method, json=json, params=params, raise_exc=False,
                                        timeout=600)
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
                message = error.get("message") or response.text
            except ValueError:
                message = response.text
            raise SystemExit(f"error {response.status_code}: {message}")
        return response.json() if response.content else None

    def wait_job(self, job_id: str, *, interval: float = 1.0, timeout: float | None = None,
                 progress: Callable[[dict], None] | None = None) -> dict:
        """Poll a job until it ends (succeeded, failed or cancelled); returns it.
        `progress` is shown each running state of the job as it is polled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.call("GET", f"/jobs/{job_id}")["job"]
            if job["state"] in ENDED:
                return job
            if progress is not None:
                progress(job)
            if deadline is not None and time.monotonic() > deadline:
                raise SystemExit(f"job {job_id} still {job['state']} after {timeout} s")
            time.sleep(interval)
