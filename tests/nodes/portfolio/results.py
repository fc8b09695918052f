"""Execution results as an executor publishes them, for the portfolio's tests."""

from __future__ import annotations

from mesh.protocol import ExecutionDetail, ExecutionResult, encode_frame
from mesh.protocol.constants import ExecutionStatus, SourceType

USDC = "0x" + "11" * 20
WETH = "0x" + "22" * 20


def result(oid: int, status: ExecutionStatus = ExecutionStatus.INCLUDED, *, strategy: int = 1,
           token: str = USDC, profit: int = 900, chain_profit: int = 1000, predicted: int = 950,
           gross: int = 1010, gas_used: int = 200_000, gas_price: int = 10**9,
           gas_estimate: int = 210_000, block: int = 10, usd_q8: int = 9 * 10**8
           ) -> tuple[ExecutionResult, ExecutionDetail]:
    """``[ExecutionResult, ExecutionDetail]`` of one opportunity (a settled one by default)."""
    mined = status in (ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED)
    included = status == ExecutionStatus.INCLUDED
    res = ExecutionResult(
        opportunity_id=oid, status=status, strategy_id=strategy,
        profit_token=bytes.fromhex(token[2:]), realized_profit=profit if mined else 0,
        realized_profit_usd_q8=usd_q8 if mined else 0, amount_in=10**9,
        gas_used=gas_used if mined else 0, effective_gas_price_wei=gas_price if mined else 0,
        block_number=block if mined else 0, tx_hash=oid.to_bytes(32, "big") if mined else bytes(32))
    detail = ExecutionDetail(
        opportunity_id=oid, predicted_profit=predicted, predicted_gross=gross,
        chain_profit=chain_profit if included else 0,
        gas_paid_wei=gas_used * gas_price if mined else 0, gas_estimate=gas_estimate)
    return res, detail


def frame(*tlvs, sequence: int = 0) -> bytes:
    """One encoded frame as an executor sends it."""
    return encode_frame(list(tlvs), source=int(SourceType.EXECUTION_ENGINE), sequence=sequence)
