"""The loop-thread side of a venue: its feed, fed the transport's events, writing the ring.

A :class:`FeedDriver` owns one venue's :class:`~cex.feed.VenueFeed` on the node's loop thread
(the only writer of its ring). Each burst of transport events goes through the feed in order;
the frames it yields are encoded with the receive time in the header and written by
:class:`RingOut`, which numbers the node's frames. REST work goes back to the transport
(:meth:`~nodes.collector_cex.transport.VenueTransport.request`), and a feed that asks for a
resync has its connection closed (:meth:`~nodes.collector_cex.transport.VenueTransport.resync`).

A feed with a compiled path (:class:`~cex.binance.fastdepth.FastBinanceFeed`) takes each run
of messages in one call, :meth:`~cex.binance.fastdepth.FastBinanceFeed.write_burst`: depth
updates become OrderBook frames written into the ring by compiled code
(:mod:`nodes.collector_cex.fastring`), the byte-identical frames of the Python path; whatever
it declines goes through the Python path in order between them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from cex.binance.fastdepth import FastBinanceFeed
from cex.feed import FeedOutput, VenueFeed
from mesh.protocol import encode_frame
from mesh.protocol.constants import RelayDomain
from nodes.collector_cex.fastring import depth_burst_to_ring
from nodes.collector_cex.transport import (
    CONNECTED,
    DISCONNECTED,
    MESSAGE,
    REPLY,
    Batch,
    VenueTransport,
)

_MD = int(RelayDomain.MARKET_DATA)


class RingOut:
    """The node's market-data ring writer and the sequence numbering its frames.

    Parameters
    ----------
    writer : shm.writer.RingWriter
        The node's ring of the market-data domain.
    on_full : callable
        ``on_full()`` for each frame a full lossless ring refused.
    """

    def __init__(self, writer: Any, on_full: Callable[[], None]) -> None:
        self.writer = writer
        self.on_full = on_full
        self.sequence = 0

    def emit(self, source: int, transport: VenueTransport, out: FeedOutput, recv_ns: int,
             sequence: int) -> int:
        """Write ``out.frames`` from ``sequence`` on, hand ``out.requests`` to the transport;
        return the sequence after the frames written."""
        for frame in out.frames:
            data = encode_frame(frame, source=source, sequence=sequence, timestamp_ns=recv_ns,
                                domain=_MD)
            if self.writer.write(data):
                sequence += 1
            else:
                self.on_full()
        for request in out.requests:
            transport.request(request)
        return sequence


class FeedDriver:
    """One venue's feed on the loop thread (see the module docstring)."""

    def __init__(self, feed: VenueFeed, transport: VenueTransport, out: RingOut) -> None:
        self.feed = feed
        self.transport = transport
        self.out = out
        self._emit = partial(out.emit, feed.source, transport)
        self._fast = isinstance(feed, FastBinanceFeed)
        self._refused = 0

    def apply(self, batch: Batch) -> None:
        """Run one burst of events through the feed and write what it yields."""
        feed, out = self.feed, self.out
        i, n = 0, len(batch)
        while i < n:
            kind, connection, stamp, payload = batch[i]
            if kind == MESSAGE and self._fast:
                j = i + 1
                while j < n and batch[j][0] == MESSAGE:
                    j += 1
                self._burst(batch[i:j])
                i = j
            else:
                if kind == MESSAGE:
                    result = feed.on_message(payload, stamp)
                elif kind == REPLY:
                    result = feed.on_snapshot(payload, stamp)
                elif kind == CONNECTED:
                    result = feed.on_connect(stamp)
                else:
                    assert kind == DISCONNECTED, kind
                    result = FeedOutput(feed.on_disconnect(stamp), [])
                if result.frames or result.requests:
                    out.sequence = self._emit(result, stamp, out.sequence)
                i += 1
            if feed.resync_requested:
                feed.resync_requested = False
                self.transport.resync(connection)

    def _burst(self, events: Batch) -> None:
        feed, out, w = self.feed, self.out, self.out.writer
        assert isinstance(feed, FastBinanceFeed)
        out.sequence = feed.write_burst([e[3] for e in events], [e[2] for e in events],
                                        out.sequence, self._emit, depth_burst_to_ring,
                                        w.words, w.data, w.state)
        for _ in range(feed.refused - self._refused):
            out.on_full()
        self._refused = feed.refused
