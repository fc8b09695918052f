"""``eth_getLogs`` by block range, addresses and topics, chunked, every answer checked.

A node's answer is believed only if each log is well formed, lies in the block window asked
for, comes from an address asked for, matches the topic filter, and the logs come in chain order
(block number, then log index, strictly increasing). Anything else raises
:class:`~contracts.answers.BadRpcAnswer`: a collector must never turn a stray log into a frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from alphapulse.errors import ChainError
from contracts.answers import BadRpcAnswer, Log, parse_log

#: One topic position: None matches anything, bytes one topic, a tuple any of several.
TopicSpec = bytes | tuple[bytes, ...] | None


@dataclass(slots=True, frozen=True)
class LogFilter:
    """Which logs to ask for.

    Attributes
    ----------
    addresses : tuple of str
        Emitting contracts (checksummed); empty means every contract.
    topics : tuple
        Per topic position: None (any), one 32-byte topic, or a tuple of alternatives.
    """

    addresses: tuple[str, ...] = ()
    topics: tuple[TopicSpec, ...] = ()

    @classmethod
    def of(cls, addresses: Sequence[str] = (), topics: Sequence[TopicSpec | Sequence[bytes]] = ()) -> LogFilter:
        """A filter from plain sequences; raises ChainError for a malformed address or topic."""
        try:
            checked = tuple(to_checksum_address(a) for a in addresses)
        except (ValueError, TypeError) as exc:
            raise ChainError(f"bad address in log filter: {exc}") from exc
        specs: list[TopicSpec] = []
        for spec in topics:
            if spec is None or isinstance(spec, bytes):
                specs.append(spec)
            else:  # alternatives; none at all means any topic, as in eth_getLogs
                specs.append(tuple(bytes(t) for t in spec) or None)
        flat = [t for s in specs if s is not None for t in ((s,) if isinstance(s, bytes) else s)]
        if len(specs) > 4 or any(len(t) != 32 for t in flat):
            raise ChainError("a log filter has at most 4 topic positions of 32-byte topics")
        return cls(checked, tuple(specs))

    def params(self, from_block: int, to_block: int) -> dict[str, Any]:
        """The ``eth_getLogs`` filter object for one block window."""
        params: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if self.addresses:
            params["address"] = list(self.addresses)
        if self.topics:
            params["topics"] = [None if s is None else "0x" + s.hex() if isinstance(s, bytes)
                                else ["0x" + t.hex() for t in s] for s in self.topics]
        return params

    def matches(self, log: Log) -> bool:
        """True if ``log`` is one this filter asks for."""
        if self.addresses and log["address"] not in self.addresses:
            return False
        topics = log["topics"]
        for position, spec in enumerate(self.topics):
            if spec is None:
                continue
            if position >= len(topics):
                return False
            if (topics[position] != spec) if isinstance(spec, bytes) else (topics[position] not in spec):
                return False
        return True


def get_logs(rpc: Callable[[str, list], Any], from_block: int, to_block: int, log_filter: LogFilter,
             *, max_range: int = 2000) -> list[Log]:
    """Logs of blocks ``from_block..to_block`` (inclusive), at most ``max_range`` blocks a query.

    Parameters
    ----------
    rpc
        A JSON-RPC caller such as :meth:`contracts.client.Chain.rpc`.
    from_block, to_block
        The inclusive block window; empty when ``to_block < from_block``.
    log_filter
        Addresses and topics.
    max_range
        Blocks per ``eth_getLogs`` query (providers cap the range or the result size).

    Returns
    -------
    list of Log
        In chain order.

    Raises
    ------
    BadRpcAnswer
        A log is malformed, outside the window, not asked for, or out of order.
    RpcError, ChainUnreachable
        As the caller raises them (a provider's "range too large" is an RpcError: ask again
        with a smaller ``max_range``).
    """
    if from_block < 0 or max_range < 1:
        raise ChainError(f"bad log query: from block {from_block}, max range {max_range}")
    logs: list[Log] = []
    last = (-1, -1)
    for start in range(from_block, to_block + 1, max_range):
        end = min(start + max_range - 1, to_block)
        answer = rpc("eth_getLogs", [log_filter.params(start, end)])
        if not isinstance(answer, list):
            raise BadRpcAnswer(f"eth_getLogs {start}..{end}: the answer is not a list")
        for item in answer:
            log = parse_log(item, f"eth_getLogs {start}..{end} log")
            where = (log["blockNumber"], log["logIndex"])
            if not start <= where[0] <= end:
                raise BadRpcAnswer(f"eth_getLogs {start}..{end} answered a log of block {where[0]}")
            if log["removed"] or not log_filter.matches(log):
                raise BadRpcAnswer(f"eth_getLogs {start}..{end} answered a log that was not asked for "
                                   f"(block {where[0]}, index {where[1]}, address {log['address']})")
            if where <= last:
                raise BadRpcAnswer(f"eth_getLogs {start}..{end}: log (block {where[0]}, index {where[1]}) "
                                   f"comes after ({last[0]}, {last[1]})")
            last = where
            logs.append(log)
    return logs
