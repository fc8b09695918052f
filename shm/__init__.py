"""Shared-memory rings: the lock-free market-data transport between processes on one host.

Segment layouts, numba writer and reader kernels, memory-ordering intrinsics, idle strategies
and ring inspection. Knows nothing of ZeroMQ.
"""
