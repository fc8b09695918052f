"""Recovery of must-not-lose streams: a bounded journal and a ROUTER request/reply, no broker.

Protocol (one request, one reply, on the publisher's *service* endpoint, a ROUTER)::

    client (DEALER) -> [frame(RecoveryRequest), stream]
        RecoveryRequest.last_sequence    header sequence of the last frame the client has
        RecoveryRequest.current_sequence header sequence of the frame that revealed the gap
        frame header sequence            request id, echoed in the reply
        stream                           topic prefix of the stream with the gap, naming
                                         the run it recovers (``...<publisher>:<run>:``,
                                         :func:`mesh.topics.run_prefix`)
    server (ROUTER) -> [b"OK <id>" | b"PARTIAL <id>", topic1, frame1, topic2, frame2, ...]

``RecoveryRequest.request_type`` selects the answer (the numbering is upstream's):

1. *Retransmit*: every journaled frame with ``last < header sequence < current`` whose topic
   starts with ``stream``, oldest first. ``PARTIAL`` says the journal no longer reaches back
   to ``last`` or ``stream`` names another run than the journal's (the publisher restarted
   since): some frames are lost for good (the client counts them). Header sequences are
   numbered per run, so a request that did not name its run could be answered with another
   run's frames.
2. *Snapshot*: the high-water mark of every journaled stream whose topic starts with
   ``stream``: ``[b"OK <id>", topic1, hseq1, topic2, hseq2, ...]`` where ``topic`` is the
   newest journaled frame of the stream with header sequence below ``current`` (no bound if
   ``current`` is 0; its tail is the stream sequence) and ``hseq`` that frame's header
   sequence in ASCII decimal, ordered by header sequence. ``last`` is ignored. Subscribers
   ask this when a heartbeat shows the publisher sent something since its previous beat,
   compare it with what they have seen, and retransmit a tail they lack (see
   :class:`mesh.tail.TailCheck`): no new frame on the stream is needed.

Thread-safety: a :class:`Journal`, a :class:`RecoveryClient` and a :class:`Retransmitter`
belong to the thread that owns the publisher or subscriber they serve.
"""

from __future__ import annotations

from collections import deque

import zmq

from alphapulse.errors import MeshError
from mesh.delivery import Delivery
from mesh.protocol import RecoveryRequest, check_frame, decode_frame, encode_frame
from mesh.protocol.constants import SourceType
from mesh.protocol.errors import FrameError
from mesh.sequence import Verdict
from mesh.stats import MeshStats
from mesh.topics import BadTopic, run_of_prefix, run_prefix, split_topic


class BadRecoveryRequest(MeshError):
    """A recovery request that cannot be served."""

    kind = "bad_recovery_request"


#: TLV types journaled by default: ExecutionResult, RiskAlert, EmergencyStop.
JOURNALED_TYPES: frozenset[int] = frozenset({50, 62, 114})

#: ``RecoveryRequest.request_type`` values (upstream's numbering).
RETRANSMIT = 1
SNAPSHOT = 2


def _stream_of(topic: bytes) -> bytes:
    """A topic's stream key: everything up to and including the ``:`` before the sequence."""
    return topic[: topic.rindex(b":") + 1]


class Journal:
    """The last ``size`` journaled frames of one publisher run, by header sequence.

    Parameters
    ----------
    size : int
        Capacity; the oldest frame is evicted when it is full.
    run : int, optional
        The publisher's run: a retransmit naming another run is answered ``PARTIAL``.
    """

    def __init__(self, size: int, run: int | None = None) -> None:
        self.run = run
        self.entries: deque[tuple[int, bytes, bytes]] = deque(maxlen=size)
        self.evicted_upto = 0
        # stream key -> (header sequence, topic) of its newest journaled frame still held
        self.heads: dict[bytes, tuple[int, bytes]] = {}

    def append(self, header_seq: int, topic: bytes, frame: bytes,
               stream: bytes | None = None) -> None:
        """Journal one frame just published (``stream``: its topic up to ``:``, if known)."""
        entries = self.entries
        if len(entries) == entries.maxlen and entries:
            old_seq, old_topic, _ = entries[0]
            self.evicted_upto = old_seq
            key = _stream_of(old_topic)
            head = self.heads.get(key)
            if head is not None and head[0] == old_seq:
                del self.heads[key]  # the stream's last frame leaves the journal
        entries.append((header_seq, topic, frame))
        self.heads[_stream_of(topic) if stream is None else stream] = (header_seq, topic)

    def heads_before(self, bound: int, stream: bytes = b"") -> list[tuple[int, bytes]]:
        """``[(header sequence, topic), ...]``: each stream's newest frame below ``bound``.

        Only streams whose key starts with ``stream``; ``bound`` 0 means no bound. Streams
        whose newest frame is at or past ``bound`` (published after the heartbeat the
        subscriber saw) are looked up by a backward scan that stops once each is found.
        """
        out: dict[bytes, tuple[int, bytes]] = {}
        late: set[bytes] = set()
        for key, head in self.heads.items():
            if key.startswith(stream):
                if bound <= 0 or head[0] < bound:
                    out[key] = head
                else:
                    late.add(key)
        if late:
            for seq, topic, _ in reversed(self.entries):
                if seq < bound:
                    key = _stream_of(topic)
                    if key in late:
                        out[key] = (seq, topic)
                        late.discard(key)
                        if not late:
                            break
        return sorted(out.values())

    def between(self, last: int, current: int, stream: bytes) -> tuple[bool, list[tuple[bytes, bytes]]]:
        """``(complete, [(topic, frame), ...])`` journaled strictly between the sequences.

        Not complete if frames past ``last`` were evicted, or if ``stream`` names a run other
        than this journal's (nothing of that run is here).
        """
        found = [(t, f) for s, t, f in self.entries if last < s < current and t.startswith(stream)]
        named = run_of_prefix(stream)
        other_run = named is not None and self.run is not None and named != self.run
        return self.evicted_upto <= last and not other_run, found

    def serve(self, parts: list[bytes]) -> list[bytes]:
        """Answer one request (``parts`` without the ROUTER identity); raise on a bad one."""
        if len(parts) != 2:
            raise BadRecoveryRequest(f"recovery request has {len(parts)} parts, expected 2")
        try:
            frame = decode_frame(parts[0])
        except FrameError as exc:
            raise BadRecoveryRequest(f"recovery request frame: {exc}") from exc
        req = frame.first(RecoveryRequest)
        if not isinstance(req, RecoveryRequest):  # None; first() returns only this exact type
            raise BadRecoveryRequest("recovery request frame has no RecoveryRequest TLV")
        if req.request_type == SNAPSHOT:
            out = [b"OK %d" % frame.header.sequence]
            for seq, topic in self.heads_before(req.current_sequence, parts[1]):
                out += [topic, b"%d" % seq]
            return out
        if req.request_type != RETRANSMIT:
            raise BadRecoveryRequest(f"recovery request_type {req.request_type} is neither "
                                     f"{RETRANSMIT} (retransmit) nor {SNAPSHOT} (snapshot)")
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
        self.unclaimed: dict[int, list[bytes]] = {}
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

    def ask(self, publisher: str, stream: bytes, last: int, current: int,
            request_type: int = RETRANSMIT) -> int | None:
        """Send one request without waiting; return its id (None: no service endpoint).

        Collect the answer with :meth:`take` (asynchronous use) or let :meth:`request` wait.
        """
        sock = self._socket(publisher)
        if sock is None:
            return None
        self._next_id += 1
        req_id = self._next_id
        req = RecoveryRequest(last_sequence=last, current_sequence=current,
                              consumer_id=0, request_type=request_type)
        sock.send_multipart([encode_frame([req], source=SourceType.STATE_MANAGER,
                                          sequence=req_id), stream], zmq.NOBLOCK)
        return req_id

    def reset(self, publisher: str) -> None:
        """Close ``publisher``'s DEALER (queued requests and late replies go with it)."""
        sock = self.sockets.pop(publisher, None)
        if sock is not None:
            sock.close(0)

    def _read_reply(self, sock: zmq.Socket) -> tuple[int, list[bytes]]:
        parts = sock.recv_multipart()
        _, _, rid = parts[0].partition(b" ")
        try:
            return int(rid), parts
        except ValueError:
            return -1, parts

    def take(self, publisher: str, req_id: int) -> list[bytes] | None:
        """The reply to an :meth:`ask` if it has arrived (never waits); else None.

        Replies to other outstanding asks read on the way are kept for their own ``take``.
        """
        parts = self.unclaimed.pop(req_id, None)
        if parts is not None:
            return parts
        sock = self.sockets.get(publisher)
        while sock is not None and sock.poll(0):
            rid, parts = self._read_reply(sock)
            if rid == req_id:
                return parts
            self.unclaimed[rid] = parts
            if len(self.unclaimed) > 64:
                self.unclaimed.pop(next(iter(self.unclaimed)))
        return None

    def forget(self, req_id: int) -> None:
        """Give up on an :meth:`ask` (its late reply, if any, is then discarded)."""
        self.unclaimed.pop(req_id, None)

    def request(self, publisher: str, stream: bytes, last: int, current: int
                ) -> tuple[bool, list[tuple[bytes, bytes]]] | None:
        """Fetch journaled frames of ``stream`` between two header sequences (retransmit).

        Returns ``(complete, [(topic, frame), ...])``, or None if the publisher has no known
        service endpoint or did not answer within the timeout. Waits for the answer; replies
        to earlier asks read meanwhile are kept for :meth:`take`.
        """
        try:
            req_id = self.ask(publisher, stream, last, current, RETRANSMIT)
        except zmq.ZMQError:  # its queue is full: the service has not answered for long
            self.reset(publisher)
            return None
        if req_id is None:
            return None
        sock = self.sockets[publisher]
        deadline_polls = max(1, self.timeout_ms // 10)
        for _ in range(deadline_polls):
            if not sock.poll(10):
                continue
            rid, parts = self._read_reply(sock)
            if rid != req_id:
                # an ask's answer, kept for take(); stale ones are bounded out
                self.unclaimed[rid] = parts
                if len(self.unclaimed) > 64:
                    self.unclaimed.pop(next(iter(self.unclaimed)))
                continue
            pairs = [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
            return parts[0].startswith(b"OK"), pairs
        # Drop the socket: a late reply must not be read as the answer to a later request.
        sock.close(0)
        del self.sockets[publisher]
        return None

    def close(self) -> None:
        """Close every DEALER socket."""
        for sock in self.sockets.values():
            sock.close(0)
        self.sockets.clear()


class Retransmitter:
    """Fetch what a subscriber lacks of one stream and run, checked like live frames.

    Parameters
    ----------
    client : RecoveryClient
        Asks the publishers' service endpoints.
    stats : MeshStats
        Counts failed requests (no answer, ``PARTIAL``) and malformed answers by ``kind``.
    lazy : bool
        Check header, size and CRC32 only (TLVs decoded on access), as the subscriber does.
    """

    def __init__(self, client: RecoveryClient, stats: MeshStats, lazy: bool) -> None:
        self.client = client
        self.stats = stats
        self.lazy = lazy

    def fetch(self, publisher: str, stream: bytes, run: int, last: int, current: int,
              lo: int, hi: int) -> list[Delivery]:
        """Frames of ``stream`` in ``run`` with ``lo <= stream seq < hi``, in stream order.

        Asks for header sequences strictly between ``last`` and ``current`` of that run
        (waiting up to the client's timeout); each frame once, marked ``recovered``.
        """
        st = self.stats
        answer = self.client.request(publisher, run_prefix(stream, run), last, current)
        if answer is None:
            st.recovery_failures += 1
            return []
        complete, pairs = answer
        if not complete:
            st.recovery_failures += 1
        got: list[Delivery] = []
        seen: set[int] = set()
        for t_raw, f_raw in pairs:
            try:
                t, t_stream = split_topic(t_raw)
                if self.lazy:
                    header, frame = check_frame(f_raw), None
                else:
                    frame = decode_frame(f_raw)
                    header = frame.header
            except (BadTopic, FrameError) as exc:
                st.error(exc.kind)
                continue
            seq = t.stream_seq
            if t_stream == stream and t.run == run and lo <= seq < hi and seq not in seen:
                seen.add(seq)
                got.append(Delivery(t, f_raw, Verdict.NEXT, header, frame, st, recovered=True))
        got.sort(key=lambda d: d.topic.stream_seq)
        return got
