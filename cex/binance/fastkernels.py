"""numba kernels of the Binance depth fast path: scan, book arrays, OrderBook bytes, CRC32.

:func:`depth_step` takes the raw bytes of one combined-stream message and, when they are a
``depthUpdate`` of a configured symbol in exactly the form Binance sends it::

    {"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,
     "s":"ETHUSDT","U":157,"u":160,"b":[["3000.10","1.5"]],"a":[["3000.20","0"]]}}

(one line, no whitespace, these keys in this order), parses them without a JSON parser,
applies them to the symbol's book and writes the OrderBook value (and, on request, the whole
frame: header, extended TLV header, CRC32) into caller-owned buffers. Anything else is
declined (a negative status) and left to the Python path (:class:`cex.binance.feed.BinanceFeed`),
which parses it with orjson and counts its errors; so the fast path needs to accept only
input for which the Python path's result is certain:

- integers (``E``, ``U``, ``u``): 1 to 18 digits, no leading zero, ``U <= u``, and ``E`` small
  enough that ``E`` x 1e6 ns fits an i64;
- decimals: ASCII digits, optionally a dot and at least one digit; at most 10 significant
  integer digits (so x 1e8 fits an i64); digits beyond the 8th decimal must be ``0``
  (the rules of :mod:`cex.fixed`, narrowed);
- strings without a backslash; ``"e"`` is ``depthUpdate`` and ``"s"`` the symbol.

The book of a side is two i64 arrays (``keys``, ``sizes``) sorted ascending by key, the best
level last (key = price for bids, -price for asks), so changes near the top of the book move
few elements. Sequencing follows :mod:`cex.binance.depth` for a live book: ``u <=`` the
book's id is stale; ``U >`` id + 1 is a gap (declined: the Python path invalidates and
resyncs); else each level is set to its quantity (0 removes) and the id becomes ``u``.

The OrderBook value (2456 bytes, docs/protocol-types.md) is built as 307 little-endian i64
words: head (time, sequence, scale, asset id, venue/type/reserved), then per side the level
count and 50 (price, size, 0) triples. Pure functions over caller-owned arrays; not
thread-safe per array set.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cex.fixed import SCALE
from mesh.protocol.constants import (
    EXTENDED_TLV_MARKER,
    HEADER_SIZE,
    MAGIC,
    PROTOCOL_VERSION,
    RelayDomain,
)
from mesh.protocol.messages import OrderBook

# -- statuses -------------------------------------------------------------------------------
APPLIED = 1
"""The event was applied; the OrderBook value (and frame, if asked) is in the buffers."""
STALE = 2
"""A well-formed event at or below the book's update id: count ``stale``, nothing to write."""
GROW = 3
"""A book side or the scratch would overflow: grow the arrays and call again (nothing changed)."""
DECLINE_SHAPE = -1
"""Not a depthUpdate in Binance's exact form (or a value outside the narrowed rules)."""
DECLINE_NOT_LIVE = -2
"""A depthUpdate of a symbol whose book the fast path does not hold (syncing)."""
DECLINE_GAP = -3
"""A depthUpdate whose ``U`` is beyond the book's id + 1."""

# -- per-symbol meta columns (int64) --------------------------------------------------------
M_LIVE, M_SEQ, M_NB, M_NA, M_DIRTY, M_NAMELEN, M_SYMLEN, M_ASSET, M_VWORD = range(9)
META_COLUMNS = 9

# -- the OrderBook value as i64 words -------------------------------------------------------
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

_QUOTE, _COMMA, _DOT, _LBR, _RBR, _SLASH = 34, 44, 46, 91, 93, 92


def _crc_tables() -> np.ndarray:
    """Slicing-by-8 tables of the IEEE CRC32 (reflected 0xEDB88320), as int64."""
    t = np.zeros((8, 256), np.int64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t[0, i] = c
    for k in range(1, 8):
        for i in range(256):
            c = int(t[k - 1, i])
            t[k, i] = (c >> 8) ^ int(t[0, c & 0xFF])
    return t


CRC_TABLES = _crc_tables()


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
def _levels(raw, pos, n, px, sz, cap):
    """``[["p","q"],...]`` into ``px``/``sz``: ``(count, end)``; end -1 if malformed or more
    than ``cap`` levels."""
    if pos < 0 or pos >= n or raw[pos] != _LBR:
        return 0, -1
    pos += 1
    if pos < n and raw[pos] == _RBR:
        return 0, pos + 1
    count = 0
    while True:
        if count >= cap or pos + 2 > n or raw[pos] != _LBR or raw[pos + 1] != _QUOTE:
            return 0, -1
        price, pos = _q8(raw, pos + 2, n)
        if pos < 0 or pos + 3 > n or raw[pos + 1] != _COMMA or raw[pos + 2] != _QUOTE:
            return 0, -1
        size, pos = _q8(raw, pos + 3, n)
        if pos < 0 or pos + 2 >= n or raw[pos + 1] != _RBR:
            return 0, -1
        px[count] = price
        sz[count] = size
        count += 1
        c = raw[pos + 2]
        pos += 3
        if c == _RBR:
            return count, pos
        if c != _COMMA:
            return 0, -1


@njit(cache=True, inline="always")
def _match_name(raw, pos, n, names, meta, col):
    """The symbol whose name (row of ``names``, length ``meta[:, col]``) sits at
    ``raw[pos:]`` followed by a quote: ``(index, end at the quote)``, or (-1, -1)."""
    for k in range(names.shape[0]):
        m = meta[k, col]
        end = pos + m
        if end >= n or raw[end] != _QUOTE:
            continue
        same = True
        for i in range(m):
            if raw[pos + i] != names[k, i]:
                same = False
                break
        if same:
            return k, end
    return -1, -1


# -- the book -------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _lower_bound(keys, n, key):
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def _set(keys, sizes, n, key, size):
    """Set the level ``key`` of a side of ``n`` levels to ``size`` (0 removes); new ``n``."""
    i = _lower_bound(keys, n, key)
    found = i < n and keys[i] == key
    if size:
        if found:
            sizes[i] = size
            return n
        j = n
        while j > i:
            keys[j] = keys[j - 1]
            sizes[j] = sizes[j - 1]
            j -= 1
        keys[i] = key
        sizes[i] = size
        return n + 1
    if found:
        for j in range(i, n - 1):
            keys[j] = keys[j + 1]
            sizes[j] = sizes[j + 1]
        return n - 1
    return n


@njit(cache=True, inline="always")
def _pack_side(val, w, keys, sizes, n, sign):
    """The count word and 50 (price, size, 0) triples of a side, best first, from ``w``."""
    top = min(n, LEVELS)
    val[w] = top
    w += 1
    for i in range(top):
        j = n - 1 - i
        val[w] = sign * keys[j]
        val[w + 1] = sizes[j]
        val[w + 2] = 0
        w += 3
    for _ in range(top, LEVELS):
        val[w] = 0
        val[w + 1] = 0
        val[w + 2] = 0
        w += 3


# -- CRC32 ----------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _crc_bytes(crc, buf, start, stop, t):
    for i in range(start, stop):
        crc = t[0, (crc ^ np.int64(buf[i])) & 0xFF] ^ (crc >> 8)
    return crc


@njit(cache=True, inline="always")
def _crc_words(crc, words, t):
    """Continue ``crc`` (pre-inverted) over the little-endian bytes of i64 ``words``."""
    for i in range(words.shape[0]):
        w = words[i]
        c = crc ^ (w & _M32)
        h = (w >> 32) & _M32
        crc = (t[7, c & 0xFF] ^ t[6, (c >> 8) & 0xFF] ^ t[5, (c >> 16) & 0xFF]
               ^ t[4, (c >> 24) & 0xFF] ^ t[3, h & 0xFF] ^ t[2, (h >> 8) & 0xFF]
               ^ t[1, (h >> 16) & 0xFF] ^ t[0, (h >> 24) & 0xFF])
    return crc


@njit(cache=True, inline="always")
def _put(buf, off, value, nbytes):
    for i in range(nbytes):
        buf[off + i] = (value >> (8 * i)) & 0xFF


@njit(cache=True)
def frame_into(frame, val, source, sequence, recv_ns):
    """Write a whole OrderBook frame around the value words ``val`` into ``frame``
    (:data:`FRAME_SIZE` bytes): header (market-data domain, ``source``, ``sequence``,
    timestamp ``recv_ns``), extended TLV header, value, CRC32 as ``encode_frame`` computes it."""
    _put(frame, 0, _MAGIC, 4)
    frame[4] = _MD
    frame[5] = _VERSION
    frame[6] = source
    frame[7] = 0
    _put(frame, 8, sequence, 8)
    _put(frame, 16, recv_ns, 8)
    _put(frame, 24, TLV_HEADER + VALUE_SIZE, 4)
    frame[HEADER_SIZE] = _EXT
    frame[HEADER_SIZE + 1] = 0
    frame[HEADER_SIZE + 2] = _OB_TYPE
    _put(frame, HEADER_SIZE + 3, VALUE_SIZE, 2)
    frame[VALUE_OFFSET:FRAME_SIZE] = val.view(np.uint8)
    t = CRC_TABLES
    crc = _crc_bytes(np.int64(_M32), frame, 0, 28, t)
    crc = _crc_bytes(crc, frame, HEADER_SIZE, VALUE_OFFSET, t)
    crc = _crc_words(crc, val, t) ^ _M32
    _put(frame, 28, crc, 4)


# -- one message ----------------------------------------------------------------------------

@njit(cache=True)
def depth_step(raw, n, meta, names, syms, keys, sizes, scratch, val):
    """Scan one combined-stream message and apply it if it is a depthUpdate of a live book.

    Parameters
    ----------
    raw : bytes or uint8 array
        The message (``n`` bytes).
    meta : int64 (S, META_COLUMNS)
        Per symbol: live flag, update id, level counts, dirty flag (set on apply), name
        lengths, asset id and the venue/type/reserved word.
    names, syms : uint8 (S, L)
        The depth stream names and the symbols (``s``), one per row.
    keys, sizes : int64 (2S, CAP)
        Book sides: row ``2k`` the bids, ``2k + 1`` the asks of symbol ``k``.
    scratch : int64 (4, K)
        Parsed levels (bid prices, bid sizes, ask prices, ask sizes); ``K`` at least
        ``n // 9 + 1``.
    val : int64 (WORDS,)
        Receives the OrderBook value on :data:`APPLIED`.

    Returns
    -------
    (status, symbol)
        :data:`APPLIED`, :data:`STALE`, :data:`GROW` or a ``DECLINE_*`` code, and the
        symbol's index (-1 when not known).
    """
    pos = _expect(raw, 0, n, _PREFIX)
    if pos < 0:
        return DECLINE_SHAPE, -1
    k, pos = _match_name(raw, pos, n, names, meta, M_NAMELEN)
    if k < 0:
        return DECLINE_SHAPE, -1
    pos = _expect(raw, pos, n, _MID)
    e_ms, pos = _uint(raw, pos, n)
    pos = _expect(raw, pos, n, _S)
    if pos < 0:
        return DECLINE_SHAPE, k
    m = meta[k, M_SYMLEN]
    if pos + m > n:
        return DECLINE_SHAPE, k
    for i in range(m):
        if raw[pos + i] != syms[k, i]:
            return DECLINE_SHAPE, k
    pos = _expect(raw, pos + m, n, _U1)
    first, pos = _uint(raw, pos, n)
    pos = _expect(raw, pos, n, _U2)
    last, pos = _uint(raw, pos, n)
    pos = _expect(raw, pos, n, _B)
    cap = scratch.shape[1]
    nb, pos = _levels(raw, pos, n, scratch[0], scratch[1], cap)
    pos = _expect(raw, pos, n, _A)
    na, pos = _levels(raw, pos, n, scratch[2], scratch[3], cap)
    pos = _expect(raw, pos, n, _END)
    if pos != n or first > last or e_ms > _MAX_E_MS:
        return DECLINE_SHAPE, k
    if meta[k, M_LIVE] == 0:
        return DECLINE_NOT_LIVE, k
    seq = meta[k, M_SEQ]
    if last <= seq:
        return STALE, k
    if first > seq + 1:
        return DECLINE_GAP, k
    # room for every new level (a level set twice counts twice: a bound, not exact)
    bids_n = meta[k, M_NB]
    asks_n = meta[k, M_NA]
    width = keys.shape[1]
    if bids_n + nb > width or asks_n + na > width:
        return GROW, k
    bk, bs = keys[2 * k], sizes[2 * k]
    for i in range(nb):
        bids_n = _set(bk, bs, bids_n, scratch[0, i], scratch[1, i])
    ak, asz = keys[2 * k + 1], sizes[2 * k + 1]
    for i in range(na):
        asks_n = _set(ak, asz, asks_n, -scratch[2, i], scratch[3, i])
    meta[k, M_NB] = bids_n
    meta[k, M_NA] = asks_n
    meta[k, M_SEQ] = last
    meta[k, M_DIRTY] = 1
    val[0] = e_ms * _MS
    val[1] = last
    val[2] = _SCALE
    val[3] = meta[k, M_ASSET]
    val[4] = meta[k, M_VWORD]
    _pack_side(val, _W_BIDS, bk, bs, bids_n, 1)
    _pack_side(val, _W_ASKS, ak, asz, asks_n, -1)
    return APPLIED, k


@njit(cache=True)
def depth_frame(raw, n, meta, names, syms, keys, sizes, scratch, val, frame, source, sequence,
                recv_ns):
    """:func:`depth_step`, then on :data:`APPLIED` the whole frame into ``frame``
    (:func:`frame_into`). Callable from other ``@njit`` code (a ring writer)."""
    status, k = depth_step(raw, n, meta, names, syms, keys, sizes, scratch, val)
    if status == APPLIED:
        frame_into(frame, val, source, sequence, recv_ns)
    return status, k
