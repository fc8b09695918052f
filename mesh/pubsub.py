"""Publisher and subscriber: multipart ``[topic, frame]`` over ZeroMQ PUB/SUB, numbered.

A :class:`Publisher` binds one PUB socket per node, numbers every frame (header ``sequence``,
one counter per publisher) and every stream (topic tail, see :mod:`mesh.topics`), and journals
the must-not-lose types for recovery. A :class:`Subscriber` connects one SUB socket to the
publishers it needs, filters by topic prefix, checks every frame's header and CRC32, tracks
sequences (gaps, duplicates, reordering, restarts) and, on a gap in a journaled stream,
recovers the missed frames from the publisher's service endpoint and delivers them before the
frame that revealed the gap: every journaled frame exactly once and in order. Malformed input
is counted by ``kind`` and skipped.

Every topic carries the publisher's *run* (its start time, see :mod:`mesh.topics`), so a
restarted publisher is told from a gap whatever sequence it is first seen at, and recovery
asks for the run it recovers. The tail of a journaled stream (frames lost with no later frame
to reveal the gap) and a late joiner's back-fill are recovered from the publishers'
heartbeats by a :class:`mesh.tail.TailCheck`; a subscriber of journaled types hears every
publisher's heartbeats (subscribing to them itself if its prefixes do not, and then not
delivering them). See TRANSPORT.md ("Tails and late joiners", "Restarts").

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
import struct
import time
import zlib
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

import zmq

from mesh.config import MeshConfig
from mesh.delivery import Delivery
from mesh.protocol import (
    HEADER_SIZE,
    REGISTRY,
    Header,
    Heartbeat,
    Message,
    UnknownTLV,
    check_frame,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import MAGIC, MAX_MESSAGE_SIZE, RelayDomain
from mesh.protocol.errors import FrameError, TruncatedHeader
from mesh.protocol.header import CHECKSUM_OFFSET, HEADER, SEQUENCE_OFFSET
from mesh.recovery import JOURNALED_TYPES, Journal, RecoveryClient, Retransmitter
from mesh.sequence import SequenceTracker, Verdict
from mesh.stats import MeshStats
from mesh.tail import TailCheck
from mesh.topics import BadTopic, Topic, key_of, prefix, run_prefix, split_topic, stream_prefix

__all__ = ["Delivery", "Publisher", "Subscriber", "make_context", "prepare_endpoint",
           "unlink_endpoint"]

_NOBLOCK = zmq.NOBLOCK
_SNDMORE = zmq.SNDMORE
#: The compiled ``send`` beneath pyzmq's Python-level wrapper (whose checks, for ``str`` and
#: the copy threshold, :meth:`Publisher._send` makes itself): ~0.4 µs less per part.
_send: Any = zmq.backend.Socket.send
_zmq_poll = zmq.zmq_poll
_NEXT = Verdict.NEXT
_COPY_ABOVE = 4096  # bytes: below this a copying send is cheaper than tracking a zero-copy one
_HB_TYPE = int(Heartbeat.TLV_TYPE)
_HB_PREFIX = prefix(int(Heartbeat.DOMAIN), _HB_TYPE)
_unpack_header = HEADER.unpack_from
_crc32 = zlib.crc32
_DOMAINS = frozenset(int(d) for d in RelayDomain)
_MAX_PAYLOAD = MAX_MESSAGE_SIZE - HEADER_SIZE
_new = tuple.__new__  # builds the Header NamedTuple without its Python-level __new__
#: A header's first 28 bytes with a new sequence and timestamp between the kept bytes.
_HEAD28 = struct.Struct(f"<{SEQUENCE_OFFSET}sQQ4s")
_U32 = struct.Struct("<I")
_NO_CRC = bytes(4)


def _restamp(frame: bytes | bytearray, sequence: int, timestamp_ns: int) -> bytes:
    """:func:`mesh.protocol.restamp`, byte for byte, in one pack and one join (~0.8 µs less).

    The header's first 28 bytes are rebuilt with the new sequence and timestamp, the CRC32
    recomputed over them and the unchanged payload; a frame whose checksum is 0 keeps 0.
    """
    head = _HEAD28.pack(frame[:SEQUENCE_OFFSET], sequence, timestamp_ns,
                        frame[SEQUENCE_OFFSET + 16:CHECKSUM_OFFSET])
    body = frame[HEADER_SIZE:]
    crc = 0 if frame[CHECKSUM_OFFSET:HEADER_SIZE] == _NO_CRC else _crc32(body, _crc32(head))
    return b"".join((head, _U32.pack(crc), body))


def _checked_header(raw: bytes) -> Header:
    """:func:`mesh.protocol.check_frame` for a well-formed frame, inlined (~0.7 µs less).

    The same checks (magic, domain, size against the bytes and the limit, CRC32 over
    ``raw[0:28] + raw[32:]``); anything unusual goes to ``check_frame`` itself, which raises
    the typed error naming what is wrong.
    """
    if len(raw) >= HEADER_SIZE:
        magic, domain, version, source, flags, seq, ts, size, crc = _unpack_header(raw)
        if magic == MAGIC and domain in _DOMAINS and size <= _MAX_PAYLOAD \
                and len(raw) == HEADER_SIZE + size \
                and crc == _crc32(raw[HEADER_SIZE:], _crc32(raw[:CHECKSUM_OFFSET])):
            return _new(Header, (domain, source, seq, ts, size, crc, version, flags))
    return check_frame(raw)


def _overlap(a: bytes, b: bytes) -> bool:
    """True if some topic could start with both prefixes."""
    return a.startswith(b) or b.startswith(a)


def make_context(cfg: MeshConfig) -> zmq.Context:
    """A ZeroMQ context with the configured I/O threads and their CPU affinity.

    The I/O threads are kept off a pinned hot loop's CPU by listing other CPUs in
    ``io_thread_cpus`` (``ZMQ_THREAD_AFFINITY_CPU_ADD``), see docs/engineering-notes.md §4.
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

    Attributes
    ----------
    run : int
        This run of the publisher: its start time in ns since the epoch, in every topic.
    """

    def __init__(self, ctx: zmq.Context, cfg: MeshConfig, name: str, *, source: int,
                 stats: MeshStats | None = None,
                 journal_types: Iterable[int] = JOURNALED_TYPES, secure=None) -> None:
        self.name = name
        self.source = int(source)
        self.endpoint = cfg.node(name).pub
        self.stats = stats if stats is not None else MeshStats()
        self.run = time.time_ns()
        self.journal = Journal(cfg.journal_size, self.run)
        self.journal_types = frozenset(journal_types)
        self.sequence = 0
        # (domain, type, key) -> [topic up to the run's ":", stream sequence of the last frame]
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

    def publish(self, tlvs: Iterable[Message | UnknownTLV], *, key: int | None = None,
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
            # ``cls is`` tests (not isinstance) pick the branch; cast only tells mypy the type
            route = (cast(UnknownTLV, first).tlv_type, 1) if cls is UnknownTLV else \
                (int(cast(Message, first).TLV_TYPE), int(cast(Message, first).DOMAIN))
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
        out = _restamp(frame, seq, time.time_ns() if timestamp_ns is None else timestamp_ns)
        self._send(out, seq, out[4], tlv_type, key)
        return seq

    def _send(self, frame: bytes, seq: int, domain: int, tlv_type: int, key: int) -> None:
        stream = self._streams.get((domain, tlv_type, key))
        if stream is None:
            stream = self._streams[(domain, tlv_type, key)] = [
                run_prefix(stream_prefix(domain, tlv_type, key, self.name), self.run), 0]
        stream[1] = n = stream[1] + 1
        topic = b"%s%x" % (stream[0], n)
        sock = self.socket
        _send(sock, topic, _SNDMORE)
        # copy=True below the threshold: a zero-copy send hands every frame's release to
        # pyzmq's garbage-collector thread (a wake-up per frame on a busy CPU)
        _send(sock, frame, 0, len(frame) <= _COPY_ABOVE)
        st = self.stats
        st.frames_out += 1
        st.bytes_out += len(frame)
        if tlv_type in self.journal_types:
            self.journal.append(seq, topic, frame, stream[0])

    def close(self) -> None:
        """Close the socket (pending frames flushed within the linger) and unlink ipc files."""
        self.socket.close(linger=1000)
        unlink_endpoint(self.endpoint)


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
    backfill : bool
        For journaled types (``recover_types``) its prefixes select: recover a stream's lost
        tail when a heartbeat of its publisher shows it sent more, and back-fill what a stream
        sent before this subscriber first heard it (from the publisher's journal). Recovered
        frames come with ``recovered=True``; every journaled frame exactly once, in order.

    Attributes
    ----------
    tracker : SequenceTracker
        Every stream's sequence state.
    tail : TailCheck
        The heartbeat-driven tail checks (active when ``backfill`` and a prefix selects a
        journaled type).
    """

    def __init__(self, ctx: zmq.Context, cfg: MeshConfig, publishers: Iterable[str],
                 prefixes: Iterable[bytes] = (b"",), *, stats: MeshStats | None = None,
                 recover_types: Iterable[int] = JOURNALED_TYPES,
                 endpoints: Iterable[str] = (), secure=None, lazy: bool = False,
                 backfill: bool = True) -> None:
        self.stats = stats if stats is not None else MeshStats()
        self.tracker = SequenceTracker()
        self.recover_types = frozenset(recover_types)
        self.lazy = lazy
        self.backfill = backfill
        self.socket = ctx.socket(zmq.SUB)
        self.socket.rcvhwm = cfg.rcvhwm
        self.socket.linger = 0
        self._prefixes: list[bytes] = []
        for p in prefixes:
            self.socket.setsockopt(zmq.SUBSCRIBE, p)
            self._prefixes.append(p)
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
        self.fetcher = Retransmitter(self.recovery, self.stats, lazy)
        self.tail = TailCheck(self.socket, self.fetcher, self.tracker, self.stats, self._wants,
                              self.recover_types, cfg.recovery_timeout_ms)
        self._pending: deque[Delivery] = deque()
        self._asking = self.tail.asking  # the same dict: its truth value is read per recv
        self._tail = False
        self._own_beats = False
        self._setup_tail()

    def subscribe(self, prefix: bytes) -> None:
        """Add a topic prefix."""
        self.socket.setsockopt(zmq.SUBSCRIBE, prefix)
        self._prefixes.append(prefix)
        self._setup_tail()

    def _setup_tail(self) -> None:
        """Turn tail checks on if a prefix selects a journaled type; hear heartbeats then."""
        kinds = [prefix(int(REGISTRY[t].DOMAIN), t) for t in self.recover_types if t in REGISTRY]
        self._tail = self.backfill and any(_overlap(p, k) for p in self._prefixes for k in kinds)
        if self._tail and not self._own_beats and \
                not any(_HB_PREFIX.startswith(p) for p in self._prefixes):
            self.socket.setsockopt(zmq.SUBSCRIBE, _HB_PREFIX)
            self._own_beats = True

    def _wants(self, topic: bytes) -> bool:
        """True if one of the application's prefixes selects ``topic``."""
        return any(topic.startswith(p) for p in self._prefixes)

    def recv(self, timeout_ms: int = 0) -> Delivery | None:
        """The next delivery, waiting up to ``timeout_ms`` (0: do not wait; -1: forever).

        Duplicates and malformed messages are counted and skipped, never returned. Waiting
        blocks in ``zmq_poll`` (no spinning), on the SUB socket and on the recovery sockets
        of outstanding tail checks.
        """
        pending = self._pending
        if pending:
            return pending.popleft()
        tail = self.tail
        if self._asking:
            tail.collect(pending)
            if pending:
                return pending.popleft()
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms > 0 else 0.0
        wait = timeout_ms
        while True:
            # with snapshots outstanding, wake for their answers too and when they expire
            if not _zmq_poll(tail.poll_items, tail.wait_ms(wait) if self._asking else wait):
                if self._asking:
                    tail.collect(pending)
                    if pending:
                        return pending.popleft()
                if timeout_ms <= 0:
                    if timeout_ms == 0:
                        return None
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                wait = max(1, int(left * 1000))
                continue
            if self._asking:
                tail.collect(pending)
                if pending:
                    return pending.popleft()
            delivery = self._read()
            if delivery is not None:
                if pending:
                    pending.append(delivery)
                    return pending.popleft()
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
                header = _checked_header(raw)
                frame = None
            else:
                frame = decode_frame(raw)
                header = frame[0]
        except (BadTopic, FrameError) as exc:
            st.error(exc.kind)
            return None
        if topic[1] == _HB_TYPE and self._tail:
            self.tail.beat(topic[3], topic[4], header[2])
            if self._own_beats and not self._wants(topic_bytes):
                return None  # heard for the tail check only
        verdict: Verdict | None  # None: _anomaly says skip
        verdict, missed = self.tracker.observe(stream, topic[5], header[2], topic[4])
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
        if verdict is Verdict.FIRST:
            seq = topic.stream_seq
            if seq > 1 and self.backfill and topic.tlv_type in self.recover_types:
                # a late joiner: back-fill what the stream sent before, from the journal
                st.missed += seq - 1
                st.drops += seq - 1 - self._recover(topic, stream, 0, header.sequence, 1)
            return verdict
        if verdict is Verdict.LATE:
            st.reordered += 1
            st.drops = max(0, st.drops - 1)
        elif verdict is Verdict.RESTART or verdict is Verdict.GAP:
            if verdict is Verdict.RESTART:
                st.restarts += 1
                last = 0  # the new run's header sequences start at 1
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
        """Fetch what a gap skipped in ``topic``'s run, queue it in stream order; how many.

        Accepted: frames of the gap's stream and run with ``first_missing <= seq <
        topic.stream_seq``, each once (the tracker forgets them as missing, so a late
        original is a duplicate), checked like live frames (decoded now unless lazy).
        """
        got = self.fetcher.fetch(topic.publisher, stream, topic.run, last, current,
                                 first_missing, topic.stream_seq)
        for d in got:
            self.tracker.fill(stream, d.topic.stream_seq)
        self.stats.recovered += len(got)
        self._pending.extend(got)
        return len(got)

    def close(self) -> None:
        """Close the SUB socket and the recovery sockets."""
        self.recovery.close()
        self.socket.close(0)
