"""One opportunity's outcome as the portfolio books it: an ExecutionResult and its ExecutionDetail.

A :class:`Booking` is plain data folded from the two messages of one frame (the executor
publishes ``[ExecutionResult, ExecutionDetail]``). Every amount is a Python ``int`` in raw
units (token units, wei) or USD x 1e8; addresses are lower-case ``0x`` strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh.protocol import ExecutionDetail, ExecutionResult
from mesh.protocol.constants import ExecutionStatus

#: Statuses that settle an opportunity: the one that counts, booked once.
FINAL = frozenset({ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED, ExecutionStatus.DROPPED,
                   ExecutionStatus.REJECTED, ExecutionStatus.SUBMIT_FAILED})
#: Statuses of an opportunity whose transaction reached a block (gas was paid).
MINED = frozenset({ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED})


def hex_address(raw: bytes) -> str:
    """A 20-byte address as a lower-case ``0x`` string."""
    return "0x" + bytes(raw).hex()


@dataclass(frozen=True, slots=True)
class Booking:
    """The final outcome of one opportunity, as booked.

    Attributes
    ----------
    opportunity_id, strategy_id, status : int
        ``status`` is an :class:`~mesh.protocol.constants.ExecutionStatus` (a final one).
    profit_token : str
        Lower-case address (all zeros when the result names none, e.g. some refusals).
    realized_profit : int
        Raw units of ``profit_token``, net of gas (negative = loss).
    realized_profit_usd_q8 : int
    amount_in : int
    gas_used, effective_gas_price_wei, gas_paid_wei : int
        ``gas_paid_wei`` is the detail's, else ``gas_used * effective_gas_price_wei``.
    block_number : int
    tx_hash : str
        ``0x`` hex, empty when no transaction was sent.
    chain_profit : int
        What the contract's ``Arbitrage`` event reported (before gas), raw; what the profit
        recipient received. 0 without a detail.
    predicted_profit, predicted_gross, gas_estimate : int
        From the detail (0 without one).
    has_detail : bool
        The frame carried a matching ExecutionDetail.
    booked_ns : int
        Wall clock when the node first received it.
    """

    opportunity_id: int
    strategy_id: int
    status: int
    profit_token: str
    realized_profit: int
    realized_profit_usd_q8: int
    amount_in: int
    gas_used: int
    effective_gas_price_wei: int
    gas_paid_wei: int
    block_number: int
    tx_hash: str
    chain_profit: int
    predicted_profit: int
    predicted_gross: int
    gas_estimate: int
    has_detail: bool
    booked_ns: int

    @property
    def mined(self) -> bool:
        """The transaction made it into a block (included or reverted): gas was paid."""
        return self.status in MINED

    @property
    def included(self) -> bool:
        """The trade settled and paid its profit."""
        return self.status == ExecutionStatus.INCLUDED


def booking_of(result: ExecutionResult, detail: ExecutionDetail | None, booked_ns: int
               ) -> Booking:
    """Fold a final result and its detail (``None`` when absent or for another opportunity)."""
    if detail is not None and detail.opportunity_id != result.opportunity_id:
        detail = None
    gas_paid = result.gas_used * result.effective_gas_price_wei
    if detail is not None and detail.gas_paid_wei:
        gas_paid = detail.gas_paid_wei
    tx = bytes(result.tx_hash)
    return Booking(
        opportunity_id=result.opportunity_id, strategy_id=result.strategy_id,
        status=int(result.status), profit_token=hex_address(result.profit_token),
        realized_profit=result.realized_profit,
        realized_profit_usd_q8=result.realized_profit_usd_q8, amount_in=result.amount_in,
        gas_used=result.gas_used, effective_gas_price_wei=result.effective_gas_price_wei,
        gas_paid_wei=gas_paid, block_number=result.block_number,
        tx_hash="0x" + tx.hex() if any(tx) else "",
        chain_profit=detail.chain_profit if detail is not None else 0,
        predicted_profit=detail.predicted_profit if detail is not None else 0,
        predicted_gross=detail.predicted_gross if detail is not None else 0,
        gas_estimate=detail.gas_estimate if detail is not None else 0,
        has_detail=detail is not None, booked_ns=booked_ns)
