"""Differential fidelity check: the same sequence of raw client calls made
straight at a real site (realstack's RegionOne) and straight at a simcloud
site of its own, compared call by call (status, headers, keys, types and
values of every body, error bodies, list order and paging), at microversions
2.1, 2.37 and the highest both support. See `tests/interop/fidelity/`.

Every difference must either be gone (simcloud fixed) or be accepted in
`fidelity/accepted.py` with its reason in docs/simcloud-fidelity.md; an
accepted difference that no longer shows must be removed from both.
`python -m tests.interop.fidelity` prints the same comparison as a table.

Self-contained: its fixtures are here, not in conftest.py; it needs realstack
running (it never starts or stops it) and creates and deletes its own
project, user, network, flavors, key pairs, images, server groups and
servers, all named with a `fid<hex>` prefix; the only thing it leaves is a
quota class of that name (Nova has no way to delete one).
"""
from __future__ import annotations

import pathlib
import re

import pytest

from tests.interop.fidelity import accepted
from tests.interop.fidelity.__main__ import table
from tests.interop.fidelity.run import Outcome, run, run_sim_vs_sim
from tests.interop.fidelity.targets import realstack_unreachable

pytestmark = pytest.mark.interop

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "simcloud-fidelity.md"


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    reason = realstack_unreachable()
    if reason:
        pytest.skip(f"{reason}; start it with `bash scripts/realstack`")
    return run()


def test_every_difference_is_fixed_or_documented(outcome: Outcome) -> None:
    new = [(d, "") for d in outcome.differences if not accepted.reference(d)]
    assert not new, f"{len(new)} differences not in accepted.py:\n{table(new)}"


def test_every_accepted_difference_still_shows(outcome: Outcome) -> None:
    stale = accepted.unused(outcome.differences)
    assert not stale, "accepted but gone (remove them from accepted.py and the doc): " + \
        ", ".join(f"{e.ref} {e.step} | {e.where}" for e in stale)


def test_the_scenario_covers_what_it_should(outcome: Outcome) -> None:
    """The comparison is only as good as the calls made: each area answered
    successfully on the real site, and the top microversion is past 2.37."""
    ok = {e.step for e in outcome.real if e.status < 300}
    for area in ("versions.", "flavors.create", "flavors.detail", "keypairs.create",
                 "servers.create", "servers.detail", "servers.list.marker", "servers.update",
                 "metadata.", "tags.", "actions.reboot", "actions.stop", "actions.start",
                 "actions.pause", "actions.unpause", "actions.suspend", "actions.resume",
                 "actions.lock", "actions.unlock", "actions.resize", "actions.confirm-resize",
                 "actions.revert-resize", "actions.rebuild", "servers.delete",
                 "availability-zones.", "limits", "images.list", "images.show",
                 "flavor-access.add", "flavor-access.remove", "server-groups.create",
                 "server-groups.show.members", "servers.create.in-group", "quota-sets.update",
                 "quota-sets.delete", "quota-classes.update", "actions.shelve",
                 "actions.unshelve", "actions.create-backup", "actions.console-output",
                 "actions.force-delete", "actions.inject-network-info", "extensions.",
                 "actions.security-groups.remove", "instance-actions.list.marker"):
        assert any(step.startswith(area) for step in ok), f"no successful call for {area}"
    assert tuple(map(int, outcome.top.split("."))) > (2, 37)
    assert len(outcome.real) == len(outcome.sim)


def test_every_accepted_difference_has_its_reason_in_the_doc() -> None:
    text = DOC.read_text()
    for entry in accepted.ACCEPTED:
        assert re.search(rf"^\*\*{re.escape(entry.ref)}\*\*", text, re.M), \
            f"{entry.ref} is not explained in {DOC.name}"


def test_two_simcloud_sites_show_no_difference() -> None:
    """The harness itself: whatever it reports between two simulated sites
    is noise it lets through (ids, times, names it failed to normalise)."""
    same = run_sim_vs_sim(build_seconds=0.3)
    assert not same.differences, table([(d, "") for d in same.differences])
