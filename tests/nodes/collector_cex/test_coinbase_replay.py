"""collector-cex with Coinbase against the local exchange replaying fixture scripts.

Each test starts the local exchange (no script), starts the node on its ``/coinbase``
websocket, waits until the server holds the node's four subscriptions, then plays fixture
scripts (tests/fixtures/cex/coinbase_*.jsonl) on the server. The frames the node writes to its
market-data ring are compared, field by field, with books, trades and quotes the test computes
from the fixtures' JSON with :class:`decimal.Decimal` and its own time parser.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from cex.exchange import load_script, serve_in_thread
from cex.exchange.replay import ScriptRunner
from cex.exchange.threaded import ThreadedExchange
from mesh.protocol import InstrumentId, OrderBook, Quote, StateInvalidation, Trade, decode_frame
from mesh.protocol.constants import InvalidationReason, SourceType, VenueId
from mesh.protocol.messages.market import OrderLevel
from nodes.runtime.testing import NodeHarness

FIXTURES = Path(__file__).parents[2] / "fixtures" / "cex"
NODE = "nodes.collector_cex:CexCollectorNode"
PRODUCTS = ("ETH-USD", "BTC-USD")
INSTRUMENTS = {p: InstrumentId.coin(VenueId.COINBASE, p.replace("-", "/")) for p in PRODUCTS}
CHANNELS = ["heartbeats", "level2", "market_trades", "ticker"]
#: The server answers each of the four subscribe messages with a ``subscriptions`` message,
#: numbered 0-3 on the connection: the first scripted message is number 4.
FIRST_SEQ = 4


# -- independent expectations ------------------------------------------------------------------

def q8(text: str) -> int:
    """Decimal text x 1e8, exactly (Decimal, not the project's parser)."""
    value = Decimal(text) * 100_000_000
    assert value == value.to_integral_value()
    return int(value)


def ns(text: str) -> int:
    """RFC 3339 ``...Z`` text -> ns (time.strptime + the fraction's digits)."""
    head, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


def sent(name: str) -> list[dict[str, Any]]:
    """The JSON messages a fixture sends to Coinbase clients, in order."""
    lines = (FIXTURES / name).read_text().splitlines()
    steps = [orjson.loads(line) for line in lines if line.strip()]
    return [s["send"]["json"] for s in steps if "send" in s and "json" in s["send"]]


class Model:
    """The books as the test applies the fixtures' level2 events (a dict per side)."""

    def __init__(self) -> None:
        self.sides: dict[str, dict[str, dict[int, int]]] = {}

    def apply(self, event: dict[str, Any]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        product = event["product_id"]
        if event["type"] == "snapshot":
            self.sides[product] = {"bid": {}, "offer": {}}
        book = self.sides[product]
        for u in event["updates"]:
            price, size = q8(u["price_level"]), q8(u["new_quantity"])
            if size:
                book[u["side"]][price] = size
            else:
                book[u["side"]].pop(price, None)
        bids = sorted(book["bid"].items(), reverse=True)[:50]
        asks = sorted(book["offer"].items())[:50]
        return bids, asks


def expected_book(msg: dict[str, Any], seq: int, model: Model) -> OrderBook:
    (event,) = msg["events"]
    bids, asks = model.apply(event)
    times = [ns(u["event_time"]) for u in event["updates"]]
    inst = INSTRUMENTS[event["product_id"]]
    level = OrderLevel.cls
    return OrderBook(snapshot_timestamp_ns=max(times) if times else ns(msg["timestamp"]),
                     sequence=seq, precision_factor=100_000_000, asset_id=inst.asset_id,
                     venue=VenueId.COINBASE, asset_type=inst.asset_type, reserved=0,
                     bids=tuple(level(p, s, 0) for p, s in bids),
                     asks=tuple(level(p, s, 0) for p, s in asks))


# -- harness -----------------------------------------------------------------------------------

@pytest.fixture
def exchange() -> Iterator[ThreadedExchange]:
    with serve_in_thread() as ex:
        yield ex


@pytest.fixture
def node(exchange: ThreadedExchange) -> Iterator[NodeHarness]:
    settings = {"venues": "coinbase", "coinbase_ws": exchange.coinbase_url,
                "coinbase_products": ",".join(PRODUCTS), "backoff_min_ms": 50,
                "backoff_max_ms": 200, "log_every_s": 0.0}
    with NodeHarness(NODE, settings=settings) as harness:
        yield harness


def wait_subscribed(ex: ThreadedExchange, connects: int, timeout: float = 20.0) -> None:
    """Wait until the server accepted ``connects`` connections and one client holds all four
    channels for both products."""
    async def holdings() -> list[dict[str, list[str]]]:
        return [{ch: sorted(p) for ch, p in c.subscriptions.items()}
                for c in ex.exchange.hub.of("coinbase")]
    want = {ch: sorted(PRODUCTS) for ch in CHANNELS}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ex.stats.snapshot()["connects"].get("coinbase", 0) >= connects and \
                want in ex.call(holdings):
            return
        time.sleep(0.01)
    raise AssertionError(f"no client subscribed to {want} ({ex.stats.snapshot()})")


def play(ex: ThreadedExchange, name: str) -> None:
    """Run a fixture script on the server, to its end."""
    steps = load_script(FIXTURES / name)
    x = ex.exchange
    ex.call(lambda: ScriptRunner(x.hub, x.rest_script, x.stats).run(steps))


def ring(node: NodeHarness, cls: type, count: int, timeout: float = 10.0) -> list[Any]:
    return node.wait_for_ring(cls, count=count, timeout=timeout)


def wait_metric(node: NodeHarness, name: str, value: float, timeout: float = 10.0,
                **labels: str) -> None:
    deadline = time.monotonic() + timeout
    while node.metric(name, **labels) < value:
        assert time.monotonic() < deadline, f"{name}{labels} stayed below {value}"
        time.sleep(0.05)


def invalidated(inv: StateInvalidation) -> list[tuple[int, int, int]]:
    return [(i.asset_id, i.venue, i.asset_type) for i in inv.instruments]


ALL_BOOKS = [(i.asset_id, i.venue, i.asset_type) for i in INSTRUMENTS.values()]


# -- tests -------------------------------------------------------------------------------------

def test_a_session_gives_exact_books_trades_and_quotes(exchange: ThreadedExchange,
                                                       node: NodeHarness) -> None:
    wait_subscribed(exchange, 1)
    before = time.time_ns()
    play(exchange, "coinbase_session.jsonl")
    after = time.time_ns()
    messages = sent("coinbase_session.jsonl")
    model = Model()
    seq = {id(m): FIRST_SEQ + i for i, m in enumerate(messages)}
    want_books = [expected_book(m, seq[id(m)], model) for m in messages
                  if m["channel"] == "l2_data"]
    assert ring(node, OrderBook, len(want_books)) == want_books

    (trades_msg,) = [m for m in messages if m["channel"] == "market_trades"]
    raw = sorted(trades_msg["events"][0]["trades"], key=lambda t: ns(t["time"]))
    eth = INSTRUMENTS["ETH-USD"]
    want_trades = [Trade(asset_id=eth.asset_id, price=q8(t["price"]), volume=q8(t["size"]),
                         execution_timestamp_ns=ns(t["time"]), venue=VenueId.COINBASE,
                         asset_type=eth.asset_type, reserved=0,
                         side={"BUY": 1, "SELL": 0}[t["side"]]) for t in raw]
    assert ring(node, Trade, 2) == want_trades
    assert [t.side for t in want_trades] == [1, 0]  # maker BUY -> taker sold, and back

    (ticker_msg,) = [m for m in messages if m["channel"] == "ticker"]
    t = ticker_msg["events"][0]["tickers"][0]
    assert ring(node, Quote, 1) == [Quote(
        asset_id=eth.asset_id, bid_price=q8(t["best_bid"]), bid_size=q8(t["best_bid_quantity"]),
        ask_price=q8(t["best_ask"]), ask_size=q8(t["best_ask_quantity"]),
        quote_timestamp_ns=ns(ticker_msg["timestamp"]), venue=VenueId.COINBASE,
        asset_type=eth.asset_type, reserved=0)]

    for _, frame in node.ring_frames:
        header = decode_frame(frame).header
        assert header.source == SourceType.COINBASE_COLLECTOR
        assert before <= header.timestamp_ns <= after + 5_000_000_000  # receive time
    assert node.ring_produced(StateInvalidation) == []
    # The malformed text is counted; the heartbeat is consumed without an error.
    wait_metric(node, "alphapulse_errors_total", 1, kind="bad_json")
    assert node.metric("alphapulse_errors_total", kind="gap") == 0
    assert node.metric("alphapulse_errors_total", kind="bad_field") == 0
    stats = exchange.stats.snapshot()
    assert stats["closed_by_server"] == {} and stats["connects"]["coinbase"] == 1
    assert node.metric("alphapulse_cex_connected", venue="coinbase") == 1


def test_a_sequence_gap_invalidates_then_a_new_connection_resyncs(exchange: ThreadedExchange,
                                                                  node: NodeHarness) -> None:
    wait_subscribed(exchange, 1)
    play(exchange, "coinbase_gap.jsonl")
    first = sent("coinbase_gap.jsonl")
    model = Model()
    assert ring(node, OrderBook, 2) == [expected_book(first[0], FIRST_SEQ, model),
                                        expected_book(first[1], FIRST_SEQ + 1, model)]
    invs = ring(node, StateInvalidation, 2)
    assert invs[0].reason == InvalidationReason.RECOVERY
    assert invs[0].timestamp_ns == ns(first[2]["timestamp"])
    assert invalidated(invs[0]) == ALL_BOOKS
    assert invs[1].reason == InvalidationReason.DISCONNECTION  # the feed's own reconnect
    wait_subscribed(exchange, 2)
    play(exchange, "coinbase_resync.jsonl")
    (snapshot,) = sent("coinbase_resync.jsonl")
    books = ring(node, OrderBook, 3)
    # The update after the gap was never applied: the book is the fresh snapshot alone.
    assert books[2] == expected_book(snapshot, FIRST_SEQ, Model())
    wait_metric(node, "alphapulse_errors_total", 1, kind="gap")
    assert node.metric("alphapulse_cex_disconnections_total", venue="coinbase") == 1


def test_a_dropped_connection_invalidates_and_reconnects(exchange: ThreadedExchange,
                                                         node: NodeHarness) -> None:
    wait_subscribed(exchange, 1)
    play(exchange, "coinbase_disconnect.jsonl")
    first = sent("coinbase_disconnect.jsonl")
    model = Model()
    assert ring(node, OrderBook, 2) == [expected_book(first[0], FIRST_SEQ, model),
                                        expected_book(first[1], FIRST_SEQ + 1, model)]
    (inv,) = ring(node, StateInvalidation, 1)
    assert inv.reason == InvalidationReason.DISCONNECTION and invalidated(inv) == ALL_BOOKS
    wait_metric(node, "alphapulse_cex_disconnections_total", 1, venue="coinbase")
    wait_subscribed(exchange, 2)
    play(exchange, "coinbase_resync.jsonl")
    (snapshot,) = sent("coinbase_resync.jsonl")
    assert ring(node, OrderBook, 3)[2] == expected_book(snapshot, FIRST_SEQ, Model())
    wait_metric(node, "alphapulse_cex_connected", 1, venue="coinbase")
    assert node.metric("alphapulse_errors_total", kind="gap") == 0
