"""Uniswap V2/V3 event logs to protocol messages, exactly, or a typed error.

One log, as the chain client returns it (:class:`contracts.answers.Log`: web3's key names,
checksummed ``address``, ``topics`` and ``data`` as bytes), becomes one market-data message:

=========================================  ==========================================================
event                                      message
=========================================  ==========================================================
V2 ``Sync(uint112,uint112)``               PoolSync (reserves)
V2 ``Swap``                                PoolSwap (net amounts in and out; no price or liquidity)
V2 ``Mint`` / ``Burn``                     PoolMint / PoolBurn (token amounts; ticks and liquidity 0)
V3 ``Swap``                                PoolSwap (amounts, sqrtPriceX96, liquidity, tick after)
V3 ``Mint`` / ``Burn``                     PoolMint / PoolBurn (tick range, liquidity delta, amounts)
V3 ``Initialize(uint160,int24)``           PoolState (price and tick; liquidity 0, reserves 0)
=========================================  ==========================================================

What a log does not carry comes from the caller: the pool's tokens, decimals, fee, tick spacing
and venue from a registry (:class:`PoolInfo` by checksummed address), the block timestamp as
``timestamp_ns``. PoolMint and PoolBurn have no block-number field: :class:`Decoded` carries the
block number, log index and transaction hash of every message beside it. The collector's
receive time belongs in the frame header's timestamp, not in these messages.

Every word is checked against its ABI type (no dirty high bits in a uint112, uint160, uint128,
int24 or address word), every value against what a genuine pool can emit (ticks in TickMath's
range and on the pool's tick spacing, a swap's tick matching its price) and against what the
wire can hold (u128 amounts). Anything else raises :class:`BadLog` with a ``kind`` for counting;
no other exception escapes :func:`decode_log`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick
from mesh.protocol.constants import DEXProtocol, PoolKind, VenueId
from mesh.protocol.messages.market import PoolBurn, PoolMint, PoolState, PoolSwap, PoolSync
from mesh.protocol.registry import Message

__all__ = [
    "BAD_LOG_KINDS", "TOPICS", "BadLog", "Decoded", "PoolInfo", "decode_log", "registry_from_manifest",
    "topic0",
]

U112_MAX = 2**112 - 1
U128_MAX = 2**128 - 1
U160_MAX = 2**160 - 1
_INT24_MIN, _INT24_MAX = -(2**23), 2**23 - 1
_WORD = 32

#: Every ``BadLog.kind``, for counters that list their labels up front.
BAD_LOG_KINDS = ("malformed", "removed", "unknown_pool", "unknown_event", "topic_count", "data_length",
                 "out_of_range", "inconsistent", "unrepresentable", "unknown_factory", "not_create2")


class BadLog(ChainError):
    """A log that cannot be turned into a message exactly.

    Attributes
    ----------
    kind : str
        One of :data:`BAD_LOG_KINDS`: ``malformed`` (not a log's shape or types), ``removed``
        (a reorged-out log), ``unknown_pool`` (address not in the registry), ``unknown_event``
        (topic0 not an event of the pool's kind), ``topic_count`` and ``data_length`` (not the
        event's ABI shape), ``out_of_range`` (a word outside its ABI type), ``inconsistent`` (a
        value no genuine pool emits), ``unrepresentable`` (valid, but the message cannot hold it);
        factory logs (:mod:`contracts.factories`) add ``unknown_factory`` and ``not_create2``.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def topic0(signature: str) -> bytes:
    """keccak256 of a canonical event signature such as ``"Sync(uint112,uint112)"``."""
    return keccak(text=signature)


V2_SYNC = topic0("Sync(uint112,uint112)")
V2_SWAP = topic0("Swap(address,uint256,uint256,uint256,uint256,address)")
V2_MINT = topic0("Mint(address,uint256,uint256)")
V2_BURN = topic0("Burn(address,uint256,uint256,address)")
V3_SWAP = topic0("Swap(address,address,int256,int256,uint160,uint128,int24)")
V3_MINT = topic0("Mint(address,address,int24,int24,uint128,uint256,uint256)")
V3_BURN = topic0("Burn(address,int24,int24,uint128,uint256,uint256)")
V3_INITIALIZE = topic0("Initialize(uint160,int24)")

#: topic0 of every decoded event, by (pool kind, event name).
TOPICS: dict[tuple[PoolKind, str], bytes] = {
    (PoolKind.UNISWAP_V2, "Sync"): V2_SYNC, (PoolKind.UNISWAP_V2, "Swap"): V2_SWAP,
    (PoolKind.UNISWAP_V2, "Mint"): V2_MINT, (PoolKind.UNISWAP_V2, "Burn"): V2_BURN,
    (PoolKind.UNISWAP_V3, "Swap"): V3_SWAP, (PoolKind.UNISWAP_V3, "Mint"): V3_MINT,
    (PoolKind.UNISWAP_V3, "Burn"): V3_BURN, (PoolKind.UNISWAP_V3, "Initialize"): V3_INITIALIZE,
}


@dataclass(slots=True, frozen=True)
class PoolInfo:
    """What the messages need of a pool that its logs do not say (from a pool registry).

    Attributes
    ----------
    kind : PoolKind
        UNISWAP_V2 or UNISWAP_V3.
    token0, token1 : bytes
        The pool's tokens, 20 bytes each, token0 < token1 as the pool sorts them.
    decimals0, decimals1 : int
        The tokens' decimals (0..255).
    fee : int
        V2: fee in bps (30); V3: fee in millionths (500, 3000), a multiple of 100 so that
        PoolState's ``fee_rate`` (bps) holds it.
    tick_spacing : int
        V3 tick spacing (positive); 0 for V2.
    venue : int
        VenueId written into the messages; 0 picks UNISWAP_V2 or UNISWAP_V3 by kind.
    """

    kind: PoolKind
    token0: bytes
    token1: bytes
    decimals0: int
    decimals1: int
    fee: int
    tick_spacing: int = 0
    venue: int = 0

    def __post_init__(self) -> None:
        v3 = self.kind == PoolKind.UNISWAP_V3
        if self.kind not in (PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3):
            raise ChainError(f"pool kind {self.kind!r} is not a Uniswap V2 or V3 pool")
        if len(self.token0) != 20 or len(self.token1) != 20 or not self.token0 < self.token1:
            raise ChainError("pool tokens must be two sorted 20-byte addresses")
        if not (0 <= self.decimals0 <= 255 and 0 <= self.decimals1 <= 255):
            raise ChainError(f"token decimals {self.decimals0}, {self.decimals1} outside 0..255")
        if v3 and not (0 < self.fee < 1_000_000 and self.fee % 100 == 0 and 0 < self.tick_spacing <= 16384):
            raise ChainError(f"V3 fee {self.fee} or tick spacing {self.tick_spacing} not representable")
        if not v3 and not (0 <= self.fee < 10_000 and self.tick_spacing == 0):
            raise ChainError(f"V2 fee {self.fee} bps or tick spacing {self.tick_spacing} invalid")
        if not 0 <= self.venue <= 0xFFFF:
            raise ChainError(f"venue {self.venue} outside u16")
        if self.venue == 0:
            object.__setattr__(self, "venue", int(VenueId.UNISWAP_V3 if v3 else VenueId.UNISWAP_V2))


class Decoded(NamedTuple):
    """One decoded log: the message and where in the chain it comes from (immutable).

    Attributes
    ----------
    message : Message
        PoolSync, PoolSwap, PoolMint, PoolBurn or PoolState.
    pool : str
        The emitting pool (checksummed).
    block_number, log_index : int
        The log's position in the chain.
    transaction_hash : bytes
        The transaction that emitted it.
    """

    message: Message
    pool: str
    block_number: int
    log_index: int
    transaction_hash: bytes


def registry_from_manifest(manifest: Mapping[str, Any]) -> dict[str, PoolInfo]:
    """Every V2 pair and V3 pool of a devnet manifest, by checksummed address.

    Pairs of the ``uniswap_v2_fork`` factory are written with venue SUSHISWAP.
    """
    decimals = {to_checksum_address(t["address"]): int(t["decimals"]) for t in manifest["tokens"].values()}
    out: dict[str, PoolInfo] = {}
    venues = (("uniswap_v2", VenueId.UNISWAP_V2), ("uniswap_v2_fork", VenueId.SUSHISWAP),
              ("uniswap_v3", VenueId.UNISWAP_V3))
    for section, venue in venues:
        for pool in manifest.get(section, {}).get("pairs", manifest.get(section, {}).get("pools", [])):
            t0, t1 = to_checksum_address(pool["token0"]), to_checksum_address(pool["token1"])
            v3 = pool["kind"] == "v3"
            out[to_checksum_address(pool["address"])] = PoolInfo(
                PoolKind.UNISWAP_V3 if v3 else PoolKind.UNISWAP_V2, bytes.fromhex(t0[2:]),
                bytes.fromhex(t1[2:]), decimals[t0], decimals[t1], int(pool["fee"] if v3 else pool["fee_bps"]),
                int(pool["tick_spacing"]) if v3 else 0, int(venue))
    return out


# --- words ---------------------------------------------------------------------------------------

def _uint(word: bytes, bits: int, what: str) -> int:
    value = int.from_bytes(word, "big")
    if value >> bits:
        raise BadLog("out_of_range", f"{what} {value:#x} does not fit uint{bits}")
    return value


def _int(word: bytes, bits: int, what: str) -> int:
    value = int.from_bytes(word, "big", signed=True)
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise BadLog("out_of_range", f"{what} word {word.hex()} is not a sign-extended int{bits}")
    return value


def _address(word: bytes, what: str) -> bytes:
    if word[:12] != bytes(12):
        raise BadLog("out_of_range", f"{what} word {word.hex()} is not an address")
    return word[12:]


def _wire(value: int, what: str) -> int:
    if value > U128_MAX:
        raise BadLog("unrepresentable", f"{what} {value} exceeds the message's u128")
    return value


def _words(data: bytes, n: int, event: str) -> list[bytes]:
    if len(data) != n * _WORD:
        raise BadLog("data_length", f"{event}: {len(data)} bytes of data, expected {n * _WORD}")
    return [data[i:i + _WORD] for i in range(0, n * _WORD, _WORD)]


def _topics(topics: list[bytes], n: int, event: str) -> None:
    if len(topics) != n:
        raise BadLog("topic_count", f"{event}: {len(topics)} topics, expected {n}")


def _tick_range(lower_word: bytes, upper_word: bytes, info: PoolInfo, event: str) -> tuple[int, int]:
    lower = _int(lower_word, 24, f"{event} tickLower")
    upper = _int(upper_word, 24, f"{event} tickUpper")
    if not (MIN_TICK <= lower < upper <= MAX_TICK and lower % info.tick_spacing == 0
            and upper % info.tick_spacing == 0):
        raise BadLog("inconsistent", f"{event}: tick range [{lower}, {upper}) is not a valid range "
                                     f"for tick spacing {info.tick_spacing}")
    return lower, upper


#: TickMath bounds of recently seen ticks: a pool's price stays within a few ticks for many swaps.
_BOUNDS: dict[int, tuple[int, int]] = {}
_BOUNDS_KEPT = 4096


def _tick_bounds(tick: int) -> tuple[int, int]:
    """``(sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1))``, remembered."""
    bounds = _BOUNDS.get(tick)
    if bounds is None:
        if len(_BOUNDS) >= _BOUNDS_KEPT:
            _BOUNDS.clear()
        bounds = _BOUNDS[tick] = (sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1))
    return bounds


def _price_and_tick(sqrt_word: bytes, tick_word: bytes, event: str, *, exact: bool) -> tuple[int, int]:
    """sqrtPriceX96 and tick, checked against TickMath (``exact``: tick is the price's own tick)."""
    sqrt_price = _uint(sqrt_word, 160, f"{event} sqrtPriceX96")
    tick = _int(tick_word, 24, f"{event} tick")
    if not (MIN_SQRT_RATIO <= sqrt_price < MAX_SQRT_RATIO and MIN_TICK <= tick < MAX_TICK):
        raise BadLog("inconsistent", f"{event}: sqrtPriceX96 {sqrt_price} or tick {tick} outside TickMath's range")
    low, high = _tick_bounds(tick)
    # A swap that stops on a tick boundary moving down reports the tick below it (UniswapV3Pool.swap).
    if not (low <= sqrt_price < high or (not exact and sqrt_price == high)):
        raise BadLog("inconsistent", f"{event}: tick {tick} does not match sqrtPriceX96 {sqrt_price}")
    return sqrt_price, tick


# --- events --------------------------------------------------------------------------------------

#: Builds a record from its fields in order, without the keyword-parsing ``__new__`` (half the
#: cost of a V2 Sync's decode): PoolSync and Decoded on the hot path.
_new = tuple.__new__
_SYNC_FIELDS = ("reserve0", "reserve1", "timestamp_ns", "block_number", "venue", "token0_decimals",
                "token1_decimals", "pool_address", "token0_addr", "token1_addr")
_SWAP_FIELDS = ("amount_in", "amount_out", "liquidity_after", "timestamp_ns", "block_number", "tick_after", "venue",
                "amount_in_decimals", "amount_out_decimals", "pool_address", "token_in_addr", "token_out_addr",
                "sqrt_price_x96_after")
if PoolSync._fields != _SYNC_FIELDS or PoolSwap._fields != _SWAP_FIELDS:  # type: ignore[attr-defined]
    raise ImportError("PoolSync's or PoolSwap's fields changed: contracts.events builds them by position")
_ZERO12 = bytes(12)

_Handler = Callable[[list[bytes], bytes, bytes, PoolInfo, int, int], Message]


def _v2_sync(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    # The hot path of every V2 swap: the checks of _topics, _words and _uint, inlined.
    if len(topics) != 1:
        _topics(topics, 1, "V2 Sync")
    if len(data) != 2 * _WORD:
        _words(data, 2, "V2 Sync")
    reserve0, reserve1 = int.from_bytes(data[:_WORD], "big"), int.from_bytes(data[_WORD:], "big")
    if reserve0 >> 112 or reserve1 >> 112:
        _uint(data[:_WORD], 112, "V2 Sync reserve0")
        _uint(data[_WORD:], 112, "V2 Sync reserve1")
    return _new(PoolSync, (reserve0, reserve1, ts, block, info.venue, info.decimals0, info.decimals1, pool,  # type: ignore[type-var]
                           info.token0, info.token1))


def _v2_swap(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    # Each check inlined for the good case; the helpers raise the precise error otherwise.
    if len(topics) != 3:
        _topics(topics, 3, "V2 Swap")
    if topics[1][:12] != _ZERO12 or topics[2][:12] != _ZERO12:
        _address(topics[1], "V2 Swap sender")
        _address(topics[2], "V2 Swap to")
    if len(data) != 4 * _WORD:
        _words(data, 4, "V2 Swap")
    # Four uint256 words: any 32 bytes are one.
    in0, in1 = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
    out0, out1 = int.from_bytes(data[64:96], "big"), int.from_bytes(data[96:], "big")
    net0, net1 = in0 - out0, in1 - out1  # what the pair gained of each token
    if net0 > 0 > net1:
        forward, amount_in, amount_out = True, net0, -net1
    elif net1 > 0 > net0:
        forward, amount_in, amount_out = False, net1, -net0
    else:
        raise BadLog("unrepresentable", f"V2 Swap in ({in0}, {in1}) out ({out0}, {out1}) has no single direction")
    return _swap(info, pool, block, ts, forward, amount_in, amount_out, 0, 0, 0)


def _swap(info: PoolInfo, pool: bytes, block: int, ts: int, forward: bool, amount_in: int, amount_out: int,
          sqrt_price: int, liquidity: int, tick: int) -> Message:
    if amount_in > U128_MAX or amount_out > U128_MAX:
        _wire(amount_in, "swap amount in")
        _wire(amount_out, "swap amount out")
    if forward:
        return _new(PoolSwap, (amount_in, amount_out, liquidity, ts, block, tick, info.venue,  # type: ignore[type-var]
                               info.decimals0, info.decimals1, pool, info.token0, info.token1, sqrt_price))
    return _new(PoolSwap, (amount_in, amount_out, liquidity, ts, block, tick, info.venue,  # type: ignore[type-var]
                           info.decimals1, info.decimals0, pool, info.token1, info.token0, sqrt_price))


def _mint_burn(cls: Any, info: PoolInfo, pool: bytes, ts: int, provider: bytes, liquidity: int,
               amount0: int, amount1: int, lower: int, upper: int) -> Message:
    return cls(liquidity_delta=liquidity, amount0=_wire(amount0, "amount0"), amount1=_wire(amount1, "amount1"),
               timestamp_ns=ts, tick_lower=lower, tick_upper=upper, venue=info.venue,
               token0_decimals=info.decimals0, token1_decimals=info.decimals1, pool_address=pool,
               provider_addr=provider, token0_addr=info.token0, token1_addr=info.token1)


def _v2_mint(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    _topics(topics, 2, "V2 Mint")
    sender = _address(topics[1], "V2 Mint sender")
    a0, a1 = (_uint(w, 256, "V2 Mint amount") for w in _words(data, 2, "V2 Mint"))
    return _mint_burn(PoolMint, info, pool, ts, sender, 0, a0, a1, 0, 0)


def _v2_burn(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    _topics(topics, 3, "V2 Burn")
    sender = _address(topics[1], "V2 Burn sender")
    _address(topics[2], "V2 Burn to")
    a0, a1 = (_uint(w, 256, "V2 Burn amount") for w in _words(data, 2, "V2 Burn"))
    return _mint_burn(PoolBurn, info, pool, ts, sender, 0, a0, a1, 0, 0)


def _v3_swap(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    if len(topics) != 3:
        _topics(topics, 3, "V3 Swap")
    if topics[1][:12] != _ZERO12 or topics[2][:12] != _ZERO12:
        _address(topics[1], "V3 Swap sender")
        _address(topics[2], "V3 Swap recipient")
    if len(data) != 5 * _WORD:
        _words(data, 5, "V3 Swap")
    # Two int256 words (any 32 bytes are one), then the checked price, liquidity and tick.
    amount0, amount1 = int.from_bytes(data[:32], "big", signed=True), int.from_bytes(data[32:64], "big", signed=True)
    sqrt_price, tick = _price_and_tick(data[64:96], data[128:], "V3 Swap", exact=False)
    liquidity = _uint(data[96:128], 128, "V3 Swap liquidity")
    if amount0 >= 0 >= amount1:
        # A swap through empty ticks can move the price and no tokens: (0, 0) is written zero for one.
        forward, amount_in, amount_out = True, amount0, -amount1
    elif amount1 >= 0 >= amount0:
        forward, amount_in, amount_out = False, amount1, -amount0
    else:
        raise BadLog("inconsistent", f"V3 Swap amounts {amount0}, {amount1} both pay out")
    return _swap(info, pool, block, ts, forward, amount_in, amount_out, sqrt_price, liquidity, tick)


def _v3_mint(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    _topics(topics, 4, "V3 Mint")
    owner = _address(topics[1], "V3 Mint owner")
    lower, upper = _tick_range(topics[2], topics[3], info, "V3 Mint")
    w = _words(data, 4, "V3 Mint")
    _address(w[0], "V3 Mint sender")
    liquidity = _uint(w[1], 128, "V3 Mint amount")
    if liquidity == 0:
        raise BadLog("inconsistent", "V3 Mint of zero liquidity")
    a0, a1 = _uint(w[2], 256, "V3 Mint amount0"), _uint(w[3], 256, "V3 Mint amount1")
    return _mint_burn(PoolMint, info, pool, ts, owner, liquidity, a0, a1, lower, upper)


def _v3_burn(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    _topics(topics, 4, "V3 Burn")
    owner = _address(topics[1], "V3 Burn owner")
    lower, upper = _tick_range(topics[2], topics[3], info, "V3 Burn")
    w = _words(data, 3, "V3 Burn")
    liquidity = _uint(w[0], 128, "V3 Burn amount")  # zero is a genuine "poke" that only settles fees
    a0, a1 = _uint(w[1], 256, "V3 Burn amount0"), _uint(w[2], 256, "V3 Burn amount1")
    return _mint_burn(PoolBurn, info, pool, ts, owner, liquidity, a0, a1, lower, upper)


def _v3_initialize(topics: list[bytes], data: bytes, pool: bytes, info: PoolInfo, block: int, ts: int) -> Message:
    _topics(topics, 1, "V3 Initialize")
    w = _words(data, 2, "V3 Initialize")
    sqrt_price, tick = _price_and_tick(w[0], w[1], "V3 Initialize", exact=True)
    # A pool is initialized before any liquidity exists; balances are no part of V3 price state.
    return PoolState(reserve0=0, reserve1=0, sqrt_price_x96=sqrt_price, liquidity=0, block_number=block,
                     timestamp_ns=ts, tick=tick, fee_rate=info.fee // 100, venue=info.venue,
                     pool_type=int(DEXProtocol.UNISWAP_V3), token0_decimals=info.decimals0,
                     token1_decimals=info.decimals1, pool_address=pool, token0_addr=info.token0,
                     token1_addr=info.token1)


_HANDLERS: dict[tuple[PoolKind, bytes], _Handler] = {
    (PoolKind.UNISWAP_V2, V2_SYNC): _v2_sync, (PoolKind.UNISWAP_V2, V2_SWAP): _v2_swap,
    (PoolKind.UNISWAP_V2, V2_MINT): _v2_mint, (PoolKind.UNISWAP_V2, V2_BURN): _v2_burn,
    (PoolKind.UNISWAP_V3, V3_SWAP): _v3_swap, (PoolKind.UNISWAP_V3, V3_MINT): _v3_mint,
    (PoolKind.UNISWAP_V3, V3_BURN): _v3_burn, (PoolKind.UNISWAP_V3, V3_INITIALIZE): _v3_initialize,
}


#: Handlers by pool kind, then topic0 (one lookup of the topic's bytes, no key tuple per log).
_BY_KIND: dict[PoolKind, dict[bytes, _Handler]] = {}
for (_kind, _topic0), _handler in _HANDLERS.items():
    _BY_KIND.setdefault(_kind, {})[_topic0] = _handler
_NO_HANDLERS: dict[bytes, _Handler] = {}
_INDEX_END = 2**64
_BYTES = (bytes, bytearray)  # tuples: isinstance is faster than with a union
_SEQUENCES = (list, tuple)
#: 20-byte addresses of pools already seen in a registry (bounded by the registries' sizes).
_POOL_BYTES: dict[str, bytes] = {}


def _pool_bytes(address: str) -> bytes:
    """The 20 bytes of a checksummed address, or b"" if it is not one."""
    pool = _POOL_BYTES.get(address)
    if pool is None:
        try:
            pool = bytes.fromhex(address[2:]) if address[:2] == "0x" and len(address) == 42 else b""
        except ValueError:
            pool = b""
        if pool:
            _POOL_BYTES[address] = pool
    return pool


def decode_log(log: Mapping[str, Any], registry: Mapping[str, PoolInfo], timestamp_ns: int) -> Decoded:
    """Turn one pool log into its message.

    Parameters
    ----------
    log
        A log as :func:`contracts.logs.get_logs` or :class:`contracts.subscribe.Subscription`
        return it (``address`` checksummed; ``topics`` and ``data`` bytes; ``blockNumber``,
        ``logIndex`` ints; ``removed``, ``transactionHash`` as the node sent them).
    registry
        Known pools by checksummed address.
    timestamp_ns
        The log's block timestamp in nanoseconds (the block header's ``timestamp`` x 1e9).

    Returns
    -------
    Decoded
        The message, the pool, and the log's block number, index and transaction hash.

    Raises
    ------
    BadLog
        The log is malformed, reorged out, from an unknown pool, of an unknown event, or holds a
        value that is out of range, impossible for a genuine pool, or not representable.
    """
    try:
        address, topics, data = log["address"], log["topics"], log["data"]
        block, index, tx = log["blockNumber"], log["logIndex"], log.get("transactionHash", b"")
        removed = log.get("removed", False)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadLog("malformed", f"not a log: {exc!r}") from exc
    well_formed = (isinstance(address, str) and isinstance(topics, _SEQUENCES) and isinstance(data, _BYTES)
                   and type(block) is int and 0 <= block < _INDEX_END and type(index) is int
                   and 0 <= index < _INDEX_END and isinstance(tx, _BYTES) and type(timestamp_ns) is int
                   and 0 <= timestamp_ns < _INDEX_END)
    exact = True  # every topic is exactly bytes (not a subclass, not bytearray): no copies
    if well_formed:
        for t in topics:
            if type(t) is not bytes:
                exact = False
                if not isinstance(t, _BYTES):
                    well_formed = False
                    break
            if len(t) != _WORD:
                well_formed = False
                break
    if not well_formed:
        raise BadLog("malformed", f"log fields of the wrong type or size at {address!r}")
    if removed is not False:
        raise BadLog("removed", f"log (block {block}, index {index}) was removed by a reorg")
    info = registry.get(address)
    if info is None:
        raise BadLog("unknown_pool", f"log (block {block}, index {index}) from unknown address {address}")
    handler = _BY_KIND.get(info.kind, _NO_HANDLERS).get(topics[0] if exact else bytes(topics[0])) if topics else None
    if handler is None:
        raise BadLog("unknown_event", f"log (block {block}, index {index}) of {address}: "
                                      f"topic0 {topics[0].hex() if topics else 'absent'} is no {info.kind.name} event")
    pool = _POOL_BYTES.get(address) or _pool_bytes(address)
    if not pool:
        raise BadLog("malformed", f"log address {address!r} is not a 20-byte hex address")
    message = handler(topics if exact else [bytes(t) for t in topics], data if type(data) is bytes else bytes(data),
                      pool, info, block, timestamp_ns)
    return _new(Decoded, (message, address, block, index, tx if type(tx) is bytes else bytes(tx)))
