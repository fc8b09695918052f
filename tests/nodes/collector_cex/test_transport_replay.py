"""VenueTransport + BinanceFeed against the local exchange in replay mode (in process)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect

from cex.binance.feed import BinanceFeed
from cex.exchange import LocalExchange
from cex.feed import FeedOutput, Frame
from mesh.protocol import (
    InstrumentId,
    OrderBook,
    Quote,
    StateInvalidation,
    Trade,
    VenueId,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import InvalidationReason, RelayDomain
from nodes.collector_cex.driver import FeedDriver
from nodes.collector_cex.transport import Batch, TransportSettings, VenueTransport
from tests.nodes.collector_cex.replay import FIXTURES, expected_books, q8, script

ETH = InstrumentId.coin(int(VenueId.BINANCE), "ETH/USDT")
FAST = TransportSettings(ping_interval_s=5, ping_timeout_s=5, open_timeout_s=5,
                         backoff_min_s=0.2, backoff_max_s=1.0, rest_timeout_s=5)


class Collect:
    """Stands in for the ring: keeps every frame the driver emits, with its receive time."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, Frame]] = []
        self.sequence = 0

    def emit(self, source: int, transport: VenueTransport, out: FeedOutput, recv_ns: int,
             sequence: int) -> int:
        self.frames.extend((recv_ns, f) for f in out.frames)
        for request in out.requests:
            transport.request(request)
        return sequence + len(out.frames)


class Run:
    """A transport and its feed's driver run by a test (one thread): the frames decoded, its
    state events with times."""

    def __init__(self, ws: str, rest: str, settings: TransportSettings = FAST,
                 symbols: tuple[str, ...] = ("ETHUSDT",)) -> None:
        self.feed = BinanceFeed(symbols=list(symbols), ws_base=ws)
        self.out = Collect()
        self.states: list[tuple[float, str, str]] = []
        self.transport = VenueTransport(self.feed, rest, self._apply, self._state,
                                        settings, rng=random.Random(3))
        self.driver = FeedDriver(self.feed, self.transport, self.out)  # type: ignore[arg-type]

    def _apply(self, batch: Batch) -> None:
        self.driver.apply(batch)

    def _state(self, event: str, detail: str) -> None:
        self.states.append((time.monotonic(), event, detail))

    def messages(self) -> list[Any]:
        return [m for _, frame in self.out.frames
                for m in decode_frame(encode_frame(frame, source=1,
                                                   domain=RelayDomain.MARKET_DATA)).tlvs]

    def of(self, cls: type) -> list[Any]:
        return [m for m in self.messages() if type(m) is cls]

    async def until(self, check: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out; errors {self.feed.errors}, " \
                                                f"states {self.states}"
            await asyncio.sleep(0.005)


def books_of(run: Run) -> dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    return {b.sequence: ([(lv.price, lv.size) for lv in b.bids],
                         [(lv.price, lv.size) for lv in b.asks]) for b in run.of(OrderBook)}


async def probe(url: str) -> Any:
    """A second client: tells the script the collector reached a point (wait_clients 2)."""
    return await connect(f"{url}/stream?streams=xrpusdt@trade", proxy=None)


def test_a_session_syncs_resyncs_after_a_gap_and_counts_bad_input() -> None:
    steps = script("binance_session.jsonl")

    async def main() -> Run:
        async with LocalExchange(script=FIXTURES / "binance_session.jsonl") as ex:
            run = Run(ex.ws_url, ex.http_url)
            task = asyncio.create_task(run.transport.run())
            try:
                await run.until(lambda: 1004 in books_of(run))
                async with await probe(ex.ws_url):
                    await run.until(lambda: 1014 in books_of(run))
                await asyncio.wait_for(ex.script_done.wait(), 10)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            assert ex.stats.rest["/api/v3/depth"] == 2
        return run

    run = asyncio.run(main())
    want = expected_books(steps, [(0, [1004, 1006, 1008]), (1, [1012, 1014])])
    got = books_of(run)
    assert set(got) <= set(want) and {1004, 1006, 1008, 1014} <= set(got)
    for sequence, levels in got.items():          # every frame: the book at its update id
        assert levels == want[sequence], sequence
    inv, stopped = run.of(StateInvalidation)      # the gap's, and the stop's at the end
    assert inv.reason == InvalidationReason.RECOVERY and inv.sequence == 1008
    assert stopped.reason == InvalidationReason.DISCONNECTION
    assert [i.asset_id for i in inv.instruments] == [ETH.asset_id]
    order = [type(m).__name__ for m in run.messages()]
    assert order.index("StateInvalidation") < max(i for i, m in enumerate(run.messages())
                                                  if type(m) is OrderBook and m.sequence == 1014)
    assert run.of(Trade) == [
        Trade(asset_id=ETH.asset_id, price=q8("3000.75"), volume=q8("0.01"),
              execution_timestamp_ns=1_700_000_000_099_000_000, venue=100,
              asset_type=ETH.asset_type, side=0),
        Trade(asset_id=ETH.asset_id, price=q8("3000.25"), volume=q8("0.12345678"),
              execution_timestamp_ns=1_700_000_000_100_000_000, venue=100,
              asset_type=ETH.asset_type, side=1)]
    (quote,) = run.of(Quote)
    assert (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size) == (
        q8("3000.25"), q8("0.3"), q8("3000.75"), q8("0.01"))
    assert dict(run.feed.errors) == {"bad_json": 1, "stale": 1, "bad_field": 1,
                                     "precision": 1, "gap": 1}
    book = next(b for b in run.of(OrderBook) if b.sequence == 1014)
    assert book.snapshot_timestamp_ns == 1_700_000_001_014_000_000
    assert book.precision_factor == 100_000_000 and book.asset_id == ETH.asset_id


def test_an_abrupt_disconnect_invalidates_reconnects_after_a_backoff_and_resyncs() -> None:
    steps = script("binance_disconnect.jsonl")

    async def main() -> Run:
        async with LocalExchange(script=FIXTURES / "binance_disconnect.jsonl") as ex:
            run = Run(ex.ws_url, ex.http_url)
            task = asyncio.create_task(run.transport.run())
            try:
                await run.until(lambda: 101 in books_of(run))
                ws = await probe(ex.ws_url)
                await run.until(lambda: 303 in books_of(run))
                await ws.close()
                await asyncio.wait_for(ex.script_done.wait(), 10)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            assert ex.stats.connects["binance"] == 3      # collector, probe, collector again
        return run

    run = asyncio.run(main())
    want = expected_books(steps, [(0, [101]), (1, [302, 303])])
    got = books_of(run)
    assert {101, 302, 303} <= set(got)
    for sequence, levels in got.items():
        assert levels == want[sequence], sequence
    inv, stopped = run.of(StateInvalidation)      # the disconnect's, and the stop's
    assert inv.reason == stopped.reason == InvalidationReason.DISCONNECTION
    kinds = [m for m in run.messages() if type(m) in (StateInvalidation, OrderBook)]
    assert [getattr(m, "sequence", None) for m in kinds][:2] == [101, 0]
    events = [(t, e) for t, e, _ in run.states]
    assert [e for _, e in events] == ["connected", "disconnected", "connected", "disconnected"]
    waited = events[2][0] - events[1][0]
    assert waited >= 0.5 * FAST.backoff_min_s         # jitter keeps at least half the wait


def test_connection_failures_back_off_exponentially_up_to_the_cap() -> None:
    settings = TransportSettings(backoff_min_s=0.05, backoff_max_s=0.2, open_timeout_s=2)

    async def main() -> Run:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        run = Run(f"ws://127.0.0.1:{port}", "", settings)
        task = asyncio.create_task(run.transport.run())
        try:
            await run.until(lambda: len(run.states) >= 6)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            server.close()
        return run

    run = asyncio.run(main())
    assert {e for _, e, _ in run.states} == {"connect_failed"}
    times = [t for t, _, _ in run.states]
    for k, (a, b) in enumerate(itertools.pairwise(times)):
        assert b - a >= 0.5 * min(0.2, 0.05 * 2 ** k) * 0.95, (k, b - a)
    assert not run.of(StateInvalidation)              # never connected: nothing to invalidate


@pytest.mark.parametrize("symbols", [["ETHUSDT", "BTCUSDT"]])
def test_the_collector_asks_the_combined_stream_of_its_symbols(symbols: list[str]) -> None:
    async def main() -> tuple[Any, ...]:
        steps = [{"wait_clients": {"venue": "binance", "count": 1}},
                 {"send": {"venue": "binance", "json": {
                     "stream": "btcusdt@trade", "data": {"e": "trade", "s": "BTCUSDT",
                                                         "p": "1", "q": "2", "T": 5,
                                                         "m": False}}}}]
        async with LocalExchange(script=steps) as ex:
            run = Run(ex.ws_url, ex.http_url, symbols=tuple(symbols))
            task = asyncio.create_task(run.transport.run())
            try:
                await run.until(lambda: bool(run.of(Trade)))
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return tuple(run.of(Trade))

    (trade,) = asyncio.run(main())
    assert trade.asset_id == InstrumentId.coin(100, "BTC/USDT").asset_id
    assert (trade.price, trade.volume, trade.execution_timestamp_ns) == (q8("1"), q8("2"),
                                                                         5_000_000)
