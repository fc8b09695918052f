"""Descriptor of the broadcast-ring segment: offsets, sizes, a capacity check, nothing else.

In the manner of Agrona's ``RingBufferDescriptor``: every other module imports these constants.
All fields are little-endian int64 words, 8-byte aligned; byte offsets (``*_OFF``) and word
indices (``W_*`` = offset // 8) are both given. Lines are 64 bytes (one cache line).

::

     byte 0  +--------------------------------------------------------------+
             | MAGIC "APRING\\x00\\x01"  | LAYOUT_VERSION | CAPACITY (bytes, 2^k)|  config line,
             | MAX_READERS | FLAGS (LOSSLESS) | DATA_OFFSET | CREATED (CLOCK_REALTIME ns)   |  written once
        64   +--------------------------------------------------------------+
             | EPOCH | WRITER_PID | WRITER_START (ticks) | EPOCH_START (pos)  |  writer line:
             | WRITER_SEEN (CLOCK_MONOTONIC ns) | ...                       |  once per epoch
       128   +--------------------------------------------------------------+
             | TAIL | FRAMES_WRITTEN                                        |  tail line:
             |                                                              |  every frame
       192   +--------------------------------------------------------------+
             | TAIL_INTENT | HEAD                                           |  intent line: once
             |                                                              |  per capacity/8
       256   +--------------------------------------------------------------+
             | GATE (lossless reader position) | GATE_PID | GATE_START     |  gate line
       320   +--------------------------------------------------------------+
             | reader slot 0: PID | START | EPOCH | POSITION | READ | LOST |  64 B per slot,
             |                LAST_SEEN (CLOCK_MONOTONIC ns) | NEXT_SEQ      |  MAX_READERS
             | reader slot 1 ...                                            |
 DATA_OFFSET +--------------------------------------------------------------+
             | records: CAPACITY bytes, then SLACK (8) bytes                |
             +--------------------------------------------------------------+

Positions (TAIL, HEAD, ...) are byte counts since the ring was created and only grow; a
position ``p`` lives at record index ``p & (CAPACITY - 1)``.

A record starts 8-byte aligned and is ``align8(RECORD_HEADER + frame length)`` bytes::

     0            4            8                     16
     +------------+------------+---------------------+----------------------+-- pad to 8
     | length i32 | type   i32 | seq  i64            | frame bytes ...      |
     +------------+------------+---------------------+----------------------+

``length`` is RECORD_HEADER + frame length (unaligned; a padding record's length is the
space left before the wrap). ``seq`` is the number of frames written before this record; a
padding record, and the unwritten header at TAIL, carry the seq of the next frame. A padding
record of 8 bytes keeps its seq in the SLACK word after the records.
"""

from __future__ import annotations

from typing import Final

# --- config line -----------------------------------------------------------------------------
MAGIC: Final = int.from_bytes(b"APRING\x00\x01", "little")
LAYOUT_VERSION: Final = 1
LINE: Final = 64

MAGIC_OFF: Final = 0
VERSION_OFF: Final = MAGIC_OFF + 8
CAPACITY_OFF: Final = VERSION_OFF + 8
MAX_READERS_OFF: Final = CAPACITY_OFF + 8
FLAGS_OFF: Final = MAX_READERS_OFF + 8
DATA_OFFSET_OFF: Final = FLAGS_OFF + 8
CREATED_OFF: Final = DATA_OFFSET_OFF + 8

# --- writer line (changes once per epoch) -----------------------------------------------------
WRITER_LINE: Final = 1 * LINE
EPOCH_OFF: Final = WRITER_LINE
WRITER_PID_OFF: Final = EPOCH_OFF + 8
WRITER_START_OFF: Final = WRITER_PID_OFF + 8
EPOCH_START_OFF: Final = WRITER_START_OFF + 8
WRITER_SEEN_OFF: Final = EPOCH_START_OFF + 8

# --- tail line (changes every frame; only the writer stores here) -----------------------------
TAIL_LINE: Final = 2 * LINE
TAIL_OFF: Final = TAIL_LINE
FRAMES_WRITTEN_OFF: Final = TAIL_OFF + 8

# --- intent line (the writer publishes TAIL_INTENT ahead, in steps of INTENT_STEP(capacity), so
# --- readers, which load it after every copy, rarely miss on it) --------------------------------
INTENT_LINE: Final = 3 * LINE
TAIL_INTENT_OFF: Final = INTENT_LINE
HEAD_OFF: Final = TAIL_INTENT_OFF + 8

# --- gate line (lossless mode: the one reader's position, which the writer waits for) ---------
GATE_LINE: Final = 4 * LINE
GATE_OFF: Final = GATE_LINE
GATE_PID_OFF: Final = GATE_OFF + 8
GATE_START_OFF: Final = GATE_PID_OFF + 8

# --- reader slots ----------------------------------------------------------------------------
SLOTS_OFF: Final = 5 * LINE
SLOT_SIZE: Final = LINE
SLOT_PID: Final = 0
SLOT_START: Final = SLOT_PID + 8
SLOT_EPOCH: Final = SLOT_START + 8
SLOT_POSITION: Final = SLOT_EPOCH + 8
SLOT_READ: Final = SLOT_POSITION + 8
SLOT_LOST: Final = SLOT_READ + 8
SLOT_LAST_SEEN: Final = SLOT_LOST + 8
SLOT_NEXT_SEQ: Final = SLOT_LAST_SEEN + 8

# --- records ---------------------------------------------------------------------------------
RECORD_ALIGN: Final = 8
RECORD_HEADER: Final = 16
REC_LENGTH: Final = 0  # i32, low half of word 0
REC_TYPE: Final = 4  # i32, high half of word 0
REC_SEQ: Final = 8  # i64, word 1
TYPE_DATA: Final = 1
TYPE_PAD: Final = 2
SLACK: Final = 8

# --- flags -----------------------------------------------------------------------------------
FLAG_LOSSLESS: Final = 1

MIN_CAPACITY: Final = 256
MAX_CAPACITY: Final = 1 << 30
DEFAULT_MAX_READERS: Final = 16


def word(offset: int) -> int:
    """Word index of a byte offset (offsets are 8-byte aligned)."""
    assert offset % 8 == 0, offset
    return offset // 8


W_MAGIC: Final = word(MAGIC_OFF)
W_VERSION: Final = word(VERSION_OFF)
W_CAPACITY: Final = word(CAPACITY_OFF)
W_MAX_READERS: Final = word(MAX_READERS_OFF)
W_FLAGS: Final = word(FLAGS_OFF)
W_DATA_OFFSET: Final = word(DATA_OFFSET_OFF)
W_CREATED: Final = word(CREATED_OFF)
W_EPOCH: Final = word(EPOCH_OFF)
W_WRITER_PID: Final = word(WRITER_PID_OFF)
W_WRITER_START: Final = word(WRITER_START_OFF)
W_EPOCH_START: Final = word(EPOCH_START_OFF)
W_WRITER_SEEN: Final = word(WRITER_SEEN_OFF)
W_TAIL_INTENT: Final = word(TAIL_INTENT_OFF)
W_HEAD: Final = word(HEAD_OFF)
W_TAIL: Final = word(TAIL_OFF)
W_FRAMES_WRITTEN: Final = word(FRAMES_WRITTEN_OFF)
W_GATE: Final = word(GATE_OFF)
W_GATE_PID: Final = word(GATE_PID_OFF)
W_GATE_START: Final = word(GATE_START_OFF)
W_SLOTS: Final = word(SLOTS_OFF)
SLOT_WORDS: Final = SLOT_SIZE // 8
SW_PID: Final = word(SLOT_PID)
SW_START: Final = word(SLOT_START)
SW_EPOCH: Final = word(SLOT_EPOCH)
SW_POSITION: Final = word(SLOT_POSITION)
SW_READ: Final = word(SLOT_READ)
SW_LOST: Final = word(SLOT_LOST)
SW_LAST_SEEN: Final = word(SLOT_LAST_SEEN)
SW_NEXT_SEQ: Final = word(SLOT_NEXT_SEQ)


def align(value: int, to: int = RECORD_ALIGN) -> int:
    """``value`` rounded up to a multiple of ``to`` (a power of two)."""
    return (value + to - 1) & ~(to - 1)


def data_offset(max_readers: int) -> int:
    """Byte offset of the records area for ``max_readers`` slots (line aligned)."""
    return align(SLOTS_OFF + max_readers * SLOT_SIZE, LINE)


def segment_size(capacity: int, max_readers: int) -> int:
    """Total bytes of a segment: header, slots, records and slack, rounded to a line."""
    return align(data_offset(max_readers) + capacity + SLACK, LINE)


def intent_step(capacity: int) -> int:
    """How far ahead of need the writer publishes TAIL_INTENT (capacity / 8)."""
    return capacity // 8


def publish_step(capacity: int) -> int:
    """How far a reader moves between publications of its position (GATE, slot): capacity / 8."""
    return capacity // 8


def max_frame_length(capacity: int) -> int:
    """Largest frame a ring of ``capacity`` accepts (3/8 of it, less two headers).

    A write may need a padding record (shorter than its own record), the next record's header
    beyond it and the intent step, and must never overwrite the record it starts at:
    ``2 * record + RECORD_HEADER + intent_step <= capacity``.
    """
    return 3 * capacity // 8 - 2 * RECORD_HEADER


def check_capacity(capacity: int, max_readers: int) -> None:
    """Raise ``ValueError`` unless ``capacity`` is a power of two in range and slots are sane."""
    if capacity < MIN_CAPACITY or capacity > MAX_CAPACITY or capacity & (capacity - 1):
        raise ValueError(
            f"ring capacity {capacity} must be a power of two in [{MIN_CAPACITY}, {MAX_CAPACITY}]")
    if not 1 <= max_readers <= 1024:
        raise ValueError(f"max_readers {max_readers} must be in [1, 1024]")
