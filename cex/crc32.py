"""The frame CRC32 (IEEE, as ``zlib.crc32``) in compiled code, for kernels that build frames.

Two implementations of one contract, chosen once at import:

- :func:`crc_words_table`: slicing-by-8 tables, one 8-byte word a step (about 1.5 cycles a
  byte); any CPU.
- :func:`crc_words_clmul`: carry-less multiplication (x86 ``PCLMULQDQ``) folds 16-byte blocks
  four at a time, then the tables finish the last 16 to 31 bytes; used when the host CPU has
  it (:data:`HAS_CLMUL`).

Both continue a CRC register over the little-endian bytes of an i64 array. The register is
the pre-inverted state (``~zlib_crc``): start from :data:`INIT` (or the register after
:func:`crc_bytes`), and the CRC is ``register ^ 0xFFFFFFFF`` at the end. The folding
constants are powers of x modulo the (reflected) polynomial; tests/cex/test_crc32.py checks
both implementations against ``zlib.crc32``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import config as numba_config
from numba import njit, types
from numba.core import cgutils
from numba.core.extending import intrinsic

INIT = 0xFFFFFFFF
"""The register before the first byte (zlib's pre-inversion)."""
_M32 = 0xFFFFFFFF
_POLY = 0xEDB88320


def _tables() -> np.ndarray:
    """Slicing-by-8 tables, one row of 256 per byte position, flat (2048 int64)."""
    t = np.zeros(8 * 256, np.int64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        t[i] = c
    for k in range(1, 8):
        for i in range(256):
            c = int(t[(k - 1) * 256 + i])
            t[k * 256 + i] = (c >> 8) ^ int(t[c & 0xFF])
    return t


TABLES = _tables()


def _has_clmul() -> bool:
    """PCLMULQDQ in what numba compiles for: the host's features, unless NUMBA_CPU_NAME /
    NUMBA_CPU_FEATURES name another target (then only if its features list it)."""
    cpu_features = getattr(numba_config, "CPU_FEATURES", None)
    if cpu_features is not None:
        return "+pclmul" in cpu_features
    if getattr(numba_config, "CPU_NAME", None) not in (None, "host"):
        return False
    try:
        features = llvm.get_host_cpu_features()
    except RuntimeError:
        return False
    return bool(features.get("pclmul", False))


HAS_CLMUL = _has_clmul()
"""True if the host CPU has PCLMULQDQ (then :func:`crc_words` folds)."""

# Folding constants for the reflected CRC32 (a 128-bit block carried 512 bits: K1/K2; 128
# bits: K3/K4); the low half of a block multiplies the first, the high half the second.
K1, K2 = 0x154442BD4, 0x1C6E41596
K3, K4 = 0x1751997D0, 0x0CCAA009E


@njit(cache=True, inline="always")
def crc_bytes(reg, buf, start, stop):
    """Continue register ``reg`` over ``buf[start:stop]`` (uint8), one byte at a time."""
    t = TABLES
    for i in range(start, stop):
        reg = t[(reg ^ np.int64(buf[i])) & 0xFF] ^ (reg >> 8)
    return reg


@njit(cache=True, inline="always")
def _word(reg, w):
    """One slicing-by-8 step: ``reg`` over the 8 little-endian bytes of i64 ``w``."""
    t = TABLES
    c = reg ^ (w & _M32)
    h = (w >> 32) & _M32
    return (t[1792 + (c & 0xFF)] ^ t[1536 + ((c >> 8) & 0xFF)] ^ t[1280 + ((c >> 16) & 0xFF)]
            ^ t[1024 + ((c >> 24) & 0xFF)] ^ t[768 + (h & 0xFF)] ^ t[512 + ((h >> 8) & 0xFF)]
            ^ t[256 + ((h >> 16) & 0xFF)] ^ t[(h >> 24) & 0xFF])


@njit(cache=True)
def crc_words_table(reg, words, start, stop):
    """Continue register ``reg`` over i64 ``words[start:stop]`` with the tables."""
    for i in range(start, stop):
        reg = _word(reg, words[i])
    return reg


@intrinsic
def _clmul(typingctx, a, b):
    """The 128-bit carry-less product of two u64 as (low, high) halves."""
    sig = types.UniTuple(types.int64, 2)(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        vec = ir.VectorType(i64, 2)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, ir.IntType(8)]),
            "llvm.x86.pclmulqdq")
        zero = ir.Constant(vec, [0, 0])
        va = builder.insert_element(zero, args[0], ir.Constant(ir.IntType(32), 0))
        vb = builder.insert_element(zero, args[1], ir.Constant(ir.IntType(32), 0))
        prod = builder.call(fn, [va, vb, ir.Constant(ir.IntType(8), 0)])
        lo = builder.extract_element(prod, ir.Constant(ir.IntType(32), 0))
        hi = builder.extract_element(prod, ir.Constant(ir.IntType(32), 1))
        return context.make_tuple(builder, signature.return_type, [lo, hi])
    return sig, codegen


@njit(cache=True, inline="always")
def _fold(lo, hi, ka, kb):
    """A 128-bit block (``lo``, ``hi``) carried forward: ``lo * ka ^ hi * kb``."""
    a0, a1 = _clmul(lo, ka)
    b0, b1 = _clmul(hi, kb)
    return a0 ^ b0, a1 ^ b1


@njit(cache=True)
def crc_words_clmul(reg, words, start, stop):
    """Continue register ``reg`` over i64 ``words[start:stop]`` by folding (needs PCLMULQDQ).

    Fewer than 4 words go through the tables. Otherwise the blocks of 2 words are folded
    four lanes at a time, the lanes into one, the rest one at a time; the tables finish
    the folded block and an odd last word.
    """
    n = stop - start
    if n < 4:
        return crc_words_table(reg, words, start, stop)
    blocks = n // 2
    i = start
    x0l = words[i] ^ reg
    x0h = words[i + 1]
    done = 1
    if blocks >= 8:
        x1l, x1h = words[i + 2], words[i + 3]
        x2l, x2h = words[i + 4], words[i + 5]
        x3l, x3h = words[i + 6], words[i + 7]
        i += 8
        done = 4
        while blocks - done >= 4:
            a, b = _fold(x0l, x0h, K1, K2)
            x0l, x0h = a ^ words[i], b ^ words[i + 1]
            a, b = _fold(x1l, x1h, K1, K2)
            x1l, x1h = a ^ words[i + 2], b ^ words[i + 3]
            a, b = _fold(x2l, x2h, K1, K2)
            x2l, x2h = a ^ words[i + 4], b ^ words[i + 5]
            a, b = _fold(x3l, x3h, K1, K2)
            x3l, x3h = a ^ words[i + 6], b ^ words[i + 7]
            i += 8
            done += 4
        a, b = _fold(x0l, x0h, K3, K4)
        x1l, x1h = x1l ^ a, x1h ^ b
        a, b = _fold(x1l, x1h, K3, K4)
        x2l, x2h = x2l ^ a, x2h ^ b
        a, b = _fold(x2l, x2h, K3, K4)
        x0l, x0h = x3l ^ a, x3h ^ b
    else:
        i += 2
    while done < blocks:
        a, b = _fold(x0l, x0h, K3, K4)
        x0l, x0h = a ^ words[i], b ^ words[i + 1]
        i += 2
        done += 1
    reg = _word(np.int64(0), x0l)
    reg = _word(reg, x0h)
    if i < stop:
        reg = _word(reg, words[i])
    return reg


crc_words = crc_words_clmul if HAS_CLMUL else crc_words_table
"""The implementation this host uses (same contract as :func:`crc_words_table`)."""
