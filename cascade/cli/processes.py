"""Processes of the cascade (and simcloud) run apart from the command that
starts them, as `cascade demo --split` runs them: each in its own session
(a signal to the starter's group does not reach it), its output appended to
a log file, ready once it prints `ready` on a line of its own, and known by
a pid file in the state dir.

Whoever starts a process again (a test restarting a killed cascade)
rewrites the pid file, so whoever stops them later stops the live ones.
A pid is taken for the process it names only while that process is running
and its command line still names it (`marker`), so a stale pid file never
stops an unrelated process that reused the pid.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Iterable, Sequence

READY_LINE = b"ready"
CASCADE_MARKER = "cascade"


class NotReady(RuntimeError):
    """A process exited, or did not print `ready` in time."""


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of cascade process: its `cascade` subcommand, its pid file
    (one pid a line) and its log files (`{n}` from 1) in the state dir."""

    subcommand: str
    pid_file: str
    log_name: str

    def command(self, conf: pathlib.Path) -> list[str]:
        return [sys.executable, "-m", "cascade.cli", self.subcommand, "--config", str(conf)]


API = Kind("serve", "cascade.pid", "cascade-{n}.log")
WORKER = Kind("worker", "workers.pid", "worker-{n}.log")


@dataclasses.dataclass(frozen=True)
class Launched:
    process: subprocess.Popen
    log: pathlib.Path
    offset: int          # where the log stood when the process started

    def printed_ready(self) -> bool:
        with open(self.log, "rb") as f:
            f.seek(self.offset)
            return any(line.strip() == READY_LINE for line in f)

    def log_tail(self, size: int = 4000) -> str:
        with open(self.log, "rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")[-size:]


def launch(command: Sequence[str], log: pathlib.Path) -> Launched:
    """Start `command` in a session of its own, stdout and stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        offset = out.tell()
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Launched(process, log, offset)


def wait_ready(launched: Iterable[Launched], *, timeout: float) -> None:
    """Until each has printed `ready`; NotReady with its log if one exits
    first or the time runs out."""
    pending = list(launched)
    deadline = time.monotonic() + timeout
    while pending:
        for item in list(pending):
            if item.printed_ready():
                pending.remove(item)
            elif item.process.poll() is not None:
                raise NotReady(f"{' '.join(item.process.args)} exited ({item.process.returncode}) before it was "
                               f"ready; {item.log}:\n{item.log_tail()}")
        if pending and time.monotonic() > deadline:
            item = pending[0]
            raise NotReady(f"{' '.join(item.process.args)} was not ready after {timeout:.0f} s; "
                           f"{item.log}:\n{item.log_tail()}")
        time.sleep(0.1)


def start(kind: Kind, state: pathlib.Path, conf: pathlib.Path, count: int, *,
          timeout: float = 60.0) -> list[subprocess.Popen]:
    """`count` more processes of `kind` over `conf`, ready. The kind's pid
    file then names the live ones it named before and these; their logs are
    numbered on from the live ones."""
    path = state / kind.pid_file
    running = [pid for pid in read_pids(path) if alive(pid, CASCADE_MARKER)]
    launched = [launch(kind.command(conf), state / kind.log_name.format(n=n))
                for n in range(len(running) + 1, len(running) + count + 1)]
    try:
        wait_ready(launched, timeout=timeout)
    except BaseException:
        stop_pids([item.process.pid for item in launched], marker=CASCADE_MARKER)
        raise
    write_pids(path, running + [item.process.pid for item in launched])
    return [item.process for item in launched]


def stop(kind: Kind, state: pathlib.Path, *, timeout: float = 10.0) -> None:
    """Stop the processes the kind's pid file names now, and remove it."""
    path = state / kind.pid_file
    stop_pids(read_pids(path), marker=CASCADE_MARKER, timeout=timeout)
    path.unlink(missing_ok=True)


def write_pids(path: pathlib.Path, pids: Iterable[int]) -> None:
    temporary = path.with_suffix(path.suffix + ".new")
    temporary.write_text("".join(f"{pid}\n" for pid in pids))
    temporary.replace(path)


def read_pids(path: pathlib.Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text().split() if line.isdigit()]
    except FileNotFoundError:
        return []


def alive(pid: int, marker: str) -> bool:
    """Whether `pid` runs a process whose command line holds `marker`. A
    child of this process that ended is reaped here: a zombie would look
    alive to anyone asking the kernel about its pid."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    proc = pathlib.Path("/proc", str(pid))
    if not pathlib.Path("/proc/self").exists():   # no procfs: the kernel's word alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        command_line = (proc / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X") and marker.encode() in command_line


def signal_pids(pids: Iterable[int], sig: int, *, marker: str) -> list[int]:
    """Send `sig` to those of `pids` that are alive; returns them."""
    sent = []
    for pid in pids:
        if alive(pid, marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
            sent.append(pid)
    return sent


def wait_gone(pids: Iterable[int], *, marker: str, timeout: float) -> list[int]:
    """Wait until none of `pids` is alive, up to `timeout`; returns those still alive."""
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if alive(pid, marker)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid, marker)]
    return left


def stop_pids(pids: Iterable[int], *, marker: str, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after `timeout`."""
    left = wait_gone(signal_pids(pids, signal.SIGTERM, marker=marker), marker=marker, timeout=timeout)
    if left:
        wait_gone(signal_pids(left, signal.SIGKILL, marker=marker), marker=marker, timeout=timeout)
