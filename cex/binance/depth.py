"""The local order book of one Binance spot symbol, synchronised as Binance documents.

"How to manage a local order book correctly" (spot), as followed here:

1. Open the stream and buffer the ``depthUpdate`` events; note ``U`` of the first one.
2. Get a snapshot: ``GET /api/v3/depth?symbol=<SYMBOL>&limit=5000``.
3. If the snapshot is older than the first buffered event (``lastUpdateId + 1 < U``: the
   events cannot continue it), get it again.
4. Drop buffered events whose ``u <= lastUpdateId``; the first remaining event must have
   ``U <= lastUpdateId + 1 <= u``.
5. Load the snapshot (the book's update id is ``lastUpdateId``), then apply the buffered and
   every later event with this procedure: ``u <= `` the book's id -> stale, ignored (counted
   ``stale``); ``U > `` the book's id + 1 -> a gap (counted ``gap``): the book is invalidated
   (StateInvalidation, reason RECOVERY), forgotten, and synchronised again from step 1 with
   the event that revealed the gap as the first buffered one; otherwise set each level to its
   absolute quantity (0 removes it, absent or not) and the book's id to ``u``.

An OrderBook frame (top 50 levels per side, ``sequence`` = the book's update id) follows the
synchronisation (the book after the snapshot and the buffered events) and every applied live
event. No I/O: the snapshot request is returned to the transport and its answer comes back
through :meth:`DepthSync.on_snapshot`.
"""

from __future__ import annotations

from cex.binance.stream import DepthEvent, DepthSnapshot
from cex.book import L2Book
from cex.feed import NOTHING, FeedOutput, Frame, RestRequest
from cex.frames import invalidations, order_book_tlv
from cex.symbols import Pair
from mesh.protocol.constants import InvalidationReason

SNAPSHOT_PATH = "/api/v3/depth"
SNAPSHOT_LIMIT = 5000
SNAPSHOT_WEIGHT = 250
"""Request weight of ``limit=5000`` (Binance's depth weights: 5000 levels weigh 250)."""

MAX_BUFFER = 10_000
"""Events buffered while a snapshot is awaited; beyond, the oldest half is dropped (the
snapshot that answers will then be found older than the buffer and fetched again)."""

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


class DepthSync:
    """One symbol's book and its synchronisation state.

    Parameters
    ----------
    pair : Pair
        The symbol and its InstrumentId.
    errors : collections.Counter
        Where ``stale`` / ``gap`` / ``overflow`` / ``stale_snapshot`` are counted.
    """

    __slots__ = ("book", "buffer", "errors", "live", "pair", "pending", "retry_s", "venue")

    def __init__(self, pair: Pair, errors: dict[str, int]) -> None:
        self.pair = pair
        self.venue = pair.instrument.venue
        self.errors = errors
        self.book = L2Book()
        self.buffer: list[DepthEvent] = []
        self.live = False
        self.pending = False
        self.retry_s = 0.0

    def request(self, epoch: int, delay_s: float = 0.0) -> RestRequest:
        """The snapshot request of this symbol."""
        return RestRequest(key=self.pair.symbol, path=SNAPSHOT_PATH,
                           params=(("symbol", self.pair.symbol), ("limit", str(SNAPSHOT_LIMIT))),
                           weight=SNAPSHOT_WEIGHT, epoch=epoch, delay_s=delay_s)

    def reset(self) -> None:
        """Forget the book, the buffer and any request in flight (a new connection)."""
        self.book.clear()
        self.buffer = []
        self.live = False
        self.pending = False

    def _count(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    # -- events ----------------------------------------------------------------------------

    def on_event(self, event: DepthEvent, epoch: int) -> FeedOutput:
        """One diff-depth event: buffered while syncing, else applied (or stale, or a gap)."""
        if not self.live:
            return self._buffer(event, epoch)
        book = self.book
        if event.last <= book.sequence:
            self._count("stale")
            return NOTHING
        if event.first > book.sequence + 1:
            return self._gap(event, epoch)
        book.apply(event.bids, event.asks, event.last)
        return FeedOutput([[order_book_tlv(self.pair.instrument, book, event.time_ns)]], [])

    def _buffer(self, event: DepthEvent, epoch: int) -> FeedOutput:
        buffer = self.buffer
        buffer.append(event)
        if len(buffer) > MAX_BUFFER:
            self._count("overflow")
            del buffer[:MAX_BUFFER // 2]
        if self.pending:
            return NOTHING
        self.pending = True
        return FeedOutput([], [self.request(epoch, self.retry_s)])

    def _gap(self, event: DepthEvent, epoch: int) -> FeedOutput:
        self._count("gap")
        frames: list[Frame] = invalidations(self.venue, [self.pair.instrument],
                                            InvalidationReason.RECOVERY, event.time_ns,
                                            self.book.sequence)
        pending = self.pending
        self.reset()
        self.pending = pending
        out = self._buffer(event, epoch)
        return FeedOutput(frames, out.requests)

    # -- snapshot --------------------------------------------------------------------------

    def on_snapshot_failed(self, epoch: int) -> FeedOutput:
        """The snapshot request failed: ask again after a growing delay."""
        self.retry_s = min(RETRY_MAX_S, max(RETRY_FIRST_S, self.retry_s * 2))
        self.pending = True
        return FeedOutput([], [self.request(epoch, self.retry_s)])

    def on_snapshot(self, snap: DepthSnapshot, recv_ns: int, epoch: int) -> FeedOutput:
        """A snapshot arrived: synchronise the book with it and the buffer (steps 3-5)."""
        self.pending = False
        self.retry_s = 0.0
        if self.live:
            return NOTHING                      # a late answer to a request already served
        buffer = self.buffer
        lid = snap.last_update_id
        if not buffer:
            return NOTHING                      # events come first; the next asks again
        if lid + 1 < buffer[0].first:
            self._count("stale_snapshot")
            self.pending = True
            return FeedOutput([], [self.request(epoch, RETRY_FIRST_S)])
        keep = [e for e in buffer if e.last > lid]
        book = self.book
        book.load(snap.bids, snap.asks, lid)
        self.buffer = []
        self.live = True
        time_ns = recv_ns
        for i, event in enumerate(keep):
            if event.first > book.sequence + 1:  # the buffer itself has a hole: again
                self._count("gap")
                self.reset()
                self.buffer = keep[i:]
                self.pending = True
                return FeedOutput([], [self.request(epoch)])
            book.apply(event.bids, event.asks, event.last)
            time_ns = event.time_ns
        return FeedOutput([[order_book_tlv(self.pair.instrument, book, time_ns)]], [])
