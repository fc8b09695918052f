"""Folding REST answers and executionReports into exact OrderStatus frames; the risk limits."""

from __future__ import annotations

import pytest

from cex.errors import BadJson
from mesh.protocol.constants import OrderSide, OrderState, OrderType
from nodes.cex_gateway.codes import OrderReject, from_binance
from nodes.cex_gateway.orders import Order, Report
from nodes.cex_gateway.risk import DailyLoss, Limits, Ticker, marks_of

Q = 100_000_000


def order(side: OrderSide = OrderSide.BUY, qty: int = 2 * Q) -> Order:
    return Order(7, "ETHUSDT", "ETH", "USDT", side, OrderType.LIMIT, qty, 2000 * Q, "ap-7")


def report_event(x: str, status: str, z: str, big_z: str, *, t: int = -1, last: str = "0",
                 price: str = "0", fee: str = "0", asset: str | None = None) -> dict:
    return {"e": "executionReport", "E": 1700000000001, "s": "ETHUSDT", "c": "ap-7", "x": x,
            "X": status, "i": 99, "l": last, "z": z, "L": price, "n": fee, "N": asset,
            "T": 1700000000000, "t": t, "Z": big_z}


def test_rest_fill_and_stream_reports_of_the_same_trades_publish_each_state_once():
    o = order()
    full = {"symbol": "ETHUSDT", "orderId": 99, "clientOrderId": "ap-7",
            "transactTime": 1700000000000, "status": "PARTIALLY_FILLED",
            "executedQty": "0.50000000", "cummulativeQuoteQty": "999.99999999",
            "fills": [{"price": "1999.99999998", "qty": "0.5", "commission": "0.99999999",
                       "commissionAsset": "USDT", "tradeId": 11}]}
    assert o.fold(Report.from_rest(full, "ETH", "USDT")) == Q // 2
    first = o.status_message()
    assert first is not None and first.status == OrderState.PARTIALLY_FILLED
    assert (first.filled_quantity, first.remaining_quantity, first.fee) == \
        (Q // 2, 3 * Q // 2, 99_999_999)
    # avg = quote / base, rounded down: 999.99999999 / 0.5 = 1999.99999998
    assert first.avg_fill_price == 199_999_999_998
    assert first.venue_order_id == 99 and first.timestamp_ns == 1700000000000 * 1_000_000
    # The stream's NEW and TRADE reports of that same fill change nothing.
    o.fold(Report.from_execution_report(report_event("NEW", "NEW", "0", "0"), "ETH", "USDT"))
    o.fold(Report.from_execution_report(
        report_event("TRADE", "PARTIALLY_FILLED", "0.5", "999.99999999", t=11, last="0.5",
                     price="1999.99999998", fee="0.99999999", asset="USDT"), "ETH", "USDT"))
    assert o.status_message() is None
    # The rest of the order fills on the stream, with its fee in the base asset.
    delta = o.fold(Report.from_execution_report(
        report_event("TRADE", "FILLED", "2", "4000.99999999", t=12, last="1.5",
                     price="2000.66666666", fee="0.0015", asset="ETH"), "ETH", "USDT"))
    assert delta == 3 * Q // 2
    last = o.status_message()
    assert last is not None and last.status == OrderState.FILLED and o.final
    # 0.0015 ETH at 2000.66666666 = 3.00099999999 USDT, rounded down at 1e-8
    assert last.fee == 99_999_999 + 300_099_999
    assert last.avg_fill_price == 400_099_999_999 * Q // (2 * Q)
    assert last.remaining_quantity == 0


def test_a_final_state_is_never_left_and_old_reports_are_ignored():
    o = order(OrderSide.SELL)
    filled = report_event("TRADE", "FILLED", "2", "4000", t=1, last="2", price="2000")
    assert o.fold(Report.from_execution_report(filled, "ETH", "USDT")) == -2 * Q
    o.fold(Report.from_execution_report(report_event("NEW", "NEW", "0", "0"), "ETH", "USDT"))
    o.fold(Report.from_execution_report(
        report_event("TRADE", "PARTIALLY_FILLED", "1", "2000", t=1), "ETH", "USDT"))
    assert (o.status, o.filled_q8) == (OrderState.FILLED, 2 * Q)


def test_a_fee_in_a_third_asset_is_counted_unpriced_not_added():
    o = order()
    o.fold(Report.from_execution_report(report_event(
        "TRADE", "FILLED", "2", "4000", t=5, last="2", price="2000", fee="0.01", asset="BNB"),
        "ETH", "USDT"))
    assert (o.fee_q8, o.unpriced_fees) == (0, 1)


def test_cancel_and_expiry_map_to_order_states():
    o = order()
    o.fold(Report.from_rest({"orderId": 3, "status": "CANCELED", "executedQty": "0.5",
                             "cummulativeQuoteQty": "1000"}, "ETH", "USDT"))
    msg = o.status_message()
    assert msg is not None and msg.status == OrderState.CANCELLED
    assert (msg.filled_quantity, msg.remaining_quantity) == (Q // 2, 0)
    ioc = order()
    ioc.fold(Report.from_rest({"orderId": 4, "status": "EXPIRED", "executedQty": "0"},
                              "ETH", "USDT"))
    assert ioc.status == OrderState.EXPIRED


def test_malformed_reports_are_typed_errors():
    with pytest.raises(BadJson):
        Report.from_rest({"status": "WHATEVER", "orderId": 1}, "ETH", "USDT")
    with pytest.raises(BadJson):
        Report.from_execution_report({"X": "NEW"}, "ETH", "USDT")


def test_rejections_carry_the_venue_code_through_the_table():
    o = order()
    o.rejected(from_binance(-1013))
    msg = o.status_message()
    assert msg is not None and msg.status == OrderState.REJECTED
    assert msg.reject_reason == OrderReject.VENUE_FILTER_FAILURE == 70
    assert from_binance(-9999) == OrderReject.VENUE_OTHER == 255
    assert max(OrderReject) <= 255


def test_limits_refuse_size_notional_and_position_exactly():
    limits = Limits(max_qty={"ETHUSDT": 5 * Q}, default_qty=Q, max_notional_q8=10_000 * Q,
                    max_position={"ETHUSDT": 6 * Q})
    base = dict(symbol="ETHUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                price_q8=2000 * Q, ticker=None, position_q8=0, open_buys_q8=0, open_sells_q8=0)
    assert limits.check(**{**base, "quantity_q8": 5 * Q}) is None  # 10 000 exactly
    assert limits.check(**{**base, "quantity_q8": 5 * Q + 1}) == OrderReject.MAX_QUANTITY
    assert limits.check(**{**base, "quantity_q8": 5 * Q, "price_q8": 2000 * Q + 1}) == \
        OrderReject.MAX_NOTIONAL
    assert limits.check(**{**base, "quantity_q8": Q, "position_q8": 4 * Q,
                           "open_buys_q8": Q + 1}) == OrderReject.MAX_POSITION
    assert limits.check(**{**base, "quantity_q8": Q, "side": OrderSide.SELL,
                           "position_q8": 4 * Q, "open_buys_q8": 10 * Q}) is None
    market = {**base, "order_type": OrderType.MARKET, "price_q8": 0, "quantity_q8": Q}
    assert limits.check(**market) == OrderReject.NO_REFERENCE_PRICE
    assert limits.check(**{**market, "ticker": Ticker(1999 * Q, 2001 * Q)}) is None
    assert limits.check(**{**market, "symbol": "BTCUSDT", "quantity_q8": Q + 1,
                           "ticker": Ticker(1, 1)}) == OrderReject.MAX_QUANTITY


def test_daily_loss_marks_todays_trading_not_the_holdings_of_the_start():
    pairs = [("ETHUSDT", "ETH", "USDT"), ("BTCUSDT", "BTC", "USDT")]
    cash = frozenset({"USDT"})
    marks = marks_of({"ETHUSDT": Ticker(1999 * Q, 2001 * Q)}, pairs, cash, {"BTCUSDT": 30_000 * Q})
    assert marks == {"USDT": Q, "ETH": 2000 * Q, "BTC": 30_000 * Q}
    loss = DailyLoss(limit_q8=100 * Q)
    assert loss.refusal() == OrderReject.NOT_READY
    day = 20_000 * 86_400.0
    start = {"USDT": 10_000 * Q, "ETH": 10 * Q, "BNB": 3 * Q}
    assert loss.observe(start, marks, day + 10) == [] and loss.loss_q8 == 0
    # ETH's price halves: the 10 ETH held since the start are no loss of today's trading.
    half = {**marks, "ETH": 1000 * Q}
    loss.observe(start, half, day + 20)
    assert loss.loss_q8 == 0
    # Bought 1 ETH for 2099.99999999 USDT (fee included), marked at 2000: a loss of 99.99999999.
    after = {**start, "USDT": start["USDT"] - 209_999_999_999, "ETH": 11 * Q}
    loss.observe(after, marks, day + 30)
    assert loss.loss_q8 == 9_999_999_999 and loss.refusal() is None
    loss.observe({**after, "USDT": after["USDT"] - 1}, marks, day + 40)
    assert loss.loss_q8 == 100 * Q and loss.refusal() == OrderReject.DAILY_LOSS
    # An asset that changed without a price leaves the loss as it was.
    assert loss.observe({**after, "BNB": 2 * Q}, marks, day + 50) == ["BNB"]
    assert loss.loss_q8 == 100 * Q
    # A new UTC day starts from its first valuation.
    loss.observe(after, marks, day + 86_400)
    assert loss.loss_q8 == 0 and loss.refusal() is None
