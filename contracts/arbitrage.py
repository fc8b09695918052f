"""Encode FlashArbitrage trades, check them against the chain, decode the ``Arbitrage`` events.

A trade is one packed byte string (the layout is documented in ``contracts/src/FlashArbitrage.sol``)::

    head, 92 bytes:  recipient 20 | lender 20 | source 1 | lender_flags 1 (bits 0-1: V2 factory index)
                     | lender_fee 2 | amount_in 14 | min_profit 14 | lender_token 20
    hop, 56 bytes:   pool 20 | kind 1 | hop_flags 1 (bits 0-1: V2 factory index) | fee 2
                     | token_in 20 | amount_out 12

The ``source`` and ``kind`` bytes are the protocol's own :class:`~mesh.protocol.constants.FlashSource`
and :class:`~mesh.protocol.constants.PoolKind` values (0, NONE, is refused by the contract): one
definition, no translation table. :meth:`Trade.encode` checks what the contract cannot: the path is a
cycle, every field fits, and the lender's tokens (read once by :class:`PoolBook`) hold the profit token
on the side ``borrow_token1`` names.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError
from contracts.client import Chain, Receipt
from contracts.npm import AAVE, V3, npm_artifact, own_artifact
from contracts.pools import read_v2, v2_pair
from contracts.reverts import Reverted
from contracts.v3math import v2_amount_out
from mesh.protocol.constants import FlashSource, PoolKind


class BadTrade(ChainError):
    """A trade that cannot be encoded or does not match the chain (address, fee, amount, path, lender)."""


ARBITRAGE_TOPIC = keccak(text="Arbitrage(address,address,address,bytes32,uint256)")
HEAD_BYTES = 92
HOP_BYTES = 56
#: Largest amount_in / min_profit (14 bytes) and precomputed amount_out (12 bytes).
MAX_AMOUNT = 2**112 - 1
MAX_AMOUNT_OUT = 2**96 - 1
#: The contract accepts pairs of up to four V2 factories, named by index.
MAX_V2_FACTORIES = 4
#: Uniswap V2's fee, in basis points.
V2_FEE_BPS = 30


@functools.lru_cache(maxsize=4096)
def checksummed(value: str | bytes) -> str:
    """``to_checksum_address`` remembered: a trade names a handful of addresses, again and again,
    and each checksum is a keccak (about 25 us)."""
    return to_checksum_address(value)


def _addr(value: str) -> bytes:
    try:
        return bytes.fromhex(checksummed(value)[2:])
    except (ValueError, TypeError):
        raise BadTrade(f"not an address: {value!r}") from None


def _uint(value: int, limit: int, name: str, size: int) -> bytes:
    if not 0 <= value <= limit:
        raise BadTrade(f"{name} {value} outside [0, {limit}]")
    return value.to_bytes(size, "big")


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


@dataclass(slots=True, frozen=True)
class Hop:
    """One swap: ``token_in`` -> ``token_out`` in ``pool``.

    ``fee`` is the V2 fee in basis points (used when the contract prices the hop) or the V3 pool's fee
    in millionths (part of its CREATE2 address). ``factory`` is the index of a V2 pair's factory in the
    contract. ``amount_out`` (V2 only) is the precomputed output the pair is asked for; 0 lets the
    contract price the hop from ``getReserves``.
    """

    pool: str
    kind: PoolKind
    token_in: str
    token_out: str
    amount_out: int = 0
    fee: int = V2_FEE_BPS
    factory: int = 0

    @property
    def zero_for_one(self) -> bool:
        """True when ``token_in`` is the pool's token0 (Uniswap sorts tokens by address)."""
        return int(self.token_in, 16) < int(self.token_out, 16)

    def encode(self) -> bytes:
        """The 56-byte hop record."""
        if self.kind not in (PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3):
            raise BadTrade(f"unknown pool kind {self.kind!r}")
        if self.kind == PoolKind.UNISWAP_V3 and self.amount_out:
            raise BadTrade("amount_out is for V2 hops only")
        if self.kind == PoolKind.UNISWAP_V2 and not 0 <= self.fee < 10000:
            raise BadTrade(f"V2 fee {self.fee} bps outside [0, 10000)")
        return (_addr(self.pool) + bytes([int(self.kind), _factory(self.factory)])
                + _uint(self.fee, 0xFFFF, "fee", 2) + _addr(self.token_in)
                + _uint(self.amount_out, MAX_AMOUNT_OUT, "amount_out", 12))


def _factory(index: int) -> int:
    if not 0 <= index < MAX_V2_FACTORIES:
        raise BadTrade(f"V2 factory index {index} outside [0, {MAX_V2_FACTORIES})")
    return index


@dataclass(slots=True, frozen=True)
class Trade:
    """Arguments of ``FlashArbitrage.execute`` (amounts in raw units of the profit token).

    A V2 or V3 lender that is not on the route needs ``lender_tokens`` (its token0 and token1, as
    :meth:`PoolBook.lender` reads them); ``borrow_token1``, when given, must name the side the profit
    token is on. ``lender_fee`` is the V2 lender's fee (bps), the V3 lender's pool fee (millionths) or
    the highest Aave premium accepted (bps). A V2 lender that is the last hop's pair is *fused* and
    needs that hop's ``amount_out``. ``min_profit`` must be positive.
    """

    hops: tuple[Hop, ...]
    amount_in: int
    lender: str
    source: FlashSource
    min_profit: int
    recipient: str
    lender_tokens: tuple[str, str] | None = None
    borrow_token1: bool | None = None
    lender_fee: int = V2_FEE_BPS
    lender_factory: int = 0

    @property
    def profit_token(self) -> str:
        """The token borrowed, routed and returned (hop 0's input)."""
        return self.hops[0].token_in

    @property
    def fused(self) -> bool:
        """A V2 flash swap out of the route's last pair."""
        return self.source == FlashSource.UNISWAP_V2 and _same(self.lender, self.hops[-1].pool)

    def _lender_token(self) -> bytes:
        """The lender's other token (20 zero bytes for Aave and a fused lender)."""
        if self.source == FlashSource.AAVE_V3 or self.fused:
            if self.borrow_token1:
                raise BadTrade("borrow_token1 is for a V2 or V3 lender off the route")
            return bytes(20)
        if self.lender_tokens is None:
            raise BadTrade("a V2 or V3 lender off the route needs lender_tokens")
        token0, token1 = self.lender_tokens
        if _same(self.profit_token, token0):
            is_token1, other = False, token1
        elif _same(self.profit_token, token1):
            is_token1, other = True, token0
        else:
            raise BadTrade(f"lender {self.lender} does not hold the profit token {self.profit_token}")
        if self.borrow_token1 is not None and self.borrow_token1 != is_token1:
            raise BadTrade(f"lender flag names token{int(self.borrow_token1)}, but the profit token is "
                           f"the lender's token{int(is_token1)}")
        return _addr(other)

    def encode(self) -> bytes:
        """The packed trade that ``execute`` takes."""
        if not 2 <= len(self.hops) <= 4:
            raise BadTrade(f"a route has 2 to 4 hops, got {len(self.hops)}")
        for a, b in zip(self.hops, self.hops[1:] + self.hops[:1], strict=True):
            if not _same(a.token_out, b.token_in):
                raise BadTrade(f"path is not a cycle: {a.token_out} then {b.token_in}")
        if self.source not in (FlashSource.AAVE_V3, FlashSource.UNISWAP_V2, FlashSource.UNISWAP_V3):
            raise BadTrade(f"unknown flash source {self.source!r}")
        if self.fused and (self.hops[-1].kind != PoolKind.UNISWAP_V2 or self.hops[-1].amount_out == 0):
            raise BadTrade("a fused V2 flash swap needs the last hop's amount_out")
        if self.source == FlashSource.UNISWAP_V2 and not 0 <= self.lender_fee < 10000:
            raise BadTrade(f"V2 lender fee {self.lender_fee} bps outside [0, 10000)")
        if self.amount_in == 0 or self.min_profit == 0:
            raise BadTrade("amount_in and min_profit must be positive")
        head = (_addr(self.recipient) + _addr(self.lender)
                + bytes([int(self.source), _factory(self.lender_factory)])
                + _uint(self.lender_fee, 0xFFFF, "lender_fee", 2)
                + _uint(self.amount_in, MAX_AMOUNT, "amount_in", 14)
                + _uint(self.min_profit, MAX_AMOUNT, "min_profit", 14)
                + self._lender_token())
        return head + b"".join(h.encode() for h in self.hops)

    @classmethod
    def decode(cls, data: bytes) -> Trade:
        """The trade that :meth:`encode` packed into ``data`` (the inverse, checked the same way).

        A lender off the route comes back with ``lender_tokens`` in Uniswap's order (sorted by
        address) and ``borrow_token1`` set from it.

        Raises
        ------
        BadTrade
            Wrong length, unknown source or kind, zero amounts, a path that is not a cycle.
        """
        data = bytes(data)
        n, rest = divmod(len(data) - HEAD_BYTES, HOP_BYTES)
        if len(data) < HEAD_BYTES or rest or not 2 <= n <= 4:
            raise BadTrade(f"a packed trade is {HEAD_BYTES} + 56 x (2..4) bytes, got {len(data)}")
        try:
            source, kinds = FlashSource(data[40]), [PoolKind(data[HEAD_BYTES + i * HOP_BYTES + 20]) for i in range(n)]
        except ValueError:
            raise BadTrade("unknown flash source or pool kind byte") from None
        tokens_in = [checksummed(data[HEAD_BYTES + i * HOP_BYTES + 24:HEAD_BYTES + i * HOP_BYTES + 44])
                     for i in range(n)]
        hops = []
        for i in range(n):
            at = HEAD_BYTES + i * HOP_BYTES
            hops.append(Hop(checksummed(data[at:at + 20]), kinds[i], tokens_in[i], tokens_in[(i + 1) % n],
                            int.from_bytes(data[at + 44:at + 56], "big"),
                            int.from_bytes(data[at + 22:at + 24], "big"), data[at + 21] & 3))
        other = data[72:92]
        lender_tokens, borrow_token1 = None, None
        if any(other):
            pair = sorted((tokens_in[0], checksummed(other)), key=lambda t: int(t, 16))
            lender_tokens, borrow_token1 = (pair[0], pair[1]), _same(pair[1], tokens_in[0])
        trade = cls(tuple(hops), int.from_bytes(data[44:58], "big"), checksummed(data[20:40]), source,
                    int.from_bytes(data[58:72], "big"), checksummed(data[0:20]), lender_tokens,
                    borrow_token1, int.from_bytes(data[42:44], "big"), data[41] & 3)
        if trade.encode() != data:
            raise BadTrade("the packed trade does not re-encode to the same bytes")
        return trade

    @property
    def route_hash(self) -> bytes:
        """keccak256 of :meth:`encode`, the ``route`` field of the trade's event."""
        return keccak(self.encode())


@dataclass(slots=True, frozen=True)
class PoolInfo:
    """What a trade needs of a pool or pair: its tokens, fee (V3, millionths) and factory index (V2)."""

    address: str
    kind: PoolKind
    token0: str
    token1: str
    fee: int
    factory: int


class PoolBook:
    """Pools and lenders read from the chain once and cached, for building and checking trades.

    ``arb`` is the FlashArbitrage contract: its V2 factory list gives each pair's factory index.
    """

    def __init__(self, chain: Chain, arb: Any):
        self.chain = chain
        self.arb = arb
        self._pools: dict[str, PoolInfo] = {}
        self._factories: list[str] | None = None
        self._aave_premium: dict[str, int] = {}

    def factories(self) -> list[str]:
        """The contract's V2 factories, in index order."""
        if self._factories is None:
            count = self.arb.functions.V2_FACTORY_COUNT().call()
            self._factories = [self.arb.functions.v2Factory(i).call()[0].lower() for i in range(count)]
        return self._factories

    def info(self, address: str, kind: PoolKind) -> PoolInfo:
        """Tokens, fee and factory of a V2 pair or V3 pool (read once)."""
        key = address.lower()
        cached = self._pools.get(key)
        if cached is None or cached.kind != kind:
            if kind == PoolKind.UNISWAP_V3:
                pool = self.chain.contract(address, npm_artifact(V3, "UniswapV3Pool")["abi"])
                f = pool.functions
                cached = PoolInfo(pool.address, kind, f.token0().call(), f.token1().call(), f.fee().call(), 0)
            else:
                state = read_v2(self.chain, address)
                factory = v2_pair(self.chain, address).functions.factory().call().lower()
                if factory not in self.factories():
                    raise BadTrade(f"pair {address} comes from factory {factory}, not one the contract accepts")
                cached = PoolInfo(state.address, kind, state.token0, state.token1, V2_FEE_BPS,
                                  self.factories().index(factory))
            self._pools[key] = cached
        return cached

    def hop(self, pool: str, kind: PoolKind, token_in: str, amount_out: int = 0) -> Hop:
        """The hop selling ``token_in`` in ``pool``, with its fee and factory from the chain."""
        info = self.info(pool, kind)
        if _same(token_in, info.token0):
            token_out = info.token1
        elif _same(token_in, info.token1):
            token_out = info.token0
        else:
            raise BadTrade(f"{token_in} is not a token of pool {pool}")
        return Hop(info.address, kind, token_in, token_out, amount_out, info.fee, info.factory)

    def hops_along(self, token_in: str, pools: list[tuple[str, PoolKind]]) -> tuple[Hop, ...]:
        """Hops from ``token_in`` through ``pools`` (address, kind), each selling the last output."""
        hops = []
        for pool, kind in pools:
            hops.append(self.hop(pool, kind, token_in))
            token_in = hops[-1].token_out
        return tuple(hops)

    def aave_premium(self, pool: str) -> int:
        """The Aave pool's flash-loan premium in bps (read once)."""
        key = pool.lower()
        if key not in self._aave_premium:
            aave = self.chain.contract(pool, npm_artifact(AAVE, "Pool")["abi"])
            self._aave_premium[key] = aave.functions.FLASHLOAN_PREMIUM_TOTAL().call()
        return self._aave_premium[key]

    def lender(self, trade: Trade) -> Trade:
        """``trade`` with its lender's tokens, fee and factory filled in from the chain."""
        if trade.source == FlashSource.AAVE_V3:
            return replace(trade, lender_tokens=None, lender_fee=self.aave_premium(trade.lender))
        if trade.fused:
            return replace(trade, lender_tokens=None)
        kind = PoolKind.UNISWAP_V3 if trade.source == FlashSource.UNISWAP_V3 else PoolKind.UNISWAP_V2
        info = self.info(trade.lender, kind)
        return replace(trade, lender_tokens=(info.token0, info.token1), lender_fee=info.fee,
                       lender_factory=info.factory)

    def check(self, trade: Trade) -> None:
        """Refuse a trade whose hops or lender do not match the chain (tokens, flag, fee, factory).

        Raises
        ------
        BadTrade
            Naming the first mismatch.
        """
        for hop in trade.hops:
            read = self.hop(hop.pool, hop.kind, hop.token_in, hop.amount_out)
            if (read.token_out.lower(), read.fee, read.factory) != (hop.token_out.lower(), hop.fee, hop.factory):
                raise BadTrade(f"hop through {hop.pool} does not match the pool's tokens, fee or factory")
        if trade.source == FlashSource.AAVE_V3:
            premium = self.aave_premium(trade.lender)
            if trade.lender_fee < premium:
                raise BadTrade(f"Aave charges {premium} bps, the trade accepts {trade.lender_fee}")
        elif not trade.fused:
            known = self.lender(trade)
            if not known.lender_tokens or not trade.lender_tokens or [t.lower() for t in known.lender_tokens] != [
                    t.lower() for t in trade.lender_tokens]:
                raise BadTrade(f"lender {trade.lender} holds {known.lender_tokens}, not {trade.lender_tokens}")
            if (known.lender_fee, known.lender_factory) != (trade.lender_fee, trade.lender_factory):
                raise BadTrade(f"lender {trade.lender} fee or factory does not match the chain")
        trade.encode()


def with_v2_amounts(chain: Chain, trade: Trade, last_out: int | None = None) -> Trade:
    """``trade`` with every V2 hop's ``amount_out`` priced from the pairs' reserves now, along the
    route while the input is known (it stops at the first V3 hop). ``last_out`` sets the last hop's
    output instead (a quote from :func:`quote`, e.g. when a V3 hop precedes it)."""
    hops = list(trade.hops)
    amount: int | None = trade.amount_in
    for i, hop in enumerate(hops):
        if hop.kind != PoolKind.UNISWAP_V2 or amount is None:
            amount = None
            continue
        state = read_v2(chain, hop.pool)
        zero = hop.zero_for_one
        r_in, r_out = (state.reserve0, state.reserve1) if zero else (state.reserve1, state.reserve0)
        amount = v2_amount_out(amount, r_in, r_out, hop.fee)
        hops[i] = replace(hop, amount_out=amount)
    if last_out is not None:
        hops[-1] = replace(hops[-1], amount_out=last_out)
    return replace(trade, hops=tuple(hops))


def quote(chain: Chain, arb: Any, trade: Trade) -> int:
    """The route's final output now, from an ``eth_call`` of ``trade`` (not fused) with an
    unreachable minimum profit: the contract reverts with ``ProfitBelowMinimum(amountOut, ...)``."""
    probe = replace(trade, min_profit=MAX_AMOUNT)
    try:
        chain.call(arb.address, arb.encode_abi("execute", args=[probe.encode()]))
    except Reverted as exc:
        if exc.error == "ProfitBelowMinimum":
            return exc.error_args[0]
        raise
    raise BadTrade("the probe trade did not revert")  # pragma: no cover - MAX_AMOUNT is unreachable


@dataclass(slots=True, frozen=True)
class ArbitrageEvent:
    """A decoded ``Arbitrage`` event; ``route`` is the :attr:`Trade.route_hash` of the trade (which
    holds every other field) and ``profit`` was measured on the contract's balance of ``token``."""

    token: str
    recipient: str
    lender: str
    route: bytes
    profit: int


EXECUTE_SELECTOR = keccak(text="execute(bytes)")[:4]


def execute_calldata(trade: bytes) -> bytes:
    """The calldata of ``FlashArbitrage.execute(trade)``, ABI-encoded by hand (web3's encoder
    takes about a millisecond for what is a selector, an offset, a length and padding)."""
    n = len(trade)
    return EXECUTE_SELECTOR + (32).to_bytes(32, "big") + n.to_bytes(32, "big") + bytes(trade) + bytes(-n % 32)


def arbitrage_contract(chain: Chain, address: str) -> Any:
    """A web3 contract for FlashArbitrage at ``address`` (its errors join the chain's decoder)."""
    return chain.contract(address, own_artifact("FlashArbitrage")["abi"])


def execute(chain: Chain, arb: Any, trade: Trade, *, gas: int | None = None, check: bool = True,
            book: PoolBook | None = None) -> Receipt:
    """Send ``execute(trade.encode())`` from the chain's account; returns the receipt.

    With ``book`` the trade is first checked against the chain (:meth:`PoolBook.check`).
    """
    if book is not None:
        book.check(trade)
    return chain.transact(arb, "execute", trade.encode(), gas=gas, check=check)


def arbitrage_events(receipt: Receipt, address: str) -> list[ArbitrageEvent]:
    """The ``Arbitrage`` events that ``address`` emitted in ``receipt``."""
    events = []
    for log in receipt["logs"]:
        if log["address"].lower() != address.lower() or bytes(log["topics"][0]) != ARBITRAGE_TOPIC:
            continue
        token, recipient, lender = (to_checksum_address(bytes(t)[12:]) for t in log["topics"][1:4])
        route, profit = abi_decode(["bytes32", "uint256"], bytes(log["data"]))
        events.append(ArbitrageEvent(token, recipient, lender, route, profit))
    return events
