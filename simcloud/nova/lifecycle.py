"""The timed state sequences of server operations, as Nova walks them
(vm_state, task_state, power_state), scaled to the site's `build_seconds`.

Each function sets the state an operation shows at once and returns the
steps the server will pass through later (see `model.Server.settle`).
"""
from __future__ import annotations

import dataclasses

from simcloud.nova import states as S
from simcloud.nova.model import Server, Step


RELAUNCHED = True     # a step's trailing mark: Nova sets launched_at again there


@dataclasses.dataclass(frozen=True)
class Timing:
    build: float = 1.0

    @property
    def action(self) -> float:
        return self.build * 0.5

    @property
    def delete(self) -> float:
        return self.build * 0.5


def begin(server: Server, task_state: str | None, now: float, steps: list[Step]) -> None:
    server.task_state = task_state
    server.touch(now)
    server.schedule(steps)


def build(server: Server, now: float, t: Timing, *, placed: bool) -> None:
    server.vm_state, server.power_state = S.BUILDING, S.NOSTATE
    if placed:
        steps = [(now + t.build * 0.2, S.BUILDING, "networking", S.NOSTATE),
                 (now + t.build * 0.4, S.BUILDING, "spawning", S.NOSTATE),
                 (now + t.build, S.ACTIVE, None, S.RUNNING)]
    else:
        steps = [(now + t.build * 0.2, S.ERROR, None, S.NOSTATE)]
    begin(server, "scheduling", now, steps)


def delete(server: Server, now: float, t: Timing) -> float:
    done = now + t.delete
    begin(server, "deleting", now, [(done, S.DELETED, None, S.NOSTATE)])
    return done


def _settled_vm_state(server: Server) -> str:
    return S.STOPPED if server.power_state == S.SHUTDOWN else S.ACTIVE


def _settled_power(vm_state: str) -> int:
    return S.SHUTDOWN if vm_state == S.STOPPED else S.RUNNING


def reboot(server: Server, now: float, t: Timing, *, hard: bool) -> None:
    begin(server, "rebooting_hard" if hard else "rebooting", now,
          [(now + t.action, S.ACTIVE, None, S.RUNNING)])


def power(server: Server, now: float, t: Timing, task: str, vm_state: str,
          power_state: int) -> None:
    """stop, start, pause, unpause, suspend, resume: one task, one outcome."""
    begin(server, task, now, [(now + t.action, vm_state, None, power_state)])


def resize(server: Server, now: float, t: Timing, *, placed: bool) -> None:
    original = server.vm_state
    if not placed:   # the scheduler found no room: back where it was
        begin(server, "resize_prep", now,
              [(now + t.action * 0.4, original, None, server.power_state)])
        return
    power_state = server.power_state
    d = t.action
    begin(server, "resize_prep", now, [
        (now + d * 0.25, original, "resize_migrating", power_state),
        (now + d * 0.5, original, "resize_migrated", power_state),
        (now + d * 0.75, original, "resize_finish", power_state),
        (now + d, S.RESIZED, None, power_state, RELAUNCHED),
    ])


def confirm_resize(server: Server, now: float, t: Timing) -> None:
    vm_state = _settled_vm_state(server)
    begin(server, None, now,
          [(now + t.action * 0.4, vm_state, None, _settled_power(vm_state))])


def revert_resize(server: Server, now: float, t: Timing) -> None:
    vm_state = _settled_vm_state(server)
    begin(server, "resize_reverting", now,
          [(now + t.action, vm_state, None, _settled_power(vm_state), RELAUNCHED)])


def rebuild(server: Server, now: float, t: Timing) -> None:
    vm_state = S.STOPPED if server.vm_state == S.STOPPED else S.ACTIVE
    d = t.build
    begin(server, "rebuilding", now, [
        (now + d * 0.3, server.vm_state, "rebuild_spawning", server.power_state),
        (now + d, vm_state, None, _settled_power(vm_state), RELAUNCHED),
    ])


def snapshot(server: Server, now: float, t: Timing) -> None:
    vm_state, power_state = server.vm_state, server.power_state
    d = t.action
    begin(server, "image_snapshot", now, [
        (now + d * 0.3, vm_state, "image_pending_upload", power_state),
        (now + d * 0.6, vm_state, "image_uploading", power_state),
        (now + d, vm_state, None, power_state),
    ])


def shelve(server: Server, now: float, t: Timing) -> None:
    """Snapshot, power off and (Nova's shelved_offload_time = 0) offload at
    once: SHELVED only in passing, then SHELVED_OFFLOADED on no host."""
    d = t.action
    begin(server, "shelving", now, [
        (now + d * 0.2, server.vm_state, "shelving_image_pending_upload", server.power_state),
        (now + d * 0.4, server.vm_state, "shelving_image_uploading", server.power_state),
        (now + d * 0.7, S.SHELVED, "shelving_offloading", S.SHUTDOWN),
        (now + d, S.SHELVED_OFFLOADED, None, S.SHUTDOWN),
    ])


def shelve_offload(server: Server, now: float, t: Timing) -> None:
    begin(server, "shelving_offloading", now,
          [(now + t.action * 0.5, S.SHELVED_OFFLOADED, None, server.power_state)])


def unshelve(server: Server, now: float, t: Timing, *, placed: bool) -> None:
    """From SHELVED_OFFLOADED: scheduled and spawned again (launched anew);
    with no room the scheduler gives up and the server stays offloaded."""
    d = t.build
    if server.vm_state == S.SHELVED:      # still on its host: just powered on
        begin(server, "powering-on", now, [(now + t.action, S.ACTIVE, None, S.RUNNING)])
    elif not placed:
        begin(server, "unshelving", now,
              [(now + d * 0.2, S.SHELVED_OFFLOADED, None, server.power_state)])
    else:
        begin(server, "unshelving", now, [
            (now + d * 0.3, S.SHELVED_OFFLOADED, "spawning", server.power_state),
            (now + d, S.ACTIVE, None, S.RUNNING, RELAUNCHED),
        ])


def backup(server: Server, now: float, t: Timing) -> None:
    vm_state, power_state = server.vm_state, server.power_state
    d = t.action
    begin(server, "image_backup", now, [
        (now + d * 0.3, vm_state, "image_pending_upload", power_state),
        (now + d * 0.6, vm_state, "image_uploading", power_state),
        (now + d, vm_state, None, power_state),
    ])
