"""Publisher and subscriber: multipart ``[topic, frame]`` over ZeroMQ PUB/SUB, numbered.

A :class:`Publisher` binds one PUB socket per node, numbers every frame (header ``sequence``,
one counter per publisher) and every stream (topic tail, see :mod:`mesh.topics`), and journals
the must-not-lose types for recovery. A :class:`Subscriber` connects one SUB socket to the
publishers it needs, filters by topic prefix, checks every frame's header and CRC32, tracks
sequences (gaps, duplicates, reordering, restarts) and, on a gap in a journaled stream,
recovers the missed frames from the publisher's service endpoint and delivers them before the
frame that revealed the gap: every journaled frame exactly once and in order. Malformed input
is counted by ``kind`` and skipped.

The hot path, per frame (see TRANSPORT.md for the measured costs):

* publish: one dict lookup for the stream's topic prefix and counter, the encode (or, with
  :meth:`Publisher.publish_frame`, a restamp of a frame the producer already holds), two
  ``send`` calls;
* receive: ``zmq_poll`` on a prebuilt item list (only when nothing is known to be queued), two
  non-copying ``recv`` calls (their ``more`` flags check the two-part shape), the cached topic
  split, the header check and CRC32, one tracker lookup. With ``lazy=True`` the TLVs are
  decoded on first access of :attr:`Delivery.frame`, so a node that routes on the topic or
  header alone never pays for them.

Thread-safety: neither class is thread-safe (ZeroMQ sockets are not); use each from the one
thread that created it. Publishers never block: past the high-water mark ZeroMQ drops, and
subscribers see and count the gap.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Iterable

import zmq

from mesh.config import MeshConfig
from mesh.protocol import (
    HEADER_SIZE,
    Frame,
    Header,
    UnknownTLV,
    check_frame,
    decode_frame,
    encode_frame,
    restamp,
)
from mesh.protocol.errors import FrameError, TruncatedHeader
from mesh.recovery import JOURNALED_TYPES, Journal, RecoveryClient
from mesh.sequence import SequenceTracker, Verdict
from mesh.stats import MeshStats
from mesh.topics import BadTopic, Topic, key_of, split_topic, stream_prefix

_NOBLOCK = zmq.NOBLOCK
_SNDMORE = zmq.SNDMORE
_zmq_poll = zmq.zmq_poll
_NEXT = Verdict.NEXT
_COPY_ABOVE = 4096  # bytes: below this a copying send is cheaper than tracking a zero-copy one


def make_context(cfg: MeshConfig) -> zmq.Context:
    """A ZeroMQ context with the configured I/O threads and their CPU affinity.

    The I/O threads are kept off a pinned hot loop's CPU by listing other CPUs in
    ``io_thread_cpus`` (``ZMQ_THREAD_AFFINITY_CPU_ADD``), see ENGINEERING_NOTES.md.
    """
    ctx = zmq.Context(io_threads=cfg.io_threads)
    for cpu in cfg.io_thread_cpus:
        ctx.set(zmq.THREAD_AFFINITY_CPU_ADD, cpu)
    return ctx


def prepare_endpoint(endpoint: str) -> None:
    """Create the directory of an ipc endpoint and remove a stale socket file left there."""
    if endpoint.startswith("ipc://"):
        path = endpoint[6:]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)


def unlink_endpoint(endpoint: str) -> None:
    """Remove an ipc endpoint's socket file (nothing for tcp)."""
    if endpoint.startswith("ipc://"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(endpoint[6:])


class Publisher:
    """One node's numbered PUB socket.

    Parameters
    ----------
    ctx : zmq.Context
    cfg : MeshConfig
    name : str
        The node name (publisher id in topics; endpoint from ``cfg``).
    source : int
        SourceType written in every header.
    stats : MeshStats, optional
        Counters to update (a fresh one by default).
    journal_types : iterable of int
        TLV types to journal for recovery.
    secure : callable, optional
        ``secure(socket)`` applies CURVE server settings before binding.
    """

    def __init__(self, ctx: zmq.Context, cfg: MeshConfig, name: str, *, source: int,
                 stats: MeshStats | None = None,
                 journal_types: Iterable[int] = JOURNALED_TYPES, secure=None) -> None:
        self.name = name
        self.source = int(source)
        self.endpoint = cfg.node(name).pub
        self.stats = stats if stats is not None else MeshStats()
        self.journal = Journal(cfg.journal_size)
        self.journal_types = frozenset(journal_types)
        self.sequence = 0
        # (domain, type, key) -> [topic prefix up to ":", stream sequence of the last frame]
        self._streams: dict[tuple[int, int, int], list] = {}
        # message class -> (type, domain): read once per class, not per frame
        self._routes: dict[type, tuple[int, int]] = {}
        self.socket = ctx.socket(zmq.PUB)
        self.socket.sndhwm = cfg.sndhwm
        self.socket.linger = 1000
        if secure is not None:
            secure(self.socket)
        prepare_endpoint(self.endpoint)
        self.socket.bind(self.endpoint)

    def publish(self, tlvs: Iterable[object], *, key: int | None = None,
                domain: int | None = None, flags: int = 0) -> int:
        """Encode and send one frame; return its header sequence.

        The topic's type and key come from the first TLV (``key`` overrides the key); the
        domain from the first TLV's type unless given.
        """
        if type(tlvs) is not list:
            tlvs = list(tlvs)
        first = tlvs[0]
        cls = type(first)
        route = self._routes.get(cls)
        if route is None:
            route = (first.tlv_type, 1) if cls is UnknownTLV else \
                (int(first.TLV_TYPE), int(first.DOMAIN))
            if cls is not UnknownTLV:
                self._routes[cls] = route
        tlv_type = route[0]
        if domain is None:
            domain = route[1]
        self.sequence = seq = self.sequence + 1
        frame = encode_frame(tlvs, source=self.source, sequence=seq, domain=domain, flags=flags)
        self._send(frame, seq, domain, tlv_type, key_of(first) if key is None else key)
        return seq

    def publish_frame(self, frame: bytes | bytearray, tlv_type: int, key: int = 0, *,
                      timestamp_ns: int | None = None) -> int:
        """Number and send a frame the producer already encoded; return its header sequence.

        The frame is restamped (:func:`mesh.protocol.restamp`: this publisher's next header
        sequence, ``timestamp_ns`` or now, a fresh CRC32); its TLVs are neither re-encoded nor
        re-checked, so the producer is trusted to have built a valid frame. The topic's domain
        is the frame's header domain; its type and key are given (``tlv_type`` should be the
        first TLV's type, so that prefix filters and journaling see the frame as they would
        see it through :meth:`publish`).

        Raises
        ------
        TruncatedHeader
            ``frame`` is shorter than a header (a bug in the producer).
        """
        if len(frame) < HEADER_SIZE:
            raise TruncatedHeader(f"{len(frame)} bytes, a frame needs at least {HEADER_SIZE}")
        self.sequence = seq = self.sequence + 1
        out = restamp(frame, sequence=seq, timestamp_ns=timestamp_ns)
        self._send(out, seq, out[4], tlv_type, key)
        return seq

    def _send(self, frame: bytes, seq: int, domain: int, tlv_type: int, key: int) -> None:
        stream = self._streams.get((domain, tlv_type, key))
        if stream is None:
            stream = self._streams[(domain, tlv_type, key)] = [
                stream_prefix(domain, tlv_type, key, self.name), 0]
        stream[1] = n = stream[1] + 1
        topic = b"%s%x" % (stream[0], n)
        sock = self.socket
        sock.send(topic, _SNDMORE)
        sock.send(frame, 0, len(frame) > _COPY_ABOVE)
        st = self.stats
        st.frames_out += 1
        st.bytes_out += len(frame)
        if tlv_type in self.journal_types:
            self.journal.append(seq, topic, frame)

    def close(self) -> None:
        """Close the socket (pending frames flushed within the linger) and unlink ipc files."""
        self.socket.close(linger=1000)
        unlink_endpoint(self.endpoint)


class Delivery:
    """One frame handed to the application: topic, header and raw bytes; TLVs on demand.

    ``header`` was checked (and the CRC32 over ``raw``) before the delivery was made.
    :attr:`frame` is the decoded :class:`~mesh.protocol.Frame`: decoded when the subscriber
    was made with ``lazy=False`` (the default), else on first access and then kept. A lazy
    decode that fails counts the error's ``kind`` in the subscriber's stats once and raises
    the typed :class:`~mesh.protocol.errors.FrameError` (also on later accesses; the error
    is kept in :attr:`error` so that a caller that counts errors can tell it was counted).

    Not thread-safe (the lazy decode writes the object); hand a delivery to one thread.
    """

    __slots__ = ("_frame", "_stats", "error", "header", "raw", "recovered", "topic", "verdict")

    def __init__(self, topic: Topic, raw: bytes, verdict: Verdict, header: Header,
                 frame: Frame | None = None, stats: MeshStats | None = None,
                 recovered: bool = False) -> None:
        self.topic = topic
        self.raw = raw
        self.verdict = verdict
        self.header = header
        self.recovered = recovered
        self._frame = frame
        self._stats = stats
        self.error: FrameError | None = None

    @property
    def frame(self) -> Frame:
        """The decoded frame (decoded now if it was not yet)."""
        frame = self._frame
        if frame is None:
            frame = self._decode()
        return frame

    @property
    def decoded(self) -> bool:
        """True once the TLVs have been decoded."""
        return self._frame is not None

    def _decode(self) -> Frame:
        if self.error is not None:
            raise self.error
        try:
            frame = decode_frame(self.raw, verify_checksum=False)  # checked on arrival
        except FrameError as exc:
            self.error = exc
            if self._stats is not None:
                self._stats.error(exc.kind)
            raise
        self._frame = frame
        return frame

    def __repr__(self) -> str:
        return (f"Delivery(topic={self.topic!r}, verdict={self.verdict}, "
                f"sequence={self.header.sequence}, recovered={self.recovered}, "
                f"{len(self.raw)} bytes{', decoded' if self._frame is not None else ''})")


class Subscriber:
    """A SUB socket connected to some publishers, filtered, checked and sequence-tracked.

    Parameters
    ----------
    ctx : zmq.Context
    cfg : MeshConfig
    publishers : iterable of str
        Names of the nodes to connect to (their ``pub`` endpoints from ``cfg``).
    prefixes : iterable of bytes
        Topic prefixes to subscribe to (``b""``: everything).
    stats : MeshStats, optional
    recover_types : iterable of int
        TLV types whose gaps are recovered from the publisher's service endpoint.
    endpoints : iterable of str, optional
        Extra raw endpoints to connect to (ad hoc taps).
    secure : callable, optional
        ``secure(socket, publisher_name, endpoint)`` applies CURVE client settings.
    lazy : bool
        Decode TLVs on first access of :attr:`Delivery.frame` instead of on arrival. Header,
        size and CRC32 are checked on arrival either way; what a lazy subscriber delivers that
        an eager one would skip is a frame whose TLVs are malformed under a valid CRC (a
        sender's bug or a newer layout): its decode raises, counted, when it is accessed.
    """

    def __init__(self, ctx: zmq.Context, cfg: MeshConfig, publishers: Iterable[str],
                 prefixes: Iterable[bytes] = (b"",), *, stats: MeshStats | None = None,
                 recover_types: Iterable[int] = JOURNALED_TYPES,
                 endpoints: Iterable[str] = (), secure=None, lazy: bool = False) -> None:
        self.stats = stats if stats is not None else MeshStats()
        self.tracker = SequenceTracker()
        self.recover_types = frozenset(recover_types)
        self.lazy = lazy
        self.socket = ctx.socket(zmq.SUB)
        self.socket.rcvhwm = cfg.rcvhwm
        self.socket.linger = 0
        for p in prefixes:
            self.socket.setsockopt(zmq.SUBSCRIBE, p)
        names = list(publishers)
        services = {n: cfg.node(n).service for n in names}
        for n in names:
            ep = cfg.node(n).pub
            if secure is not None:
                secure(self.socket, n, ep)
            self.socket.connect(ep)
        for ep in endpoints:
            self.socket.connect(ep)
        self.recovery = RecoveryClient(ctx, services, cfg.recovery_timeout_ms, secure=secure)
        self._pending: deque[Delivery] = deque()
        self._poll_items = [(self.socket, zmq.POLLIN)]

    def subscribe(self, prefix: bytes) -> None:
        """Add a topic prefix."""
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix)

    def recv(self, timeout_ms: int = 0) -> Delivery | None:
        """The next delivery, waiting up to ``timeout_ms`` (0: do not wait; -1: forever).

        Duplicates and malformed messages are counted and skipped, never returned. Waiting
        blocks in ``zmq_poll`` (no spinning).
        """
        if self._pending:
            return self._pending.popleft()
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else 0.0
        wait = timeout_ms
        items = self._poll_items
        while True:
            if not _zmq_poll(items, wait):
                if timeout_ms <= 0:
                    if timeout_ms == 0:
                        return None
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                wait = max(1, int(left * 1000))
                continue
            delivery = self._read()
            if delivery is not None:
                if self._pending:
                    self._pending.append(delivery)
                    return self._pending.popleft()
                return delivery
            if timeout_ms > 0:
                wait = max(0, int((deadline - time.monotonic()) * 1000))

    def _read(self) -> Delivery | None:
        """Read one queued message (the poll said there is one) and accept it or count it."""
        sock = self.socket
        try:
            head = sock.recv(_NOBLOCK, False)
            if not head.more:
                self.stats.frames_in += 1
                self.stats.error("bad_multipart")
                return None
            body = sock.recv(_NOBLOCK, False)
            if body.more:
                while sock.recv(_NOBLOCK, False).more:
                    pass
                self.stats.frames_in += 1
                self.stats.error("bad_multipart")
                return None
        except zmq.Again:
            return None
        return self._accept(head.bytes, body.bytes)

    def _accept(self, topic_bytes: bytes, raw: bytes) -> Delivery | None:
        st = self.stats
        st.frames_in += 1
        st.bytes_in += len(raw)
        try:
            topic, stream = split_topic(topic_bytes)
            if self.lazy:
                header = check_frame(raw)
                frame = None
            else:
                frame = decode_frame(raw)
                header = frame[0]
        except (BadTopic, FrameError) as exc:
            st.error(exc.kind)
            return None
        verdict, missed = self.tracker.observe(stream, topic[4], header[2], header[3])
        if verdict is not _NEXT:
            verdict = self._anomaly(verdict, missed, topic, stream, header)
            if verdict is None:
                return None
        return Delivery(topic, raw, verdict, header, frame, st)

    def _anomaly(self, verdict: Verdict, missed: int, topic: Topic, stream: bytes,
                 header: Header) -> Verdict | None:
        """Count a verdict other than NEXT, recover what a gap or restart skipped; None: skip."""
        st = self.stats
        if verdict is Verdict.DUPLICATE:
            st.duplicates += 1
            return None
        if verdict is Verdict.LATE:
            st.reordered += 1
            st.drops = max(0, st.drops - 1)
        elif verdict is Verdict.RESTART or verdict is Verdict.GAP:
            if verdict is Verdict.RESTART:
                st.restarts += 1
                last = 0
            else:
                st.gaps += 1
                last = self.tracker.gap_from_header
            if missed:
                st.missed += missed
                got = 0
                if topic.tlv_type in self.recover_types:
                    got = self._recover(topic, stream, last, header.sequence,
                                        topic.stream_seq - missed)
                st.drops += missed - got
        return verdict

    def _recover(self, topic: Topic, stream: bytes, last: int, current: int,
                 first_missing: int) -> int:
        """Fetch what a gap skipped, queue it in stream order; return how many were found.

        Accepted: frames of the gap's stream with ``first_missing <= seq < topic.stream_seq``,
        each once (the tracker forgets them as missing, so a late original is a duplicate),
        checked like live frames (and decoded now unless the subscriber is lazy).
        """
        st = self.stats
        answer = self.recovery.request(topic.publisher, stream, last, current)
        if answer is None:
            st.recovery_failures += 1
            return 0
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
            if t_stream == stream and first_missing <= seq < topic.stream_seq \
                    and seq not in seen:
                seen.add(seq)
                self.tracker.fill(t_stream, seq)
                got.append(Delivery(t, f_raw, _NEXT, header, frame, st, recovered=True))
        got.sort(key=lambda d: d.topic.stream_seq)
        st.recovered += len(got)
        self._pending.extend(got)
        return len(got)

    def close(self) -> None:
        """Close the SUB socket and the recovery sockets."""
        self.recovery.close()
        self.socket.close(0)
