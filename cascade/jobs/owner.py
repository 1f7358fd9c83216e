"""Who holds a lease: `host:pid:token`, one name per process lifetime. A
lease of a process that is gone from this host is ended at once instead of
waiting for it to expire, so a restarted cascade recovers its own
interrupted work in seconds."""
from __future__ import annotations

import os
import socket
import uuid

_TOKEN = uuid.uuid4().hex[:8]


def host() -> str:
    return socket.gethostname()


def this_process() -> str:
    return f"{host()}:{os.getpid()}:{_TOKEN}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a process that has exited but is not yet reaped by its parent is gone too
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def gone(owners: set[str]) -> set[str]:
    """The owners of this host that are no longer running: their pid is
    gone, or it is this process's pid under an earlier lifetime's token."""
    mine = this_process()
    dead = set()
    for owner in owners:
        owner_host, _, rest = owner.partition(":")
        pid_text, _, token = rest.partition(":")
        if owner_host != host() or not pid_text.isdigit() or owner == mine:
            continue
        pid = int(pid_text)
        if pid == os.getpid() or not _alive(pid):
            dead.add(owner)
    return dead
