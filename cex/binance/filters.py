"""A symbol's trading rules from ``GET /api/v3/exchangeInfo``, checked exactly in integers.

Binance refuses an order that breaks a symbol filter with ``-1013`` ("Filter failure: NAME");
the gateway checks the same rules before it signs anything, so such an order never leaves the
host. Every amount is the protocol's i64 x 1e8 (:func:`cex.fixed.parse_q8`), every comparison
exact (a notional ``price x quantity`` is compared at 1e16, never rounded):

- ``PRICE_FILTER``: ``minPrice <= price <= maxPrice`` and ``(price - minPrice) % tickSize == 0``
  (a zero bound or tick disables that part), LIMIT orders only;
- ``LOT_SIZE`` (and ``MARKET_LOT_SIZE`` for MARKET orders, when it has a non-zero step or
  bounds): ``minQty <= quantity <= maxQty`` and ``(quantity - minQty) % stepSize == 0``;
- ``MIN_NOTIONAL`` and ``NOTIONAL``: ``price x quantity`` at least ``minNotional`` (and at most
  ``maxNotional``); a MARKET order is checked at the reference price when the filter applies to
  market orders (``applyToMarket`` / ``applyMinToMarket`` / ``applyMaxToMarket``) and a price is
  known, else not at all (the venue will judge).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cex.errors import BadField, BadJson
from cex.fixed import SCALE, parse_q8

__all__ = ["Bounds", "FilterFailure", "SymbolRules", "parse_exchange_info"]


class FilterFailure(BadField):
    """An order that breaks a symbol filter; ``filter`` names it as Binance does."""

    kind = "filter"

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"Filter failure: {name} ({detail})")
        self.filter = name


@dataclass(frozen=True, slots=True)
class Bounds:
    """A ``[low, high]`` range with a step from ``low``; zeros disable a part."""

    low: int = 0
    high: int = 0
    step: int = 0

    def check(self, value: int, name: str, what: str) -> None:
        """Raise :class:`FilterFailure` unless ``value`` lies in range and on the step."""
        if self.low and value < self.low:
            raise FilterFailure(name, f"{what} below the minimum")
        if self.high and value > self.high:
            raise FilterFailure(name, f"{what} above the maximum")
        if self.step and (value - self.low) % self.step:
            raise FilterFailure(name, f"{what} not a multiple of the step")


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """One symbol's status, assets and filters (amounts x 1e8)."""

    symbol: str
    status: str
    base: str
    quote: str
    price: Bounds = Bounds()
    lot: Bounds = Bounds()
    market_lot: Bounds | None = None
    min_notional: int = 0
    max_notional: int = 0
    min_to_market: bool = True
    max_to_market: bool = False

    def check(self, *, market: bool, quantity_q8: int, price_q8: int,
              reference_q8: int = 0) -> None:
        """Check an order; ``reference_q8`` prices a MARKET order's notional (0: unknown).

        Raises
        ------
        FilterFailure
            The first filter the order breaks, in Binance's order of checks.
        """
        if self.status != "TRADING":
            raise FilterFailure("STATUS", f"{self.symbol} is {self.status}")
        if not market:
            self.price.check(price_q8, "PRICE_FILTER", "price")
        lot = self.market_lot if market and self.market_lot is not None else self.lot
        lot.check(quantity_q8, "MARKET_LOT_SIZE" if lot is self.market_lot else "LOT_SIZE",
                  "quantity")
        price = reference_q8 if market else price_q8
        if not price:
            return
        notional = price * quantity_q8  # x 1e16, exact
        if self.min_notional and (not market or self.min_to_market) and \
                notional < self.min_notional * SCALE:
            raise FilterFailure("NOTIONAL", "price x quantity below the minimum notional")
        if self.max_notional and (not market or self.max_to_market) and \
                notional > self.max_notional * SCALE:
            raise FilterFailure("NOTIONAL", "price x quantity above the maximum notional")


def _q8(f: Mapping[str, Any], key: str) -> int:
    value = f.get(key, "0")
    return parse_q8(value) if isinstance(value, str) else 0


def _bounds(f: Mapping[str, Any], low: str, high: str, step: str) -> Bounds:
    return Bounds(_q8(f, low), _q8(f, high), _q8(f, step))


def parse_symbol(doc: Mapping[str, Any]) -> SymbolRules:
    """One entry of ``exchangeInfo``'s ``symbols`` list.

    Raises
    ------
    BadJson
        Not an object with ``symbol``, ``status``, ``baseAsset``, ``quoteAsset``.
    BadField, PrecisionLoss
        A filter's decimal that is not exact at 1e8.
    """
    try:
        symbol, status = str(doc["symbol"]), str(doc["status"])
        base, quote = str(doc["baseAsset"]), str(doc["quoteAsset"])
    except (KeyError, TypeError):
        raise BadJson("an exchangeInfo symbol without symbol/status/baseAsset/quoteAsset") \
            from None
    rules: dict[str, Any] = {}
    for f in doc.get("filters", []) or []:
        if not isinstance(f, dict):
            continue
        kind = f.get("filterType")
        if kind == "PRICE_FILTER":
            rules["price"] = _bounds(f, "minPrice", "maxPrice", "tickSize")
        elif kind == "LOT_SIZE":
            rules["lot"] = _bounds(f, "minQty", "maxQty", "stepSize")
        elif kind == "MARKET_LOT_SIZE":
            market = _bounds(f, "minQty", "maxQty", "stepSize")
            if market != Bounds():
                rules["market_lot"] = market
        elif kind == "MIN_NOTIONAL":
            rules["min_notional"] = _q8(f, "minNotional")
            rules["min_to_market"] = bool(f.get("applyToMarket", True))
        elif kind == "NOTIONAL":
            rules["min_notional"] = _q8(f, "minNotional")
            rules["max_notional"] = _q8(f, "maxNotional")
            rules["min_to_market"] = bool(f.get("applyMinToMarket", True))
            rules["max_to_market"] = bool(f.get("applyMaxToMarket", False))
    return SymbolRules(symbol, status, base, quote, **rules)


def parse_exchange_info(doc: Mapping[str, Any], wanted: set[str] | None = None
                        ) -> dict[str, SymbolRules]:
    """The rules of every symbol in an ``exchangeInfo`` answer (only ``wanted`` ones if given).

    Raises
    ------
    BadJson
        No ``symbols`` list, or a malformed entry among the wanted ones.
    """
    symbols = doc.get("symbols")
    if not isinstance(symbols, list):
        raise BadJson("exchangeInfo without a symbols list")
    out: dict[str, SymbolRules] = {}
    for entry in symbols:
        if not isinstance(entry, dict):
            raise BadJson("an exchangeInfo symbol that is not an object")
        if wanted is None or entry.get("symbol") in wanted:
            rules = parse_symbol(entry)
            out[rules.symbol] = rules
    return out
