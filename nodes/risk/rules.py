"""Rule codes, breaker actions and what a breaker reports when it trips or clears.

Every breaker (:mod:`nodes.risk.breakers`, :mod:`nodes.risk.volatility`) answers an input with
zero or more :class:`Trip` events; the node turns each into a ``RiskAlert`` and, when the
breaker's :class:`Action` is ``STOP``, an emergency stop. docs/risk.md lists the codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from mesh.protocol.constants import AlertAction, Severity, StopReason

#: i64 bounds of ``RiskAlert.observed`` / ``threshold``: larger values are reported saturated.
I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)


class RiskRule(IntEnum):
    """``RiskAlert.rule``: which breaker tripped (docs/risk.md)."""

    CONSECUTIVE_FAILURES = 1
    DAILY_LOSS = 2
    TRADE_SIZE = 3
    GAS_PRICE = 4
    FAILURE_RATE = 5
    VOLATILITY = 6


class Action(Enum):
    """What a breaker does when it trips (the ``action`` key of its TOML table)."""

    ALERT = "alert"
    THROTTLE = "throttle"
    STOP = "stop"

    @property
    def alert_action(self) -> AlertAction:
        """The ``RiskAlert.action`` a trip with this action carries."""
        return {Action.ALERT: AlertAction.NONE, Action.THROTTLE: AlertAction.THROTTLE,
                Action.STOP: AlertAction.EMERGENCY_STOP}[self]

    @property
    def severity(self) -> Severity:
        """The ``RiskAlert.severity`` of a trip with this action."""
        return Severity.CRITICAL if self is Action.STOP else Severity.WARNING


#: The StopReason a breaker's emergency stop carries.
STOP_REASONS: dict[RiskRule, StopReason] = {
    RiskRule.CONSECUTIVE_FAILURES: StopReason.CIRCUIT_BREAKER,
    RiskRule.DAILY_LOSS: StopReason.LOSS_LIMIT,
    RiskRule.TRADE_SIZE: StopReason.CIRCUIT_BREAKER,
    RiskRule.GAS_PRICE: StopReason.CIRCUIT_BREAKER,
    RiskRule.FAILURE_RATE: StopReason.ERROR_RATE,
    RiskRule.VOLATILITY: StopReason.CIRCUIT_BREAKER,
}


def saturate(value: int) -> int:
    """``value`` clamped to the i64 range of ``RiskAlert.observed``."""
    return max(I64_MIN, min(I64_MAX, value))


@dataclass(frozen=True, slots=True)
class Trip:
    """A breaker crossed its limit (``cleared`` False) or came back inside it (True).

    Attributes
    ----------
    rule : RiskRule
    action : Action
        The breaker's configured action (a clearing event is reported as information only).
    observed, threshold : int
        In the rule's unit (docs/risk.md); saturated to i64 when published.
    message : str
        At most 56 bytes are published.
    strategy_id : int
        0 = all strategies.
    cleared : bool
        True when the value returned inside the limit (only the gas ceiling reports it).
    """

    rule: RiskRule
    action: Action
    observed: int
    threshold: int
    message: str
    strategy_id: int = 0
    cleared: bool = False

    @property
    def alert_action(self) -> AlertAction:
        """``NONE`` for a clearing event, else the action's."""
        return AlertAction.NONE if self.cleared else self.action.alert_action

    @property
    def severity(self) -> Severity:
        """``INFO`` for a clearing event, else the action's."""
        return Severity.INFO if self.cleared else self.action.severity

    @property
    def stops(self) -> bool:
        """True when this event latches an emergency stop."""
        return not self.cleared and self.action is Action.STOP
