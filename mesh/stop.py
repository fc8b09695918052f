"""Emergency stop: the latch a node raises, the guard every executor checks, the dead man's switch.

A stop is never carried by one PUB message alone (PUB drops before a subscription arrives and
past the high-water mark). The node that raises it:

1. latches it (:class:`StopLatch`) and publishes an ``EmergencyStop`` (journaled, recoverable);
2. from then on sends ``[Heartbeat(stop_latched=1, stop_id), EmergencyStop(latched=1)]`` in
   every heartbeat frame, so a late or lagging subscriber learns it from the next beat;
3. on resume publishes ``EmergencyStop(latched=0)`` and heartbeats with ``stop_latched=0``.

A :class:`StopGuard` (executors) folds all of that into one ``halted`` answer, together with
the dead man's switch (a risk heartbeat older than its deadline is a stop) and, on one host,
the shared-memory kill flag.

Thread-safety: none of these classes is thread-safe; feed and query each from one thread.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from mesh.protocol import EmergencyStop, Frame, Heartbeat, encode_frame
from mesh.protocol.constants import SourceType, StopReason, StopScope


@dataclass(frozen=True, slots=True)
class StopState:
    """A stop in force: who raised it, why, and when (wall ns)."""

    stop_id: int
    raised_by: str
    reason: str
    reason_code: int
    scope: int
    timestamp_ns: int


def new_stop_id() -> int:
    """A fresh, practically unique stop id (wall-clock ns, never 0)."""
    return time.time_ns() or 1


class StopLatch:
    """The stop a node has raised, held until an explicit release.

    Parameters
    ----------
    node : str
        The owning node's name (``raised_by`` of the stops it raises).
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self.state: StopState | None = None

    @property
    def latched(self) -> bool:
        """True while a stop is in force."""
        return self.state is not None

    def raise_stop(self, reason: str, *, reason_code: int = StopReason.MANUAL,
                   scope: int = StopScope.ALL, raised_by: str | None = None,
                   stop_id: int | None = None) -> EmergencyStop:
        """Latch a stop (idempotent while latched) and return the message to publish."""
        if self.state is None:
            self.state = StopState(stop_id or new_stop_id(), raised_by or self.node,
                                   reason[:64], int(reason_code), int(scope), time.time_ns())
        return self.message()

    def release(self) -> EmergencyStop | None:
        """Release the latch; return the resume message, or None if nothing was latched."""
        if self.state is None:
            return None
        msg = self.message(latched=False)
        self.state = None
        return msg

    def message(self, latched: bool = True) -> EmergencyStop:
        """The EmergencyStop describing the current latch."""
        s = self.state
        if s is None:
            raise ValueError("no stop is latched")
        return EmergencyStop(stop_id=s.stop_id, timestamp_ns=s.timestamp_ns,
                             raised_by_pid=os.getpid(),
                             reason_code=s.reason_code if latched else StopReason.RESUME,
                             scope=s.scope, latched=1 if latched else 0,
                             raised_by=s.raised_by.encode()[:32].decode(errors="ignore"),
                             reason=s.reason.encode()[:64].decode(errors="ignore"))


class DeadMansSwitch:
    """Trips when the watched node's heartbeat is older than its deadline.

    Ages are measured on this host's monotonic clock at receipt (not the sender's timestamp),
    so clock skew between hosts does not matter. Until the first beat arrives the switch is
    tripped: an executor that has never heard from risk does not trade.

    Parameters
    ----------
    node : str
        The watched node's name (``Heartbeat.node``), usually ``"risk"``.
    deadline_ns : int
        Largest allowed age.
    """

    def __init__(self, node: str, deadline_ns: int) -> None:
        self.node = node
        self.deadline_ns = deadline_ns
        self.last_beat_ns: int | None = None
        self.trips = 0
        self._was_tripped = True

    def beat(self, now_ns: int | None = None) -> None:
        """Record a heartbeat from the watched node."""
        self.last_beat_ns = time.monotonic_ns() if now_ns is None else now_ns

    def tripped(self, now_ns: int | None = None) -> bool:
        """True if no beat ever arrived or the last one is older than the deadline."""
        if self.last_beat_ns is None:
            return True
        now = time.monotonic_ns() if now_ns is None else now_ns
        tripped = now - self.last_beat_ns > self.deadline_ns
        if tripped and not self._was_tripped:
            self.trips += 1
        self._was_tripped = tripped
        return tripped


class StopGuard:
    """Everything an executor must check before it trades, folded into :meth:`halted`.

    Feed it every frame from the system domain (:meth:`observe`); it tracks latched stops per
    raising node (from EmergencyStop TLVs and heartbeats), the dead man's switch on the risk
    node's heartbeat, and an optional kill flag (anything with ``is_set()``).

    Parameters
    ----------
    deadline_ns : int
        Dead man's switch deadline for the ``watch`` node's heartbeat; 0 disables it.
    watch : str
        Node whose heartbeat keeps the switch open.
    kill_flag : object, optional
        Same-host kill flag, checked first (nanoseconds).
    """

    def __init__(self, deadline_ns: int, watch: str = "risk", kill_flag=None) -> None:
        self.switch = DeadMansSwitch(watch, deadline_ns) if deadline_ns > 0 else None
        self.kill_flag = kill_flag
        self.stops: dict[str, EmergencyStop] = {}
        self.halted_at_ns: int | None = None

    def observe(self, frame: Frame, publisher: str | None = None) -> None:
        """Fold one decoded frame in (frames without stop or heartbeat TLVs are ignored).

        ``publisher`` is the node that sent it (the topic's publisher): a latch is tracked
        per latching node, so that node's later heartbeat without a latch releases it.
        """
        hb = None
        for tlv in frame.tlvs:
            if isinstance(tlv, Heartbeat):
                hb = tlv
        for tlv in frame.tlvs:
            if isinstance(tlv, EmergencyStop):
                origin = publisher or (hb.node if hb is not None else "") or tlv.raised_by
                if tlv.latched:
                    self.stops[origin] = tlv
                else:
                    self.stops.pop(origin, None)
        if hb is not None:
            if self.switch is not None and hb.node == self.switch.node:
                self.switch.beat()
            if not hb.stop_latched:
                # The latch of any stop this node raised is gone (a resume we may have missed).
                self.stops.pop(publisher or hb.node, None)

    def reason(self) -> str | None:
        """Why trading is halted now, or None if it may proceed."""
        if self.kill_flag is not None and self.kill_flag.is_set():
            return "kill flag set"
        if self.stops:
            origin, stop = next(iter(self.stops.items()))
            return f"emergency stop {stop.stop_id} by {origin}: {stop.reason}"
        if self.switch is not None and self.switch.tripped():
            return f"dead man's switch: no heartbeat from {self.switch.node}"
        return None

    def halted(self) -> bool:
        """True if trading must not proceed; records when the halt was first seen."""
        if self.reason() is None:
            self.halted_at_ns = None
            return False
        if self.halted_at_ns is None:
            self.halted_at_ns = time.monotonic_ns()
        return True


def encode_control_stop(stop: EmergencyStop) -> bytes:
    """The frame an operator tool sends to a node's service endpoint to latch or release."""
    return encode_frame([stop], source=int(SourceType.DASHBOARD))
