"""FastBinanceFeed: Binance spot with depth updates of live books handled by compiled code.

A drop-in :class:`~cex.feed.VenueFeed` around a :class:`~cex.binance.feed.BinanceFeed`. Each
message first goes to :func:`cex.binance.fastkernels.depth_step`, which accepts only a
``depthUpdate`` of a configured symbol in Binance's exact form whose book the fast path holds
(see that module for the narrowed rules). It applies it to the book arrays and returns the
OrderBook; a stale event is counted ``stale`` there. Everything else (trades, book tickers,
events while a book syncs, gaps, malformed or merely unusual input) goes through the Python
feed unchanged, which counts its errors in the same counter (``errors`` is the inner feed's).

The two copies of a book stay consistent by ownership. While a book is live, its arrays are
the truth, and the Python :class:`~cex.binance.book.L2Book` is reloaded from them
("exported") only before the Python path may touch it: a depth message the fast path
declined, or a snapshot reply. After such a call, a book the Python path changed (its live
flag or update id moved) is read back into the arrays ("adopted"). A message that contains
neither ``depth`` nor a backslash cannot route to a depth stream, so trades and tickers skip
both steps.

Frames come out three ways, byte-identical to the Python path's:

- :meth:`FastBinanceFeed.on_message` (the VenueFeed call): ``[UnknownTLV(3, value)]`` which
  ``encode_frame`` turns into the same frame as ``order_book_tlv``'s;
- :meth:`FastBinanceFeed.write_message`: one message through a compiled kernel that builds
  the whole frame (header, CRC32) and hands it on, e.g. into a shared-memory ring;
- :meth:`FastBinanceFeed.write_burst`: a websocket read burst, one compiled call for each run
  of depth updates, the Python path's frames emitted in order between them.

The ring kernels compose :func:`~cex.binance.fastkernels.depth_step` and
:func:`~cex.binance.fastkernels.frame_into` with ``shm.ring.write_frame`` in a layer that may
import ``shm`` (``cex`` may not): see ``nodes/collector_cex/fastring.py``.

Not thread-safe (one transport thread, like the feed it wraps).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from cex.binance import fastkernels as K
from cex.binance.feed import BinanceFeed
from cex.binance.stream import stream_names
from cex.book import Level
from cex.feed import NOTHING, FeedOutput, Frame, RestReply, VenueFeed
from mesh.protocol import InstrumentId, OrderBook, UnknownTLV

__all__ = ["NOT_DEPTH", "FastBinanceFeed"]

_OB = OrderBook.TLV_TYPE
_depth_step = K.depth_step
_I64 = 1 << 63
_LEVEL_BYTES = 9
"""The shortest level, ``["0","0"]``, with its comma: a bound on levels per message."""

_APPLIED, _STALE, _GROW = K.APPLIED, K.STALE, K.GROW
NOT_DEPTH = -4
""":meth:`FastBinanceFeed.write_message`'s status for a message that cannot be a depth
update (no ``depth`` and no escape in its text): the Python path handled it."""
_NOT_DEPTH = NOT_DEPTH
_REASONS = {K.DECLINE_SHAPE: "shape", K.DECLINE_NOT_LIVE: "not_live", K.DECLINE_GAP: "gap"}


def _i64(value: int) -> int:
    """A u64 as the i64 of the same bits."""
    return value - (1 << 64) if value >= _I64 else value


class FastBinanceFeed(VenueFeed):
    """A :class:`BinanceFeed` whose live books' depth updates run in compiled code.

    Parameters
    ----------
    inner : BinanceFeed
        The Python feed: everything the fast path declines goes to it, and its ``errors``
        counter is this feed's.
    capacity : int
        Initial levels per book side (the arrays double when a side outgrows them).

    Attributes
    ----------
    fast : int
        Depth updates the compiled path handled (applied or stale).
    refused : int
        Applied updates whose frame a burst kernel could not hand on (a full lossless ring).
    fallbacks : collections.Counter
        Messages it declined, by reason (``shape``: not a depthUpdate in Binance's exact
        form, ``not_live``: the book is syncing, ``gap``); not errors: the Python path
        judges them.
    arena : numpy.ndarray
        The compiled path's state (:func:`cex.binance.fastkernels.layout`).
    value, frame : numpy.ndarray
        Views of the arena: the last OrderBook value (i64 words) and the last whole frame
        (uint8) a frame kernel built.
    """

    arena: np.ndarray
    meta: np.ndarray
    book: np.ndarray
    value: np.ndarray
    frame: np.ndarray
    _text: np.ndarray

    def __init__(self, inner: BinanceFeed, capacity: int = 1024) -> None:
        super().__init__(name=inner.name, venue=inner.venue, source=inner.source,
                         limits=inner.limits, errors=inner.errors)
        self.inner = inner
        self.fast = 0
        self.refused = 0
        self.fallbacks: Counter[str] = Counter()
        self.symbols = [p.symbol for p in inner.pairs]
        count = len(self.symbols)
        names = [stream_names(s)[2].encode() for s in self.symbols]
        syms = [s.encode() for s in self.symbols]
        self._text_words = (max(len(x) for x in names + syms) + 7) // 8
        self._build(max(8, capacity), 64)
        text = self._text
        for k, pair in enumerate(inner.pairs):
            text[k, :len(names[k])] = np.frombuffer(names[k], np.uint8)
            text[count + k, :len(syms[k])] = np.frombuffer(syms[k], np.uint8)
            meta = self.meta[k]
            meta[K.M_NAMELEN] = len(names[k])
            meta[K.M_SYMLEN] = len(syms[k])
            ins = pair.instrument
            meta[K.M_ASSET] = _i64(ins.asset_id)
            meta[K.M_VWORD] = ins.venue | ins.asset_type << 16 | ins.reserved << 24

    def _build(self, cap: int, scratch: int) -> None:
        """A new arena of ``cap`` levels a side and ``scratch`` parsed levels a side, holding
        what the old one held."""
        count = len(self.symbols)
        lay = K.layout(count, cap, scratch, self._text_words)
        arena = np.zeros(lay.size, np.int64)
        arena[K.H_SYMBOLS] = count
        arena[K.H_CAP] = cap
        arena[K.H_SCRATCH] = scratch
        arena[K.H_TEXT_WORDS] = self._text_words
        arena[K.H_SOURCE] = self.source
        arena[K.H_META:K.H_BOOK + 1] = (lay.meta, lay.text, lay.frame, lay.levels, lay.book)
        meta = arena[lay.meta:lay.text].reshape(count, K.META_COLUMNS)
        text = arena[lay.text:lay.frame].view(np.uint8).reshape(2 * count, -1)
        book = arena[lay.book:lay.size].reshape(2 * count, cap, 2)
        if hasattr(self, "arena"):
            arena[K.H_FAST:K.H_STALE + 1] = self.arena[K.H_FAST:K.H_STALE + 1]
            meta[:] = self.meta
            text[:] = self._text
            width = min(cap, self.book.shape[1])
            book[:, :width] = self.book[:, :width]
        self.arena = arena
        self._scratch_bytes = _LEVEL_BYTES * scratch   # the longest message surely parsed
        self.meta = meta
        self._text = text
        self.book = book
        v0 = lay.frame + (K.FRAME_SHIFT + K.VALUE_OFFSET) // 8
        self.value = arena[v0:v0 + K.WORDS]
        start = 8 * lay.frame + K.FRAME_SHIFT
        self.frame = arena.view(np.uint8)[start:start + K.FRAME_SIZE]

    # -- VenueFeed ---------------------------------------------------------------------------

    def ws_url(self) -> str:
        """The inner feed's combined-stream URL."""
        return self.inner.ws_url()

    def subscribe_messages(self) -> list[str]:
        """The inner feed's (none for Binance)."""
        return self.inner.subscribe_messages()

    def instruments(self) -> list[InstrumentId]:
        """The configured pairs' InstrumentIds."""
        return self.inner.instruments()

    def on_connect(self, now_ns: int) -> FeedOutput:
        """A new connection: every book starts over."""
        out = self.inner.on_connect(now_ns)
        self._forget()
        return out

    def on_disconnect(self, now_ns: int) -> list[Frame]:
        """StateInvalidation (DISCONNECTION) for every book; books forgotten."""
        frames = self.inner.on_disconnect(now_ns)
        self._forget()
        return frames

    def on_snapshot(self, reply: RestReply, recv_ns: int) -> FeedOutput:
        """A depth snapshot: the Python path synchronises, the arrays adopt the result."""
        return self._python(range(len(self.symbols)), self.inner.on_snapshot, reply, recv_ns)

    def on_message(self, raw: bytes | str, recv_ns: int) -> FeedOutput:
        """One combined-stream message (see the module docstring); errors counted, not raised.

        A depth update the compiled path applies comes back as one frame
        ``[UnknownTLV(3, value)]`` (the encoded OrderBook).
        """
        data = raw if type(raw) is bytes else self._bytes(raw)
        if data is None:
            return self._declined(raw, recv_ns, K.DECLINE_SHAPE, -1)
        if b"depth" not in data and b"\\" not in data:
            return self.inner.on_message(raw, recv_ns)   # no depth stream: no book touched
        while True:
            status, k = _depth_step(data, self.arena)
            if status == _APPLIED:
                self.fast += 1
                return FeedOutput([[UnknownTLV(_OB, self.value.tobytes())]], [])
            if status != _GROW:
                break
            self._grow(len(data))
        if status == _STALE:
            self.fast += 1
            self.errors["stale"] += 1
            return NOTHING
        return self._declined(raw, recv_ns, status, k)

    # -- compiled frames -------------------------------------------------------------------

    def write_message(self, raw: bytes | str, recv_ns: int, sequence: int,
                      kernel: Callable[..., tuple[int, int]], *sink: Any
                      ) -> tuple[int, FeedOutput]:
        """One message through a compiled frame kernel (the ring path).

        Parameters
        ----------
        raw, recv_ns
            The message and its receive time (the frame header's timestamp).
        sequence : int
            The header's sequence if a frame is built.
        kernel : numba dispatcher
            ``kernel(raw, arena, sequence, recv_ns, *sink) -> (status, symbol)``, built on
            :func:`~cex.binance.fastkernels.depth_step` and
            :func:`~cex.binance.fastkernels.frame_into` (or
            :func:`~cex.binance.fastkernels.depth_frame`, which leaves the frame in
            :attr:`frame`); it hands the frame on (writes it into a ring) and may return any
            status above :data:`~fastkernels.GROW` for an applied update it could not hand on.
        *sink
            Its extra arguments (a ring's ``words``, ``data``, ``state``).

        Returns
        -------
        (status, output)
            The kernel's status (:data:`~fastkernels.APPLIED`: one frame handed on with
            ``sequence``) and what the Python path produced for a declined message (frames
            for the caller to encode, REST requests), else :data:`~cex.feed.NOTHING`.
        """
        data = raw if type(raw) is bytes else self._bytes(raw)
        if data is None:
            return K.DECLINE_SHAPE, self._declined(raw, recv_ns, K.DECLINE_SHAPE, -1)
        if b"depth" not in data and b"\\" not in data:
            return _NOT_DEPTH, self.inner.on_message(raw, recv_ns)
        while True:
            status, k = kernel(data, self.arena, sequence, recv_ns, *sink)
            if status == _APPLIED:
                self.fast += 1
                return status, NOTHING
            if status != _GROW:
                break
            self._grow(len(data))
        if status > 0:
            self.fast += 1
            if status == _STALE:
                self.errors["stale"] += 1
            return status, NOTHING
        return status, self._declined(raw, recv_ns, status, k)

    def write_burst(self, messages: Sequence[bytes | str], recv_ns: Sequence[int], sequence: int,
                    emit: Callable[[FeedOutput, int, int], int],
                    kernel: Callable[..., tuple[int, int, int, int]], *sink: Any) -> int:
        """A burst of messages through a compiled burst kernel, in order (the ring path with
        one compiled call for every run of depth updates).

        Parameters
        ----------
        messages, recv_ns
            The burst's messages and their receive times.
        sequence : int
            The header sequence of the next frame.
        emit : callable
            ``emit(output, recv_ns, sequence) -> sequence``: writes the frames the Python path
            produced for one message (and performs its REST requests); returns the sequence
            after them. Called in message order, between the kernel's frames.
        kernel : numba dispatcher
            ``kernel(buf, offsets, recv_ns, start, arena, sequence, *sink) -> (index,
            sequence, status, symbol)``: runs messages ``start``.. (``buf[offsets[i]:
            offsets[i + 1]]``), writing the frames of applied updates and counting handled
            messages (:func:`~cex.binance.fastkernels.count`), until the end (index = count)
            or a message it did not finish (its index, status and symbol); a status above
            :data:`~fastkernels.GROW` means applied but not handed on (counted in
            :attr:`refused`).
        *sink
            Its extra arguments (a ring's ``words``, ``data``, ``state``).

        Returns
        -------
        int
            The sequence after the burst's frames.
        """
        data = messages if all(type(m) is bytes for m in messages) else \
            [m if type(m) is bytes else (self._bytes(m) or b"") for m in messages]
        n = len(data)
        offsets = np.frombuffer(array("q", accumulate(map(len, data), initial=0)), np.int64)
        buf = np.frombuffer(b"".join(data), np.uint8)  # type: ignore[arg-type]
        times = np.frombuffer(array("q", recv_ns), np.int64)
        arena = self.arena
        i = 0
        while True:
            i, sequence, status, k = kernel(buf, offsets, times, i, arena, sequence, *sink)
            if i >= n:
                break
            if status == _GROW:
                self._grow(len(data[i]))
                arena = self.arena
                continue
            if status > _GROW:
                self.refused += 1
            else:
                out = self._declined(messages[i], recv_ns[i], status, k)
                if out.frames or out.requests:
                    sequence = emit(out, recv_ns[i], sequence)
            i += 1
        fast, stale = int(arena[K.H_FAST]), int(arena[K.H_STALE])
        if fast:
            self.fast += fast
            arena[K.H_FAST] = 0
        if stale:
            self.errors["stale"] += stale
            arena[K.H_STALE] = 0
        return sequence

    # -- the Python path -------------------------------------------------------------------

    @staticmethod
    def _bytes(raw: object) -> bytes | None:
        if type(raw) is str:
            try:
                return raw.encode()
            except UnicodeEncodeError:
                return None
        return None

    def _declined(self, raw: bytes | str, recv_ns: int, status: int, k: int) -> FeedOutput:
        if status == K.DECLINE_SHAPE and (
                ("depth" not in raw and "\\" not in raw) if type(raw) is str
                else (b"depth" not in raw and b"\\" not in raw)):  # type: ignore[operator]
            return self.inner.on_message(raw, recv_ns)   # no depth stream: no book touched
        self.fallbacks[_REASONS[status]] += 1
        if status == K.DECLINE_NOT_LIVE:        # the Python path buffers it: no book touched
            return self.inner.on_message(raw, recv_ns)
        if status == K.DECLINE_GAP:
            return self._python((k,), self.inner.on_message, raw, recv_ns)
        return self._python(range(len(self.symbols)), self.inner.on_message, raw, recv_ns)

    def _python(self, which: range | tuple[int, ...], call: Callable[..., FeedOutput],
                *args: Any) -> FeedOutput:
        """``call(*args)`` on the Python feed, the books ``which`` exported before and
        adopted after."""
        books = self.inner.books
        before = []
        for k in which:
            self._export(k)
            sync = books[self.symbols[k]]
            before.append((k, sync.live, sync.book.sequence))
        out = call(*args)
        meta = self.meta
        for k, live, sequence in before:
            sync = books[self.symbols[k]]
            if not sync.live:
                meta[k, K.M_LIVE] = 0
                meta[k, K.M_DIRTY] = 0
            elif not meta[k, K.M_LIVE] or not live or sync.book.sequence != sequence:
                self._adopt(k)
        return out

    def _export(self, k: int) -> None:
        """Reload the Python book of symbol ``k`` from the arrays if they moved ahead."""
        meta = self.meta
        if not (meta[k, K.M_LIVE] and meta[k, K.M_DIRTY]):
            return
        nb, na = int(meta[k, K.M_NB]), int(meta[k, K.M_NA])
        bids = self._levels(2 * k, nb, 1)
        asks = self._levels(2 * k + 1, na, -1)
        self.inner.books[self.symbols[k]].book.load(bids, asks, int(meta[k, K.M_SEQ]))
        meta[k, K.M_DIRTY] = 0

    def _levels(self, row: int, n: int, sign: int) -> list[Level]:
        side = self.book[row, :n][::-1]
        return list(zip((sign * side[:, 0]).tolist(), side[:, 1].tolist(), strict=True))

    def _adopt(self, k: int) -> None:
        """Load the arrays of symbol ``k`` from its (live) Python book."""
        book = self.inner.books[self.symbols[k]].book
        bids = np.array(book.bids.levels(), np.int64).reshape(-1, 2)
        asks = np.array(book.asks.levels(), np.int64).reshape(-1, 2)
        need = max(len(bids), len(asks))
        if need > self.book.shape[1]:
            self._grow_books(need)
        self.book[2 * k, :len(bids)] = bids[::-1]
        self.book[2 * k + 1, :len(asks), 0] = -asks[::-1, 0]
        self.book[2 * k + 1, :len(asks), 1] = asks[::-1, 1]
        meta = self.meta
        meta[k, K.M_NB] = len(bids)
        meta[k, K.M_NA] = len(asks)
        meta[k, K.M_SEQ] = book.sequence
        meta[k, K.M_LIVE] = 1
        meta[k, K.M_DIRTY] = 0

    def _forget(self) -> None:
        """Every book was reset by the Python feed: the arrays hold nothing live."""
        self.meta[:, K.M_LIVE] = 0
        self.meta[:, K.M_DIRTY] = 0

    # -- capacity --------------------------------------------------------------------------

    def _grow(self, length: int) -> None:
        """Room for the levels of a message of ``length`` bytes, else for more book levels."""
        if length > self._scratch_bytes:
            self._grow_scratch(length)
        else:
            self._grow_books()

    def _grow_books(self, need: int = 0) -> None:
        cap = int(self.arena[K.H_CAP])
        self._build(max(2 * cap, need), int(self.arena[K.H_SCRATCH]))

    def _grow_scratch(self, n: int) -> None:
        self._build(int(self.arena[K.H_CAP]), n // _LEVEL_BYTES + 1)
