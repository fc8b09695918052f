"""Read chosen V3 ticks of several pools at one block, in one batched round trip."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from alphapulse.errors import ChainError
from contracts.answers import BadRpcAnswer, data
from contracts.client import Chain
from contracts.pools import V3Tick
from contracts.snapshot import PoolReadError

__all__ = ["read_ticks"]

_TICKS = keccak(text="ticks(int24)")[:4]
_TICK_TYPES = ["uint128", "int128", "uint256", "uint256", "int56", "uint160", "uint32", "bool"]


def read_ticks(chain: Chain, wanted: Mapping[str, Iterable[int]], block: int,
               block_hash: bytes | None = None) -> tuple[dict[str, list[V3Tick]], dict[str, ChainError]]:
    """``UniswapV3Pool.ticks(t)`` of every wanted tick, pinned to ``block`` (or its hash).

    Returns the ticks read per pool (sorted; an uninitialized tick has gross and net 0) and the
    :class:`PoolReadError` of every pool one of whose calls failed or answered malformed data.
    Raises what :meth:`Chain.rpc_batch` raises when the whole batch fails.
    """
    at: object = {"blockHash": "0x" + block_hash.hex(), "requireCanonical": True} if block_hash else hex(block)
    calls = [(pool, tick) for pool, ticks in wanted.items() for tick in sorted(set(ticks))]
    answers = chain.rpc_batch([("eth_call", [{"to": pool, "data": "0x" + (_TICKS + abi_encode(["int24"], [tick])).hex()},
                                             at]) for pool, tick in calls], errors=True)
    out: dict[str, list[V3Tick]] = {}
    failed: dict[str, ChainError] = {}
    for (pool, tick), answer in zip(calls, answers, strict=True):
        if pool in failed:
            continue
        value = _tick(pool, tick, answer)
        if isinstance(value, PoolReadError):
            failed[pool] = value
            out.pop(pool, None)
        else:
            out.setdefault(pool, []).append(value)
    return out, failed


def _tick(pool: str, tick: int, answer: object) -> V3Tick | PoolReadError:
    if isinstance(answer, ChainError):
        return PoolReadError("reverted", f"ticks({tick}) of {pool}: {answer}")
    try:
        raw = data(answer, f"ticks({tick}) of {pool}")
        gross, net, *_ = abi_decode(_TICK_TYPES, raw) if len(raw) == 32 * len(_TICK_TYPES) else (None, None)
    except (BadRpcAnswer, DecodingError) as exc:
        return PoolReadError("malformed", f"ticks({tick}) of {pool}: {exc}")
    if gross is None:
        return PoolReadError("malformed", f"ticks({tick}) of {pool}: {len(raw)} bytes")
    return V3Tick(tick, gross, net)
