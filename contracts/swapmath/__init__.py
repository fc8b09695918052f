"""Exact Uniswap V2/V3 swap math in pure Python integers, and exact arbitrage cycles.

- :mod:`contracts.swapmath.libs`: the v3-core libraries (FullMath, TickMath, SqrtPriceMath,
  SwapMath) rounding exactly as the Solidity;
- :mod:`contracts.swapmath.pools`: V2 ``getAmountOut`` and the V3 ``swap`` loop over a pool's
  initialized ticks, mints and burns;
- :mod:`contracts.swapmath.cycles`: 2- and 3-hop cycles, their exact output and best input.

Nothing here talks to a chain: states come from the caller (the devnet simulator reads them with
:mod:`contracts.simulator.state`). The module is the reference the strategy is checked against.
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
