"""What each flash lender charges FlashArbitrage, exactly, and the rate the sizing search uses.

One function per source, each the integer formula the lender (or FlashArbitrage repaying it)
computes:

- Aave V3 ``flashLoanSimple``: ``FlashLoanLogic.executeFlashLoanSimple`` charges
  ``amount.percentMul(flashLoanPremiumTotal)`` (``PercentageMath.percentMul``, half up, bps);
- a Uniswap V2 pair off the route: ``FlashArbitrage.uniswapV2Call`` repays
  ``ceil(amount * 10000 / (10000 - feeBps))``, the least the pair's K check accepts with the fee
  on the repaid input; a *fused* V2 flash (the lender is the route's last pair) costs nothing
  beyond the last hop's own ``getAmountOut``, so it sizes with no fee (``None``);
- a Uniswap V3 pool's ``flash``: ``FullMath.mulDivRoundingUp(amount, fee, 1e6)``
  (``UniswapV3Pool.flash``), which ``FlashArbitrage.uniswapV3FlashCallback`` checks and repays.

A :class:`FlashFee` names one of them and its fee; it is the callable premium the exact search
charges, and carries the proportional ``rate`` (and the rounding ``slack``) the closed form uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from alphapulse.errors import ChainError
from mesh.protocol.constants import FlashSource

#: PercentageMath's PERCENTAGE_FACTOR (100 % in bps) and the V2 fee's denominator.
BPS = 10_000
#: UniswapV3Pool's fee denominator (the fee is in millionths).
PIPS = 1_000_000


class BadSizing(ChainError):
    """Arguments the sizing cannot price: a fee outside its range, an empty pool, a bad route."""

    kind = "sizing"


def aave_flash_premium(amount: int, premium_bps: int) -> int:
    """Aave V3's premium on ``amount``: ``PercentageMath.percentMul`` (half up) by the bps."""
    return (amount * premium_bps + BPS // 2) // BPS


def v2_flash_fee(amount: int, fee_bps: int) -> int:
    """What FlashArbitrage pays a V2 lender off the route beyond ``amount``:
    ``ceil(amount * 10000 / (10000 - fee_bps)) - amount`` (``uniswapV2Call``'s ``owed``)."""
    return -(-amount * BPS // (BPS - fee_bps)) - amount


def v3_flash_fee(amount: int, fee_pips: int) -> int:
    """UniswapV3Pool.flash's fee on ``amount``: ``mulDivRoundingUp(amount, fee, 1e6)``."""
    return -(-amount * fee_pips // PIPS)


@dataclass(slots=True, frozen=True)
class FlashFee:
    """A flash lender's charge: ``source`` and its ``fee`` (bps for Aave and V2, millionths for V3).

    Calling it gives the exact premium on an amount. Build one with :meth:`aave`, :meth:`v2`,
    :meth:`v3`; a fused V2 flash swap sizes with no fee at all.
    """

    source: FlashSource
    fee: int

    def __post_init__(self) -> None:
        limit = {FlashSource.AAVE_V3: BPS, FlashSource.UNISWAP_V2: BPS - 1,
                 FlashSource.UNISWAP_V3: PIPS - 1}.get(self.source)
        if limit is None:
            raise BadSizing(f"no flash fee for source {self.source!r}")
        if not 0 <= self.fee <= limit:
            raise BadSizing(f"{self.source.name} fee {self.fee} outside [0, {limit}]")

    @classmethod
    def aave(cls, premium_bps: int) -> FlashFee:
        """Aave V3 ``flashLoanSimple`` with ``FLASHLOAN_PREMIUM_TOTAL`` in bps."""
        return cls(FlashSource.AAVE_V3, premium_bps)

    @classmethod
    def v2(cls, fee_bps: int) -> FlashFee:
        """A Uniswap V2 pair that is not on the route (30 bps for Uniswap V2)."""
        return cls(FlashSource.UNISWAP_V2, fee_bps)

    @classmethod
    def v3(cls, fee_pips: int) -> FlashFee:
        """A Uniswap V3 pool's ``flash`` (the pool's fee in millionths)."""
        return cls(FlashSource.UNISWAP_V3, fee_pips)

    def __call__(self, amount: int) -> int:
        """The exact premium on ``amount`` (raw units of the borrowed token)."""
        if self.source == FlashSource.AAVE_V3:
            return aave_flash_premium(amount, self.fee)
        if self.source == FlashSource.UNISWAP_V2:
            return v2_flash_fee(amount, self.fee)
        return v3_flash_fee(amount, self.fee)

    @property
    def rate(self) -> Fraction:
        """``f`` such that the premium is ``f * amount`` before rounding."""
        if self.source == FlashSource.AAVE_V3:
            return Fraction(self.fee, BPS)
        if self.source == FlashSource.UNISWAP_V2:
            return Fraction(self.fee, BPS - self.fee)
        return Fraction(self.fee, PIPS)

    @property
    def slack(self) -> Fraction:
        """How far below ``rate * amount`` the exact premium can round: 1/2 for Aave's half-up
        rounding, 0 for the V2 and V3 lenders, which round up."""
        return Fraction(1, 2) if self.source == FlashSource.AAVE_V3 else Fraction(0)
