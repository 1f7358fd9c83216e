"""A markdown list of one run's failures: per failing test (or per class
whose setUpClass failed) the exception, the call that failed with its
request and response bodies from Tempest's log, and a diagnosis looked up in
a YAML file of `regex: one-line diagnosis` (first match on the test id)."""
from __future__ import annotations

import collections
import pathlib
import re

import yaml

from tools.conformance import tempest_log

BODY_CHARS = 700


def exception_summary(detail: str) -> str:
    lines = [l for l in detail.splitlines() if l.strip()]
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if re.match(r"^([a-z_]\w*\.)*[A-Z]\w*(: |$)", line) and not line.startswith(("Traceback", "Details")):
            return "\n".join(lines[i:])[:600]
    return "\n".join(lines[-3:])[:600]


def load_diagnoses(path: str | None) -> list[tuple[re.Pattern, str]]:
    if not path or not pathlib.Path(path).exists():
        return []
    data = yaml.safe_load(pathlib.Path(path).read_text()) or {}
    return [(re.compile(k), v) for k, v in data.items()]


def diagnose(test_id: str, diagnoses) -> str:
    for pattern, text in diagnoses:
        if pattern.search(test_id):
            return text
    return "(not diagnosed yet)"


def _clip(text: str) -> str:
    return text if len(text) <= BODY_CHARS else text[:BODY_CHARS] + " ..."


def render(record: dict, diagnoses_file: str | None = None, only: set[str] | None = None) -> str:
    """ONLY: restrict to these test ids."""
    workspace = pathlib.Path(record["workspace"])
    log = workspace / "logs" / "tempest.log"
    calls = tempest_log.calls_by_test(str(log)) if log.exists() else {}
    diagnoses = load_diagnoses(diagnoses_file)
    failed = [t for t, s in record["tests"].items() if s == "fail" and (only is None or t in only)]
    # tests of a class whose setUpClass failed share one entry
    groups: dict[str, list[str]] = collections.OrderedDict()
    for tid in failed:
        detail = record["details"].get(tid, "")
        cls = tid.rsplit(".", 1)[0]
        key = f"{cls}.setUpClass" if detail.startswith("(setUpClass)") else tid
        groups.setdefault(key, []).append(tid)
    by_diagnosis = collections.Counter()
    for key, tids in groups.items():
        by_diagnosis[diagnose(key, diagnoses)] += len(tids)
    out = [f"# Failures: {record['setup']} / {record['service']} ({record['started']})", "",
           f"{record['counts']['failed']} failed, {record['counts']['passed']} passed, "
           f"{record['counts']['skipped']} skipped. Endpoint: region {record['endpoint']['region']}, "
           f"microversions {record['endpoint']['compute_microversions']}. "
           f"Workspace: `{record['workspace']}` (log: `logs/tempest.log`).", ""]
    if only is not None:
        out += [f"Only the {len(failed)} failures of tests that pass in the other set-up named on the command line.", ""]
    out += ["Tests per diagnosis:", ""] + [f"- {n}: {text}" for text, n in by_diagnosis.most_common()] + [""]
    for key, tids in groups.items():
        cls_path, method = key.rsplit(".", 1)
        cls_name = cls_path.rsplit(".", 1)[1]
        out.append(f"## `{key}`" + (f" ({len(tids)} tests)" if len(tids) > 1 else ""))
        if len(tids) > 1 or method == "setUpClass":
            out.append("Tests: " + ", ".join(f"`{t.rsplit('.', 1)[1]}`" for t in tids))
        out.append("")
        out.append("- diagnosis: " + diagnose(key, diagnoses))
        out.append("- exception: `" + exception_summary(record["details"].get(tids[0], "")).replace("`", "'")
                   .replace("\n", " | ") + "`")
        # a test using its class's resources may have made no call itself
        call = None
        for where in (method, "setUp", "setUpClass"):
            call = call or tempest_log.failing_call(calls.get((cls_name, where), []))
        if call:
            out.append(f"- call: `{call.method} {call.url}` -> {call.status}")
            if call.request_body and call.request_body not in ("None", "<omitted>"):
                out.append(f"  - request body: `{_clip(call.request_body)}`")
            out.append(f"  - response body: `{_clip(call.response_body)}`")
        else:
            out.append("- call: (none logged for this test)")
        out.append("")
    return "\n".join(out) + "\n"
