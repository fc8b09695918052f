"""Helpers for the submission tests: signed transfers on the devnet, raw JSON-RPC posts, waits."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from contracts.signer import FastSigner, SignedTx
from tests.devnet_fixtures import Net


def transfer(net: Net, value: int = 1) -> SignedTx:
    """A signed ETH transfer from the owner to the recipient with the owner's next nonce."""
    chain = net.chain
    fees = chain.fees()
    signer = FastSigner(chain.account, chain.chain_id)
    return signer.sign(chain.next_nonce(), 21_000, 4 * fees.max_fee, fees.priority_fee, net.recipient,
                       b"", value)


def post(url: str, body: bytes | str | Any, timeout: float = 10.0) -> Any:
    """POST ``body`` (bytes as they are, anything else as JSON) and return the decoded answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def bundle_request(txs: list[bytes], target: int, request_id: int = 7) -> dict:
    """An ``eth_sendBundle`` request for ``txs`` in block ``target``."""
    return {"jsonrpc": "2.0", "id": request_id, "method": "eth_sendBundle",
            "params": [{"txs": ["0x" + tx.hex() for tx in txs], "blockNumber": hex(target)}]}


def wait_until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy; return its value, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.01)


def mined_at(net: Net, tx_hash: bytes, timeout: float = 15.0) -> tuple[int, int]:
    """Block number and index in it of ``tx_hash``, waiting until it is mined (anvil answers
    ``eth_sendRawTransaction`` before its automine has mined the block)."""
    receipt = wait_until(lambda: net.chain.receipt(tx_hash), timeout, f"0x{tx_hash.hex()} mined")
    return receipt["blockNumber"], receipt["transactionIndex"]


def mined_block(net: Net, tx_hash: bytes, timeout: float = 15.0) -> int:
    """The block ``tx_hash`` was mined in, waiting until it is."""
    return mined_at(net, tx_hash, timeout)[0]


def in_pool_or_mined(net: Net, tx_hash: bytes) -> bool:
    """Whether the node knows ``tx_hash`` at all (pending or mined)."""
    return net.chain.rpc("eth_getTransactionByHash", ["0x" + tx_hash.hex()]) is not None
