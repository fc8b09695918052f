"""The cexdex node on the devnet's pool frames and collector-cex's books from the replay exchange.

The collector-evm frames come from the follower in-process (as the strategy's devnet tests take
them) and go to the node's ring; collector-cex runs as its own process on the same private mesh
against the local exchange, which replays a Binance depth snapshot at the pool's price, then,
when the test says so, a depth update that lifts the book 1 % above it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from cex.exchange import serve_in_thread
from cex.exchange.live import FollowSettings
from contracts.swapmath.pools import V2Pool
from mesh.protocol import decode_frame
from mesh.protocol.constants import CexDexDirection, PoolKind, VenueId
from mesh.protocol.messages import BlockEnd, CexDexSignal, PoolState
from nodes.cexdex.sizing import Market
from nodes.runtime.testing import HarnessError, NodeHarness
from tests.nodes.cexdex.test_sizing import brute
from tests.nodes.strategy.pipeline import Stream

pytestmark = pytest.mark.chain

KIND = "nodes.cexdex:CexDexNode"
COLLECTOR = "nodes.collector_cex:CexCollectorNode"
LOT = 1_000_000  # 0.01 ETH: the brute force below walks every size
FEE_PPM = 1000
GAS_V2 = 110_000


def _q8(text: str) -> int:
    return int(Decimal(text) * 10**8)


def _levels(top: Decimal, step: Decimal, n: int = 5) -> list[list[str]]:
    return [[f"{top + step * i:.2f}", "2"] for i in range(n)]


def _script(price: Decimal) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """A book around ``price``, then (after a GET of /api/v3/ping) one 1 % above it."""
    bids, asks = _levels(price - Decimal("0.5"), Decimal("-0.5")), _levels(price + Decimal("0.5"), Decimal("0.5"))
    high = price * Decimal("1.01")
    new_bids, new_asks = _levels(high, Decimal("-0.5")), _levels(high + Decimal("1"), Decimal("0.5"))
    update = {"e": "depthUpdate", "E": 1_700_000_000_500, "s": "ETHUSDT", "U": 102, "u": 102,
              "b": [[p, "0"] for p, _ in bids] + new_bids, "a": [[p, "0"] for p, _ in asks] + new_asks}
    steps = [
        {"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT",
                  "json": {"lastUpdateId": 100, "bids": bids, "asks": asks}}},
        {"wait_clients": {"venue": "binance", "count": 1}},
        {"send": {"venue": "binance", "json": {"stream": "ethusdt@depth@100ms", "data": {
            "e": "depthUpdate", "E": 1_700_000_000_000, "s": "ETHUSDT", "U": 101, "u": 101,
            "b": [["100.00", "0.01"]], "a": []}}}},
        {"wait_rest": {"path": "/api/v3/ping", "count": 1}},
        {"send": {"venue": "binance", "json": {"stream": "ethusdt@depth@100ms", "data": update}}},
    ]
    return steps, new_bids


@contextmanager
def _collector(h: NodeHarness, ex: Any, symbols: str = "ETHUSDT") -> Iterator[subprocess.Popen[bytes]]:
    """collector-cex as a process of the harness's mesh (its settings from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    prefix = "ALPHAPULSE_NODE_COLLECTOR_CEX_"
    env |= {prefix + "VENUES": "binance", prefix + "BINANCE_WS": ex.ws_url, prefix + "BINANCE_REST": ex.http_url,
            prefix + "BINANCE_SYMBOLS": symbols, prefix + "BACKOFF_MIN_MS": "100"}
    with (h.run_dir / "collector-cex.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nodes.runtime", COLLECTOR, "--name", "collector-cex",
                                 "--config", str(h.config_path)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _only_pool(manifest: dict[str, Any], address: str) -> dict[str, Any]:
    """The manifest with one pool: the node compares the book with that pool alone."""
    out = json.loads(json.dumps(manifest))
    for section, key in (("uniswap_v2", "pairs"), ("uniswap_v2_fork", "pairs"), ("uniswap_v3", "pools")):
        if section in out:
            out[section][key] = [p for p in out[section].get(key, []) if p["address"] == address]
    return out


def _wait(what, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise HarnessError(f"not within {timeout} s")
        time.sleep(0.05)


def test_a_book_one_percent_above_the_pool_signals_what_an_independent_sizing_says(net, tmp_path):
    pool = net.pool("uniswap_v2", "WETH/USDC")
    weth, usdc = net.token("WETH").lower(), net.token("USDC").lower()
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(_only_pool(net.manifest, pool)))
    stream = Stream(net)
    stream.follower.start()
    frames = stream.new_frames()
    decoded = [t for raw in frames for t in decode_frame(raw).tlvs]
    state = next(t for t in decoded if isinstance(t, PoolState) and "0x" + t.pool_address.hex() == pool.lower())
    end = next(t for t in decoded if isinstance(t, BlockEnd))
    weth_first = state.token0_addr.hex() == weth[2:]
    r_weth, r_usdc = (state.reserve0, state.reserve1) if weth_first else (state.reserve1, state.reserve0)
    price = (Decimal(r_usdc) / 10**6 / (Decimal(r_weth) / 10**18)).quantize(Decimal("0.01"))
    steps, high_bids = _script(price)
    settings = {"manifest": str(path), "pairs": "binance:ETH/USDT=WETH/USDC", "lot_q8": LOT,
                "min_profit_usd": 1.0, "cex_taker_fee_ppm": FEE_PPM}
    with serve_in_thread(script=steps) as ex, \
            NodeHarness(KIND, settings=settings, mesh={"deadline_ms": 0}, extra_nodes=["collector-cex"],
                        start_timeout=60) as h, _collector(h, ex):
        for raw in frames:
            h.feed_ring_raw(raw)
        labels = {"pair": "binance:ETH/USDT", "pool": pool.lower(), "direction": "buy_dex_sell_cex"}
        # The book at the pool's price is evaluated (its spread is known) and signals nothing.
        _wait(lambda: h.metric("alphapulse_cexdex_spread_bps", **labels) != 0.0)
        assert abs(h.metric("alphapulse_cexdex_spread_bps", **labels)) < 50  # the 0.3 % pool fee
        h.collect(timeout=1.0)
        assert h.produced(CexDexSignal) == []
        with urllib.request.urlopen(f"{ex.http_url}/api/v3/ping", timeout=5):
            pass  # lets the script lift the book
        sig = h.wait_for(CexDexSignal, timeout=60)[0]
        h.assert_contract()
    # The same trade sized independently: every size of the book walked by the brute force.
    bids = [(_q8(p), _q8(q)) for p, q in high_bids]
    gas = -(-GAS_V2 * (end.next_base_fee_wei + end.priority_fee_wei) * r_usdc // r_weth)
    model = V2Pool(pool.lower(), "0x" + state.token0_addr.hex(), "0x" + state.token1_addr.hex(),
                   state.reserve0, state.reserve1)
    market = Market(model, weth, usdc, 18, 6, bids, [], FEE_PPM, LOT, gas)
    best, where = brute(market, CexDexDirection.BUY_DEX_SELL_CEX)
    assert sig.direction == CexDexDirection.BUY_DEX_SELL_CEX and sig.expected_profit == best > 0
    assert sig.cex_quantity // LOT in where and sig.gas_cost == gas
    assert sig.net_profit_usd_q8 == best * 100 and sig.cex_best == bids[0][0]
    assert sig.pool == bytes.fromhex(pool[2:]) and sig.pool_kind == PoolKind.UNISWAP_V2
    assert sig.cex_venue == VenueId.BINANCE and sig.detected_block == end.block_number
    assert sig.chain_id == net.manifest["chain_id"] and sig.spread_bps > 0



def test_with_the_exchange_following_the_devnet_the_dearer_pair_shows_in_signals(net, tmp_path):
    """The make-run shape: the live exchange follows the devnet's V2 pairs (the fixture left
    WETH/USDC on Uniswap V2 about 4 % dearer than the other pools), so buying WETH on the
    cheaper pools and selling it on the exchange pays."""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(net.manifest))
    stream = Stream(net)
    stream.follower.start()
    lot = 10**6
    settings = {"manifest": str(path), "pairs": "binance:ETH/USDT=WETH/USDC, binance:BTC/USDT=WBTC/USDC",
                "lot_q8": lot}
    follow = FollowSettings(manifest=net.manifest, noise_bps=2, alpha_bps=10_000)
    with serve_in_thread(follow=follow) as ex, \
            NodeHarness(KIND, settings=settings, mesh={"deadline_ms": 0}, extra_nodes=["collector-cex"],
                        start_timeout=60) as h, _collector(h, ex, "ETHUSDT,BTCUSDT"):
        for raw in stream.new_frames():
            h.feed_ring_raw(raw)
        # The exchange moves its book when a block comes (its noise is drawn per block); the
        # collector's depth sync needs an update after its snapshot.
        deadline = time.monotonic() + 60
        while not h.produced(CexDexSignal):
            if time.monotonic() > deadline:
                raise HarnessError(f"no CexDexSignal within 60 s\n{h.log()[-2000:]}")
            net.chain.rpc("evm_mine", [])
            h.collect(lambda _: bool(h.produced(CexDexSignal)), timeout=0.5)
        signals = h.produced(CexDexSignal)
        h.assert_contract()
    cheap = {net.pool("uniswap_v2_fork", "WETH/USDC").lower()} | {
        p["address"].lower() for p in net.manifest["uniswap_v3"]["pools"] if p["pair"] == "WETH/USDC"}
    for sig in signals:
        assert "0x" + sig.pool.hex() in cheap and sig.direction == CexDexDirection.BUY_DEX_SELL_CEX
        assert sig.expected_profit > 0 and sig.net_profit_usd_q8 >= 10**8 and sig.cex_quantity % lot == 0
        assert sig.spread_bps > 0 and sig.dex_price < sig.cex_price <= sig.cex_best
