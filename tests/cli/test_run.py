"""``alphapulse run`` (what ``make run`` calls) brings up the devnet and the nodes, and cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from nodes.runtime.testing import free_port, short_dir

pytestmark = pytest.mark.chain


def _status(env: dict[str, str]) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-m", "mesh", "status", "--json", "--seconds", "1"],
                         env=env, capture_output=True, timeout=30, check=False)
    rows = [orjson.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {r["node"]: r for r in rows}


def _gone(pid: int, timeout: float) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_run_starts_devnet_and_nodes_then_stops_everything(tmp_path):
    with short_dir() as run_dir:
        env = dict(os.environ, ALPHAPULSE_RUN_DIR=str(run_dir),
                   ALPHAPULSE_METRICS_BASE_PORT=str(free_port()),
                   ALPHAPULSE_RING_NAMESPACE=f"aprun{os.getpid()}")
        devnet_dir = tmp_path / "devnet"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mesh", "run", "--seconds", "60", "--devnet-port",
             str(free_port()), "--devnet-dir", str(devnet_dir)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 45
            running: set[str] = set()
            while time.monotonic() < deadline and running != {"risk", "monitor"}:
                status = _status(env)
                running = {n for n, r in status.items() if r.get("state") == "RUNNING"}
                time.sleep(0.5)
            assert running == {"risk", "monitor"}
            manifest = orjson.loads((devnet_dir / "manifest.json").read_bytes())
            anvil_pid = manifest["anvil"]["pid"]
            os.kill(anvil_pid, 0)  # the chain is up
        finally:
            proc.send_signal(signal.SIGINT)
            output = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode == 0, output
        assert "devnet: stopped" in output
        assert _gone(anvil_pid, timeout=10)
        assert not (run_dir / "supervisord.pid").exists()
