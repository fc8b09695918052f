"""JSON-RPC answers are untrusted: check their shape and types, convert them to exact values.

Every parser takes what a node sent (hex strings as on the wire, or the ints and bytes web3's
formatters make of them on a websocket subscription) and returns plain Python values, or raises
:class:`BadRpcAnswer` naming the field. Nothing here talks to the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from eth_utils import to_checksum_address

from alphapulse.errors import ChainError

UINT256_MAX = 2**256 - 1


class BadRpcAnswer(ChainError):
    """A node answered with something that is not a well-formed answer to the question asked."""

    kind = "bad_rpc_answer"


class RpcError(ChainError):
    """A node answered a request with a JSON-RPC error object.

    Attributes
    ----------
    code : int
        The JSON-RPC error code.
    rpc_message : str
        The node's message (truncated to 300 characters).
    data : object
        The error's ``data`` member, None when absent.
    """

    kind = "rpc_error"

    def __init__(self, method: str, code: int, message: str, data: Any = None):
        super().__init__(f"{method} failed: {message} (code {code})")
        self.code = code
        self.rpc_message = message
        self.data = data


class Log(TypedDict):
    """One event log, with web3's key names so receipt-reading code works on either."""

    address: str
    topics: list[bytes]
    data: bytes
    blockNumber: int
    blockHash: bytes
    transactionHash: bytes
    transactionIndex: int
    logIndex: int
    removed: bool


class Receipt(TypedDict):
    """A transaction receipt, with web3's key names."""

    transactionHash: bytes
    transactionIndex: int
    blockHash: bytes
    blockNumber: int
    status: int
    gasUsed: int
    cumulativeGasUsed: int
    effectiveGasPrice: int
    contractAddress: str | None
    logs: list[Log]


@dataclass(slots=True, frozen=True)
class Head:
    """What the fee and reorg logic needs of a block header (all exact integers)."""

    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    gas_limit: int
    gas_used: int
    base_fee: int


def result_of(method: str, response: Any) -> Any:
    """The ``result`` of one JSON-RPC response object; raises :class:`RpcError` for an error answer.

    Raises
    ------
    RpcError
        The response carries a JSON-RPC ``error`` object.
    BadRpcAnswer
        The response is neither a result nor a well-formed error.
    """
    if not isinstance(response, dict):
        raise BadRpcAnswer(f"{method}: the answer is a {type(response).__name__}, not a JSON-RPC object")
    error = response.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise BadRpcAnswer(f"{method}: the error member is not an object")
        code, message = error.get("code"), error.get("message")
        if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
            raise BadRpcAnswer(f"{method}: the error object has no integer code or string message")
        raise RpcError(method, code, message[:300], error.get("data"))
    if "result" not in response:
        raise BadRpcAnswer(f"{method}: the answer has neither result nor error")
    return response["result"]


def quantity(value: Any, what: str, maximum: int = UINT256_MAX) -> int:
    """An unsigned integer from a hex quantity (``"0x1a"``) or an int, within ``[0, maximum]``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            number = int(value[2:], 16)
        except ValueError:
            raise BadRpcAnswer(f"{what} is not a hex quantity: {value[:80]!r}") from None
    else:
        raise BadRpcAnswer(f"{what} is not a hex quantity: {str(value)[:80]!r}")
    if not 0 <= number <= maximum:
        raise BadRpcAnswer(f"{what} is out of range: {number}")
    return number


def data(value: Any, what: str, size: int | None = None) -> bytes:
    """Bytes from hex data (``"0x..."``) or bytes, of exactly ``size`` bytes when given."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) % 2 == 0:
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise BadRpcAnswer(f"{what} is not hex data: {value[:80]!r}") from None
    else:
        raise BadRpcAnswer(f"{what} is not hex data: {str(value)[:80]!r}")
    if size is not None and len(raw) != size:
        raise BadRpcAnswer(f"{what} has {len(raw)} bytes, not {size}")
    return raw


#: Checksummed forms of the addresses seen lately: answers name the same few contracts again and
#: again, and checksumming (a keccak) costs more than the rest of a log's parsing.
_CHECKSUMMED: dict[bytes, str] = {}
_CHECKSUMMED_KEPT = 65536


def address(value: Any, what: str) -> str:
    """A checksummed address from 20 bytes of hex (any case) or bytes."""
    raw = data(value, what, 20)
    checksummed = _CHECKSUMMED.get(raw)
    if checksummed is None:
        if len(_CHECKSUMMED) >= _CHECKSUMMED_KEPT:
            _CHECKSUMMED.clear()
        checksummed = _CHECKSUMMED[raw] = to_checksum_address(raw)
    return checksummed


def _field(obj: dict, key: str, what: str) -> Any:
    if key not in obj:
        raise BadRpcAnswer(f"{what} has no {key}")
    return obj[key]


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):  # web3's AttributeDict is a Mapping, not a dict
        try:
            return dict(value)
        except (TypeError, ValueError):
            raise BadRpcAnswer(f"{what} is a {type(value).__name__}, not an object") from None
    return value


def parse_head(value: Any, what: str = "block header") -> Head:
    """A :class:`Head` from a block object (``eth_getBlockByNumber`` or a ``newHeads`` message).

    Raises
    ------
    BadRpcAnswer
        A field is missing or malformed, there is no ``baseFeePerGas`` (not an EIP-1559 chain),
        the gas used exceeds the gas limit, or the block is pending (no number or hash).
    """
    if value is None:
        raise BadRpcAnswer(f"{what} is null (no such block)")
    obj = _object(value, what)
    if "baseFeePerGas" not in obj or obj["baseFeePerGas"] is None:
        raise BadRpcAnswer(f"{what} has no baseFeePerGas: not an EIP-1559 chain")
    head = Head(
        number=quantity(_field(obj, "number", what), f"{what} number", 2**63 - 1),
        hash=data(_field(obj, "hash", what), f"{what} hash", 32),
        parent_hash=data(_field(obj, "parentHash", what), f"{what} parentHash", 32),
        timestamp=quantity(_field(obj, "timestamp", what), f"{what} timestamp", 2**63 - 1),
        gas_limit=quantity(_field(obj, "gasLimit", what), f"{what} gasLimit", 2**63 - 1),
        gas_used=quantity(_field(obj, "gasUsed", what), f"{what} gasUsed", 2**63 - 1),
        base_fee=quantity(obj["baseFeePerGas"], f"{what} baseFeePerGas"),
    )
    if head.gas_used > head.gas_limit:
        raise BadRpcAnswer(f"{what} {head.number} used {head.gas_used} gas, above its limit {head.gas_limit}")
    return head


def parse_log(value: Any, what: str = "log") -> Log:
    """A mined :class:`Log` (pending logs, without block number, are refused)."""
    log = _plain_log(value)
    return log if log is not None else _checked_log(value, what)


def _hex_bytes(value: Any, size: int) -> bytes | None:
    """``size`` bytes from ``"0x"`` + hex (``size`` < 0: any length), or None."""
    if type(value) is not str or value[:2] != "0x" or len(value) & 1:
        return None
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        return None
    return raw if size < 0 or len(raw) == size else None


def _hex_int(value: Any, maximum: int) -> int | None:
    """A ``"0x"`` hex quantity within ``[0, maximum]``, or None."""
    if type(value) is not str or value[:2] != "0x" or not 2 < len(value) <= 66:
        return None
    try:
        number = int(value[2:], 16)
    except ValueError:
        return None
    return number if 0 <= number <= maximum else None


def _plain_log(value: Any) -> Log | None:
    """:func:`parse_log` of a log as ``eth_getLogs`` sends it (hex strings, ``0x`` prefixes), or
    None for anything else, which :func:`_checked_log` then parses or rejects with its reason.

    The hot path of a collector: the same checks, without building an error text per field.
    Whatever it accepts, :func:`_checked_log` accepts with the same result.
    """
    if type(value) is not dict:
        return None
    topics, removed = value.get("topics"), value.get("removed", False)
    if type(topics) is not list or len(topics) > 4 or type(removed) is not bool:
        return None
    words = [_hex_bytes(t, 32) for t in topics]
    raw = _hex_bytes(value.get("address"), 20)
    payload, block_hash, tx_hash = (_hex_bytes(value.get("data"), -1), _hex_bytes(value.get("blockHash"), 32),
                                    _hex_bytes(value.get("transactionHash"), 32))
    number, tx_index, index = (_hex_int(value.get("blockNumber"), 2**63 - 1),
                               _hex_int(value.get("transactionIndex"), 2**32), _hex_int(value.get("logIndex"), 2**32))
    if (raw is None or None in words or payload is None or block_hash is None or tx_hash is None or number is None
            or tx_index is None or index is None):
        return None
    return Log(address=_CHECKSUMMED.get(raw) or address(raw, "log address"),
               topics=words, data=payload, blockNumber=number,  # type: ignore[typeddict-item]
               blockHash=block_hash, transactionHash=tx_hash, transactionIndex=tx_index, logIndex=index,
               removed=removed)


def _checked_log(value: Any, what: str) -> Log:
    obj = _object(value, what)
    topics = _field(obj, "topics", what)
    if not isinstance(topics, list | tuple) or len(topics) > 4:
        raise BadRpcAnswer(f"{what} topics is not a list of at most 4 topics")
    removed = obj.get("removed", False)
    if not isinstance(removed, bool):
        raise BadRpcAnswer(f"{what} removed is not a boolean")
    return Log(
        address=address(_field(obj, "address", what), f"{what} address"),
        topics=[data(t, f"{what} topic", 32) for t in topics],
        data=data(_field(obj, "data", what), f"{what} data"),
        blockNumber=quantity(_field(obj, "blockNumber", what), f"{what} blockNumber", 2**63 - 1),
        blockHash=data(_field(obj, "blockHash", what), f"{what} blockHash", 32),
        transactionHash=data(_field(obj, "transactionHash", what), f"{what} transactionHash", 32),
        transactionIndex=quantity(_field(obj, "transactionIndex", what), f"{what} transactionIndex", 2**32),
        logIndex=quantity(_field(obj, "logIndex", what), f"{what} logIndex", 2**32),
        removed=removed,
    )


def parse_receipt(value: Any, tx_hash: bytes | None = None, what: str = "receipt") -> Receipt | None:
    """A :class:`Receipt`, or None for a null answer (not mined yet).

    ``tx_hash``, when given, must be the receipt's transaction hash, and the receipt's logs must
    belong to it and to its block.
    """
    if value is None:
        return None
    obj = _object(value, what)
    logs = _field(obj, "logs", what)
    if not isinstance(logs, list | tuple):
        raise BadRpcAnswer(f"{what} logs is not a list")
    contract = obj.get("contractAddress")
    receipt = Receipt(
        transactionHash=data(_field(obj, "transactionHash", what), f"{what} transactionHash", 32),
        transactionIndex=quantity(_field(obj, "transactionIndex", what), f"{what} transactionIndex", 2**32),
        blockHash=data(_field(obj, "blockHash", what), f"{what} blockHash", 32),
        blockNumber=quantity(_field(obj, "blockNumber", what), f"{what} blockNumber", 2**63 - 1),
        status=quantity(_field(obj, "status", what), f"{what} status", 1),
        gasUsed=quantity(_field(obj, "gasUsed", what), f"{what} gasUsed", 2**63 - 1),
        cumulativeGasUsed=quantity(_field(obj, "cumulativeGasUsed", what), f"{what} cumulativeGasUsed", 2**63 - 1),
        effectiveGasPrice=quantity(_field(obj, "effectiveGasPrice", what), f"{what} effectiveGasPrice"),
        contractAddress=None if contract is None else address(contract, f"{what} contractAddress"),
        logs=[parse_log(item, f"{what} log") for item in logs],
    )
    if tx_hash is not None and receipt["transactionHash"] != tx_hash:
        raise BadRpcAnswer(f"{what} is for transaction 0x{receipt['transactionHash'].hex()}, "
                           f"not 0x{tx_hash.hex()}")
    for log in receipt["logs"]:
        if (log["transactionHash"] != receipt["transactionHash"]
                or log["blockNumber"] != receipt["blockNumber"]):
            raise BadRpcAnswer(f"{what} holds a log of another transaction or block")
    return receipt
