"""The chain client against a real anvil: fees as the chain charges them, non-blocking submission
and receipts, nonces shared by threads, reverts decoded, eth_getLogs in chunks."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from eth_utils import keccak

from contracts.accounts import dev_account
from contracts.answers import RpcError
from contracts.anvil import mine, set_automine, set_block_gas_limit
from contracts.client import Chain, TxTimeout
from contracts.fees import FeeQuote, next_base_fee_of
from contracts.logs import LogFilter
from contracts.reverts import Reverted
from tests.contracts.bare import deploy_token, running_anvil

pytestmark = pytest.mark.chain

GWEI = 10**9
TRANSFER = keccak(text="Transfer(address,address,uint256)")
#: Runtime code that reverts with the selector of ``Nope()``; creation code that returns it.
NOPE = keccak(text="Nope()")[:4]
_RUNTIME = bytes.fromhex("63") + NOPE + bytes.fromhex("60e01b60005260046000fd")
REVERTER = bytes.fromhex(f"60{len(_RUNTIME):02x}600c60003960{len(_RUNTIME):02x}6000f3") + _RUNTIME


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """A bare anvil of this module's own (its mining settings are changed by the tests)."""
    with running_anvil() as endpoint:
        yield endpoint


@pytest.fixture
def chain(url: str) -> Chain:
    return Chain(url)


@pytest.fixture
def manual(chain: Chain) -> Iterator[Chain]:
    """The chain with automine off (blocks only on ``mine``); restored afterwards."""
    set_automine(chain, False)
    try:
        yield chain
    finally:
        set_automine(chain, True)
        set_block_gas_limit(chain, 30_000_000)
        mine(chain)


def _tip_only(tip: int = 1) -> FeeQuote:
    """Fees with a generous cap and a fixed tip, for filling blocks."""
    return FeeQuote(0, 0, tip, 100 * GWEI)


@pytest.mark.parametrize(("gas_limit", "transfers", "base_fee", "label"), [
    (210_000, 10, None, "full"),
    (210_000, 5, None, "half full (at target)"),
    (210_000, 0, None, "empty"),
    (210_001, 7, None, "above target, odd limit"),
    (210_000, 2, None, "below target"),
    (210_000, 10, 7, "full, tiny base fee: +1 wei floor"),
    (210_000, 0, 7, "empty, tiny base fee: cannot fall"),
])
def test_next_base_fee_is_what_anvil_charges_the_next_block(manual, gas_limit, transfers, base_fee, label):
    chain = manual
    set_block_gas_limit(chain, gas_limit)
    mine(chain)
    if base_fee is not None:
        chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
    to = dev_account(7).address
    for _ in range(transfers):
        chain.send_raw(chain.sign(to, gas=21_000, value=1, fees=_tip_only()))
    mine(chain)
    parent = chain.head()
    assert parent.gas_used == 21_000 * transfers and parent.gas_limit == gas_limit
    predicted = next_base_fee_of(parent)
    assert chain.fees().base_fee == predicted
    mine(chain)
    assert chain.head().base_fee == predicted, label


def test_fees_quote_the_nodes_tip_and_twice_the_next_base_fee(chain):
    quote = chain.fees()
    head = chain.head()
    assert quote.block == head.number and quote.base_fee == next_base_fee_of(head)
    assert quote.priority_fee == int(chain.rpc("eth_maxPriorityFeePerGas"), 16)
    assert quote.max_fee == 2 * quote.base_fee + quote.priority_fee
    receipt = chain.send(dev_account(7).address, value=1)
    assert receipt["effectiveGasPrice"] == quote.base_fee + quote.priority_fee


def test_send_raw_returns_before_mining_and_receipt_never_waits(manual):
    chain = manual
    signed = chain.sign(dev_account(7).address, gas=21_000, value=5)
    tx_hash = chain.send_raw(signed)
    assert tx_hash == bytes(signed.hash)
    assert chain.receipt(tx_hash) is None
    mine(chain)
    receipt = chain.receipt(tx_hash)
    assert receipt is not None and receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert receipt["blockNumber"] == chain.block_number()


def test_wait_for_receipt_times_out_on_a_transaction_that_is_not_mined(manual):
    tx_hash = manual.send_raw(manual.sign(dev_account(7).address, gas=21_000, value=5))
    with pytest.raises(TxTimeout, match=r"not mined within 0\.2 s"):
        manual.wait_for_receipt(tx_hash, timeout=0.2)


def test_signing_with_given_fees_and_nonce_needs_no_network(chain, monkeypatch):
    nonce = chain.next_nonce()
    fees = FeeQuote(0, 0, 3 * GWEI, 40 * GWEI)

    def offline(*args: object) -> None:
        raise AssertionError("sign asked the node")

    monkeypatch.setattr(chain, "rpc", offline)
    signed = chain.sign(dev_account(7).address, gas=30_000, fees=fees, value=9, nonce=nonce)
    monkeypatch.undo()
    receipt = chain.wait_for_receipt(chain.send_raw(signed), timeout=10)
    tx = chain.rpc("eth_getTransactionByHash", ["0x" + bytes(signed.hash).hex()])
    assert int(tx["maxFeePerGas"], 16) == 40 * GWEI and int(tx["maxPriorityFeePerGas"], 16) == 3 * GWEI
    assert int(tx["nonce"], 16) == nonce and int(tx["gas"], 16) == 30_000 and receipt["status"] == 1


def test_threads_sharing_one_client_get_distinct_nonces_and_all_mine(url):
    chain = Chain(url, dev_account(3))
    start = chain.next_nonce()
    chain.forget_nonce()
    hashes: list[bytes] = []
    errors: list[BaseException] = []
    fees = chain.fees()

    def submit() -> None:
        try:
            for _ in range(5):
                hashes.append(chain.send_raw(chain.sign(dev_account(7).address, gas=21_000, fees=fees)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    receipts = [chain.wait_for_receipt(h, timeout=10) for h in hashes]
    assert all(r["status"] == 1 for r in receipts)
    nonces = sorted(int(chain.rpc("eth_getTransactionByHash", ["0x" + h.hex()])["nonce"], 16) for h in hashes)
    assert nonces == list(range(start, start + 20))


def test_a_rejected_submission_makes_the_next_signature_reread_the_nonce(chain):
    too_cheap = FeeQuote(0, 0, 0, 1)  # below any base fee anvil charges
    with pytest.raises(RpcError):
        chain.send_raw(chain.sign(dev_account(7).address, gas=21_000, fees=too_cheap))
    receipt = chain.send(dev_account(7).address, value=1, timeout=10)  # no nonce gap left behind
    assert receipt["status"] == 1


def test_reverts_are_decoded_for_calls_and_stop_a_send_before_signing(chain):
    address = chain.deploy([], "0x" + REVERTER.hex())
    chain.decoder.add([{"type": "error", "name": "Nope", "inputs": []}])
    with pytest.raises(Reverted, match="Nope") as caught:
        chain.call(address, b"")
    assert caught.value.error == "Nope" and caught.value.data == "0x" + NOPE.hex()
    before = chain.rpc("eth_getTransactionCount", [chain.address, "pending"])
    with pytest.raises(Reverted, match="Nope"):
        chain.send(address, b"\x01")
    assert chain.rpc("eth_getTransactionCount", [chain.address, "pending"]) == before


def test_a_mined_failure_raises_reverted_only_when_checked(chain):
    address = chain.deploy([], "0x" + REVERTER.hex())
    with pytest.raises(Reverted, match="status 0"):
        chain.send(address, b"", gas=50_000)
    assert chain.send(address, b"", gas=50_000, check=False)["status"] == 0


def test_get_logs_in_chunks_equals_the_receipts_logs(chain):
    token = deploy_token(chain)
    first = chain.block_number() + 1
    friend = dev_account(8).address
    receipts = [chain.transact(token, "mint", chain.address, 10**18)]
    receipts += [chain.transact(token, "transfer", friend if i % 2 else dev_account(9).address, i + 1)
                 for i in range(6)]
    last = chain.block_number()
    expected = [log for r in receipts for log in r["logs"]]
    everything = LogFilter.of([token.address])
    assert len(expected) == 7
    for max_range in (1, 2, 3, 1000):
        assert chain.get_logs(first, last, everything, max_range=max_range) == expected
    to_friend = LogFilter.of([token.address], [TRANSFER, None, bytes(12) + bytes.fromhex(friend[2:])])
    got = chain.get_logs(first, last, to_friend, max_range=2)
    assert [int.from_bytes(log["data"], "big") for log in got] == [2, 4, 6]
    assert chain.get_logs(first, last, LogFilter.of([dev_account(9).address])) == []


def test_a_batch_reads_many_values_in_one_round_trip(chain):
    token = deploy_token(chain)
    chain.transact(token, "mint", chain.address, 12345)
    balance_of = token.encode_abi("balanceOf", args=[chain.address])
    calls = [("eth_call", [{"to": token.address, "data": balance_of}, "latest"]), ("eth_blockNumber", []),
             ("eth_chainId", [])]
    balance, number, chain_id = chain.rpc_batch(calls)
    assert int(balance, 16) == 12345 and int(number, 16) == chain.block_number() and int(chain_id, 16) == 31337
