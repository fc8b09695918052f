"""What live mode publishes: each symbol's book as the venue's messages, diffed between ticks.

Binance: ``depthUpdate`` with the levels changed since the last one (absolute quantities, 0
removes), one update id per changed level so that each event's ``U`` is the previous ``u + 1``;
``bookTicker`` when the best levels change; ``trade`` events. The REST depth snapshot is the
published book at ``lastUpdateId`` = the last ``u``, so it joins the stream exactly.
Coinbase: ``l2_data`` (a snapshot for a new subscriber, then updates), ``ticker``,
``market_trades``.
"""

from __future__ import annotations

import time
from typing import Any

from cex.book import L2Book, Level
from cex.exchange.coinbase_ws import rfc3339
from cex.fixed import format_q8


def _changes(old: dict[int, int], new: dict[int, int]) -> list[Level]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out += [(p, 0) for p in old if p not in new]
    return out


def _text(levels: list[Level], reverse: bool) -> list[list[str]]:
    return [[format_q8(p, trim=False), format_q8(q, trim=False)]
            for p, q in sorted(levels, reverse=reverse)]


class PublishedBook:
    """The book as last published, the update id it is at, and a diff to a new book."""

    def __init__(self) -> None:
        self.book = L2Book()
        self.update_id = 0

    def diff(self, bids: list[Level], asks: list[Level]) -> tuple[list[Level], list[Level]]:
        """Levels changed from the published book to ``bids``/``asks``; publishes them."""
        db = _changes(dict(self.book.bids.sizes), dict(bids))
        da = _changes(dict(self.book.asks.sizes), dict(asks))
        self.book.apply(db, da, self.update_id + len(db) + len(da))
        return db, da

    def best(self) -> tuple[Level | None, Level | None]:
        """Best bid and best ask."""
        return self.book.bids.best(), self.book.asks.best()


class BinanceFeed:
    """One Binance symbol's published state and its messages."""

    def __init__(self, symbol: str, first_update_id: int = 1_000) -> None:
        self.symbol = symbol
        self.stream = symbol.lower()
        self.pub = PublishedBook()
        self.pub.update_id = first_update_id
        self.pub.book.sequence = first_update_id
        self._best: tuple[Level | None, Level | None] = (None, None)
        self.trade_id = 0

    def tick(self, bids: list[Level], asks: list[Level], now_ms: int) -> list[dict[str, Any]]:
        """Messages (combined form) for the move to ``bids``/``asks``: depth, then bookTicker."""
        first = self.pub.update_id + 1
        db, da = self.pub.diff(bids, asks)
        if not db and not da:
            return []
        self.pub.update_id = self.pub.book.sequence
        out = [{"stream": f"{self.stream}@depth@100ms", "data": {
            "e": "depthUpdate", "E": now_ms, "s": self.symbol, "U": first,
            "u": self.pub.update_id, "b": _text(db, True), "a": _text(da, False)}}]
        best = self.pub.best()
        if best != self._best and best[0] and best[1]:
            self._best = best
            (bp, bq), (ap, aq) = best[0], best[1]
            out.append({"stream": f"{self.stream}@bookTicker", "data": {
                "u": self.pub.update_id, "s": self.symbol, "b": format_q8(bp, trim=False),
                "B": format_q8(bq, trim=False), "a": format_q8(ap, trim=False),
                "A": format_q8(aq, trim=False)}})
        return out

    def trade(self, buyer_maker: bool, qty: int, now_ms: int) -> dict[str, Any] | None:
        """A ``trade`` at the best level the taker hits (None on an empty side)."""
        bid, ask = self.pub.best()
        level = bid if buyer_maker else ask
        if level is None:
            return None
        self.trade_id += 1
        return {"stream": f"{self.stream}@trade", "data": {
            "e": "trade", "E": now_ms, "s": self.symbol, "t": self.trade_id,
            "p": format_q8(level[0], trim=False), "q": format_q8(min(qty, level[1]), trim=False),
            "T": now_ms, "m": buyer_maker, "M": True}}

    def depth_snapshot(self, limit: int) -> dict[str, Any]:
        """GET /api/v3/depth: the published book at its update id."""
        bids, asks = self.pub.book.top(limit)
        return {"lastUpdateId": self.pub.update_id,
                "bids": [[format_q8(p, trim=False), format_q8(q, trim=False)] for p, q in bids],
                "asks": [[format_q8(p, trim=False), format_q8(q, trim=False)] for p, q in asks]}

    def book_ticker(self) -> dict[str, Any]:
        """GET /api/v3/ticker/bookTicker."""
        bid, ask = self.pub.best()
        bp, bq = bid or (0, 0)
        ap, aq = ask or (0, 0)
        return {"symbol": self.symbol, "bidPrice": format_q8(bp, trim=False),
                "bidQty": format_q8(bq, trim=False), "askPrice": format_q8(ap, trim=False),
                "askQty": format_q8(aq, trim=False)}


def _cb_updates(bids: list[Level], asks: list[Level], stamp: str) -> list[dict[str, str]]:
    return ([{"side": "bid", "event_time": stamp, "price_level": format_q8(p),
              "new_quantity": format_q8(q)} for p, q in sorted(bids, reverse=True)]
            + [{"side": "offer", "event_time": stamp, "price_level": format_q8(p),
                "new_quantity": format_q8(q)} for p, q in sorted(asks)])


class CoinbaseFeed:
    """One Coinbase product's published state and its messages (``sequence_num`` is added
    per connection when sent)."""

    def __init__(self, product: str) -> None:
        self.product = product
        self.pub = PublishedBook()
        self._best: tuple[Level | None, Level | None] = (None, None)
        self.trade_id = 0

    def snapshot(self) -> dict[str, Any]:
        """The ``l2_data`` snapshot of the published book (for a new subscriber)."""
        stamp = rfc3339(time.time_ns())
        return {"channel": "l2_data", "client_id": "", "timestamp": stamp, "events": [{
            "type": "snapshot", "product_id": self.product,
            "updates": _cb_updates(list(self.pub.book.bids.sizes.items()),
                                   list(self.pub.book.asks.sizes.items()), stamp)}]}

    def tick(self, bids: list[Level], asks: list[Level]) -> list[dict[str, Any]]:
        """``l2_data`` update and, when the best levels moved, ``ticker``."""
        db, da = self.pub.diff(bids, asks)
        if not db and not da:
            return []
        stamp = rfc3339(time.time_ns())
        out: list[dict[str, Any]] = [{"channel": "l2_data", "client_id": "", "timestamp": stamp,
                                      "events": [{"type": "update", "product_id": self.product,
                                                  "updates": _cb_updates(db, da, stamp)}]}]
        best = self.pub.best()
        if best != self._best and best[0] and best[1]:
            self._best = best
            (bp, bq), (ap, aq) = best[0], best[1]
            mid = (bp + ap) // 2
            out.append({"channel": "ticker", "client_id": "", "timestamp": stamp, "events": [{
                "type": "update", "tickers": [{
                    "type": "ticker", "product_id": self.product, "price": format_q8(mid),
                    "volume_24_h": "0", "low_24_h": format_q8(mid), "high_24_h": format_q8(mid),
                    "low_52_w": format_q8(mid), "high_52_w": format_q8(mid),
                    "price_percent_chg_24_h": "0", "best_bid": format_q8(bp),
                    "best_bid_quantity": format_q8(bq), "best_ask": format_q8(ap),
                    "best_ask_quantity": format_q8(aq)}]}]})
        return out

    def trade(self, taker_buys: bool, qty: int) -> dict[str, Any] | None:
        """A ``market_trades`` message at the best level the taker hits."""
        bid, ask = self.pub.best()
        level = ask if taker_buys else bid
        if level is None:
            return None
        self.trade_id += 1
        stamp = rfc3339(time.time_ns())
        return {"channel": "market_trades", "client_id": "", "timestamp": stamp, "events": [{
            "type": "update", "trades": [{
                "trade_id": str(self.trade_id), "product_id": self.product,
                "price": format_q8(level[0]), "size": format_q8(min(qty, level[1])),
                "side": "BUY" if taker_buys else "SELL", "time": stamp}]}]}
