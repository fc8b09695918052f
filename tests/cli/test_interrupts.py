"""Ctrl-C in the first moments of any ``alphapulse`` command: status 130 (or 0), no traceback.

The moments are counted from when the command line has started loading (it holds SIGINT back
while it imports, which ``/proc/PID/status`` shows as a blocked SIGINT), so they fall in the
imports of numba, ZeroMQ or web3 and in the first instants of the command itself. Before that
the process is Python's own start-up, which no code of the project runs in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesh.cli import registered

CLI = str(Path(sys.executable).parent / "alphapulse")
SIGINT_BIT = 1 << (signal.SIGINT - 1)
#: Seconds after loading starts at which Ctrl-C is pressed.
MOMENTS = (0.0, 0.03, 0.15, 0.4)

#: Arguments that keep each command busy for a while; an unlisted command gets ``--help``.
ARGS: dict[str, list[str]] = {
    "run": ["--no-devnet"],
    "status": ["--seconds", "5"],
    "nodes": [],
    "tap": [],
    "rings": ["--watch", "0.05"],
    "stop": ["--reason", "interrupt test", "--timeout", "5"],
    "resume": ["--timeout", "5"],
    "devnet": ["down"],
    "keys": ["list", "--dir", "."],
    "decode": [],
    "encode": [],
    "types": [],
}


def _sigint_blocked(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    return bool(int(line.split()[1], 16) & SIGINT_BIT)
    except FileNotFoundError:
        pass
    return False


def _wait_until_loading(proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not _sigint_blocked(proc.pid):
        assert proc.poll() is None, "the command ended before it held Ctrl-C back"
        assert time.monotonic() < deadline, "the command never held Ctrl-C back while loading"
        time.sleep(0.0005)


@pytest.mark.parametrize("command", [name for name, _ in registered()])
def test_ctrl_c_early_exits_130_without_traceback(command, cli_env):
    for moment in MOMENTS:
        proc = subprocess.Popen([CLI, command, *ARGS.get(command, ["--help"])],
                                env=cli_env.env, cwd=cli_env.root, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _wait_until_loading(proc)
            time.sleep(moment)
            proc.send_signal(signal.SIGINT)
            err = proc.communicate(timeout=60)[1].decode()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert "Traceback" not in err, f"{command} at {moment}s:\n{err}"
        assert proc.returncode in (130, 0), f"{command} at {moment}s: {proc.returncode}\n{err}"
