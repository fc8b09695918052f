"""Live mode on the worker's devnet: prices follow the pool, the depth stream joins its snapshot."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import connect

from cex.exchange import LocalExchange
from cex.exchange.live import DevnetFollower, FollowSettings
from cex.exchange.live.fair import FairPrice
from cex.exchange.live.synth import book_around, size_factors
from cex.exchange.symbols import parse_symbol
from cex.fixed import SCALE, parse_q8
from contracts.pools import read_v2, swap_v2
from tests.devnet_fixtures import Net

pytestmark = pytest.mark.chain


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def pool_price(net: Net, pair: str, base: str, quote: str) -> int:
    """Base in quote x 1e8 from the pair's reserves, computed here from the chain."""
    state = read_v2(net.chain, net.pool("uniswap_v2", pair))
    rb, rq = ((state.reserve0, state.reserve1) if state.token0.lower() == net.token(base).lower()
              else (state.reserve1, state.reserve0))
    db, dq = (net.manifest["tokens"][t]["decimals"] for t in (base, quote))
    return rq * 10**db * SCALE // (rb * 10**dq)


def settings(net: Net, **kw: Any) -> FollowSettings:
    return FollowSettings(manifest=net.manifest, poll_s=0.02, depth_ms=20, **kw)


async def published(follower: DevnetFollower, symbol: str) -> None:
    """Wait until the first depth tick published the symbol's book."""
    feed = follower.binance.get(symbol) or follower.coinbase[symbol]
    while feed.pub.best()[1] is None:
        await asyncio.sleep(0.01)


async def wait_block(follower: DevnetFollower, block: int) -> None:
    while follower.block < block:
        await asyncio.sleep(0.01)


def test_fair_price_moves_a_fraction_of_the_way_each_block_and_noise_stays_in_bounds() -> None:
    fp = FairPrice(5_000, 0, random.Random(1))
    assert fp.block(1000 * SCALE) == 1000 * SCALE
    assert fp.block(2000 * SCALE) == 1500 * SCALE
    assert fp.block(2000 * SCALE) == 1750 * SCALE
    noisy = FairPrice(10_000, 10, random.Random(2))
    for _ in range(200):
        mid = noisy.block(3000 * SCALE)
        assert abs(mid - 3000 * SCALE) <= 3000 * SCALE * 10 // 10_000


def test_synthetic_book_is_on_the_tick_and_step_grids_and_not_crossed() -> None:
    spec = parse_symbol("ETHUSDT")
    factors = size_factors(random.Random(3), 5)
    bids, asks = book_around(3000 * SCALE + 123, spec, 5, 1, 2, 20_000 * SCALE, factors)
    assert len(bids) == len(asks) == 5 and bids[0][0] < asks[0][0]
    assert all(p % spec.tick_size == 0 and q % spec.step_size == 0 and q > 0 for p, q in bids + asks)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)


def test_live_prices_follow_the_pool_with_the_configured_average(net: Net) -> None:
    async def main() -> None:
        s = settings(net, alpha_bps=5_000, noise_bps=0)
        async with LocalExchange(follow=s, symbols="ETHUSDT=WETH/USDC,BTCUSDT=WBTC/USDC") as ex:
            follower = ex.component(DevnetFollower)
            await asyncio.wait_for(follower.first_block.wait(), 20)
            before = pool_price(net, "WETH/USDC", "WETH", "USDC")
            assert follower.pool_prices["ETHUSDT"] == before == follower.mids["ETHUSDT"]
            assert follower.pool_prices["BTCUSDT"] == pool_price(net, "WBTC/USDC", "WBTC", "USDC")
            # Record every block the follower takes: another block may be mined beside the
            # swap (the fixture's chain is shared by the worker), so the test follows the steps.
            steps: list[tuple[int, int]] = []
            take = follower._on_block
            def record(block: int, prices: dict[str, int]) -> None:
                take(block, prices)
                steps.append((prices["ETHUSDT"], follower.mids["ETHUSDT"]))
            follower._on_block = record  # type: ignore[method-assign]
            await asyncio.to_thread(swap_v2, net.chain, net.pool("uniswap_v2", "WETH/USDC"),
                                    net.token("USDC"), 300_000 * 10**6)
            after = pool_price(net, "WETH/USDC", "WETH", "USDC")
            assert after > before * 105 // 100
            await wait_block(follower, await asyncio.to_thread(net.chain.block_number))
            await asyncio.to_thread(net.chain.rpc, "evm_mine", [])
            await wait_block(follower, await asyncio.to_thread(net.chain.block_number))
            assert follower.pool_prices["ETHUSDT"] == after
            moved = [mid for price, mid in steps if price == after]
            assert len(moved) >= 2 and all(price in (before, after) for price, _ in steps)
            assert all(mid == before for price, mid in steps if price == before)
            expected = before
            for mid in moved:  # each block moves the mid half of the remaining way
                expected += (after - expected) * 5_000 // 10_000
                assert mid == expected
            mid = follower.mids["ETHUSDT"]
            feed = follower.binance["ETHUSDT"]
            def straddles() -> bool:
                bid, ask = feed.pub.best()
                return bid is not None and ask is not None and bid[0] <= mid <= ask[0]
            while not straddles():
                await asyncio.sleep(0.01)  # the next depth tick publishes the book at this mid
            async with aiohttp.ClientSession() as http, http.get(
                    f"{ex.http_url}/api/v3/ticker/bookTicker", params={"symbol": "ETHUSDT"}) as r:
                ticker = await r.json()
            assert parse_q8(ticker["bidPrice"]) <= mid <= parse_q8(ticker["askPrice"])
            assert parse_q8(ticker["askPrice"]) - parse_q8(ticker["bidPrice"]) <= mid * 3 // 10_000

    run(main())


def test_depth_stream_is_continuous_and_the_rest_snapshot_joins_it(net: Net) -> None:
    async def main() -> None:
        async with LocalExchange(follow=settings(net, noise_bps=5), symbols="ETHUSDT=WETH/USDC") as ex:
            follower = ex.component(DevnetFollower)
            await asyncio.wait_for(follower.first_block.wait(), 20)
            url = f"{ex.ws_url}/stream?streams=ethusdt@depth@100ms/ethusdt@bookTicker"
            async with connect(url) as ws, aiohttp.ClientSession() as http:
                events: list[dict[str, Any]] = []
                snapshots: list[dict[str, Any]] = []
                for i in range(6):
                    await asyncio.to_thread(net.chain.rpc, "evm_mine", [])
                    block = await asyncio.to_thread(net.chain.block_number)
                    await wait_block(follower, block)
                    if i in (1, 4):
                        async with http.get(f"{ex.http_url}/api/v3/depth",
                                            params={"symbol": "ETHUSDT", "limit": "5000"}) as r:
                            snapshots.append(await r.json())
                    await asyncio.sleep(0.1)
                while True:
                    try:
                        msg = orjson.loads(await asyncio.wait_for(ws.recv(), 0.3))
                    except TimeoutError:
                        break
                    if msg["stream"].endswith("@depth@100ms"):
                        events.append(msg["data"])
        assert len(events) >= 5
        for prev, cur in itertools.pairwise(events):
            assert cur["U"] == prev["u"] + 1
        first, second = snapshots
        book = {"b": {p: q for p, q in first["bids"]}, "a": {p: q for p, q in first["asks"]}}
        usable = [e for e in events if e["u"] > first["lastUpdateId"]]
        assert usable[0]["U"] <= first["lastUpdateId"] + 1 <= usable[0]["u"]
        for e in usable:
            if e["u"] > second["lastUpdateId"]:
                break
            for side in ("b", "a"):
                for p, q in e[side]:
                    if parse_q8(q) == 0:
                        book[side].pop(p, None)
                    else:
                        book[side][p] = q
            last = e["u"]
        assert last == second["lastUpdateId"]
        assert book["b"] == dict(map(tuple, second["bids"]))
        assert book["a"] == dict(map(tuple, second["asks"]))

    run(main())


def test_coinbase_subscriber_gets_a_snapshot_then_updates_with_its_sequence(net: Net) -> None:
    async def main() -> None:
        async with LocalExchange(follow=settings(net), symbols="ETH-USD=WETH/USDC") as ex:
            follower = ex.component(DevnetFollower)
            await asyncio.wait_for(follower.first_block.wait(), 20)
            await published(follower, "ETH-USD")
            async with connect(ex.coinbase_url) as ws:
                await ws.send(json.dumps({"type": "subscribe", "channel": "level2", "product_ids": ["ETH-USD"]}))
                subs = orjson.loads(await ws.recv())
                snap = orjson.loads(await ws.recv())
                assert subs["channel"] == "subscriptions" and snap["channel"] == "l2_data"
                assert snap["events"][0]["type"] == "snapshot" and snap["sequence_num"] == 1
                assert snap["events"][0]["updates"]
                await asyncio.to_thread(net.chain.rpc, "evm_mine", [])
                update = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                assert update["events"][0]["type"] == "update" and update["sequence_num"] == 2

    run(main())


def test_follower_waits_for_a_devnet_that_is_not_up_yet(net: Net, tmp_path: Any) -> None:
    async def main() -> None:
        s = FollowSettings(run_dir=tmp_path, poll_s=0.02, depth_ms=20, retry_s=0.05)
        async with LocalExchange(follow=s, symbols="ETHUSDT=WETH/USDC") as ex:
            follower = ex.component(DevnetFollower)
            await asyncio.sleep(0.3)
            assert follower.block == 0 and "manifest" in follower.waiting
            async with aiohttp.ClientSession() as http, http.get(f"{ex.http_url}/api/v3/time") as r:
                assert r.status == 200  # serving meanwhile
            (tmp_path / "manifest.json").write_text(json.dumps(net.manifest))
            await asyncio.wait_for(follower.first_block.wait(), 20)
            assert follower.pool_prices["ETHUSDT"] == pool_price(net, "WETH/USDC", "WETH", "USDC")

    run(main())


def test_paper_orders_fill_against_the_live_book(net: Net) -> None:
    from tests.cex.exchange.paper_client import KEYS, PaperClient

    async def main() -> None:
        async with LocalExchange(follow=settings(net), symbols="ETHUSDT=WETH/USDC", keys=KEYS) as ex:
            follower = ex.component(DevnetFollower)
            await asyncio.wait_for(follower.first_block.wait(), 20)
            await published(follower, "ETHUSDT")
            client = PaperClient(ex.http_url)
            status, answer = await asyncio.to_thread(client.order, side="BUY", type="MARKET", quantity="0.5")
            assert status == 200 and answer["status"] == "FILLED"
            ask = parse_q8(answer["fills"][0]["price"])
            assert follower.mids["ETHUSDT"] <= ask <= follower.mids["ETHUSDT"] * 1001 // 1000

    run(main())


def test_coinbase_heartbeats_come_every_second_in_live_mode(net: Net) -> None:
    async def main() -> None:
        async with LocalExchange(follow=settings(net), symbols="ETH-USD=WETH/USDC") as ex, \
                connect(ex.coinbase_url) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channel": "heartbeats"}))
            subs = orjson.loads(await ws.recv())
            assert subs["events"] == [{"subscriptions": {"heartbeats": []}}]
            beats = [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            assert [b["channel"] for b in beats] == ["heartbeats", "heartbeats"]
            counters = [int(b["events"][0]["heartbeat_counter"]) for b in beats]
            assert counters[1] == counters[0] + 1
            assert [b["sequence_num"] for b in beats] == [1, 2]

    run(main())
