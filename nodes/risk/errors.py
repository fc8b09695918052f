"""Bad input the risk node counts and skips (never crashes on): one error class, kind per case."""

from __future__ import annotations

from alphapulse.errors import MeshError


class BadRiskInput(MeshError):
    """A message the risk node cannot use: a value out of its range or an inconsistent field.

    ``kind`` (the ``alphapulse_errors_total`` label) names the case: ``bad_status``
    (an ExecutionResult status outside ExecutionStatus), ``bad_opportunity`` (an opportunity
    without a token path), ``bad_price`` (a pool price that is zero or out of range),
    ``bad_action`` (a RiskAlert action outside AlertAction).
    """

    kind = "bad_risk_input"

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
