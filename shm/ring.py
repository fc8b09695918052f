"""numba kernels of the broadcast ring: begin an epoch, write a frame, read, drain.

Every kernel takes the segment twice, as ``words`` (int64) and ``data`` (uint8) arrays made by
``np.frombuffer`` over the same mapping (see :mod:`shm.segment`), plus a small process-local
int64 state array (``WS_*`` for the writer, ``RS_*`` for a reader). Kernels are ``@njit``
(``cache=True``) and callable from other ``@njit`` code; each one's ``py_func`` (or the whole
module under ``NUMBA_DISABLE_JIT=1``) is the plain-Python reference path.

Loss is not an error: a reader the writer has lapped counts the frames it lost and resumes at
the oldest intact frame (``HEAD``). The writer never waits for a reader, except for the one
gate reader of a lossless ring.

Process safety: exactly one writer process per segment (enforced by :mod:`shm.writer`), any
number of reader processes, each with its own state array. A state array must not be shared
between threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from shm import layout as L
from shm.atomics import compare_and_set, fence_acquire, fence_release, load_acquire, store_release
from shm.clock import monotonic_ns
from shm.memcopy import copy_bytes

# --- writer state (process-local) ------------------------------------------------------------
WS_TAIL, WS_INTENT, WS_HEAD, WS_SEQ, WS_CAP, WS_MASK, WS_DATA, WS_MAX_FRAME = range(8)
WS_LOSSLESS, WS_EPOCH, WS_FULL, WS_KEEP, WS_STEP, WS_GATE = 8, 9, 10, 11, 12, 13
WS_SIZE = 16

# --- reader state (process-local) ------------------------------------------------------------
RS_CURSOR, RS_EXPECTED, RS_EPOCH, RS_READ, RS_LOST, RS_SLOT, RS_CAP, RS_MASK = range(8)
RS_DATA, RS_MAX_FRAME, RS_LOSSLESS, RS_LAPS, RS_RESYNCS, RS_ANOMALIES, RS_RETRIES = range(8, 15)
RS_KEEP, RS_TAIL, RS_PUBLISHED, RS_STEP = 15, 16, 17, 18
RS_SIZE = 20

#: ``read_one`` / ``_next`` results besides a frame length.
NOTHING = 0
NO_ROOM = -1
#: ``write_frame`` result for a frame length out of range (nothing written).
MISUSE = -1
RETRY_LIMIT = 64

_LOW32 = 0xFFFFFFFF


@njit(cache=True, inline="always")
def _align(n):
    return (n + 7) & ~7


@njit(cache=True, inline="always")
def _hdr_word(ws_data, idx):
    return (ws_data + idx) >> 3




@njit(cache=True, inline="always")
def _keep(a, b, c):
    """A use of three arrays at a kernel's end: keeps numba's refcount pruning effective."""
    return a.shape[0] + b.shape[0] + c.shape[0]


@njit(cache=True)
def begin_epoch(words, data, ws, pid, start_ticks):
    """Take over the segment as its writer and start a new epoch; fill ``ws``.

    Commit protocol (a restart after a crash mid-write included):

    1. ``start`` = the old ``TAIL_INTENT`` (never below ``TAIL``): nothing a dead writer may
       have half-written lies at or beyond it.
    2. ``seq`` = the seq the old writer left in the header slot at ``TAIL`` (the next frame's
       number, written before ``TAIL`` was published), checked against ``FRAMES_WRITTEN``.
    3. Write the next-seq marker at ``start``; store ``TAIL_INTENT`` = start + header, release
       fence; store ``HEAD``, ``GATE``, ``EPOCH_START``, ``FRAMES_WRITTEN``, writer pid.
    4. Store ``EPOCH`` + 1 (release), then ``TAIL`` = start (release). A reader that validates
       against the new epoch resynchronizes to ``HEAD`` of that epoch.

    Returns the new epoch.
    """
    cap = words[L.W_CAPACITY]
    mask = cap - 1
    doff = words[L.W_DATA_OFFSET]
    old_tail = load_acquire(words, L.W_TAIL)
    start = max(load_acquire(words, L.W_TAIL_INTENT), old_tail)
    fw = load_acquire(words, L.W_FRAMES_WRITTEN)
    marker = words[_hdr_word(doff, old_tail & mask) + 1]
    seq = marker if fw <= marker <= fw + 1 else fw
    words[_hdr_word(doff, start & mask) + 1] = seq
    store_release(words, L.W_TAIL_INTENT, start + L.RECORD_HEADER)
    fence_release()
    store_release(words, L.W_HEAD, start)
    store_release(words, L.W_GATE, start)
    store_release(words, L.W_EPOCH_START, start)
    store_release(words, L.W_FRAMES_WRITTEN, seq)
    store_release(words, L.W_WRITER_PID, pid)
    store_release(words, L.W_WRITER_START, start_ticks)
    store_release(words, L.W_WRITER_SEEN, monotonic_ns())
    epoch = load_acquire(words, L.W_EPOCH) + 1
    store_release(words, L.W_EPOCH, epoch)
    store_release(words, L.W_TAIL, start)
    ws[WS_TAIL] = start
    ws[WS_INTENT] = start + L.RECORD_HEADER
    ws[WS_HEAD] = start
    ws[WS_SEQ] = seq
    ws[WS_CAP] = cap
    ws[WS_MASK] = mask
    ws[WS_DATA] = doff
    ws[WS_MAX_FRAME] = 3 * cap // 8 - 2 * L.RECORD_HEADER
    ws[WS_STEP] = cap // 8
    ws[WS_LOSSLESS] = 1 if words[L.W_FLAGS] & L.FLAG_LOSSLESS else 0
    ws[WS_GATE] = start
    ws[WS_EPOCH] = epoch
    return epoch


@njit(cache=True, inline="always")
def _reload_gate(words, ws):
    """Refresh the writer's cached copy of GATE (acquire); return it."""
    gate = load_acquire(words, L.W_GATE)
    ws[WS_GATE] = gate
    return gate


@njit(cache=True, inline="always")
def write_frame(words, data, ws, frame, length):
    """Append ``frame[:length]`` as one record; return 1, 0 (lossless ring full) or MISUSE.

    Commit protocol (one writer; readers validate seqlock-style against ``TAIL_INTENT``):

    1. Size the record (``align8(16 + length)``); if it does not fit before the wrap, a padding
       record fills the rest. ``need`` = end of the record + one header (the next-seq slot).
    2. Lossless ring only: if ``need - capacity`` passes the writer's cached copy of the gate
       reader's position, reload GATE (acquire) and, if it still passes, return 0. GATE only
       grows, so a stale copy is conservative; the writer touches the gate line only when its
       cached view says the ring is full (no per-frame cache-line traffic with the reader).
    3. Only if ``need`` passes the published ``TAIL_INTENT``: choose a new intent one intent
       step (capacity / 8) ahead (never past cached gate + capacity on a lossless ring), walk
       ``HEAD`` past every record it will overwrite (the writer's own bytes), store
       ``TAIL_INTENT`` and ``HEAD``, then a release fence: no byte below is overwritten before
       readers can see that it is about to be. Publishing ahead keeps the intent line out of
       the per-frame cache traffic; readers near the lap point are dropped a little early.
    5. Write the padding record, the record header (length, type, seq) and the frame bytes,
       and the next frame's seq in the header slot at the new tail. Plain stores: these bytes
       are published by step 6 and validated by readers against step 4.
    6. Store ``TAIL`` (release), then ``FRAMES_WRITTEN`` (release).

    Returns MISUSE (-1), writing nothing, if ``length`` is not in ``[1, max frame length]``
    or exceeds ``frame``: a bug, not back-pressure; the Python facade raises
    :class:`shm.errors.FrameTooLarge`, and numba callers must treat -1 as fatal (a ``raise``
    inside this inlined kernel would cost ~10x per call). Process safety: one writer process
    per segment.
    """
    # No raise, one exit, and a last unconditional use of every array (``_keep``): numba then
    # prunes the array refcounts of the inlined call. Otherwise every call pays 6-8 atomic
    # NRT increments and decrements (~60 ns here, 10x the write itself).
    cap = ws[WS_CAP]
    mask = ws[WS_MASK]
    doff = ws[WS_DATA]
    tail = ws[WS_TAIL]
    seq = ws[WS_SEQ]
    reclen = _align(L.RECORD_HEADER + length)
    idx = tail & mask
    pad = cap - idx if cap - idx < reclen else 0
    start = tail + pad
    end = start + reclen
    need = end + L.RECORD_HEADER
    written = 1
    if length < 1 or length > ws[WS_MAX_FRAME] or length > frame.shape[0]:
        written = MISUSE
    elif ws[WS_LOSSLESS] != 0 and need - cap > ws[WS_GATE] and need - cap > _reload_gate(words, ws):
        ws[WS_FULL] += 1
        written = 0
    else:
        if need > ws[WS_INTENT]:
            intent = need + ws[WS_STEP]
            if ws[WS_LOSSLESS] != 0:
                intent = min(intent, ws[WS_GATE] + cap)
            head = ws[WS_HEAD]
            while head + cap < intent:
                head += _align(words[_hdr_word(doff, head & mask)] & _LOW32)
            store_release(words, L.W_TAIL_INTENT, intent)
            store_release(words, L.W_HEAD, head)
            ws[WS_INTENT] = intent
            ws[WS_HEAD] = head
        fence_release()
        if pad:
            w = _hdr_word(doff, idx)
            words[w] = pad | (L.TYPE_PAD << 32)
            words[w + 1] = seq
        w = _hdr_word(doff, start & mask)
        words[w] = (L.RECORD_HEADER + length) | (L.TYPE_DATA << 32)
        words[w + 1] = seq
        copy_bytes(data, doff + (start & mask) + L.RECORD_HEADER, frame, 0, length)
        words[_hdr_word(doff, end & mask) + 1] = seq + 1
        store_release(words, L.W_TAIL, end)
        store_release(words, L.W_FRAMES_WRITTEN, seq + 1)
        ws[WS_TAIL] = end
        ws[WS_SEQ] = seq + 1
    ws[WS_KEEP] = _keep(words, data, frame)
    return written


@njit(cache=True)
def init_reader(words, rs, slot, oldest, lossless):
    """Fill reader state ``rs`` and position it; return True, or False to retry (racing writer).

    ``slot`` is the reader-slot index (or -1 for none). The start is ``TAIL`` (only frames
    written from now on), ``HEAD`` (``oldest``: the oldest intact frame) or ``GATE``
    (``lossless``). Protocol: load ``EPOCH``, the start position and the seq in the header
    slot there; acquire fence; re-load ``EPOCH`` and ``TAIL_INTENT``; the pair is valid when
    the epoch is unchanged and the slot was not overwritten.
    """
    cap = words[L.W_CAPACITY]
    rs[RS_CAP] = cap
    rs[RS_MASK] = cap - 1
    rs[RS_DATA] = words[L.W_DATA_OFFSET]
    rs[RS_MAX_FRAME] = 3 * cap // 8 - 2 * L.RECORD_HEADER
    rs[RS_LOSSLESS] = 1 if lossless else 0
    rs[RS_STEP] = cap // 8  # layout.publish_step
    rs[RS_SLOT] = -1 if slot < 0 else L.W_SLOTS + slot * L.SLOT_WORDS
    epoch = load_acquire(words, L.W_EPOCH)
    if lossless:
        pos = load_acquire(words, L.W_GATE)
    elif oldest:
        pos = load_acquire(words, L.W_HEAD)
    else:
        pos = load_acquire(words, L.W_TAIL)
    seq = words[_hdr_word(rs[RS_DATA], pos & (cap - 1)) + 1]
    fence_acquire()
    if load_acquire(words, L.W_EPOCH) != epoch or load_acquire(words, L.W_TAIL_INTENT) > pos + cap:
        return False
    rs[RS_CURSOR] = pos
    rs[RS_PUBLISHED] = pos
    rs[RS_EXPECTED] = seq
    rs[RS_EPOCH] = epoch
    _publish_slot(words, rs)
    return True


@njit(cache=True, inline="always")
def _publish_slot(words, rs):
    s = rs[RS_SLOT]
    if s >= 0:
        store_release(words, s + L.SW_EPOCH, rs[RS_EPOCH])
        store_release(words, s + L.SW_POSITION, rs[RS_CURSOR])
        store_release(words, s + L.SW_READ, rs[RS_READ])
        store_release(words, s + L.SW_LOST, rs[RS_LOST])
        store_release(words, s + L.SW_NEXT_SEQ, rs[RS_EXPECTED])
    rs[RS_KEEP] = words.shape[0]  # see _keep


@njit(cache=True, inline="always")
def _publish(words, rs):
    """Publish the reader's position: GATE (lossless reader, release) and its slot.

    Called once per batch (``drain_into`` / ``drain_cb`` return, ``read_one`` finding nothing
    new) and whenever the cursor has moved a publish step (capacity / 8) since the last
    publication, never per frame. A GATE behind the real cursor only makes the writer more
    careful: the writer waits at most until this reader crosses a step or catches up.
    """
    if rs[RS_LOSSLESS] != 0:
        store_release(words, L.W_GATE, rs[RS_CURSOR])
    rs[RS_PUBLISHED] = rs[RS_CURSOR]
    _publish_slot(words, rs)


@njit(cache=True)
def _resync(words, rs, epoch_changed):
    """Jump to ``HEAD`` of the current epoch (after a lap or a writer restart).

    ``RS_EXPECTED`` is kept: the seq of the next frame delivered tells exactly how many
    frames were skipped. Returns False if the writer raced us (the caller retries).
    """
    epoch = load_acquire(words, L.W_EPOCH)
    head = load_acquire(words, L.W_HEAD)
    if load_acquire(words, L.W_EPOCH) != epoch:
        return False
    rs[RS_CURSOR] = head
    rs[RS_EPOCH] = epoch
    if epoch_changed:
        rs[RS_RESYNCS] += 1
    else:
        rs[RS_LAPS] += 1
    return True


@njit(cache=True, inline="always")
def _next(words, data, rs, out, at):
    """Copy the next frame into ``out[at:]``; return its length, NOTHING or NO_ROOM.

    Read protocol (seqlock-style; the writer never waits):

    1. If the cursor reached the cached ``TAIL``, reload it (acquire); if the cursor has
       reached it still, return NOTHING.
    2. Read the record header at the cursor (length, type, seq); for a data record, copy
       its frame bytes into ``out`` (plain loads, possibly racing the writer).
    3. Acquire fence, then load ``TAIL_INTENT`` and ``EPOCH``.
    4. Epoch changed: the writer restarted; resync to its ``HEAD``, retry. ``TAIL_INTENT``
       beyond cursor + capacity: the writer lapped us while we copied, the copy may be torn;
       drop it, resync to ``HEAD``, retry.
    5. Otherwise the copy is intact: count ``seq - expected`` frames lost, deliver. If the
       cursor moved a publish step since the last publication, publish it (``_publish``).

    One exit and no raise, for the refcount pruning described in ``write_frame``.
    """
    cap = rs[RS_CAP]
    mask = rs[RS_MASK]
    doff = rs[RS_DATA]
    result = NOTHING
    tries = 0
    while tries < RETRY_LIMIT:
        tries += 1
        cursor = rs[RS_CURSOR]
        if cursor >= rs[RS_TAIL]:
            rs[RS_TAIL] = load_acquire(words, L.W_TAIL)  # only when caught up with the cache
            if cursor >= rs[RS_TAIL]:
                tries = 0
                break
        idx = cursor & mask
        w = _hdr_word(doff, idx)
        head_word = words[w]
        seq = words[w + 1]
        length = head_word & _LOW32
        rtype = head_word >> 32
        n = length - L.RECORD_HEADER
        copied = False
        if rtype == L.TYPE_DATA and 0 < n <= rs[RS_MAX_FRAME]:
            if n > out.shape[0] - at:
                result = NO_ROOM
                tries = 0
                break
            copy_bytes(out, at, data, doff + idx + L.RECORD_HEADER, n)
            copied = True
        fence_acquire()
        intent = load_acquire(words, L.W_TAIL_INTENT)
        if load_acquire(words, L.W_EPOCH) != rs[RS_EPOCH]:
            _resync(words, rs, True)
        elif intent > cursor + cap:
            _resync(words, rs, False)
        elif rtype == L.TYPE_PAD and length == cap - idx:
            rs[RS_CURSOR] = cursor + length
        elif not copied:
            rs[RS_ANOMALIES] += 1  # an intact but malformed record: corruption, skip to HEAD
            _resync(words, rs, False)
        else:
            expected = rs[RS_EXPECTED]
            if seq > expected:
                rs[RS_LOST] += seq - expected
            elif seq < expected:
                rs[RS_ANOMALIES] += 1
            rs[RS_EXPECTED] = seq + 1
            rs[RS_READ] += 1
            rs[RS_CURSOR] = cursor + _align(length)
            if rs[RS_CURSOR] - rs[RS_PUBLISHED] >= rs[RS_STEP]:
                _publish(words, rs)  # a step behind at most: a lossless writer never stalls
            result = n
            tries = 0
            break
    if tries >= RETRY_LIMIT:
        rs[RS_RETRIES] += 1
    rs[RS_KEEP] = _keep(words, data, out)
    return result


@njit(cache=True, inline="always")
def read_one(words, data, rs, out):
    """Read the next frame into ``out``; return its length, 0 when there is none yet.

    ``out`` should hold the ring's largest frame: a frame that does not fit is left in the
    ring and NO_ROOM (-1) returned (the Python facade checks ``out`` up front). Lost frames
    (after a lap) are counted in ``rs[RS_LOST]``. The position (GATE of a lossless reader,
    the slot's position and counters) is published when a call finds nothing new to read
    and every publish step, not per frame. Inlined into the caller, without a raise, so that
    a call costs no refcount atomics.
    Process safety: one thread per state array.
    """
    n = _next(words, data, rs, out, 0)
    if n == NOTHING and rs[RS_CURSOR] != rs[RS_PUBLISHED]:
        _publish(words, rs)
    rs[RS_KEEP] = _keep(words, data, out)
    return n


@njit(cache=True, inline="always")
def drain_into(words, data, rs, out, offsets, max_frames):
    """Copy up to ``max_frames`` frames back to back into ``out``; return how many.

    Frame ``i`` is ``out[offsets[i]:offsets[i + 1]]``; ``offsets`` needs ``max_frames + 1``
    entries. Stops early when caught up or when the next frame does not fit in ``out``.
    Publishes the position, slot counters and ``LAST_SEEN`` once, at the end of the batch.
    Inlined, one exit, no raise: a call costs no refcount atomics (see ``write_frame``).
    """
    count = 0
    at = 0
    offsets[0] = 0
    limit = min(max_frames, offsets.shape[0] - 1)
    while count < limit:
        n = _next(words, data, rs, out, at)
        if n <= 0:
            break
        at += n
        count += 1
        offsets[count] = at
    _publish(words, rs)
    heartbeat(words, rs)
    rs[RS_KEEP] = _keep(words, data, out) + offsets.shape[0]
    return count


@njit(cache=True)
def drain_cb(words, data, rs, scratch, callback, ctx, max_frames):
    """Deliver up to ``max_frames`` frames to ``callback(frame, ctx)``; return how many.

    ``callback`` is an ``@njit`` function; ``frame`` is a view of ``scratch`` (which must hold
    the ring's largest frame) valid only during the call. A callback returning nonzero stops
    the drain after that frame. numba cannot cache a function that names a dispatcher as a
    global, so a caller of ``drain_cb`` with ``cache=True`` gets a warning and compiles each
    run; ``drain_into`` and ``read_one`` loops cache fine.
    """
    count = 0
    while count < max_frames:
        n = _next(words, data, rs, scratch, 0)
        if n == NO_ROOM:
            raise ValueError("drain_cb: scratch is smaller than the ring's max frame length")
        if n == 0:
            break
        count += 1
        if callback(scratch[:n], ctx):
            break
    _publish(words, rs)
    heartbeat(words, rs)
    return count


@njit(cache=True, inline="always")
def heartbeat(words, rs):
    """Store ``CLOCK_MONOTONIC`` now in the reader's slot ``LAST_SEEN`` (release)."""
    s = rs[RS_SLOT]
    if s >= 0:
        store_release(words, s + L.SW_LAST_SEEN, monotonic_ns())
    rs[RS_KEEP] = words.shape[0]  # see _keep


@njit(cache=True)
def claim_slot(words, index, pid, start_ticks, stale_pid):
    """Claim reader slot ``index`` for ``pid`` if its pid is 0 or ``stale_pid``; return success.

    A compare-and-set on the slot's pid word, then the other fields, reset (release stores).
    """
    s = L.W_SLOTS + index * L.SLOT_WORDS
    if not compare_and_set(words, s + L.SW_PID, stale_pid, pid):
        return False
    store_release(words, s + L.SW_START, start_ticks)
    for f in (L.SW_EPOCH, L.SW_POSITION, L.SW_READ, L.SW_LOST, L.SW_NEXT_SEQ):
        store_release(words, s + f, 0)
    store_release(words, s + L.SW_LAST_SEEN, monotonic_ns())
    return True


@njit(cache=True)
def release_slot(words, index, pid):
    """Free reader slot ``index`` if ``pid`` still owns it."""
    return compare_and_set(words, L.W_SLOTS + index * L.SLOT_WORDS + L.SW_PID, pid, 0)


@njit(cache=True)
def claim_word(words, w, expected, value):
    """Compare-and-set an arbitrary header word (the gate pid, the writer pid)."""
    return compare_and_set(words, w, expected, value)


@njit(cache=True)
def snapshot(words, out):
    """Copy the header and slot words into ``out`` with acquire loads (for inspection)."""
    n = min(out.shape[0], words.shape[0])
    for i in range(n):
        out[i] = load_acquire(words, i)
    return n


def new_writer_state() -> np.ndarray:
    """A zeroed writer state array."""
    return np.zeros(WS_SIZE, np.int64)


def new_reader_state() -> np.ndarray:
    """A zeroed reader state array."""
    return np.zeros(RS_SIZE, np.int64)
