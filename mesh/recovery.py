"""Recovery of must-not-lose streams: a bounded journal and a ROUTER request/reply, no broker.

Protocol (one request, one reply, on the publisher's *service* endpoint, a ROUTER)::

    client (DEALER) -> [frame(RecoveryRequest), stream]
        RecoveryRequest.last_sequence    header sequence of the last frame the client has
        RecoveryRequest.current_sequence header sequence of the frame that revealed the gap
        frame header sequence            request id, echoed in the reply
        stream                           topic prefix of the stream with the gap
    server (ROUTER) -> [b"OK <id>" | b"PARTIAL <id>", topic1, frame1, topic2, frame2, ...]

The reply holds every journaled frame with ``last < header sequence < current`` whose topic
starts with ``stream``, oldest first. ``PARTIAL`` says the journal no longer reaches back to
``last``: some frames were evicted and are lost for good (the client counts them).

Thread-safety: a :class:`Journal` and a :class:`RecoveryClient` belong to the thread that owns
the publisher or subscriber they serve.
"""

from __future__ import annotations

from collections import deque

import zmq

from mesh.errors import MeshError
from mesh.protocol import RecoveryRequest, decode_frame, encode_frame
from mesh.protocol.constants import SourceType
from mesh.protocol.errors import FrameError


class BadRecoveryRequest(MeshError):
    """A recovery request that cannot be served."""

    kind = "bad_recovery_request"


#: TLV types journaled by default: ExecutionResult, RiskAlert, EmergencyStop.
JOURNALED_TYPES: frozenset[int] = frozenset({50, 62, 114})


class Journal:
    """The last ``size`` journaled frames of one publisher, by header sequence.

    Parameters
    ----------
    size : int
        Capacity; the oldest frame is evicted when it is full.
    """

    def __init__(self, size: int) -> None:
        self.entries: deque[tuple[int, bytes, bytes]] = deque(maxlen=size)
        self.evicted_upto = 0

    def append(self, header_seq: int, topic: bytes, frame: bytes) -> None:
        """Journal one frame just published."""
        if len(self.entries) == self.entries.maxlen and self.entries:
            self.evicted_upto = self.entries[0][0]
        self.entries.append((header_seq, topic, frame))

    def between(self, last: int, current: int, stream: bytes) -> tuple[bool, list[tuple[bytes, bytes]]]:
        """``(complete, [(topic, frame), ...])`` journaled strictly between the sequences."""
        found = [(t, f) for s, t, f in self.entries if last < s < current and t.startswith(stream)]
        return self.evicted_upto <= last, found

    def serve(self, parts: list[bytes]) -> list[bytes]:
        """Answer one request (``parts`` without the ROUTER identity); raise on a bad one."""
        if len(parts) != 2:
            raise BadRecoveryRequest(f"recovery request has {len(parts)} parts, expected 2")
        try:
            frame = decode_frame(parts[0])
        except FrameError as exc:
            raise BadRecoveryRequest(f"recovery request frame: {exc}") from exc
        req = frame.first(RecoveryRequest)
        if req is None:
            raise BadRecoveryRequest("recovery request frame has no RecoveryRequest TLV")
        complete, found = self.between(req.last_sequence, req.current_sequence, parts[1])
        status = b"OK" if complete else b"PARTIAL"
        out = [b"%s %d" % (status, frame.header.sequence)]
        for topic, data in found:
            out += [topic, data]
        return out


class RecoveryClient:
    """Ask publishers' service endpoints for missed frames (one DEALER per publisher).

    Parameters
    ----------
    ctx : zmq.Context
        Context to create DEALER sockets in.
    endpoints : dict
        Publisher name -> service endpoint.
    timeout_ms : int
        How long one request waits for its reply.
    secure : callable, optional
        ``secure(socket, publisher)`` applies CURVE client settings before connecting.
    """

    def __init__(self, ctx: zmq.Context, endpoints: dict[str, str], timeout_ms: int,
                 secure=None) -> None:
        self.ctx = ctx
        self.endpoints = endpoints
        self.timeout_ms = timeout_ms
        self.secure = secure
        self.sockets: dict[str, zmq.Socket] = {}
        self._next_id = 0

    def _socket(self, publisher: str) -> zmq.Socket | None:
        sock = self.sockets.get(publisher)
        if sock is None:
            endpoint = self.endpoints.get(publisher)
            if endpoint is None:
                return None
            sock = self.ctx.socket(zmq.DEALER)
            sock.linger = 0
            if self.secure is not None:
                self.secure(sock, publisher, endpoint)
            sock.connect(endpoint)
            self.sockets[publisher] = sock
        return sock

    def request(self, publisher: str, stream: bytes, last: int, current: int
                ) -> tuple[bool, list[tuple[bytes, bytes]]] | None:
        """Fetch journaled frames of ``stream`` between two header sequences.

        Returns ``(complete, [(topic, frame), ...])``, or None if the publisher has no known
        service endpoint or did not answer within the timeout.
        """
        sock = self._socket(publisher)
        if sock is None:
            return None
        self._next_id += 1
        req_id = self._next_id
        req = RecoveryRequest(last_sequence=last, current_sequence=current,
                              consumer_id=0, request_type=1)
        sock.send_multipart([encode_frame([req], source=SourceType.STATE_MANAGER,
                                          sequence=req_id), stream])
        deadline_polls = max(1, self.timeout_ms // 10)
        for _ in range(deadline_polls):
            if not sock.poll(10):
                continue
            parts = sock.recv_multipart()
            status, _, rid = parts[0].partition(b" ")
            if rid != b"%d" % req_id:
                continue  # the answer to an earlier request that timed out
            pairs = [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
            return status == b"OK", pairs
        # Drop the socket: a late reply must not be read as the answer to a later request.
        sock.close(0)
        del self.sockets[publisher]
        return None

    def close(self) -> None:
        """Close every DEALER socket."""
        for sock in self.sockets.values():
            sock.close(0)
        self.sockets.clear()
