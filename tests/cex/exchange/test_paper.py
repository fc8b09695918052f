"""Paper exchange: signed endpoints as Binance documents them, matching, balances, user data."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.sync.client import connect

from cex.exchange import serve_in_thread
from cex.exchange.paper.auth import sign, total_params
from cex.exchange.threaded import ThreadedExchange
from cex.fixed import parse_q8
from tests.cex.exchange.paper_client import KEYS, OTHER_KEY, OTHER_SECRET, PaperClient

# Binance's documented HMAC example (spot API docs, "SIGNED endpoint examples for POST
# /api/v3/order"): the secret, the total params, and the signature they give.
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"

ASKS = [["2000.00", "1.0"], ["2001.00", "2.0"], ["2005.00", "5.0"]]
BIDS = [["1999.00", "1.5"], ["1998.00", "3.0"]]
FEE = Decimal("0.001")


def test_signature_matches_binances_documented_examples() -> None:
    payload, signature = total_params(DOC_QUERY + "&signature=" + DOC_SIGNATURE, "")
    assert payload == DOC_QUERY and signature == DOC_SIGNATURE
    assert sign(DOC_SECRET, payload) == DOC_SIGNATURE
    query, body = DOC_QUERY[:49], DOC_QUERY[50:]  # "...timeInForce=GTC" | "quantity=1..."
    assert query.endswith("GTC") and body.startswith("quantity")
    payload, signature = total_params(query, body + "&signature=" + DOC_MIXED_SIGNATURE)
    assert sign(DOC_SECRET, payload) == DOC_MIXED_SIGNATURE == signature


@pytest.fixture
def ex() -> Iterator[ThreadedExchange]:
    with serve_in_thread(keys=KEYS) as running:
        load_book(running, "ETHUSDT", BIDS, ASKS)
        yield running


def load_book(ex: ThreadedExchange, symbol: str, bids: list[list[str]], asks: list[list[str]]) -> None:
    async def load() -> None:
        book = ex.exchange.market.book(symbol)
        assert book is not None
        book.load([(parse_q8(p), parse_q8(q)) for p, q in bids],
                  [(parse_q8(p), parse_q8(q)) for p, q in asks], 1)
        ex.exchange.market.changed(symbol)
    ex.call(load)


def q8(value: Decimal) -> str:
    return f"{value:.8f}"


def test_the_server_verifies_signatures_in_the_query_or_the_body(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    ok = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "1000"}
    assert client.order(**ok)[0] == 200
    status, answer = client.request("POST", "/api/v3/order", {"symbol": "ETHUSDT"}, body=ok)
    assert status == 200 and answer["status"] == "NEW"
    status, answer = client.request("POST", "/api/v3/order", {"symbol": "ETHUSDT", **ok}, secret="wrong")
    assert (status, answer) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})


@pytest.mark.parametrize(("kwargs", "params", "code", "msg"), [
    ({"key": "nobody"}, {}, -2015, "Invalid API-key, IP, or permissions for action."),
    ({"key": ""}, {}, -2014, "API-key format invalid."),
    ({"timestamp": 1}, {}, -1021, "Timestamp for this request is outside of the recvWindow."),
    ({"timestamp": time.time_ns() // 1_000_000 + 3_600_000}, {}, -1021,
     "Timestamp for this request was 1000ms ahead of the server's time."),
    ({}, {"recvWindow": "60001"}, -1131, "recvWindow must be less than 60000"),
    ({}, {"symbol": "DOGEUSDT"}, -1121, "Invalid symbol."),
    ({}, {"quantity": "0.00001"}, -1013, "Filter failure: LOT_SIZE"),
    ({}, {"price": "1000.001"}, -1013, "Filter failure: PRICE_FILTER"),
    ({}, {"quantity": "0.001"}, -1013, "Filter failure: MIN_NOTIONAL"),
    ({}, {"quantity": "1.000000001"}, -1111, "Precision is over the maximum defined for this asset."),
    ({}, {"price": "1e3"}, -1100, None),
    ({}, {"timeInForce": "GTX"}, -1115, "Invalid timeInForce."),
    ({}, {"quantity": "2000"}, -2010, "Account has insufficient balance for requested action."),
])
def test_each_rejection_has_binances_code_and_message(ex: ThreadedExchange, kwargs: dict[str, Any],
                                                      params: dict[str, str], code: int, msg: str | None) -> None:
    order = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.01", "price": "1000", **params}
    status, answer = PaperClient(ex.http_url).request("POST", "/api/v3/order", order, **kwargs)
    assert status in (400, 401) and answer["code"] == code
    if msg is not None:
        assert answer["msg"] == msg


def test_a_recent_timestamp_inside_a_wide_recv_window_is_accepted(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    stamp = time.time_ns() // 1_000_000 - 30_000
    status, _ = client.request("GET", "/api/v3/account", {"recvWindow": "60000"}, timestamp=stamp)
    assert status == 200
    status, answer = client.request("GET", "/api/v3/account", timestamp=stamp)
    assert answer["code"] == -1021


def test_limit_gtc_walks_levels_rests_the_rest_and_balances_are_exact(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    status, answer = client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="4",
                                  price="2001", newClientOrderId="mine1")
    assert status == 200 and answer["status"] == "PARTIALLY_FILLED"
    assert answer["clientOrderId"] == "mine1"
    assert [(f["price"], f["qty"], f["commission"], f["commissionAsset"]) for f in answer["fills"]] == [
        ("2000.00000000", "1.00000000", "0.00100000", "ETH"),
        ("2001.00000000", "2.00000000", "0.00200000", "ETH")]
    assert answer["executedQty"] == "3.00000000" and answer["cummulativeQuoteQty"] == "6002.00000000"
    bal = client.balances()
    assert bal["ETH"] == (q8(Decimal(1000) + 3 - 3 * FEE), q8(Decimal(0)))
    assert bal["USDT"] == (q8(Decimal(1_000_000) - 6002 - 2001), q8(Decimal(2001)))
    status, open_orders = client.request("GET", "/api/v3/openOrders", {"symbol": "ETHUSDT"})
    assert [o["orderId"] for o in open_orders] == [answer["orderId"]]


def test_a_resting_order_fills_as_maker_when_the_book_crosses_it(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    _, answer = client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="1990")
    assert answer["status"] == "NEW" and answer["fills"] == []
    load_book(ex, "ETHUSDT", BIDS, [["1989.50", "0.4"], *ASKS])
    status, order = client.request("GET", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": answer["orderId"]})
    assert order["status"] == "PARTIALLY_FILLED" and order["executedQty"] == "0.40000000"
    assert order["cummulativeQuoteQty"] == q8(Decimal("1990") * Decimal("0.4"))
    bal = client.balances()
    assert bal["USDT"] == (q8(Decimal(1_000_000) - 1990), q8(Decimal(1990) - Decimal("796")))
    assert bal["ETH"][0] == q8(Decimal(1000) + Decimal("0.4") * (1 - FEE))
    status, cancel = client.request("DELETE", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": answer["orderId"]})
    assert status == 200 and cancel["status"] == "CANCELED"
    assert client.balances()["USDT"] == (q8(Decimal(1_000_000) - 796), q8(Decimal(0)))
    status, again = client.request("DELETE", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": answer["orderId"]})
    assert again == {"code": -2011, "msg": "Unknown order sent."}


def test_ioc_fills_what_it_can_and_expires_the_rest(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    _, answer = client.order(side="SELL", type="LIMIT", timeInForce="IOC", quantity="2", price="1999")
    assert answer["status"] == "EXPIRED" and answer["executedQty"] == "1.50000000"
    bal = client.balances()
    assert bal["ETH"] == (q8(Decimal(1000) - Decimal("1.5")), q8(Decimal(0)))
    assert bal["USDT"][0] == q8(Decimal(1_000_000) + Decimal("2998.5") * (1 - FEE))


def test_fok_fills_everything_or_nothing(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    before = client.balances()
    _, answer = client.order(side="BUY", type="LIMIT", timeInForce="FOK", quantity="3.5", price="2001")
    assert answer["status"] == "EXPIRED" and answer["fills"] == [] and client.balances() == before
    _, answer = client.order(side="BUY", type="LIMIT", timeInForce="FOK", quantity="3", price="2001")
    assert answer["status"] == "FILLED" and answer["executedQty"] == "3.00000000"


def test_market_by_quote_order_qty_spends_at_most_the_amount_in_whole_steps(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    _, answer = client.order(side="BUY", type="MARKET", quoteOrderQty="3000")
    # 1.0 at 2000 (2000 USDT), then the 1000 USDT left buy 0.4997 at 2001 (whole 0.0001 steps)
    second = (Decimal(1000) / Decimal(2001)).quantize(Decimal("0.0001"), rounding="ROUND_DOWN")
    assert answer["status"] == "FILLED" and answer["origQuoteOrderQty"] == "3000.00000000"
    assert [f["qty"] for f in answer["fills"]] == ["1.00000000", q8(second)]
    spent = 2000 + second * 2001
    assert answer["cummulativeQuoteQty"] == q8(spent) and answer["origQty"] == q8(1 + second)
    assert client.balances()["USDT"][0] == q8(Decimal(1_000_000) - spent)


def test_market_sell_by_quantity_and_an_empty_side_expires(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    _, answer = client.order(side="SELL", type="MARKET", quantity="5")
    assert answer["status"] == "EXPIRED" and answer["executedQty"] == "4.50000000"
    _, answer = client.order(side="SELL", type="MARKET", quantity="1")
    assert answer["status"] == "EXPIRED" and answer["executedQty"] == "0.00000000"


def test_response_types_and_queries(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    _, ack = client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="1000",
                          newOrderRespType="ACK", newClientOrderId="ack1")
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    _, result = client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="1000",
                             newOrderRespType="RESULT")
    assert "fills" not in result and result["status"] == "NEW"
    _, dup = client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="1000",
                          newClientOrderId="ack1")
    assert dup == {"code": -2010, "msg": "Duplicate order sent."}
    _, found = client.request("GET", "/api/v3/order", {"symbol": "ETHUSDT", "origClientOrderId": "ack1"})
    assert found["orderId"] == ack["orderId"] and found["status"] == "NEW"
    _, missing = client.request("GET", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": "999"})
    assert missing == {"code": -2013, "msg": "Order does not exist."}
    other = PaperClient(ex.http_url, OTHER_KEY, OTHER_SECRET)
    _, theirs = other.request("GET", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": ack["orderId"]})
    assert theirs["code"] == -2013  # accounts are separate


def test_exchange_info_lists_the_filters_of_the_configured_symbols(ex: ThreadedExchange) -> None:
    status, info = PaperClient(ex.http_url).request("GET", "/api/v3/exchangeInfo", {"symbol": "ETHUSDT"}, signed=False)
    assert status == 200
    (sym,) = info["symbols"]
    filters = {f["filterType"]: f for f in sym["filters"]}
    assert filters["LOT_SIZE"]["stepSize"] == "0.00010000"
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["MIN_NOTIONAL"]["minNotional"] == "5.00000000"
    status, bad = PaperClient(ex.http_url).request("GET", "/api/v3/exchangeInfo", {"symbol": "NOPE"}, signed=False)
    assert (status, bad["code"]) == (400, -1121)


def test_user_data_stream_gets_execution_reports_then_the_account_position_in_order(ex: ThreadedExchange) -> None:
    client = PaperClient(ex.http_url)
    status, created = client.request("POST", "/api/v3/userDataStream", signed=False)
    assert status == 200 and len(created["listenKey"]) == 60
    listen_key = created["listenKey"]
    assert client.request("POST", "/api/v3/userDataStream", signed=False)[1] == created
    with connect(f"{ex.ws_url}/ws/{listen_key}") as ws:
        deadline = time.monotonic() + 5
        while ex.stats.snapshot()["connections"].get("binance_user", 0) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        _, answer = client.order(side="BUY", type="LIMIT", timeInForce="IOC", quantity="2", price="2000",
                                 newClientOrderId="ud1")
        events = [json.loads(ws.recv(timeout=5)) for _ in range(4)]
    assert [(e["e"], e.get("x"), e.get("X")) for e in events] == [
        ("executionReport", "NEW", "NEW"), ("executionReport", "TRADE", "PARTIALLY_FILLED"),
        ("executionReport", "EXPIRED", "EXPIRED"), ("outboundAccountPosition", None, None)]
    trade = events[1]
    assert (trade["i"], trade["c"], trade["l"], trade["z"], trade["L"], trade["n"], trade["N"]) == (
        answer["orderId"], "ud1", "1.00000000", "1.00000000", "2000.00000000", "0.00100000", "ETH")
    assert trade["t"] == answer["fills"][0]["tradeId"] and trade["m"] is False
    assert {b["a"]: b["f"] for b in events[3]["B"]} == {
        "ETH": q8(Decimal(1000) + 1 - FEE), "USDT": q8(Decimal(1_000_000) - 2000)}
    assert client.request("PUT", "/api/v3/userDataStream", {"listenKey": listen_key}, signed=False)[1] == {}
    assert client.request("PUT", "/api/v3/userDataStream", {"listenKey": "x" * 60}, signed=False)[1]["code"] == -1125
    assert client.request("DELETE", "/api/v3/userDataStream", {"listenKey": listen_key}, signed=False)[1] == {}


def test_paper_orders_fill_against_the_replayed_book(tmp_path: Any) -> None:
    snapshot = {"lastUpdateId": 10, "bids": [["1999.00", "1.0"]], "asks": [["2000.00", "1.0"]]}
    update = {"stream": "ethusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1, "s": "ETHUSDT", "U": 11, "u": 12,
        "b": [["1999.00", "0"], ["1998.50", "2.0"]], "a": [["2000.00", "0.25"]]}}
    script = tmp_path / "s.jsonl"
    script.write_text("\n".join(json.dumps(step) for step in [
        {"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT", "json": snapshot}},
        {"wait_rest": {"path": "/api/v3/depth", "count": 1}},
        {"send": {"venue": "binance", "json": update}},
    ]) + "\n")
    with serve_in_thread(script=script, keys=KEYS) as ex:
        client = PaperClient(ex.http_url)
        assert client.request("GET", "/api/v3/depth", {"symbol": "ETHUSDT"}, signed=False)[1] == snapshot
        assert ex.script_done.wait(5)
        _, ticker = client.request("GET", "/api/v3/ticker/bookTicker", {"symbol": "ETHUSDT"}, signed=False)
        assert ticker == {"symbol": "ETHUSDT", "bidPrice": "1998.50000000", "bidQty": "2.00000000",
                          "askPrice": "2000.00000000", "askQty": "0.25000000"}
        _, answer = client.order(side="SELL", type="MARKET", quantity="0.5")
        assert answer["status"] == "FILLED" and answer["fills"][0]["price"] == "1998.50000000"
