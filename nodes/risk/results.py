"""Which execution results count: final ones, each opportunity once.

An executor publishes ``SUBMITTED`` when it sends a transaction and a final result
(``INCLUDED``, ``REVERTED``, ``DROPPED``, ``REJECTED``, ``SUBMIT_FAILED``) when it settles.
Only the final result is booked, and only once per ``opportunity_id`` (a republished result
is a duplicate); ``opportunity_id`` 0 means "no id" and is never deduplicated.
"""

from __future__ import annotations

from collections import OrderedDict

from mesh.protocol import ExecutionResult
from mesh.protocol.constants import ExecutionStatus
from nodes.risk.errors import BadRiskInput

_STATUSES = frozenset(int(s) for s in ExecutionStatus)


class FinalResults:
    """Admit each opportunity's final result once.

    Parameters
    ----------
    capacity : int
        How many recent opportunity ids are remembered (the oldest are forgotten first).
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        self.seen: OrderedDict[int, None] = OrderedDict()
        self.duplicates = 0

    def admit(self, result: ExecutionResult) -> bool:
        """True if ``result`` is a final result not booked before.

        Raises
        ------
        BadRiskInput
            ``bad_status``: a status outside :class:`ExecutionStatus`.
        """
        if result.status not in _STATUSES:
            raise BadRiskInput(f"execution status {result.status} is unknown", "bad_status")
        if result.status == ExecutionStatus.SUBMITTED:
            return False
        oid = result.opportunity_id
        if oid == 0:
            return True
        if oid in self.seen:
            self.duplicates += 1
            return False
        self.seen[oid] = None
        if len(self.seen) > self.capacity:
            self.seen.popitem(last=False)
        return True
