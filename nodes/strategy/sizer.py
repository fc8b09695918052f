"""What the evaluator sizes with: the compiled exact evaluator and a per-candidate time budget."""

from __future__ import annotations

import time
from collections.abc import Callable

from alphapulse.errors import ChainError
from contracts.swapmath import compiled
from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.swapmath.sizing import exact_amount_out

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
    """Exact output for sizing: :func:`contracts.swapmath.sizing.exact_amount_out` with V3 swaps
    through the compiled swap (:mod:`contracts.swapmath.compiled`, equal to the reference to the
    unit)."""
    return exact_amount_out(pool, zero_for_one, amount_in, compiled.swap)
