"""The breakers over execution results, opportunities and gas: pure logic, no I/O.

Each breaker keeps its own state and answers an input with the :class:`~nodes.risk.rules.Trip`
events it causes: one when its value crosses the limit, none while it stays beyond it (no
alert storm), and it re-arms once the value is back inside the limit. Only final execution
results reach them (:mod:`nodes.risk.results`). The market-volatility breaker lives in
:mod:`nodes.risk.volatility`.
"""

from __future__ import annotations

from collections import deque

from mesh.protocol.constants import ExecutionStatus
from nodes.risk.rules import RiskRule, Trip
from nodes.risk.settings import (
    ConsecutiveSettings,
    DailyLossSettings,
    FailureRateSettings,
    GasPriceSettings,
    TradeSizeSettings,
)

#: Final statuses that count as a failed execution for the consecutive-failures breaker. A
#: REJECTED opportunity was refused before signing (stale, conflicting, over a limit): the
#: executor doing its job, not an execution that failed, so it neither counts nor resets.
FAILED = frozenset({ExecutionStatus.REVERTED, ExecutionStatus.DROPPED,
                    ExecutionStatus.SUBMIT_FAILED})
#: Final statuses of executions that were attempted on chain (the failure rate's sample):
#: a REJECTED opportunity was refused before signing and is not an execution.
ATTEMPTED = frozenset({ExecutionStatus.INCLUDED, ExecutionStatus.REVERTED,
                       ExecutionStatus.DROPPED, ExecutionStatus.SUBMIT_FAILED})
DAY_NS = 86_400 * 10**9


class Edge:
    """One alert per crossing: :meth:`update` is True only when the value goes beyond the
    limit while armed; it re-arms when the value is back inside (or on :meth:`rearm`)."""

    __slots__ = ("tripped",)

    def __init__(self) -> None:
        self.tripped = False

    def update(self, beyond: bool) -> bool:
        """Record whether the value is beyond the limit; True on a crossing."""
        crossed = beyond and not self.tripped
        self.tripped = beyond
        return crossed

    def rearm(self) -> None:
        """Forget the trip: the next value beyond the limit crosses again."""
        self.tripped = False


class ConsecutiveFailures:
    """``limit`` failed executions in a row (an INCLUDED one resets the count; a REJECTED
    one does neither)."""

    rule = RiskRule.CONSECUTIVE_FAILURES

    def __init__(self, settings: ConsecutiveSettings) -> None:
        self.settings = settings
        self.count = 0
        self.edge = Edge()

    def on_result(self, status: int, strategy_id: int = 0) -> list[Trip]:
        """Fold one final status in."""
        if status in FAILED:
            self.count += 1
        elif status == ExecutionStatus.INCLUDED:
            self.count = 0
        s = self.settings
        if not self.edge.update(self.count >= s.limit):
            return []
        return [Trip(self.rule, s.action, self.count, s.limit, "consecutive failed executions",
                     strategy_id)]

    @property
    def tripped(self) -> bool:
        """True while beyond the limit (alerted, not re-armed)."""
        return self.edge.tripped

    def rearm(self) -> None:
        """After an operator's resume: count failures from zero again."""
        self.count = 0
        self.edge.rearm()


class DailyLoss:
    """Realized USD P&L (x 1e8) of final results since UTC midnight below ``-limit``.

    The day is the node's wall clock at receipt (``now_ns``); the sum starts again at 0 at
    every UTC midnight.
    """

    rule = RiskRule.DAILY_LOSS

    def __init__(self, settings: DailyLossSettings) -> None:
        self.settings = settings
        self.day = -1
        self.total_q8 = 0
        self.edge = Edge()

    def today_q8(self, now_ns: int) -> int:
        """Realized USD P&L x 1e8 of the UTC day of ``now_ns`` (0 on a day with no result)."""
        return self.total_q8 if now_ns // DAY_NS == self.day else 0

    def on_result(self, profit_usd_q8: int, now_ns: int, strategy_id: int = 0) -> list[Trip]:
        """Add one final result's USD P&L (negative = loss)."""
        day = now_ns // DAY_NS
        if day != self.day:
            self.day, self.total_q8 = day, 0
            self.edge.rearm()
        self.total_q8 += profit_usd_q8
        s = self.settings
        if not self.edge.update(self.total_q8 < -s.limit_usd_q8):
            return []
        return [Trip(self.rule, s.action, self.total_q8, -s.limit_usd_q8,
                     "daily realized loss beyond limit (USD x 1e8)", strategy_id)]

    @property
    def tripped(self) -> bool:
        """True while beyond the limit (alerted, not re-armed)."""
        return self.edge.tripped

    def rearm(self) -> None:
        """After an operator's resume: the next result still beyond the limit trips again."""
        self.edge.rearm()


class FailureRate:
    """More than ``max_rate_bps`` of the last ``window`` attempted executions failed.

    Judged only once ``min_sample`` executions are in the window; REJECTED results (refused
    before signing) are not executions and are left out.
    """

    rule = RiskRule.FAILURE_RATE

    def __init__(self, settings: FailureRateSettings) -> None:
        self.settings = settings
        self.window: deque[bool] = deque(maxlen=settings.window)
        self.failures = 0
        self.edge = Edge()

    def rate_bps(self) -> int:
        """Failed share of the window in basis points (0 when empty), rounded down."""
        return self.failures * 10_000 // len(self.window) if self.window else 0

    def on_result(self, status: int, strategy_id: int = 0) -> list[Trip]:
        """Fold one final status in."""
        if status not in ATTEMPTED:
            return []
        if len(self.window) == self.window.maxlen:
            self.failures -= self.window[0]
        failed = status != ExecutionStatus.INCLUDED
        self.window.append(failed)
        self.failures += failed
        s, n = self.settings, len(self.window)
        beyond = n >= s.min_sample and self.failures * 10_000 > s.max_rate_bps * n
        if not self.edge.update(beyond):
            return []
        return [Trip(self.rule, s.action, self.rate_bps(), s.max_rate_bps,
                     f"{self.failures} of {n} executions failed (bps)", strategy_id)]

    @property
    def tripped(self) -> bool:
        """True while beyond the limit (alerted, not re-armed)."""
        return self.edge.tripped

    def rearm(self) -> None:
        """After an operator's resume: judge only executions from here on."""
        self.window.clear()
        self.failures = 0
        self.edge.rearm()


class TradeSize:
    """An opportunity whose ``amount_in`` exceeds its input token's maximum (raw units).

    One alert per crossing and token: the token re-arms with its next opportunity within the
    limit. The executor enforces a size limit of its own; this is the independent check.
    """

    rule = RiskRule.TRADE_SIZE

    def __init__(self, settings: TradeSizeSettings) -> None:
        self.settings = settings
        self.edges: dict[bytes, Edge] = {}

    def on_opportunity(self, token: bytes, amount_in: int, strategy_id: int = 0,
                       opportunity_id: int = 0) -> list[Trip]:
        """Check one opportunity's input ``amount_in`` of ``token`` (tokens[0])."""
        s = self.settings
        limit = s.limit_for(token)
        if not limit:
            return []
        edge = self.edges.setdefault(token, Edge())
        if not edge.update(amount_in > limit):
            return []
        return [Trip(self.rule, s.action, amount_in, limit,
                     f"opportunity {opportunity_id} 0x{token[:4].hex()} oversize", strategy_id)]

    @property
    def tripped(self) -> bool:
        """True while any token is beyond the limit."""
        return any(e.tripped for e in list(self.edges.values()))

    def rearm(self) -> None:
        """After an operator's resume: every token trips again on its next oversize."""
        self.edges.clear()


class GasCeiling:
    """The next block's base fee (wei) above the ceiling: a trip when it crosses up and a
    clearing event (information, action NONE) when it falls back to or below it."""

    rule = RiskRule.GAS_PRICE

    def __init__(self, settings: GasPriceSettings) -> None:
        self.settings = settings
        self.base_fee_wei = 0
        self.edge = Edge()

    def on_base_fee(self, base_fee_wei: int, block: int = 0) -> list[Trip]:
        """Check one block's base fee."""
        s = self.settings
        self.base_fee_wei = base_fee_wei
        was = self.edge.tripped
        if self.edge.update(base_fee_wei > s.max_base_fee_wei):
            return [Trip(self.rule, s.action, base_fee_wei, s.max_base_fee_wei,
                         f"base fee above ceiling at block {block}: pause")]
        if was and not self.edge.tripped:
            return [Trip(self.rule, s.action, base_fee_wei, s.max_base_fee_wei,
                         f"base fee back under ceiling at block {block}", cleared=True)]
        return []

    @property
    def tripped(self) -> bool:
        """True while beyond the limit (alerted, not re-armed)."""
        return self.edge.tripped

    def rearm(self) -> None:
        """Nothing to forget: the ceiling tracks the chain, not the operator."""
