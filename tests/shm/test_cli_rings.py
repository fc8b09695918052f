"""``alphapulse rings``: the table, --json, --watch, leftovers, bad segments exit 2."""

from __future__ import annotations

import mmap

import orjson
import posix_ipc

from mesh.cli import main
from shm.segment import ring_name


def test_rings_lists_writer_and_reader_lag_and_losses(rings, namespace, capsys) -> None:
    w = rings("writer", capacity=256)
    r = rings("reader")
    for _ in range(20):
        w.write(b"x" * 40)
    r.drain()
    w.write(b"y" * 40)
    assert main(["rings", "--namespace", namespace]) == 0
    out = capsys.readouterr().out
    assert f"{namespace}/md/w" in out and "broadcast" in out
    assert "lag 1 frames" in out and f"lost {r.frames_lost}" in out


def test_rings_json_and_watch_iterations(rings, namespace, capsys) -> None:
    w = rings("writer", capacity=1024)
    rings("reader")
    w.write(b"z" * 10)
    assert main(["rings", "-n", namespace, "--json", "--watch", "0.01", "--iterations", "2"]) == 0
    docs = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(docs) == 2
    (info,) = docs[0]
    assert (info["domain"], info["frames_written"], info["capacity"]) == ("md", 1, 1024)
    assert info["writer_alive"] and info["readers"][0]["lag_frames"] == 1


def test_rings_on_a_bad_segment_exits_2_naming_it(namespace, capsys) -> None:
    name = ring_name("md", "bad", namespace)
    shm = posix_ipc.SharedMemory(name.shm_name, posix_ipc.O_CREX, size=4096)
    with mmap.mmap(shm.fd, 4096) as m:
        m[:8] = b"garbage!"
    shm.close_fd()
    assert main(["rings", "-n", namespace]) == 2
    assert f"segment {name.shm_name} is not a ring" in capsys.readouterr().err
    assert main(["rings", "/not-a-ring-name"]) == 2
    assert "/not-a-ring-name" in capsys.readouterr().err


def test_rings_leftovers_removes_dead_rings(rings, namespace, capsys) -> None:
    from shm import layout as L

    w = rings("writer", capacity=256)
    w.words[L.W_WRITER_PID] = 2**22 + 7
    assert main(["rings", "-n", namespace, "--leftovers", "--remove"]) == 0
    assert f"removed {w.name.shm_name}" in capsys.readouterr().out
    assert main(["rings", "-n", namespace]) == 0
    assert "(no rings)" in capsys.readouterr().out
