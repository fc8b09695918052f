"""Websocket subscriptions: anvil's heads and logs in order, hostile messages, a dropped socket."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import keccak
from websockets.asyncio.server import ServerConnection, serve

from alphapulse.ports import free_port
from contracts.accounts import dev_account
from contracts.answers import BadRpcAnswer, Head
from contracts.anvil import start_anvil, stop_anvil
from contracts.client import Chain
from contracts.logs import LogFilter
from contracts.subscribe import Subscription, SubscriptionLost, ws_url
from tests.contracts.bare import deploy_token, running_anvil

pytestmark = pytest.mark.chain

TRANSFER = keccak(text="Transfer(address,address,uint256)")
WAIT = 10.0


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_anvil() as endpoint:
        yield endpoint


def test_ws_url_is_the_http_endpoint_on_the_same_port():
    assert ws_url("http://127.0.0.1:8545") == "ws://127.0.0.1:8545"
    assert ws_url("https://node.example/v3/key") == "wss://node.example/v3/key"


def test_heads_and_filtered_logs_each_arrive_in_chain_order_on_one_socket(url):
    chain = Chain(url)
    token = deploy_token(chain)
    friend = dev_account(8).address

    async def run() -> tuple[list[Any], list[dict]]:
        events: list[Any] = []
        async with Subscription(ws_url(url), logs=LogFilter.of([token.address], [TRANSFER])) as sub:
            loop = asyncio.get_running_loop()
            receipts = []
            for amount in (1, 2, 3):  # approve emits Approval: filtered out by the node
                await loop.run_in_executor(None, chain.transact, token, "approve", friend, amount)
                receipts.append(await loop.run_in_executor(None, chain.transact, token, "mint", friend, amount))
            last = receipts[-1]["blockNumber"]
            # a block's head may come before or after its logs: wait for both of the last block
            while not (any(isinstance(e, Head) and e.number == last for e in events)
                       and sum(not isinstance(e, Head) for e in events) >= 3):
                events.append(await asyncio.wait_for(anext(sub), WAIT))
        return events, receipts

    events, receipts = asyncio.run(run())
    heads = [e for e in events if isinstance(e, Head)]
    logs = [e for e in events if not isinstance(e, Head)]
    assert [h.number for h in heads] == list(range(heads[0].number, heads[-1].number + 1))
    assert all(b.parent_hash == a.hash for a, b in itertools.pairwise(heads))
    assert logs == [log for r in receipts for log in r["logs"]]
    assert [int.from_bytes(log["data"], "big") for log in logs] == [1, 2, 3]


def test_a_stopped_node_ends_the_subscription_with_subscription_lost():
    port = free_port()
    proc = start_anvil(port)
    try:
        async def run() -> None:
            async with Subscription(f"ws://127.0.0.1:{port}") as sub:
                await asyncio.get_running_loop().run_in_executor(None, stop_anvil, proc)
                with pytest.raises(SubscriptionLost):
                    await asyncio.wait_for(anext(sub), WAIT)

        asyncio.run(run())
    finally:
        stop_anvil(proc)


def test_nothing_listening_raises_subscription_lost_on_enter():
    async def run() -> None:
        async with Subscription("ws://127.0.0.1:9", timeout=2):
            pass

    with pytest.raises(SubscriptionLost, match="cannot subscribe"):
        asyncio.run(run())


GOOD_HEAD = {"number": "0x2", "hash": "0x" + "11" * 32, "parentHash": "0x" + "22" * 32,
             "timestamp": "0x10", "gasLimit": "0x1c9c380", "gasUsed": "0x0", "baseFeePerGas": "0x7"}


def test_a_malformed_message_raises_bad_rpc_answer_and_the_next_one_is_read():
    """A hostile websocket node: one bad header, one good header, then it hangs up."""

    async def node(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        sub = "0xabc"
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": sub}))
        for result in ({**GOOD_HEAD, "gasUsed": "0x1c9c381"}, {**GOOD_HEAD, "hash": "0x12"}, GOOD_HEAD):
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "eth_subscription",
                                      "params": {"subscription": sub, "result": result}}))
        await asyncio.sleep(0.2)
        await ws.close()

    async def run() -> list[Any]:
        seen: list[Any] = []
        async with serve(node, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with Subscription(f"ws://127.0.0.1:{port}", timeout=5) as sub:
                for _ in range(4):
                    try:
                        seen.append(await asyncio.wait_for(anext(sub), WAIT))
                    except (BadRpcAnswer, SubscriptionLost) as exc:
                        seen.append(type(exc))
        return seen

    seen = asyncio.run(run())
    assert seen[:2] == [BadRpcAnswer, BadRpcAnswer]
    assert isinstance(seen[2], Head) and seen[2].number == 2 and seen[2].base_fee == 7
    assert seen[3] is SubscriptionLost
