"""The gateway's orders: what the venue said about each, folded into exact OrderStatus frames.

Two sources report on an order, in any order and with overlap: the REST answer of
``POST /api/v3/order`` (``newOrderRespType=FULL``: status, cumulative quantities, fills) and the
user-data stream's ``executionReport`` events. :meth:`Order.fold` keeps, per order, the
furthest state either source reported:

- cumulative filled quantity and quote amount only grow (an older report is ignored);
- the status only moves forward (NEW < PARTIALLY_FILLED < a final state), and a final state
  (FILLED, CANCELLED, REJECTED, EXPIRED) is never left;
- a fee counts once per trade id (REST fills carry ``tradeId``; a fill without one is keyed by
  its position in the answer).

An OrderStatus is published whenever the folded state changed, so a fill reported by both
sources is published once. Amounts are i64 x 1e8 integers: ``avg_fill_price`` is the
cumulative quote amount over the cumulative base quantity, ``quote_q8 x 1e8 // filled_q8``,
rounded down (at most 1e-8 of the quote asset below the exact mean); a fee paid in the base
asset is converted at its fill's price (rounded down); a fee paid in a third asset (BNB) cannot
be priced here and is counted as ``fee_other_asset``, not added.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cex.errors import BadJson
from cex.fixed import SCALE, parse_q8
from mesh.protocol import OrderStatus
from mesh.protocol.constants import OrderSide, OrderState, OrderType, VenueId
from nodes.cex_gateway.codes import OrderReject

__all__ = ["BINANCE_STATES", "Fill", "Order", "Report", "refusal"]

#: Binance order status (``X`` / ``status``) -> OrderState.
BINANCE_STATES: dict[str, OrderState] = {
    "NEW": OrderState.NEW, "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED, "CANCELED": OrderState.CANCELLED,
    "PENDING_CANCEL": OrderState.NEW, "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED, "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}
_FINAL = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED,
                    OrderState.EXPIRED})


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of an order: its key (trade id), price, quantity and fee in the quote asset."""

    key: str
    price_q8: int
    qty_q8: int
    fee_quote_q8: int
    fee_unpriced: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """What one venue message says about an order (parsed, exact)."""

    status: OrderState
    filled_q8: int
    quote_q8: int
    venue_order_id: int
    time_ms: int
    fills: tuple[Fill, ...] = ()

    @classmethod
    def from_rest(cls, doc: Mapping[str, Any], base: str, quote: str) -> Report:
        """An order answer (new/query/cancel, with ``fills`` when FULL).

        Raises
        ------
        BadJson, BadField
            A field missing or not exact at 1e8.
        """
        try:
            status = BINANCE_STATES[str(doc["status"])]
            fills = tuple(
                _fill(str(f.get("tradeId", f"rest{i}")), f["price"], f["qty"],
                      f.get("commission", "0"), f.get("commissionAsset"), base, quote)
                for i, f in enumerate(doc.get("fills", []) or []))
            return cls(status, parse_q8(doc.get("executedQty", "0")),
                       parse_q8(doc.get("cummulativeQuoteQty", "0")), int(doc["orderId"]),
                       int(doc.get("transactTime", doc.get("updateTime", 0)) or 0), fills)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadJson(f"an order answer without {exc}") from None

    @classmethod
    def from_execution_report(cls, ev: Mapping[str, Any], base: str, quote: str) -> Report:
        """A user-data stream ``executionReport`` event.

        Raises
        ------
        BadJson, BadField
            A field missing or not exact at 1e8.
        """
        try:
            status = BINANCE_STATES[str(ev["X"])]
            fills: tuple[Fill, ...] = ()
            if ev.get("x") == "TRADE":
                fills = (_fill(str(ev["t"]), ev["L"], ev["l"], ev.get("n") or "0", ev.get("N"),
                               base, quote),)
            return cls(status, parse_q8(ev["z"]), parse_q8(ev.get("Z", "0")), int(ev["i"]),
                       int(ev.get("T") or ev.get("E") or 0), fills)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadJson(f"an executionReport without {exc}") from None


def _fill(key: str, price: Any, qty: Any, fee: Any, asset: Any, base: str, quote: str) -> Fill:
    price_q8, qty_q8, fee_q8 = parse_q8(price), parse_q8(qty), parse_q8(fee)
    if not fee_q8 or asset == quote:
        return Fill(key, price_q8, qty_q8, fee_q8)
    if asset == base:
        return Fill(key, price_q8, qty_q8, fee_q8 * price_q8 // SCALE)
    return Fill(key, price_q8, qty_q8, 0, fee_unpriced=True)


@dataclass(slots=True)
class Order:
    """One order the gateway accepted, and what is known of it.

    Attributes
    ----------
    order_id : int
        Ours (``OrderRequest.order_id``); the client order id is derived from it.
    symbol, base, quote : str
    side : OrderSide
    order_type : OrderType
    quantity_q8, price_q8 : int
    client_id : str
    """

    order_id: int
    symbol: str
    base: str
    quote: str
    side: OrderSide
    order_type: OrderType
    quantity_q8: int
    price_q8: int
    client_id: str
    venue_order_id: int = 0
    status: OrderState | None = None
    filled_q8: int = 0
    quote_q8: int = 0
    reject: OrderReject = OrderReject.NONE
    fees: dict[str, int] = field(default_factory=dict)
    unpriced_fees: int = 0
    time_ms: int = 0
    _published: tuple[int, int, int] | None = None

    @property
    def final(self) -> bool:
        """True once the order reached a state it never leaves."""
        return self.status in _FINAL

    @property
    def remaining_q8(self) -> int:
        """Quantity not filled (0 once final)."""
        return 0 if self.final else max(0, self.quantity_q8 - self.filled_q8)

    @property
    def fee_q8(self) -> int:
        """Fees paid so far, in the quote asset x 1e8."""
        return sum(self.fees.values())

    def fold(self, report: Report) -> int:
        """Fold a report in; return the base quantity newly filled (signed: + bought, - sold)."""
        before = self.filled_q8
        if report.venue_order_id:
            self.venue_order_id = report.venue_order_id
        if report.filled_q8 > self.filled_q8:
            self.filled_q8, self.quote_q8 = report.filled_q8, report.quote_q8
        for fill in report.fills:
            if fill.key not in self.fees:
                self.fees[fill.key] = fill.fee_quote_q8
                self.unpriced_fees += fill.fee_unpriced
        if not self.final and (self.status is None or report.status in _FINAL
                               or report.status > self.status):
            self.status = report.status
        if report.time_ms:
            self.time_ms = max(self.time_ms, report.time_ms)
        delta = self.filled_q8 - before
        return delta if self.side == OrderSide.BUY else -delta

    def rejected(self, reason: OrderReject) -> None:
        """Mark the order rejected by us or by the venue (a final state)."""
        if not self.final:
            self.status = OrderState.REJECTED
            self.reject = reason

    def status_message(self) -> OrderStatus | None:
        """The OrderStatus to publish if the state changed since the last one, else None."""
        if self.status is None:
            return None
        key = (int(self.status), self.filled_q8, self.fee_q8)
        if key == self._published:
            return None
        self._published = key
        return self.message()

    def message(self) -> OrderStatus:
        """The OrderStatus of the current state."""
        avg = self.quote_q8 * SCALE // self.filled_q8 if self.filled_q8 else 0
        ts = self.time_ms * 1_000_000 if self.time_ms else time.time_ns()
        return OrderStatus(
            order_id=self.order_id, venue_order_id=self.venue_order_id,
            filled_quantity=self.filled_q8, remaining_quantity=self.remaining_q8,
            avg_fill_price=avg, fee=self.fee_q8, timestamp_ns=ts, venue=int(VenueId.BINANCE),
            status=int(self.status if self.status is not None else OrderState.NEW),
            reject_reason=int(self.reject))


def refusal(order_id: int, quantity_q8: int, reason: OrderReject) -> OrderStatus:
    """The REJECTED OrderStatus of a request refused before anything was signed."""
    return OrderStatus(order_id=order_id, venue_order_id=0, filled_quantity=0,
                       remaining_quantity=0, avg_fill_price=0, fee=0,
                       timestamp_ns=time.time_ns(), venue=int(VenueId.BINANCE),
                       status=int(OrderState.REJECTED), reject_reason=int(reason))

