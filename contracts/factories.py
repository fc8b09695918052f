"""Uniswap V2/V3 factories' pool-creation logs, decoded strictly, or a typed error.

=====================================================================================  ===========
event                                                                                  topic0
=====================================================================================  ===========
V2 ``PairCreated(address indexed token0, address indexed token1, address pair, uint)``  :data:`PAIR_CREATED`
V3 ``PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee,   :data:`POOL_CREATED`
int24 tickSpacing, address pool)``
=====================================================================================  ===========

A creation log becomes a :class:`NewPool` (the collector then reads it at a block with
:func:`contracts.snapshot.pool_infos` and :func:`contracts.snapshot.snapshot_pools`). Nothing in
the log is trusted: it must come from a configured :class:`Factory`, hold the factory kind's
event in its exact ABI shape (no dirty words), name two distinct sorted non-zero tokens, and the
pool must sit at the CREATE2 address the factory and its init-code hash give those tokens (and
fee). Anything else raises :class:`contracts.events.BadLog` with a ``kind``: ``unknown_factory``
for a log from another address, ``not_create2`` for a pool elsewhere, the kinds of
:mod:`contracts.events` for the rest. No other exception escapes :func:`decode_factory_log`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from alphapulse.errors import ChainError
from contracts.deploy import init_code_hash, v2_pair_address, v3_pool_address
from contracts.events import BadLog, topic0
from contracts.npm import V2, V3
from mesh.protocol.constants import PoolKind, VenueId

__all__ = ["PAIR_CREATED", "POOL_CREATED", "Factory", "NewPool", "decode_factory_log",
           "factories_from_manifest"]

#: topic0 of UniswapV2Factory's ``PairCreated``.
PAIR_CREATED = topic0("PairCreated(address,address,address,uint256)")
#: topic0 of UniswapV3Factory's ``PoolCreated``.
POOL_CREATED = topic0("PoolCreated(address,address,uint24,int24,address)")

_WORD = 32
_MAX_TICK_SPACING = 16384  # UniswapV3Factory.enableFeeAmount: 0 < tickSpacing < 16384


@dataclass(slots=True, frozen=True)
class Factory:
    """A trusted pool factory.

    Attributes
    ----------
    address : str
        The factory (checksummed).
    kind : PoolKind
        UNISWAP_V2 (emits PairCreated) or UNISWAP_V3 (emits PoolCreated).
    init_code_hash : bytes
        keccak256 of its pools' creation code; empty picks the pinned npm package's
        (UniswapV2Pair or UniswapV3Pool).
    venue : int
        VenueId of its pools; 0 picks UNISWAP_V2 or UNISWAP_V3 by kind.
    fee_bps : int
        V2 only: the pairs' swap fee in basis points (30 for Uniswap V2; a log does not say it).
    """

    address: str
    kind: PoolKind
    init_code_hash: bytes = b""
    venue: int = 0
    fee_bps: int = 30

    def __post_init__(self) -> None:
        if self.kind not in (PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3):
            raise ChainError(f"factory kind {self.kind!r} is not Uniswap V2 or V3")
        v3 = self.kind == PoolKind.UNISWAP_V3
        object.__setattr__(self, "address", to_checksum_address(self.address))
        if not self.init_code_hash:
            code_hash = init_code_hash(V3, "UniswapV3Pool") if v3 else init_code_hash(V2, "UniswapV2Pair")
            object.__setattr__(self, "init_code_hash", code_hash)
        if len(self.init_code_hash) != 32:
            raise ChainError(f"init-code hash of factory {self.address} is not 32 bytes")
        if self.venue == 0:
            object.__setattr__(self, "venue", int(VenueId.UNISWAP_V3 if v3 else VenueId.UNISWAP_V2))
        if not (0 < self.venue <= 0xFFFF and 0 <= self.fee_bps < 10_000):
            raise ChainError(f"factory {self.address}: venue {self.venue} or fee {self.fee_bps} bps invalid")


@dataclass(slots=True, frozen=True)
class NewPool:
    """A pool created by a trusted factory, as its creation log says.

    Attributes
    ----------
    factory : str
        The factory that emitted the log (checksummed).
    kind : PoolKind
        UNISWAP_V2 or UNISWAP_V3.
    token0, token1 : str
        The pool's tokens (checksummed), token0 < token1.
    fee : int
        V3: the fee in millionths from the log; V2: the factory's configured fee in bps (as
        :class:`contracts.events.PoolInfo` takes it).
    tick_spacing : int
        V3 tick spacing; 0 for V2.
    pool : str
        The new pool's address (checksummed), its CREATE2 address.
    block, log_index : int
        Where the log is in the chain.
    venue : int
        The factory's VenueId.
    """

    factory: str
    kind: PoolKind
    token0: str
    token1: str
    fee: int
    tick_spacing: int
    pool: str
    block: int
    log_index: int
    venue: int


def factories_from_manifest(manifest: Mapping[str, Any]) -> dict[str, Factory]:
    """The devnet manifest's factories by checksummed address, with the pinned init-code hashes.

    The ``uniswap_v2_fork`` factory's pairs get venue SUSHISWAP, as in
    :func:`contracts.events.registry_from_manifest`.
    """
    sections = (("uniswap_v2", PoolKind.UNISWAP_V2, VenueId.UNISWAP_V2),
                ("uniswap_v2_fork", PoolKind.UNISWAP_V2, VenueId.SUSHISWAP),
                ("uniswap_v3", PoolKind.UNISWAP_V3, VenueId.UNISWAP_V3))
    out: dict[str, Factory] = {}
    for section, kind, venue in sections:
        if section in manifest:
            factory = Factory(manifest[section]["factory"], kind, venue=int(venue))
            out[factory.address] = factory
    return out


def _is_index(value: Any) -> bool:
    return type(value) is int and 0 <= value < 2**64


def _address(word: bytes, what: str) -> str:
    if word[:12] != bytes(12):
        raise BadLog("out_of_range", f"{what} word {word.hex()} is not an address")
    return to_checksum_address(word[12:])


def _shape(topics: list[bytes], data: bytes, n_topics: int, n_words: int, event: str) -> list[bytes]:
    if len(topics) != n_topics:
        raise BadLog("topic_count", f"{event}: {len(topics)} topics, expected {n_topics}")
    if len(data) != n_words * _WORD:
        raise BadLog("data_length", f"{event}: {len(data)} bytes of data, expected {n_words * _WORD}")
    return [data[i:i + _WORD] for i in range(0, len(data), _WORD)]


def _tokens(topics: list[bytes], event: str) -> tuple[str, str]:
    token0, token1 = _address(topics[1], f"{event} token0"), _address(topics[2], f"{event} token1")
    if not 0 < int(token0, 16) < int(token1, 16):
        raise BadLog("inconsistent", f"{event}: tokens {token0}, {token1} are not two sorted non-zero addresses")
    return token0, token1


def _pair_created(factory: Factory, topics: list[bytes], data: bytes) -> tuple[str, str, int, int, str]:
    words = _shape(topics, data, 3, 2, "PairCreated")
    token0, token1 = _tokens(topics, "PairCreated")
    pair = _address(words[0], "PairCreated pair")
    if int.from_bytes(words[1], "big") == 0:  # allPairs.length after the push
        raise BadLog("inconsistent", "PairCreated: pair count 0")
    if pair != v2_pair_address(factory.address, token0, token1, factory.init_code_hash):
        raise BadLog("not_create2", f"PairCreated: pair {pair} is not factory {factory.address}'s CREATE2 "
                                    f"address for {token0}, {token1}")
    return token0, token1, factory.fee_bps, 0, pair


def _pool_created(factory: Factory, topics: list[bytes], data: bytes) -> tuple[str, str, int, int, str]:
    words = _shape(topics, data, 4, 2, "PoolCreated")
    token0, token1 = _tokens(topics, "PoolCreated")
    fee = int.from_bytes(topics[3], "big")
    spacing = int.from_bytes(words[0], "big", signed=True)
    if fee >> 24:
        raise BadLog("out_of_range", f"PoolCreated: fee {fee:#x} does not fit uint24")
    if not -(2**23) <= spacing < 2**23:
        raise BadLog("out_of_range", f"PoolCreated: tickSpacing word {words[0].hex()} is not an int24")
    pool = _address(words[1], "PoolCreated pool")
    if not (0 < fee < 1_000_000 and 0 < spacing < _MAX_TICK_SPACING):
        raise BadLog("inconsistent", f"PoolCreated: fee {fee} or tick spacing {spacing} no factory enables")
    if pool != v3_pool_address(factory.address, token0, token1, fee, factory.init_code_hash):
        raise BadLog("not_create2", f"PoolCreated: pool {pool} is not factory {factory.address}'s CREATE2 "
                                    f"address for {token0}, {token1}, fee {fee}")
    if fee % 100:
        raise BadLog("unrepresentable", f"PoolCreated: fee {fee} is not a whole number of bps")
    return token0, token1, fee, spacing, pool


_EVENTS = {(PoolKind.UNISWAP_V2, PAIR_CREATED): _pair_created, (PoolKind.UNISWAP_V3, POOL_CREATED): _pool_created}


def decode_factory_log(log: Mapping[str, Any], factories: Mapping[str, Factory]) -> NewPool:
    """Turn one factory log into the pool it announces.

    Parameters
    ----------
    log
        A log as :func:`contracts.logs.get_logs` or :class:`contracts.subscribe.Subscription`
        return it (``address`` checksummed; ``topics`` and ``data`` bytes; ``blockNumber``,
        ``logIndex`` ints).
    factories
        The trusted factories by checksummed address.

    Returns
    -------
    NewPool
        The new pool, its tokens, fee, tick spacing and where the log is.

    Raises
    ------
    BadLog
        Malformed, reorged out (``removed``), from an address that is no configured factory
        (``unknown_factory``), not the factory's creation event, not its ABI shape, holding a
        dirty word, unsorted or zero tokens, a pool off its CREATE2 address (``not_create2``), or
        a V3 fee that is not a whole number of bps (``unrepresentable``).
    """
    try:
        address, topics, data = log["address"], log["topics"], log["data"]
        block, index, removed = log["blockNumber"], log["logIndex"], log.get("removed", False)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadLog("malformed", f"not a log: {exc!r}") from exc
    if not (isinstance(address, str) and isinstance(topics, list | tuple) and isinstance(data, bytes | bytearray)
            and all(isinstance(t, bytes | bytearray) and len(t) == _WORD for t in topics)
            and _is_index(block) and _is_index(index)):
        raise BadLog("malformed", f"log fields of the wrong type or size at {address!r}")
    if removed is not False:
        raise BadLog("removed", f"log (block {block}, index {index}) was removed by a reorg")
    factory = factories.get(address)
    if factory is None:
        raise BadLog("unknown_factory", f"log (block {block}, index {index}) from {address}, no configured factory")
    handler = _EVENTS.get((factory.kind, bytes(topics[0]))) if topics else None
    if handler is None:
        raise BadLog("unknown_event", f"log (block {block}, index {index}) of factory {address}: topic0 "
                                      f"{topics[0].hex() if topics else 'absent'} is no pool creation")
    token0, token1, fee, spacing, pool = handler(factory, [bytes(t) for t in topics], bytes(data))
    return NewPool(factory.address, factory.kind, token0, token1, fee, spacing, pool, block, index, factory.venue)
