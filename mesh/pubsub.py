"""Publisher and subscriber: multipart ``[topic, frame]`` over ZeroMQ PUB/SUB, numbered.

A :class:`Publisher` binds one PUB socket per node, numbers every frame (header ``sequence``,
one counter per publisher) and every stream (topic tail, see :mod:`mesh.topics`), and journals
the must-not-lose types for recovery. A :class:`Subscriber` connects one SUB socket to the
publishers it needs, filters by topic prefix, decodes, tracks sequences (gaps, duplicates,
reordering, restarts) and, on a gap in a journaled stream, recovers the missed frames from the
publisher's service endpoint and delivers them before the frame that revealed the gap: every
journaled frame exactly once and in order. Malformed input is counted by ``kind`` and skipped.

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
from typing import NamedTuple

import zmq

from mesh.config import MeshConfig
from mesh.protocol import Frame, UnknownTLV, decode_frame, encode_frame
from mesh.protocol.errors import FrameError
from mesh.recovery import JOURNALED_TYPES, Journal, RecoveryClient
from mesh.sequence import SequenceTracker, Verdict
from mesh.stats import MeshStats
from mesh.topics import BadTopic, Topic, key_of, parse_topic, stream_prefix


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
        self._streams: dict[bytes, int] = {}
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

        The topic's type and key come from the first TLV (``key`` overrides the key).
        """
        tlvs = list(tlvs)
        first = tlvs[0]
        tlv_type = first.tlv_type if isinstance(first, UnknownTLV) else first.TLV_TYPE
        if domain is None:
            domain = 1 if isinstance(first, UnknownTLV) else int(first.DOMAIN)
        self.sequence += 1
        frame = encode_frame(tlvs, source=self.source, sequence=self.sequence, domain=domain,
                             flags=flags)
        stream = stream_prefix(domain, tlv_type, key_of(first) if key is None else key,
                               self.name)
        n = self._streams.get(stream, 0) + 1
        self._streams[stream] = n
        topic = b"%s%x" % (stream, n)
        self.socket.send_multipart((topic, frame), copy=len(frame) > 4096)
        self.stats.frames_out += 1
        self.stats.bytes_out += len(frame)
        if tlv_type in self.journal_types:
            self.journal.append(self.sequence, topic, frame)
        return self.sequence

    def close(self) -> None:
        """Close the socket (pending frames flushed within the linger) and unlink ipc files."""
        self.socket.close(linger=1000)
        unlink_endpoint(self.endpoint)


class Delivery(NamedTuple):
    """One frame handed to the application (a named tuple: cheap on the hot path)."""

    topic: Topic
    frame: Frame
    raw: bytes
    verdict: Verdict
    recovered: bool = False


class Subscriber:
    """A SUB socket connected to some publishers, filtered, decoded and sequence-checked.

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
    """

    def __init__(self, ctx: zmq.Context, cfg: MeshConfig, publishers: Iterable[str],
                 prefixes: Iterable[bytes] = (b"",), *, stats: MeshStats | None = None,
                 recover_types: Iterable[int] = JOURNALED_TYPES,
                 endpoints: Iterable[str] = (), secure=None) -> None:
        self.stats = stats if stats is not None else MeshStats()
        self.tracker = SequenceTracker()
        self.recover_types = frozenset(recover_types)
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

    def subscribe(self, prefix: bytes) -> None:
        """Add a topic prefix."""
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix)

    def recv(self, timeout_ms: int = 0) -> Delivery | None:
        """The next delivery, waiting up to ``timeout_ms`` (0: do not wait; -1: forever).

        Duplicates and malformed messages are counted and skipped, never returned.
        """
        if self._pending:
            return self._pending.popleft()
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while True:
            try:
                parts = self.socket.recv_multipart(flags=zmq.NOBLOCK, copy=True)
            except zmq.Again:
                if deadline is None:
                    self.socket.poll(-1)
                    continue
                left = deadline - time.monotonic()
                if left <= 0 or not self.socket.poll(max(1, int(left * 1000))):
                    return None
                continue
            delivery = self._accept(parts)
            if delivery is not None:
                if self._pending:
                    self._pending.append(delivery)
                    return self._pending.popleft()
                return delivery

    def _accept(self, parts: list[bytes]) -> Delivery | None:
        st = self.stats
        st.frames_in += 1
        if len(parts) != 2:
            st.error("bad_multipart")
            return None
        raw = parts[1]
        st.bytes_in += len(raw)
        try:
            topic = parse_topic(parts[0])
            frame = decode_frame(raw)
        except (BadTopic, FrameError) as exc:
            st.error(exc.kind)
            return None
        stream = topic.stream
        prev_header = self.tracker.last_header_seq(stream)
        verdict, missed = self.tracker.observe(stream, topic.stream_seq, frame.header.sequence)
        if verdict is Verdict.DUPLICATE:
            st.duplicates += 1
            return None
        if verdict is Verdict.LATE:
            st.reordered += 1
            st.drops = max(0, st.drops - 1)
        elif verdict is Verdict.RESTART:
            st.restarts += 1
        elif verdict is Verdict.GAP:
            st.gaps += 1
            st.missed += missed
            got = 0
            if topic.tlv_type in self.recover_types:
                got = self._recover(topic, prev_header, frame.header.sequence,
                                    topic.stream_seq - missed)
            st.drops += missed - got
        return Delivery(topic, frame, raw, verdict)

    def _recover(self, topic: Topic, last: int, current: int, first_missing: int) -> int:
        """Fetch what a gap skipped, queue it in stream order; return how many were found.

        Accepted: frames of the gap's stream with ``first_missing <= seq < topic.stream_seq``,
        each once (the tracker forgets them as missing, so a late original is a duplicate).
        """
        st = self.stats
        answer = self.recovery.request(topic.publisher, topic.stream, last, current)
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
                t = parse_topic(t_raw)
                frame = decode_frame(f_raw)
            except (BadTopic, FrameError) as exc:
                st.error(exc.kind)
                continue
            seq = t.stream_seq
            if t.stream == topic.stream and first_missing <= seq < topic.stream_seq \
                    and seq not in seen:
                seen.add(seq)
                self.tracker.fill(t.stream, seq)
                got.append(Delivery(t, frame, f_raw, Verdict.NEXT, recovered=True))
        got.sort(key=lambda d: d.topic.stream_seq)
        st.recovered += len(got)
        self._pending.extend(got)
        return len(got)

    def close(self) -> None:
        """Close the SUB socket and the recovery sockets."""
        self.recovery.close()
        self.socket.close(0)
