"""DomainReaders: one broadcast reader per writer of a ring domain, found and followed."""

from __future__ import annotations

import posix_ipc
import pytest

from mesh.protocol.constants import RelayDomain
from mesh.rings import DomainReaders, RingBatch
from shm.errors import NotARing
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter


@pytest.fixture
def ns(unique_name):
    yield unique_name
    for name in list_ring_names(unique_name):
        unlink(name)


def _writer(ns: str, name: str, domain: str = "market-data", capacity: int = 1 << 12):
    return RingWriter.create(domain, name, namespace=ns, capacity=capacity)


class _Sink:
    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []
        self.lost = 0

    def __call__(self, batch: RingBatch) -> None:
        self.frames += [(batch.ring.writer, f) for f in batch.frames()]
        self.lost += batch.lost


def test_reads_every_writer_of_its_domain_only_and_leaves_out_its_own(ns):
    a, b, me = _writer(ns, "a"), _writer(ns, "b"), _writer(ns, "me")
    other = _writer(ns, "c", domain="signal")
    readers, sink = DomainReaders(ns, RelayDomain.MARKET_DATA, exclude="me"), _Sink()
    try:
        assert readers.discover(sink) == 2
        for w, payload in ((a, b"a1"), (b, b"b1"), (me, b"m1"), (other, b"c1"), (a, b"a2")):
            w.write(payload)
        readers.drain(sink)
        assert sorted(sink.frames) == [("a", b"a1"), ("a", b"a2"), ("b", b"b1")]
    finally:
        readers.close()
        for w in (a, b, me, other):
            w.close()


def test_a_vanished_ring_is_drained_before_its_reader_goes_and_its_counts_stay(ns):
    a = _writer(ns, "a")
    readers, sink = DomainReaders(ns, "market-data"), _Sink()
    try:
        readers.discover(sink)
        a.write(b"last words")
        a.unlink()  # the writer leaves before the reader drained
        readers.discover(sink)
        assert sink.frames == [("a", b"last words")]
        assert readers.readers == {}
        assert [(c.frames_read, c.frames_lost) for c in readers.counters()] == [(1, 0)]
        b = _writer(ns, "a")  # same name, new segment: read afresh, counters add up
        assert readers.discover(sink) == 1
        b.write(b"again")
        readers.drain(sink)
        assert sink.frames[-1] == ("a", b"again")
        assert [c.frames_read for c in readers.counters()] == [2]
        b.close()
    finally:
        readers.close()
        a.close()


def test_loss_is_counted_exactly_and_reported_with_the_next_batch(ns):
    a = _writer(ns, "a", capacity=1 << 12)
    readers, sink = DomainReaders(ns, "market-data"), _Sink()
    try:
        readers.discover(sink)
        for i in range(1000):
            assert a.write(i.to_bytes(8, "little") * 4)
        readers.drain(sink, budget=10_000)
        (c,) = readers.counters()
        assert c.frames_lost > 0 and c.frames_read + c.frames_lost == 1000
        assert sink.lost == c.frames_lost and len(sink.frames) == c.frames_read
    finally:
        readers.close()
        a.close()


def test_budget_bounds_frames_per_ring_per_drain(ns):
    a = _writer(ns, "a", capacity=1 << 16)
    readers, sink = DomainReaders(ns, "market-data"), _Sink()
    try:
        readers.discover(sink)
        for _ in range(100):
            a.write(b"x" * 8)
        assert readers.drain(sink, budget=30) == 30
        assert readers.drain(sink, budget=1000) == 70
    finally:
        readers.close()
        a.close()


def test_a_foreign_segment_is_reported_once_until_its_name_points_elsewhere(ns):
    name = f"/ap.{ns}.market-data.evil"
    errors: list[Exception] = []
    readers = DomainReaders(ns, "market-data", on_error=errors.append)
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, size=4096)
    shm.close_fd()
    try:
        for _ in range(3):
            readers.discover()
        assert len(errors) == 1 and isinstance(errors[0], NotARing)
        posix_ipc.unlink_shared_memory(name)
        real = _writer(ns, "evil")  # the name now holds a real ring: read it
        assert readers.discover() == 1
        real.close()
    finally:
        readers.close()
