"""Bootstrap many Uniswap V2/V3 pools at one block in a few batched JSON-RPC round trips.

:func:`snapshot_pools` reads every pool of a registry (:class:`contracts.events.PoolInfo` by
checksummed address) with ``eth_call`` requests all pinned to one block, sent as JSON-RPC
batches of at most ``max_batch`` requests:

1. V2 ``getReserves``; V3 ``slot0``, ``liquidity``, ``fee`` and ``tickSpacing`` (the fee and
   the spacing must equal the registry's);
2. the V3 ``tickBitmap`` words within ``word_radius`` words of the current tick's word, clamped
   to the words that can hold a tick of that spacing (TickMath's MIN_TICK..MAX_TICK);
3. ``ticks(t)`` of every tick those words mark initialized.

The first batch also asks for the block's header (:attr:`Snapshot.head`); the later rounds are
pinned by its hash (EIP-1898, ``requireCanonical``), so a reorg between rounds fails those calls
rather than mixing two blocks. Any number of pools costs three round trips while each round fits
in one batch. The result
holds the same :class:`contracts.pools.V2State` / :class:`contracts.pools.V3State` values as the
one-call-per-field readers of :mod:`contracts.pools` (tokens from the registry).

Every answer is untrusted: each is decoded strictly by its ABI type (exact length, no dirty high
bits) and checked for what a genuine pool can hold. One pool's revert, missing code, malformed or
impossible answer fails that pool alone (:attr:`Snapshot.failed`, a :class:`PoolReadError` with a
``kind``); only a failure of the whole batch (transport, an answer that does not pair with the
requests) or a block the node does not have (:class:`NoSuchBlock`) raises.

:func:`eth_calls` sends other calls the same way (by a snapshot's block hash, to read its block).

:func:`pool_infos` builds the registry entries of newly created pools
(:class:`contracts.factories.NewPool`) with their tokens' ``decimals()``, batched the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError
from contracts.answers import BadRpcAnswer, Head, RpcError, data, parse_head
from contracts.client import Chain
from contracts.events import PoolInfo
from contracts.factories import NewPool
from contracts.pools import V2State, V3State, V3Tick
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick
from mesh.protocol.constants import PoolKind

__all__ = [
    "DEFAULT_MAX_BATCH", "SNAPSHOT_FAILURE_KINDS", "Infos", "NoSuchBlock", "PoolReadError", "Snapshot", "eth_calls",
    "pool_infos", "read_ticks", "selector", "snapshot_pools", "word_range",
]

#: Requests per JSON-RPC batch by default (geth's default batch limit is 1000 requests).
DEFAULT_MAX_BATCH = 1000

#: Every ``PoolReadError.kind``, for counters that list their labels up front.
SNAPSHOT_FAILURE_KINDS = ("reverted", "rpc_error", "no_code", "malformed", "inconsistent", "mismatch",
                          "bad_token")


class NoSuchBlock(ChainError):
    """The block to read is not (or no longer) on the node's chain."""

    kind = "no_such_block"


class PoolReadError(ChainError):
    """One pool (or token) could not be read at the snapshot's block; the others are unaffected.

    Attributes
    ----------
    kind : str
        One of :data:`SNAPSHOT_FAILURE_KINDS`: ``reverted`` (a call reverted), ``rpc_error`` (the
        node answered a call with another error), ``no_code`` (an empty answer: no contract at the
        address), ``malformed`` (not the ABI shape: wrong length, dirty high bits, not hex),
        ``inconsistent`` (a value no genuine pool holds), ``mismatch`` (fee or tick spacing differs
        from the registry's), ``bad_token`` (a token's ``decimals()`` failed or exceeds 255).
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class Snapshot:
    """Pools read at one block.

    Attributes
    ----------
    block : int
        The block every call was pinned to.
    head : Head or None
        That block's header (hash, timestamp...), read in the first batch; None without pools.
    states : dict
        ``V2State`` or ``V3State`` by checksummed pool address. A V3 state's ``ticks`` are sorted
        by tick; ``sqrt_price_x96`` 0 means the pool is not initialized yet (no ticks read).
    failed : dict
        The :class:`PoolReadError` of every pool that could not be read.
    round_trips : int
        HTTP requests made (one per batch).
    calls : int
        ``eth_call`` requests made.
    """

    block: int
    head: Head | None = None
    states: dict[str, V2State | V3State] = field(default_factory=dict)
    failed: dict[str, ChainError] = field(default_factory=dict)
    round_trips: int = 0
    calls: int = 0


@dataclass(slots=True)
class Infos:
    """Registry entries built by :func:`pool_infos`.

    Attributes
    ----------
    infos : dict
        :class:`PoolInfo` by checksummed pool address.
    failed : dict
        The :class:`PoolReadError` of every pool whose tokens could not be read.
    decimals : dict
        Every token's decimals read or given, by checksummed address (a cache for the next call).
    round_trips : int
        HTTP requests made.
    """

    infos: dict[str, PoolInfo] = field(default_factory=dict)
    failed: dict[str, ChainError] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0


def selector(signature: str) -> bytes:
    """The 4-byte function selector of a Solidity signature such as ``"transfer(address,uint256)"``."""
    return keccak(text=signature)[:4]


_GET_RESERVES = selector("getReserves()")
_SLOT0 = selector("slot0()")
_LIQUIDITY = selector("liquidity()")
_FEE = selector("fee()")
_TICK_SPACING = selector("tickSpacing()")
_TICK_BITMAP = selector("tickBitmap(int16)")
_TICKS = selector("ticks(int24)")
_DECIMALS = selector("decimals()")

_RESERVES_TYPES = ("uint112", "uint112", "uint32")
_SLOT0_TYPES = ("uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool")
_TICK_TYPES = ("uint128", "int128", "uint256", "uint256", "int56", "uint160", "uint32", "bool")


def word_range(tick: int, tick_spacing: int, radius: int) -> range:
    """The tick-bitmap words within ``radius`` of ``tick``'s word that can hold a tick.

    A word holds 256 tick spacings (TickBitmap.position); only multiples of ``tick_spacing`` in
    MIN_TICK..MAX_TICK can be initialized, so words outside theirs are never read.
    """
    lowest = -(-MIN_TICK // tick_spacing) >> 8  # word of the lowest usable compressed tick
    highest = (MAX_TICK // tick_spacing) >> 8
    current = (tick // tick_spacing) >> 8
    return range(max(lowest, current - radius), min(highest, current + radius) + 1)


# --- batched calls --------------------------------------------------------------------------------

class _Caller:
    """``eth_call`` batches at one block; each answer is bytes or the call's PoolReadError.

    The block's header is asked in the first batch; from then on the calls are pinned by its hash
    (EIP-1898, ``requireCanonical``), so every round reads the very block the first one read.
    """

    def __init__(self, chain: Chain, block: int, block_hash: bytes | None, max_batch: int):
        if max_batch < 1:
            raise ChainError(f"max_batch {max_batch} must be positive")
        self.chain = chain
        self.max_batch = max_batch
        self.block = block
        self.block_hash = block_hash
        self.block_param: Any = hex(block) if block_hash is None else _by_hash(block_hash)
        self.head: Head | None = None
        self.round_trips = 0
        self.calls = 0

    def __call__(self, calls: Sequence[tuple[str, bytes]]) -> list[bytes | PoolReadError]:
        requests: list[tuple[str, Sequence[Any]]] = [
            ("eth_call", [{"to": to, "data": "0x" + payload.hex()}, self.block_param]) for to, payload in calls]
        if self.head is None:
            requests.insert(0, ("eth_getBlockByNumber", [hex(self.block), False]) if self.block_hash is None
                            else ("eth_getBlockByHash", ["0x" + self.block_hash.hex(), False]))
        results: list[Any] = []
        for start in range(0, len(requests), self.max_batch):
            results += self.chain.rpc_batch(requests[start:start + self.max_batch], errors=True)
            self.round_trips += 1
        if self.head is None:
            self._take_head(results.pop(0))
        self.calls += len(calls)
        return [_answer(result, to) for result, (to, _) in zip(results, calls, strict=True)]

    def _take_head(self, result: Any) -> None:
        if isinstance(result, ChainError):
            raise result
        if result is None:
            raise NoSuchBlock(f"block {self.block} is unknown to the node")
        head = parse_head(result, f"block {self.block}")
        if head.number != self.block or self.block_hash not in (None, head.hash):
            raise NoSuchBlock(f"the node answered block {head.number} 0x{head.hash.hex()} for block {self.block}")
        self.head = head
        self.block_param = _by_hash(head.hash)


def eth_calls(chain: Chain, calls: Sequence[tuple[str, bytes]], block: int, *, block_hash: bytes | None = None,
              max_batch: int = DEFAULT_MAX_BATCH) -> list[bytes | PoolReadError]:
    """``eth_call`` of each ``(address, calldata)`` at one block, batched as :func:`snapshot_pools` does.

    With ``block_hash`` (e.g. a :attr:`Snapshot.head`'s) the calls read that very block. Each
    answer is the raw bytes returned or that call's :class:`PoolReadError` (reverted, no code,
    malformed...); the caller decodes the bytes. Raises what :func:`snapshot_pools` raises for a
    batch-wide failure or an unknown block.
    """
    return _Caller(chain, block, block_hash, max_batch)(calls)


def _by_hash(block_hash: bytes) -> dict[str, Any]:
    return {"blockHash": "0x" + bytes(block_hash).hex(), "requireCanonical": True}


def _answer(result: Any, to: str) -> bytes | PoolReadError:
    if isinstance(result, RpcError):
        reverted = result.code == 3 or "revert" in result.rpc_message.lower()
        return PoolReadError("reverted" if reverted else "rpc_error", f"call to {to}: {result}")
    if isinstance(result, ChainError):
        return PoolReadError("malformed", f"call to {to}: {result}")
    try:
        raw = data(result, f"eth_call answer of {to}")
    except BadRpcAnswer as exc:
        return PoolReadError("malformed", str(exc))
    if not raw:
        return PoolReadError("no_code", f"call to {to} answered nothing: no contract there")
    return raw


def _int_word(value: int) -> bytes:
    """A signed integer argument as its ABI word (two's complement, sign-extended)."""
    return value.to_bytes(32, "big", signed=True)


def _decode(types: Sequence[str], raw: bytes, what: str) -> tuple[Any, ...]:
    """Strict ABI decoding of static types: exactly one word each, no dirty padding."""
    if len(raw) != 32 * len(types):
        raise PoolReadError("malformed", f"{what}: {len(raw)} bytes, expected {32 * len(types)}")
    try:
        return tuple(abi_decode(list(types), raw))
    except DecodingError as exc:
        raise PoolReadError("malformed", f"{what}: {exc}") from None


def _checked_price(sqrt_price: int, tick: int, what: str) -> None:
    """slot0's price and tick as UniswapV3Pool keeps them (0, 0 before initialization)."""
    if sqrt_price == 0 and tick == 0:
        return
    if not (MIN_SQRT_RATIO <= sqrt_price < MAX_SQRT_RATIO and MIN_TICK <= tick < MAX_TICK):
        raise PoolReadError("inconsistent", f"{what}: sqrtPriceX96 {sqrt_price} or tick {tick} outside TickMath")
    low, high = sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1)
    # A swap that stops on a tick boundary moving down leaves the tick below it (UniswapV3Pool.swap).
    if not low <= sqrt_price <= high:
        raise PoolReadError("inconsistent", f"{what}: tick {tick} does not match sqrtPriceX96 {sqrt_price}")


# --- the three rounds -------------------------------------------------------------------------------

@dataclass(slots=True, frozen=True)
class _V3Head:
    """Round one's reading of a V3 pool."""

    sqrt_price: int
    tick: int
    liquidity: int


_Call = tuple[str, bytes]  # (pool, calldata)
_T = TypeVar("_T")


def _round(caller: _Caller, calls: list[_Call], failed: dict[str, ChainError],
           read: Callable[[str, list[bytes]], _T]) -> dict[str, _T]:
    """Run one round's calls; ``read`` each live pool's answers (in call order), note failures."""
    answers: dict[str, list[bytes]] = {}
    for (pool, _), result in zip(calls, caller(calls), strict=True):
        if pool in failed:
            continue
        if isinstance(result, PoolReadError):
            failed[pool] = result
            answers.pop(pool, None)
        else:
            answers.setdefault(pool, []).append(result)
    out: dict[str, _T] = {}
    for pool, pool_answers in answers.items():
        try:
            out[pool] = read(pool, pool_answers)
        except PoolReadError as exc:
            failed[pool] = exc
    return out


def _first_calls(pool: str, info: PoolInfo) -> list[_Call]:
    if info.kind == PoolKind.UNISWAP_V2:
        return [(pool, _GET_RESERVES)]
    return [(pool, selector) for selector in (_SLOT0, _LIQUIDITY, _FEE, _TICK_SPACING)]


def _read_first(pool: str, info: PoolInfo, answers: list[bytes]) -> V2State | _V3Head:
    """getReserves, or slot0, liquidity, fee and tickSpacing checked against the registry."""
    if info.kind == PoolKind.UNISWAP_V2:
        r0, r1, ts = _decode(_RESERVES_TYPES, answers[0], f"getReserves of {pool}")
        return V2State(pool, to_checksum_address(info.token0), to_checksum_address(info.token1), r0, r1, ts)
    slot0 = _decode(_SLOT0_TYPES, answers[0], f"slot0 of {pool}")
    (liquidity,) = _decode(("uint128",), answers[1], f"liquidity of {pool}")
    (fee,) = _decode(("uint24",), answers[2], f"fee of {pool}")
    (spacing,) = _decode(("int24",), answers[3], f"tickSpacing of {pool}")
    if (fee, spacing) != (info.fee, info.tick_spacing):
        raise PoolReadError("mismatch", f"pool {pool} has fee {fee} and tick spacing {spacing}, the "
                                        f"registry {info.fee} and {info.tick_spacing}")
    _checked_price(slot0[0], slot0[1], f"slot0 of {pool}")
    if slot0[0] == 0 and liquidity:
        raise PoolReadError("inconsistent", f"pool {pool} is not initialized but has liquidity {liquidity}")
    return _V3Head(slot0[0], slot0[1], liquidity)


def _marked_ticks(pool: str, words: range, spacing: int, answers: list[bytes]) -> list[int]:
    """The ticks the bitmap words mark initialized, ascending."""
    ticks = []
    for word, raw in zip(words, answers, strict=True):
        (bits,) = _decode(("uint256",), raw, f"tickBitmap({word}) of {pool}")
        while bits:
            lowest = bits & -bits
            bits ^= lowest
            tick = (word * 256 + lowest.bit_length() - 1) * spacing
            if not MIN_TICK <= tick <= MAX_TICK:
                raise PoolReadError("inconsistent", f"pool {pool}: tick {tick} marked initialized")
            ticks.append(tick)
    return ticks


def _read_ticks(pool: str, ticks: list[int], answers: list[bytes]) -> tuple[V3Tick, ...]:
    """``ticks(t)`` answers of initialized ticks: liquidity gross and net."""
    out = []
    for tick, raw in zip(ticks, answers, strict=True):
        info = _decode(_TICK_TYPES, raw, f"ticks({tick}) of {pool}")
        gross, net, initialized = info[0], info[1], info[7]
        if not (initialized and gross > 0 and abs(net) <= gross):
            raise PoolReadError("inconsistent", f"pool {pool}: tick {tick} marked initialized holds gross "
                                                f"{gross}, net {net}, initialized {initialized}")
        out.append(V3Tick(tick, gross, net))
    return tuple(out)


def snapshot_pools(chain: Chain, pools: Mapping[str, PoolInfo], block: int, *, word_radius: int = 8,
                   max_batch: int = DEFAULT_MAX_BATCH, block_hash: bytes | None = None,
                   word_radii: Mapping[str, int] | None = None) -> Snapshot:
    """Read every pool of ``pools`` at ``block`` with batched ``eth_call`` requests.

    Parameters
    ----------
    chain
        The JSON-RPC client (its :meth:`Chain.rpc_batch` is used).
    pools
        The pools to read: :class:`PoolInfo` by checksummed address.
    block
        The block number every call is pinned to.
    word_radius
        Tick-bitmap words read on each side of a V3 pool's current word (0: its word only; a
        radius wider than the span of usable words reads them all).
    max_batch
        Most requests in one JSON-RPC batch; a round larger than that takes several round trips.
    block_hash
        When given, the block must have this hash (the first round is pinned by it too).
    word_radii
        Word radius of chosen pools (by address), instead of ``word_radius`` for those.

    Returns
    -------
    Snapshot
        The block's header, the states read, the pools that failed (each alone) and the round
        trips made.

    Raises
    ------
    NoSuchBlock
        The node does not know the block (or not with ``block_hash``).
    ChainUnreachable, BadRpcAnswer, RpcError
        A whole batch failed (transport, an answer that does not pair with the requests, or one
        error object for the whole batch), or the block's header could not be read; no pool is
        blamed for it.
    ChainError
        A word radius negative or ``max_batch`` below 1.
    """
    radii = dict(word_radii or {})
    lowest = min([word_radius, *radii.values()])
    if lowest < 0:
        raise ChainError(f"word radius {lowest} must not be negative")
    caller = _Caller(chain, block, block_hash, max_batch)
    snap = Snapshot(block)
    if not pools:
        return snap
    first = [call for pool, info in pools.items() for call in _first_calls(pool, info)]
    read = _round(caller, first, snap.failed, lambda pool, answers: _read_first(pool, pools[pool], answers))
    heads = {pool: got for pool, got in read.items() if isinstance(got, _V3Head)}
    words = {pool: word_range(head.tick, pools[pool].tick_spacing, radii.get(pool, word_radius))
             for pool, head in heads.items() if head.sqrt_price}  # no ticks before initialization
    second = [(pool, _TICK_BITMAP + _int_word(w)) for pool, span in words.items() for w in span]
    marked = _round(caller, second, snap.failed,
                    lambda pool, answers: _marked_ticks(pool, words[pool], pools[pool].tick_spacing, answers))
    third = [(pool, _TICKS + _int_word(t)) for pool, ticks in marked.items() for t in ticks]
    ticks = _round(caller, third, snap.failed, lambda pool, answers: _read_ticks(pool, marked[pool], answers))
    for pool, got in read.items():
        if pool in snap.failed:
            continue
        if isinstance(got, V2State):
            snap.states[pool] = got
            continue
        info = pools[pool]
        snap.states[pool] = V3State(pool, to_checksum_address(info.token0), to_checksum_address(info.token1),
                                    info.fee, info.tick_spacing, got.sqrt_price, got.tick, got.liquidity,
                                    ticks.get(pool, ()))
    snap.head, snap.round_trips, snap.calls = caller.head, caller.round_trips, caller.calls
    return snap


def _any_ticks(pool: str, ticks: list[int], answers: list[bytes]) -> list[V3Tick]:
    """``ticks(t)`` answers of chosen ticks, initialized or not (then gross and net are 0)."""
    out = []
    for tick, raw in zip(ticks, answers, strict=True):
        info = _decode(_TICK_TYPES, raw, f"ticks({tick}) of {pool}")
        gross, net, initialized = info[0], info[1], info[7]
        if bool(initialized) != (gross > 0) or abs(net) > gross:
            raise PoolReadError("inconsistent", f"pool {pool}: tick {tick} holds gross {gross}, net {net}, "
                                                f"initialized {initialized}")
        out.append(V3Tick(tick, gross, net))
    return out


def read_ticks(chain: Chain, wanted: Mapping[str, Iterable[int]], block: int, *, block_hash: bytes | None = None,
               max_batch: int = DEFAULT_MAX_BATCH) -> tuple[dict[str, list[V3Tick]], dict[str, ChainError]]:
    """``UniswapV3Pool.ticks(t)`` of chosen ticks of several pools at one block, batched.

    Returns the ticks read per pool (sorted; a tick that is not initialized has gross and net 0)
    and the :class:`PoolReadError` of every pool one of whose calls failed. Raises what
    :func:`snapshot_pools` raises for a batch-wide failure.
    """
    chosen = {pool: sorted({int(t) for t in ticks}) for pool, ticks in wanted.items()}
    bad = [t for ticks in chosen.values() for t in ticks if not MIN_TICK <= t <= MAX_TICK]
    if bad:
        raise ChainError(f"ticks {bad[:4]} outside TickMath's range")
    caller = _Caller(chain, block, block_hash, max_batch)
    failed: dict[str, ChainError] = {}
    calls = [(pool, _TICKS + _int_word(t)) for pool, ticks in chosen.items() for t in ticks]
    read = _round(caller, calls, failed, lambda pool, answers: _any_ticks(pool, chosen[pool], answers))
    return read, failed


def _decimals(token: str, result: bytes | PoolReadError) -> int:
    if isinstance(result, PoolReadError):
        raise result
    (value,) = _decode(("uint256",), result, f"decimals of {token}")
    if value > 255:
        raise PoolReadError("bad_token", f"token {token} has {value} decimals")
    return value


def pool_infos(chain: Chain, new_pools: Iterable[NewPool], block: int, *,
               decimals: Mapping[str, int] | None = None, max_batch: int = DEFAULT_MAX_BATCH) -> Infos:
    """Registry entries for newly created pools, with their tokens' decimals read at ``block``.

    Parameters
    ----------
    chain
        The JSON-RPC client.
    new_pools
        Pools decoded from the factories' creation logs (:func:`contracts.factories.decode_factory_log`).
    block
        The block the ``decimals()`` calls are pinned to.
    decimals
        Decimals already known by checksummed token address (not asked again).
    max_batch
        Most requests in one JSON-RPC batch.

    Returns
    -------
    Infos
        A :class:`PoolInfo` per pool whose tokens both answered ``decimals()`` with 0..255 (the
        V2 fee and the venue from the factory's configuration), the failures, the decimals known.
    """
    caller = _Caller(chain, block, None, max_batch)
    out = Infos(decimals=dict(decimals or {}))
    pending = list(new_pools)
    unknown = sorted({t for p in pending for t in (p.token0, p.token1)} - out.decimals.keys())
    token_errors: dict[str, PoolReadError] = {}
    answers = caller([(t, _DECIMALS) for t in unknown]) if unknown else []
    for token, result in zip(unknown, answers, strict=True):
        try:
            out.decimals[token] = _decimals(token, result)
        except PoolReadError as exc:
            token_errors[token] = PoolReadError("bad_token", f"decimals() of token {token}: {exc}")
    for new in pending:
        bad = token_errors.get(new.token0) or token_errors.get(new.token1)
        if bad is not None:
            out.failed[new.pool] = bad
            continue
        try:
            out.infos[new.pool] = PoolInfo(new.kind, bytes.fromhex(new.token0[2:]), bytes.fromhex(new.token1[2:]),
                                           out.decimals[new.token0], out.decimals[new.token1], new.fee,
                                           new.tick_spacing, new.venue)
        except ChainError as exc:  # not a pool PoolInfo can describe
            out.failed[new.pool] = PoolReadError("inconsistent", f"pool {new.pool}: {exc}")
    out.round_trips = caller.round_trips
    return out
