"""Raw HTTP calls against one target, each recorded as an `Exchange` under a
step name so that the same step on two targets can be compared."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import requests

# Headers compared between targets (lower case).
COMPARED_HEADERS = ("content-type", "openstack-api-version", "x-openstack-nova-api-version",
                    "vary", "x-openstack-request-id", "x-compute-request-id", "location",
                    "www-authenticate")


@dataclasses.dataclass
class Exchange:
    step: str
    method: str
    path: str
    version: str | None
    status: int
    headers: dict[str, str]
    body: Any                      # parsed JSON, the text, or None when empty

    def json(self) -> Any:
        return self.body

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class CallFailed(AssertionError):
    """A call the scenario needs for its own progress answered unexpectedly."""


class Recorder:
    """Calls one target's services; `bases` maps a service name ("compute",
    "compute-root", "image") to its base URL; `tokens` maps "admin" and
    "tenant" to tokens."""

    def __init__(self, bases: dict[str, str], tokens: dict[str, str],
                 timeout: float = 60.0) -> None:
        self.bases = bases
        self.tokens = tokens
        self.timeout = timeout
        self.http = requests.Session()
        self.exchanges: list[Exchange] = []
        self._names: set[str] = set()

    def call(self, step: str | None, method: str, path: str, *, service: str = "compute",
             version: str | None = None, who: str | None = "tenant", body: Any = None,
             headers: dict[str, str] | None = None, data: bytes | None = None,
             expect: int | tuple[int, ...] | None = None) -> Exchange:
        """One call; recorded when `step` is given (unique per scenario).
        `version` is sent as `OpenStack-API-Version: compute X`; `expect`
        makes an unexpected status fail the scenario (for set-up calls whose
        result later steps depend on)."""
        sent = {"Accept": "application/json"}
        if who is not None:
            sent["X-Auth-Token"] = self.tokens[who]
        if version is not None:
            sent["OpenStack-API-Version"] = f"compute {version}"
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        url = self.bases[service] + path
        response = self.http.request(method, url, headers=sent, timeout=self.timeout,
                                     data=json.dumps(body) if body is not None else data,
                                     allow_redirects=False)
        exchange = Exchange(step=step or "", method=method, path=path, version=version,
                            status=response.status_code,
                            headers={k.lower(): v for k, v in response.headers.items()
                                     if k.lower() in COMPARED_HEADERS},
                            body=_body(response))
        if step is not None:
            if step in self._names:
                raise ValueError(f"step name used twice: {step}")
            self._names.add(step)
            self.exchanges.append(exchange)
        if expect is not None:
            allowed = (expect,) if isinstance(expect, int) else expect
            if exchange.status not in allowed:
                raise CallFailed(f"{method} {url}: {exchange.status} {exchange.body!r:.500}")
        return exchange

    def close(self) -> None:
        self.http.close()


def _body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
