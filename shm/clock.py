"""``CLOCK_MONOTONIC`` and the scheduler calls for numba kernels, without ctypes.

A ctypes call inside a kernel makes numba refuse ``cache=True``; these intrinsics declare the
libc symbols (``clock_gettime``, ``sched_yield``, ``nanosleep``) in the kernel's LLVM module
and call them directly (about 29 ns for the clock), so kernels that use them still cache.

``CLOCK_MONOTONIC`` is system-wide on Linux: a reader slot's ``last_seen_ns`` written by one
process compares directly with ``time.monotonic_ns()`` in another (the CLI does so).

Each helper is a plain Python function (the reference path) with a numba ``@overload``.
Process safety: all three are thread- and process-safe system calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic, overload

__all__ = ["CLOCK_MONOTONIC", "monotonic_ns", "sleep_ns", "yield_cpu"]

#: Linux clock id of CLOCK_MONOTONIC.
CLOCK_MONOTONIC = 1

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_TIMESPEC = ir.LiteralStructType([_I64, _I64])


def _register_libc_symbols() -> None:
    """Make the libc symbols resolvable by numba's JIT linker (also for cached kernels)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    for name in ("clock_gettime", "sched_yield", "nanosleep"):
        llvm.add_symbol(name, ctypes.cast(getattr(libc, name), ctypes.c_void_p).value)


_register_libc_symbols()


@intrinsic
def _monotonic_ns(typingctx):
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(_I32, [_I32, _TIMESPEC.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, _TIMESPEC)
        builder.call(fn, [ir.Constant(_I32, CLOCK_MONOTONIC), ts])
        sec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 0))
        nsec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 1))
        return builder.add(builder.mul(sec, ir.Constant(_I64, 1_000_000_000)), nsec)

    return types.int64(), codegen


@intrinsic
def _yield_cpu(typingctx):
    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I32, []),
                                            "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def _sleep_ns(typingctx, ns):
    if not isinstance(ns, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(_I32, [_TIMESPEC.as_pointer(), _TIMESPEC.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "nanosleep")
        total = context.cast(builder, args[0], signature.args[0], types.int64)
        billion = ir.Constant(_I64, 1_000_000_000)
        req = cgutils.alloca_once(builder, _TIMESPEC)
        builder.store(builder.sdiv(total, billion), cgutils.gep_inbounds(builder, req, 0, 0))
        builder.store(builder.srem(total, billion), cgutils.gep_inbounds(builder, req, 0, 1))
        builder.call(fn, [req, ir.Constant(_TIMESPEC.as_pointer(), None)])
        return context.get_dummy_value()

    return types.void(ns), codegen


def monotonic_ns() -> int:
    """Nanoseconds of ``CLOCK_MONOTONIC`` (system-wide, comparable across processes)."""
    return time.monotonic_ns()


def yield_cpu() -> None:
    """Give up the CPU to another runnable thread (``sched_yield``)."""
    os.sched_yield()


def sleep_ns(ns: int) -> None:
    """Sleep for at least ``ns`` nanoseconds (``nanosleep``; not interrupted-retried)."""
    time.sleep(ns / 1e9)


@overload(monotonic_ns)
def _ol_monotonic_ns():
    return lambda: _monotonic_ns()


@overload(yield_cpu)
def _ol_yield_cpu():
    return lambda: _yield_cpu()


@overload(sleep_ns)
def _ol_sleep_ns(ns):
    return lambda ns: _sleep_ns(ns)
