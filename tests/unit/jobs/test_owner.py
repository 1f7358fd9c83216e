"""Lease owners: which processes of this host are gone."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from cascade.jobs import owner


def test_running_processes_are_not_gone_and_exited_ones_are_even_unreaped():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    quitter = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        time.sleep(1.0)   # quitter has exited; nobody has reaped it yet
        names = {name: f"{owner.host()}:{proc.pid}:t" for name, proc in (("sleeper", sleeper), ("quitter", quitter))}
        gone = owner.gone(set(names.values()) | {owner.this_process(), "otherhost:1:t"})
        assert gone == {names["quitter"]}
        earlier_me = f"{owner.host()}:{os.getpid()}:earlier"
        assert owner.gone({earlier_me}) == {earlier_me}, "this pid under another lifetime's token"
    finally:
        sleeper.kill()
        sleeper.wait()
        quitter.wait()
