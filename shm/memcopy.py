"""``copy_bytes``: one ``llvm.memcpy`` between two uint8 arrays, for the ring's frame copies.

A numba byte loop over two arrays that may alias does not vectorize (about 21 ns for 64 bytes
on the project machine); numba's slice assignment checks for overlap and may copy through a
temporary (about 42 ns). The ring never copies between overlapping ranges (the segment and a
private buffer), so a plain ``memcpy`` is correct and costs a few nanoseconds.

The Python reference body is a numpy slice assignment. No bounds checks in compiled code:
callers check lengths (the ring kernels do, against the ring's max frame length).
"""

from __future__ import annotations

import numpy as np
from numba.core import cgutils, types
from numba.core.extending import intrinsic, overload

__all__ = ["copy_bytes"]


def _is_bytes(arr: types.Type) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.ndim == 1 \
        and arr.layout == "C"


@intrinsic
def _copy_bytes(typingctx, dst, d0, src, s0, n):
    if not (_is_bytes(dst) and _is_bytes(src) and all(
            isinstance(t, types.Integer) for t in (d0, s0, n))):
        return None

    def codegen(context, builder, signature, args):
        dty, d0ty, sty, s0ty, nty = signature.args
        dary = context.make_array(dty)(context, builder, args[0])
        sary = context.make_array(sty)(context, builder, args[2])
        doff = context.cast(builder, args[1], d0ty, types.intp)
        soff = context.cast(builder, args[3], s0ty, types.intp)
        count = context.cast(builder, args[4], nty, types.intp)
        dptr = cgutils.get_item_pointer(context, builder, dty, dary, [doff], wraparound=False)
        sptr = cgutils.get_item_pointer(context, builder, sty, sary, [soff], wraparound=False)
        cgutils.raw_memcpy(builder, dptr, sptr, count, 1)
        return context.get_dummy_value()

    return types.void(dst, d0, src, s0, n), codegen


def copy_bytes(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, n: int) -> None:
    """Copy ``src[s0:s0+n]`` to ``dst[d0:d0+n]`` (ranges must not overlap)."""
    dst[d0:d0 + n] = src[s0:s0 + n]


@overload(copy_bytes)
def _ol_copy_bytes(dst, d0, src, s0, n):
    if _is_bytes(dst) and _is_bytes(src):
        return lambda dst, d0, src, s0, n: _copy_bytes(dst, d0, src, s0, n)
    return None
