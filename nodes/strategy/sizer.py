"""What the evaluator sizes with: the compiled exact evaluator and a per-candidate time budget."""

from __future__ import annotations

import time
from collections.abc import Callable

from alphapulse.errors import ChainError
from contracts.swapmath import compiled
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import V2Pool, V3Pool

Pool = V2Pool | V3Pool


class SizingTimeout(ChainError):
    """One candidate's sizing ran past its time budget (``max_sizing_ms``): it is dropped."""

    kind = "sizing_timeout"


def with_deadline(amount_out: Callable[[Pool, bool, int], int],
                  deadline: list[int]) -> Callable[[Pool, bool, int], int]:
    """``amount_out`` that raises :class:`SizingTimeout` once ``time.monotonic_ns()`` passes
    ``deadline[0]`` (a list, so the evaluator can set it per candidate)."""

    def timed(pool: Pool, zero_for_one: bool, amount_in: int) -> int:
        if time.monotonic_ns() > deadline[0]:
            raise SizingTimeout(f"sizing ran past its budget at pool {pool.address}")
        return amount_out(pool, zero_for_one, amount_in)

    return timed


def compiled_amount_out(pool: Pool, zero_for_one: bool, amount_in: int) -> int:
    """Exact output for sizing: V3 through the compiled swap (:mod:`contracts.swapmath.compiled`,
    equal to the reference to the unit), refusing a V3 swap that leaves input unspent as
    FlashArbitrage does (``V3PartialFill``)."""
    if isinstance(pool, V2Pool):
        return pool.amount_out(zero_for_one, amount_in)
    if amount_in <= 0:
        return 0
    result = compiled.swap(pool, zero_for_one, amount_in)
    if (result.amount0 if zero_for_one else result.amount1) != amount_in:
        raise SwapReverted("V3PartialFill")
    return result.amount_out(zero_for_one)
