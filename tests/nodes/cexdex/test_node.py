"""The cexdex node as a process: ring frames built here in, CexDexSignal out."""

from __future__ import annotations

import json
import time

from contracts.swapmath.pools import V2Pool
from mesh.protocol import (
    EmergencyStop,
    InstrumentId,
    OrderBook,
    Quote,
    StateInvalidation,
    Trade,
    encode_frame,
)
from mesh.protocol.constants import (
    CexDexDirection,
    DEXProtocol,
    PoolKind,
    RelayDomain,
    SourceType,
    VenueId,
)
from mesh.protocol.messages import BlockEnd, CexDexSignal, PoolState, PoolSync
from mesh.protocol.messages.market import OrderLevel
from mesh.protocol.messages.upstream_system import InstrumentIdRecord
from nodes.cexdex.sizing import Market, size
from nodes.runtime.testing import NodeHarness

WETH, USDC = "0x" + "11" * 20, "0x" + "22" * 20
PAIR = "0x" + "33" * 20
ETH_USDT = InstrumentId.coin(VenueId.BINANCE, "ETH/USDT")
RESERVES = (100 * 10**18, 300_000 * 10**6)  # 3000 USDC per WETH
GAS_PRICE = 2 * 10**9  # base fee + tip of the BlockEnds below
KIND = "nodes.cexdex:CexDexNode"


def _manifest(tmp_path) -> str:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({
        "chain_id": 31337,
        "tokens": {"WETH": {"address": WETH, "decimals": 18}, "USDC": {"address": USDC, "decimals": 6}},
        "uniswap_v2": {"pairs": [{"address": PAIR, "fee_bps": 30, "kind": "v2", "pair": "WETH/USDC",
                                  "token0": WETH, "token1": USDC}]},
    }))
    return str(path)


def _raw(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def _state(block: int, r0: int, r1: int) -> PoolState:
    return PoolState(reserve0=r0, reserve1=r1, block_number=block, fee_rate=30, pool_type=DEXProtocol.UNISWAP_V2,
                     token0_decimals=18, token1_decimals=6, pool_address=_raw(PAIR), token0_addr=_raw(WETH),
                     token1_addr=_raw(USDC))


def _end(block: int) -> BlockEnd:
    return BlockEnd(next_base_fee_wei=GAS_PRICE - 10**9, priority_fee_wei=10**9, block_number=block,
                    chain_id=31337, block_hash=block.to_bytes(32, "big"))


def _book(bids, asks, ts: int) -> OrderBook:
    level = OrderLevel.cls
    return OrderBook(snapshot_timestamp_ns=ts, sequence=ts, precision_factor=10**8, asset_id=ETH_USDT.asset_id,
                     venue=ETH_USDT.venue, asset_type=ETH_USDT.asset_type,
                     bids=tuple(level(price=p, size=q, order_count=1) for p, q in bids),
                     asks=tuple(level(price=p, size=q, order_count=1) for p, q in asks))


def _levels(top_usd: float, below: bool) -> list[tuple[int, int]]:
    step = -1 if below else 1
    return [(int((top_usd + step * i) * 10**8), 5 * 10**8) for i in range(5)]


def expected(bids, reserves=RESERVES) -> tuple[int, int, int]:
    """(profit, dex input, cex quantity) of direction 0, sized here."""
    pool = V2Pool(PAIR, WETH, USDC, *reserves)
    gas = -(-110_000 * GAS_PRICE * reserves[1] // reserves[0])
    s = size(Market(pool, WETH, USDC, 18, 6, bids, [], 1000, 10_000, gas), CexDexDirection.BUY_DEX_SELL_CEX)
    assert s is not None
    return s.profit, s.dex_amount_in, s.cex_quantity


def test_node_sizes_a_dearer_cex_book_and_publishes_once_per_block_and_price(tmp_path):
    settings = {"manifest": _manifest(tmp_path), "pairs": "binance:ETH/USDT=WETH/USDC", "min_profit_usd": 1.0}
    with NodeHarness(KIND, settings=settings, mesh={"deadline_ms": 0}, start_timeout=60) as h:
        h.feed_ring(_state(10, *RESERVES))
        h.feed_ring(_end(10))
        h.feed_ring(Trade(asset_id=ETH_USDT.asset_id, venue=ETH_USDT.venue, price=1, volume=1))  # skipped
        corrupt = bytearray(encode_frame([_book([(1, 1)], [], 1)], source=int(SourceType.BINANCE_COLLECTOR)))
        corrupt[60] ^= 0xFF
        h.feed_ring_raw(bytes(corrupt))  # counted, skipped
        bids = _levels(3030.0, below=True)  # 1 % above the pool
        h.feed_ring(_book(bids, _levels(3031.0, below=False), 1_000))
        first = h.wait_for(CexDexSignal, timeout=30)[0]
        profit, dex_in, qty = expected(bids)
        assert first.direction == CexDexDirection.BUY_DEX_SELL_CEX
        assert (first.expected_profit, first.dex_amount_in, first.cex_quantity) == (profit, dex_in, qty)
        assert first.pool == _raw(PAIR) and first.base_token == _raw(WETH) and first.quote_token == _raw(USDC)
        assert first.cex_best == bids[0][0] and first.cex_timestamp_ns == 1_000 and first.detected_block == 10
        assert first.pool_kind == PoolKind.UNISWAP_V2 and first.pool_fee_ppm == 3000
        assert first.cex_asset_id == ETH_USDT.asset_id and first.cex_venue == VenueId.BINANCE
        assert first.net_profit_usd_q8 == profit * 100 and first.chain_id == 31337
        assert first.spread_bps > 0 and first.valid_until_ns > time.time_ns()

        h.feed_ring(_book(bids, _levels(3031.0, below=False), 2_000))  # same levels: nothing new
        h.feed_ring(_end(11))  # a block that touched no pool: nothing to evaluate
        moved = _levels(3040.0, below=True)
        h.feed_ring(_book(moved, _levels(3041.0, below=False), 3_000))
        second = h.wait_for(CexDexSignal, 2, timeout=30)[1]
        assert second.expected_profit == expected(moved)[0] > first.expected_profit
        assert second.signal_id != first.signal_id

        # The venue's books are gone after an invalidation: a pool change evaluates nothing.
        inv = StateInvalidation(instruments=(InstrumentIdRecord.cls(
            asset_id=ETH_USDT.asset_id, venue=ETH_USDT.venue, asset_type=ETH_USDT.asset_type, reserved=0),),
            venue=VenueId.BINANCE)
        h.feed_ring_raw(encode_frame([inv], source=int(SourceType.BINANCE_COLLECTOR),
                                     domain=int(RelayDomain.MARKET_DATA)))
        synced = (RESERVES[0] - 10**18, RESERVES[1] + 3_030 * 10**6)
        h.feed_ring(PoolSync(reserve0=synced[0], reserve1=synced[1], block_number=12, pool_address=_raw(PAIR)))
        h.feed_ring(_end(12))
        # A Quote alone is a one-level book.
        h.feed_ring(Quote(asset_id=ETH_USDT.asset_id, venue=ETH_USDT.venue, asset_type=ETH_USDT.asset_type,
                          bid_price=3100 * 10**8, bid_size=10**8, ask_price=3101 * 10**8, ask_size=10**8,
                          quote_timestamp_ns=4_000))
        third = h.wait_for(CexDexSignal, 3, timeout=30)[2]
        assert third.detected_block == 12 and third.cex_timestamp_ns == 4_000
        assert third.expected_profit == expected([(3100 * 10**8, 10**8)], synced)[0]
        assert len(h.produced(CexDexSignal)) == 3

        assert h.metric("alphapulse_cexdex_signals_total", pair="binance:ETH/USDT",
                        direction="buy_dex_sell_cex") == 3
        assert h.metric("alphapulse_cexdex_evaluations_total") >= 6
        assert h.metric("alphapulse_errors_total", kind="bad_checksum") == 1

        # Under a stop the node sizes and withholds.
        assert h.control(EmergencyStop(latched=1, reason="test", raised_by="operator", stop_id=5)) == b"OK 5"
        h.feed_ring(_book(_levels(3150.0, below=True), _levels(3151.0, below=False), 5_000))
        deadline = time.monotonic() + 20
        while h.metric("alphapulse_cexdex_withheld_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert h.metric("alphapulse_cexdex_withheld_total") == 1
        h.assert_contract()
    assert len(h.produced(CexDexSignal)) == 3
