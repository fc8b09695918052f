"""The gateway against the paper exchange: signed orders, fills as OrderStatus, limits, stops.

The paper exchange verifies every signature itself (a bad one is ``-1022``), so an accepted
order is an order signed as Binance documents. Expected fills are computed here with Decimal
from the book the test loads (:mod:`.kit`): taker fills walk the asks, the commission (0.1 %)
is paid in the asset received and priced at the fill.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cex.exchange.replay import disconnect
from cex.exchange.script import Rest
from cex.exchange.threaded import ThreadedExchange
from cex.fixed import parse_q8
from mesh.protocol import EmergencyStop, OrderStatus
from mesh.protocol.constants import OrderSide, OrderState, OrderType, TimeInForce, VenueId
from nodes.cex_gateway.codes import OrderReject
from tests.nodes.cex_gateway.kit import (
    ASKS,
    BIDS,
    SECRET,
    gateway,
    key_file,
    load_book,
    order_calls,
    paper_exchange,
    queue_rest,
    request,
    statuses,
    wait_status,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL
FEE = Decimal("0.001")


def q8(value: Decimal) -> int:
    scaled = value * 100_000_000
    assert scaled == scaled.to_integral_value(), value
    return int(scaled)


@pytest.fixture
def ex() -> Iterator[ThreadedExchange]:
    with paper_exchange() as running:
        yield running


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return key_file(tmp_path)


def test_paper_fills_come_back_as_exact_order_status(ex: ThreadedExchange, keys: Path) -> None:
    with gateway(ex, keys) as h:
        # A market buy of 1.5 walks two ask levels: 1.0 at 2000, 0.5 at 2001.
        h.feed(request(1, BUY, OrderType.MARKET, "1.5"))
        filled = wait_status(h, 1, OrderState.FILLED)
        quote = Decimal("2000") * 1 + Decimal("2001") * Decimal("0.5")
        fee = (Decimal("1.0") * FEE) * 2000 + (Decimal("0.5") * FEE) * 2001  # ETH fee, in USDT
        assert (filled.filled_quantity, filled.remaining_quantity) == (q8(Decimal("1.5")), 0)
        assert filled.avg_fill_price == q8(quote) * 100_000_000 // q8(Decimal("1.5"))
        assert filled.fee == q8(fee) and filled.venue == VenueId.BINANCE
        assert filled.venue_order_id > 0 and filled.reject_reason == 0
        # A GTC limit buy of 3 at 2001 takes the 1.5 left at 2001 and rests the rest.
        h.feed(request(2, BUY, OrderType.LIMIT, "3", "2001"))
        part = wait_status(h, 2, OrderState.PARTIALLY_FILLED)
        assert (part.filled_quantity, part.remaining_quantity) == (q8(Decimal("1.5")),
                                                                   q8(Decimal("1.5")))
        assert part.avg_fill_price == q8(Decimal("2001"))
        # The book crosses the resting order: it fills as maker, reported by the user stream.
        load_book(ex, BIDS, [["2000.50", "1.5"], *ASKS[2:]])
        done = wait_status(h, 2, OrderState.FILLED)
        assert done.filled_quantity == q8(Decimal("3")) and done.remaining_quantity == 0
        assert done.avg_fill_price == q8(Decimal("2001"))  # the maker fills at its own price
        assert done.fee == q8(Decimal("3") * FEE * 2001)
        # Each state once, in order, though the REST answer and the user stream (NEW, TRADE
        # ...) both report the same fills, in either order.
        for order_id in (1, 2):
            seen = [(s.status, s.filled_quantity) for s in statuses(h, order_id)]
            assert seen == sorted(set(seen)) and seen[-1][0] == OrderState.FILLED
        assert [s.status for s in statuses(h, 2)].count(OrderState.PARTIALLY_FILLED) == 1
        # An IOC sell of 2 at 1999 fills the 1.5 bid and expires the rest.
        h.feed(request(3, SELL, OrderType.LIMIT, "2", "1999", TimeInForce.IOC))
        expired = wait_status(h, 3, OrderState.EXPIRED)
        assert expired.filled_quantity == q8(Decimal("1.5")) and expired.remaining_quantity == 0
        assert expired.fee == q8(Decimal("1.5") * 1999 * FEE)  # USDT received, fee in USDT
        h.assert_contract()


def test_a_venue_rejection_carries_binances_error_code(ex: ThreadedExchange, keys: Path) -> None:
    with gateway(ex, keys, max_order_notional="0", max_order_qty="*=0",
                 max_position="*=0") as h:
        before = order_calls(ex)
        h.feed(request(5, BUY, OrderType.LIMIT, "1000", "1990"))  # 1.99 M USDT: -2010 balance
        rejected = wait_status(h, 5, OrderState.REJECTED)
        assert rejected.reject_reason == OrderReject.VENUE_NEW_ORDER_REJECTED
        assert order_calls(ex) == before + 1
        assert h.metric("alphapulse_cex_gateway_events_total", event="binance_2010") == 1


def test_filters_and_risk_limits_refuse_before_anything_is_signed(ex: ThreadedExchange,
                                                                  keys: Path) -> None:
    with gateway(ex, keys, max_order_qty="ETHUSDT=2", max_order_notional="3000",
                 max_position="ETHUSDT=2.5") as h:
        cases = [
            (10, request(10, BUY, OrderType.LIMIT, "2.1", "100"), OrderReject.MAX_QUANTITY),
            (11, request(11, BUY, OrderType.LIMIT, "1.6", "2000"), OrderReject.MAX_NOTIONAL),
            (12, request(12, BUY, OrderType.MARKET, "1.6"), OrderReject.MAX_NOTIONAL),
            (13, request(13, BUY, OrderType.LIMIT, "0.00001", "2000"), OrderReject.LOT_SIZE),
            (14, request(14, BUY, OrderType.LIMIT, "1", "1990.001"), OrderReject.PRICE_FILTER),
            (15, request(15, BUY, OrderType.LIMIT, "0.001", "1990"), OrderReject.NOTIONAL),
            (16, request(16, BUY, OrderType.LIMIT, "1", "0"), OrderReject.BAD_PRICE),
            (17, request(17, BUY, OrderType.MARKET, "1", asset_id=12345),
             OrderReject.UNKNOWN_SYMBOL),
            (18, request(18, BUY, OrderType.MARKET, "1", venue=int(VenueId.COINBASE)),
             OrderReject.UNKNOWN_VENUE),
            (19, request(19, 7, OrderType.MARKET, "1"), OrderReject.BAD_SIDE),
        ]
        before = order_calls(ex)
        for _, req, _ in cases:
            h.feed(req)
        for order_id, _, reason in cases:
            assert wait_status(h, order_id, OrderState.REJECTED).reject_reason == reason
        assert order_calls(ex) == before
        # The position limit counts what open orders could still add: 1.4 resting + 1.2 > 2.5.
        h.feed(request(20, BUY, OrderType.LIMIT, "1.4", "1990"))
        assert wait_status(h, 20, OrderState.NEW).remaining_quantity == q8(Decimal("1.4"))
        h.feed(request(21, BUY, OrderType.LIMIT, "1.2", "1990"))
        assert wait_status(h, 21, OrderState.REJECTED).reject_reason == OrderReject.MAX_POSITION
        h.feed(request(22, SELL, OrderType.LIMIT, "1.2", "2100"))  # a sell reduces nothing
        wait_status(h, 22, OrderState.NEW)
        h.assert_contract()


def test_duplicate_order_ids_are_counted_and_never_sent_twice(ex: ThreadedExchange,
                                                              keys: Path) -> None:
    with gateway(ex, keys) as h:
        h.feed(request(30, BUY, OrderType.LIMIT, "0.5", "1990"))
        wait_status(h, 30, OrderState.NEW)
        calls = order_calls(ex)
        h.feed(request(30, BUY, OrderType.LIMIT, "0.5", "1990"))
        h.feed(request(31, BUY, OrderType.LIMIT, "0.5", "1990"))  # a later one is processed
        wait_status(h, 31, OrderState.NEW)
        assert order_calls(ex) == calls + 1
        assert [s.status for s in statuses(h, 30)] == [OrderState.NEW]
        assert h.metric("alphapulse_cex_gateway_events_total", event="duplicate") == 1


def test_an_emergency_stop_cancels_open_orders_and_refuses_new_ones(ex: ThreadedExchange,
                                                                    keys: Path) -> None:
    with gateway(ex, keys) as h:
        h.feed(request(40, BUY, OrderType.LIMIT, "1", "1990"))
        wait_status(h, 40, OrderState.NEW)
        load_book(ex, BIDS, [["1989.50", "0.4"], *ASKS])  # a partial maker fill first
        wait_status(h, 40, OrderState.PARTIALLY_FILLED)
        assert h.control(EmergencyStop(latched=1, reason="test", raised_by="operator",
                                       stop_id=9)) == b"OK 9"
        cancelled = wait_status(h, 40, OrderState.CANCELLED)
        assert (cancelled.filled_quantity, cancelled.remaining_quantity) == (q8(Decimal("0.4")), 0)
        calls = order_calls(ex)
        h.feed(request(41, BUY, OrderType.MARKET, "0.1"))
        assert wait_status(h, 41, OrderState.REJECTED).reject_reason == OrderReject.HALTED
        assert order_calls(ex) == calls
        assert h.control(EmergencyStop(latched=0, raised_by="operator")) == b"OK 9"
        h.feed(request(42, BUY, OrderType.MARKET, "0.1"))
        wait_status(h, 42, OrderState.FILLED)


def test_the_days_loss_stops_new_orders(ex: ThreadedExchange, keys: Path) -> None:
    with gateway(ex, keys, max_daily_loss="1") as h:
        # Buy 1 at 2000 and pay 0.001 ETH: marked at the mid 1999.5, a loss of 2.4995 USDT.
        h.feed(request(50, BUY, OrderType.MARKET, "1"))
        wait_status(h, 50, OrderState.FILLED)
        deadline_rejects = []
        for order_id in range(51, 200):
            h.feed(request(order_id, BUY, OrderType.LIMIT, "0.01", "1990"))
            status = h.wait_for(OrderStatus, where=lambda s, i=order_id: s.order_id == i)[0]
            if status.status == OrderState.REJECTED:
                deadline_rejects.append(status.reject_reason)
                break
        assert deadline_rejects == [OrderReject.DAILY_LOSS]
        assert h.metric("alphapulse_cex_gateway_daily_loss") == pytest.approx(2.4995)


def test_the_secret_never_reaches_a_log_line_or_a_frame(ex: ThreadedExchange, keys: Path) -> None:
    with gateway(ex, keys) as h:
        h.feed(request(60, BUY, OrderType.MARKET, "0.1"))
        wait_status(h, 60, OrderState.FILLED)
        h.feed(request(61, BUY, OrderType.LIMIT, "1", "0.5"))  # refused by a filter
        wait_status(h, 61, OrderState.REJECTED)
        frames = b"".join(d.raw for d in h.deliveries)
        h.stop()  # the log is complete once the node has stopped (its run dir goes at exit)
        log = h.log()
    assert "cex-gateway: paper mode" in log and "stopped" in log
    for leak in (SECRET, SECRET[:12]):
        assert leak not in log
        assert leak.encode() not in frames


def test_a_429_with_retry_after_backs_off_without_sending(ex: ThreadedExchange,
                                                          keys: Path) -> None:
    with gateway(ex, keys) as h:
        queue_rest(ex, Rest("/api/v3/ticker/bookTicker", "ETHUSDT",
                            {"code": -1003, "msg": "Too many requests."}, status=429,
                            headers={"Retry-After": "30"}))
        deadline = time.monotonic() + 10
        while h.metric("alphapulse_cex_gateway_rest_total", what="rate_limited") < 1:
            assert time.monotonic() < deadline, h.log()[-2000:]
            time.sleep(0.05)
        calls = order_calls(ex)
        h.feed(request(70, BUY, OrderType.MARKET, "0.1"))
        assert wait_status(h, 70, OrderState.REJECTED).reject_reason == OrderReject.RATE_LIMITED
        assert order_calls(ex) == calls  # backing off: nothing was sent
        assert h.metric("alphapulse_cex_gateway_rest_total", what="backoff_refusals") >= 1


def test_fills_made_while_the_user_stream_was_down_arrive_after_it_reconnects(
        ex: ThreadedExchange, keys: Path) -> None:
    with gateway(ex, keys) as h:
        h.feed(request(80, BUY, OrderType.LIMIT, "1", "1990"))
        wait_status(h, 80, OrderState.NEW)

        async def drop_user_stream_then_fill() -> None:
            await disconnect(ex.exchange.hub, "binance_user", abrupt=True)
            book = ex.exchange.market.book("ETHUSDT")  # the order fills while nobody listens
            assert book is not None
            book.load([(parse_q8(p), parse_q8(q)) for p, q in BIDS],
                      [(parse_q8("1989.50"), parse_q8("1.0"))], 2)
            ex.exchange.market.changed("ETHUSDT")
        ex.call(drop_user_stream_then_fill)
        done = wait_status(h, 80, OrderState.FILLED, timeout=20)
        assert done.filled_quantity == q8(Decimal("1")) and done.avg_fill_price == q8(Decimal("1990"))
        assert h.metric("alphapulse_cex_gateway_user_stream_total", what="disconnects") >= 1
        assert h.metric("alphapulse_cex_gateway_user_stream_total", what="connects") >= 2
