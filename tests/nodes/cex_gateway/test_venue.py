"""An order whose outcome is unknown (HTTP 5xx, timeout) is looked up before it is decided."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from aiohttp import web

from cex.binance.rest import UnknownOutcome
from cex.binance.signing import Credentials
from mesh.protocol.constants import OrderSide, OrderState, OrderType, TimeInForce
from nodes.cex_gateway import CexGatewayNode
from nodes.cex_gateway.orders import Order, Report
from nodes.cex_gateway.settings import parse_settings
from nodes.cex_gateway.venue import Halted, Venue

FILLED = {"symbol": "ETHUSDT", "orderId": 5, "clientOrderId": "ap-9", "status": "FILLED",
          "executedQty": "1.00000000", "cummulativeQuoteQty": "2000.00000000"}


def serve_and_place(query_answer: web.Response | None, *, halted: bool = False
                    ) -> tuple[Report | BaseException, list[str]]:
    """POST answers 503; GET answers ``query_answer``; return place()'s outcome and the calls."""
    calls: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/api/v3/time":
            return web.json_response({"serverTime": time.time_ns() // 1_000_000})
        calls.append(f"{request.method} {request.path}")
        if request.method == "POST":
            return web.Response(status=503, text="busy")
        assert query_answer is not None
        return query_answer

    async def main() -> Report | BaseException:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"127.0.0.1:{runner.addresses[0][1]}"
        given: dict[str, Any] = {"rest_url": f"http://{url}", "ws_url": f"ws://{url}",
                                 "symbols": "ETHUSDT"}
        s = parse_settings(CexGatewayNode.CONTRACT.resolve_settings(given, "gw"), environ={})
        venue = Venue(s, Credentials("k", b"s"), lambda *a: None, lambda: halted,
                      logging.getLogger("test"))
        await venue.rest.open(sync_time=False)
        order = Order(9, "ETHUSDT", "ETH", "USDT", OrderSide.BUY, OrderType.LIMIT, 10**8,
                      2000 * 10**8, "ap-9")
        try:
            return await venue.place(order, TimeInForce.GTC)
        except Exception as exc:
            return exc
        finally:
            await venue.rest.close()
            await runner.cleanup()

    return asyncio.run(main()), calls


def test_an_unknown_outcome_that_the_venue_knows_is_taken_from_the_query():
    outcome, calls = serve_and_place(web.json_response(FILLED))
    assert isinstance(outcome, Report) and outcome.status == OrderState.FILLED
    assert calls == ["POST /api/v3/order", "GET /api/v3/order"]


def test_an_unknown_outcome_the_venue_does_not_know_stays_the_original_error():
    outcome, _ = serve_and_place(web.json_response(
        {"code": -2013, "msg": "Order does not exist."}, status=400))
    assert isinstance(outcome, UnknownOutcome)


def test_a_halt_stops_the_order_before_any_request():
    outcome, calls = serve_and_place(None, halted=True)
    assert isinstance(outcome, Halted) and calls == []


@pytest.mark.parametrize("status", ["NEW", "PARTIALLY_FILLED", "CANCELED", "EXPIRED"])
def test_query_answers_of_every_state_parse(status: str) -> None:
    report = Report.from_rest({**FILLED, "status": status}, "ETH", "USDT")
    assert report.venue_order_id == 5
