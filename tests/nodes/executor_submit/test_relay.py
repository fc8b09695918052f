"""The local bundle relay against the devnet's anvil: a bundle for the next block is forwarded and
mined, one for a later block is held until its block is next, one for a mined block is dropped,
bad requests get JSON-RPC errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alphapulse.errors import ChainError
from alphapulse.ports import free_port
from contracts.anvil import mine, port_is_free
from contracts.keccak import keccak256
from contracts.relay import RelayServer
from tests.devnet_fixtures import Net
from tests.nodes.executor_submit.helpers import (
    bundle_request,
    in_pool_or_mined,
    mined_at,
    mined_block,
    post,
    transfer,
    wait_until,
)

pytestmark = pytest.mark.chain


@pytest.fixture
def relay(net: Net) -> Iterator[RelayServer]:
    with RelayServer(net.chain.url, poll_s=0.01) as server:
        yield server


def test_relay_listens_on_loopback_with_a_kernel_chosen_port(relay: RelayServer) -> None:
    assert relay.url.startswith("http://127.0.0.1:") and not relay.url.endswith(":0")


def test_bundle_for_the_next_block_is_forwarded_and_mined(net: Net, relay: RelayServer) -> None:
    first, second = transfer(net, 1), transfer(net, 2)
    head = net.chain.block_number()
    answer = post(relay.url, bundle_request([first.raw, second.raw], head + 1))
    assert answer["id"] == 7
    assert answer["result"]["bundleHash"] == "0x" + keccak256(first.tx_hash + second.tx_hash).hex()
    # forwarded before the answer, in bundle order
    assert mined_block(net, first.tx_hash) == head + 1
    assert mined_at(net, first.tx_hash) < mined_at(net, second.tx_hash)
    assert relay.stats.as_dict() == {"received": 1, "forwarded": 1, "forwarded_txs": 2, "dropped": 0,
                                          "rejected": 0, "failed": 0, "held": 0}


def test_bundle_for_a_later_block_is_held_until_that_block_is_next(net: Net, relay: RelayServer) -> None:
    tx = transfer(net)
    head = net.chain.block_number()
    post(relay.url, bundle_request([tx.raw], head + 3))
    assert relay.stats.held == 1 and not in_pool_or_mined(net, tx.tx_hash)
    mine(net.chain)  # head + 1: the target is still two blocks away
    assert relay.stats.held == 1 and not in_pool_or_mined(net, tx.tx_hash)
    mine(net.chain)  # head + 2: the target is next
    wait_until(lambda: relay.stats.forwarded == 1, what="the held bundle forwarded")
    assert mined_block(net, tx.tx_hash) == head + 3
    assert relay.stats.held == 0 and relay.stats.dropped == 0


def test_held_bundle_whose_block_passed_is_dropped(net: Net) -> None:
    with RelayServer(net.chain.url, poll_s=3600.0) as relay:  # a poller asleep until stop
        tx = transfer(net)
        post(relay.url, bundle_request([tx.raw], net.chain.block_number() + 2))
        assert relay.stats.held == 1
        mine(net.chain, 2)  # the target block is mined without it
        relay.poll_once()
        assert relay.stats.as_dict() == {"received": 1, "forwarded": 0, "forwarded_txs": 0, "dropped": 1,
                                         "rejected": 0, "failed": 0, "held": 0}
    assert not in_pool_or_mined(net, tx.tx_hash)


def test_bundle_for_a_mined_block_is_dropped(net: Net, relay: RelayServer) -> None:
    tx = transfer(net)
    head = net.chain.block_number()
    answer = post(relay.url, bundle_request([tx.raw], head))
    assert answer["result"]["bundleHash"] == "0x" + keccak256(tx.tx_hash).hex()
    assert relay.stats.dropped == 1 and relay.stats.forwarded == 0
    assert not in_pool_or_mined(net, tx.tx_hash)


def test_drop_knob_accepts_and_never_forwards(net: Net) -> None:
    with RelayServer(net.chain.url, drop=True) as relay:
        tx = transfer(net)
        answer = post(relay.url, bundle_request([tx.raw], net.chain.block_number() + 1))
        assert "result" in answer
        assert relay.stats.received == 1 and relay.stats.dropped == 1
    assert not in_pool_or_mined(net, tx.tx_hash)


def test_upstream_refusal_stops_the_bundle_and_is_counted(net: Net, relay: RelayServer) -> None:
    good = transfer(net)
    net.chain.forget_nonce()
    same_nonce = transfer(net, 5)  # replaces nothing: the first one is mined by then
    head = net.chain.block_number()
    post(relay.url, bundle_request([good.raw, same_nonce.raw, transfer(net).raw], head + 1))
    assert relay.stats.failed == 1 and relay.stats.forwarded == 0 and relay.stats.forwarded_txs == 1
    assert mined_block(net, good.tx_hash) == head + 1
    assert not in_pool_or_mined(net, same_nonce.tx_hash)


GOOD_TX = "0x02" + "ab" * 20


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", -32700),
    (b"\xff\xfe", -32700),
    ([{"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle", "params": []}], -32600),
    ({"jsonrpc": "2.0", "id": 1}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": 5}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [GOOD_TX]}, -32601),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle"}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle", "params": {"txs": [GOOD_TX]}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle", "params": [{"txs": [GOOD_TX]}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": [], "blockNumber": "0x10"}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": ["02ab"], "blockNumber": "0x10"}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": ["0xzz"], "blockNumber": "0x10"}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": [GOOD_TX], "blockNumber": 16}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": [GOOD_TX], "blockNumber": "0xqq"}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": [GOOD_TX], "blockNumber": "0x10", "minTimestamp": -1}]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendBundle",
      "params": [{"txs": [GOOD_TX] * 101, "blockNumber": "0x10"}]}, -32602),
], ids=["garbage", "not-utf8", "batch", "no-method", "method-not-str", "unknown-method", "no-params",
        "params-not-list", "no-block", "no-txs", "tx-no-prefix", "tx-not-hex", "block-not-hex-str",
        "block-bad-hex", "negative-timestamp", "too-many-txs"])
def test_bad_requests_get_json_rpc_errors(relay: RelayServer, body: object, code: int) -> None:
    answer = post(relay.url, body)
    assert answer["error"]["code"] == code and "result" not in answer
    assert answer["id"] == (1 if code in (-32601, -32602) else None)
    assert relay.stats.rejected == 1 and relay.stats.received == 0


def test_relay_without_upstream_refuses_to_start_and_frees_its_port() -> None:
    relay = RelayServer(f"http://127.0.0.1:{free_port()}")
    port = int(relay.url.rsplit(":", 1)[1])
    with pytest.raises(ChainError):
        relay.start()
    assert port_is_free(port)
