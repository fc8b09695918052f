"""Shared-memory rings: the lock-free market-data transport between processes on one host.

Segment layouts, numba writer and reader kernels, memory-ordering intrinsics, idle strategies
and ring inspection. Knows nothing of ZeroMQ.

Public entry points: :class:`shm.writer.RingWriter` and :class:`shm.reader.RingReader` (Python
facades), the ``@njit`` kernels of :mod:`shm.ring` (``write_frame``, ``read_one``,
``drain_into``, ``drain_cb``) for hot paths, :mod:`shm.inspect` for operators. Submodules are
imported on demand, so ``import shm`` does not import numba.
"""
