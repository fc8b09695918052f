"""Flash-loan sources for a cycle, each with its exact fee and how much it can lend.

FlashArbitrage (contracts/src/FlashArbitrage.sol) borrows the profit token from one of:

- a **fused V2 flash swap**: the route's last pair pays the last hop's output first and the
  other hops deliver its input; no fee beyond the swap itself (the pair's K check is the
  last hop's own ``getAmountOut``);
- **Aave V3** ``flashLoanSimple``: premium ``PercentageMath.percentMul(amount, premium)``, half
  up, the premium read from the chain;
- **another V2 pair** holding the token: repaid so that the pair's K check holds;
- **a V3 pool's** ``flash``: the pool's fee, rounded up.

The fee formulas are :class:`contracts.swapmath.flash.FlashFee`'s, each cited there.

A lender that is also a hop of the route is refused (its reentrancy lock would revert the
swap), except the fused V2 case the contract is built for. What a lender can lend is bounded by
what the book knows: a V2 pair's reserve, a V3 pool's token amount up to its nearest known
initialized tick (a lower bound of its balance), Aave's supplied amount from the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.swapmath.flash import FlashFee
from contracts.swapmath.libs import amount0_delta, amount1_delta
from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.v3math import sqrt_ratio_at_tick
from mesh.protocol.constants import FlashSource


@dataclass(slots=True, frozen=True)
class Lender:
    """One way to borrow the profit token for one cycle.

    ``fee_rate`` is what the trade's ``lender_fee`` field carries: V2 bps, V3 pips, Aave premium
    bps. ``cap`` is the most it can lend (raw units); ``pool`` the lender's book slot (-1 for
    Aave).
    """

    source: FlashSource
    address: str
    fused: bool
    fee_rate: int
    cap: int
    pool: int = -1

    @property
    def fee(self) -> FlashFee | None:
        """The exact fee on the amount borrowed (None for the fused V2 flash swap: no fee)."""
        if self.fused:
            return None
        return FlashFee(self.source, self.fee_rate)

    def fee_ppm(self) -> int:
        """The fee as parts per million (the opportunity's ``flash_fee_ppm``)."""
        if self.fused:
            return 0
        if self.source == FlashSource.UNISWAP_V3:
            return self.fee_rate
        return self.fee_rate * 100


def v2_lendable(pool: V2Pool, token: str) -> int:
    """The most a pair can lend of ``token`` (its reserve less one unit)."""
    reserve = pool.reserve0 if pool.token0.lower() == token else pool.reserve1
    return max(0, reserve - 1)


def v3_lendable(pool: V3Pool, token: str) -> int:
    """A lower bound of a V3 pool's balance of ``token``: the in-range liquidity's amount of it
    from the price to the nearest known initialized tick on that side (0 when none is known)."""
    if pool.liquidity == 0 or pool.sqrt_price_x96 == 0:
        return 0
    if pool.token0.lower() == token:
        above = [t for t in pool.ticks if t > pool.tick]
        if not above:
            return 0
        return amount0_delta(pool.sqrt_price_x96, sqrt_ratio_at_tick(above[0]), pool.liquidity, False)
    below = [t for t in pool.ticks if t <= pool.tick]
    if not below:
        return 0
    return amount1_delta(sqrt_ratio_at_tick(below[-1]), pool.sqrt_price_x96, pool.liquidity, False)
