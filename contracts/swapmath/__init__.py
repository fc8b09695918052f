"""Exact Uniswap V2/V3 swap math, exact arbitrage cycles and their exact best input.

- :mod:`contracts.swapmath.libs`: the v3-core libraries (FullMath, TickMath, SqrtPriceMath,
  SwapMath) rounding exactly as the Solidity;
- :mod:`contracts.swapmath.pools`: V2 ``getAmountOut`` and the V3 ``swap`` loop over a pool's
  initialized ticks, mints and burns;
- :mod:`contracts.swapmath.u256`, :mod:`~contracts.swapmath.compiled_libs`,
  :mod:`~contracts.swapmath.compiled`: the same V3 math compiled with numba over 256-bit limbs;
- :mod:`contracts.swapmath.cycles`: cycles of 2 to 4 hops and their exact output;
- :mod:`contracts.swapmath.sizing` (with :mod:`~contracts.swapmath.search`,
  :mod:`~contracts.swapmath.flash`, :mod:`~contracts.swapmath.fast_v2`,
  :mod:`~contracts.swapmath.compiled_v2`): a cycle's exact best input for a flash fee.

Nothing here talks to a chain: states come from the caller (the devnet simulator reads them with
:mod:`contracts.simulator.state`, the strategy from its pool book). The pure-Python modules are
the reference; every compiled path is tested equal to them.
"""

from contracts.swapmath.cycles import (
    Cycle,
    Hop,
    Optimum,
    aave_premium,
    cycle_out,
    enumerate_cycles,
    optimise,
)
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import (
    SwapResult,
    TicksUnknown,
    V2Pool,
    V3Pool,
    amount_out,
    v2_amount_out,
    v3_amount_out,
    v3_swap,
)

__all__ = [
    "Cycle", "Hop", "Optimum", "SwapResult", "SwapReverted", "TicksUnknown", "V2Pool", "V3Pool",
    "aave_premium", "amount_out", "cycle_out", "enumerate_cycles", "optimise", "v2_amount_out",
    "v3_amount_out", "v3_swap",
]
