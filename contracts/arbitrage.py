"""Encode FlashArbitrage trades and decode its ``Arbitrage`` events.

A trade is one packed byte string (the layout is documented in ``contracts/src/FlashArbitrage.sol``)::

    head, 72 bytes:  recipient 20 | lender 20 | source 1 | lender_flags 1 | lender_fee_bps 2
                     | amount_in 14 | min_profit 14
    hop, 56 bytes:   pool 20 | kind 1 | hop_flags 1 (bit 0: zero_for_one) | fee_bps 2
                     | token_in 20 | amount_out 12

:meth:`Trade.encode` checks what the contract cannot: the path is a cycle (each hop's ``token_out``
is the next hop's ``token_in``, the last hop returns to the profit token) and every field fits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError
from contracts.client import Chain, Receipt
from contracts.npm import own_artifact
from contracts.pools import read_v2
from contracts.reverts import Reverted
from contracts.v3math import v2_amount_out
from mesh.protocol.constants import FlashSource as ProtocolFlashSource
from mesh.protocol.constants import PoolKind


class HopKind(IntEnum):
    """Pool kind of one hop, as the contract's ``kind`` byte encodes it.

    Not :class:`mesh.protocol.constants.PoolKind`, which has a NONE slot (0) for unused route
    entries; :data:`HOP_KIND_OF` translates an ArbitrageOpportunity's kinds.
    """

    V2 = 0
    V3 = 1


class FlashSource(IntEnum):
    """Where the flash loan comes from, as the contract's ``source`` byte encodes it.

    Not :class:`mesh.protocol.constants.FlashSource` (0 = none there);
    :data:`FLASH_SOURCE_OF` translates an ArbitrageOpportunity's source.
    """

    AAVE = 0
    V2 = 1
    V3 = 2


#: Protocol PoolKind -> contract hop kind (the one place the two numberings meet).
HOP_KIND_OF = {PoolKind.UNISWAP_V2: HopKind.V2, PoolKind.UNISWAP_V3: HopKind.V3}
#: Protocol FlashSource -> contract flash source.
FLASH_SOURCE_OF = {ProtocolFlashSource.AAVE_V3: FlashSource.AAVE,
                   ProtocolFlashSource.UNISWAP_V2: FlashSource.V2,
                   ProtocolFlashSource.UNISWAP_V3: FlashSource.V3}


class BadTrade(ChainError):
    """A trade that cannot be encoded (bad address, fee, amount, length or path)."""


ARBITRAGE_TOPIC = keccak(
    text="Arbitrage(address,address,address,bytes32,uint256,uint256,uint256,uint256,uint256)")
HEAD_BYTES = 72
HOP_BYTES = 56
#: Largest amount_in / min_profit (14 bytes) and precomputed amount_out (12 bytes).
MAX_AMOUNT = 2**112 - 1
MAX_AMOUNT_OUT = 2**96 - 1


def _addr(value: str) -> bytes:
    try:
        return bytes.fromhex(to_checksum_address(value)[2:])
    except (ValueError, TypeError):
        raise BadTrade(f"not an address: {value!r}") from None


def _fee(fee_bps: int) -> int:
    if not 0 <= fee_bps < 10000:
        raise BadTrade(f"fee_bps {fee_bps} outside [0, 10000)")
    return fee_bps


def _uint(value: int, limit: int, name: str, size: int) -> bytes:
    if not 0 <= value <= limit:
        raise BadTrade(f"{name} {value} outside [0, {limit}]")
    return value.to_bytes(size, "big")


@dataclass(slots=True, frozen=True)
class Hop:
    """One swap: ``token_in`` -> ``token_out`` in ``pool``.

    ``amount_out`` (V2 only) is the precomputed output the pair is asked for; 0 lets the contract
    price the hop from ``getReserves`` with ``fee_bps`` (30 for Uniswap V2).
    """

    pool: str
    kind: HopKind
    token_in: str
    token_out: str
    amount_out: int = 0
    fee_bps: int = 30

    @property
    def zero_for_one(self) -> bool:
        """True when ``token_in`` is the pool's token0 (Uniswap sorts tokens by address)."""
        return int(self.token_in, 16) < int(self.token_out, 16)

    def encode(self) -> bytes:
        """The 56-byte hop record."""
        if self.kind == HopKind.V3 and self.amount_out:
            raise BadTrade("amount_out is for V2 hops only")
        return (_addr(self.pool) + bytes([int(self.kind), int(self.zero_for_one)])
                + _fee(self.fee_bps).to_bytes(2, "big") + _addr(self.token_in)
                + _uint(self.amount_out, MAX_AMOUNT_OUT, "amount_out", 12))


def hops_along(path: tuple[str, ...] | list[str], pools: list[tuple[str, HopKind]]) -> tuple[Hop, ...]:
    """Hops for ``path`` (tokens, ``len(pools) + 1``) through ``pools`` (address, kind), no amounts."""
    if len(path) != len(pools) + 1:
        raise BadTrade(f"{len(pools)} pools need {len(pools) + 1} tokens, got {len(path)}")
    return tuple(Hop(pool, kind, path[i], path[i + 1]) for i, (pool, kind) in enumerate(pools))


@dataclass(slots=True, frozen=True)
class Trade:
    """Arguments of ``FlashArbitrage.execute`` (amounts in raw units of the profit token).

    ``borrow_token1`` and ``lender_fee_bps`` describe a V2 or V3 lender that is not on the route.
    A V2 lender that is the last hop's pair is *fused* and needs that hop's ``amount_out``.
    """

    hops: tuple[Hop, ...]
    amount_in: int
    lender: str
    source: FlashSource
    min_profit: int
    recipient: str
    borrow_token1: bool = False
    lender_fee_bps: int = 30

    @property
    def profit_token(self) -> str:
        """The token borrowed, routed and returned (hop 0's input)."""
        return self.hops[0].token_in

    @property
    def fused(self) -> bool:
        """A V2 flash swap out of the route's last pair."""
        return self.source == FlashSource.V2 and self.lender.lower() == self.hops[-1].pool.lower()

    def encode(self) -> bytes:
        """The packed trade that ``execute`` takes."""
        if not 2 <= len(self.hops) <= 4:
            raise BadTrade(f"a route has 2 to 4 hops, got {len(self.hops)}")
        for a, b in zip(self.hops, self.hops[1:] + self.hops[:1], strict=True):
            if a.token_out.lower() != b.token_in.lower():
                raise BadTrade(f"path is not a cycle: {a.token_out} then {b.token_in}")
        if self.fused and (self.hops[-1].kind != HopKind.V2 or self.hops[-1].amount_out == 0):
            raise BadTrade("a fused V2 flash swap needs the last hop's amount_out")
        head = (_addr(self.recipient) + _addr(self.lender) + bytes([int(self.source), int(self.borrow_token1)])
                + _fee(self.lender_fee_bps).to_bytes(2, "big")
                + _uint(self.amount_in, MAX_AMOUNT, "amount_in", 14)
                + _uint(self.min_profit, MAX_AMOUNT, "min_profit", 14))
        return head + b"".join(h.encode() for h in self.hops)

    @property
    def route_hash(self) -> bytes:
        """keccak256 of :meth:`encode`, the ``route`` field of the trade's event."""
        return keccak(self.encode())


def with_v2_amounts(chain: Chain, trade: Trade, last_out: int | None = None) -> Trade:
    """``trade`` with every V2 hop's ``amount_out`` priced from the pairs' reserves now, along the
    route while the input is known (it stops at the first V3 hop). ``last_out`` sets the last hop's
    output instead (a quote from :func:`quote`, e.g. when a V3 hop precedes it)."""
    hops = list(trade.hops)
    amount: int | None = trade.amount_in
    for i, hop in enumerate(hops):
        if hop.kind != HopKind.V2 or amount is None:
            amount = None
            continue
        state = read_v2(chain, hop.pool)
        zero = hop.zero_for_one
        r_in, r_out = (state.reserve0, state.reserve1) if zero else (state.reserve1, state.reserve0)
        amount = v2_amount_out(amount, r_in, r_out, hop.fee_bps)
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
    """A decoded ``Arbitrage`` event; ``route`` is the :attr:`Trade.route_hash` of the trade."""

    token: str
    recipient: str
    lender: str
    route: bytes
    source: FlashSource
    amount_in: int
    amount_out: int
    fee: int
    profit: int


def arbitrage_contract(chain: Chain, address: str) -> Any:
    """A web3 contract for FlashArbitrage at ``address`` (its errors join the chain's decoder)."""
    return chain.contract(address, own_artifact("FlashArbitrage")["abi"])


def execute(chain: Chain, arb: Any, trade: Trade, *, gas: int | None = None, check: bool = True) -> Receipt:
    """Send ``execute(trade.encode())`` from the chain's account; returns the receipt."""
    return chain.transact(arb, "execute", trade.encode(), gas=gas, check=check)


def arbitrage_events(receipt: dict, address: str) -> list[ArbitrageEvent]:
    """The ``Arbitrage`` events that ``address`` emitted in ``receipt``."""
    events = []
    for log in receipt["logs"]:
        if log["address"].lower() != address.lower() or bytes(log["topics"][0]) != ARBITRAGE_TOPIC:
            continue
        token, recipient, lender = (to_checksum_address(bytes(t)[12:]) for t in log["topics"][1:4])
        route, source, a_in, a_out, fee, profit = abi_decode(
            ["bytes32", "uint256", "uint256", "uint256", "uint256", "uint256"], bytes(log["data"]))
        events.append(ArbitrageEvent(token, recipient, lender, route, FlashSource(source),
                                     a_in, a_out, fee, profit))
    return events
