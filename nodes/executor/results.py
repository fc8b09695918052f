"""What became of an opportunity, as the ``[ExecutionResult, ExecutionDetail, TraceContext...]``
frame (the opportunity's trace one span deeper, docs/tracing.md).

Realized profit is what the contract's ``Arbitrage`` event reports, less the gas paid converted
into the profit token at the opportunity's own rate (``gas_cost`` per ``gas_estimate ×
gas_price_wei``), rounded against us; USD × 1e8 at the opportunity's own USD rate, rounded down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from contracts.arbitrage import Trade
from mesh.protocol import ArbitrageOpportunity, ExecutionDetail, ExecutionResult
from mesh.protocol.constants import (
    ExecutionStatus,
    RejectReason,
    RevertReason,
    SourceType,
    SubmitPath,
)
from mesh.protocol.messages import ArbitrageRoute, TraceContext
from nodes.executor.validate import Bid, wei_in_token
from nodes.tracing.spans import EXECUTED, PROCESSED, carry

#: Custom errors of FlashArbitrage (and the pools) -> the wire's RevertReason.
REVERT_REASONS = {
    "ProfitBelowMinimum": RevertReason.PROFIT_BELOW_MINIMUM,
    "BalanceBelowRequired": RevertReason.INSUFFICIENT_OUTPUT,
    "V3PartialFill": RevertReason.INSUFFICIENT_OUTPUT,
    "TradingPaused": RevertReason.PAUSED,
    "NotOwner": RevertReason.UNAUTHORIZED,
    "OutOfGas": RevertReason.OUT_OF_GAS,
}
#: Refusals -> the wire's RevertReason (ExecutionResult keeps the coarse reason, the detail the exact one).
REFUSAL_REVERTS = {
    RejectReason.EXPIRED_BLOCK: RevertReason.STALE_OPPORTUNITY,
    RejectReason.EXPIRED_TIME: RevertReason.STALE_OPPORTUNITY,
    RejectReason.SIMULATION_REVERTED: RevertReason.SIMULATION_FAILED,
    RejectReason.SIMULATED_PROFIT_LOW: RevertReason.PROFIT_BELOW_MINIMUM,
    RejectReason.PROFIT_BELOW_MINIMUM: RevertReason.PROFIT_BELOW_MINIMUM,
    RejectReason.HALTED: RevertReason.EMERGENCY_STOP,
    RejectReason.STRATEGY_NOT_ALLOWED: RevertReason.UNAUTHORIZED,
    RejectReason.POOL_NOT_ALLOWED: RevertReason.UNAUTHORIZED,
    RejectReason.TOKEN_NOT_ALLOWED: RevertReason.UNAUTHORIZED,
    RejectReason.LENDER_NOT_ALLOWED: RevertReason.UNAUTHORIZED,
    RejectReason.RECIPIENT_NOT_ALLOWED: RevertReason.UNAUTHORIZED,
}


def revert_reason(name: str | None) -> RevertReason:
    """The wire's reason for a decoded revert name (UNKNOWN when not one of ours)."""
    if name is None:
        return RevertReason.UNKNOWN
    return REVERT_REASONS.get(name, RevertReason.UNKNOWN)


@dataclass(slots=True)
class Job:
    """One opportunity on its way through the executor, and everything measured on the way."""

    opp: ArbitrageOpportunity
    route: ArbitrageRoute
    trade: Trade
    frame: bytes
    received_ns: int
    detected_ns: int = 0
    validated_ns: int = 0
    simulated_ns: int = 0
    signed_ns: int = 0
    sent_ns: int = 0
    included_ns: int = 0
    gross: int = 0
    bid: Bid | None = None
    nonce: int = -1
    tx_hash: bytes = b""
    raw: bytes = b""
    path: SubmitPath = SubmitPath.NONE
    target_block: int = 0
    attempts: int = 0
    hashes: list[bytes] = field(default_factory=list)
    cancelled: bool = False
    fell_back: bool = False

    @property
    def oid(self) -> int:
        """The opportunity id."""
        return self.opp.opportunity_id

    def predicted_gross(self) -> int:
        """expected_out − amount_in − flash_fee (raw)."""
        return self.opp.expected_out - self.opp.amount_in - self.opp.flash_fee


def gas_in_token(job: Job, gas_wei: int) -> int:
    """``gas_wei`` in raw units of the profit token at the opportunity's rate, rounded up."""
    return wei_in_token(job.opp, job.route, gas_wei)


def usd_q8(job: Job, amount: int) -> int:
    """``amount`` of the profit token in USD × 1e8 at the opportunity's rate, rounded down."""
    o = job.opp
    if o.expected_profit <= 0:
        return 0
    return max(min(amount * o.net_profit_usd_q8 // o.expected_profit, 2**63 - 1), -(2**63))


def frame_of(job: Job, status: ExecutionStatus, *, block: int = 0, gas_used: int = 0, gas_price: int = 0,
             chain_profit: int = 0, revert: RevertReason = RevertReason.NONE,
             reject: RejectReason = RejectReason.NONE, error: str = "",
             confirmed_ns: int = 0) -> list[ExecutionResult | ExecutionDetail | TraceContext]:
    """The result frame for ``job`` in ``status``, with the opportunity's trace one span deeper
    (bad spans were counted when the opportunity came in: :func:`trace_problems`)."""
    o, b = job.opp, job.bid
    paid = gas_used * gas_price
    realized = 0
    if status in (ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED, ExecutionStatus.DROPPED):
        realized = chain_profit - gas_in_token(job, paid)
    token = bytes(o.tokens[0]) if o.tokens else bytes(20)
    result = ExecutionResult(
        amount_in=o.amount_in, realized_profit=realized, opportunity_id=o.opportunity_id, block_number=block,
        gas_used=gas_used, effective_gas_price_wei=gas_price, realized_profit_usd_q8=usd_q8(job, realized),
        detected_ns=job.detected_ns, submitted_ns=job.sent_ns, confirmed_ns=confirmed_ns,
        revert_reason=int(revert), strategy_id=o.strategy_id, status=int(status),
        tx_hash=job.tx_hash or bytes(32), profit_token=token)
    detail = ExecutionDetail(
        predicted_profit=o.expected_profit, predicted_gross=job.predicted_gross(), chain_profit=chain_profit,
        gas_paid_wei=paid, opportunity_id=o.opportunity_id, chain_id=o.chain_id, received_ns=job.received_ns,
        validated_ns=job.validated_ns, simulated_ns=job.simulated_ns, signed_ns=job.signed_ns,
        sent_ns=job.sent_ns, included_ns=job.included_ns, gas_estimate=o.gas_estimate,
        gas_limit=b.gas_limit if b else 0, max_fee_per_gas=b.max_fee if b else 0,
        priority_fee_per_gas=b.priority_fee if b else 0, nonce=max(job.nonce, 0), reject_reason=int(reject),
        submit_path=int(job.path), attempts=job.attempts, error=error[:32])
    now = time.time_ns()
    spans = carry(job.frame or None, SourceType.EXECUTION_ENGINE, EXECUTED if job.sent_ns else PROCESSED, now,
                  start_ns=job.received_ns or now).spans
    return [result, detail, *spans]


def trace_problems(frame: bytes) -> list[str]:
    """The kinds of the bad spans of an opportunity frame (counted once, when it arrives)."""
    return carry(frame, SourceType.EXECUTION_ENGINE, PROCESSED, time.time_ns()).problems
