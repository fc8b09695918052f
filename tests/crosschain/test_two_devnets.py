"""Two devnets: the same market on two chain ids, prices parted by a swap on one chain.

The fixture's own checks and ``alphapulse devnet up --chain-id``; then end to end: two
collector processes (chain B's as ``collector-evm-b`` in a ring namespace of its own, by
configuration only) and the crosschain node, whose signals must equal the trade computed here,
independently, from both chains' pools read over RPC at the blocks the signal priced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts.client import Chain
from contracts.devnet import DevnetPaths, down
from contracts.pools import read_v2
from mesh.protocol import decode_frame
from mesh.protocol.constants import RelayDomain
from mesh.protocol.messages import BlockEnd, CrossChainArbitrageSignal, CrossChainLegs
from mesh.rings import DomainReaders, RingBatch
from nodes.runtime.testing import NodeHarness
from shm.segment import list_ring_names, unlink
from tests.devnet_fixtures import worker_port

from .conftest import CHAIN_A, CHAIN_B, ChainNet, TwoDevnets, part_prices

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


# -- end to end ----------------------------------------------------------------------------------

BRIDGE = {"bridge_fee_ppm": 500, "bridge_latency_s": 600, "latency_haircut_ppm_per_min": 50}
GAS_V2 = 110_000
_GET_RESERVES = "0x0902f1ac"


def _v2_out(amount_in: int, r_in: int, r_out: int) -> int:
    """UniswapV2Library.getAmountOut."""
    a = amount_in * 997
    return a * r_out // (r_in * 1000 + a)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class _Side:
    """One leg's pool at the priced block: its USDC and WETH reserves, and gas in raw USDC."""

    r_q: int
    r_x: int
    gas_q: int


def _trade(q: int, src: _Side, dst: _Side) -> dict[str, int]:
    """Buy WETH with ``q`` USDC on the source pool, bridge it, sell it on the destination pool:
    every quantity of the trade, exactly (docs/crosschain.md's steps, written again here)."""
    x1 = _v2_out(q, src.r_q, src.r_x)
    fee = min(x1, _ceil_div(x1 * BRIDGE["bridge_fee_ppm"], 10**6))
    x2 = x1 - fee  # WETH has 18 decimals on both chains
    y = _v2_out(x2, dst.r_x, dst.r_q)
    haircut = min(y, _ceil_div(y * BRIDGE["latency_haircut_ppm_per_min"]
                               * BRIDGE["bridge_latency_s"], 60 * 10**6))
    out = y - haircut
    return {"x_bought": x1, "bridge_fee": fee, "x_arrived": x2, "dest_amount_out": y,
            "latency_haircut": haircut, "expected_out": out,
            "gas_cost": src.gas_q + dst.gas_q, "net_profit": out - q - src.gas_q - dst.gas_q}


def _best(src: _Side, dst: _Side) -> int:
    """The best integer input by a ternary search over the (near-concave) profit, then every
    integer within 2000 of it."""
    lo, hi = 1, src.r_q
    while hi - lo > 2000:
        m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        if _trade(m1, src, dst)["net_profit"] < _trade(m2, src, dst)["net_profit"]:
            lo = m1
        else:
            hi = m2
    return max(_trade(q, src, dst)["net_profit"]
               for q in range(max(1, lo - 2000), hi + 2000))


class _BlockEnds:
    """Every BlockEnd each collector wrote, read from its ring, by (chain id, block)."""

    def __init__(self, rings: dict[int, tuple[str, str]]) -> None:
        self.readers = {cid: DomainReaders(ns, RelayDomain.MARKET_DATA, writers=frozenset({w}))
                        for cid, (ns, w) in rings.items()}
        self.ends: dict[tuple[int, int], BlockEnd] = {}

    def poll(self) -> None:
        for cid, readers in self.readers.items():
            def keep(batch: RingBatch, cid: int = cid) -> None:
                for raw in batch.frames():
                    for t in decode_frame(raw).tlvs:
                        if isinstance(t, BlockEnd):
                            assert t.chain_id == cid, "a collector's BlockEnd in the wrong ring"
                            self.ends[(cid, t.block_number)] = t
            readers.discover(keep)
            readers.drain(keep)

    def close(self) -> None:
        for readers in self.readers.values():
            readers.close()


def _side(net: ChainNet, pool: str, block: int, end: BlockEnd) -> _Side:
    """The pool's reserves at ``block`` (eth_call at that block) and a leg's gas at the block's
    BlockEnd gas price, in raw USDC at the pool's price (rounded up)."""
    word = net.chain.rpc("eth_call", [{"to": pool, "data": _GET_RESERVES}, hex(block)])
    r0, r1 = int(word[2:66], 16), int(word[66:130], 16)
    usdc_first = read_v2(net.chain, pool).token0.lower() == net.token("USDC").lower()
    r_q, r_x = (r0, r1) if usdc_first else (r1, r0)
    wei = GAS_V2 * (end.next_base_fee_wei + end.priority_fee_wei)
    return _Side(r_q, r_x, _ceil_div(wei * r_q, r_x))


def _check(sig: CrossChainArbitrageSignal, legs: CrossChainLegs, nets: dict[int, ChainNet],
           ends: _BlockEnds, pool: str) -> None:
    """The signal and its legs equal the trade computed here from both chains at its blocks."""
    src_net, dst_net = nets[sig.source_chain_id], nets[sig.dest_chain_id]
    assert legs.opportunity_id == sig.opportunity_id
    assert sig.source_pool == sig.dest_pool == bytes.fromhex(pool[2:])
    assert sig.token_in == bytes.fromhex(src_net.token("USDC")[2:])
    assert sig.token_out == bytes.fromhex(dst_net.token("USDC")[2:])
    assert legs.source_asset == legs.dest_asset == bytes.fromhex(src_net.token("WETH")[2:])
    src = _side(src_net, pool, legs.source_block,
                ends.ends[(sig.source_chain_id, legs.source_block)])
    dst = _side(dst_net, pool, legs.dest_block, ends.ends[(sig.dest_chain_id, legs.dest_block)])
    want = _trade(sig.amount_in, src, dst)
    got = {k: getattr(legs, k) for k in want if k != "expected_out"}
    assert got == {k: v for k, v in want.items() if k != "expected_out"}
    assert sig.expected_out == want["expected_out"]
    assert sig.net_profit_usd_q8 == want["net_profit"] * 100 > 10**8  # USDC 1:1, above $1
    fee_q = _ceil_div(want["bridge_fee"] * src.r_q, src.r_x)
    assert sig.bridge_cost_usd_q8 == (fee_q + want["latency_haircut"]) * 100
    assert sig.confidence_bps == want["expected_out"] * 10_000 // want["dest_amount_out"]
    assert sig.bridge_latency_s == BRIDGE["bridge_latency_s"]
    assert _best(src, dst) - want["net_profit"] <= 2  # no input does better (but for roundings)


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_two_collectors_and_the_crosschain_node_signal_exactly_when_prices_part(
        two_devnets: TwoDevnets, unique_name, tmp_path):
    a, b = two_devnets.chains
    nets = {a.chain_id: a, b.chain_id: b}
    ns_a, ns_b = unique_name, f"{unique_name}-b"
    pool = a.pool("uniswap_v2", "WETH/USDC")
    settings = {"manifest_a": str(a.manifest_path), "manifest_b": str(b.manifest_path),
                "ring_namespaces": [ns_b], "assets": "WETH/USDC", "pairing": "same_address",
                "min_profit_usd": 1.0, "stale_s": 3600.0, **BRIDGE}
    procs: list[subprocess.Popen] = []
    ends = _BlockEnds({a.chain_id: (ns_a, "collector-evm"), b.chain_id: (ns_b, "collector-evm-b")})
    try:
        with NodeHarness("crosschain", settings=settings, start_timeout=120,
                         mesh={"deadline_ms": 0, "ring_namespace": ns_a},
                         extra_nodes=["collector-evm", "collector-evm-b"]) as h:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
            env.update(ALPHAPULSE_NODE_COLLECTOR_EVM_MANIFEST=str(a.manifest_path),
                       ALPHAPULSE_NODE_COLLECTOR_EVM_B_MANIFEST=str(b.manifest_path),
                       ALPHAPULSE_NODE_COLLECTOR_EVM_B_RING_NAMESPACE=ns_b)
            for name in ("collector-evm", "collector-evm-b"):  # configuration only
                procs.append(_spawn([sys.executable, "-m", "nodes.runtime", "collector-evm",
                                     "--name", name, "--config", str(h.config_path)], env,
                                    tmp_path / f"{name}.log"))
            twins = 1 + 1 + len([p for p in a.manifest["uniswap_v3"]["pools"]
                                 if p["pair"] == "WETH/USDC"])  # V2, V2 fork, V3 pools
            evaluations = "alphapulse_crosschain_evaluations_total"

            def settled(_: object) -> bool:
                ends.poll()
                return h.metric(evaluations) >= 2 * twins

            h.collect(settled, timeout=180)
            assert h.metric(evaluations) >= 2 * twins, _logs(h, tmp_path)
            # Equal markets, every twin pair evaluated both ways: nothing to signal.
            assert h.produced(CrossChainArbitrageSignal) == []
            # Each chain's pools in its own namespace: chain A's readers (the strategy's,
            # executor's, risk's, cexdex's) see only chain A's collector.
            writers = {ns: {r.writer for r in list_ring_names(ns) if r.domain == "market-data"}
                       for ns in (ns_a, ns_b)}
            assert writers == {ns_a: {"collector-evm"}, ns_b: {"collector-evm-b"}}
            for ns, writer in ((ns_a, "collector-evm"), (ns_b, "collector-evm-b")):
                ring = f"/ap.{ns}.market-data.{writer}"
                assert h.metric("alphapulse_ring_frames_read_total", ring=ring) > 0, ring

            directions = []
            for net, amount, source in ((b, 90_000 * 10**6, a.chain_id),      # WETH dearer on B
                                        (a, 270_000 * 10**6, b.chain_id)):   # then dearer on A
                before = len(h.produced(CrossChainArbitrageSignal))
                part_prices(net, amount=amount)

                def signalled(_: object, before: int = before, source: int = source) -> bool:
                    ends.poll()
                    return any(s.source_chain_id == source
                               for s in h.produced(CrossChainArbitrageSignal)[before:])

                h.collect(signalled, timeout=120)
                assert signalled(None), _logs(h, tmp_path)
                directions.append(source)
            h.collect(lambda _: len(h.produced(CrossChainLegs))
                      == len(h.produced(CrossChainArbitrageSignal)), timeout=10)
            ends.poll()
            signals = h.produced(CrossChainArbitrageSignal)
            legs = {r.opportunity_id: r for r in h.produced(CrossChainLegs)}
            h.assert_contract()
        assert directions == [a.chain_id, b.chain_id]
        assert {(s.source_chain_id, s.dest_chain_id) for s in signals} == {
            (a.chain_id, b.chain_id), (b.chain_id, a.chain_id)}
        for sig in signals:  # every signal, not only the first of each direction
            assert isinstance(sig, CrossChainArbitrageSignal)
            _check(sig, legs[sig.opportunity_id], nets, ends, pool)
    finally:
        for proc in procs:
            _stop(proc)
        ends.close()
        for ns in (ns_a, ns_b):
            for ring in list_ring_names(ns):
                unlink(ring)


def _logs(h: NodeHarness, tmp_path: Path) -> str:
    logs = [f"--- crosschain ---\n{h.log()[-3000:]}"]
    logs += [f"--- {p.name} ---\n{p.read_text(errors='replace')[-2000:]}"
             for p in sorted(tmp_path.glob("collector-evm*.log"))]
    return "\n".join(logs)
