"""Encode FlashArbitrage trades and decode its ``Arbitrage`` events.

The word layouts are those documented in ``contracts/src/FlashArbitrage.sol``:

    hop word   = pool | kind << 160 | v2_fee_bps << 168
    flash word = lender | source << 160 | borrow_token1 << 168 | v2_fee_bps << 176
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from contracts.chain import Chain
from contracts.npm import own_artifact
from mesh.errors import ChainError


class HopKind(IntEnum):
    """Pool kind of one hop."""

    V2 = 0
    V3 = 1


class FlashSource(IntEnum):
    """Where the flash loan comes from."""

    AAVE = 0
    V2 = 1
    V3 = 2


class BadTrade(ChainError):
    """A trade that cannot be encoded (bad address, fee or length)."""


ARBITRAGE_TOPIC = keccak(
    text="Arbitrage(address,address,address,uint256,uint256[],uint256,uint256,uint256,uint256)")


def _addr(value: str) -> int:
    try:
        return int(to_checksum_address(value), 16)
    except (ValueError, TypeError):
        raise BadTrade(f"not an address: {value!r}") from None


def hop_word(pool: str, kind: HopKind, fee_bps: int = 30) -> int:
    """One hop: ``pool`` of ``kind``; ``fee_bps`` is the V2 pair's fee (30 for Uniswap V2)."""
    if not 0 <= fee_bps < 10000:
        raise BadTrade(f"fee_bps {fee_bps} outside [0, 10000)")
    return _addr(pool) | int(kind) << 160 | (fee_bps if kind == HopKind.V2 else 0) << 168


def flash_word(lender: str, source: FlashSource, borrow_token1: bool = False, fee_bps: int = 30) -> int:
    """The flash source: ``lender`` (Aave Pool, V2 pair or V3 pool) and, for pairs and pools,
    whether the borrowed token is the lender's token1; ``fee_bps`` is a V2 lender's fee."""
    if not 0 <= fee_bps < 10000:
        raise BadTrade(f"fee_bps {fee_bps} outside [0, 10000)")
    return _addr(lender) | int(source) << 160 | int(borrow_token1) << 168 | fee_bps << 176


def word_address(word: int) -> str:
    """The checksummed address in the low 160 bits of a hop or flash word."""
    return to_checksum_address("0x%040x" % (word & (2**160 - 1)))


@dataclass(slots=True, frozen=True)
class Trade:
    """Arguments of ``FlashArbitrage.execute`` (amounts in raw units of ``profit_token``)."""

    hops: tuple[int, ...]
    path: tuple[str, ...]
    amount_in: int
    flash: int
    min_profit: int
    profit_token: str
    recipient: str

    def as_tuple(self) -> tuple:
        """The ABI tuple ``(hops, path, amountIn, flash, minProfit, profitToken, recipient)``."""
        return (list(self.hops), [to_checksum_address(p) for p in self.path], self.amount_in,
                self.flash, self.min_profit, to_checksum_address(self.profit_token),
                to_checksum_address(self.recipient))


@dataclass(slots=True, frozen=True)
class ArbitrageEvent:
    """A decoded ``Arbitrage`` event."""

    token: str
    recipient: str
    lender: str
    source: FlashSource
    hops: tuple[int, ...]
    amount_in: int
    amount_out: int
    fee: int
    profit: int


def arbitrage_contract(chain: Chain, address: str) -> Any:
    """A web3 contract for FlashArbitrage at ``address`` (its errors join the chain's decoder)."""
    return chain.contract(address, own_artifact("FlashArbitrage")["abi"])


def execute(chain: Chain, arb: Any, trade: Trade, *, gas: int | None = None, check: bool = True) -> dict:
    """Send ``execute(trade)`` from the chain's account; returns the receipt."""
    return chain.transact(arb, "execute", trade.as_tuple(), gas=gas, check=check)


def arbitrage_events(receipt: dict, address: str) -> list[ArbitrageEvent]:
    """The ``Arbitrage`` events that ``address`` emitted in ``receipt``."""
    events = []
    for log in receipt["logs"]:
        if log["address"].lower() != address.lower() or bytes(log["topics"][0]) != ARBITRAGE_TOPIC:
            continue
        token, recipient, lender = (to_checksum_address(bytes(t)[12:]) for t in log["topics"][1:4])
        source, hops, a_in, a_out, fee, profit = abi_decode(
            ["uint256", "uint256[]", "uint256", "uint256", "uint256", "uint256"], bytes(log["data"]))
        events.append(ArbitrageEvent(token, recipient, lender, FlashSource(source), tuple(hops),
                                     a_in, a_out, fee, profit))
    return events
