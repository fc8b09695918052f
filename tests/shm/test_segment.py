"""Segments: names, namespaces side by side, bad segments, leftovers of dead meshes."""

from __future__ import annotations

import mmap

import numpy as np
import posix_ipc
import pytest

from shm import layout as L
from shm.errors import BadRingName, LayoutVersionMismatch, NotARing, RingExists, RingNotFound
from shm.inspect import find_leftovers, remove_leftovers
from shm.reader import RingReader
from shm.segment import RingName, Segment, list_ring_names, ring_name, unlink
from shm.writer import RingWriter


def _raw_segment(name: RingName, payload: bytes, size: int | None = None) -> None:
    shm = posix_ipc.SharedMemory(name.shm_name, posix_ipc.O_CREX, size=size or len(payload))
    with mmap.mmap(shm.fd, shm.size) as m:
        m[:len(payload)] = payload
    shm.close_fd()


@pytest.mark.parametrize("bad", ["", "a.b", "a/b", "x" * 65, "sp ace"])
def test_bad_name_parts_are_refused_naming_the_part(bad: str) -> None:
    with pytest.raises(BadRingName, match="domain"):
        ring_name(bad, "w", "ns")


def test_name_round_trips_through_shm_name() -> None:
    name = ring_name("market-data", "collector_evm", "mesh1")
    assert name.shm_name == "/ap.mesh1.market-data.collector_evm"
    assert RingName.parse(name.shm_name) == name
    assert RingName.parse("/other.thing") is None


def test_segment_that_is_not_a_ring_is_refused_naming_it(namespace) -> None:
    name = ring_name("md", "junk", namespace)
    _raw_segment(name, b"hello, not a ring" * 100)
    with pytest.raises(NotARing, match=name.shm_name):
        RingReader.attach("md", "junk", namespace=namespace)
    with pytest.raises(NotARing, match=name.shm_name):
        RingWriter.create("md", "junk", namespace=namespace, capacity=1024)


def test_tiny_segment_is_refused_naming_it(namespace) -> None:
    name = ring_name("md", "tiny", namespace)
    _raw_segment(name, b"\x00" * 16)
    with pytest.raises(NotARing, match=f"{name.shm_name}.*smaller than a header"):
        Segment.attach(name)


def test_other_layout_version_is_refused_naming_both_versions(namespace) -> None:
    name = ring_name("md", "future", namespace)
    header = np.zeros(L.segment_size(1024, 2) // 8, np.int64)
    header[[L.W_MAGIC, L.W_VERSION, L.W_CAPACITY, L.W_MAX_READERS]] = [L.MAGIC, 99, 1024, 2]
    _raw_segment(name, header.tobytes())
    with pytest.raises(LayoutVersionMismatch, match=rf"{name.shm_name}.*version 99.*reads 1"):
        Segment.attach(name)


def test_missing_ring_and_existing_ring_errors(namespace) -> None:
    with pytest.raises(RingNotFound, match="nothing"):
        RingReader.attach("md", "nothing", namespace=namespace)
    w = RingWriter.create("md", "w", namespace=namespace, capacity=1024)
    try:
        with pytest.raises(RingExists):
            RingWriter.create("md", "w", namespace=namespace, capacity=1024, exist_ok=False)
    finally:
        w.close()


def test_two_meshes_side_by_side_do_not_see_each_other(unique_name) -> None:
    ns_a, ns_b = unique_name + "a", unique_name + "b"
    made = []
    try:
        for ns in (ns_a, ns_b):
            made.append(RingWriter.create("md", "w", namespace=ns, capacity=1024))
            made.append(RingReader.attach("md", "w", namespace=ns))
        made[0].write(b"from a")
        made[2].write(b"from b")
        assert made[1].drain() == [b"from a"]
        assert made[3].drain() == [b"from b"]
        assert [n.namespace for n in list_ring_names(ns_a)] == [ns_a]
    finally:
        for obj in made:
            obj.close()
        for ns in (ns_a, ns_b):
            for n in list_ring_names(ns):
                unlink(n)


def test_leftovers_of_a_dead_mesh_are_found_and_removed(namespace) -> None:
    live = RingWriter.create("md", "live", namespace=namespace, capacity=1024)
    dead = RingWriter.create("md", "dead", namespace=namespace, capacity=1024)
    dead.words[L.W_WRITER_PID] = 2**22 + 999  # a pid that cannot exist
    dead.close()
    try:
        assert find_leftovers(namespace) == [dead.name]
        assert remove_leftovers(namespace) == [dead.name]
        assert list_ring_names(namespace) == [live.name]
    finally:
        live.close()
