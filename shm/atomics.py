"""Named memory ordering for numba kernels over shared memory (Agrona's ``getLongAcquire`` style).

Every load of a word another process may change and every store another process reads goes
through one of these helpers, so nobody has to guess which stores publish:

==================  =======================================================================
``load_acquire``    atomic 8-byte load, acquire: later loads/stores stay after it
``store_release``   atomic 8-byte store, release: earlier loads/stores stay before it
``fence_acquire``   acquire fence: earlier loads complete before any later load or store
``fence_release``   release fence: earlier loads/stores complete before any later store
``compare_and_set`` atomic 8-byte CAS, acq_rel (cold paths only: slot claims)
==================  =======================================================================

Each helper is a plain Python function (the reference path, used when ``NUMBA_DISABLE_JIT=1``
or when a kernel's ``py_func`` runs) with a numba ``@overload`` that emits the LLVM atomic or
fence through ``numba.core.extending.intrinsic``. On x86-64 acquire and release compile to no
instruction: they only stop LLVM from hoisting a load out of a spin loop or sinking a store
past its publication. They are what makes the kernels correct on ARM too.

The Python reference path relies on CPython: each ``arr[i]`` is one real 8-byte load or store
of an aligned word, executed in program order by the interpreter (x86-64 TSO).

Process safety: the helpers operate on ``int64`` numpy arrays over a shared mapping; 8-byte
alignment of the word is the caller's duty (every segment field is 8-byte aligned).
"""

from __future__ import annotations

import numpy as np
from numba.core import cgutils, types
from numba.core.extending import intrinsic, overload

__all__ = ["compare_and_set", "fence_acquire", "fence_release", "load_acquire", "store_release"]


def _check_word_array(arr: types.Type) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


def _word_pointer(context, builder, arrty, arr, idxty, idx):
    ary = context.make_array(arrty)(context, builder, arr)
    index = context.cast(builder, idx, idxty, types.intp)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [index], wraparound=False)


@intrinsic
def _load_acquire(typingctx, arr, idx):
    if not (_check_word_array(arr) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _word_pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, idx), codegen


@intrinsic
def _store_release(typingctx, arr, idx, value):
    if not (_check_word_array(arr) and isinstance(idx, types.Integer)
            and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _word_pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1])
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(arr, idx, value), codegen


@intrinsic
def _compare_and_set(typingctx, arr, idx, expected, value):
    if not (_check_word_array(arr) and isinstance(idx, types.Integer)
            and isinstance(expected, types.Integer) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _word_pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1])
        exp = context.cast(builder, args[2], signature.args[2], types.int64)
        new = context.cast(builder, args[3], signature.args[3], types.int64)
        pair = builder.cmpxchg(ptr, exp, new, "acq_rel", "acquire")
        return builder.extract_value(pair, 1)

    return types.boolean(arr, idx, expected, value), codegen


def _fence_intrinsic(ordering: str):
    @intrinsic
    def _fence(typingctx):
        def codegen(context, builder, signature, args):
            builder.fence(ordering)
            return context.get_dummy_value()

        return types.void(), codegen

    return _fence


_fence_acquire = _fence_intrinsic("acquire")
_fence_release = _fence_intrinsic("release")


# --- the named helpers: Python reference bodies, numba overloads -----------------------------

def load_acquire(arr: np.ndarray, idx: int) -> int:
    """Load ``arr[idx]`` with acquire ordering.

    Parameters
    ----------
    arr : numpy.ndarray of int64, 1-d, typically over a shared mapping.
    idx : int
        Word index; not bounds-checked in compiled code.

    Returns
    -------
    int
        The word's value.
    """
    return int(arr[idx])


def store_release(arr: np.ndarray, idx: int, value: int) -> None:
    """Store ``value`` into ``arr[idx]`` with release ordering (publishes earlier stores)."""
    arr[idx] = value


def compare_and_set(arr: np.ndarray, idx: int, expected: int, value: int) -> bool:
    """Atomically set ``arr[idx] = value`` if it equals ``expected``; return whether it did.

    The Python reference body is atomic only against other Python threads holding the GIL;
    cross-process atomicity needs the compiled version (the facades always call it compiled).
    """
    if int(arr[idx]) != expected:
        return False
    arr[idx] = value
    return True


def fence_acquire() -> None:
    """Acquire fence: loads before it complete before loads and stores after it."""


def fence_release() -> None:
    """Release fence: loads and stores before it complete before stores after it."""


@overload(load_acquire)
def _ol_load_acquire(arr, idx):
    if _check_word_array(arr):
        return lambda arr, idx: _load_acquire(arr, idx)
    return None


@overload(store_release)
def _ol_store_release(arr, idx, value):
    if _check_word_array(arr):
        return lambda arr, idx, value: _store_release(arr, idx, value)
    return None


@overload(compare_and_set)
def _ol_compare_and_set(arr, idx, expected, value):
    if _check_word_array(arr):
        return lambda arr, idx, expected, value: _compare_and_set(arr, idx, expected, value)
    return None


@overload(fence_acquire)
def _ol_fence_acquire():
    return lambda: _fence_acquire()


@overload(fence_release)
def _ol_fence_release():
    return lambda: _fence_release()

