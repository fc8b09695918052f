"""``alphapulse devnet up|status|down`` on a real anvil, with its run directory in tmp_path."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from contracts.anvil import anvil_alive
from contracts.devnet import DevnetPaths, down
from tests.devnet_fixtures import worker_port

pytestmark = [pytest.mark.chain, pytest.mark.slow]


_MAIN = "import sys; from mesh.cli import main; sys.exit(main(sys.argv[1:]))"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _MAIN, "devnet", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_up_is_idempotent_writes_manifest_and_down_stops(tmp_path):
    port = worker_port() + 5
    run = str(tmp_path / "dev")
    paths = DevnetPaths.of(run)
    try:
        first = _cli("up", "--port", str(port), "--run-dir", run)
        assert first.returncode == 0, first.stderr
        manifest = json.loads(paths.manifest.read_text())
        assert manifest["chain_id"] == 31337 and manifest["rpc_url"].endswith(f":{port}")
        assert {"WETH", "USDC", "DAI", "WBTC"} == set(manifest["tokens"])
        assert manifest["tokens"]["USDC"]["decimals"] == 6 and manifest["tokens"]["WBTC"]["decimals"] == 8
        assert manifest["aave_v3"]["flashloan_premium_bps"] == 5
        pid = manifest["anvil"]["pid"]
        second = _cli("up", "--port", str(port), "--run-dir", run)
        assert second.returncode == 0 and "already up" in second.stdout
        assert json.loads(paths.manifest.read_text())["anvil"]["pid"] == pid
        assert _cli("status", "--run-dir", run).returncode == 0
        stopped = _cli("down", "--run-dir", run)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert not anvil_alive(pid)
        assert _cli("status", "--run-dir", run).returncode == 1
    finally:
        down(paths)


def test_port_in_use_exits_2_with_one_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = _cli("up", "--port", str(port), "--run-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "already in use" in result.stderr
    assert not (tmp_path / "manifest.json").exists()


def test_non_loopback_host_exits_2(tmp_path):
    result = _cli("up", "--host", "0.0.0.0", "--port", "1", "--run-dir", str(tmp_path))
    assert result.returncode == 2 and "loopback" in result.stderr
