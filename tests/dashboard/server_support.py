"""A risk node under :class:`NodeHarness` and ``alphapulse dashboard`` against its mesh.

:class:`LiveDashboard` starts the command on a free port (``--port 0``) with the harness's
configuration, reads the ``dashboard: http://...`` line, and offers small HTTP and websocket
helpers. The harness's ``feeder`` publishes what the tests send; :meth:`LiveDashboard.hear_feeder`
waits until the dashboard's subscriber is connected to it (a probe heartbeat seen), so nothing
published after is lost to ZeroMQ's slow joiner.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

import orjson

from mesh.protocol import Heartbeat
from mesh.protocol.constants import NodeState
from nodes.runtime.testing import NodeHarness

START_S = 120.0
_URL = re.compile(rb"dashboard: http://([0-9.]+):(\d+)/")


class LiveDashboard:
    """``python -m mesh dashboard`` for ``harness``'s mesh; a context manager."""

    def __init__(self, harness: NodeHarness, *extra: str) -> None:
        self.h = harness
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = harness.run_dir / "dashboard.out"
        self.host, self.port = "127.0.0.1", 0

    def __enter__(self) -> LiveDashboard:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mesh", "dashboard", "--config", str(self.h.config_path),
                 "--port", "0", *self.extra], env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_S
        try:
            while not (m := _URL.search(self.log_path.read_bytes())):
                assert self.proc.poll() is None, f"dashboard exited: {self.output()}"
                assert time.monotonic() < deadline, f"dashboard not listening: {self.output()}"
                time.sleep(0.1)
        except BaseException:
            self.close()
            raise
        self.host, self.port = m.group(1).decode(), int(m.group(2))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """SIGTERM, then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def output(self) -> str:
        """What the dashboard printed."""
        return self.log_path.read_text(errors="replace")[-3000:]

    @property
    def token(self) -> str:
        """The operator token the dashboard created in the run directory."""
        return (self.h.run_dir / "dashboard.token").read_text().strip()

    @property
    def ws_url(self) -> str:
        """The websocket's URL."""
        return f"ws://{self.host}:{self.port}/ws"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """One HTTP request; ``(status, JSON body or text)``."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, orjson.loads(data)
        except orjson.JSONDecodeError:
            return resp.status, data.decode(errors="replace")

    def state(self) -> dict[str, Any]:
        """``GET /api/state``."""
        status, body = self.request("GET", "/api/state")
        assert status == 200, body
        return body

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``GET /metrics`` (0 when absent)."""
        status, text = self.request("GET", "/metrics")
        assert status == 200
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
                       if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def hear_feeder(self, timeout: float = 60.0) -> None:
        """Publish probe heartbeats as ``feeder`` until the dashboard lists it RUNNING."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.h.feeder.publish([Heartbeat(node="feeder", state=int(NodeState.RUNNING),
                                             pid=os.getpid(), interval_ms=60_000)])
            nodes = {n["name"]: n for n in self.state()["nodes"]}
            if nodes.get("feeder", {}).get("state") == "RUNNING":
                return
            time.sleep(0.2)
        raise AssertionError(f"the dashboard never heard the feeder: {self.output()}")

    def wait_state(self, check: Any, timeout: float = 60.0) -> dict[str, Any]:
        """Poll ``/api/state`` until ``check(state)`` is true; return that state."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.state()
            if check(st):
                return st
            assert time.monotonic() < deadline, f"state never matched: {orjson.dumps(st)[:2000]!r}"
            time.sleep(0.1)


@contextlib.contextmanager
def risk_and_dashboard(*extra: str):
    """A risk node (harness) and a dashboard on its mesh that hears the feeder."""
    with NodeHarness("risk") as h, LiveDashboard(h, *extra) as d:
        d.hear_feeder()
        yield h, d
