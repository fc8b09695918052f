"""The executor's risk limits for the CEX leg: size, notional, position and the day's loss.

Every check is exact in integers (amounts i64 x 1e8, notionals compared at 1e16) and runs on
the loop thread before anything is signed (docs/cex-gateway.md, "Risk limits"):

- quantity per order, per symbol (``max_order_qty``);
- notional per order in the quote asset (``max_order_notional``): a LIMIT order at its price,
  a MARKET order at the book's best ask (buy) or bid (sell) of the last book ticker; a MARKET
  order with no known book price is refused when this limit is set;
- position per symbol (``max_position``), counting what open orders could still add: a buy is
  checked as ``position + open buys + quantity``, a sell as ``position - open sells - quantity``,
  each against the limit in absolute value;
- the day's loss (``max_daily_loss``): the account's balances against their value at the UTC
  day's first valuation, both marked at today's prices (:class:`DailyLoss`); while the loss
  reaches the limit no order is sent.

A limit of 0 is no limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cex.fixed import SCALE
from mesh.protocol.constants import OrderSide, OrderType
from nodes.cex_gateway.codes import OrderReject

__all__ = ["DailyLoss", "Limits", "Ticker", "change_value", "marks_of"]

_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Ticker:
    """A symbol's best bid and ask (x 1e8; 0 when a side is empty)."""

    bid_q8: int
    ask_q8: int

    @property
    def mid_q8(self) -> int:
        """The mid price, rounded down; one side alone when the other is empty."""
        if self.bid_q8 and self.ask_q8:
            return (self.bid_q8 + self.ask_q8) // 2
        return self.bid_q8 or self.ask_q8


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-order and per-symbol limits (x 1e8; 0 = none).

    Attributes
    ----------
    max_qty : dict
        Largest quantity of one order, by symbol; ``default_qty`` for the others.
    max_notional_q8 : int
        Largest ``price x quantity`` of one order, in its quote asset.
    max_position : dict
        Largest absolute position by symbol, open orders counted; ``default_position`` for the
        others.
    max_daily_loss_q8 : int
        Largest loss of the account's marked value since the UTC day began.
    """

    max_qty: Mapping[str, int] = field(default_factory=dict)
    default_qty: int = 0
    max_notional_q8: int = 0
    max_position: Mapping[str, int] = field(default_factory=dict)
    default_position: int = 0
    max_daily_loss_q8: int = 0

    def check(self, *, symbol: str, side: OrderSide, order_type: OrderType, quantity_q8: int,
              price_q8: int, ticker: Ticker | None, position_q8: int, open_buys_q8: int,
              open_sells_q8: int) -> OrderReject | None:
        """The first limit the order breaks, or None."""
        max_qty = self.max_qty.get(symbol, self.default_qty)
        if max_qty and quantity_q8 > max_qty:
            return OrderReject.MAX_QUANTITY
        if self.max_notional_q8:
            price = price_q8
            if order_type == OrderType.MARKET:
                price = 0 if ticker is None else (ticker.ask_q8 if side == OrderSide.BUY
                                                  else ticker.bid_q8)
                if not price:
                    return OrderReject.NO_REFERENCE_PRICE
            if price * quantity_q8 > self.max_notional_q8 * SCALE:
                return OrderReject.MAX_NOTIONAL
        max_pos = self.max_position.get(symbol, self.default_position)
        if max_pos:
            projected = position_q8 + open_buys_q8 + quantity_q8 if side == OrderSide.BUY \
                else position_q8 - open_sells_q8 - quantity_q8
            if abs(projected) > max_pos:
                return OrderReject.MAX_POSITION
        return None


def marks_of(tickers: Mapping[str, Ticker], pairs: Iterable[tuple[str, str, str]],
             cash: frozenset[str], last_fills: Mapping[str, int] | None = None) -> dict[str, int]:
    """Each asset's price in cash units x 1e8: cash assets at par (1e8), a base asset at the
    book mid of a configured symbol quoting it in cash, else at the last fill price there.

    Parameters
    ----------
    tickers : mapping
        Symbol -> its last book ticker.
    pairs : iterable of (symbol, base, quote)
        The configured symbols.
    cash : frozenset
        Assets counted at par (USDT, USDC ...): the unit of the value and of the loss limit.
    last_fills : mapping, optional
        Symbol -> the price of the gateway's last fill there (when the book has no price).
    """
    marks = dict.fromkeys(cash, SCALE)
    for symbol, base, quote in pairs:
        ticker = tickers.get(symbol)
        price = ticker.mid_q8 if ticker is not None else 0
        price = price or (last_fills or {}).get(symbol, 0)
        if quote in cash and price:
            marks.setdefault(base, price)
    return marks


def change_value(start: Mapping[str, int], now: Mapping[str, int], marks: Mapping[str, int]
                 ) -> tuple[int, list[str]]:
    """What the balances gained since ``start``, at today's ``marks`` (cash units x 1e8, each
    asset's term rounded down), and the changed assets that have no mark."""
    value, unpriced = 0, []
    for asset in sorted(set(start) | set(now)):
        delta = now.get(asset, 0) - start.get(asset, 0)
        if not delta:
            continue
        if asset in marks:
            value += delta * marks[asset] // SCALE
        else:
            unpriced.append(asset)
    return value, unpriced


@dataclass(slots=True)
class DailyLoss:
    """What the account lost through today's trading, marked to market.

    The balances at the UTC day's first valuation are the start. Each later valuation marks
    both the start and the current balances at the current prices and takes the difference:
    fees, spreads and the price moves of what was bought or sold today count; a price move of
    what the account already held at the start does not (it is no trade of the gateway's).

    Attributes
    ----------
    limit_q8 : int
        The loss that stops trading (0: never).
    day : int
        UTC day number of ``start``.
    start : dict or None
        The day's first balances (None before the first valuation).
    loss_q8 : int or None
        The latest loss (negative: a gain); None before the first valuation.
    """

    limit_q8: int
    day: int = -1
    start: dict[str, int] | None = None
    loss_q8: int | None = None

    def observe(self, balances: Mapping[str, int], marks: Mapping[str, int], now_s: float
                ) -> list[str]:
        """Take a valuation made at wall time ``now_s``; return the changed assets without a
        price (the loss is then left as it was: a valuation must be complete)."""
        day = int(now_s // _DAY_S)
        if day != self.day or self.start is None:
            self.day, self.start, self.loss_q8 = day, dict(balances), 0
            return []
        gained, unpriced = change_value(self.start, balances, marks)
        if not unpriced:
            self.loss_q8 = -gained
        return unpriced

    def refusal(self) -> OrderReject | None:
        """DAILY_LOSS while the loss reaches the limit, NOT_READY before the first valuation."""
        if not self.limit_q8:
            return None
        if self.loss_q8 is None:
            return OrderReject.NOT_READY
        return OrderReject.DAILY_LOSS if self.loss_q8 >= self.limit_q8 else None
