"""Reader slots in the segment: visible lag and losses, stale slots reclaimed."""

from __future__ import annotations

import os

import pytest

from shm import layout as L
from shm.errors import NoFreeSlot
from shm.inspect import ring_info


def test_slot_shows_pid_position_reads_and_losses(rings) -> None:
    w = rings("writer", capacity=256)
    r = rings("reader")
    for _ in range(30):
        w.write(b"s" * 40)
    r.drain()
    w.write(b"t" * 40)
    info = ring_info(w.name)
    (slot,) = info.readers
    assert slot.pid == os.getpid() and slot.alive
    assert (slot.frames_read, slot.frames_lost) == (r.frames_read, r.frames_lost)
    assert slot.frames_read + slot.frames_lost == 30
    assert slot.lag_frames == 1 and slot.lag_bytes == L.align(L.RECORD_HEADER + 40)
    assert slot.last_seen_s is not None and 0 <= slot.last_seen_s < 5


def test_read_one_publishes_the_slot_per_step_and_when_caught_up(rings) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    for _ in range(5):
        w.write(b"p" * 40)  # 56-byte records; the publish step is 1024 / 8 = 128 bytes

    def slot_read() -> int:
        (slot,) = ring_info(w.name).readers
        return slot.frames_read

    r.read()
    r.read()
    assert slot_read() == 0, "the slot is not stored per frame"
    r.read()
    assert slot_read() == 3, "a publish step crossed"
    r.read()
    r.read()
    assert slot_read() == 3
    assert r.read() is None and slot_read() == 5, "caught up: published"


def test_closed_reader_frees_its_slot(rings) -> None:
    w = rings("writer", capacity=256, max_readers=1)
    r = rings("reader")
    r.close()
    assert ring_info(w.name).readers == []
    assert rings("reader").slot == 0


def test_stale_slot_of_a_dead_pid_is_reclaimed(rings) -> None:
    w = rings("writer", capacity=256, max_readers=2)
    rings("reader")
    dead = 2**22 + 12345  # above pid_max's default: never a live process
    w.words[L.W_SLOTS + 1 * L.SLOT_WORDS + L.SW_PID] = dead
    assert [s.alive for s in ring_info(w.name).readers] == [True, False]
    third = rings("reader")
    assert third.slot == 1
    with pytest.raises(NoFreeSlot, match="2 reader slots"):
        rings("reader")
