"""EIP-1559 fees from the chain: the next block's base fee, the priority fee, the fee cap.

The base fee of the next block follows from its parent alone (EIP-1559,
https://eips.ethereum.org/EIPS/eip-1559, "Specification"): the gas target is half the gas limit;
a block above target raises the base fee by at most 1/8 (and by at least 1 wei), a block below
target lowers it by at most 1/8, a block exactly at target keeps it. All integer arithmetic, in
the specification's order of operations, so the result is the wei the chain will charge.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.answers import Head

#: EIP-1559 ELASTICITY_MULTIPLIER: the gas limit is this many times the gas target.
ELASTICITY_MULTIPLIER = 2
#: EIP-1559 BASE_FEE_MAX_CHANGE_DENOMINATOR: the base fee moves by at most 1/8 per block.
BASE_FEE_MAX_CHANGE_DENOMINATOR = 8
#: The default fee cap policy: this many next base fees plus the priority fee.
BASE_FEE_HEADROOM = 2


def next_base_fee(gas_limit: int, gas_used: int, base_fee: int) -> int:
    """The base fee (wei per gas) of the block after one with these figures.

    Parameters
    ----------
    gas_limit, gas_used, base_fee
        The parent block's gas limit, gas used and base fee per gas.

    Returns
    -------
    int
        The child block's base fee per gas, exactly as EIP-1559 computes it.
    """
    target = gas_limit // ELASTICITY_MULTIPLIER
    if target == 0 or gas_used == target:
        return base_fee
    if gas_used > target:
        delta = base_fee * (gas_used - target) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
        return base_fee + max(delta, 1)
    delta = base_fee * (target - gas_used) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
    return base_fee - delta


def next_base_fee_of(head: Head) -> int:
    """The base fee of the block after ``head``."""
    return next_base_fee(head.gas_limit, head.gas_used, head.base_fee)


@dataclass(slots=True, frozen=True)
class FeeQuote:
    """The fees to sign a type-2 transaction with, for the block after ``block``.

    Attributes
    ----------
    block : int
        Number of the head the quote was computed from.
    base_fee : int
        The next block's base fee per gas (wei).
    priority_fee : int
        The tip per gas (``maxPriorityFeePerGas``).
    max_fee : int
        The cap per gas (``maxFeePerGas``); at least ``base_fee + priority_fee``.
    """

    block: int
    base_fee: int
    priority_fee: int
    max_fee: int


def quote(head: Head, priority_fee: int, headroom: int = BASE_FEE_HEADROOM) -> FeeQuote:
    """The fee policy: cap = ``headroom`` x next base fee + priority fee.

    With ``headroom`` 2 the transaction stays includable through five consecutive full blocks
    (each raises the base fee by at most 1/8, and 1.125**5 < 2).
    """
    base = next_base_fee_of(head)
    return FeeQuote(head.number, base, priority_fee, headroom * base + priority_fee)
