"""``alphapulse dashboard`` against a :class:`bench._e2e_mesh.SupervisedMesh`, for the live
browser test.

:class:`Dashboard` runs the command with the mesh's environment (its run directory, ring
namespace and devnet) on a free port, waits for the ``dashboard: http://...`` line it prints
once listening, and stops it (SIGTERM, then SIGKILL) on exit, also when the test failed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from alphapulse.ports import free_port
from bench._e2e_mesh import SupervisedMesh

#: How long the dashboard may take to listen on a loaded machine (imports, first mesh reads).
START_S = 300.0
_LISTENING = re.compile(r"dashboard: (http://\S+)")


class Dashboard:
    """``python -m mesh dashboard`` for ``mesh`` (a context manager); ``url`` once entered."""

    def __init__(self, mesh: SupervisedMesh) -> None:
        self.mesh = mesh
        self.log_path = mesh.root / "dashboard.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> Dashboard:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Spawn the dashboard and wait until it says where it listens."""
        env = dict(self.mesh.env, PYTHONUNBUFFERED="1")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mesh", "dashboard", "--host", "127.0.0.1",
                 "--port", str(free_port())], env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_S
        while not (m := _LISTENING.search(self.output())):
            if self.proc.poll() is not None:
                raise AssertionError(f"alphapulse dashboard exited with {self.proc.returncode}: "
                                     f"{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"alphapulse dashboard not listening within {START_S} s: "
                                     f"{self.output()}")
            time.sleep(0.2)
        self.url = m.group(1)

    def output(self, tail: int = 3000) -> str:
        """The end of the dashboard's output."""
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def close(self) -> None:
        """Stop the dashboard: SIGTERM, then SIGKILL of its process group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
