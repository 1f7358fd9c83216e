"""Per-test results of one Tempest run, read from its subunit stream.

unittest reports a failure or skip in setUpClass as one pseudo-test
`setUpClass (module.Class)`; like the harness's summarize.py, its result is
given to every selected test of that class that has no result of its own, and
a selected test with no result at all counts as failed. Test ids are kept
without their `[id-...,tags]` suffix."""
from __future__ import annotations

import collections
import re

import subunit
import testtools

FIXTURE = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule) \((.+)\)$")
STATUS = {"success": "pass", "xfail": "pass", "skip": "skip", "fail": "fail", "uxsuccess": "fail"}
DETAIL_CHARS = 4000


def base_id(test_id: str) -> str:
    return test_id.split("[", 1)[0]


def class_of(test_id: str) -> str:
    return base_id(test_id).rsplit(".", 1)[0]


def _detail_text(details: dict) -> str:
    parts = []
    for name in ("reason", "traceback"):
        content = details.get(name)
        if content is not None:
            parts.append("".join(bytes(chunk).decode("utf-8", "replace") for chunk in content.iter_bytes()))
    text = "\n".join(p.strip() for p in parts if p.strip())
    return text[-DETAIL_CHARS:]


def read_stream(path: str) -> dict[str, tuple[str, str]]:
    """{raw test id: (subunit status, reason or traceback)}, last status wins."""
    seen: dict[str, tuple[str, str]] = {}

    def on_test(test):
        seen[test["id"]] = (test["status"], _detail_text(test["details"]))

    with open(path, "rb") as stream:
        case = subunit.ByteStreamToStreamResult(stream, non_subunit_name=None)
        result = testtools.StreamToDict(on_test)
        result.startTestRun()
        try:
            case.run(result)
        finally:
            result.stopTestRun()
    return seen


def per_test(subunit_path: str, selected: list[str]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(status by test id: pass|fail|skip, detail by test id for failures and
    skips, classes whose tearDownClass failed)."""
    raw = read_stream(subunit_path)
    status: dict[str, str] = {}
    detail: dict[str, str] = {}
    fixtures: dict[str, tuple[str, str]] = {}
    teardown_failed = []
    for tid, (st, text) in raw.items():
        m = FIXTURE.match(tid)
        if m:
            kind, cls = m.groups()
            if kind == "tearDownClass":
                if STATUS.get(st) == "fail":
                    teardown_failed.append(cls)
            else:
                fixtures[cls] = (st, text)
            continue
        if st in STATUS:
            status[base_id(tid)] = STATUS[st]
            if STATUS[st] != "pass" and text:
                detail[base_id(tid)] = text
    out: dict[str, str] = {}
    for tid in selected:
        b = base_id(tid)
        if b in status:
            out[b] = status[b]
            continue
        fst, text = fixtures.get(class_of(b), ("", ""))
        if STATUS.get(fst) in ("skip", "fail"):
            out[b] = STATUS[fst]
            detail[b] = "(setUpClass) " + text
        else:
            out[b] = "fail"
            detail[b] = "no result: the test never ran to an end (timeout or crash of its worker)"
    detail = {k: v for k, v in detail.items() if k in out and out[k] != "pass"}
    return out, detail, sorted(teardown_failed)


def counts(tests: dict[str, str]) -> dict[str, int]:
    c = collections.Counter(tests.values())
    return {"passed": c["pass"], "failed": c["fail"], "skipped": c["skip"]}
