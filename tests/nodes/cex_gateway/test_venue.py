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


MISSING = {"code": -2013, "msg": "Order does not exist."}
RECV_WINDOW_MS = 300


Answer = tuple[dict[str, Any], int]
"""A JSON body and its HTTP status (a fresh response is built for every request)."""


def serve_and_place(query_answer: Answer | None, *, halted: bool = False,
                    later: Answer | None = None, found_after: int = 1,
                    ) -> tuple[Report | BaseException, list[str]]:
    """POST answers 503; GET answers ``query_answer`` (``later`` from the ``found_after``-th
    look-up on); return place()'s outcome and the calls."""
    calls: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/api/v3/time":
            return web.json_response({"serverTime": time.time_ns() // 1_000_000})
        calls.append(f"{request.method} {request.path}")
        if request.method == "POST":
            return web.Response(status=503, text="busy")
        assert query_answer is not None
        looked = sum(c.startswith("GET") for c in calls)
        body, status = later if later is not None and looked >= found_after else query_answer
        return web.json_response(body, status=status)

    async def main() -> Report | BaseException:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"127.0.0.1:{runner.addresses[0][1]}"
        given: dict[str, Any] = {"rest_url": f"http://{url}", "ws_url": f"ws://{url}",
                                 "symbols": "ETHUSDT", "recv_window_ms": RECV_WINDOW_MS}
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
    outcome, calls = serve_and_place((FILLED, 200))
    assert isinstance(outcome, Report) and outcome.status == OrderState.FILLED
    assert calls == ["POST /api/v3/order", "GET /api/v3/order"]


def test_an_unknown_outcome_the_venue_does_not_know_stays_the_original_error():
    started = time.monotonic()
    outcome, calls = serve_and_place((MISSING, 400))
    assert isinstance(outcome, UnknownOutcome)
    # asked again until the request's recvWindow (and a margin) had passed: it can no longer land
    assert RECV_WINDOW_MS / 1000 + 1.0 <= time.monotonic() - started < 8
    assert calls.count("GET /api/v3/order") >= 3  # every 0.5 s until the window had passed


def test_an_order_that_lands_after_a_first_no_such_order_is_found():
    outcome, calls = serve_and_place((MISSING, 400), later=(FILLED, 200),
                                     found_after=2)
    assert isinstance(outcome, Report) and outcome.status == OrderState.FILLED
    assert calls.count("GET /api/v3/order") == 2  # missing once, then there


def test_a_halt_stops_the_order_before_any_request():
    outcome, calls = serve_and_place(None, halted=True)
    assert isinstance(outcome, Halted) and calls == []


@pytest.mark.parametrize("status", ["NEW", "PARTIALLY_FILLED", "CANCELED", "EXPIRED"])
def test_query_answers_of_every_state_parse(status: str) -> None:
    report = Report.from_rest({**FILLED, "status": status}, "ETH", "USDT")
    assert report.venue_order_id == 5
