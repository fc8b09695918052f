"""Replay mode: script steps, Binance and Coinbase subscriptions, scripted REST answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import orjson
import pytest
import websockets
from websockets.asyncio.client import connect

from cex.exchange import LocalExchange, ScriptError, load_script, serve_in_thread

TRADE = {"stream": "ethusdt@trade", "data": {"e": "trade", "s": "ETHUSDT", "t": 1, "p": "1.5"}}
TICKER = {"stream": "btcusdt@bookTicker", "data": {"u": 7, "s": "BTCUSDT", "b": "2", "B": "1"}}


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def recv_json(ws: Any, timeout: float = 5.0) -> Any:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_combined_stream_gets_only_its_streams_wrapped_and_raw_gets_the_payload() -> None:
    script = [{"wait_clients": {"venue": "binance", "count": 2}},
              {"send": {"venue": "binance", "json": TICKER}},
              {"send": {"venue": "binance", "json": TRADE}}]

    async def main() -> None:
        async with LocalExchange(script=script) as ex:
            async with connect(f"{ex.ws_url}/stream?streams=ethusdt@trade/ethusdt@depth@100ms") as combined, \
                    connect(f"{ex.ws_url}/ws/ethusdt@trade") as raw:
                assert await recv_json(combined) == TRADE
                assert await recv_json(raw) == TRADE["data"]
                await asyncio.wait_for(ex.script_done.wait(), 5)
            assert ex.stats.sent["binance"] == 2
            assert ex.stats.connects["binance"] == 2

    run(main())


def test_subscribe_unsubscribe_and_list_answer_as_binance_documents() -> None:
    async def main() -> None:
        async with LocalExchange() as ex, connect(f"{ex.ws_url}/ws") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade", "btcusdt@bookTicker"], "id": 1}))
            assert await recv_json(ws) == {"result": None, "id": 1}
            await ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@trade"], "id": 2}))
            assert await recv_json(ws) == {"result": None, "id": 2}
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
            assert await recv_json(ws) == {"result": ["btcusdt@bookTicker"], "id": 3}
            await ws.send(json.dumps({"method": "NOPE", "id": 4}))
            answer = await recv_json(ws)
            assert answer["code"] == 2 and answer["id"] == 4
            assert answer["msg"].startswith("Invalid request")
            await ws.send("{not json")
            assert (await recv_json(ws))["code"] == 3

    run(main())


def test_subscribed_stream_is_delivered_raw_on_a_ws_connection() -> None:
    async def main() -> None:
        async with LocalExchange() as ex, connect(f"{ex.ws_url}/ws") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 1}))
            await recv_json(ws)
            from cex.exchange.replay import send
            from cex.exchange.script import Send
            assert await send(ex.hub, Send("binance", json=TRADE)) == 0
            assert await send(ex.hub, Send("binance", json=TICKER)) == 1
            assert await recv_json(ws) == TICKER["data"]

    run(main())


def test_more_than_1024_streams_closes_the_connection() -> None:
    async def main() -> None:
        async with LocalExchange() as ex:
            names = "/".join(f"s{i}usdt@trade" for i in range(1025))
            async with connect(f"{ex.ws_url}/stream?streams={names}", max_size=None) as ws:
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
            names = "/".join(f"s{i}usdt@trade" for i in range(1024))
            async with connect(f"{ex.ws_url}/stream?streams={names}") as ws:
                await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["extra@trade"], "id": 1}))
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
            assert ex.stats.closed_by_server["max_streams"] == 2

    run(main())


def test_six_messages_in_a_second_closes_the_connection_five_do_not() -> None:
    async def main() -> None:
        async with LocalExchange() as ex:
            async with connect(f"{ex.ws_url}/ws") as ws:
                for i in range(5):
                    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
                    assert (await recv_json(ws))["id"] == i
            async with connect(f"{ex.ws_url}/ws") as ws:
                for i in range(6):
                    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await recv_json(ws)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert ex.stats.closed_by_server["rate_limit"] == 1

    run(main())


def test_server_pings_and_closes_a_client_that_never_pongs() -> None:
    from cex.exchange import WsLimits

    async def main() -> None:
        limits = WsLimits(ping_interval=0.05, pong_timeout=0.2, max_incoming=None)
        async with LocalExchange(limits=limits) as ex:
            async with connect(f"{ex.ws_url}/ws/ethusdt@trade") as ws:  # answers pings
                await asyncio.sleep(0.5)
                assert ws.state is websockets.State.OPEN
            session = aiohttp.ClientSession()
            try:
                ws2 = await session.ws_connect(f"{ex.ws_url}/ws/ethusdt@trade", autoping=False)
                pings = 0
                while True:
                    msg = await asyncio.wait_for(ws2.receive(), 5)
                    if msg.type != aiohttp.WSMsgType.PING:
                        break
                    pings += 1
                assert pings >= 1 and msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            finally:
                await session.close()
            assert ex.stats.closed_by_server["pong_timeout"] == 1

    run(main())


def test_coinbase_subscriptions_filter_and_sequence_numbers_count_per_connection() -> None:
    l2 = {"channel": "l2_data", "timestamp": "2023-02-09T20:32:50.714964855Z",
          "events": [{"type": "update", "product_id": "ETH-USD", "updates": []}]}
    btc = {**l2, "events": [{"type": "update", "product_id": "BTC-USD", "updates": []}]}
    script = [{"wait_clients": {"venue": "coinbase", "count": 1}},
              {"send": {"venue": "coinbase", "json": btc}},
              {"send": {"venue": "coinbase", "json": l2}},
              {"send": {"venue": "coinbase", "json": {**l2, "sequence_num": 10}}},
              {"send": {"venue": "coinbase", "json": l2}},
              {"send": {"venue": "coinbase", "text": "{not json"}}]

    async def main() -> None:
        async with LocalExchange(script=script) as ex, connect(ex.coinbase_url) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channel": "level2", "product_ids": ["ETH-USD"]}))
            subs = await recv_json(ws)
            assert subs["channel"] == "subscriptions" and subs["sequence_num"] == 0
            assert subs["events"] == [{"subscriptions": {"level2": ["ETH-USD"]}}]
            got = [await recv_json(ws) for _ in range(3)]
            assert [m["sequence_num"] for m in got] == [1, 10, 11]
            assert all(m["events"][0]["product_id"] == "ETH-USD" for m in got)
            assert await asyncio.wait_for(ws.recv(), 5) == "{not json"

    run(main())


def test_scripted_rest_answers_are_fifo_then_repeat_and_wait_rest_counts() -> None:
    snap1 = {"lastUpdateId": 1, "bids": [], "asks": []}
    snap2 = {"lastUpdateId": 2, "bids": [], "asks": []}
    script = [{"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT", "json": snap1}},
              {"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT", "json": snap2}},
              {"wait_rest": {"path": "/api/v3/depth", "count": 4}},
              {"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT", "json": snap1,
                        "status": 429, "headers": {"Retry-After": "1"}}}]

    async def main() -> None:
        async with LocalExchange(script=script) as ex, aiohttp.ClientSession() as http:
            url = f"{ex.http_url}/api/v3/depth"
            async with http.get(url, params={"symbol": "BTCUSDT"}) as r:
                assert r.status == 400 and (await r.json())["code"] == -1121
            answers = []
            for _ in range(3):
                async with http.get(url, params={"symbol": "ETHUSDT", "limit": "5000"}) as r:
                    answers.append(await r.json())
            assert answers == [snap1, snap2, snap2]
            await asyncio.wait_for(ex.script_done.wait(), 5)
            async with http.get(url, params={"symbol": "ETHUSDT"}) as r:
                assert r.status == 429 and r.headers["Retry-After"] == "1"
            assert ex.stats.rest["/api/v3/depth"] == 5

    run(main())


def test_disconnect_closes_clients_cleanly_or_abruptly() -> None:
    script = [{"wait_clients": {"venue": "binance", "count": 1}},
              {"disconnect": {"venue": "binance", "abrupt": False}},
              {"wait_clients": {"venue": "binance", "count": 1}},
              {"disconnect": {"venue": "binance", "abrupt": True}}]

    async def main() -> None:
        async with LocalExchange(script=script) as ex:
            async with connect(f"{ex.ws_url}/ws/ethusdt@trade") as ws:
                with pytest.raises(websockets.ConnectionClosedOK):
                    await asyncio.wait_for(ws.recv(), 5)
            async with connect(f"{ex.ws_url}/ws/ethusdt@trade") as ws:
                with pytest.raises(websockets.ConnectionClosedError) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is None  # no close frame came
            await asyncio.wait_for(ex.script_done.wait(), 5)

    run(main())


def test_serve_in_thread_runs_a_script_file_for_synchronous_code(tmp_path: Any) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('# comment\n{"sleep_ms": 1}\n\n{"rest": {"path": "/api/v3/depth", "json": {}}}\n')
    with serve_in_thread(script=path) as ex:
        assert ex.script_done.wait(5)
        assert ex.http_url == f"http://127.0.0.1:{ex.port}"
        assert ex.coinbase_url.endswith("/coinbase")


@pytest.mark.parametrize("line", [
    '{"bogus": {}}', '{"send": {"venue": "kraken", "json": {}}}', '{"send": {"venue": "binance"}}',
    '{"wait_clients": {"venue": "binance", "count": -1}}', '{"sleep_ms": "5"}', "{not json",
    '{"rest": {"path": "api", "json": {}}}', '{"disconnect": {"venue": "coinbase", "abrupt": 1}}',
])
def test_bad_script_lines_are_refused_at_load_time(tmp_path: Any, line: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"sleep_ms": 1}\n' + line + "\n")
    with pytest.raises(ScriptError, match=r"bad\.jsonl:2"):
        load_script(path)
