"""A node's service endpoint (ROUTER): recovery requests and operators' stop and resume.

Each request is one frame: a ``RecoveryRequest`` is answered from the node's publisher journal
(:mod:`mesh.recovery`); an ``EmergencyStop`` with ``latched=1`` latches a stop on the node (it
publishes the stop and a heartbeat carrying it), one with ``latched=0`` releases it. The reply
is ``OK <stop id>`` or ``ERR <reason>``; a bad request is counted by its error's ``kind`` and
answered, never fatal.

Not thread-safe: served from the node's loop thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import zmq

from alphapulse.errors import AlphaPulseError
from mesh.protocol import EmergencyStop, RecoveryRequest, decode_frame
from mesh.recovery import BadRecoveryRequest

if TYPE_CHECKING:
    from nodes.runtime.runtime import NodeRuntime

#: Requests served per pass of the loop at most.
_DRAIN = 256


class ControlService:
    """Serves the runtime's ROUTER socket (``rt.router``) without blocking."""

    def __init__(self, rt: NodeRuntime) -> None:
        self.rt = rt

    def serve(self) -> int:
        """Answer every request waiting now (at most 256); return how many."""
        router = self.rt.router
        done = 0
        while done < _DRAIN:
            try:
                parts = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            done += 1
            ident, body = parts[0], parts[1:]
            try:
                reply = self.answer(body)
            except AlphaPulseError as exc:
                self.rt.stats.error(exc.kind)
                reply = [b"ERR " + str(exc).encode()[:200]]
            router.send_multipart([ident, *reply])
        return done

    def answer(self, body: list[bytes]) -> list[bytes]:
        """The reply to one request's frames (raises the project's errors on bad input)."""
        rt = self.rt
        if not body:
            raise BadRecoveryRequest("empty control request")
        frame = decode_frame(body[0])
        if frame.first(RecoveryRequest) is not None:
            return rt.pub.journal.serve(body)
        stop = frame.first(EmergencyStop)
        if not isinstance(stop, EmergencyStop):  # None; first() returns only this exact type
            raise BadRecoveryRequest("control frame holds neither RecoveryRequest nor "
                                     "EmergencyStop")
        if stop.latched:
            raised = rt.raise_stop(stop.reason or "operator stop", reason_code=stop.reason_code,
                                   scope=stop.scope, raised_by=stop.raised_by or None,
                                   stop_id=stop.stop_id or None)
            return [b"OK %d" % raised.stop_id]
        resume = rt.release_stop()
        return [b"OK %d" % (resume.stop_id if resume else 0)]
