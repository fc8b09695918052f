"""The kill flag segment: shared between mappings, ordered stores, foreign layouts refused."""

from __future__ import annotations

import mmap
import subprocess
import sys

import posix_ipc
import pytest
from numba import njit

from shm import kill_flag_layout as K
from shm.kill_flag import KillFlag, KillFlagError, flag_is_set


@njit(cache=True)
def _count_set(words, n):
    hits = 0
    for _ in range(n):
        hits += flag_is_set(words)
    return hits


@pytest.fixture
def flag_name(unique_name: str):
    name = f"/{unique_name}-kill"
    yield name
    KillFlag(name).unlink()


def test_setting_in_one_mapping_is_seen_by_another_with_its_stop_id(flag_name):
    a, b = KillFlag(flag_name), KillFlag(flag_name)
    try:
        assert not b.is_set() and b.stop_id == 0
        a.set(1234)
        assert b.is_set() and b.stop_id == 1234
        assert b.words[K.W_FLAG] == 1
        a.clear()
        assert not b.is_set()
        assert b.stop_id == 1234, "clearing keeps the last stop id readable"
    finally:
        a.close()
        b.close()


def test_compiled_check_reads_the_same_word_as_python(flag_name):
    flag = KillFlag(flag_name)
    try:
        assert _count_set(flag.words, 10) == 0
        flag.set(7)
        assert _count_set(flag.words, 10) == 10
        flag.clear()
        assert _count_set(flag.words, 10) == 0
    finally:
        flag.close()


def test_flag_set_in_another_process_is_seen_here(flag_name):
    flag = KillFlag(flag_name)
    try:
        code = f"from shm.kill_flag import KillFlag; f = KillFlag({flag_name!r}); f.set(99)"
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        assert flag.is_set() and flag.stop_id == 99
    finally:
        flag.close()


def test_first_open_writes_magic_and_version(flag_name):
    flag = KillFlag(flag_name)
    try:
        assert int(flag.words[K.W_MAGIC]) == K.MAGIC
        assert int(flag.words[K.W_VERSION]) == K.LAYOUT_VERSION
    finally:
        flag.close()


@pytest.mark.parametrize("head", [b"ABCD", K.MAGIC.to_bytes(8, "little") + (9).to_bytes(8, "little")])
def test_foreign_or_other_version_segment_is_refused(unique_name, head):
    name = f"/{unique_name}-x"
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, size=64)
    try:
        m = mmap.mmap(shm.fd, 64)
        m[0:len(head)] = head
        m.close()
        with pytest.raises(KillFlagError):
            KillFlag(name)
    finally:
        shm.close_fd()
        shm.unlink()


def test_layout_words_are_distinct_and_inside_the_line():
    words = [K.W_MAGIC, K.W_VERSION, K.W_STOP_ID, K.W_FLAG]
    assert len(set(words)) == len(words)
    assert all(0 <= w * 8 < K.SIZE for w in words)
