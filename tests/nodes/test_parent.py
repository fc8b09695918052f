"""A node process stops when its parent dies: by the kernel's signal, or by the pid watch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import signal, sys
    import alphapulse.parent as parent
    interval = 60.0  # with prctl, the watch is too slow to matter: the kernel's signal it is
    if sys.argv[1] == "no-prctl":
        parent._prctl = lambda: None
        interval = 0.05
    if sys.argv[2] == "deaf":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a node stuck in its stop
    parent.exit_with_parent(interval=interval, grace=1.0)
    print("ready", flush=True)
    while True:
        signal.pause()
""")

PARENT = textwrap.dedent("""
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "ready\\n"
    print(child.pid, flush=True)
    sys.stdin.read()  # until killed
""")


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("guard", "mood", "within"), [
    ("prctl", "obedient", 2.0),      # the kernel's SIGTERM
    ("no-prctl", "obedient", 2.0),   # the pid watch's SIGTERM
    ("no-prctl", "deaf", 4.0),       # the pid watch ends it after the grace period
])
def test_child_exits_when_its_parent_is_killed(guard, mood, within):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, guard, mood],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        child = int(parent.stdout.readline())
        time.sleep(0.2)
        assert not _gone(child, 0), "the child must live while its parent does"
        parent.kill()
        parent.wait()
        assert _gone(child, within)
    finally:
        parent.kill()
        parent.wait()
        if child and not _gone(child, 0):
            os.kill(child, signal.SIGKILL)
