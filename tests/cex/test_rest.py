"""The signed REST client against a tiny Binance-like aiohttp server written here.

The server checks what Binance checks, independently of the client's code: the API key
header, the HMAC-SHA256 of the raw query string, and ``timestamp`` inside ``recvWindow`` of its
own clock (which runs ahead of the test's by ``skew_ms``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from cex.binance.rest import (
    BinanceError,
    BinanceRest,
    RateLimited,
    UnknownOutcome,
    VenueTimeout,
    VenueUnreachable,
)
from cex.binance.signing import Credentials, order_params

KEY, SECRET = "test-key", b"test-secret"


class FakeBinance:
    """A few Binance endpoints with Binance's checks; ``script`` overrides answers per path."""

    def __init__(self, skew_ms: int = 0) -> None:
        self.skew_ms = skew_ms
        self.seen: list[tuple[str, str, str]] = []  # (method, path, raw query)
        self.script: dict[str, list[Callable[[], web.Response]]] = {}
        self.delay_s = 0.0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.skew_ms

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        raw = request.query_string
        self.seen.append((request.method, request.path, raw))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        queued = self.script.get(f"{request.method} {request.path}")
        if queued:
            return queued.pop(0)()
        if request.path == "/api/v3/time":
            return web.json_response({"serverTime": self.now_ms()})
        if request.path == "/api/v3/userDataStream":
            if request.headers.get("X-MBX-APIKEY") != KEY:
                return error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            return web.json_response({"listenKey": "lk1"} if request.method == "POST" else {})
        return self.signed(request, raw)

    def signed(self, request: web.Request, raw: str) -> web.Response:
        if request.headers.get("X-MBX-APIKEY") != KEY:
            return error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        total, sep, signature = raw.rpartition("&signature=")
        if not sep or hmac.new(SECRET, total.encode(), hashlib.sha256).hexdigest() != signature:
            return error(-1022, "Signature for this request is not valid.", 400)
        q = request.query
        window, ts, now = int(q.get("recvWindow", "5000")), int(q["timestamp"]), self.now_ms()
        if not (ts < now + 1000 and now - ts <= window):
            return error(-1021, "Timestamp for this request is outside of the recvWindow.", 400)
        if request.path == "/api/v3/order" and request.method == "POST":
            return web.json_response({
                "symbol": q["symbol"], "orderId": 7, "clientOrderId": q["newClientOrderId"],
                "status": "FILLED", "executedQty": q["quantity"], "fills": []})
        return web.json_response({"ok": True})


def error(code: int, msg: str, status: int) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def run(fake: FakeBinance, body: Callable[[BinanceRest], Awaitable[Any]], **kwargs: Any) -> Any:
    """Serve ``fake`` on a free loopback port, run ``body(client)``, tear both down."""
    async def main() -> Any:
        runner = web.AppRunner(fake.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with BinanceRest(f"http://127.0.0.1:{port}", Credentials(KEY, SECRET),
                                   **kwargs) as client:
                return await body(client)
        finally:
            await runner.cleanup()
    return asyncio.run(main())


LIMIT = order_params(symbol="ETHUSDT", side="BUY", order_type="LIMIT", time_in_force="GTC",
                     quantity_q8=150_000_000, price_q8=200_012_000_000, client_id="ap-1")


def test_new_order_is_signed_as_the_server_verifies_it():
    fake = FakeBinance()
    answer = run(fake, lambda c: c.new_order(LIMIT))
    assert answer["clientOrderId"] == "ap-1" and answer["executedQty"] == "1.5"
    method, path, raw = fake.seen[-1]
    assert (method, path) == ("POST", "/api/v3/order")
    assert raw.startswith("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1.5"
                          "&price=2000.12&newClientOrderId=ap-1&newOrderRespType=FULL"
                          "&recvWindow=5000&timestamp=")


def test_clock_offset_keeps_timestamps_inside_the_recv_window():
    fake = FakeBinance(skew_ms=-30_000)  # the server's clock is 30 s behind ours

    async def body(c: BinanceRest) -> int:
        await c.query_order("ETHUSDT", "ap-1")
        return c.offset_ms

    offset = run(fake, body)
    assert -31_000 < offset < -29_000
    assert [p for _, p, _ in fake.seen] == ["/api/v3/time", "/api/v3/order"]


def test_timestamp_outside_window_resyncs_the_clock_and_tries_once_more():
    fake = FakeBinance()

    async def body(c: BinanceRest) -> dict[str, Any]:
        fake.skew_ms = 20_000  # the server jumps ahead after our first sync
        return await c.query_order("ETHUSDT", "ap-1")

    assert run(fake, body) == {"ok": True}
    assert [p for _, p, _ in fake.seen] == ["/api/v3/time", "/api/v3/order", "/api/v3/time",
                                            "/api/v3/order"]


def test_binance_error_json_becomes_a_typed_error_with_code_and_msg():
    fake = FakeBinance()
    fake.script["POST /api/v3/order"] = [
        lambda: error(-1013, "Filter failure: LOT_SIZE", 400)]

    async def body(c: BinanceRest) -> BinanceError:
        with pytest.raises(BinanceError) as info:
            await c.new_order(LIMIT)
        assert c.stats.codes[-1013] == 1
        return info.value

    exc = run(fake, body)
    assert (exc.code, exc.msg, exc.status) == (-1013, "Filter failure: LOT_SIZE", 400)
    assert exc.kind == "binance_error"


def test_a_wrong_secret_is_refused_by_the_server_signature_check():
    fake = FakeBinance()

    async def main() -> None:
        runner = web.AppRunner(fake.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            async with BinanceRest(f"http://127.0.0.1:{runner.addresses[0][1]}",
                                   Credentials(KEY, b"wrong")) as client:
                with pytest.raises(BinanceError) as info:
                    await client.new_order(LIMIT)
                assert info.value.code == -1022
        finally:
            await runner.cleanup()
    asyncio.run(main())


def test_429_with_retry_after_backs_off_that_long_then_retries():
    fake = FakeBinance()
    fake.script["GET /api/v3/account"] = [
        lambda: web.json_response({"code": -1003, "msg": "Too many requests."}, status=429,
                                  headers={"Retry-After": "1"})]

    async def body(c: BinanceRest) -> tuple[float, Any]:
        start = time.monotonic()
        doc = await c.account()
        return time.monotonic() - start, doc

    elapsed, doc = run(fake, body)
    assert doc == {"ok": True}
    assert elapsed >= 0.95
    assert [p for _, p, _ in fake.seen].count("/api/v3/account") == 2


def test_418_with_a_long_retry_after_refuses_unsent_until_it_has_passed():
    fake = FakeBinance()
    fake.script["POST /api/v3/order"] = [
        lambda: web.json_response({"code": -1003, "msg": "Way too many requests; IP banned."},
                                  status=418, headers={"Retry-After": "120"})]

    async def body(c: BinanceRest) -> BinanceRest:
        with pytest.raises(RateLimited) as first:
            await c.new_order(LIMIT)
        assert (first.value.status, first.value.retry_after_s) == (418, 120.0)
        with pytest.raises(RateLimited):
            await c.query_order("ETHUSDT", "ap-1")  # refused without a request
        return c

    client = run(fake, body, max_wait_s=2.0)
    assert [p for _, p, _ in fake.seen].count("/api/v3/order") == 1
    assert client.stats.rate_limited == 1 and client.stats.backoff_refusals == 1


def test_server_errors_and_timeouts_leave_the_outcome_unknown():
    fake = FakeBinance()
    fake.script["POST /api/v3/order"] = [lambda: web.Response(status=503, text="busy")]

    async def body(c: BinanceRest) -> None:
        with pytest.raises(UnknownOutcome):
            await c.new_order(LIMIT)
        fake.delay_s = 1.0
        with pytest.raises(VenueTimeout):
            await c.new_order(LIMIT)
        assert c.stats.errors["timeout"] == 1

    run(fake, body, timeout_s=0.3)


def test_listen_key_create_keepalive_close_send_the_api_key_unsigned():
    fake = FakeBinance()

    async def body(c: BinanceRest) -> str:
        key = await c.new_listen_key()
        await c.keepalive_listen_key(key)
        await c.close_listen_key(key)
        return key

    assert run(fake, body) == "lk1"
    calls = [(m, raw) for m, p, raw in fake.seen if p == "/api/v3/userDataStream"]
    assert calls == [("POST", ""), ("PUT", "listenKey=lk1"), ("DELETE", "listenKey=lk1")]


def test_an_unreachable_venue_is_a_typed_error():
    async def main() -> None:
        client = BinanceRest("http://127.0.0.1:9", Credentials(KEY, SECRET), timeout_s=2)
        try:
            await client.open()  # the clock sync is the first request
        finally:
            await client.close()
    with pytest.raises(VenueUnreachable):
        asyncio.run(main())


def test_repr_of_the_client_shows_no_secret():
    client = BinanceRest("http://x", Credentials("abcdefgh-key", b"the-secret"))
    assert "the-secret" not in repr(client) and "abcdefgh-key" not in repr(client)


def test_a_guard_that_raises_stops_the_order_before_it_is_signed_or_sent():
    fake = FakeBinance()

    class Stop(Exception):
        pass

    def halted() -> None:
        raise Stop

    async def body(c: BinanceRest) -> None:
        with pytest.raises(Stop):
            await c.new_order(LIMIT, guard=halted)
        assert c.stats.requests["POST /api/v3/order"] == 0

    run(fake, body)
    assert [p for _, p, _ in fake.seen] == ["/api/v3/time"]
