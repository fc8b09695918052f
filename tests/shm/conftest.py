"""Fixtures for ring tests: a private namespace whose segments are removed on teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shm.reader import RingReader
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter


@pytest.fixture
def namespace(unique_name: str) -> Iterator[str]:
    """A mesh namespace private to this test; every ring in it is unlinked afterwards."""
    yield unique_name
    for name in list_ring_names(unique_name):
        unlink(name)


@pytest.fixture
def rings(namespace: str) -> Iterator[Callable[..., object]]:
    """Factory ``rings("writer"|"reader", domain, writer, **kw)`` closing everything it made."""
    made: list[RingWriter | RingReader] = []

    def make(kind: str, domain: str = "md", writer: str = "w", **kw: object):
        cls = RingWriter.create if kind == "writer" else RingReader.attach
        obj = cls(domain, writer, namespace=namespace, **kw)
        made.append(obj)
        return obj

    yield make
    for obj in reversed(made):
        obj.close()
