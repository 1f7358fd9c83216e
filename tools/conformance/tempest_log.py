"""The HTTP calls a test made, read from Tempest's log (`logs/tempest.log`).

With `debug = true` rest_client logs each call twice under the same request
id: an INFO record `Request (Class:method): STATUS METHOD URL TIME` and a
DEBUG record holding the request and response headers and bodies."""
from __future__ import annotations

import collections
import dataclasses
import re

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \d+ (\w+) (\S+) \[(\S*)")
SUMMARY = re.compile(r"Request \((\w+):(\w+)\): (\d+) (\w+) (\S+)")


@dataclasses.dataclass
class Call:
    test_class: str
    test_method: str
    status: int
    method: str
    url: str
    request_body: str = ""
    response_body: str = ""
    response_headers: str = ""


def _records(path: str):
    """(level, logger, request id, text) per log record; continuation lines
    belong to the record above them."""
    current = None
    with open(path, errors="replace") as f:
        for line in f:
            m = RECORD.match(line)
            if m:
                if current:
                    yield current
                current = [m.group(1), m.group(2), m.group(3).lstrip("["), line.rstrip("\n")]
            elif current:
                current[3] += "\n" + line.rstrip("\n")
    if current:
        yield current


def _bodies(text: str) -> tuple[str, str, str]:
    """(request body, response headers, response body) of a DEBUG record."""
    request, _, response = text.partition("\n    Response - Headers: ")
    headers, _, response_body = response.partition("\n        Body: ")
    req_body = request.partition("\n        Body: ")[2]
    strip = lambda s: re.sub(r" _log_request_full \S+$", "", s.strip())
    return strip(req_body), headers.strip(), strip(response_body)


def calls_by_test(path: str) -> dict[tuple[str, str], list[Call]]:
    """{(class name, method or 'setUpClass'): [Call, ...]} in log order."""
    by_test: dict[tuple[str, str], list[Call]] = collections.defaultdict(list)
    pending: dict[str, Call] = {}
    for level, logger, req_id, text in _records(path):
        if not logger.endswith("rest_client"):
            continue
        if level == "INFO":
            m = SUMMARY.search(text)
            if m:
                call = Call(m.group(1), m.group(2), int(m.group(3)), m.group(4), m.group(5))
                by_test[(call.test_class, call.test_method)].append(call)
                pending[req_id] = call
        elif level == "DEBUG" and "Request - Headers:" in text:
            call = pending.pop(req_id, None)
            if call:
                call.request_body, call.response_headers, call.response_body = _bodies(text)
    return dict(by_test)


def failing_call(calls: list[Call]) -> Call | None:
    """The call that most likely made a test fail: its last 4xx/5xx answer
    that the test did not expect is unknowable from the log, so take the last
    error answer to a non-identity call, else the last call at all."""
    service_calls = [c for c in calls if "/v3/" not in c.url]
    errors = [c for c in service_calls if c.status >= 400]
    if errors:
        return errors[-1]
    return service_calls[-1] if service_calls else (calls[-1] if calls else None)
