"""The segment descriptor: offsets, alignment, capacity rules."""

from __future__ import annotations

import pytest

from shm import layout as L


def test_header_fields_are_word_aligned_and_do_not_overlap() -> None:
    offsets = sorted(v for k, v in vars(L).items() if k.endswith("_OFF") and k != "SLOTS_OFF")
    assert all(o % 8 == 0 for o in offsets)
    assert len(offsets) == len(set(offsets)), "two fields share an offset"
    assert max(offsets) < L.SLOTS_OFF


def test_tail_and_intent_lines_are_separate_from_each_other_and_slots() -> None:
    assert {L.TAIL_OFF // L.LINE, L.FRAMES_WRITTEN_OFF // L.LINE} == {L.TAIL_LINE // L.LINE}
    assert {L.TAIL_INTENT_OFF // L.LINE, L.HEAD_OFF // L.LINE} == {L.INTENT_LINE // L.LINE}
    assert L.TAIL_LINE != L.INTENT_LINE
    slot_fields = [L.SLOT_PID, L.SLOT_START, L.SLOT_EPOCH, L.SLOT_POSITION, L.SLOT_READ,
                   L.SLOT_LOST, L.SLOT_LAST_SEEN, L.SLOT_NEXT_SEQ]
    assert max(slot_fields) + 8 <= L.SLOT_SIZE


@pytest.mark.parametrize("readers", [1, 3, 16, 100])
def test_records_start_on_a_line_after_the_slots(readers: int) -> None:
    off = L.data_offset(readers)
    assert off % L.LINE == 0
    assert off >= L.SLOTS_OFF + readers * L.SLOT_SIZE
    assert L.segment_size(1024, readers) >= off + 1024 + L.SLACK


@pytest.mark.parametrize("capacity", [0, 100, 255, 1000, 1 << 31])
def test_capacity_must_be_a_power_of_two_in_range(capacity: int) -> None:
    with pytest.raises(ValueError, match=str(capacity)):
        L.check_capacity(capacity, 4)


@pytest.mark.parametrize("capacity", [256, 1024, 1 << 20])
def test_largest_frame_plus_padding_and_next_header_fits_in_the_ring(capacity: int) -> None:
    record = L.align(L.RECORD_HEADER + L.max_frame_length(capacity))
    worst_pad = record - L.RECORD_ALIGN
    assert worst_pad + record + L.RECORD_HEADER + L.intent_step(capacity) <= capacity
