"""Part files: frames appended to a journal per domain, converted to Parquet on rotation.

One :class:`DomainStore` per domain writes, off the loop thread, one part at a time:

1. ``append(records)``: a batch of ``(recv_ns, source, frame)`` is appended to the open part's
   journal (``<stem>.journal``, plain ``write``: in the page cache when it returns).
2. ``rotate()`` when the journal passes ``max_bytes``, its first frame is ``max_seconds`` old,
   the UTC day changes, or on stop: the journal is read back, written as
   ``<stem>.parquet.tmp`` (zstd), fsynced, renamed to ``<stem>.parquet``, and the journal is
   deleted. A reader never sees a half-written Parquet file.
3. ``recover(root)`` at start converts journals a killed archiver left (a torn last record is
   cut off and counted).

So a process crash loses only what the node had not yet handed to ``append`` (the batch being
collected, see docs/archive.md); a machine crash can also lose journal bytes the kernel had not
written back (journals are not fsynced per batch).

Not thread-safe: the node hands one store to one job at a time.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from nodes.archiver.schema import PART_RE, ArchiveError, build_table, part_stem

__all__ = ["DomainStore", "PartClosed", "read_journal", "recover"]

_MAGIC = b"APJOURN1"
_REC = struct.Struct("<IqH")  # record length (after this field), recv_ns, source length
_COMPRESSION = "zstd"


@dataclass(frozen=True, slots=True)
class PartClosed:
    """A part that became Parquet: its path, rows, and bytes of frames vs bytes on disk."""

    path: Path
    rows: int
    raw_bytes: int
    file_bytes: int
    torn: int = 0


def _day(ns: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ns // 1_000_000_000))


def read_journal(path: Path) -> tuple[list[tuple[int, str, bytes]], int]:
    """The records of a journal and how many torn bytes trail them (a crash mid-append)."""
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise ArchiveError(f"{path} is not an archive journal")
    out: list[tuple[int, str, bytes]] = []
    pos, n = len(_MAGIC), len(data)
    while pos + _REC.size <= n:
        length, recv_ns, slen = _REC.unpack_from(data, pos)
        end = pos + 4 + length
        if end > n or length < _REC.size - 4 + slen:
            break
        s = pos + _REC.size
        out.append((recv_ns, data[s:s + slen].decode("utf-8", "replace"), data[s + slen:end]))
        pos = end
    return out, n - pos


def _convert(journal: Path, domain: str) -> PartClosed:
    """Write ``journal``'s records as the part's Parquet file, then delete the journal."""
    records, torn = read_journal(journal)
    final = journal.with_suffix(".parquet")
    raw = sum(len(f) for _, _, f in records)
    if records:
        tmp = journal.with_suffix(".parquet.tmp")
        table = build_table([(r, s, domain, f) for r, s, f in records])
        pq.write_table(table, tmp, compression=_COMPRESSION)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    journal.unlink()
    size = final.stat().st_size if records else 0
    return PartClosed(final, len(records), raw, size, torn)


def recover(root: Path) -> list[PartClosed]:
    """Convert every journal under ``root`` that a stopped archiver left behind."""
    done = []
    for journal in sorted(root.rglob("*.journal")):
        if not PART_RE.match(journal.name):
            continue
        domain = journal.parent.name.removeprefix("domain=")
        journal.with_suffix(".parquet.tmp").unlink(missing_ok=True)
        done.append(_convert(journal, domain))
    return done


class DomainStore:
    """The parts of one domain (see the module docstring).

    Parameters
    ----------
    root : Path
        The archive root.
    domain : str
        Ring domain name (``market-data``...).
    max_bytes : int
        Rotate once the open part holds this many bytes of frames.
    max_seconds : float
        Rotate once the open part's first frame is this old.
    """

    def __init__(self, root: Path, domain: str, max_bytes: int, max_seconds: float) -> None:
        self.root = root
        self.domain = domain
        self.max_bytes = max_bytes
        self.max_ns = int(max_seconds * 1e9)
        self._journal: Path | None = None
        self._fd = -1
        self._first_ns = 0
        self._day = ""
        self._bytes = 0
        self._parts = 0

    def append(self, records: Iterable[tuple[int, str, bytes]]) -> list[PartClosed]:
        """Append records (in arrival order) to the open part; returns parts closed meanwhile."""
        closed: list[PartClosed] = []
        chunks: list[bytes] = []
        for recv_ns, source, frame in records:
            day = _day(recv_ns)
            if self._journal is not None and (day != self._day or self._due(recv_ns)):
                self._write(chunks)
                chunks = []
                closed.append(self._close())
            if self._journal is None:
                self._open(recv_ns, day)
            src = source.encode()
            chunks.append(_REC.pack(_REC.size - 4 + len(src) + len(frame), recv_ns, len(src)))
            chunks.append(src)
            chunks.append(frame)
            self._bytes += len(frame)
        self._write(chunks)
        return closed

    def _due(self, now_ns: int) -> bool:
        return self._bytes >= self.max_bytes or now_ns - self._first_ns >= self.max_ns

    def due(self, now_ns: int) -> bool:
        """True if the open part should rotate now (its size or age)."""
        return self._journal is not None and self._due(now_ns)

    def rotate(self) -> PartClosed | None:
        """Close the open part (if any) into Parquet."""
        return self._close() if self._journal is not None else None

    def _open(self, recv_ns: int, day: str) -> None:
        folder = self.root / f"date={day}" / f"domain={self.domain}"
        folder.mkdir(parents=True, exist_ok=True)
        self._parts += 1
        self._journal = folder / (part_stem(recv_ns, os.getpid(), self._parts) + ".journal")
        self._fd = os.open(self._journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                           0o644)
        os.write(self._fd, _MAGIC)
        self._first_ns, self._day, self._bytes = recv_ns, day, 0

    def _write(self, chunks: list[bytes]) -> None:
        if not chunks:
            return
        data = memoryview(b"".join(chunks))
        while data:
            data = data[os.write(self._fd, data):]

    def _close(self) -> PartClosed:
        assert self._journal is not None
        os.close(self._fd)
        journal, self._journal, self._fd = self._journal, None, -1
        return _convert(journal, self.domain)
