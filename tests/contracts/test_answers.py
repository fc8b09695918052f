"""Hostile JSON-RPC answers become typed ChainErrors, never wrong values (a scripted fake node)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_utils import keccak

from alphapulse.errors import ChainError
from alphapulse.ports import free_port
from contracts.accounts import dev_account
from contracts.answers import BadRpcAnswer, RpcError, parse_head, parse_log, quantity
from contracts.client import Chain, ChainUnreachable, redacted
from contracts.fees import FeeQuote
from contracts.logs import LogFilter
from tests.contracts.bare import FakeNode

H32 = "0x" + "11" * 32
ADDR = "0x" + "22" * 20
TOPIC = b"\x33" * 32


def header(**changes: object) -> dict:
    """A well-formed latest block header, with ``changes`` applied (None deletes a key)."""
    block = {"number": "0x10", "hash": H32, "parentHash": H32, "timestamp": "0x6500",
             "gasLimit": "0x1c9c380", "gasUsed": "0xe4e1c0", "baseFeePerGas": "0x3b9aca00"}
    for key, value in changes.items():
        if value is None:
            block.pop(key)
        else:
            block[key] = value
    return block


def log(**changes: object) -> dict:
    """A well-formed mined log, with ``changes`` applied."""
    entry = {"address": ADDR, "topics": ["0x" + TOPIC.hex()], "data": "0x", "blockNumber": "0x5",
             "blockHash": H32, "transactionHash": H32, "transactionIndex": "0x0", "logIndex": "0x0",
             "removed": False}
    entry.update(changes)
    return entry


@pytest.fixture
def node() -> Iterator[FakeNode]:
    with FakeNode() as fake:
        yield fake


@pytest.fixture
def chain(node: FakeNode) -> Chain:
    return Chain(node.url, timeout=5)


def test_well_formed_answers_give_exact_fees(node, chain):
    node.answers.update({"eth_getBlockByNumber": header(), "eth_maxPriorityFeePerGas": "0x5"})
    # 15 M of 30 M used: exactly at target, the base fee stays
    assert chain.fees() == FeeQuote(16, 10**9, 5, 2 * 10**9 + 5)


@pytest.mark.parametrize(("block", "why"), [
    (None, "null"),
    (header(baseFeePerGas=None), "baseFeePerGas"),
    (header(gasUsed="0x1c9c381"), "above its limit"),
    (header(number="0xzz"), "hex quantity"),
    (header(number="12"), "hex quantity"),
    (header(number=16), None),  # an int is what web3 makes of it: accepted
    (header(hash="0x1234"), "not 32"),
    (header(baseFeePerGas="0x1" + "0" * 64), "hex quantity"),
    (header(timestamp=None), "no timestamp"),
    ([1, 2], "not an object"),
    ("0x10", "not an object"),
])
def test_a_malformed_head_raises_bad_rpc_answer(node, chain, block, why):
    node.answers.update({"eth_getBlockByNumber": block, "eth_maxPriorityFeePerGas": "0x5"})
    if why is None:
        assert chain.fees().block == 16
        return
    with pytest.raises(BadRpcAnswer, match=why):
        chain.fees()


@pytest.mark.parametrize("tip", ["-0x1", "0x", "0x" + "f" * 65, None, True, "1000", 1.5, {"a": 1}])
def test_a_malformed_priority_fee_raises_bad_rpc_answer(node, chain, tip):
    node.answers.update({"eth_getBlockByNumber": header(), "eth_maxPriorityFeePerGas": tip})
    with pytest.raises(BadRpcAnswer):
        chain.fees()


def test_an_error_object_raises_rpc_error_with_code_and_message(node, chain):
    node.answers["eth_blockNumber"] = lambda params: {"jsonrpc": "2.0", "id": 1,
                                                      "error": {"code": -32005, "message": "limit exceeded"}}
    with pytest.raises(RpcError, match="limit exceeded") as caught:
        chain.block_number()
    assert caught.value.code == -32005


@pytest.mark.parametrize("response", [
    {"jsonrpc": "2.0", "id": 1},
    {"jsonrpc": "2.0", "id": 1, "error": "nope"},
    {"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}},
    [1, 2, 3],
    "hello",
])
def test_a_malformed_envelope_raises_bad_rpc_answer(node, chain, response):
    node.answers["eth_blockNumber"] = lambda params: response
    with pytest.raises(BadRpcAnswer):
        chain.block_number()


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"\xff\xfe\x00", b""])
def test_a_body_that_is_not_json_raises_bad_rpc_answer(node, chain, body):
    node.raw = body
    with pytest.raises(BadRpcAnswer, match="not JSON"):
        chain.block_number()


def test_nothing_listening_raises_chain_unreachable_at_construction():
    with pytest.raises(ChainUnreachable, match="eth_chainId"):
        Chain(f"http://127.0.0.1:{free_port()}", timeout=2)


def test_error_messages_never_show_the_endpoint_path_or_credentials():
    assert redacted("https://user:secret@node.example:8545/v3/APIKEY") == "https://node.example:8545"
    port = free_port()
    with pytest.raises(ChainUnreachable) as caught:
        Chain(f"http://me:secret@127.0.0.1:{port}/v3/APIKEY", timeout=2)
    assert "APIKEY" not in str(caught.value) and "secret" not in str(caught.value)


def test_send_raw_refuses_a_hash_that_is_not_the_transactions_and_resyncs_the_nonce(node, chain):
    node.answers.update({"eth_sendRawTransaction": H32, "eth_getTransactionCount": "0x7"})
    signed = chain.sign(ADDR, gas=21_000, fees=FeeQuote(1, 10, 1, 21))
    assert chain.next_nonce() == 8  # the signature took 7
    with pytest.raises(BadRpcAnswer, match="not the transaction's"):
        chain.send_raw(signed)
    node.answers["eth_getTransactionCount"] = "0x9"
    assert chain.next_nonce() == 9  # re-read from the chain after the failure


def test_send_raw_returns_the_hash_the_node_confirms(node, chain):
    signed = chain.sign(ADDR, gas=21_000, fees=FeeQuote(1, 10, 1, 21), nonce=0)
    node.answers["eth_sendRawTransaction"] = "0x" + keccak(bytes(signed.raw_transaction)).hex()
    assert chain.send_raw(signed) == bytes(signed.hash)


def _receipt(tx: str = H32, **changes: object) -> dict:
    receipt = {"transactionHash": tx, "transactionIndex": "0x0", "blockHash": H32, "blockNumber": "0x5",
               "status": "0x1", "gasUsed": "0x5208", "cumulativeGasUsed": "0x5208",
               "effectiveGasPrice": "0x3b9aca00", "contractAddress": None, "logs": [log(transactionHash=tx)]}
    receipt.update(changes)
    return receipt


def test_receipt_is_none_while_pending_and_typed_when_mined(node, chain):
    node.answers["eth_getTransactionReceipt"] = None
    assert chain.receipt(bytes.fromhex(H32[2:])) is None
    node.answers["eth_getTransactionReceipt"] = _receipt()
    receipt = chain.receipt(bytes.fromhex(H32[2:]))
    assert receipt is not None and receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert receipt["logs"][0]["topics"] == [TOPIC]


@pytest.mark.parametrize(("receipt", "why"), [
    (_receipt("0x" + "44" * 32), "is for transaction"),
    (_receipt(status="0x2"), "out of range"),
    (_receipt(logs=[log(transactionHash="0x" + "55" * 32)]), "another transaction"),
    (_receipt(logs=[log(blockNumber="0x6")]), "another transaction or block"),
    (_receipt(logs="none"), "not a list"),
    (_receipt(contractAddress="0x12"), "not 20"),
    (_receipt(gasUsed=None), "hex quantity"),
])
def test_a_malformed_receipt_raises_bad_rpc_answer(node, chain, receipt, why):
    node.answers["eth_getTransactionReceipt"] = receipt
    with pytest.raises(BadRpcAnswer, match=why):
        chain.receipt(bytes.fromhex(H32[2:]))


@pytest.mark.parametrize(("logs", "why"), [
    ("nope", "not a list"),
    ([log(blockNumber="0x20")], "answered a log of block 32"),
    ([log(address="0x" + "99" * 20)], "not asked for"),
    ([log(topics=["0x" + "77" * 32])], "not asked for"),
    ([log(topics=[])], "not asked for"),
    ([log(removed=True)], "not asked for"),
    ([log(logIndex="0x1"), log(logIndex="0x0")], "comes after"),
    ([log(), log()], "comes after"),
    ([log(topics=["0x" + "77" * 31])], "not 32"),
    ([log(topics=[H32] * 5)], "at most 4"),
    ([log(data="0x123")], "not hex data"),
    ([log(removed="no")], "boolean"),
])
def test_get_logs_refuses_logs_that_were_not_asked_for_or_are_malformed(node, chain, logs, why):
    node.answers["eth_getLogs"] = logs
    with pytest.raises(BadRpcAnswer, match=why):
        chain.get_logs(0, 10, LogFilter.of([ADDR], [TOPIC]))


def test_get_logs_asks_once_per_window_of_max_range_blocks(node, chain):
    windows: list[tuple[int, int]] = []

    def answer(params: list) -> dict:
        windows.append((int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)))
        return {"jsonrpc": "2.0", "id": 1, "result": []}

    node.answers["eth_getLogs"] = answer
    assert chain.get_logs(3, 12, max_range=4) == []
    assert windows == [(3, 6), (7, 10), (11, 12)]
    assert chain.get_logs(5, 4) == [] and len(windows) == 3  # empty window: no query


def test_log_filter_refuses_malformed_addresses_and_topics():
    with pytest.raises(ChainError):
        LogFilter.of(["0x12"])
    with pytest.raises(ChainError):
        LogFilter.of([], [b"\x01" * 31])
    with pytest.raises(ChainError):
        LogFilter.of([], [None] * 5)


def test_parsers_take_web3_formatted_values_as_well_as_hex():
    assert quantity(255, "x") == quantity("0xff", "x") == 255
    with pytest.raises(BadRpcAnswer):
        quantity(True, "x")
    formatted = {**header(), "number": 16, "hash": bytes(32), "parentHash": bytes(32), "gasUsed": 0}
    assert parse_head(formatted).number == 16
    mixed = parse_log({**log(address=dev_account(0).address.lower()), "blockNumber": 5, "topics": [TOPIC]})
    assert mixed["address"] == dev_account(0).address and mixed["blockNumber"] == 5


def test_a_batch_returns_results_in_request_order(node, chain):
    node.answers.update({"eth_blockNumber": "0x5", "eth_gasPrice": "0x7"})
    node.batch = lambda requests: [node.answer(r) for r in reversed(requests)]  # any order on the wire
    assert chain.rpc_batch([("eth_blockNumber", []), ("eth_gasPrice", []), ("eth_blockNumber", [])]) == \
        ["0x5", "0x7", "0x5"]
    assert node.calls[-1] == "batch"


@pytest.mark.filterwarnings("ignore:Received batch response with missing")  # web3's, before our check
@pytest.mark.parametrize("answer", [
    lambda requests: [],
    lambda requests: [{"jsonrpc": "2.0", "id": r["id"], "result": "0x1"} for r in requests][:1],
    lambda requests: [{"jsonrpc": "2.0", "id": requests[0]["id"], "result": "0x1"}] * 2,
    lambda requests: [{"jsonrpc": "2.0", "id": "a", "result": "0x1"}, {"jsonrpc": "2.0", "id": 7, "result": 1}],
    lambda requests: [{"jsonrpc": "2.0", "result": "0x1"}] * 2,
    lambda requests: {"jsonrpc": "2.0", "id": None, "result": "0x1"},
])
def test_a_batch_answer_that_does_not_pair_with_the_requests_raises_bad_rpc_answer(node, chain, answer):
    node.batch = answer
    with pytest.raises(BadRpcAnswer):
        chain.rpc_batch([("eth_blockNumber", []), ("eth_gasPrice", [])])


def test_an_error_inside_a_batch_raises_its_rpc_error(node, chain):
    node.answers["eth_blockNumber"] = "0x5"
    with pytest.raises(RpcError, match="no such method"):
        chain.rpc_batch([("eth_blockNumber", []), ("eth_nothing", [])])
