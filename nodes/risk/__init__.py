"""The risk node: circuit breakers over execution results, and the emergency-stop latch.

It watches every ``ExecutionResult``; ``max_consecutive_failures`` failed executions in a row
(reverted, dropped, rejected or not submitted) trip the breaker: it publishes a critical
``RiskAlert`` and latches an emergency stop, which then rides in every heartbeat until an
operator resumes (``alphapulse resume``). A ``RiskAlert`` from another node whose action is
``EMERGENCY_STOP`` latches a stop too. Executors keep trading only while they hear this node's
heartbeat (dead man's switch) and it carries no latched stop.
"""

from __future__ import annotations

import time

from mesh.protocol import ExecutionResult, RiskAlert
from mesh.protocol.constants import AlertAction, ExecutionStatus, Severity, SourceType, StopReason
from nodes.runtime import ConfigKey, Contract, Node

RULE_CONSECUTIVE_FAILURES = 1
_FAILED = frozenset({ExecutionStatus.REVERTED, ExecutionStatus.DROPPED,
                     ExecutionStatus.REJECTED, ExecutionStatus.SUBMIT_FAILED})


class RiskNode(Node):
    """Circuit breaker on consecutive failed executions; latches emergency stops."""

    CONTRACT = Contract(
        kind="risk",
        role="Circuit breakers and the emergency-stop latch; its heartbeat is the dead man's switch.",
        source=SourceType.RISK_MANAGER,
        consumes=(ExecutionResult, RiskAlert),
        produces=(RiskAlert,),
        config={"max_consecutive_failures": ConfigKey(3, "failed executions in a row that "
                                                         "trip the breaker")},
    )

    def on_start(self) -> None:
        """Read settings."""
        self.limit = int(self.rt.settings["max_consecutive_failures"])
        self.failures = 0
        self.alerts = 0

    def on_frame(self, delivery) -> None:
        """Fold one execution result or alert into the breaker."""
        for tlv in delivery.frame.messages:
            if isinstance(tlv, ExecutionResult):
                self._result(tlv)
            elif isinstance(tlv, RiskAlert) and tlv.action == AlertAction.EMERGENCY_STOP:
                self.rt.raise_stop(f"alert from {delivery.topic.publisher}: {tlv.message}"[:64],
                                   reason_code=StopReason.CIRCUIT_BREAKER)

    def _result(self, result: ExecutionResult) -> None:
        if result.status in _FAILED:
            self.failures += 1
        elif result.status == ExecutionStatus.INCLUDED:
            self.failures = 0
        if self.failures < self.limit or self.rt.latch.latched:
            return
        self.alerts += 1
        self.rt.publish(RiskAlert(
            alert_id=self.alerts, timestamp_ns=time.time_ns(), observed=self.failures,
            threshold=self.limit, rule=RULE_CONSECUTIVE_FAILURES,
            strategy_id=result.strategy_id, severity=Severity.CRITICAL,
            action=AlertAction.EMERGENCY_STOP, message="consecutive failed executions"))
        self.rt.raise_stop(f"{self.failures} failed executions in a row",
                           reason_code=StopReason.CIRCUIT_BREAKER)
