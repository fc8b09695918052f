"""The crosschain node as a process: two ring namespaces (chains A and B) in, CrossChainArbitrageSignal out."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from contracts.swapmath.crosschain import Bridge, Leg, Route, optimise
from contracts.swapmath.pools import V2Pool
from mesh.protocol import encode_frame
from mesh.protocol.constants import DEXProtocol, SourceType, VenueId
from mesh.protocol.messages import (
    BlockEnd,
    CrossChainArbitrageSignal,
    CrossChainLegs,
    PoolState,
    PoolSync,
)
from nodes.runtime.testing import NodeHarness, short_dir, write_config
from nodes.strategy.prices import convert_at

WETH, USDC = "0x" + "11" * 20, "0x" + "22" * 20
PAIR = "0x" + "33" * 20  # the same address on both chains
GAS_PRICE = 2 * 10**9
KIND = "nodes.crosschain:CrossChainNode"
A, B = (100 * 10**18, 300_000 * 10**6), (100 * 10**18, 309_000 * 10**6)  # 3000 and 3090 USDC per WETH
BRIDGE = {"bridge_fee_ppm": 500, "bridge_latency_s": 60, "latency_haircut_ppm_per_min": 50}


def _manifest(tmp_path, name: str, chain_id: int) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "chain_id": chain_id,
        "tokens": {"WETH": {"address": WETH, "decimals": 18}, "USDC": {"address": USDC, "decimals": 6}},
        "uniswap_v2": {"pairs": [{"address": PAIR, "fee_bps": 30, "kind": "v2", "pair": "WETH/USDC",
                                  "token0": WETH, "token1": USDC}]},
    }))
    return str(path)


def _raw(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def _state(block: int, r: tuple[int, int]) -> PoolState:
    return PoolState(reserve0=r[0], reserve1=r[1], block_number=block, fee_rate=30, pool_type=DEXProtocol.UNISWAP_V2,
                     token0_decimals=18, token1_decimals=6, pool_address=_raw(PAIR), token0_addr=_raw(WETH),
                     token1_addr=_raw(USDC))


def _end(block: int, chain_id: int) -> BlockEnd:
    return BlockEnd(next_base_fee_wei=GAS_PRICE - 10**9, priority_fee_wei=10**9, block_number=block,
                    chain_id=chain_id, block_hash=block.to_bytes(32, "big"))


def expected(a: tuple[int, int], b: tuple[int, int]):
    """Sized here with the math alone: (legs, net USD q8, bridge cost USD q8), buying on A."""
    pa, pb = V2Pool(PAIR, WETH, USDC, *a), V2Pool(PAIR, WETH, USDC, *b)
    gas_a = -(-110_000 * GAS_PRICE * a[1] // a[0])
    gas_b = -(-110_000 * GAS_PRICE * b[1] // b[0])
    route = Route(Leg(pa, False, 18, 6), Leg(pb, False, 18, 6), Bridge(0, 500, 60, 50), gas_a, gas_b)
    legs = optimise(route)
    assert legs is not None
    cost = (convert_at(pa, legs.bridge_fee, WETH, up=True) or 0) + legs.haircut
    return legs, legs.profit * 100, cost * 100


def test_node_prices_both_chains_and_publishes_the_exact_cross_chain_trade(tmp_path, unique_name):
    ns_b = f"{unique_name}b"
    settings = {"manifest_a": _manifest(tmp_path, "a", 31337), "manifest_b": _manifest(tmp_path, "b", 31338),
                "ring_namespaces": [ns_b], "assets": "WETH/USDC", "min_profit_usd": 1.0, "stale_s": 3600.0, **BRIDGE}
    with NodeHarness(KIND, settings=settings, mesh={"deadline_ms": 0}, start_timeout=60) as h:
        h.feed_ring(_state(10, A), _end(10, 31337))
        h.feed_ring(_state(7, B), namespace=ns_b)
        # hostile: a corrupt frame, a BlockEnd naming the wrong chain, a pool neither manifest lists
        corrupt = bytearray(encode_frame([_end(8, 31338)], source=int(SourceType.DASHBOARD)))
        corrupt[40] ^= 0xFF
        h.feed_ring_raw(bytes(corrupt), namespace=ns_b)
        h.feed_ring(_end(8, 31337), namespace=ns_b)
        stranger = _state(7, B)._replace(pool_address=_raw("0x" + "44" * 20))
        h.feed_ring(stranger, _end(8, 31338), namespace=ns_b)

        first = h.wait_for(CrossChainArbitrageSignal, timeout=30)[0]
        legs, usd, cost = expected(A, B)
        assert (first.amount_in, first.expected_out) == (legs.amount_in, legs.expected_out)
        assert (first.net_profit_usd_q8, first.bridge_cost_usd_q8) == (usd, cost)
        assert (first.source_chain_id, first.dest_chain_id) == (31337, 31338)
        assert first.source_pool == first.dest_pool == _raw(PAIR)
        assert first.token_in == first.token_out == _raw(USDC)
        assert first.source_venue == first.dest_venue == VenueId.UNISWAP_V2
        assert first.bridge_latency_s == 60 and first.strategy_id == 3 and first.bridge == 0
        assert first.confidence_bps == legs.expected_out * 10_000 // legs.q_out
        assert first.valid_until_ns > time.time_ns()
        record = h.wait_for(CrossChainLegs, timeout=30)[0]
        assert record.opportunity_id == first.opportunity_id
        assert (record.x_bought, record.bridge_fee, record.x_arrived) == (legs.x_bought, legs.bridge_fee,
                                                                          legs.x_arrived)
        assert (record.dest_amount_out, record.latency_haircut) == (legs.q_out, legs.haircut)
        assert (record.gas_cost, record.net_profit) == (legs.gas, legs.profit)
        assert (record.source_block, record.dest_block) == (10, 8)
        assert (record.bridge_fee_ppm, record.latency_haircut_ppm_per_min) == (500, 50)
        assert record.source_asset == record.dest_asset == _raw(WETH)
        frames = [d for d in h.deliveries if any(isinstance(t, CrossChainArbitrageSignal) for t in d.frame.tlvs)]
        assert [type(t) for t in frames[0].frame.tlvs] == [CrossChainArbitrageSignal, CrossChainLegs]

        # Another block of B that changes nothing: not published again.
        h.feed_ring(_end(9, 31338), namespace=ns_b)
        # B's price moves further apart: a new, larger signal.
        moved = (B[0], 312_000 * 10**6)
        h.feed_ring(PoolSync(reserve0=moved[0], reserve1=moved[1], block_number=10, pool_address=_raw(PAIR)),
                    _end(10, 31338), namespace=ns_b)
        second = h.wait_for(CrossChainArbitrageSignal, 2, timeout=30)[1]
        assert second.amount_in == expected(A, moved)[0].amount_in and second.net_profit_usd_q8 > usd
        assert second.opportunity_id != first.opportunity_id
        # The reverse: A's price rises above B's: buy on B, sell on A.
        dear = (A[0], 320_000 * 10**6)
        h.feed_ring(PoolSync(reserve0=dear[0], reserve1=dear[1], block_number=11, pool_address=_raw(PAIR)),
                    _end(11, 31337))
        third = h.wait_for(CrossChainArbitrageSignal, 3, timeout=30)[2]
        assert (third.source_chain_id, third.dest_chain_id) == (31338, 31337)
        assert len(h.produced(CrossChainArbitrageSignal)) == 3

        assert h.metric("alphapulse_errors_total", kind="chain_mismatch") == 1
        assert h.metric("alphapulse_errors_total", kind="unknown_pool") == 1
        malformed = {k: v for k, v in _errors(h).items() if k not in ("chain_mismatch", "unknown_pool")}
        assert sum(malformed.values()) == 1, malformed  # the corrupt frame, by its decode error's kind
        assert h.metric("alphapulse_crosschain_signals_total", asset="WETH/USDC", direction="a_to_b") == 2
        assert h.metric("alphapulse_crosschain_signals_total", asset="WETH/USDC", direction="b_to_a") == 1
        h.assert_contract()


def _errors(h: NodeHarness) -> dict[str, float]:
    out = {}
    for line in h.metrics().splitlines():
        if line.startswith("alphapulse_errors_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            out[kind] = float(line.rsplit(" ", 1)[1])
    return out


def test_a_stale_chain_publishes_nothing_and_is_counted(tmp_path, unique_name):
    ns_b = f"{unique_name}b"
    settings = {"manifest_a": _manifest(tmp_path, "a", 31337), "manifest_b": _manifest(tmp_path, "b", 31338),
                "ring_namespaces": [ns_b], "assets": "WETH/USDC", "stale_s": 0.5, **BRIDGE}
    with NodeHarness(KIND, settings=settings, mesh={"deadline_ms": 0}, start_timeout=60) as h:
        h.feed_ring(_state(7, B), _end(7, 31338), namespace=ns_b)
        _wait_skipped(h, 1)  # B's block applied: A has none yet
        time.sleep(1.0)  # B's last block is now older than stale_s (a lower bound, not a timed assertion)
        h.feed_ring(_state(10, A), _end(10, 31337))
        _wait_skipped(h, 2)
        # B's block found A without one yet; A's block found B stale: both counted, nothing sized.
        assert h.metric("alphapulse_crosschain_skipped_total", reason="stale_chain") == 2
        assert h.produced(CrossChainArbitrageSignal) == []


def _wait_skipped(h: NodeHarness, n: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and h.metric("alphapulse_crosschain_skipped_total", reason="stale_chain") < n:
        time.sleep(0.05)


def test_configuration_errors_exit_2_with_one_line():
    with short_dir() as run_dir:
        config = write_config(run_dir / "mesh.toml", {"run_dir": str(run_dir), "default_nodes": False},
                              {"crosschain": {"assets": "WETH/USDC", "namespace_b": "apb"}})
        done = subprocess.run([sys.executable, "-m", "nodes.runtime", KIND, "--name", "crosschain",
                               "--config", str(config)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "manifest_b" in done.stderr and "Traceback" not in done.stderr
        config = write_config(run_dir / "mesh.toml", {"run_dir": str(run_dir), "default_nodes": False},
                              {"crosschain": {"assets": "WETH", "namespace_b": "apb", "manifest_b": "x.json"}})
        done = subprocess.run([sys.executable, "-m", "nodes.runtime", KIND, "--name", "crosschain",
                               "--config", str(config)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "WETH" in done.stderr and "Traceback" not in done.stderr
