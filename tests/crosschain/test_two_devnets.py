"""Two devnets: the same market on two chain ids, prices parted by a swap on one chain.

The fixture's own checks and ``alphapulse devnet up --chain-id``; the end-to-end run of two
collectors and the crosschain node is below them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from contracts.client import Chain
from contracts.devnet import DevnetPaths, down
from contracts.pools import read_v2
from tests.devnet_fixtures import worker_port

from .conftest import CHAIN_A, CHAIN_B, TwoDevnets, part_prices

pytestmark = [pytest.mark.chain, pytest.mark.slow]

_MAIN = "import sys; from mesh.cli import main; sys.exit(main(sys.argv[1:]))"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _MAIN, "devnet", *args], capture_output=True,
                          text=True, timeout=180, check=False)


def _reserves(net, pair: str = "WETH/USDC") -> tuple[int, int]:
    state = read_v2(net.chain, net.pool("uniswap_v2", pair))
    return state.reserve0, state.reserve1


def test_two_devnets_hold_the_same_market_on_two_chain_ids_until_one_is_moved(
        two_devnets: TwoDevnets):
    a, b = two_devnets.chains
    assert (a.chain.chain_id, b.chain.chain_id) == (CHAIN_A, CHAIN_B) == (a.chain_id, b.chain_id)
    assert a.port != b.port
    for net in (a, b):
        manifest = json.loads(net.manifest_path.read_text())
        assert manifest["chain_id"] == net.chain_id and manifest["rpc_url"] == net.url
    assert a.manifest["tokens"] == b.manifest["tokens"]
    assert a.pool("uniswap_v2", "WETH/USDC") == b.pool("uniswap_v2", "WETH/USDC")
    assert _reserves(a) == _reserves(b)
    part_prices(b)
    assert _reserves(a) != _reserves(b)


def test_each_test_starts_with_equal_prices(two_devnets: TwoDevnets):
    a, b = two_devnets.chains
    assert _reserves(a) == _reserves(b)
    assert _reserves(a, "WETH/DAI") == _reserves(b, "WETH/DAI")


def test_devnet_up_takes_a_chain_id_and_a_block_time_and_refuses_another_chain_id(tmp_path):
    port = worker_port() + 7
    run = str(tmp_path / "devnet-b")
    try:
        first = _cli("up", "--port", str(port), "--run-dir", run, "--chain-id", str(CHAIN_B),
                     "--block-time", "1")
        assert first.returncode == 0, first.stderr
        assert f"chain {CHAIN_B}" in first.stdout
        manifest = json.loads(DevnetPaths.of(run).manifest.read_text())
        assert manifest["chain_id"] == CHAIN_B
        chain = Chain(manifest["rpc_url"], timeout=60)
        start = chain.block_number()
        deadline = time.monotonic() + 120
        while chain.block_number() == start and time.monotonic() < deadline:
            time.sleep(0.2)  # blocks without transactions: interval mining
        assert chain.block_number() > start
        other = _cli("up", "--port", str(port), "--run-dir", run)  # 31337 by default
        assert other.returncode == 2 and other.stderr.count("\n") == 1
        assert f"chain id {CHAIN_B}, not {CHAIN_A}" in other.stderr
    finally:
        down(DevnetPaths.of(run))


@pytest.mark.parametrize(("option", "bad", "says"), [
    ("--chain-id", "0", "chain id"), ("--chain-id", "x", "chain id"),
    ("--chain-id", str(2**53), "chain id"), ("--block-time", "-1", "block time"),
    ("--block-time", "1.5", "block time")])
def test_a_bad_chain_id_or_block_time_exits_2(tmp_path, option, bad, says):
    result = _cli("up", option, bad, "--run-dir", str(tmp_path))
    assert result.returncode == 2 and says in result.stderr
