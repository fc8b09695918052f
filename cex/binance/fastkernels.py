"""numba kernels of the Binance depth fast path: scan, book arrays, OrderBook bytes, CRC32.

:func:`depth_step` takes the raw bytes of one combined-stream message and, when they are a
``depthUpdate`` of a configured symbol in exactly the form Binance sends it::

    {"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,
     "s":"ETHUSDT","U":157,"u":160,"b":[["3000.10","1.5"]],"a":[["3000.20","0"]]}}

(one line, no whitespace, these keys in this order), parses them without a JSON parser,
applies them to the symbol's book and writes the OrderBook value (and, with
:func:`depth_frame`, the whole frame: header, extended TLV header, CRC32) into the caller's
arena. Anything else is
declined (a negative status) and left to the Python path (:class:`cex.binance.feed.BinanceFeed`),
which parses it with orjson and counts its errors; so the fast path needs to accept only
input for which the Python path's result is certain:

- integers (``E``, ``U``, ``u``): 1 to 18 digits, no leading zero, ``U <= u``, and ``E`` small
  enough that ``E`` x 1e6 ns fits an i64;
- decimals: ASCII digits, optionally a dot and at least one digit; at most 10 significant
  integer digits (so x 1e8 fits an i64); digits beyond the 8th decimal must be ``0``
  (the rules of :mod:`cex.fixed`, narrowed);
- strings without a backslash; ``"e"`` is ``depthUpdate`` and ``"s"`` the symbol.

The book of a side is an array of (key, size) i64 pairs sorted ascending by key, the best
level last (key = price for bids, -price for asks), so changes near the top of the book move
few elements. Sequencing follows :mod:`cex.binance.depth` for a live book: ``u <=`` the
book's id is stale; ``U >`` id + 1 is a gap (declined: the Python path invalidates and
resyncs); else each level is set to its quantity (0 removes) and the id becomes ``u``.

All state lives in one i64 array, the *arena* (a compiled call pays for every array it
is handed, about 0.1 µs each): a header of offsets, per-symbol meta, the stream names and
symbols, the frame, the scratch of parsed levels and the book sides (see :func:`layout`).
The frame sits at byte 3 of its words so that its OrderBook value (2456 bytes,
docs/protocol-types.md) is 307 aligned little-endian i64 words: head (time, sequence, scale,
asset id, venue/type/reserved), then per side the level count and 50 (price, size, 0)
triples. Not thread-safe per arena.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from cex.crc32 import INIT, crc_bytes, crc_words
from cex.fixed import SCALE
from mesh.protocol.constants import (
    EXTENDED_TLV_MARKER,
    HEADER_SIZE,
    MAGIC,
    PROTOCOL_VERSION,
    RelayDomain,
)
from mesh.protocol.kernels import load_i64
from mesh.protocol.messages import OrderBook

# -- statuses -------------------------------------------------------------------------------
APPLIED = 1
"""The event was applied; the OrderBook value (and frame, if asked) is in the arena."""
STALE = 2
"""A well-formed event at or below the book's update id: count ``stale``, nothing to write."""
GROW = 3
"""A book side or the scratch of parsed levels would overflow (the message has more levels
than its length / 9 bytes when this is the scratch): grow the arena and call again (nothing
changed)."""
DECLINE_SHAPE = -1
"""Not a depthUpdate in Binance's exact form (or a value outside the narrowed rules)."""
DECLINE_NOT_LIVE = -2
"""A depthUpdate of a symbol whose book the fast path does not hold (syncing)."""
DECLINE_GAP = -3
"""A depthUpdate whose ``U`` is beyond the book's id + 1."""

# -- the arena header (i64 slots) ------------------------------------------------------------
H_SYMBOLS, H_CAP, H_SCRATCH, H_TEXT_WORDS, H_SOURCE = range(5)
H_META, H_TEXT, H_FRAME, H_LEVELS, H_BOOK = range(5, 10)
H_FAST, H_STALE = 10, 11
"""Counters a burst kernel keeps (:func:`count`): messages handled, of which stale."""
HEADER_WORDS = 16

# -- per-symbol meta columns ----------------------------------------------------------------
M_LIVE, M_SEQ, M_NB, M_NA, M_DIRTY, M_NAMELEN, M_SYMLEN, M_ASSET, M_VWORD = range(9)
META_COLUMNS = 9

# -- the frame and its OrderBook value ------------------------------------------------------
LEVELS = 50
WORDS = 5 + 2 * (1 + 3 * LEVELS)
VALUE_SIZE = 8 * WORDS
assert VALUE_SIZE == 2456
_W_BIDS = 5
_W_ASKS = _W_BIDS + 1 + 3 * LEVELS
TLV_HEADER = 5
FRAME_SIZE = HEADER_SIZE + TLV_HEADER + VALUE_SIZE
"""Bytes of one OrderBook frame (header, extended TLV header, value)."""
VALUE_OFFSET = HEADER_SIZE + TLV_HEADER
FRAME_SHIFT = 3
"""Byte of its first word where the frame starts: the value is then 8-aligned."""
assert (FRAME_SHIFT + VALUE_OFFSET) % 8 == 0
_VALUE_WORD = (FRAME_SHIFT + VALUE_OFFSET) // 8
FRAME_WORDS = _VALUE_WORD + WORDS

_OB_TYPE = OrderBook.TLV_TYPE
_MD = int(RelayDomain.MARKET_DATA)
_MAGIC = MAGIC
_VERSION = PROTOCOL_VERSION
_SCALE = SCALE
_EXT = EXTENDED_TLV_MARKER
_MAX_E_MS = ((1 << 63) - 1) // 1_000_000
_MS = 1_000_000
_M32 = 0xFFFFFFFF

_PREFIX = np.frombuffer(b'{"stream":"', np.uint8)
_MID = np.frombuffer(b'","data":{"e":"depthUpdate","E":', np.uint8)
_S = np.frombuffer(b',"s":"', np.uint8)
_U1 = np.frombuffer(b'","U":', np.uint8)
_U2 = np.frombuffer(b',"u":', np.uint8)
_B = np.frombuffer(b',"b":', np.uint8)
_A = np.frombuffer(b',"a":', np.uint8)
_END = np.frombuffer(b"}}", np.uint8)

_QUOTE, _COMMA, _DOT, _LBR, _RBR = 34, 44, 46, 91, 93
_HIGH_NIBBLES = np.int64(0xF0F0F0F0F0F0F0F0 - (1 << 64))
_ZEROS = 0x3030303030303030
_SIXES = 0x0606060606060606


class Layout(NamedTuple):
    """Offsets (in i64 words) of an arena's sections and its total size."""

    meta: int
    text: int
    frame: int
    levels: int
    book: int
    size: int


def layout(symbols: int, cap: int, scratch: int, text_words: int) -> Layout:
    """The sections of an arena for ``symbols`` books of ``cap`` levels a side, ``scratch``
    parsed levels a side and names of ``text_words`` words.

    Sections: meta (``symbols`` x :data:`META_COLUMNS`), text (stream names, then symbols:
    ``2 x symbols`` rows of ``text_words``), frame (:data:`FRAME_WORDS`), levels (bid prices,
    bid sizes, ask prices, ask sizes: 4 rows of ``scratch``), book (``2 x symbols`` sides, bids
    of symbol k at row 2k, asks at 2k + 1, ``cap`` (key, size) pairs each).
    """
    meta = HEADER_WORDS
    text = meta + symbols * META_COLUMNS
    frame = text + 2 * symbols * text_words
    levels = frame + FRAME_WORDS
    book = levels + 4 * scratch
    return Layout(meta, text, frame, levels, book, book + 2 * symbols * cap * 2)


# -- scanning -------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _expect(raw, pos, n, lit):
    """``pos`` after the literal ``lit`` at ``raw[pos:]``, or -1."""
    m = lit.shape[0]
    if pos < 0 or pos + m > n:
        return -1
    for i in range(m):
        if raw[pos + i] != lit[i]:
            return -1
    return pos + m


@njit(cache=True, inline="always")
def _uint(raw, pos, n):
    """A JSON integer of 1-18 digits without a leading zero: ``(value, end)``; end -1 if not."""
    if pos < 0 or pos >= n:
        return 0, -1
    c = np.int64(raw[pos])
    if c < 48 or c > 57:
        return 0, -1
    if c == 48:
        return 0, pos + 1            # "0" (a following digit fails the caller's literal)
    value = np.int64(0)
    start = pos
    while pos < n:
        c = np.int64(raw[pos])
        if c < 48 or c > 57:
            break
        value = value * 10 + (c - 48)
        pos += 1
        if pos - start > 18:
            return 0, -1
    return value, pos


@njit(cache=True, inline="always")
def _eight_digits(w):
    """The value of 8 ASCII digits loaded as a little-endian i64 (first digit lowest), or -1
    if a byte is not a digit. Lane arithmetic: digit pairs in bytes, pairs of pairs in
    16-bit lanes, then the two 4-digit halves."""
    if (w & _HIGH_NIBBLES) != _ZEROS or ((w + _SIXES) & _HIGH_NIBBLES) != _ZEROS:
        return -1
    v = w - _ZEROS
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FF
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFF
    return (v & 0xFFFF) * 10000 + (v >> 32)


@njit(cache=True, inline="always")
def _q8(raw, pos, n):
    """A decimal string's content x 1e8, up to (not including) its closing quote:
    ``(value, end)`` with ``raw[end] == '"'``; end -1 outside the narrowed rules."""
    value = np.int64(0)
    sig = 0
    start = pos
    while pos < n:
        c = np.int64(raw[pos])
        if c < 48 or c > 57:
            break
        if sig or c != 48:
            sig += 1
            if sig > 10:
                return 0, -1
            value = value * 10 + (c - 48)
        pos += 1
    if pos == start or pos >= n:
        return 0, -1
    frac = np.int64(0)
    k = 0
    if raw[pos] == _DOT:
        pos += 1
        if pos + 8 <= n:                 # Binance's 8 decimals at once
            eight = _eight_digits(load_i64(raw, pos))
            if eight >= 0:
                frac = eight
                k = 8
                pos += 8
        while pos < n:
            c = np.int64(raw[pos])
            if c < 48 or c > 57:
                break
            if k < 8:
                frac = frac * 10 + (c - 48)
            elif c != 48:
                return 0, -1
            k += 1
            pos += 1
        if k == 0:
            return 0, -1
    if pos >= n or raw[pos] != _QUOTE:
        return 0, -1
    while k < 8:
        frac *= 10
        k += 1
    return value * _SCALE + frac, pos


@njit(cache=True, inline="always")
def _levels(raw, pos, n, arena, px, sz, cap):
    """``[["p","q"],...]`` into ``arena[px:px+cap]`` / ``arena[sz:sz+cap]``: ``(count, end)``;
    end -1 if malformed, -2 if more than ``cap`` levels."""
    if pos < 0 or pos >= n or raw[pos] != _LBR:
        return 0, -1
    pos += 1
    if pos < n and raw[pos] == _RBR:
        return 0, pos + 1
    count = 0
    while True:
        if count >= cap:
            return 0, -2
        if pos + 2 > n or raw[pos] != _LBR or raw[pos + 1] != _QUOTE:
            return 0, -1
        price, pos = _q8(raw, pos + 2, n)
        if pos < 0 or pos + 3 > n or raw[pos + 1] != _COMMA or raw[pos + 2] != _QUOTE:
            return 0, -1
        size, pos = _q8(raw, pos + 3, n)
        if pos < 0 or pos + 2 >= n or raw[pos + 1] != _RBR:
            return 0, -1
        arena[px + count] = price
        arena[sz + count] = size
        count += 1
        c = raw[pos + 2]
        pos += 3
        if c == _RBR:
            return count, pos
        if c != _COMMA:
            return 0, -1


@njit(cache=True, inline="always")
def _same(raw, pos, text, start, m):
    for i in range(m):  # noqa: SIM110 (a generator in all() costs more in numba)
        if raw[pos + i] != text[start + i]:
            return False
    return True


# -- the book -------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _lower_bound(arena, base, n, key):
    """The first of ``n`` (key, size) pairs at ``arena[base:]`` whose key is not below
    ``key``; galloping from the best end first (most changes are near the top)."""
    lo = 0
    hi = n
    step = 1
    while step <= hi:
        probe = hi - step
        if arena[base + 2 * probe] < key:
            lo = probe + 1
            break
        hi = probe
        step *= 2
    while lo < hi:
        mid = (lo + hi) >> 1
        if arena[base + 2 * mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def _set(arena, base, n, key, size):
    """Set level ``key`` of the side at ``arena[base:]`` (``n`` (key, size) pairs, keys
    ascending) to ``size`` (0 removes); returns the new ``n``."""
    i = _lower_bound(arena, base, n, key)
    at = base + 2 * i
    found = i < n and arena[at] == key
    if size:
        if found:
            arena[at + 1] = size
            return n
        j = base + 2 * n
        while j > at:
            arena[j] = arena[j - 2]
            arena[j + 1] = arena[j - 1]
            j -= 2
        arena[at] = key
        arena[at + 1] = size
        return n + 1
    if found:
        end = base + 2 * (n - 1)
        for j in range(at, end, 2):
            arena[j] = arena[j + 2]
            arena[j + 1] = arena[j + 3]
        return n - 1
    return n


@njit(cache=True, inline="always")
def _pack_side(arena, w, base, n, sign):
    """The count word and 50 (price, size, 0) triples of a side, best first, from ``w``."""
    top = min(n, LEVELS)
    arena[w] = top
    w += 1
    j = base + 2 * (n - 1)
    for _ in range(top):
        arena[w] = sign * arena[j]
        arena[w + 1] = arena[j + 1]
        arena[w + 2] = 0
        w += 3
        j -= 2
    for _ in range(top, LEVELS):
        arena[w] = 0
        arena[w + 1] = 0
        arena[w + 2] = 0
        w += 3


# -- the frame ------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _put(buf, off, value, nbytes):
    for i in range(nbytes):
        buf[off + i] = (value >> (8 * i)) & 0xFF


@njit(cache=True)
def frame_into(arena, sequence, recv_ns):
    """Complete the frame around the OrderBook value in the arena: header (market-data
    domain, the arena's source, ``sequence``, timestamp ``recv_ns``), extended TLV header and
    the CRC32 ``encode_frame`` computes. Returns the frame (a uint8 view of the arena)."""
    f0 = arena[H_FRAME]
    frame = arena.view(np.uint8)[8 * f0 + FRAME_SHIFT:8 * f0 + FRAME_SHIFT + FRAME_SIZE]
    _put(frame, 0, _MAGIC, 4)
    frame[4] = _MD
    frame[5] = _VERSION
    frame[6] = arena[H_SOURCE]
    frame[7] = 0
    _put(frame, 8, sequence, 8)
    _put(frame, 16, recv_ns, 8)
    _put(frame, 24, TLV_HEADER + VALUE_SIZE, 4)
    frame[HEADER_SIZE] = _EXT
    frame[HEADER_SIZE + 1] = 0
    frame[HEADER_SIZE + 2] = _OB_TYPE
    _put(frame, HEADER_SIZE + 3, VALUE_SIZE, 2)
    reg = crc_bytes(np.int64(INIT), frame, 0, 28)
    reg = crc_bytes(reg, frame, HEADER_SIZE, VALUE_OFFSET)
    v0 = f0 + _VALUE_WORD
    crc = crc_words(reg, arena, v0, v0 + WORDS) ^ _M32
    _put(frame, 28, crc, 4)
    return frame


# -- one message ----------------------------------------------------------------------------

@njit(cache=True)
def depth_step(raw, arena):
    """Scan one combined-stream message and apply it if it is a depthUpdate of a live book.

    Parameters
    ----------
    raw : bytes or uint8 array
        The message.
    arena : int64 array
        The fast path's state (:func:`layout`); on :data:`APPLIED` its frame section holds
        the OrderBook value.

    Returns
    -------
    (status, symbol)
        :data:`APPLIED`, :data:`STALE`, :data:`GROW` or a ``DECLINE_*`` code, and the
        symbol's index (-1 when not known).
    """
    n = len(raw)
    symbols = arena[H_SYMBOLS]
    mo = arena[H_META]
    text = arena.view(np.uint8)
    tw = 8 * arena[H_TEXT_WORDS]
    t0 = 8 * arena[H_TEXT]
    pos = _expect(raw, 0, n, _PREFIX)
    if pos < 0:
        return DECLINE_SHAPE, -1
    k = -1
    for s in range(symbols):
        m = arena[mo + s * META_COLUMNS + M_NAMELEN]
        if pos + m < n and raw[pos + m] == _QUOTE and _same(raw, pos, text, t0 + s * tw, m):
            k = s
            pos += m
            break
    if k < 0:
        return DECLINE_SHAPE, -1
    mk = mo + k * META_COLUMNS
    pos = _expect(raw, pos, n, _MID)
    e_ms, pos = _uint(raw, pos, n)
    pos = _expect(raw, pos, n, _S)
    m = arena[mk + M_SYMLEN]
    if pos < 0 or pos + m > n or not _same(raw, pos, text, t0 + (symbols + k) * tw, m):
        return DECLINE_SHAPE, k
    pos = _expect(raw, pos + m, n, _U1)
    first, pos = _uint(raw, pos, n)
    pos = _expect(raw, pos, n, _U2)
    last, pos = _uint(raw, pos, n)
    pos = _expect(raw, pos, n, _B)
    cap = arena[H_SCRATCH]
    lv = arena[H_LEVELS]
    nb, pos = _levels(raw, pos, n, arena, lv, lv + cap, cap)
    if pos == -2:
        return GROW, k
    pos = _expect(raw, pos, n, _A)
    na, pos = _levels(raw, pos, n, arena, lv + 2 * cap, lv + 3 * cap, cap)
    if pos == -2:
        return GROW, k
    pos = _expect(raw, pos, n, _END)
    if pos != n or first > last or e_ms > _MAX_E_MS:
        return DECLINE_SHAPE, k
    if arena[mk + M_LIVE] == 0:
        return DECLINE_NOT_LIVE, k
    seq = arena[mk + M_SEQ]
    if last <= seq:
        return STALE, k
    if first > seq + 1:
        return DECLINE_GAP, k
    # room for every new level (a level set twice counts twice: a bound, not exact)
    bids_n = arena[mk + M_NB]
    asks_n = arena[mk + M_NA]
    width = arena[H_CAP]
    if bids_n + nb > width or asks_n + na > width:
        return GROW, k
    bid_base = arena[H_BOOK] + 2 * k * width * 2
    ask_base = bid_base + width * 2
    for i in range(nb):
        bids_n = _set(arena, bid_base, bids_n, arena[lv + i], arena[lv + cap + i])
    for i in range(na):
        asks_n = _set(arena, ask_base, asks_n, -arena[lv + 2 * cap + i], arena[lv + 3 * cap + i])
    arena[mk + M_NB] = bids_n
    arena[mk + M_NA] = asks_n
    arena[mk + M_SEQ] = last
    arena[mk + M_DIRTY] = 1
    v = arena[H_FRAME] + _VALUE_WORD
    arena[v] = e_ms * _MS
    arena[v + 1] = last
    arena[v + 2] = _SCALE
    arena[v + 3] = arena[mk + M_ASSET]
    arena[v + 4] = arena[mk + M_VWORD]
    _pack_side(arena, v + _W_BIDS, bid_base, bids_n, 1)
    _pack_side(arena, v + _W_ASKS, ask_base, asks_n, -1)
    return APPLIED, k


@njit(cache=True, inline="always")
def count(arena, status):
    """Count a handled message (:data:`APPLIED` or :data:`STALE`) in the arena (for kernels
    that run many messages a call)."""
    arena[H_FAST] += 1
    if status == STALE:
        arena[H_STALE] += 1


@njit(cache=True)
def depth_frame(raw, arena, sequence, recv_ns):
    """:func:`depth_step`, then on :data:`APPLIED` the whole frame in the arena
    (:func:`frame_into`); returns ``(status, symbol)``."""
    status, k = depth_step(raw, arena)
    if status == APPLIED:
        frame_into(arena, sequence, recv_ns)
    return status, k
