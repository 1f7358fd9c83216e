"""docs/conformance.md from the saved per-test results of each set-up."""
from __future__ import annotations

import pathlib
import re

import yaml

from tools.conformance.setups import ORDER, TITLES

HERE = pathlib.Path(__file__).resolve().parent
SERVICES = ("compute", "image")


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min {seconds % 60:02d} s"


def explanations() -> dict[str, list[tuple[re.Pattern, str]]]:
    data = yaml.safe_load((HERE / "explained.yaml").read_text()) or {}
    return {section: [(re.compile(k), v) for k, v in (entries or {}).items()] for section, entries in data.items()}


def _reason(test_id: str, rules, detail: str = "") -> str:
    """The first rule whose pattern is found in the test id or in the
    run's failure or skip text for it."""
    for pattern, text in rules:
        if pattern.search(test_id) or (detail and pattern.search(detail)):
            return text
    return "**not explained yet**"


def _diff(runs: dict, service: str, good: str, bad: str) -> list[tuple[str, str, str]] | None:
    """Tests that pass in GOOD and do not pass in BAD: [(id, status in BAD,
    its failure or skip text in BAD)], or None when either run is missing."""
    a, b = runs.get((good, service)), runs.get((bad, service))
    if not a or not b:
        return None
    return [(t, b["tests"].get(t, "absent"), b["details"].get(t, ""))
            for t, s in a["tests"].items() if s == "pass" and b["tests"].get(t) != "pass"]


def _diff_section(out: list, title: str, intro: str, runs: dict, good: str, bad: str, rules) -> None:
    """The tests that pass in GOOD and not in BAD, grouped by their reason."""
    out += [f"## {title}", "", intro, ""]
    for service in SERVICES:
        diff = _diff(runs, service, good, bad)
        if diff is None:
            out.append(f"- {service}: not computed, a run of `{good}` or `{bad}` is missing.")
            continue
        if not diff:
            out.append(f"- {service}: none.")
            continue
        groups: dict[str, list[str]] = {}
        for tid, status, detail in diff:
            name = ".".join(tid.split(".")[-2:]) + ("" if status == "fail" else f" ({status})")
            groups.setdefault(_reason(tid, rules, detail), []).append(f"`{name}`")
        out.append(f"- {service}: {len(diff)} tests")
        for reason, names in sorted(groups.items(), key=lambda g: -len(g[1])):
            out.append(f"  - {reason} ({len(names)}): " + ", ".join(names))
    out.append("")


def _failures_section(out: list, title: str, runs: dict, setup: str, rules) -> None:
    out += [f"## {title}", ""]
    for service in SERVICES:
        r = runs.get((setup, service))
        failed = [t for t, s in r["tests"].items() if s == "fail"] if r else None
        if failed is None:
            out.append(f"- {service}: not run.")
        elif not failed:
            out.append(f"- {service}: none.")
        else:
            out.append(f"- {service}:")
            for tid in failed:
                out.append(f"  - `{'.'.join(tid.split('.')[-2:])}`: {_reason(tid, rules, r['details'].get(tid, ''))}")
    out.append("")


def render(runs: dict, command: str, work: pathlib.Path) -> str:
    """RUNS: {(setup, service): results record}."""
    rules = explanations()
    present = [r for r in runs.values() if r]
    tempest = sorted({r["tempest"] for r in present}) or ["?"]
    nova = sorted({r["endpoint"].get("nova") for r in present if r["endpoint"].get("nova")})
    out = ["# Conformance: Tempest through the cascade", "",
           f"Written by `bash scripts/conformance` (this time: `{command}`; set-ups not run",
           "keep their last results, whose dates are below). Do not edit by hand: reasons for differences live in",
           "`tools/conformance/explained.yaml`. Tempest's API tests as selected by the shared",
           "harness's `tests.txt` (core tier), with dynamic credentials (a project and users per",
           "test class, created in Keystone while the cascade runs), `CONCURRENCY=2`, and the",
           "same service view in every set-up (see \"How it runs\" below).", "",
           f"- Tempest {', '.join(tempest)}; real sites: Nova {', '.join(nova) or '(not run yet)'} "
           "(realstack, fake virt driver).",
           f"- Per-test results (JSON) and Tempest workspaces: `{work}`.", ""]
    header = "| service | " + " | ".join(TITLES[s] for s in ORDER) + " |"
    out += ["Passed / failed / skipped:", "", header, "|---" * (len(ORDER) + 1) + "|"]
    for service in SERVICES:
        cells = []
        for setup in ORDER:
            r = runs.get((setup, service))
            cells.append("not run" if not r else "{passed} / {failed} / {skipped}".format(**r["counts"]))
        total = max((sum(r["counts"].values()) for (s, sv), r in runs.items() if sv == service and r), default=0)
        out.append(f"| {service} core ({total}) | " + " | ".join(cells) + " |")
    out += ["", "Each set-up (tearDownClass errors are clean-up failures, not counted as tests):", "",
            "| set-up | endpoint | compute microversions | run (date, duration) | tearDownClass errors |",
            "|---|---|---|---|---|"]
    for setup in ORDER:
        rs = [runs.get((setup, sv)) for sv in SERVICES]
        rs = [r for r in rs if r]
        if not rs:
            out.append(f"| {TITLES[setup]} | not run | | | |")
            continue
        e = rs[0]["endpoint"]
        mv = e["compute_microversions"]
        extra = ", ".join(f"{k} {v}" for k, v in e.items()
                          if k in ("nova", "cascade", "simcloud", "sites", "site") and v)
        when = "; ".join(f"{r['service']} {r['started'][:16].replace('T', ' ')}, {_minutes(r['duration_s'])}"
                         for r in rs)
        teardown = ", ".join(f"{r['service']} {len(r['teardown_failed'])}" for r in rs)
        out.append(f"| {TITLES[setup]} | region `{e['region']}` ({extra}) | {mv['min']} to {mv['max']} | {when} "
                   f"| {teardown} |")
    out.append("")
    _failures_section(out, "Fail at the real site", runs, "real", rules.get("real", []))
    _diff_section(out, "Pass at a real site, not through the cascade over real sites",
                  "The issue's bar: this list is empty, or each test in it has its reason.",
                  runs, "real", "cascade-real", rules.get("cascade", []))
    _diff_section(out, "Fail only over simcloud: straight at a simcloud site",
                  "Pass straight at the real site, not straight at the simcloud site: simcloud's "
                  "fidelity gaps.", runs, "real", "simcloud", rules.get("simcloud", []))
    _diff_section(out, "Fail only over simcloud: through the cascade",
                  "Pass through the cascade over real sites, not through the cascade over simcloud.",
                  runs, "cascade-real", "cascade-simcloud", rules.get("simcloud", []) + rules.get("cascade", []))
    _diff_section(out, "Pass straight at simcloud, not through the cascade over simcloud",
                  "Cascade defects that simcloud alone shows.", runs, "simcloud", "cascade-simcloud",
                  rules.get("cascade", []) + rules.get("simcloud", []))
    out += HOW_TO.splitlines()
    return "\n".join(out)


HOW_TO = """## How it runs

`bash scripts/conformance` runs every set-up; `--setups cascade-simcloud,simcloud`
runs only those and reuses the others' last results; `--services compute` leaves
the image tier out. `bash scripts/conformance report` only re-renders this page;
`bash scripts/conformance failures SETUP [--service image] [--not-in OTHER]`
prints each failing test with its exception and the failing call (request and
response bodies) read from Tempest's log. For each set-up the command:

- **real site**: uses realstack (`bash scripts/realstack`) region `RegionOne`
  straight; makes (once, then reuses) two public raw images
  `cfm-conformance-image` and `cfm-conformance-image-alt` in both regions (the
  same bytes in both, so the cascade shows each as one image) and the flavors
  `cfm-conformance-flavor` and `cfm-conformance-alt` in `RegionOne`;
- **cascade over real sites**: `cascade demo --sites-from` realstack's
  `clouds.yaml`, registered in realstack's shared Keystone under a region of
  its own, `cfm-conformance-cascade` (dropped again afterwards), so that no
  other cascade on the machine can re-point it; the same images,
  and the flavors `cfm-conformance-cascade-flavor` and `-cascade-alt` made
  through the cascade by the admin (the cascade pushes them to both sites);
- **simcloud site**: `simcloud --sites 2`, region `site1`;
- **cascade over simcloud**: `cascade demo --sites 2 --build-seconds 0.2`;
  in both simcloud set-ups the images `cirros` and `ubuntu-22.04-...` and the
  flavors `m1.small` and `m1.medium` (ubuntu needs 3 GB of disk).

Then it runs the shared harness (`/work/shared/conformance/run-tempest.sh`)
once per service (`SERVICES=compute`, then `SERVICES=image`, `TIERS=core`),
each in a fresh workspace, with `COMPUTE_MAX_MICROVERSION` read from the
endpoint's own versions document, `COMPUTE_RESIZE=true` (every set-up resizes),
`BUILD_TIMEOUT` 300 s on real sites and 60 s on simcloud, and `TEMPEST_DEBUG=1`
so that `logs/tempest.log` holds every request and response. Neutron is marked
available (`AVAIL_NEUTRON=true`, `CREATE_ISOLATED_NETWORKS=false`): otherwise
Tempest skips every server test class that asks for a default network. For the
cascade over real sites, Tempest's clean-up of each test project's default
security group goes to RegionOne's Neutron (`[network] region`), since the
cascade has no network API; simcloud has no Neutron at all, so in both simcloud
set-ups that clean-up fails (the tearDownClass errors above) and the test
projects stay in simcloud's throw-away Keystone. Per-test results (test id: pass, fail or skip; a
class's setUpClass result counts for each of its tests, as in the harness's
`summarize.py`) are kept as `SETUP-SERVICE.json` beside the workspaces, and the
lists above are computed from them. After each realstack set-up, servers named
`tempest-*` made during the run whose project is gone (a test that failed
between the create and registering its clean-up) are deleted.
"""
