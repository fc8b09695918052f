"""Seeded Binance combined-stream traffic for the cex bench: snapshots, depth updates, trades.

Each symbol starts from a REST depth snapshot (``--depth`` levels a side, one tick apart
around a mid price) at ``lastUpdateId`` L, then a first event ``U = L + 1`` that the sync
applies, then the measured ``depthUpdate`` events: continuous ids (``U`` = previous ``u`` + 1,
``u - U`` in 0..5 as Binance batches several updates per 100 ms event), 1-6 changed levels a
side, mostly within 20 ticks of the best, a quarter of them removals (quantity
``0.00000000``), and a mid that drifts a tick at a time. Symbols interleave at random.
Trades (``<symbol>@trade``) are a separate sequence. Text is what Binance sends: compact
JSON, keys in its order, decimals with 8 places.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson

from cex.fixed import SCALE, format_q8

MIDS = {"ETHUSDT": 3000 * SCALE, "BTCUSDT": 65000 * SCALE, "SOLUSDT": 150 * SCALE,
        "BNBUSDT": 580 * SCALE}
TICK = SCALE // 100
"""0.01 quote units."""
T0_MS = 1_700_000_000_000


@dataclass
class Book:
    """One symbol's venue-side book while the traffic is generated."""

    symbol: str
    mid: int
    last_id: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


@dataclass
class Traffic:
    """Snapshot bodies and first events per symbol, then the measured messages.

    Attributes
    ----------
    snapshots : dict
        symbol -> the ``GET /api/v3/depth`` body (bytes).
    first : list of bytes
        One depth event per symbol that follows its snapshot (it opens the sync).
    depth : list of bytes
        The measured depthUpdate messages.
    trades : list of bytes
        The measured trade messages.
    """

    snapshots: dict[str, bytes]
    first: list[bytes]
    depth: list[bytes]
    trades: list[bytes]


def _q(value: int) -> str:
    return format_q8(value, trim=False)


def _size(rng: random.Random) -> int:
    return rng.randrange(1, 5000) * SCALE // 1000 + rng.randrange(0, 1000)


def _depth_message(book: Book, first: int, bids: list[list[str]], asks: list[list[str]],
                   e_ms: int) -> bytes:
    return orjson.dumps({"stream": f"{book.symbol.lower()}@depth@100ms",
                         "data": {"e": "depthUpdate", "E": e_ms, "s": book.symbol, "U": first,
                                  "u": book.last_id, "b": bids, "a": asks}})


def _changes(book: Book, rng: random.Random) -> tuple[list[list[str]], list[list[str]]]:
    """1-6 changed levels a side near the top; the book moves with them. When the mid moves,
    the levels it crossed are removed in the same event (the venue's book is never crossed)."""
    out: tuple[list[list[str]], list[list[str]]] = ([], [])
    if rng.random() < 0.05:
        book.mid += TICK * rng.choice((-1, 1))
        for price in [p for p in book.bids if p >= book.mid]:
            del book.bids[price]
            out[0].append([_q(price), _q(0)])
        for price in [p for p in book.asks if p <= book.mid]:
            del book.asks[price]
            out[1].append([_q(price), _q(0)])
    for side, levels, sign in ((0, book.bids, -1), (1, book.asks, 1)):
        for _ in range(rng.randrange(1, 7)):
            price = book.mid + sign * TICK * min(int(rng.expovariate(0.15)) + 1, 400)
            if rng.random() < 0.25 and levels:
                size = 0
                levels.pop(price, None)
            else:
                size = _size(rng)
                levels[price] = size
            out[side].append([_q(price), _q(size)])
    return out


def generate(symbols: list[str], depth_messages: int, trade_messages: int, levels: int,
             seed: int) -> Traffic:
    """Generate the bench's traffic (see the module docstring)."""
    rng = random.Random(seed)
    books = []
    snapshots: dict[str, bytes] = {}
    first: list[bytes] = []
    for symbol in symbols:
        mid = MIDS.get(symbol, 100 * SCALE)
        book = Book(symbol, mid, rng.randrange(10**9, 10**10))
        for i in range(1, levels + 1):
            book.bids[mid - i * TICK] = _size(rng)
            book.asks[mid + i * TICK] = _size(rng)
        snapshots[symbol] = orjson.dumps({
            "lastUpdateId": book.last_id,
            "bids": [[_q(p), _q(s)] for p, s in sorted(book.bids.items(), reverse=True)],
            "asks": [[_q(p), _q(s)] for p, s in sorted(book.asks.items())]})
        start = book.last_id + 1
        book.last_id = start
        bids, asks = _changes(book, rng)
        first.append(_depth_message(book, start, bids, asks, T0_MS))
        books.append(book)
    depth = []
    e_ms = T0_MS
    for _ in range(depth_messages):
        book = rng.choice(books)
        e_ms += rng.randrange(0, 30)
        start = book.last_id + 1
        book.last_id = start + rng.randrange(0, 6)
        bids, asks = _changes(book, rng)
        depth.append(_depth_message(book, start, bids, asks, e_ms))
    trades = []
    trade_id = rng.randrange(10**8, 10**9)
    for _ in range(trade_messages):
        book = rng.choice(books)
        e_ms += rng.randrange(0, 5)
        trade_id += 1
        price = book.mid + TICK * rng.randrange(-3, 4)
        trades.append(orjson.dumps({
            "stream": f"{book.symbol.lower()}@trade",
            "data": {"e": "trade", "E": e_ms, "s": book.symbol, "t": trade_id, "p": _q(price),
                     "q": _q(_size(rng)), "T": e_ms - rng.randrange(0, 3),
                     "m": rng.random() < 0.5, "M": True}}))
    return Traffic(snapshots, first, depth, trades)
