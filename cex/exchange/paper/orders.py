"""Paper orders and their JSON as Binance writes it (REST answers, ``executionReport``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cex.fixed import format_q8


def q8(value: int) -> str:
    """An amount as Binance writes it: 8 decimals."""
    return format_q8(value, trim=False)


@dataclass(slots=True)
class Fill:
    """One trade of an order."""

    price: int
    qty: int
    quote: int
    commission: int
    commission_asset: str
    trade_id: int
    maker: bool
    time_ms: int

    def json(self) -> dict[str, Any]:
        """The ``fills`` item of a FULL answer."""
        return {"price": q8(self.price), "qty": q8(self.qty), "commission": q8(self.commission),
                "commissionAsset": self.commission_asset, "tradeId": self.trade_id}


@dataclass(slots=True)
class Order:
    """One paper order; amounts x 1e8.

    ``locked`` is what the order holds of the account's locked balance (quote for a buy,
    base for a sell) while it rests.
    """

    account: str
    symbol: str
    order_id: int
    client_id: str
    side: str
    type: str
    tif: str
    price: int
    orig_qty: int
    quote_order_qty: int
    time_ms: int
    executed: int = 0
    cum_quote: int = 0
    status: str = "NEW"
    update_ms: int = 0
    locked: int = 0
    fills: list[Fill] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """NEW or PARTIALLY_FILLED."""
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def remaining(self) -> int:
        """Base quantity still wanted."""
        return self.orig_qty - self.executed

    def common(self) -> dict[str, Any]:
        """Fields shared by the REST answers."""
        return {"symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
                "clientOrderId": self.client_id, "price": q8(self.price),
                "origQty": q8(self.orig_qty), "executedQty": q8(self.executed),
                "origQuoteOrderQty": q8(self.quote_order_qty),
                "cummulativeQuoteQty": q8(self.cum_quote), "status": self.status,
                "timeInForce": self.tif, "type": self.type, "side": self.side,
                "workingTime": self.time_ms, "selfTradePreventionMode": "NONE"}

    def new_answer(self, resp_type: str) -> dict[str, Any]:
        """The answer to POST /api/v3/order (ACK, RESULT or FULL)."""
        ack = {"symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
               "clientOrderId": self.client_id, "transactTime": self.time_ms}
        if resp_type == "ACK":
            return ack
        result = {**ack, **self.common()}
        if resp_type == "FULL":
            result["fills"] = [f.json() for f in self.fills]
        return result

    def query_answer(self) -> dict[str, Any]:
        """The answer to GET /api/v3/order and each item of openOrders."""
        return {**self.common(), "stopPrice": q8(0), "icebergQty": q8(0), "time": self.time_ms,
                "updateTime": self.update_ms or self.time_ms, "isWorking": True}

    def cancel_answer(self, cancel_client_id: str, now_ms: int) -> dict[str, Any]:
        """The answer to DELETE /api/v3/order."""
        out = self.common()
        out.pop("workingTime")
        return {**out, "origClientOrderId": self.client_id, "clientOrderId": cancel_client_id,
                "transactTime": now_ms}

    def report(self, execution: str, now_ms: int, fill: Fill | None = None,
               client_id: str | None = None, orig_client_id: str = "") -> dict[str, Any]:
        """An ``executionReport`` event (``x`` = ``execution``, ``X`` = the status now)."""
        return {
            "e": "executionReport", "E": now_ms, "s": self.symbol,
            "c": client_id or self.client_id, "S": self.side, "o": self.type, "f": self.tif,
            "q": q8(self.orig_qty), "p": q8(self.price), "P": q8(0), "F": q8(0), "g": -1,
            "C": orig_client_id, "x": execution, "X": self.status, "r": "NONE",
            "i": self.order_id, "l": q8(fill.qty if fill else 0),
            "z": q8(self.executed), "L": q8(fill.price if fill else 0),
            "n": q8(fill.commission) if fill else "0",
            "N": fill.commission_asset if fill else None,
            "T": fill.time_ms if fill else now_ms, "t": fill.trade_id if fill else -1,
            "I": 0, "w": self.open, "m": bool(fill and fill.maker), "M": False,
            "O": self.time_ms, "Z": q8(self.cum_quote),
            "Y": q8(fill.quote if fill else 0), "Q": q8(self.quote_order_qty),
            "W": self.time_ms, "V": "NONE"}
