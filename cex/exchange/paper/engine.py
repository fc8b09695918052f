"""The paper matching engine: orders against the server's book, balances in integers.

A taker order walks the opposite side of the symbol's book (:mod:`.matching`) and takes the
liquidity out of it. LIMIT GTC rests with what is left (locking quote for a buy, base for a
sell); IOC and MARKET expire what is left; FOK fills completely or expires without a trade.
A resting order fills (as maker, at its own price) when the book's opposite side crosses it.
Commission is charged in the asset received, at the taker or maker rate (x 1e8), rounded up to
1e-8; quote amounts are ``price * qty`` truncated to 1e-8. Every change produces the events of
Binance's user-data stream, in order: ``executionReport`` (NEW, TRADE..., CANCELED/EXPIRED) then
``outboundAccountPosition``.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from cex.exchange.market import Market
from cex.exchange.paper import reject
from cex.exchange.paper.accounts import Account
from cex.exchange.paper.matching import Take, consume, fee_of, quote_ceil, quote_of, walk
from cex.exchange.paper.orders import Fill, Order
from cex.exchange.paper.params import NewOrder
from cex.exchange.symbols import SymbolSpec
from cex.fixed import SCALE

#: Receives ``(api key, event)`` for the user-data stream.
Publish = Callable[[str, dict[str, Any]], None]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine:
    """Orders, accounts and fills of the paper exchange.

    Parameters
    ----------
    specs : Mapping[str, SymbolSpec]
        The symbols (with their filters).
    market : Market
        The books orders fill against.
    accounts : Mapping[str, Account]
        One account per API key.
    taker_rate, maker_rate : int
        Commission rates x 1e8 (0.001 = 100_000).
    publish : Publish
        Where user-data events go.
    """

    def __init__(self, specs: Mapping[str, SymbolSpec], market: Market,
                 accounts: Mapping[str, Account], taker_rate: int, maker_rate: int,
                 publish: Publish, clock: Callable[[], int] = _now_ms) -> None:
        self.specs = specs
        self.market = market
        self.accounts = accounts
        self.taker_rate = taker_rate
        self.maker_rate = maker_rate
        self.publish = publish
        self.clock = clock
        self.orders: dict[tuple[str, int], Order] = {}
        self._order_ids = {s: itertools.count(1) for s in specs}
        self._trade_ids = {s: itertools.count(1) for s in specs}
        market.listeners.append(self.book_changed)

    # -- queries -----------------------------------------------------------------------------

    def find(self, account: str, symbol: str, order_id: int | None,
             client_id: str | None) -> Order | None:
        """The account's order by id or client id (None when there is none)."""
        if order_id is not None:
            order = self.orders.get((symbol, order_id))
            if order is None or order.account != account:
                return None
            return order if client_id is None or order.client_id == client_id else None
        found = [o for o in self.orders.values() if o.account == account and o.symbol == symbol
                 and o.client_id == client_id]
        return found[-1] if found else None

    def open_orders(self, account: str, symbol: str | None) -> list[Order]:
        """The account's open orders, oldest first."""
        return [o for o in self.orders.values() if o.account == account and o.open
                and (symbol is None or o.symbol == symbol)]

    # -- new orders --------------------------------------------------------------------------

    def place(self, account: str, new: NewOrder) -> Order:
        """Check the balance, match, rest or expire, publish the events; the order."""
        spec = self.specs[new.symbol]
        acct = self.accounts[account]
        if new.client_id is not None and any(
                o.client_id == new.client_id for o in self.open_orders(account, None)):
            raise reject.duplicate_order()
        book = self.market.book(new.symbol)
        assert book is not None
        buy = new.side == "BUY"
        side = book.asks if buy else book.bids
        limit = new.price if new.type == "LIMIT" else None
        takes, exhausted = walk(side, buy, limit, new.qty or None, new.quote_qty or None,
                                spec.step_size)
        filled = sum(t.qty for t in takes)
        if new.type == "MARKET" and new.qty and filled:
            notional = sum(t.quote for t in takes) * new.qty // filled
            if notional < spec.min_notional:
                raise reject.filter_failure("MIN_NOTIONAL")
        if new.tif == "FOK" and filled < new.qty:
            takes = []
        self._check_balance(acct, spec, new, takes)
        now = self.clock()
        order = Order(account, new.symbol, next(self._order_ids[new.symbol]),
                      new.client_id or f"paper_{uuid.uuid4().hex[:16]}", new.side, new.type,
                      new.tif, new.price, new.qty, new.quote_qty, now)
        self.orders[(order.symbol, order.order_id)] = order
        self.publish(account, order.report("NEW", now))
        by_quote = new.type == "MARKET" and bool(new.quote_qty)
        done = (not exhausted) if by_quote else sum(t.qty for t in takes) == new.qty
        consume(side, takes)
        for i, take in enumerate(takes):
            self._fill(order, spec, acct, take, maker=False, now=now,
                       final=done and i == len(takes) - 1)
        if by_quote:
            order.orig_qty = order.executed
        if done:
            order.status = "FILLED"
        elif new.type == "LIMIT" and new.tif == "GTC":
            self._rest(order, spec, acct)
        else:
            order.status = "EXPIRED"
            order.update_ms = now
            self.publish(account, order.report("EXPIRED", now))
        self._position(account, acct, now)
        if takes:
            self.market.changed(new.symbol)
        return order

    def _check_balance(self, acct: Account, spec: SymbolSpec, new: NewOrder,
                       takes: list[Take]) -> None:
        if new.side == "BUY":
            cost = sum(t.quote for t in takes)
            if new.type == "LIMIT":
                rest = new.qty - sum(t.qty for t in takes)
                if new.tif == "GTC":
                    cost += quote_ceil(new.price, rest)
            acct.require(spec.quote, cost)
        else:
            need = new.qty if new.type == "LIMIT" and new.tif == "GTC" else sum(t.qty for t in takes)
            acct.require(spec.base, need)

    def _fill(self, order: Order, spec: SymbolSpec, acct: Account, take: Take, maker: bool,
              now: int, final: bool = False) -> None:
        rate = self.maker_rate if maker else self.taker_rate
        if order.side == "BUY":
            fee, fee_asset = fee_of(take.qty, rate), spec.base
            if maker:
                acct.spend_locked(spec.quote, take.quote)
                order.locked -= take.quote
            else:
                acct.debit(spec.quote, take.quote)
            acct.credit(spec.base, take.qty - fee)
        else:
            fee, fee_asset = fee_of(take.quote, rate), spec.quote
            if maker:
                acct.spend_locked(spec.base, take.qty)
                order.locked -= take.qty
            else:
                acct.debit(spec.base, take.qty)
            acct.credit(spec.quote, take.quote - fee)
        fill = Fill(take.price, take.qty, take.quote, fee, fee_asset,
                    next(self._trade_ids[order.symbol]), maker, now)
        order.fills.append(fill)
        order.executed += take.qty
        order.cum_quote += take.quote
        order.update_ms = now
        complete = final or (order.remaining == 0 and not order.quote_order_qty)
        order.status = "FILLED" if complete else "PARTIALLY_FILLED"
        if complete and order.locked:
            acct.unlock(spec.quote if order.side == "BUY" else spec.base, order.locked)
            order.locked = 0
        self.publish(order.account, order.report("TRADE", now, fill))

    def _rest(self, order: Order, spec: SymbolSpec, acct: Account) -> None:
        if order.side == "BUY":
            order.locked = quote_ceil(order.price, order.remaining)
            acct.lock(spec.quote, order.locked)
        else:
            order.locked = order.remaining
            acct.lock(spec.base, order.locked)

    def _position(self, account: str, acct: Account, now: int) -> None:
        assets = acct.take_touched()
        if assets:
            acct.update_ms = now
            self.publish(account, {"e": "outboundAccountPosition", "E": now, "u": now,
                                   "B": [{"a": b["asset"], "f": b["free"], "l": b["locked"]}
                                         for b in acct.balances(assets)]})

    # -- cancel and resting fills --------------------------------------------------------------

    def cancel(self, order: Order, cancel_client_id: str | None) -> dict[str, Any]:
        """Cancel an open order; the DELETE answer (raises -2011 when it is not open)."""
        if not order.open:
            raise reject.unknown_order()
        spec, acct, now = self.specs[order.symbol], self.accounts[order.account], self.clock()
        if order.locked:
            acct.unlock(spec.quote if order.side == "BUY" else spec.base, order.locked)
            order.locked = 0
        order.status = "CANCELED"
        order.update_ms = now
        cancel_id = cancel_client_id or f"paper_{uuid.uuid4().hex[:16]}"
        self.publish(order.account, order.report("CANCELED", now, client_id=cancel_id,
                                                 orig_client_id=order.client_id))
        self._position(order.account, acct, now)
        return order.cancel_answer(cancel_id, now)

    def book_changed(self, symbol: str) -> None:
        """Fill resting orders of ``symbol`` that the book's opposite side now crosses."""
        book = self.market.book(symbol)
        spec = self.specs.get(symbol)
        if book is None or spec is None:
            return
        for order in [o for o in self.orders.values() if o.symbol == symbol and o.open]:
            buy = order.side == "BUY"
            side = book.asks if buy else book.bids
            crossing, _ = walk(side, buy, order.price, order.remaining, None, spec.step_size)
            if not crossing:
                continue
            consume(side, crossing)
            acct, now = self.accounts[order.account], self.clock()
            for t in crossing:
                self._fill(order, spec, acct, Take(order.price, t.qty, quote_of(order.price, t.qty)),
                           maker=True, now=now)
            self._position(order.account, acct, now)


def rate_of(text: str) -> int:
    """A commission rate given as a decimal fraction (``"0.001"``) x 1e8."""
    from cex.fixed import parse_q8

    rate = parse_q8(text)
    if rate >= SCALE:
        raise ValueError(f"a commission rate below 1, not {text}")
    return rate
