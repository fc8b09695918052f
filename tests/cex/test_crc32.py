"""The compiled frame CRC32 equals zlib's, by tables and by carry-less folding."""

from __future__ import annotations

import random
import zlib

import numpy as np
import pytest

from cex import crc32 as C

LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 307]


def _words(n: int, seed: int) -> np.ndarray:
    return np.frombuffer(random.Random(seed).randbytes(8 * n), np.int64).copy()


@pytest.mark.parametrize("n", LENGTHS)
def test_table_crc_of_words_equals_zlib(n: int) -> None:
    words = _words(n, n)
    assert C.crc_words_table(C.INIT, words, 0, n) ^ 0xFFFFFFFF == zlib.crc32(words.tobytes())


@pytest.mark.skipif(not C.HAS_CLMUL, reason="the CPU has no PCLMULQDQ")
@pytest.mark.parametrize("n", LENGTHS)
def test_folded_crc_of_words_equals_zlib(n: int) -> None:
    words = _words(n, 1000 + n)
    assert C.crc_words_clmul(C.INIT, words, 0, n) ^ 0xFFFFFFFF == zlib.crc32(words.tobytes())


def test_crc_continues_from_bytes_into_words_like_zlib() -> None:
    head = np.frombuffer(random.Random(7).randbytes(33), np.uint8).copy()
    words = _words(307, 8)
    reg = C.crc_bytes(np.int64(C.INIT), head, 0, 33)
    got = C.crc_words(reg, words, 2, 307) ^ 0xFFFFFFFF
    assert got == zlib.crc32(words[2:].tobytes(), zlib.crc32(head.tobytes()))
