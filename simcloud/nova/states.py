"""Nova's server state vocabulary: vm_state, task_state and power_state
values, the map from (vm_state, task_state) to the API `status`, and its
inverse used by the `status` list filter."""
from __future__ import annotations

# vm_states
ACTIVE, BUILDING, STOPPED, PAUSED, SUSPENDED = "active", "building", "stopped", "paused", "suspended"
RESIZED, ERROR, DELETED, SOFT_DELETED = "resized", "error", "deleted", "soft-delete"
RESCUED, SHELVED, SHELVED_OFFLOADED = "rescued", "shelved", "shelved_offloaded"

# power_states
NOSTATE, RUNNING, POWER_PAUSED, SHUTDOWN, CRASHED, POWER_SUSPENDED = 0, 1, 3, 4, 6, 7

_RESIZING = ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish")
_REBUILDING = ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning")

STATUS_MAP: dict[str, dict[str | None, str]] = {
    ACTIVE: {
        None: "ACTIVE",
        "rebooting": "REBOOT", "reboot_pending": "REBOOT", "reboot_started": "REBOOT",
        "rebooting_hard": "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT",
        "reboot_started_hard": "HARD_REBOOT",
        "updating_password": "PASSWORD", "migrating": "MIGRATING",
        **{t: "REBUILD" for t in _REBUILDING},
        **{t: "RESIZE" for t in _RESIZING},
    },
    BUILDING: {None: "BUILD"},
    STOPPED: {None: "SHUTOFF", **{t: "RESIZE" for t in _RESIZING},
              **{t: "REBUILD" for t in _REBUILDING}},
    RESIZED: {None: "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
    PAUSED: {None: "PAUSED", "migrating": "MIGRATING"},
    SUSPENDED: {None: "SUSPENDED"},
    RESCUED: {None: "RESCUE"},
    ERROR: {None: "ERROR", **{t: "REBUILD" for t in _REBUILDING}},
    DELETED: {None: "DELETED"},
    SOFT_DELETED: {None: "SOFT_DELETED"},
    SHELVED: {None: "SHELVED"},
    SHELVED_OFFLOADED: {None: "SHELVED_OFFLOADED"},
}


def status_of(vm_state: str, task_state: str | None) -> str:
    """The map's `None` entry is Nova's 'default' for task states it does not list."""
    task_map = STATUS_MAP.get(vm_state)
    if task_map is None:
        return "UNKNOWN"
    return task_map.get(task_state, task_map[None])


def states_for_statuses(statuses: list[str]) -> tuple[set[str], set[str | None], bool]:
    """(vm_states, task_states, any_task) matching the given statuses.

    As in Nova, a status that is some vm_state's default matches that vm_state
    whatever its task state (`any_task`), so `status=ACTIVE` also lists a
    rebooting server.
    """
    wanted = {s.strip().lower() for s in statuses}
    vm_states: set[str] = set()
    task_states: set[str | None] = set()
    any_task = False
    for vm_state, task_map in STATUS_MAP.items():
        for task_state, status in task_map.items():
            if status.lower() in wanted:
                vm_states.add(vm_state)
                task_states.add(task_state)
                if task_state is None:
                    any_task = True
    return vm_states, task_states, any_task
