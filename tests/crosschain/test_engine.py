"""nodes.crosschain's evaluation in process: pairing, bounded work per block, dedupe, staleness."""

from __future__ import annotations

import pytest

from alphapulse.errors import ConfigError
from mesh.protocol import decode_frame, encode_frame
from mesh.protocol.constants import DEXProtocol, PoolKind
from mesh.protocol.messages import BlockEnd, PoolState
from nodes.cexdex.config import Token, manifest_pools
from nodes.cexdex.pools import PoolStore
from nodes.crosschain.config import chain_side, parse_assets, resolve
from nodes.crosschain.engine import Evaluator, Settings

WETH, USDC = "0x" + "11" * 20, "0x" + "22" * 20
POOLS = ["0x" + f"{i:02x}" * 20 for i in (0x31, 0x32, 0x33)]
S = 10**9


def _manifest(chain_id: int) -> dict:
    return {"chain_id": chain_id,
            "tokens": {"WETH": {"address": WETH, "decimals": 18}, "USDC": {"address": USDC, "decimals": 6}},
            "uniswap_v2": {"pairs": [{"address": p, "fee_bps": 30, "token0": WETH, "token1": USDC} for p in POOLS]}}


def _frame(*tlvs):
    return decode_frame(encode_frame(list(tlvs), source=1))


def _state(pool: str, r1: int, block: int) -> PoolState:
    raw = bytes.fromhex
    return PoolState(reserve0=100 * 10**18, reserve1=r1, block_number=block, fee_rate=30,
                     pool_type=DEXProtocol.UNISWAP_V2, token0_decimals=18, token1_decimals=6,
                     pool_address=raw(pool[2:]), token0_addr=raw(WETH[2:]), token1_addr=raw(USDC[2:]))


def _end(block: int, chain_id: int) -> BlockEnd:
    return BlockEnd(next_base_fee_wei=10**9, priority_fee_wei=10**9, block_number=block, chain_id=chain_id,
                    block_hash=block.to_bytes(32, "big"))


def _evaluator(same_address: bool = False, max_pairs: int = 16, stale_s: float = 30.0) -> Evaluator:
    ma, mb = _manifest(31337), _manifest(31338)
    chains = (chain_side(0, "a", ma), chain_side(1, "b", mb))
    stores = (PoolStore(manifest_pools(ma)), PoolStore(manifest_pools(mb)))
    usd = (Token("USDC", USDC, 6),)
    settings = Settings({"bridge_fee_ppm": 500, "bridge_latency_s": 60, "latency_haircut_ppm_per_min": 50},
                        {PoolKind.UNISWAP_V2: 110_000, PoolKind.UNISWAP_V3: 130_000},
                        (Token("WETH", WETH, 18), Token("WETH", WETH, 18)), (usd, usd), 10**8, 10**9,
                        int(stale_s * S), max_pairs, 3, 0, same_address)
    return Evaluator(chains, stores, [resolve(e, ma, mb) for e in parse_assets("WETH/USDC")], settings)


def _blocks(ev: Evaluator, prices_a: list[int], prices_b: list[int], block: int, now: int) -> None:
    for chain, prices in ((0, prices_a), (1, prices_b)):
        frame = _frame(*(_state(p, r, block) for p, r in zip(POOLS, prices, strict=True)),
                       _end(block, 31337 + chain))
        ev.block_applied(chain, ev.stores[chain].feed("ring", frame) or set(), now)


def test_pairing_all_or_same_address():
    assert len(_evaluator().pairs) == 9
    same = _evaluator(same_address=True)
    assert [(p.a.address, p.b.address) for p in same.pairs] == [(p, p) for p in POOLS]


def test_work_per_block_is_bounded_and_an_unchanged_opportunity_is_not_repeated():
    ev = _evaluator(max_pairs=4)
    cheap, dear = 300_000 * 10**6, 312_000 * 10**6
    _blocks(ev, [cheap] * 3, [dear] * 3, 1, now=1 * S)
    assert len(ev.queue) == 9
    first = ev.run(10**18, 1, now_mono_ns=1 * S)
    assert len(first) == 4 and len(ev.queue) == 5 and ev.tally.evaluations == 8  # 4 pairs, both ways
    assert all(f.direction == "a_to_b" and f.signal.source_chain_id == 31337 for f in first)
    rest = ev.run(10**18, 1, now_mono_ns=1 * S) + ev.run(10**18, 1, now_mono_ns=1 * S)
    assert len(rest) == 5 and not ev.queue
    _blocks(ev, [cheap] * 3, [dear] * 3, 2, now=2 * S)  # the same prices again
    again = [f for _ in range(3) for f in ev.run(10**18, 1, now_mono_ns=2 * S)]
    assert again == [] and ev.tally.skipped["unchanged"] == 9
    ids = {f.signal.opportunity_id for f in first + rest}
    assert len(ids) == 9 and all(f.record.opportunity_id == f.signal.opportunity_id for f in first)


def test_a_stale_chain_is_not_evaluated_and_the_threshold_holds():
    ev = _evaluator(stale_s=5)
    _blocks(ev, [300_000 * 10**6] * 3, [312_000 * 10**6] * 3, 1, now=1 * S)
    assert ev.run(10**18, 1, now_mono_ns=7 * S) == [] and ev.tally.skipped["stale_chain"] == 9
    # B's next block (no pool touched) queues the deferred pairs again; A is still stale: they wait again.
    ev.block_applied(1, set(), 8 * S)
    assert len(ev.queue) == 9 and ev.run(10**18, 1, now_mono_ns=8 * S) == []
    # A's next block without a pool change: the deferred pairs are evaluated, both chains fresh.
    ev.block_applied(0, set(), 9 * S)
    assert len(ev.run(10**18, 1, now_mono_ns=9 * S)) == 9 and ev.tally.skipped["stale_chain"] == 18
    flat = _evaluator()
    _blocks(flat, [300_000 * 10**6] * 3, [300_900 * 10**6] * 3, 1, now=1 * S)  # 0.3 %: fees eat it
    assert flat.run(10**18, 1, now_mono_ns=1 * S) == []


def test_bad_asset_entries_are_config_errors():
    for text in ("", "WETH", "WETH/USDC/DAI", "WETH/USDC:-1", "WETH/USDC:x", "WETH/USDC, WETH/USDC"):
        with pytest.raises(ConfigError):
            parse_assets(text)
    assert parse_assets("WETH/USDC=WETH/USDC.e:1000")[0].q_b == "USDC.e"
    with pytest.raises(ConfigError):
        resolve(parse_assets("WETH/DAI")[0], _manifest(1), _manifest(2))
