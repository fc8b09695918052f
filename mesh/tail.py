"""Tails and late joiners: journaled frames no later frame reveals, recovered on heartbeats.

A gap is seen when a later frame of its stream arrives; the *tail* of a journaled stream (its
last frames, lost with nothing after them) and what a stream sent before a subscriber joined
are not. :class:`TailCheck` covers both from the publishers' heartbeats, which a subscriber of
journaled types always hears:

1. A heartbeat of publisher ``P`` (run ``R``, header sequence ``H``) asks ``P``'s service
   endpoint, without waiting, for a snapshot of its journaled streams' high-water marks below
   ``H`` (RecoveryRequest ``request_type`` 2, see :mod:`mesh.recovery`) when it is the first
   beat heard from ``P`` (late join), when ``H`` is more than one past the previous beat's
   (``P`` sent something in between), when the run changed (a restart), or when the last ask
   failed. An idle publisher costs nothing.
2. The answer is collected when it arrives (:meth:`TailCheck.collect`, called on every
   ``recv``); an ask unanswered within the recovery timeout is counted in
   ``recovery_failures`` and repeated at the next beat.
3. Each selected stream of run ``R`` in the answer whose high-water mark is past what the
   tracker has of run ``R`` (nothing, if it tracks an earlier run: a restart whose first
   frames were lost) is retransmitted, naming run ``R``, from the last header sequence seen
   (0 for a stream never seen in that run: the back-fill); the tracker advances to each
   recovered frame, so a late original is a DUPLICATE. Heads of another run (the publisher
   restarted after the beat) are ignored: that run's own beats ask again.

Thread-safety: not thread-safe; owned by the :class:`mesh.pubsub.Subscriber` that reads the
SUB socket, on its thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import zmq

from mesh.delivery import Delivery
from mesh.recovery import SNAPSHOT, RecoveryClient, Retransmitter
from mesh.sequence import SequenceTracker
from mesh.stats import MeshStats
from mesh.topics import BadTopic, split_topic


class TailCheck:
    """Heartbeat-driven snapshot checks of one subscriber's journaled streams.

    Parameters
    ----------
    socket : zmq.Socket
        The subscriber's SUB socket (first of :attr:`poll_items`).
    fetcher : Retransmitter
        Retransmits and checks frames (its client asks the snapshots too).
    tracker : SequenceTracker
        The subscriber's tracker, advanced to every frame recovered here.
    stats : MeshStats
        The subscriber's counters.
    selects : callable
        ``selects(topic) -> bool``: the application's prefixes select this topic.
    recover_types : frozenset of int
        Journaled TLV types to check.
    timeout_ms : int
        How long an ask may go unanswered.

    Attributes
    ----------
    beats : dict
        Publisher -> (run, header sequence) of its last heartbeat heard.
    asking : dict
        Publisher -> (request id, run, bound, deadline) of its outstanding snapshot ask.
    recheck : set
        Publishers whose last ask failed (asked again at their next beat).
    poll_items : list
        The SUB socket and the DEALERs of outstanding asks, for ``zmq_poll``.
    """

    def __init__(self, socket: zmq.Socket, fetcher: Retransmitter, tracker: SequenceTracker,
                 stats: MeshStats, selects: Callable[[bytes], bool],
                 recover_types: frozenset[int], timeout_ms: int) -> None:
        self.socket = socket
        self.fetcher = fetcher
        self.client: RecoveryClient = fetcher.client
        self.tracker = tracker
        self.stats = stats
        self.selects = selects
        self.recover_types = recover_types
        self.timeout_s = timeout_ms / 1000
        self.beats: dict[str, tuple[int, int]] = {}
        self.asking: dict[str, tuple[int, int, int, float]] = {}
        self.recheck: set[str] = set()
        self.poll_items: list = [(socket, zmq.POLLIN)]

    def beat(self, publisher: str, run: int, header_seq: int) -> None:
        """A heartbeat of ``publisher``: ask for a snapshot if it may have sent something."""
        prev = self.beats.get(publisher)
        self.beats[publisher] = (run, header_seq)
        if publisher in self.asking or (prev == (run, header_seq - 1)
                                        and publisher not in self.recheck):
            return
        try:
            req_id = self.client.ask(publisher, b"", 0, header_seq, SNAPSHOT)
        except zmq.ZMQError:  # its queue is full: the service has not answered for long
            req_id = None
            self.client.reset(publisher)
        if req_id is None:
            return
        self.asking[publisher] = (req_id, run, header_seq, time.monotonic() + self.timeout_s)
        self._rebuild_poll_items()

    def wait_ms(self, wait: int) -> int:
        """``wait`` (ms, -1 forever) cut to when the first outstanding ask expires."""
        left = min(d for _, _, _, d in self.asking.values()) - time.monotonic()
        left_ms = max(0, int(left * 1000) + 1)
        return left_ms if wait < 0 else min(wait, left_ms)

    def collect(self, out: deque[Delivery]) -> None:
        """Take the answers that arrived (never waits), expire late ones; queue what lacked."""
        now = time.monotonic()
        for publisher, (req_id, run, bound, deadline) in list(self.asking.items()):
            parts = self.client.take(publisher, req_id)
            if parts is None:
                if now < deadline:
                    continue
                self.client.forget(req_id)
                self.client.reset(publisher)
                self.stats.recovery_failures += 1
                self.recheck.add(publisher)
            else:
                self.recheck.discard(publisher)
            del self.asking[publisher]
            if parts is not None:
                self._catch_up(publisher, run, bound, parts, out)
        self._rebuild_poll_items()

    def _rebuild_poll_items(self) -> None:
        socks = self.client.sockets
        self.poll_items = [(self.socket, zmq.POLLIN)] + [
            (socks[p], zmq.POLLIN) for p in self.asking if p in socks]

    def _catch_up(self, publisher: str, run: int, bound: int, parts: list[bytes],
                  out: deque[Delivery]) -> None:
        """Compare a snapshot of ``run`` with what was seen; retransmit and queue the rest."""
        st = self.stats
        tracker = self.tracker
        for i in range(1, len(parts) - 1, 2):
            t_raw = parts[i]
            try:
                t, stream = split_topic(t_raw)
            except BadTopic as exc:
                st.error(exc.kind)
                continue
            if t.publisher != publisher or t.run != run \
                    or t.tlv_type not in self.recover_types or not self.selects(t_raw):
                continue
            tracked = tracker.run(stream)
            same_run = tracked == run
            last = tracker.last_seq(stream) if same_run else 0
            if t.stream_seq <= last:
                continue
            missed = t.stream_seq - last
            st.missed += missed
            if last:
                st.gaps += 1
            elif tracked is not None:
                st.restarts += 1  # a new run whose frames so far were all lost
            from_header = tracker.last_header_seq(stream) if same_run else 0
            got = self.fetcher.fetch(publisher, stream, run, from_header, bound, last + 1,
                                     t.stream_seq + 1)
            n = 0
            for d in got:
                h = d.header
                if tracker.advance(stream, d.topic.stream_seq, h[2], run):
                    out.append(d)
                    n += 1
            st.recovered += n
            st.drops += missed - n
