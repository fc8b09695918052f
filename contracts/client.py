"""The chain client: calls, fees, signing, submission, receipts and log queries over JSON-RPC.

:class:`Chain` talks to any EVM JSON-RPC endpoint (the devnet's anvil or a real node) over HTTP
and signs locally with an eth-account key (:mod:`contracts.accounts`). The calls a node makes
never wait on the chain: :meth:`Chain.send_raw` returns as soon as the node accepted the
transaction, :meth:`Chain.receipt` asks once and answers None while the transaction is pending.
:meth:`Chain.send` (sign, send, wait for the receipt) is for tools, deployment and tests.
Websocket subscriptions live in :mod:`contracts.subscribe`, log queries in :mod:`contracts.logs`.

Every answer is untrusted (:mod:`contracts.answers`): a malformed one raises
:class:`BadRpcAnswer`, an error object :class:`RpcError`, a revert :class:`Reverted` with the
decoded custom error, a transport failure :class:`ChainUnreachable`; all are ChainErrors.
Each request is still a blocking HTTP round trip: a node's loop runs them on the runtime's
worker, never on its own thread.

Thread-safety: one :class:`Chain` may be shared by threads. Nonces are handed out under a lock
(each signature takes the next one), web3 keeps one HTTP session per thread, and the error
decoder is only read once the contracts are bound (:meth:`Chain.contract` adds to it: bind them
before sharing the client).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from eth_abi import encode as abi_encode
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from alphapulse.errors import ChainError
from contracts.accounts import dev_account
from contracts.answers import (
    BadRpcAnswer,
    Head,
    Log,
    Receipt,
    RpcError,
    data,
    parse_head,
    parse_receipt,
    quantity,
    result_of,
)
from contracts.fees import FeeQuote, quote
from contracts.logs import LogFilter, get_logs
from contracts.reverts import ErrorDecoder, Reverted

#: Gas added to an estimate by :meth:`Chain.send`: 20 % plus this many units. Generous because
#: anvil mines several blocks in one second with the same timestamp: an estimate made in second T
#: can be mined in T+1, when every Uniswap V2 pair touched also writes its two price
#: accumulators (two stores from zero on a fresh pair, about 44 k gas) and a V3 pool its oracle
#: observation. Gas a transaction does not use is not paid.
GAS_MARGIN = 200_000


class ChainUnreachable(ChainError):
    """No answer from the JSON-RPC endpoint (connection refused, timeout, HTTP error)."""

    kind = "chain_unreachable"


class TxTimeout(ChainError):
    """A transaction was not mined within the time a caller chose to wait."""

    kind = "tx_timeout"


def redacted(url: str) -> str:
    """``scheme://host:port`` of an endpoint: paths and user info may hold API keys."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _hex(payload: bytes | str) -> str:
    if isinstance(payload, str):
        return payload if payload.startswith("0x") else "0x" + payload
    return "0x" + bytes(payload).hex()


def _result_or_error(method: str, response: Any) -> Any:
    try:
        return result_of(method, response)
    except ChainError as exc:  # RpcError or BadRpcAnswer: this request's answer, not the batch's
        return exc


def _block_tag(block: int | str) -> str:
    return hex(block) if isinstance(block, int) else block


class Chain:
    """A JSON-RPC connection plus one local signing account.

    Parameters
    ----------
    url
        HTTP JSON-RPC endpoint.
    account
        Signing account; anvil's development account 0 when None.
    decoder
        Custom-error decoder (shared between clients of one deployment).
    timeout
        Seconds one HTTP request may take.

    Raises
    ------
    ChainUnreachable
        Nothing answers at ``url``.
    """

    def __init__(self, url: str, account: LocalAccount | None = None, decoder: ErrorDecoder | None = None,
                 *, timeout: float = 10.0):
        self.url = url
        self._provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.w3 = Web3(self._provider)
        self.account = account or dev_account(0)
        self.decoder = decoder or ErrorDecoder()
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self.chain_id = quantity(self.rpc("eth_chainId"), "eth_chainId", 2**64)

    @property
    def address(self) -> ChecksumAddress:
        """Checksummed address of the signing account."""
        return self.account.address

    # -- JSON-RPC -------------------------------------------------------------------------------

    def rpc(self, method: str, params: Sequence[Any] | None = None) -> Any:
        """One raw JSON-RPC request; returns its ``result`` as sent (unchecked).

        Raises
        ------
        ChainUnreachable
            Transport failure.
        BadRpcAnswer
            The body is not a JSON-RPC response.
        RpcError
            The node answered with an error object.
        """
        try:
            response = self._provider.make_request(RPCEndpoint(method), list(params or []))
        except OSError as exc:
            raise ChainUnreachable(f"{method}: no answer from {redacted(self.url)}: {type(exc).__name__}") from exc
        except ValueError as exc:  # JSON or UTF-8 decoding of the body
            raise BadRpcAnswer(f"{method}: the answer from {redacted(self.url)} is not JSON") from exc
        except Web3Exception as exc:
            raise ChainUnreachable(f"{method}: {redacted(self.url)}: {exc}") from exc
        return result_of(method, response)

    def rpc_batch(self, requests: Sequence[tuple[str, Sequence[Any]]], *, errors: bool = False) -> list[Any]:
        """Several JSON-RPC requests in one HTTP round trip; their results in request order.

        Each result is unchecked, as from :meth:`rpc`. One error answer raises its
        :class:`RpcError` (the other results are lost: ask again without that request); with
        ``errors`` it takes that request's place instead, as does the :class:`BadRpcAnswer` of one
        malformed response.

        Raises
        ------
        BadRpcAnswer
            The batch answer is not one response per request with distinct ids.
        RpcError, ChainUnreachable
            As for :meth:`rpc`.
        """
        if not requests:
            return []
        batch = [(RPCEndpoint(method), list(params)) for method, params in requests]
        try:
            responses = self._provider.make_batch_request(batch)
        except OSError as exc:
            raise ChainUnreachable(f"batch: no answer from {redacted(self.url)}: {type(exc).__name__}") from exc
        except (ValueError, TypeError) as exc:  # body not JSON, or ids that cannot be ordered
            raise BadRpcAnswer(f"batch: the answer from {redacted(self.url)} is malformed") from exc
        except Web3Exception as exc:
            raise ChainUnreachable(f"batch: {redacted(self.url)}: {exc}") from exc
        if not isinstance(responses, list):
            result_of("batch", responses)  # a single error object for the whole batch
            raise BadRpcAnswer("batch: the answer is not a list")
        ids = [r.get("id") if isinstance(r, dict) else None for r in responses]
        if len(responses) != len(batch) or None in ids or len(set(map(repr, ids))) != len(ids):
            raise BadRpcAnswer(f"batch: {len(responses)} answers with ids {ids[:8]} to {len(batch)} requests")
        if not errors:
            return [result_of(method, response) for (method, _), response in zip(batch, responses, strict=True)]
        return [_result_or_error(method, response) for (method, _), response in zip(batch, responses, strict=True)]

    def block_number(self) -> int:
        """Number of the latest block."""
        return quantity(self.rpc("eth_blockNumber"), "eth_blockNumber", 2**63 - 1)

    def head(self, block: int | str = "latest") -> Head:
        """Header figures of ``block`` (a number or a tag such as ``"latest"``)."""
        return parse_head(self.rpc("eth_getBlockByNumber", [_block_tag(block), False]), f"block {block}")

    def priority_fee(self) -> int:
        """The node's suggested tip per gas (``eth_maxPriorityFeePerGas``)."""
        return quantity(self.rpc("eth_maxPriorityFeePerGas"), "eth_maxPriorityFeePerGas")

    def fees(self) -> FeeQuote:
        """Fees for the next block: EIP-1559 base fee from the latest head, the node's tip."""
        return quote(self.head("latest"), self.priority_fee())

    def get_logs(self, from_block: int, to_block: int, log_filter: LogFilter | None = None, *,
                 max_range: int = 2000) -> list[Log]:
        """Logs of blocks ``from_block..to_block`` (inclusive) matching ``log_filter``.

        See :func:`contracts.logs.get_logs` (chunked queries, every answer checked).
        """
        return get_logs(self.rpc, from_block, to_block, log_filter or LogFilter(), max_range=max_range)

    # -- calls ----------------------------------------------------------------------------------

    def _reverted_or(self, exc: RpcError, what: str) -> ChainError:
        """:class:`Reverted` with the decoded error if ``exc`` is a revert, else ``exc`` itself."""
        if exc.code != 3 and "revert" not in exc.rpc_message.lower():
            return exc
        raw = exc.data if isinstance(exc.data, str) and exc.data.startswith("0x") else ""
        name, args = self.decoder.decode(raw) if raw else (None, ())
        label = f"{name}{args}" if name else exc.rpc_message
        return Reverted(f"{what} reverted: {label}", name, args, raw)

    def call(self, to: str, payload: bytes | str, sender: str | None = None,
             block: int | str = "latest") -> bytes:
        """``eth_call``; returns the output; raises :class:`Reverted` with the decoded error."""
        tx = {"to": to, "data": _hex(payload), "from": sender or self.address}
        try:
            result = self.rpc("eth_call", [tx, _block_tag(block)])
        except RpcError as exc:
            raise self._reverted_or(exc, f"call to {to}") from exc
        return data(result, "eth_call result")

    def estimate_gas(self, to: str | None, payload: bytes | str = b"", value: int = 0,
                     sender: str | None = None) -> int:
        """``eth_estimateGas``; raises :class:`Reverted` when the transaction would revert."""
        tx: dict[str, Any] = {"from": sender or self.address, "data": _hex(payload), "value": hex(value)}
        if to is not None:
            tx["to"] = to
        try:
            result = self.rpc("eth_estimateGas", [tx])
        except RpcError as exc:
            raise self._reverted_or(exc, f"transaction to {to or 'new contract'}") from exc
        return quantity(result, "eth_estimateGas", 2**63 - 1)

    # -- nonces, signing, submission ------------------------------------------------------------

    def next_nonce(self) -> int:
        """Take the next nonce of the signing account (read from the chain's pending count once)."""
        with self._lock:
            if self._nonce is None:
                count = self.rpc("eth_getTransactionCount", [self.address, "pending"])
                self._nonce = quantity(count, "eth_getTransactionCount", 2**64 - 2)
            nonce = self._nonce
            self._nonce += 1
            return nonce

    def forget_nonce(self) -> None:
        """Re-read the nonce from the chain before the next signature (after a revert to a
        snapshot, a rejected submission, or transactions sent by someone else)."""
        with self._lock:
            self._nonce = None

    def sign(self, to: str | None, payload: bytes | str = b"", *, gas: int, fees: FeeQuote | None = None,
             value: int = 0, nonce: int | None = None) -> SignedTransaction:
        """Sign a type-2 (EIP-1559) transaction; no network when ``fees`` and ``nonce`` are given.

        Parameters
        ----------
        to
            Recipient; None creates a contract.
        payload
            Calldata.
        gas
            Gas limit.
        fees
            Fee cap and tip (for example from the latest GasPrice frame); :meth:`fees` when None.
        value
            Wei sent along.
        nonce
            Explicit nonce; the next one of :meth:`next_nonce` when None.

        Raises
        ------
        ChainError
            Gas, value or fees out of range.
        """
        if fees is None:
            fees = self.fees()
        if gas <= 0 or value < 0 or not 0 <= fees.priority_fee <= fees.max_fee:
            raise ChainError(f"cannot sign: gas {gas}, value {value}, tip {fees.priority_fee}, "
                             f"cap {fees.max_fee}")
        tx: dict[str, Any] = {
            "type": 2, "chainId": self.chain_id, "nonce": self.next_nonce() if nonce is None else nonce,
            "gas": gas, "maxFeePerGas": fees.max_fee, "maxPriorityFeePerGas": fees.priority_fee,
            "value": value, "data": _hex(payload),
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        return self.account.sign_transaction(tx)

    def send_raw(self, signed: SignedTransaction | bytes) -> bytes:
        """Submit a signed transaction (``eth_sendRawTransaction``); returns its hash at once.

        The node's answer must be the transaction's own hash. Any failure makes the next
        signature re-read the nonce from the chain.

        Raises
        ------
        RpcError
            The node refused the transaction (nonce, fee, balance...).
        BadRpcAnswer, ChainUnreachable
            As for :meth:`rpc`; the transaction may or may not have been accepted.
        """
        raw = bytes(signed.raw_transaction) if isinstance(signed, SignedTransaction) else bytes(signed)
        try:
            result = self.rpc("eth_sendRawTransaction", [_hex(raw)])
            tx_hash = data(result, "eth_sendRawTransaction result", 32)
        except ChainError:
            self.forget_nonce()
            raise
        if tx_hash != keccak(raw):
            self.forget_nonce()
            raise BadRpcAnswer(f"eth_sendRawTransaction answered hash 0x{tx_hash.hex()}, "
                               f"not the transaction's 0x{keccak(raw).hex()}")
        return tx_hash

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of ``tx_hash``, or None while it is not mined (one query, never waits)."""
        result = self.rpc("eth_getTransactionReceipt", [_hex(tx_hash)])
        return parse_receipt(result, bytes(tx_hash), f"receipt of 0x{bytes(tx_hash).hex()}")

    def wait_for_receipt(self, tx_hash: bytes, timeout: float = 30.0, poll: float = 0.01) -> Receipt:
        """Poll :meth:`receipt` until the transaction is mined (tools and tests only).

        Raises
        ------
        TxTimeout
            Not mined within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TxTimeout(f"transaction 0x{bytes(tx_hash).hex()} not mined within {timeout:g} s")
            time.sleep(poll)

    def send(self, to: str | None, payload: bytes | str = b"", *, gas: int | None = None,
             value: int = 0, check: bool = True, timeout: float = 30.0) -> Receipt:
        """Sign, send and wait for the receipt (tools, deployment and tests; it blocks).

        Without ``gas`` the gas is estimated (a revert raises :class:`Reverted` before sending).
        With ``check`` a mined transaction whose status is 0 also raises :class:`Reverted`.
        """
        if gas is None:
            gas = self.estimate_gas(to, payload, value) * 12 // 10 + GAS_MARGIN
        tx_hash = self.send_raw(self.sign(to, payload, gas=gas, value=value))
        receipt = self.wait_for_receipt(tx_hash, timeout)
        if check and receipt["status"] != 1:
            raise Reverted(f"transaction 0x{tx_hash.hex()} to {to} reverted (status 0)")
        return receipt

    # -- anvil state (devnet and tests) ---------------------------------------------------------

    def snapshot(self) -> str:
        """Take an anvil snapshot; returns its id for :meth:`revert_to`."""
        snap = self.rpc("evm_snapshot")
        quantity(snap, "evm_snapshot id")
        return snap

    def revert_to(self, snapshot_id: str) -> None:
        """Restore a snapshot (it is consumed) and forget the cached nonce."""
        if self.rpc("evm_revert", [snapshot_id]) is not True:
            raise ChainError(f"snapshot {snapshot_id} could not be restored")
        self.forget_nonce()

    # -- contracts (tools) ----------------------------------------------------------------------

    def deploy(self, abi: list[dict], bytecode: str, *args: Any) -> str:
        """Deploy a contract; returns its checksummed address."""
        ctor: dict[str, Any] = next((i for i in abi if i["type"] == "constructor"), {"inputs": []})
        if "__" in bytecode:
            raise ChainError("bytecode has unlinked library placeholders")
        code = bytes.fromhex(bytecode[2:] if bytecode.startswith("0x") else bytecode)
        receipt = self.send(None, code + abi_encode([_abi_type(i) for i in ctor["inputs"]], list(args)))
        if receipt["contractAddress"] is None:
            raise BadRpcAnswer(f"receipt of deployment 0x{receipt['transactionHash'].hex()} has no contract address")
        return receipt["contractAddress"]

    def contract(self, address: str, abi: list[dict]) -> Any:
        """A web3 contract object bound to this connection (its errors join the decoder)."""
        self.decoder.add(abi)
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    def transact(self, contract: Any, fn: str, *args: Any, gas: int | None = None,
                 check: bool = True) -> Receipt:
        """Send ``contract.fn(*args)`` as a transaction; returns the receipt."""
        return self.send(contract.address, contract.encode_abi(fn, args=list(args)), gas=gas, check=check)


def _abi_type(item: dict) -> str:
    """The canonical ABI type string of one input (tuples expanded)."""
    kind = item["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + kind[5:]
    return kind
